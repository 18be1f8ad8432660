//! Saving and restoring an [`Overlay`]'s state, so that a mount whose server died can
//! be remounted with its changes.
//!
//! The data of changed files is already in the scratch directory (`scratch/<ino>`);
//! what is saved is the rest: every changed inode's metadata, where its data is, the
//! changed names of each directory and moved directories' parents, in
//! `scratch/overlay.state` (written to a temporary file and renamed, so it is always
//! whole). The state names the image it applies to by the SHA-1 of its metadata
//! resource; restoring over another image gives nothing back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wim_format::{Sha1Hash, Xattr};

use super::{Data, Inode, Overlay, State};
use crate::error::{FsError, FsResult};
use crate::projection::Projection;
use crate::types::{FileTimes, Kind};

const MAGIC: &[u8; 8] = b"WKOVST01";
const FILE_NAME: &str = "overlay.state";

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::Directory => 0,
        Kind::File => 1,
        Kind::Symlink => 2,
        Kind::Fifo => 3,
        Kind::CharDevice => 4,
        Kind::BlockDevice => 5,
        Kind::Socket => 6,
    }
}

fn kind_of(c: u8) -> Option<Kind> {
    Some(match c {
        0 => Kind::Directory,
        1 => Kind::File,
        2 => Kind::Symlink,
        3 => Kind::Fifo,
        4 => Kind::CharDevice,
        5 => Kind::BlockDevice,
        6 => Kind::Socket,
        _ => return None,
    })
}

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
}

struct R<'a>(&'a [u8]);

fn bad() -> FsError {
    FsError::Invalid("the saved overlay state is damaged")
}

impl R<'_> {
    fn take(&mut self, n: usize) -> FsResult<&[u8]> {
        if self.0.len() < n {
            return Err(bad());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> FsResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> FsResult<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| bad())?,
        ))
    }
    fn u64(&mut self) -> FsResult<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| bad())?,
        ))
    }
    fn bytes(&mut self) -> FsResult<Vec<u8>> {
        let n = self.u64()?;
        if n > self.0.len() as u64 {
            return Err(bad());
        }
        Ok(self.take(n as usize)?.to_vec())
    }
    fn string(&mut self) -> FsResult<String> {
        String::from_utf8(self.bytes()?).map_err(|_| bad())
    }
    fn hash(&mut self) -> FsResult<Sha1Hash> {
        self.take(20)?.try_into().map_err(|_| bad())
    }
}

/// SHA-1 of the metadata resource of the projection's image.
fn base_id(p: &Projection) -> Sha1Hash {
    p.source()
        .blob_table()
        .metadata_blobs()
        .nth(p.index() as usize - 1)
        .map_or([0; 20], |b| b.hash)
}

fn encode(st: &State, base: Sha1Hash) -> Vec<u8> {
    let mut w = W::default();
    w.0.extend_from_slice(MAGIC);
    w.0.extend_from_slice(&base);
    w.u64(st.next_ino);
    let mut inos: Vec<_> = st.inodes.keys().copied().collect();
    inos.sort_unstable();
    w.u64(inos.len() as u64);
    for ino in inos {
        let i = &st.inodes[&ino];
        w.u64(ino);
        w.u8(kind_code(i.kind));
        w.u32(i.perm);
        w.u32(i.uid);
        w.u32(i.gid);
        w.u32(i.rdev);
        for t in [
            i.times.creation,
            i.times.access,
            i.times.write,
            i.times.change,
        ] {
            w.u64(t);
        }
        w.u32(i.nlink);
        w.u8(u8::from(i.unix));
        match i.base {
            Some(b) => {
                w.u8(1);
                w.u64(b as u64);
            }
            None => w.u8(0),
        }
        w.u32(i.xattrs.len() as u32);
        for x in &i.xattrs {
            w.bytes(&x.name);
            w.bytes(&x.value);
            w.u8(x.flags);
        }
        match &i.data {
            Data::None => w.u8(0),
            Data::Blob { hash, size } => {
                w.u8(1);
                w.0.extend_from_slice(hash);
                w.u64(*size);
            }
            Data::Scratch { path, size, .. } => {
                w.u8(2);
                w.bytes(path.as_os_str().as_encoded_bytes());
                w.u64(*size);
            }
            Data::Link { target, reparse } => {
                w.u8(3);
                w.bytes(target.as_bytes());
                match reparse {
                    Some(h) => {
                        w.u8(1);
                        w.0.extend_from_slice(h);
                    }
                    None => w.u8(0),
                }
            }
        }
    }
    let mut dirs: Vec<_> = st.dirs.keys().copied().collect();
    dirs.sort_unstable();
    w.u64(dirs.len() as u64);
    for d in dirs {
        w.u64(d);
        let names = &st.dirs[&d];
        w.u64(names.len() as u64);
        for (name, e) in names {
            w.bytes(name.as_bytes());
            match e {
                Some(i) => {
                    w.u8(1);
                    w.u64(*i);
                }
                None => w.u8(0),
            }
        }
    }
    let mut parents: Vec<_> = st.parents.iter().map(|(a, b)| (*a, *b)).collect();
    parents.sort_unstable();
    w.u64(parents.len() as u64);
    for (a, b) in parents {
        w.u64(a);
        w.u64(b);
    }
    w.0
}

