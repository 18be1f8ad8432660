//! Opening a WIM file from disk: memory-mapped (read-only), or read into memory when
//! small. Every error names the file.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::read::Wim;

/// Files up to this size are read into memory rather than mapped.
const READ_BELOW: u64 = 1 << 16;

enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// A WIM file opened read-only, its bytes mapped into memory.
///
/// The bytes stay valid as long as the file is not shortened by another process while
/// mapped (see [`WimFile::open`]).
pub struct WimFile {
    path: PathBuf,
    data: Backing,
}

impl std::fmt::Debug for WimFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WimFile")
            .field("path", &self.path)
            .field("len", &self.bytes().len())
            .field("mapped", &matches!(self.data, Backing::Mapped(_)))
            .finish()
    }
}

/// Maps `file` read-only.
///
/// SAFETY (why the one `unsafe` of the crate is accepted): a mapping is undefined
/// behaviour in Rust's model only if the file changes while mapped. The map is
/// read-only and private to us, so nothing in this process writes through it; another
/// process could still write to or truncate the file, in which case reads see the new
/// bytes (which every parser of this crate already treats as untrusted and bounds-checks)
/// or, after truncation, the process gets SIGBUS when touching the lost pages. That is
/// the same trade-off wimlib and 7-Zip make when they map archives, and it is documented
/// on [`WimFile::open`]; callers that cannot accept it use [`WimFile::read`].
#[allow(unsafe_code)]
fn map_read_only(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: see the function's documentation: read-only mapping of a file we opened
    // read-only; concurrent truncation by another process is the accepted risk.
    unsafe { memmap2::Mmap::map(file) }
}

impl WimFile {
    /// Opens `path` and maps it read-only (files under 64 KiB are read instead).
    ///
    /// If another process truncates the file while it is mapped, touching the lost
    /// pages kills the process with SIGBUS (as with wimlib and 7-Zip); use
    /// [`WimFile::read`] where that matters.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let wrap = |op| move |e: std::io::Error| Error::access(op, &e).with_path(path);
        let file = File::open(path).map_err(wrap("open"))?;
        let len = file.metadata().map_err(wrap("stat"))?.len();
        let data = if len < READ_BELOW {
            Backing::Owned(std::fs::read(path).map_err(wrap("read"))?)
        } else {
            Backing::Mapped(map_read_only(&file).map_err(wrap("map"))?)
        };
        Ok(Self {
            path: path.to_path_buf(),
            data,
        })
    }

    /// Opens `path` and reads it whole into memory (no mapping).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|e| Error::access("read", &e).with_path(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            data: Backing::Owned(data),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }

    /// Whether the bytes are a memory map (rather than read into memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Backing::Mapped(_))
    }

    /// `r` with its error, if any, said to be about this file (for errors of later
    /// reads: `f.context(wim.image(1))`).
    pub fn context<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.with_path(&self.path))
    }

    /// Parses the file as a WIM ([`Wim::parse`]); errors name the file.
    pub fn wim(&self) -> Result<Wim<'_>> {
        Wim::parse(self.bytes()).map_err(|e| e.with_path(&self.path))
    }
}
