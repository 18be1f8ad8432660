//! Applying on UNIX (Linux first): every entry is made relative to a descriptor of the
//! target directory, through `rustix`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timestamps};
use rustix::io::Errno;
use sha1::{Digest, Sha1};

use super::plan::{filetime_to_unix, FileInode, Plan, Unit};
use super::solid::SolidChunks;
use super::{ApplyOptions, ApplyReport};
use crate::blob_table::{Blob, BlobLocation, Sha1Hash};
use crate::error::{Error, Result};
use crate::metadata::{Image, LinkReparse, Node};
use crate::read::check_hash;
use crate::read::{BlobReader, Wim};

/// Blobs at most this large are read whole, then written to each file that has them;
/// larger ones are streamed a chunk at a time.
const IN_MEMORY_BLOB: u64 = 1 << 20;
/// Largest reparse data accepted (Windows allows 16 KiB).
const MAX_REPARSE_DATA: u64 = 1 << 16;
/// Files written at once from one streamed blob.
const STREAM_FANOUT: usize = 32;

fn io_err(op: &'static str, rel: &str, e: Errno) -> Error {
    std_io_err(op, rel, std::io::Error::from(e))
}

fn std_io_err(op: &'static str, rel: &str, e: std::io::Error) -> Error {
    Error::Io {
        op,
        path: format!("/{rel}"),
        kind: e.kind(),
        os_error: e.raw_os_error(),
        message: e.to_string(),
    }
}

fn split_parent(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

fn timestamps(node: &Node) -> Timestamps {
    let ts = |ft| {
        let (s, n) = filetime_to_unix(ft);
        rfs::Timespec {
            tv_sec: s as _,
            tv_nsec: n as _,
        }
    };
    Timestamps {
        last_access: ts(node.times.last_access),
        last_modification: ts(node.times.last_write),
    }
}

/// Counts of metadata that could not be set, turned into warnings at the end.
#[derive(Default)]
struct Skipped {
    owner: AtomicU64,
    xattr: AtomicU64,
    special: AtomicU64,
}

struct Ctx<'i> {
    root: OwnedFd,
    root_path: PathBuf,
    image: &'i Image,
    unix_data: bool,
    openat2: AtomicBool,
    skipped: Skipped,
}

