//! Applying (extracting) an image to a directory, as `wimlib-imagex apply` and DISM's
//! `/Apply-Image` do.
//!
//! [`apply_image`] restores directories, regular files, hard links, symlinks and
//! junctions (as symlinks), and, with wimlib's UNIX data, FIFOs, devices, sockets,
//! owners, modes and extended attributes; last write and last access times always.
//! What it cannot restore on this platform (named data streams, Windows security
//! descriptors, object ids, other reparse points, encrypted files) is counted and
//! reported in [`ApplyReport::warnings`], never dropped silently.
//!
//! Every blob is decompressed once however many files share it, big files are written
//! a chunk at a time, the blobs of a solid resource are read in offset order (each
//! solid chunk is decompressed once per worker range), and work is spread over a
//! rayon pool of [`ApplyOptions::threads`] threads.
//!
//! Nothing is written outside the target: every name is checked again, files are
//! opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (or `O_NOFOLLOW`
//! where that is missing) and created exclusively (an existing entry is removed, not
//! written through), and symlinks are created after every file and directory.

use std::path::Path;

use crate::error::Result;
use crate::read::Wim;

#[cfg_attr(not(unix), allow(dead_code))]
mod plan;
#[cfg(unix)]
mod solid;
#[cfg(unix)]
mod unix;

pub use plan::{check_name, check_relative_path, filetime_to_unix};

/// How to apply an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Restore owners, modes, device numbers, special files and extended attributes
    /// from wimlib's UNIX data when the image has it (`false` is DISM's `/NoUnixData`
    /// and wimlib's default: files get 0644 and directories 0755, less the umask).
    pub unix_data: bool,
    /// Worker threads; `None` uses every available core.
    pub threads: Option<usize>,
    /// Reparse-point fixups: absolute link targets that capture made relative to the
    /// image root get the target directory's absolute path prefixed. `None` does it
    /// when the WIM header has the RP_FIX flag, as wimlib does.
    pub rpfix: Option<bool>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            unix_data: true,
            threads: None,
            rpfix: None,
        }
    }
}

/// What [`apply_image`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Directories created or reused, the target itself excluded.
    pub directories: u64,
    /// Regular files written (one per inode; hard links count in `hard_links`).
    pub files: u64,
    /// Extra names of hard-linked files.
    pub hard_links: u64,
    pub symlinks: u64,
    /// FIFOs, character and block devices and sockets.
    pub special_files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// What was not applied or only partly, for the caller to show.
    pub warnings: Vec<String>,
}

/// Applies image `index` (1-based) of `wim` to the directory `target` (created if
/// missing; it may hold files already: entries of the image replace them).
/// `progress(done, total)` is called from the calling thread with bytes of file data.
pub fn apply_image(
    wim: &Wim<'_>,
    index: u32,
    target: &Path,
    options: &ApplyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ApplyReport> {
    let image = wim.image(index)?;
    apply_tree(wim, &image, target, options, progress)
}

/// [`apply_image`] for an image already read with [`Wim::image`].
pub fn apply_tree(
    wim: &Wim<'_>,
    image: &crate::metadata::Image,
    target: &Path,
    options: &ApplyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ApplyReport> {
    let threads = options
        .threads
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = plan::Plan::new(wim, image, options, threads)?;
    #[cfg(unix)]
    {
        unix::apply(wim, image, &plan, target, options, threads, progress)
    }
    #[cfg(not(unix))]
    {
        let _ = (plan, target, progress);
        Err(crate::error::Error::Unsupported(
            crate::error::Unsupported::ApplyOnThisPlatform,
        ))
    }
}
