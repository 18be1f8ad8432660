//! Platform-neutral types of the filesystem view: inode numbers, kinds, attributes,
//! directory entries, times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An inode number. The root is [`ROOT_INO`]; the files of the image are numbered
/// from it in metadata order (hard links share one number); files the overlay creates
/// get numbers after the image's.
pub type Ino = u64;

/// The inode number of the image's root directory (FUSE's root id).
pub const ROOT_INO: Ino = 1;

pub const S_IFMT: u32 = 0o170_000;
pub const S_IFSOCK: u32 = 0o140_000;
pub const S_IFLNK: u32 = 0o120_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFBLK: u32 = 0o060_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFCHR: u32 = 0o020_000;
pub const S_IFIFO: u32 = 0o010_000;

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Directory,
    File,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
}

impl Kind {
    /// The kind the file type bits of `mode` give (`None` for none or unknown bits).
    pub fn from_mode(mode: u32) -> Option<Self> {
        Some(match mode & S_IFMT {
            S_IFDIR => Self::Directory,
            S_IFREG => Self::File,
            S_IFLNK => Self::Symlink,
            S_IFIFO => Self::Fifo,
            S_IFCHR => Self::CharDevice,
            S_IFBLK => Self::BlockDevice,
            S_IFSOCK => Self::Socket,
            _ => return None,
        })
    }

    /// The file type bits of `st_mode` for this kind.
    pub fn mode_bits(self) -> u32 {
        match self {
            Self::Directory => S_IFDIR,
            Self::File => S_IFREG,
            Self::Symlink => S_IFLNK,
            Self::Fifo => S_IFIFO,
            Self::CharDevice => S_IFCHR,
            Self::BlockDevice => S_IFBLK,
            Self::Socket => S_IFSOCK,
        }
    }

    /// A FIFO, device or socket (stored as UNIX data only).
    pub fn is_special(self) -> bool {
        !matches!(self, Self::Directory | Self::File | Self::Symlink)
    }
}

/// Times as FILETIMEs (100 ns units since 1601, as the WIM stores them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileTimes {
    pub creation: u64,
    pub access: u64,
    pub write: u64,
    /// Status change: not in a WIM (the last write time there); set by the overlay.
    pub change: u64,
}

/// FILETIME of the UNIX epoch.
const EPOCH_FILETIME: u64 = 116_444_736_000_000_000;

/// A FILETIME as a [`SystemTime`].
pub fn filetime_to_system(ft: u64) -> SystemTime {
    if ft >= EPOCH_FILETIME {
        let t = ft - EPOCH_FILETIME;
        UNIX_EPOCH + Duration::new(t / 10_000_000, (t % 10_000_000) as u32 * 100)
    } else {
        let t = EPOCH_FILETIME - ft;
        UNIX_EPOCH - Duration::new(t / 10_000_000, (t % 10_000_000) as u32 * 100)
    }
}

/// A [`SystemTime`] as a FILETIME (clamped to the FILETIME range).
pub fn system_to_filetime(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => {
            let ticks = d.as_secs().saturating_mul(10_000_000) + u64::from(d.subsec_nanos() / 100);
            EPOCH_FILETIME.saturating_add(ticks)
        }
        Err(e) => {
            let d = e.duration();
            let ticks = d.as_secs().saturating_mul(10_000_000) + u64::from(d.subsec_nanos() / 100);
            EPOCH_FILETIME.saturating_sub(ticks)
        }
    }
}

/// The current time as a FILETIME.
pub fn now_filetime() -> u64 {
    system_to_filetime(SystemTime::now())
}

/// What `stat` reports about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    /// Permission bits (`mode & 0o7777`).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub nlink: u32,
    /// Bytes of data (of a symlink: its target's length).
    pub size: u64,
    pub times: FileTimes,
}

impl Attr {
    /// `st_mode`: the kind's file type bits and the permission bits.
    pub fn mode(&self) -> u32 {
        self.kind.mode_bits() | (self.perm & 0o7777)
    }

    /// 512-byte blocks the data would take.
    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(512)
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub ino: Ino,
    pub kind: Kind,
}

/// Metadata changes of `setattr` (chmod, chown, truncate, utimens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetAttr {
    /// New permission bits (file type bits are ignored).
    pub perm: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Truncate or extend to this size (regular files only).
    pub size: Option<u64>,
    /// FILETIMEs.
    pub access: Option<u64>,
    pub write: Option<u64>,
    pub creation: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_round_trip() {
        for ft in [
            0,
            EPOCH_FILETIME,
            EPOCH_FILETIME + 1,
            133_000_000_000_000_123,
        ] {
            assert_eq!(system_to_filetime(filetime_to_system(ft)), ft);
        }
        assert_eq!(filetime_to_system(EPOCH_FILETIME), UNIX_EPOCH);
    }
}