impl Ctx<'_> {
    /// Opens `rel` under the target without following any symlink.
    fn open(&self, rel: &str, flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let rel = if rel.is_empty() { "." } else { rel };
        if self.openat2.load(Ordering::Relaxed) {
            let how =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            for _ in 0..8 {
                match rfs::openat2(&self.root, rel, flags, mode, how) {
                    Err(Errno::AGAIN) => continue,
                    Err(Errno::NOSYS | Errno::PERM) => {
                        self.openat2.store(false, Ordering::Relaxed);
                        break;
                    }
                    r => return r,
                }
            }
        }
        rfs::openat(&self.root, rel, flags, mode)
    }

    /// Runs `f` with a descriptor of the parent directory of `rel` and its last name.
    fn in_parent<T>(
        &self,
        rel: &str,
        f: impl FnOnce(BorrowedFd<'_>, &str) -> rustix::io::Result<T>,
    ) -> rustix::io::Result<T> {
        let (parent, name) = split_parent(rel);
        if parent.is_empty() {
            return f(self.root.as_fd(), name);
        }
        let dir = self.open(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        f(dir.as_fd(), name)
    }

    /// Removes whatever is at `name` in `dir` (an empty directory included), without
    /// following it.
    fn remove(dir: BorrowedFd<'_>, name: &str) -> rustix::io::Result<()> {
        let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)
        } else {
            rfs::unlinkat(dir, name, AtFlags::empty())
        }
    }

    /// Makes `make` in the parent of `rel`, replacing an existing entry once.
    fn create(
        &self,
        rel: &str,
        make: impl Fn(BorrowedFd<'_>, &str) -> rustix::io::Result<()>,
    ) -> rustix::io::Result<()> {
        self.in_parent(rel, |dir, name| match make(dir, name) {
            Err(Errno::EXIST) => {
                Self::remove(dir, name)?;
                make(dir, name)
            }
            r => r,
        })
    }

    fn make_dir(&self, rel: &str) -> Result<()> {
        self.in_parent(rel, |dir, name| {
            match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o755)) {
                Err(Errno::EXIST) => {
                    let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                        return Ok(());
                    }
                    rfs::unlinkat(dir, name, AtFlags::empty())?;
                    rfs::mkdirat(dir, name, Mode::from_raw_mode(0o755))
                }
                r => r,
            }
        })
        .map_err(|e| io_err("create directory", rel, e))
    }

    /// Creates the regular file `rel` exclusively (an existing entry is removed first).
    fn create_file(&self, rel: &str) -> Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
        let mode = Mode::from_raw_mode(0o644);
        let fd = match self.open(rel, flags, mode) {
            Err(Errno::EXIST) => {
                self.in_parent(rel, Self::remove)
                    .map_err(|e| io_err("replace", rel, e))?;
                self.open(rel, flags, mode)
            }
            r => r,
        }
        .map_err(|e| io_err("create file", rel, e))?;
        Ok(File::from(fd))
    }

    fn owner_ids(&self, node: &Node) -> Option<(Option<rfs::Uid>, Option<rfs::Gid>)> {
        let u = node.unix.filter(|_| self.unix_data)?;
        let uid = (u.uid != u32::MAX).then(|| rfs::Uid::from_raw(u.uid));
        let gid = (u.gid != u32::MAX).then(|| rfs::Gid::from_raw(u.gid));
        Some((uid, gid))
    }

    fn owner_result(&self, r: rustix::io::Result<()>, op: &'static str, rel: &str) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(Errno::PERM) => {
                self.skipped.owner.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(io_err(op, rel, e)),
        }
    }

    fn xattr_result(&self, r: rustix::io::Result<()>, rel: &str) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(
                Errno::PERM
                | Errno::ACCESS
                | Errno::NOTSUP
                | Errno::INVAL
                | Errno::RANGE
                | Errno::NOSPC
                | Errno::TOOBIG,
            ) => {
                self.skipped.xattr.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(io_err("set extended attribute of", rel, e)),
        }
    }

    /// Owner, mode, xattrs and times of an open file or directory, in that order (a
    /// change of owner clears set-user-id bits; times go last).
    fn set_meta_fd(&self, fd: BorrowedFd<'_>, node: &Node, rel: &str) -> Result<()> {
        if let Some((uid, gid)) = self.owner_ids(node) {
            self.owner_result(rfs::fchown(fd, uid, gid), "change owner of", rel)?;
        }
        if let Some(u) = node.unix.filter(|_| self.unix_data) {
            rfs::fchmod(fd, Mode::from_raw_mode(u.mode & 0o7777))
                .map_err(|e| io_err("change mode of", rel, e))?;
        }
        if self.unix_data {
            for x in &node.xattrs {
                let r = rfs::fsetxattr(
                    fd,
                    OsStr::from_bytes(&x.name),
                    &x.value,
                    rfs::XattrFlags::empty(),
                );
                self.xattr_result(r, rel)?;
            }
        }
        rfs::futimens(fd, &timestamps(node)).map_err(|e| io_err("set times of", rel, e))
    }

    /// The same for an entry that cannot be opened (symlink, special file).
    fn set_meta_path(&self, node: &Node, rel: &str, is_link: bool) -> Result<()> {
        let (parent, name) = split_parent(rel);
        let dir = if parent.is_empty() {
            None
        } else {
            Some(
                self.open(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                    .map_err(|e| io_err("open directory", parent, e))?,
            )
        };
        let dir = dir.as_ref().map_or(self.root.as_fd(), |d| d.as_fd());
        if let Some((uid, gid)) = self.owner_ids(node) {
            let r = rfs::chownat(dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW);
            self.owner_result(r, "change owner of", rel)?;
        }
        if let Some(u) = node.unix.filter(|_| self.unix_data && !is_link) {
            rfs::chmodat(
                dir,
                name,
                Mode::from_raw_mode(u.mode & 0o7777),
                AtFlags::empty(),
            )
            .map_err(|e| io_err("change mode of", rel, e))?;
        }
        if self.unix_data && !node.xattrs.is_empty() {
            let full = self.root_path.join(rel);
            for x in &node.xattrs {
                let r = rfs::lsetxattr(
                    &full,
                    OsStr::from_bytes(&x.name),
                    &x.value,
                    rfs::XattrFlags::empty(),
                );
                self.xattr_result(r, rel)?;
            }
        }
        rfs::utimensat(dir, name, &timestamps(node), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("set times of", rel, e))
    }

    /// Metadata and the other names of a written file.
    fn finish_file(&self, file: &File, inode: &FileInode) -> Result<()> {
        let first = &inode.paths[0];
        self.set_meta_fd(file.as_fd(), self.image.node(inode.node), first)?;
        for other in &inode.paths[1..] {
            self.create(other, |dir, name| {
                rfs::linkat(&self.root, first.as_str(), dir, name, AtFlags::empty())
            })
            .map_err(|e| io_err("create hard link", other, e))?;
        }
        Ok(())
    }

    fn discard(&self, inodes: &[&FileInode]) {
        for i in inodes {
            let _ = self.in_parent(&i.paths[0], |dir, name| {
                rfs::unlinkat(dir, name, AtFlags::empty())
            });
        }
    }
}

