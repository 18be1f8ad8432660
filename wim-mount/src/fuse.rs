//! The FUSE backend (Linux): serves any [`Vfs`] (a read-only [`crate::Projection`] or
//! a read-write [`crate::Overlay`]) through `fuser`, which talks to `/dev/fuse`
//! directly (mounting through `fusermount3` when not root), without libfuse.
//!
//! Requests are handled by several threads at once; the projection, the overlay and
//! the chunk cache are thread-safe, so reads of different chunks decompress in
//! parallel.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, KernelConfig, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, SessionACL, TimeOrNow, WriteFlags,
};

use crate::error::FsError;
use crate::types::{filetime_to_system, system_to_filetime, Attr, DirEntry, Kind, SetAttr};
use crate::vfs::{NewFile, Vfs, XattrMode};

/// How to mount.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Threads serving requests.
    pub threads: usize,
    /// Let other users than the mounting one in (`allow_other`; needs root or
    /// `user_allow_other` in `/etc/fuse.conf`).
    pub allow_other: bool,
    /// Let the kernel check permissions against the modes shown
    /// (`default_permissions`).
    pub default_permissions: bool,
    /// How long the kernel may cache names and attributes.
    pub ttl: Duration,
    /// The source shown in `/proc/mounts`.
    pub fsname: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self {
            threads: 4,
            allow_other: false,
            default_permissions: true,
            ttl: Duration::from_secs(1),
            fsname: "wimkit".into(),
        }
    }
}

const XATTR_CREATE: i32 = 1;
const XATTR_REPLACE: i32 = 2;

fn errno(e: FsError) -> Errno {
    Errno::from_i32(e.errno())
}

fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Directory => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
        Kind::CharDevice => FileType::CharDevice,
        Kind::BlockDevice => FileType::BlockDevice,
        Kind::Socket => FileType::Socket,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks(),
        atime: filetime_to_system(a.times.access),
        mtime: filetime_to_system(a.times.write),
        ctime: filetime_to_system(a.times.change),
        crtime: filetime_to_system(a.times.creation),
        kind: file_type(a.kind),
        perm: (a.perm & 0o7777) as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        blksize: 4096,
        flags: 0,
    }
}

fn name_str(name: &OsStr) -> Result<&str, Errno> {
    // Names of a WIM are UTF-16; names that are not UTF-8 cannot be stored.
    std::str::from_utf8(name.as_bytes()).map_err(|_| Errno::EINVAL)
}

fn time_of(t: TimeOrNow) -> u64 {
    match t {
        TimeOrNow::SpecificTime(t) => system_to_filetime(t),
        TimeOrNow::Now => system_to_filetime(SystemTime::now()),
    }
}

/// A directory listing taken at opendir: `.`, `..` and the entries.
type Listing = Arc<Vec<DirEntry>>;

struct FuseFs {
    vfs: Arc<dyn Vfs>,
    ttl: Duration,
    next_fh: AtomicU64,
    dirs: Mutex<HashMap<u64, Listing>>,
}

