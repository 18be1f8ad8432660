//! Errors of filesystem operations, each with the POSIX errno a backend replies with.

use std::fmt;

/// Why a filesystem operation failed.
#[derive(Debug)]
pub enum FsError {
    /// No entry of that name (ENOENT), or an inode number that does not exist.
    NotFound,
    /// A path component is not a directory (ENOTDIR).
    NotDirectory,
    /// A directory where a non-directory is needed (EISDIR).
    IsDirectory,
    /// rmdir or rename over a directory that has entries (ENOTEMPTY).
    NotEmpty,
    /// The name is taken (EEXIST).
    Exists,
    /// The mount is read-only (EROFS).
    ReadOnly,
    /// No extended attribute of that name (ENODATA).
    NoAttribute,
    /// An argument the operation refuses (EINVAL): a name that is not UTF-8, a
    /// rename into the renamed directory itself, an unsupported flag.
    Invalid(&'static str),
    /// The operation does not apply to this kind of file (EINVAL for readlink of a
    /// non-symlink, EPERM for a hard link to a directory).
    NotPermitted,
    /// The name is too long (ENAMETOOLONG).
    NameTooLong,
    /// An error of the scratch directory.
    Io(std::io::Error),
    /// The WIM could not be read (damaged data, missing blob): EIO.
    Wim(wim_format::Error),
}

impl FsError {
    /// The POSIX errno for this error (Linux numbering).
    pub fn errno(&self) -> i32 {
        match self {
            Self::NotFound => 2,      // ENOENT
            Self::NotDirectory => 20, // ENOTDIR
            Self::IsDirectory => 21,  // EISDIR
            Self::NotEmpty => 39,     // ENOTEMPTY
            Self::Exists => 17,       // EEXIST
            Self::ReadOnly => 30,     // EROFS
            Self::NoAttribute => 61,  // ENODATA
            Self::Invalid(_) => 22,   // EINVAL
            Self::NotPermitted => 1,  // EPERM
            Self::NameTooLong => 36,  // ENAMETOOLONG
            Self::Io(e) => e.raw_os_error().unwrap_or(5),
            Self::Wim(_) => 5, // EIO
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such file or directory"),
            Self::NotDirectory => f.write_str("not a directory"),
            Self::IsDirectory => f.write_str("is a directory"),
            Self::NotEmpty => f.write_str("directory not empty"),
            Self::Exists => f.write_str("file exists"),
            Self::ReadOnly => f.write_str("read-only mount"),
            Self::NoAttribute => f.write_str("no such extended attribute"),
            Self::Invalid(why) => write!(f, "invalid argument: {why}"),
            Self::NotPermitted => f.write_str("operation not permitted"),
            Self::NameTooLong => f.write_str("file name too long"),
            Self::Io(e) => write!(f, "scratch directory: {e}"),
            Self::Wim(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Wim(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for FsError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<wim_format::Error> for FsError {
    fn from(e: wim_format::Error) -> Self {
        Self::Wim(e)
    }
}

pub type FsResult<T> = std::result::Result<T, FsError>;