struct Shared<'a, 'i, 'w, 'f> {
    ctx: &'a Ctx<'i>,
    /// Whether solid chunks are shared between workers (with one worker, its reader
    /// going through the units in order decompresses each chunk once anyway).
    share_solid: bool,
    solid: SolidChunks<'w, 'f>,
    plan: &'a Plan,
    done: AtomicU64,
    reparse: Mutex<HashMap<Sha1Hash, Vec<u8>>>,
}

impl Shared<'_, '_, '_, '_> {
    fn visit(
        &self,
        reader: &mut BlobReader<'_, '_>,
        blob: &Blob,
        f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        match blob.location {
            BlobLocation::Solid { .. } if self.share_solid => self.solid.visit(blob, f),
            _ => reader.visit_blob(blob, f),
        }
    }

    /// The data of `blob`, its SHA-1 checked.
    fn read(&self, reader: &mut BlobReader<'_, '_>, blob: &Blob) -> Result<Vec<u8>> {
        let cap = blob.size.min(IN_MEMORY_BLOB);
        let mut out = Vec::with_capacity(usize::try_from(cap).unwrap_or(0));
        let mut h = Sha1::new();
        self.visit(reader, blob, |b| {
            h.update(b);
            out.extend_from_slice(b);
            Ok(())
        })?;
        check_hash(blob, h.finalize().into())?;
        Ok(out)
    }

