//! The operations a backend (FUSE, ProjFS) serves, implemented by the read-only
//! [`Projection`] and the read-write [`Overlay`].

use crate::error::{FsError, FsResult};
use crate::overlay::Overlay;
use crate::projection::Projection;
use crate::types::{Attr, DirEntry, Ino, Kind, SetAttr};

/// Who creates a file, and with which mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewFile {
    pub kind: Kind,
    /// Permission bits (the caller applies the umask).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    /// Device number of a character or block device.
    pub rdev: u32,
}

/// How `setxattr` treats an existing attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XattrMode {
    /// Create or replace.
    #[default]
    Any,
    /// Fail with `Exists` if it exists (XATTR_CREATE).
    Create,
    /// Fail with `NoAttribute` if it does not (XATTR_REPLACE).
    Replace,
}

/// A filesystem of inodes, as the backends see it. Write operations fail with
/// [`FsError::ReadOnly`] unless implemented.
pub trait Vfs: Send + Sync + 'static {
    /// The entry `name` of directory `parent` and its attributes.
    fn lookup(&self, parent: Ino, name: &str) -> FsResult<Attr>;
    fn getattr(&self, ino: Ino) -> FsResult<Attr>;
    /// Entries of directory `ino` (no `.` or `..`), sorted by name.
    fn readdir(&self, ino: Ino) -> FsResult<Vec<DirEntry>>;
    /// The parent of directory `ino` (the root's is itself).
    fn parent(&self, ino: Ino) -> FsResult<Ino>;
    fn readlink(&self, ino: Ino) -> FsResult<String>;
    fn listxattr(&self, ino: Ino) -> FsResult<Vec<Vec<u8>>>;
    fn getxattr(&self, ino: Ino, name: &[u8]) -> FsResult<Vec<u8>>;
    /// Up to `size` bytes of regular file `ino` from `offset` (fewer at the end).
    fn read(&self, ino: Ino, offset: u64, size: usize) -> FsResult<Vec<u8>>;

    fn writable(&self) -> bool {
        false
    }
    /// Creates a regular file, FIFO, device or socket (not a directory or symlink).
    fn create(&self, _parent: Ino, _name: &str, _new: NewFile) -> FsResult<Attr> {
        Err(FsError::ReadOnly)
    }
    fn mkdir(&self, _parent: Ino, _name: &str, _new: NewFile) -> FsResult<Attr> {
        Err(FsError::ReadOnly)
    }
    fn symlink(&self, _parent: Ino, _name: &str, _target: &str, _new: NewFile) -> FsResult<Attr> {
        Err(FsError::ReadOnly)
    }
    /// A new name `newname` in `newparent` for non-directory `ino`.
    fn link(&self, _ino: Ino, _newparent: Ino, _newname: &str) -> FsResult<Attr> {
        Err(FsError::ReadOnly)
    }
    fn unlink(&self, _parent: Ino, _name: &str) -> FsResult<()> {
        Err(FsError::ReadOnly)
    }
    fn rmdir(&self, _parent: Ino, _name: &str) -> FsResult<()> {
        Err(FsError::ReadOnly)
    }
    /// Renames, replacing an existing target unless `noreplace`.
    fn rename(
        &self,
        _parent: Ino,
        _name: &str,
        _newparent: Ino,
        _newname: &str,
        _noreplace: bool,
    ) -> FsResult<()> {
        Err(FsError::ReadOnly)
    }
    fn setattr(&self, _ino: Ino, _set: &SetAttr) -> FsResult<Attr> {
        Err(FsError::ReadOnly)
    }
    /// Writes `data` at `offset` of regular file `ino`; returns the bytes written.
    fn write(&self, _ino: Ino, _offset: u64, _data: &[u8]) -> FsResult<usize> {
        Err(FsError::ReadOnly)
    }
    fn setxattr(&self, _ino: Ino, _name: &[u8], _value: &[u8], _mode: XattrMode) -> FsResult<()> {
        Err(FsError::ReadOnly)
    }
    fn removexattr(&self, _ino: Ino, _name: &[u8]) -> FsResult<()> {
        Err(FsError::ReadOnly)
    }
}