fn decode(bytes: &[u8], base: Sha1Hash, scratch: &Path) -> FsResult<Option<State>> {
    let mut r = R(bytes);
    if r.take(8)? != MAGIC {
        return Err(bad());
    }
    if r.hash()? != base {
        return Ok(None);
    }
    let mut st = State {
        next_ino: r.u64()?,
        ..State::default()
    };
    let n = r.u64()?;
    for _ in 0..n {
        let ino = r.u64()?;
        let kind = kind_of(r.u8()?).ok_or_else(bad)?;
        let perm = r.u32()?;
        let uid = r.u32()?;
        let gid = r.u32()?;
        let rdev = r.u32()?;
        let times = FileTimes {
            creation: r.u64()?,
            access: r.u64()?,
            write: r.u64()?,
            change: r.u64()?,
        };
        let nlink = r.u32()?;
        let unix = r.u8()? != 0;
        let base = match r.u8()? {
            0 => None,
            _ => Some(r.u64()? as usize),
        };
        let nx = r.u32()?;
        let mut xattrs = Vec::new();
        for _ in 0..nx {
            xattrs.push(Xattr {
                name: r.bytes()?,
                value: r.bytes()?,
                flags: r.u8()?,
            });
        }
        let data = match r.u8()? {
            0 => Data::None,
            1 => Data::Blob {
                hash: r.hash()?,
                size: r.u64()?,
            },
            2 => {
                let saved = PathBuf::from(String::from_utf8(r.bytes()?).map_err(|_| bad())?);
                let size = r.u64()?;
                // The file keeps its name (the inode number) in the scratch directory,
                // wherever that is now.
                let path = match saved.file_name() {
                    Some(name) => scratch.join(name),
                    None => return Err(bad()),
                };
                match std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                {
                    Ok(file) => Data::Scratch {
                        path,
                        file: Arc::new(file),
                        size,
                    },
                    // Removed with its last name while open: nothing refers to it.
                    Err(_) if nlink == 0 => Data::None,
                    Err(e) => return Err(FsError::Io(e)),
                }
            }
            3 => {
                let target = r.string()?;
                let reparse = match r.u8()? {
                    0 => None,
                    _ => Some(r.hash()?),
                };
                Data::Link { target, reparse }
            }
            _ => return Err(bad()),
        };
        st.inodes.insert(
            ino,
            Inode {
                kind,
                perm,
                uid,
                gid,
                rdev,
                times,
                xattrs,
                nlink,
                data,
                base,
                unix,
            },
        );
    }
    let nd = r.u64()?;
    for _ in 0..nd {
        let d = r.u64()?;
        let k = r.u64()?;
        let mut names = BTreeMap::new();
        for _ in 0..k {
            let name = r.string()?;
            let e = match r.u8()? {
                0 => None,
                _ => Some(r.u64()?),
            };
            names.insert(name, e);
        }
        st.dirs.insert(d, names);
    }
    let np = r.u64()?;
    for _ in 0..np {
        let a = r.u64()?;
        let b = r.u64()?;
        st.parents.insert(a, b);
    }
    if !r.0.is_empty() {
        return Err(bad());
    }
    Ok(Some(st))
}

impl Overlay {
    /// A number that changes whenever the overlay may have changed (for savers that
    /// save only when something changed).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Saves the state (see the module documentation) to `scratch/overlay.state`.
    pub fn save_state(&self) -> FsResult<()> {
        let bytes = {
            let st = self.read_state();
            encode(&st, base_id(&self.base))
        };
        let tmp = self.scratch.join(format!("{FILE_NAME}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
        }
        std::fs::rename(&tmp, self.scratch.join(FILE_NAME))?;
        Ok(())
    }

    /// An overlay over `base` with the state saved in `scratch` by
    /// [`Overlay::save_state`]; `None` when there is none or it is for another image.
    pub fn restore(base: Arc<Projection>, scratch: impl Into<PathBuf>) -> FsResult<Option<Self>> {
        let scratch = scratch.into();
        let bytes = match std::fs::read(scratch.join(FILE_NAME)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(st) = decode(&bytes, base_id(&base), &scratch)? else {
            return Ok(None);
        };
        // Partial copies of a server that died.
        for e in std::fs::read_dir(&scratch)?.flatten() {
            if e.file_name().to_string_lossy().ends_with(".part") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let o = Overlay::new(base, scratch)?;
        *o.write_state() = st;
        Ok(Some(o))
    }
}
