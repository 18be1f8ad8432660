//! A copy-on-write layer over a [`Projection`].
//!
//! The image stays untouched. What changes is kept per inode and per directory:
//! - an inode that is created, or whose metadata, names or data change, gets an
//!   entry of its own (a copy of the image's metadata at first change);
//! - a regular file is copied up to `scratch/<ino>` on its first write or truncation
//!   and is read from there afterwards (files never written are read from the WIM);
//! - a directory whose entries change gets a map of changed names: a name mapped to
//!   an inode (added, or replaced), or to a whiteout (removed from the image's
//!   listing).
//!
//! Directories keep their inode numbers when renamed, so a renamed directory of the
//! image keeps showing its image entries under the new name.
//!
//! [`Overlay::changes`] walks the merged tree into an [`ImageEdit`]: every final path
//! with its kind, metadata and where its data is (a blob of the WIM or a scratch
//! file), for the writer to commit.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sha1::{Digest, Sha1};
use wim_format::metadata::dentry::{
    FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_REPARSE_POINT,
};
use wim_format::metadata::reparse::TAG_SYMLINK;
use wim_format::metadata::{Reparse, Stream, StreamKind, Times};
use wim_format::{Image, LinkReparse, Node, NodeId, Sha1Hash, UnixData, Xattr};

use crate::error::{FsError, FsResult};
use crate::projection::Projection;
use crate::types::{now_filetime, Attr, DirEntry, FileTimes, Ino, Kind, SetAttr, ROOT_INO};
use crate::vfs::{NewFile, XattrMode};

/// Longest name accepted (bytes of UTF-8).
const NAME_MAX: usize = 255;
/// Bytes copied at a time when copying a file up.
const COPY_PIECE: usize = 1 << 20;

/// Numbers the partial copies of [`Overlay::copy_outside_lock`].
static PART_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Image data copied to the scratch directory, not yet installed.
struct Prepared {
    hash: Sha1Hash,
    path: PathBuf,
    file: File,
    len: u64,
}

/// Where the data of an inode is.
#[derive(Debug, Clone)]
enum Data {
    /// No data (directories, special files, empty files).
    None,
    /// Unchanged data of the image: a blob of the WIM.
    Blob { hash: Sha1Hash, size: u64 },
    /// Copied up or written: a file in the scratch directory.
    Scratch {
        path: PathBuf,
        file: Arc<File>,
        size: u64,
    },
    /// A symlink's target; `reparse` is the image's reparse data blob when unchanged.
    Link {
        target: String,
        reparse: Option<Sha1Hash>,
    },
}

#[derive(Debug, Clone)]
struct Inode {
    kind: Kind,
    perm: u32,
    uid: u32,
    gid: u32,
    rdev: u32,
    times: FileTimes,
    xattrs: Vec<Xattr>,
    nlink: u32,
    data: Data,
    /// The image's node this inode was copied from.
    base: Option<NodeId>,
    /// Whether UNIX data (owner, mode) is to be recorded on commit.
    unix: bool,
}

impl Inode {
    fn size(&self) -> u64 {
        match &self.data {
            Data::None => 0,
            Data::Blob { size, .. } | Data::Scratch { size, .. } => *size,
            Data::Link { target, .. } => target.len() as u64,
        }
    }
}

#[derive(Default)]
struct State {
    next_ino: Ino,
    inodes: HashMap<Ino, Inode>,
    /// Changed names per directory: `Some(ino)` added or replaced, `None` removed.
    dirs: HashMap<Ino, BTreeMap<String, Option<Ino>>>,
    /// Parents of directories that were created or moved.
    parents: HashMap<Ino, Ino>,
}

/// A read-write view of an image: a [`Projection`] and the changes made to it.
pub struct Overlay {
    base: Arc<Projection>,
    scratch: PathBuf,
    /// Whether new files get UNIX data on commit (the image root has UNIX data).
    record_unix: bool,
    state: RwLock<State>,
    /// Raised at every change (see [`Overlay::generation`]).
    generation: std::sync::atomic::AtomicU64,
}

#[path = "overlay_state.rs"]
mod persist;

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("base", &self.base)
            .field("scratch", &self.scratch)
            .finish()
    }
}