impl FuseFs {
    fn entry(&self, r: Result<Attr, FsError>, reply: ReplyEntry) {
        match r {
            Ok(a) => reply.entry(&self.ttl, &file_attr(&a), Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn empty(r: Result<(), FsError>, reply: ReplyEmpty) {
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn dirs(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Listing>> {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn xattr_reply(data: &[u8], size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(data.len() as u32);
        } else if data.len() > size as usize {
            reply.error(Errno::ERANGE);
        } else {
            reply.data(data);
        }
    }
}

impl Filesystem for FuseFs {
    fn init(&mut self, _req: &Request, _config: &mut KernelConfig) -> io::Result<()> {
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Ok(name) = name_str(name) else {
            return reply.error(Errno::ENOENT);
        };
        self.entry(self.vfs.lookup(parent.0, name), reply);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.vfs.getattr(ino.0) {
            Ok(a) => reply.attr(&self.ttl, &file_attr(&a)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let set = SetAttr {
            perm: mode.map(|m| m & 0o7777),
            uid,
            gid,
            size,
            access: atime.map(time_of),
            write: mtime.map(time_of),
            creation: crtime.map(system_to_filetime),
        };
        match self.vfs.setattr(ino.0, &set) {
            Ok(a) => reply.attr(&self.ttl, &file_attr(&a)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.vfs.readlink(ino.0) {
            Ok(t) => reply.data(t.as_bytes()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let Ok(name) = name_str(name) else {
            return reply.error(Errno::EINVAL);
        };
        let kind = Kind::from_mode(mode).unwrap_or(Kind::File);
        if matches!(kind, Kind::Directory | Kind::Symlink) {
            return reply.error(Errno::EINVAL);
        }
        let new = NewFile {
            kind,
            perm: mode & !umask & 0o7777,
            uid: req.uid(),
            gid: req.gid(),
            rdev,
        };
        self.entry(self.vfs.create(parent.0, name, new), reply);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let Ok(name) = name_str(name) else {
            return reply.error(Errno::EINVAL);
        };
        let new = NewFile {
            kind: Kind::Directory,
            perm: mode & !umask & 0o7777,
            uid: req.uid(),
            gid: req.gid(),
            rdev: 0,
        };
        self.entry(self.vfs.mkdir(parent.0, name, new), reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match name_str(name) {
            Ok(n) => Self::empty(self.vfs.unlink(parent.0, n), reply),
            Err(_) => reply.error(Errno::ENOENT),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match name_str(name) {
            Ok(n) => Self::empty(self.vfs.rmdir(parent.0, n), reply),
            Err(_) => reply.error(Errno::ENOENT),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let (Ok(name), Ok(target)) = (
            name_str(link_name),
            std::str::from_utf8(target.as_os_str().as_bytes()),
        ) else {
            return reply.error(Errno::EINVAL);
        };
        let new = NewFile {
            kind: Kind::Symlink,
            perm: 0o777,
            uid: req.uid(),
            gid: req.gid(),
            rdev: 0,
        };
        self.entry(self.vfs.symlink(parent.0, name, target, new), reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let (Ok(name), Ok(newname)) = (name_str(name), name_str(newname)) else {
            return reply.error(Errno::EINVAL);
        };
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        Self::empty(
            self.vfs
                .rename(parent.0, name, newparent.0, newname, noreplace),
            reply,
        );
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let Ok(newname) = name_str(newname) else {
            return reply.error(Errno::EINVAL);
        };
        self.entry(self.vfs.link(ino.0, newparent.0, newname), reply);
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.vfs.getattr(ino.0) {
            Ok(a) if a.kind == Kind::Directory => reply.error(Errno::EISDIR),
            Ok(_) => {
                // Read-only data never changes: the page cache may keep it across opens.
                let flags = if self.vfs.writable() {
                    FopenFlags::empty()
                } else {
                    FopenFlags::FOPEN_KEEP_CACHE
                };
                reply.opened(FileHandle(0), flags)
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.vfs.read(ino.0, offset, size as usize) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.vfs.write(ino.0, offset, data) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let entries = match self.vfs.readdir(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(e)),
        };
        let parent = self.vfs.parent(ino.0).unwrap_or(ino.0);
        let mut all = Vec::with_capacity(entries.len() + 2);
        for (name, i) in [(".", ino.0), ("..", parent)] {
            all.push(DirEntry {
                name: name.into(),
                ino: i,
                kind: Kind::Directory,
            });
        }
        all.extend(entries);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.dirs().insert(fh, Arc::new(all));
        reply.opened(FileHandle(fh), FopenFlags::empty());
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(list) = self.dirs().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        for (i, e) in list.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(e.ino), i as u64 + 1, file_type(e.kind), &e.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let mode = if flags & XATTR_CREATE != 0 {
            XattrMode::Create
        } else if flags & XATTR_REPLACE != 0 {
            XattrMode::Replace
        } else {
            XattrMode::Any
        };
        Self::empty(
            self.vfs.setxattr(ino.0, name.as_bytes(), value, mode),
            reply,
        );
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.vfs.getxattr(ino.0, name.as_bytes()) {
            Ok(v) => Self::xattr_reply(&v, size, reply),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.vfs.listxattr(ino.0) {
            Ok(names) => {
                let mut buf = Vec::new();
                for n in names {
                    buf.extend_from_slice(&n);
                    buf.push(0);
                }
                Self::xattr_reply(&buf, size, reply);
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::empty(self.vfs.removexattr(ino.0, name.as_bytes()), reply);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let Ok(name) = name_str(name) else {
            return reply.error(Errno::EINVAL);
        };
        let new = NewFile {
            kind: Kind::File,
            perm: mode & !umask & 0o7777,
            uid: req.uid(),
            gid: req.gid(),
            rdev: 0,
        };
        match self.vfs.create(parent.0, name, new) {
            Ok(a) => reply.created(
                &self.ttl,
                &file_attr(&a),
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(e)),
        }
    }
}

fn config(vfs: &dyn Vfs, options: &MountOptions) -> Config {
    let mut mount_options = vec![
        MountOption::FSName(options.fsname.clone()),
        MountOption::Subtype("wim".into()),
        if vfs.writable() {
            MountOption::RW
        } else {
            MountOption::RO
        },
        MountOption::Dev,
        MountOption::Suid,
    ];
    if options.default_permissions {
        mount_options.push(MountOption::DefaultPermissions);
    }
    let mut c = Config::default();
    c.mount_options = mount_options;
    c.acl = if options.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    c.n_threads = Some(options.threads.max(1));
    c.clone_fd = options.threads > 1;
    c
}

fn fuse_fs(vfs: Arc<dyn Vfs>, options: &MountOptions) -> FuseFs {
    FuseFs {
        vfs,
        ttl: options.ttl,
        next_fh: AtomicU64::new(1),
        dirs: Mutex::new(HashMap::new()),
    }
}

/// A filesystem mounted by [`mount`], served by background threads until
/// [`MountHandle::unmount`] (or drop).
pub struct MountHandle {
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
}

impl std::fmt::Debug for MountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountHandle")
            .field("mountpoint", &self.mountpoint)
            .finish()
    }
}

impl MountHandle {
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts and waits for the serving threads to end. Fails (and stays mounted)
    /// while files are open in the mount.
    pub fn unmount(mut self) -> io::Result<()> {
        match self.session.take() {
            Some(s) => s.umount_and_join(),
            None => Ok(()),
        }
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
    }
}

/// Mounts `fs` on `mountpoint` and serves it from background threads (read-write if
/// `fs` is, e.g. an [`crate::Overlay`]; keep another `Arc` to it to take its
/// changes).
pub fn mount<V: Vfs>(
    fs: Arc<V>,
    mountpoint: impl AsRef<Path>,
    options: &MountOptions,
) -> io::Result<MountHandle> {
    let vfs: Arc<dyn Vfs> = fs;
    let cfg = config(vfs.as_ref(), options);
    let session = fuser::spawn_mount(fuse_fs(vfs, options), mountpoint.as_ref(), &cfg)?;
    Ok(MountHandle {
        session: Some(session),
        mountpoint: mountpoint.as_ref().to_path_buf(),
    })
}

/// Mounts `fs` on `mountpoint` and serves it until it is unmounted (`umount`,
/// `fusermount3 -u`): for a server process.
pub fn serve<V: Vfs>(
    fs: Arc<V>,
    mountpoint: impl AsRef<Path>,
    options: &MountOptions,
) -> io::Result<()> {
    let vfs: Arc<dyn Vfs> = fs;
    let cfg = config(vfs.as_ref(), options);
    fuser::mount(fuse_fs(vfs, options), mountpoint.as_ref(), &cfg)
}