impl Vfs for Projection {
    fn lookup(&self, parent: Ino, name: &str) -> FsResult<Attr> {
        self.getattr(Projection::lookup(self, parent, name)?)
    }
    fn getattr(&self, ino: Ino) -> FsResult<Attr> {
        Projection::getattr(self, ino)
    }
    fn readdir(&self, ino: Ino) -> FsResult<Vec<DirEntry>> {
        Projection::readdir(self, ino)
    }
    fn parent(&self, ino: Ino) -> FsResult<Ino> {
        Projection::parent(self, ino)
    }
    fn readlink(&self, ino: Ino) -> FsResult<String> {
        Projection::readlink(self, ino)
    }
    fn listxattr(&self, ino: Ino) -> FsResult<Vec<Vec<u8>>> {
        Projection::listxattr(self, ino)
    }
    fn getxattr(&self, ino: Ino, name: &[u8]) -> FsResult<Vec<u8>> {
        Projection::getxattr(self, ino, name)
    }
    fn read(&self, ino: Ino, offset: u64, size: usize) -> FsResult<Vec<u8>> {
        Projection::read(self, ino, offset, size)
    }
}

impl Vfs for Overlay {
    fn lookup(&self, parent: Ino, name: &str) -> FsResult<Attr> {
        Overlay::lookup(self, parent, name)
    }
    fn getattr(&self, ino: Ino) -> FsResult<Attr> {
        Overlay::getattr(self, ino)
    }
    fn readdir(&self, ino: Ino) -> FsResult<Vec<DirEntry>> {
        Overlay::readdir(self, ino)
    }
    fn parent(&self, ino: Ino) -> FsResult<Ino> {
        Overlay::parent(self, ino)
    }
    fn readlink(&self, ino: Ino) -> FsResult<String> {
        Overlay::readlink(self, ino)
    }
    fn listxattr(&self, ino: Ino) -> FsResult<Vec<Vec<u8>>> {
        Overlay::listxattr(self, ino)
    }
    fn getxattr(&self, ino: Ino, name: &[u8]) -> FsResult<Vec<u8>> {
        Overlay::getxattr(self, ino, name)
    }
    fn read(&self, ino: Ino, offset: u64, size: usize) -> FsResult<Vec<u8>> {
        Overlay::read(self, ino, offset, size)
    }
    fn writable(&self) -> bool {
        true
    }
    fn create(&self, parent: Ino, name: &str, new: NewFile) -> FsResult<Attr> {
        Overlay::create(self, parent, name, new)
    }
    fn mkdir(&self, parent: Ino, name: &str, new: NewFile) -> FsResult<Attr> {
        Overlay::mkdir(self, parent, name, new)
    }
    fn symlink(&self, parent: Ino, name: &str, target: &str, new: NewFile) -> FsResult<Attr> {
        Overlay::symlink(self, parent, name, target, new)
    }
    fn link(&self, ino: Ino, newparent: Ino, newname: &str) -> FsResult<Attr> {
        Overlay::link(self, ino, newparent, newname)
    }
    fn unlink(&self, parent: Ino, name: &str) -> FsResult<()> {
        Overlay::unlink(self, parent, name)
    }
    fn rmdir(&self, parent: Ino, name: &str) -> FsResult<()> {
        Overlay::rmdir(self, parent, name)
    }
    fn rename(
        &self,
        parent: Ino,
        name: &str,
        newparent: Ino,
        newname: &str,
        noreplace: bool,
    ) -> FsResult<()> {
        Overlay::rename(self, parent, name, newparent, newname, noreplace)
    }
    fn setattr(&self, ino: Ino, set: &SetAttr) -> FsResult<Attr> {
        Overlay::setattr(self, ino, set)
    }
    fn write(&self, ino: Ino, offset: u64, data: &[u8]) -> FsResult<usize> {
        Overlay::write(self, ino, offset, data)
    }
    fn setxattr(&self, ino: Ino, name: &[u8], value: &[u8], mode: XattrMode) -> FsResult<()> {
        Overlay::setxattr(self, ino, name, value, mode)
    }
    fn removexattr(&self, ino: Ino, name: &[u8]) -> FsResult<()> {
        Overlay::removexattr(self, ino, name)
    }
}