    fn run_unit(&self, reader: &mut BlobReader<'_, '_>, unit: &Unit) -> Result<()> {
        for w in &unit.blobs {
            let inodes: Vec<&FileInode> = w.inodes.iter().map(|&i| &self.plan.files[i]).collect();
            let name = inodes
                .first()
                .map_or_else(|| "(reparse data)".to_string(), |i| i.paths[0].clone());
            let data_err = |e: Error| Error::FileData {
                path: format!("/{name}"),
                source: Box::new(e),
            };
            if w.reparse && w.blob.size > MAX_REPARSE_DATA {
                return Err(data_err(Error::ImplausibleSize {
                    what: "reparse data size",
                    size: w.blob.size,
                }));
            }
            if w.blob.size <= IN_MEMORY_BLOB || w.reparse {
                let data = self.read(reader, &w.blob).map_err(data_err)?;
                for inode in &inodes {
                    let rel = &inode.paths[0];
                    let mut f = self.ctx.create_file(rel)?;
                    f.write_all(&data)
                        .map_err(|e| std_io_err("write", rel, e))?;
                    self.ctx.finish_file(&f, inode)?;
                    self.done.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                if w.reparse {
                    self.reparse.lock().unwrap().insert(w.blob.hash, data);
                }
                continue;
            }
            for batch in inodes.chunks(STREAM_FANOUT) {
                let mut files = Vec::with_capacity(batch.len());
                for inode in batch {
                    files.push(self.ctx.create_file(&inode.paths[0])?);
                }
                let mut h = Sha1::new();
                let mut failed = None;
                let r = self.visit(reader, &w.blob, |b| {
                    h.update(b);
                    for (f, inode) in files.iter_mut().zip(batch) {
                        if let Err(e) = f.write_all(b) {
                            failed = Some(std_io_err("write", &inode.paths[0], e));
                            return Err(Error::TooLarge(0));
                        }
                    }
                    self.done
                        .fetch_add((b.len() * batch.len()) as u64, Ordering::Relaxed);
                    Ok(())
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                if let Err(e) = r {
                    self.ctx.discard(batch);
                    return Err(data_err(e));
                }
                if let Err(e) = check_hash(&w.blob, h.finalize().into()) {
                    self.ctx.discard(batch);
                    return Err(data_err(e));
                }
                for (f, inode) in files.iter().zip(batch) {
                    self.ctx.finish_file(f, inode)?;
                }
            }
        }
        Ok(())
    }
}

/// The target of a link as it is to be created.
fn link_target(data: &[u8], tag: u32, not_fixed: bool, fix_root: Option<&Path>) -> Result<Vec<u8>> {
    let link = LinkReparse::parse(tag, data)?;
    let t = link.unix_target(not_fixed);
    let mut out = Vec::new();
    if t.fixed {
        if let Some(root) = fix_root {
            out.extend_from_slice(root.as_os_str().as_bytes());
        }
    }
    out.extend_from_slice(t.path.as_bytes());
    Ok(out)
}

pub(super) fn apply(
    wim: &Wim<'_>,
    image: &Image,
    plan: &Plan,
    target: &Path,
    options: &ApplyOptions,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ApplyReport> {
    std::fs::create_dir_all(target).map_err(|e| std_io_err("create target directory", "", e))?;
    let root = rfs::open(
        target,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open target directory", "", e))?;
    let ctx = Ctx {
        root,
        root_path: target.to_path_buf(),
        image,
        unix_data: options.unix_data,
        openat2: AtomicBool::new(true),
        skipped: Skipped::default(),
    };
    let mut report = ApplyReport {
        warnings: plan.warnings.clone(),
        ..ApplyReport::default()
    };

    // 1. Directories, parents first; then special files.
    for d in &plan.dirs[1..] {
        ctx.make_dir(&d.rel)?;
        report.directories += 1;
    }
    for s in &plan.specials {
        let ft = FileType::from_raw_mode(s.mode);
        let perm = Mode::from_raw_mode(s.mode & 0o7777);
        let r = ctx.create(&s.rel, |dir, name| {
            rfs::mknodat(dir, name, ft, perm, rfs::Dev::from(s.rdev))
        });
        match r {
            Ok(()) => {
                ctx.set_meta_path(image.node(s.node), &s.rel, false)?;
                report.special_files += 1;
            }
            Err(Errno::PERM) => {
                ctx.skipped.special.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(io_err("create special file", &s.rel, e)),
        }
    }

    // 2. File data, in parallel; empty files too.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Io {
            op: "start worker threads for",
            path: "/".into(),
            kind: std::io::ErrorKind::Other,
            os_error: None,
            message: e.to_string(),
        })?;
    let share_solid = threads > 1;
    let blobs = plan
        .units
        .iter()
        .filter(|_| share_solid)
        .flat_map(|u| u.blobs.iter().map(|w| &w.blob));
    let shared = Shared {
        ctx: &ctx,
        share_solid,
        solid: SolidChunks::new(wim, blobs)?,
        plan,
        done: AtomicU64::new(0),
        reparse: Mutex::new(HashMap::new()),
    };
    let finished = AtomicBool::new(false);
    let total = plan.total_bytes;
    let main = std::thread::current();
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let r = pool.install(|| -> Result<()> {
                // Readers (with their decompressors and buffers) are reused across
                // units rather than made per unit.
                let readers = Mutex::new(Vec::new());
                plan.units.par_iter().with_max_len(1).try_for_each(|unit| {
                    let mut reader = readers
                        .lock()
                        .ok()
                        .and_then(|mut r| r.pop())
                        .unwrap_or_else(|| wim.reader());
                    let r = shared.run_unit(&mut reader, unit);
                    if let Ok(mut pool) = readers.lock() {
                        pool.push(reader);
                    }
                    r
                })?;
                plan.empty.par_iter().try_for_each(|&i| {
                    let inode = &plan.files[i];
                    let f = ctx.create_file(&inode.paths[0])?;
                    ctx.finish_file(&f, inode)
                })
            });
            finished.store(true, Ordering::Release);
            main.unpark();
            r
        });
        let mut last = u64::MAX;
        progress(0, total);
        while !finished.load(Ordering::Acquire) {
            std::thread::park_timeout(std::time::Duration::from_millis(50));
            let d = shared.done.load(Ordering::Relaxed);
            if d != last {
                progress(d, total);
                last = d;
            }
        }
        worker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    result?;
    report.files = plan.files.len() as u64;
    report.hard_links = plan.files.iter().map(|f| f.paths.len() as u64 - 1).sum();
    report.bytes = shared.done.load(Ordering::Relaxed);
    progress(report.bytes, total);

    // 3. Symlinks, once nothing else is to be created.
    let rpfix = options
        .rpfix
        .unwrap_or(wim.header.has_flag(crate::header::flags::RP_FIX));
    let fix_root = if rpfix {
        Some(std::fs::canonicalize(target).map_err(|e| std_io_err("resolve", "", e))?)
    } else {
        None
    };
    let reparse = shared.reparse.into_inner().unwrap_or_default();
    for l in &plan.links {
        let data = reparse.get(&l.data).map_or(&[][..], Vec::as_slice);
        let to = link_target(data, l.tag, l.not_fixed, fix_root.as_deref()).map_err(|e| {
            Error::FileData {
                path: format!("/{}", l.rel),
                source: Box::new(e),
            }
        })?;
        ctx.create(&l.rel, |dir, name| {
            rfs::symlinkat(OsStr::from_bytes(&to), dir, name)
        })
        .map_err(|e| io_err("create symlink", &l.rel, e))?;
        ctx.set_meta_path(image.node(l.node), &l.rel, true)?;
        report.symlinks += 1;
    }

    // 4. Directory metadata, children before parents, the target itself last.
    for d in plan.dirs.iter().rev() {
        let fd = ctx
            .open(&d.rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| io_err("open directory", &d.rel, e))?;
        ctx.set_meta_fd(fd.as_fd(), image.node(d.node), &d.rel)?;
    }

    let s = &ctx.skipped;
    let n = s.owner.load(Ordering::Relaxed);
    if n > 0 {
        report
            .warnings
            .push(format!("{n} owners could not be set (not permitted)"));
    }
    let n = s.xattr.load(Ordering::Relaxed);
    if n > 0 {
        report
            .warnings
            .push(format!("{n} extended attributes could not be set"));
    }
    let n = s.special.load(Ordering::Relaxed);
    if n > 0 {
        report.warnings.push(format!(
            "{n} special files could not be created (not permitted)"
        ));
    }
    Ok(report)
}