fn check_name(name: &str) -> FsResult<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(FsError::Invalid("bad file name"));
    }
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    Ok(())
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(buf, offset)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::windows::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match f.seek_read(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(windows)]
fn write_at(f: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_write(buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

impl Overlay {
    /// An overlay over `base` keeping its data in `scratch` (created if missing; files
    /// in it named like inode numbers are replaced).
    pub fn new(base: Arc<Projection>, scratch: impl Into<PathBuf>) -> FsResult<Self> {
        let scratch = scratch.into();
        std::fs::create_dir_all(&scratch)?;
        let image = base.image();
        let record_unix = image.nodes[image.root].unix.is_some();
        let state = State {
            next_ino: base.max_ino() + 1,
            ..State::default()
        };
        Ok(Self {
            base,
            scratch,
            record_unix,
            state: RwLock::new(state),
            generation: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn base(&self) -> &Arc<Projection> {
        &self.base
    }

    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether anything was changed.
    pub fn is_modified(&self) -> bool {
        let st = self.read_state();
        !st.inodes.is_empty() || !st.dirs.is_empty()
    }

    // ---- reading the merged view ----

    fn kind(&self, st: &State, ino: Ino) -> FsResult<Kind> {
        match st.inodes.get(&ino) {
            Some(i) => Ok(i.kind),
            None => self.base.kind(ino),
        }
    }

    fn entry(&self, st: &State, parent: Ino, name: &str) -> FsResult<Option<Ino>> {
        if self.kind(st, parent)? != Kind::Directory {
            return Err(FsError::NotDirectory);
        }
        if let Some(e) = st.dirs.get(&parent).and_then(|d| d.get(name)) {
            return Ok(*e);
        }
        if self.base.contains(parent) {
            return Ok(self.base.lookup(parent, name).ok());
        }
        Ok(None)
    }

    fn listing(&self, st: &State, ino: Ino) -> FsResult<Vec<DirEntry>> {
        if self.kind(st, ino)? != Kind::Directory {
            return Err(FsError::NotDirectory);
        }
        let changed = st.dirs.get(&ino);
        let mut out = Vec::new();
        if self.base.contains(ino) {
            for e in self.base.readdir(ino)? {
                if changed.is_some_and(|c| c.contains_key(&e.name)) {
                    continue;
                }
                let kind = self.kind(st, e.ino)?;
                out.push(DirEntry { kind, ..e });
            }
        }
        if let Some(c) = changed {
            for (name, e) in c {
                if let Some(i) = e {
                    out.push(DirEntry {
                        name: name.clone(),
                        ino: *i,
                        kind: self.kind(st, *i)?,
                    });
                }
            }
            out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        }
        Ok(out)
    }

    fn attr(&self, st: &State, ino: Ino) -> FsResult<Attr> {
        let Some(i) = st.inodes.get(&ino) else {
            let mut a = self.base.getattr(ino)?;
            if a.kind == Kind::Directory && st.dirs.contains_key(&ino) {
                a.nlink = self.dir_nlink(st, ino)?;
            }
            return Ok(a);
        };
        let nlink = if i.kind == Kind::Directory {
            if i.nlink == 0 {
                0
            } else {
                self.dir_nlink(st, ino)?
            }
        } else {
            i.nlink
        };
        Ok(Attr {
            ino,
            kind: i.kind,
            perm: i.perm,
            uid: i.uid,
            gid: i.gid,
            rdev: i.rdev,
            nlink,
            size: i.size(),
            times: i.times,
        })
    }

    fn dir_nlink(&self, st: &State, ino: Ino) -> FsResult<u32> {
        let subdirs = self
            .listing(st, ino)?
            .iter()
            .filter(|e| e.kind == Kind::Directory)
            .count();
        Ok(2 + subdirs as u32)
    }

    pub fn lookup(&self, parent: Ino, name: &str) -> FsResult<Attr> {
        let st = self.read_state();
        let ino = self.entry(&st, parent, name)?.ok_or(FsError::NotFound)?;
        self.attr(&st, ino)
    }

    pub fn getattr(&self, ino: Ino) -> FsResult<Attr> {
        self.attr(&self.read_state(), ino)
    }

    pub fn readdir(&self, ino: Ino) -> FsResult<Vec<DirEntry>> {
        self.listing(&self.read_state(), ino)
    }

    pub fn parent(&self, ino: Ino) -> FsResult<Ino> {
        let st = self.read_state();
        match st.parents.get(&ino) {
            Some(&p) => Ok(p),
            None => self.base.parent(ino),
        }
    }

    pub fn readlink(&self, ino: Ino) -> FsResult<String> {
        let st = self.read_state();
        match st.inodes.get(&ino) {
            Some(Inode {
                data: Data::Link { target, .. },
                ..
            }) => Ok(target.clone()),
            Some(_) => Err(FsError::Invalid("not a symbolic link")),
            None => self.base.readlink(ino),
        }
    }

    pub fn listxattr(&self, ino: Ino) -> FsResult<Vec<Vec<u8>>> {
        let st = self.read_state();
        match st.inodes.get(&ino) {
            Some(i) => Ok(i.xattrs.iter().map(|x| x.name.clone()).collect()),
            None => self.base.listxattr(ino),
        }
    }

    pub fn getxattr(&self, ino: Ino, name: &[u8]) -> FsResult<Vec<u8>> {
        let st = self.read_state();
        match st.inodes.get(&ino) {
            Some(i) => i
                .xattrs
                .iter()
                .find(|x| x.name == name)
                .map(|x| x.value.clone())
                .ok_or(FsError::NoAttribute),
            None => self.base.getxattr(ino, name),
        }
    }

    pub fn read(&self, ino: Ino, offset: u64, size: usize) -> FsResult<Vec<u8>> {
        let data = {
            let st = self.read_state();
            match st.inodes.get(&ino) {
                None => return self.base.read(ino, offset, size),
                Some(i) if i.kind == Kind::Directory => return Err(FsError::IsDirectory),
                Some(i) if i.kind != Kind::File => {
                    return Err(FsError::Invalid("not a regular file"))
                }
                Some(i) => i.data.clone(),
            }
        };
        match data {
            Data::Blob { hash, size: len } => {
                let n = (size as u64).min(len.saturating_sub(offset)) as usize;
                let mut out = vec![0; n];
                if n > 0 {
                    let blob = *self.base.source().blob(&hash).ok_or(FsError::Wim(
                        wim_format::Error::MissingBlob {
                            path: String::new(),
                            hash,
                        },
                    ))?;
                    let got = self.base.source().read_blob(&blob, offset, &mut out)?;
                    out.truncate(got);
                }
                Ok(out)
            }
            Data::Scratch {
                file, size: len, ..
            } => {
                let n = (size as u64).min(len.saturating_sub(offset)) as usize;
                let mut out = vec![0; n];
                let got = read_at(&file, &mut out, offset)?;
                out.truncate(got);
                Ok(out)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The inode at `path` (`/`-separated, from the root).
    pub fn resolve(&self, path: &str) -> FsResult<Ino> {
        let st = self.read_state();
        let mut ino = ROOT_INO;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            ino = self.entry(&st, ino, part)?.ok_or(FsError::NotFound)?;
        }
        Ok(ino)
    }

    // ---- changing ----

    /// The overlay's copy of inode `ino`, made from the image's at first change.
    fn touch<'s>(&self, st: &'s mut State, ino: Ino) -> FsResult<&'s mut Inode> {
        if let std::collections::hash_map::Entry::Vacant(slot) = st.inodes.entry(ino) {
            let a = self.base.getattr(ino)?;
            let node_id = self.base.node_of(ino)?;
            let node = &self.base.image().nodes[node_id];
            let data = match a.kind {
                Kind::File => match self.base.content(ino)? {
                    Some((hash, size)) => Data::Blob { hash, size },
                    None => Data::None,
                },
                Kind::Symlink => Data::Link {
                    target: self.base.readlink(ino)?,
                    reparse: node.reparse.map(|r| r.data_hash),
                },
                _ => Data::None,
            };
            let nlink = if a.kind == Kind::Directory {
                2
            } else {
                a.nlink
            };
            let inode = Inode {
                kind: a.kind,
                perm: a.perm,
                uid: a.uid,
                gid: a.gid,
                rdev: a.rdev,
                times: a.times,
                xattrs: node.xattrs.clone(),
                nlink,
                data,
                base: Some(node_id),
                unix: node.unix.is_some() && self.base.options().unix_data,
            };
            slot.insert(inode);
        }
        st.inodes.get_mut(&ino).ok_or(FsError::NotFound)
    }

    /// Records that directory `dir`'s entries changed now.
    fn dir_changed(&self, st: &mut State, dir: Ino) -> FsResult<()> {
        let now = now_filetime();
        let i = self.touch(st, dir)?;
        i.times.write = now;
        i.times.change = now;
        Ok(())
    }

    /// Sets `name` in `dir` to `ino`.
    fn put_entry(&self, st: &mut State, dir: Ino, name: &str, ino: Ino) {
        st.dirs
            .entry(dir)
            .or_default()
            .insert(name.to_string(), Some(ino));
    }

    /// Removes `name` from `dir`: a whiteout where the image has the name.
    fn remove_entry(&self, st: &mut State, dir: Ino, name: &str) {
        let in_base = self.base.contains(dir) && self.base.lookup(dir, name).is_ok();
        let d = st.dirs.entry(dir).or_default();
        if in_base {
            d.insert(name.to_string(), None);
        } else {
            d.remove(name);
        }
    }

    /// Drops one name of `ino` (already removed from its directory).
    fn drop_name(&self, st: &mut State, ino: Ino) -> FsResult<()> {
        let now = now_filetime();
        let i = self.touch(st, ino)?;
        if i.kind == Kind::Directory {
            i.nlink = 0;
        } else {
            i.nlink = i.nlink.saturating_sub(1);
        }
        i.times.change = now;
        if i.nlink == 0 {
            if let Data::Scratch { path, .. } = &i.data {
                // Open handles keep reading through the kept descriptor.
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    fn new_inode(&self, st: &mut State, parent: Ino, name: &str, inode: Inode) -> FsResult<Attr> {
        check_name(name)?;
        if self.entry(st, parent, name)?.is_some() {
            return Err(FsError::Exists);
        }
        let ino = st.next_ino;
        st.next_ino += 1;
        let is_dir = inode.kind == Kind::Directory;
        st.inodes.insert(ino, inode);
        self.put_entry(st, parent, name, ino);
        if is_dir {
            st.parents.insert(ino, parent);
            st.dirs.entry(ino).or_default();
        }
        self.dir_changed(st, parent)?;
        self.attr(st, ino)
    }

    fn fresh(&self, new: NewFile, data: Data) -> Inode {
        let now = now_filetime();
        Inode {
            kind: new.kind,
            perm: new.perm & 0o7777,
            uid: new.uid,
            gid: new.gid,
            rdev: if new.kind.is_special() { new.rdev } else { 0 },
            times: FileTimes {
                creation: now,
                access: now,
                write: now,
                change: now,
            },
            xattrs: Vec::new(),
            nlink: 1,
            data,
            base: None,
            unix: self.record_unix || new.kind.is_special(),
        }
    }

    /// Creates a regular file or a special file.
    pub fn create(&self, parent: Ino, name: &str, new: NewFile) -> FsResult<Attr> {
        if matches!(new.kind, Kind::Directory | Kind::Symlink) {
            return Err(FsError::Invalid(
                "create makes files, not directories or links",
            ));
        }
        let mut st = self.write_state();
        let inode = self.fresh(new, Data::None);
        self.new_inode(&mut st, parent, name, inode)
    }

    pub fn mkdir(&self, parent: Ino, name: &str, new: NewFile) -> FsResult<Attr> {
        let mut st = self.write_state();
        let mut inode = self.fresh(
            NewFile {
                kind: Kind::Directory,
                ..new
            },
            Data::None,
        );
        inode.nlink = 2;
        self.new_inode(&mut st, parent, name, inode)
    }

    pub fn symlink(&self, parent: Ino, name: &str, target: &str, new: NewFile) -> FsResult<Attr> {
        if target.is_empty() {
            return Err(FsError::Invalid("empty link target"));
        }
        let mut st = self.write_state();
        let inode = self.fresh(
            NewFile {
                kind: Kind::Symlink,
                perm: 0o777,
                ..new
            },
            Data::Link {
                target: target.to_string(),
                reparse: None,
            },
        );
        self.new_inode(&mut st, parent, name, inode)
    }

    pub fn link(&self, ino: Ino, newparent: Ino, newname: &str) -> FsResult<Attr> {
        check_name(newname)?;
        let mut st = self.write_state();
        if self.kind(&st, ino)? == Kind::Directory {
            return Err(FsError::NotPermitted);
        }
        if self.entry(&st, newparent, newname)?.is_some() {
            return Err(FsError::Exists);
        }
        let now = now_filetime();
        let i = self.touch(&mut st, ino)?;
        i.nlink += 1;
        i.times.change = now;
        self.put_entry(&mut st, newparent, newname, ino);
        self.dir_changed(&mut st, newparent)?;
        self.attr(&st, ino)
    }

    pub fn unlink(&self, parent: Ino, name: &str) -> FsResult<()> {
        let mut st = self.write_state();
        let ino = self.entry(&st, parent, name)?.ok_or(FsError::NotFound)?;
        if self.kind(&st, ino)? == Kind::Directory {
            return Err(FsError::IsDirectory);
        }
        self.remove_entry(&mut st, parent, name);
        self.drop_name(&mut st, ino)?;
        self.dir_changed(&mut st, parent)
    }

    pub fn rmdir(&self, parent: Ino, name: &str) -> FsResult<()> {
        let mut st = self.write_state();
        let ino = self.entry(&st, parent, name)?.ok_or(FsError::NotFound)?;
        if self.kind(&st, ino)? != Kind::Directory {
            return Err(FsError::NotDirectory);
        }
        if !self.listing(&st, ino)?.is_empty() {
            return Err(FsError::NotEmpty);
        }
        self.remove_entry(&mut st, parent, name);
        self.drop_name(&mut st, ino)?;
        st.dirs.remove(&ino);
        self.dir_changed(&mut st, parent)
    }

    fn parent_in(&self, st: &State, ino: Ino) -> FsResult<Ino> {
        match st.parents.get(&ino) {
            Some(&p) => Ok(p),
            None => self.base.parent(ino),
        }
    }

    pub fn rename(
        &self,
        parent: Ino,
        name: &str,
        newparent: Ino,
        newname: &str,
        noreplace: bool,
    ) -> FsResult<()> {
        check_name(newname)?;
        let mut st = self.write_state();
        let src = self.entry(&st, parent, name)?.ok_or(FsError::NotFound)?;
        let src_kind = self.kind(&st, src)?;
        let dst = self.entry(&st, newparent, newname)?;
        if parent == newparent && name == newname {
            return if noreplace {
                Err(FsError::Exists)
            } else {
                Ok(())
            };
        }
        if src_kind == Kind::Directory {
            // Not into itself or below.
            let mut p = newparent;
            loop {
                if p == src {
                    return Err(FsError::Invalid("a directory cannot move below itself"));
                }
                if p == ROOT_INO {
                    break;
                }
                p = self.parent_in(&st, p)?;
            }
        }
        if let Some(d) = dst {
            if noreplace {
                return Err(FsError::Exists);
            }
            if d == src {
                // Two names of one file: nothing to do (POSIX).
                return Ok(());
            }
            let dst_kind = self.kind(&st, d)?;
            match (src_kind == Kind::Directory, dst_kind == Kind::Directory) {
                (true, false) => return Err(FsError::NotDirectory),
                (false, true) => return Err(FsError::IsDirectory),
                (true, true) if !self.listing(&st, d)?.is_empty() => return Err(FsError::NotEmpty),
                _ => {}
            }
            self.remove_entry(&mut st, newparent, newname);
            self.drop_name(&mut st, d)?;
            if dst_kind == Kind::Directory {
                st.dirs.remove(&d);
            }
        }
        self.remove_entry(&mut st, parent, name);
        self.put_entry(&mut st, newparent, newname, src);
        if src_kind == Kind::Directory {
            st.parents.insert(src, newparent);
        }
        let now = now_filetime();
        self.touch(&mut st, src)?.times.change = now;
        self.dir_changed(&mut st, parent)?;
        if newparent != parent {
            self.dir_changed(&mut st, newparent)?;
        }
        Ok(())
    }

    /// Copies the first `limit` bytes of `hash`'s blob (of `size` bytes) into `file`;
    /// returns how many.
    fn copy_blob(&self, hash: Sha1Hash, size: u64, limit: u64, file: &File) -> FsResult<u64> {
        let source = self.base.source();
        let blob = *source
            .blob(&hash)
            .ok_or(FsError::Wim(wim_format::Error::MissingBlob {
                path: String::new(),
                hash,
            }))?;
        let len = size.min(limit);
        let mut buf = vec![0; COPY_PIECE.min(len as usize)];
        let mut at = 0u64;
        while at < len {
            let want = ((len - at) as usize).min(buf.len());
            let n = source.read_blob(&blob, at, &mut buf[..want])?;
            if n == 0 {
                break;
            }
            write_at(file, &buf[..n], at)?;
            at += n as u64;
        }
        Ok(at)
    }

    /// For a regular file whose data is still the image's: copies its first `limit`
    /// bytes to a new scratch file without holding the lock (so that copying a large
    /// file up does not stop every other operation), for [`Self::copy_up`] to install.
    fn copy_outside_lock(&self, ino: Ino, limit: u64) -> FsResult<Option<Prepared>> {
        let (hash, size) = {
            let st = self.read_state();
            match st.inodes.get(&ino) {
                Some(Inode {
                    data: Data::Blob { hash, size },
                    ..
                }) => (*hash, *size),
                Some(_) => return Ok(None),
                None if self.base.kind(ino).ok() == Some(Kind::File) => {
                    match self.base.content(ino)? {
                        Some(c) => c,
                        None => return Ok(None),
                    }
                }
                None => return Ok(None),
            }
        };
        if limit == 0 {
            return Ok(None);
        }
        let n = PART_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.scratch.join(format!("{ino}.{n}.part"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        match self.copy_blob(hash, size, limit, &file) {
            Ok(len) => Ok(Some(Prepared {
                hash,
                path,
                file,
                len,
            })),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Makes the data of regular file `ino` a scratch file, keeping its first `limit`
    /// bytes (copied now unless `prepared` holds them), and returns it.
    fn copy_up<'s>(
        &self,
        st: &'s mut State,
        ino: Ino,
        limit: u64,
        prepared: Option<Prepared>,
    ) -> FsResult<&'s mut Inode> {
        let scratch = self.scratch.join(ino.to_string());
        let i = self.touch(st, ino)?;
        if i.kind != Kind::File {
            if let Some(p) = prepared {
                let _ = std::fs::remove_file(&p.path);
            }
            return Err(if i.kind == Kind::Directory {
                FsError::IsDirectory
            } else {
                FsError::Invalid("not a regular file")
            });
        }
        let blob = match &i.data {
            Data::Scratch { .. } => None,
            Data::Blob { hash, size } => Some((*hash, *size)),
            _ => Some(([0; 20], 0)),
        };
        let Some((hash, size)) = blob else {
            if let Some(p) = prepared {
                let _ = std::fs::remove_file(&p.path);
            }
            return Ok(i);
        };
        let (file, len) = match prepared {
            Some(p) if p.hash == hash && size > 0 => {
                std::fs::rename(&p.path, &scratch)?;
                (p.file, p.len)
            }
            other => {
                if let Some(p) = other {
                    let _ = std::fs::remove_file(&p.path);
                }
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&scratch)?;
                let len = if size > 0 && limit > 0 {
                    self.copy_blob(hash, size, limit, &file)?
                } else {
                    0
                };
                (file, len)
            }
        };
        i.data = Data::Scratch {
            path: scratch,
            file: Arc::new(file),
            size: len,
        };
        Ok(i)
    }

    pub fn write(&self, ino: Ino, offset: u64, data: &[u8]) -> FsResult<usize> {
        let prepared = self.copy_outside_lock(ino, u64::MAX)?;
        let mut st = self.write_state();
        let i = self.copy_up(&mut st, ino, u64::MAX, prepared)?;
        let Data::Scratch { file, size, .. } = &mut i.data else {
            return Err(FsError::Invalid("not a regular file"));
        };
        write_at(file, data, offset)?;
        *size = (*size).max(offset + data.len() as u64);
        let now = now_filetime();
        i.times.write = now;
        i.times.change = now;
        Ok(data.len())
    }

    pub fn setattr(&self, ino: Ino, set: &SetAttr) -> FsResult<Attr> {
        let prepared = match set.size {
            Some(len) => self.copy_outside_lock(ino, len)?,
            None => None,
        };
        let mut st = self.write_state();
        let now = now_filetime();
        if let Some(len) = set.size {
            let i = self.copy_up(&mut st, ino, len, prepared)?;
            if let Data::Scratch { file, size, .. } = &mut i.data {
                file.set_len(len)?;
                *size = len;
            }
            i.times.write = now;
        }
        let i = self.touch(&mut st, ino)?;
        if let Some(p) = set.perm {
            i.perm = p & 0o7777;
            i.unix = true;
        }
        if let Some(u) = set.uid {
            i.uid = u;
            i.unix = true;
        }
        if let Some(g) = set.gid {
            i.gid = g;
            i.unix = true;
        }
        if let Some(t) = set.access {
            i.times.access = t;
        }
        if let Some(t) = set.write {
            i.times.write = t;
        }
        if let Some(t) = set.creation {
            i.times.creation = t;
        }
        i.times.change = now;
        self.attr(&st, ino)
    }

    pub fn setxattr(&self, ino: Ino, name: &[u8], value: &[u8], mode: XattrMode) -> FsResult<()> {
        if name.is_empty() || name.len() > 255 || name.contains(&0) {
            return Err(FsError::Invalid("bad extended attribute name"));
        }
        if value.len() > 0xFFFF {
            return Err(FsError::Invalid("extended attribute value too large"));
        }
        let mut st = self.write_state();
        let i = self.touch(&mut st, ino)?;
        match (i.xattrs.iter_mut().find(|x| x.name == name), mode) {
            (Some(_), XattrMode::Create) => return Err(FsError::Exists),
            (None, XattrMode::Replace) => return Err(FsError::NoAttribute),
            (Some(x), _) => x.value = value.to_vec(),
            (None, _) => i.xattrs.push(Xattr {
                name: name.to_vec(),
                value: value.to_vec(),
                flags: 0,
            }),
        }
        i.times.change = now_filetime();
        Ok(())
    }

    pub fn removexattr(&self, ino: Ino, name: &[u8]) -> FsResult<()> {
        let mut st = self.write_state();
        if !st.inodes.contains_key(&ino) && self.base.getxattr(ino, name).is_err() {
            return Err(FsError::NoAttribute);
        }
        let i = self.touch(&mut st, ino)?;
        let before = i.xattrs.len();
        i.xattrs.retain(|x| x.name != name);
        if i.xattrs.len() == before {
            return Err(FsError::NoAttribute);
        }
        i.times.change = now_filetime();
        Ok(())
    }

    // ---- the final tree ----

    /// The tree as it is now: every path, parents before children, children sorted
    /// by name.
    pub fn changes(&self) -> FsResult<ImageEdit> {
        let st = self.read_state();
        let mut entries = Vec::new();
        let mut stack: Vec<(Option<usize>, String, String, Ino)> =
            vec![(None, String::new(), "/".to_string(), ROOT_INO)];
        while let Some((parent, name, path, ino)) = stack.pop() {
            let e = self.edit_entry(&st, parent, name, path.clone(), ino)?;
            let idx = entries.len();
            let is_dir = e.kind == Kind::Directory;
            entries.push(e);
            if is_dir {
                for c in self.listing(&st, ino)?.into_iter().rev() {
                    let p = if path == "/" {
                        format!("/{}", c.name)
                    } else {
                        format!("{path}/{}", c.name)
                    };
                    stack.push((Some(idx), c.name, p, c.ino));
                }
            }
        }
        Ok(ImageEdit {
            entries,
            unix_data: self.record_unix,
        })
    }

    fn edit_entry(
        &self,
        st: &State,
        parent: Option<usize>,
        name: String,
        path: String,
        ino: Ino,
    ) -> FsResult<EditEntry> {
        let a = self.attr(st, ino)?;
        if let Some(i) = st.inodes.get(&ino) {
            let content = match &i.data {
                Data::None => Content::Empty,
                Data::Blob { hash, size } => Content::Blob {
                    hash: *hash,
                    size: *size,
                },
                Data::Scratch { path, size, .. } => Content::Scratch {
                    path: path.clone(),
                    size: *size,
                },
                Data::Link { target, reparse } => Content::Symlink {
                    target: target.clone(),
                    reparse: *reparse,
                },
            };
            return Ok(EditEntry {
                path,
                name,
                parent,
                ino,
                kind: i.kind,
                unix: i.unix.then_some(UnixData {
                    uid: i.uid,
                    gid: i.gid,
                    mode: a.mode(),
                    rdev: i.rdev,
                }),
                times: i.times,
                xattrs: i.xattrs.clone(),
                content,
                base: i.base,
                changed: true,
            });
        }
        let node_id = self.base.node_of(ino)?;
        let node = &self.base.image().nodes[node_id];
        let content = match a.kind {
            Kind::File => match self.base.content(ino)? {
                Some((hash, size)) => Content::Blob { hash, size },
                None => Content::Empty,
            },
            Kind::Symlink => Content::Symlink {
                target: self.base.readlink(ino)?,
                reparse: node.reparse.map(|r| r.data_hash),
            },
            _ => Content::Empty,
        };
        Ok(EditEntry {
            path,
            name,
            parent,
            ino,
            kind: a.kind,
            unix: node.unix,
            times: a.times,
            xattrs: node.xattrs.clone(),
            content,
            base: Some(node_id),
            changed: st.dirs.contains_key(&ino),
        })
    }
}

/// Where the data of a final entry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// No data: a directory, a special file, an empty regular file.
    Empty,
    /// Unchanged data: the blob of the WIM with this SHA-1.
    Blob { hash: Sha1Hash, size: u64 },
    /// New or changed data: this file in the scratch directory.
    Scratch { path: PathBuf, size: u64 },
    /// A symlink. `reparse` is the hash of the image's reparse data when the link is
    /// the image's own (keep that data and the node's reparse tag and flags rather
    /// than making new data from `target`, which may carry a mount-time prefix).
    Symlink {
        target: String,
        reparse: Option<Sha1Hash>,
    },
}

/// One final entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditEntry {
    /// `/` for the root, `/a/b` below it.
    pub path: String,
    /// Last component (empty for the root).
    pub name: String,
    /// Index in [`ImageEdit::entries`] of the parent directory (`None` for the root).
    pub parent: Option<usize>,
    /// Inode number: entries with the same number are hard links of one file.
    pub ino: Ino,
    pub kind: Kind,
    /// UNIX data to record (mode with file type bits), if any.
    pub unix: Option<UnixData>,
    pub times: FileTimes,
    pub xattrs: Vec<Xattr>,
    pub content: Content,
    /// The image's node the entry comes from (to keep what only Windows uses: the
    /// security descriptor, attributes, short name, named streams, object id). For
    /// a hard-linked file, the first name's node.
    pub base: Option<NodeId>,
    /// Whether the inode's metadata, data or (for a directory) entries changed.
    pub changed: bool,
}

/// The final tree of a mounted image: its entries in pre-order (parents first,
/// children sorted by name), as [`Overlay::changes`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEdit {
    pub entries: Vec<EditEntry>,
    /// Whether the image records UNIX data (new entries got it).
    pub unix_data: bool,
}

/// Data the WIM does not have yet, needed by an [`ImageEdit::to_image`] tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlob {
    pub hash: Sha1Hash,
    pub size: u64,
    pub source: NewBlobSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewBlobSource {
    /// A file of the scratch directory.
    File(PathBuf),
    /// Bytes made in memory (the reparse data of a new symlink).
    Memory(Vec<u8>),
}

/// SHA-1 of a file's contents and its size.
fn hash_file(path: &Path) -> std::io::Result<(Sha1Hash, u64)> {
    use std::io::Read;
    let mut f = File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0; COPY_PIECE];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((h.finalize().into(), total))
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn data_stream(hash: Sha1Hash, size: u64) -> Stream {
    Stream {
        name: None,
        name_utf16: Vec::new(),
        hash,
        kind: StreamKind::Data,
        size: Some(size),
    }
}

impl ImageEdit {
    /// The final tree as an [`Image`] the metadata writer serialises, and the blobs it
    /// needs that the WIM lacks (scratch files and new symlinks' reparse data, hashed
    /// here; each listed once). Entries that come from `base` (the projection's
    /// image) keep their node's Windows metadata; new ones get plain attributes and
    /// no security descriptor.
    pub fn to_image(&self, base: &Image) -> FsResult<(Image, Vec<NewBlob>)> {
        let mut nodes: Vec<Node> = Vec::with_capacity(self.entries.len());
        let mut new_blobs: Vec<NewBlob> = Vec::new();
        let mut seen: HashMap<Sha1Hash, ()> = HashMap::new();
        let mut link_groups: HashMap<Ino, u64> = HashMap::new();
        let mut count: HashMap<Ino, usize> = HashMap::new();
        for e in &self.entries {
            *count.entry(e.ino).or_default() += 1;
        }
        let mut next_group = 1u64;
        for e in &self.entries {
            let mut node = match e.base.and_then(|b| base.nodes.get(b)) {
                Some(b) => b.clone(),
                None => Node::new("", 0, Times::default(), None),
            };
            let renamed = node.name != e.name;
            node.name = e.name.clone();
            node.name_utf16 = utf16(&e.name);
            if renamed {
                // A short name belongs to the old long name.
                node.short_name.clear();
                node.short_name_utf16.clear();
            }
            node.parent = e.parent;
            node.children = Vec::new();
            node.times = Times {
                creation: e.times.creation,
                last_access: e.times.access,
                last_write: e.times.write,
            };
            node.unix = e.unix;
            node.xattrs = e.xattrs.clone();
            node.hard_link_group = 0;
            if count[&e.ino] > 1 && e.kind == Kind::File {
                let g = *link_groups.entry(e.ino).or_insert_with(|| {
                    next_group += 1;
                    next_group - 1
                });
                node.hard_link_group = g;
            }
            // Data the image already has: the node's streams, reparse data and
            // attributes stay as they are (whatever their kind).
            let same_data = e.base.is_some()
                && !matches!(
                    e.content,
                    Content::Scratch { .. } | Content::Symlink { reparse: None, .. }
                );
            if !same_data {
                // Unnamed data and reparse data, from the entry; named streams kept.
                node.streams
                    .retain(|s| s.kind == StreamKind::Data && s.name.is_some());
                let keep_attrs = node.attributes
                    & !(FILE_ATTRIBUTE_DIRECTORY
                        | FILE_ATTRIBUTE_REPARSE_POINT
                        | FILE_ATTRIBUTE_NORMAL);
                match (&e.kind, &e.content) {
                    (Kind::Directory, _) => {
                        node.attributes = keep_attrs | FILE_ATTRIBUTE_DIRECTORY;
                        node.reparse = None;
                    }
                    (Kind::Symlink, Content::Symlink { target, reparse }) => {
                        let (hash, tag, flags) = match (reparse, node.reparse) {
                            (Some(h), Some(r)) => (*h, r.tag, r.flags),
                            _ => {
                                let data = LinkReparse::for_unix_target(target);
                                let hash: Sha1Hash = Sha1::digest(&data).into();
                                if seen.insert(hash, ()).is_none() {
                                    new_blobs.push(NewBlob {
                                        hash,
                                        size: data.len() as u64,
                                        source: NewBlobSource::Memory(data),
                                    });
                                }
                                // Not fixed: the target is kept as given.
                                (
                                    hash,
                                    TAG_SYMLINK,
                                    wim_format::metadata::reparse::RP_FLAG_NOT_FIXED,
                                )
                            }
                        };
                        node.attributes = keep_attrs | FILE_ATTRIBUTE_REPARSE_POINT;
                        node.reparse = Some(Reparse {
                            tag,
                            reserved: 0,
                            flags,
                            data_hash: hash,
                        });
                        let mut s = data_stream(hash, 0);
                        s.kind = StreamKind::ReparsePoint;
                        s.size = None;
                        node.streams.insert(0, s);
                        node.streams.insert(1, data_stream([0; 20], 0));
                    }
                    (_, content) => {
                        node.attributes = if keep_attrs == 0 {
                            FILE_ATTRIBUTE_NORMAL
                        } else {
                            keep_attrs
                        };
                        node.reparse = None;
                        let (hash, size) = match content {
                            Content::Blob { hash, size } => (*hash, *size),
                            Content::Scratch { path, size } if *size > 0 => {
                                let (hash, size) = hash_file(path)?;
                                if seen.insert(hash, ()).is_none() {
                                    new_blobs.push(NewBlob {
                                        hash,
                                        size,
                                        source: NewBlobSource::File(path.clone()),
                                    });
                                }
                                (hash, size)
                            }
                            _ => ([0; 20], 0),
                        };
                        node.streams.insert(0, data_stream(hash, size));
                    }
                }
            }
            let id = nodes.len();
            if let Some(p) = e.parent {
                nodes[p].children.push(id);
            }
            nodes.push(node);
        }
        let image = Image {
            root: 0,
            nodes,
            security: base.security.clone(),
            warnings: Vec::new(),
        };
        Ok((image, new_blobs))
    }
}
