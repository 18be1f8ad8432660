//! Capturing a directory tree (UNIX) into an image, as `wimlib-imagex capture
//! --unix-data` does: directories, regular files (content deduplicated by SHA-1),
//! hard links (one link group per inode), symbolic links as symlink reparse points,
//! FIFOs and device nodes (with UNIX data), owners, modes and extended attributes.
//! Sockets are kept as wimlib keeps them (an entry whose UNIX mode says so). The tree is walked without recursion and
//! without following symbolic links.

pub mod config;

use std::collections::HashMap;
use std::path::Path;

pub use config::{CaptureConfig, ConfigMatcher};

use crate::error::{Error, Result};
use crate::header::flags;
use crate::metadata::{Image, NodeId, StreamKind};
use crate::read::Wim;
use crate::write::writer::{solid_order, BlobData, WimWriter, WriteOptions};
use crate::write::xml::{
    image_counts, new_image_element, now_filetime, set_child_text, ImageCounts,
};

/// How to capture a directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// NAME of the image (defaults to the directory's name).
    pub name: Option<String>,
    pub description: Option<String>,
    /// FLAGS of the image (e.g. an edition id).
    pub flags: Option<String>,
    /// Store owners, modes, device numbers and extended attributes (wimlib's UNIX
    /// data), and FIFOs and devices; without it those files are skipped.
    pub unix_data: bool,
    /// Reparse-point fixups: absolute symlink targets inside the captured tree are
    /// stored relative to the image root (wimlib's default `--rpfix`).
    pub rpfix: bool,
    /// Exclusions; `None`: DISM's default list ([`CaptureConfig::dism_default`]).
    pub config: Option<CaptureConfig>,
    /// Make the new image the bootable one (the header's boot index).
    pub bootable: bool,
    /// Mark the image WIMBoot-compatible (`WIMBOOT` 1 in its XML) and, when
    /// `config` is `None`, take the exclusions from the tree's own
    /// [`WIMBOOT_CONFIG`] if it has a readable one (as wimlib does).
    pub wimboot: bool,
}

/// Where a Windows tree keeps the configuration its WIMBoot images are
/// captured with, relative to the tree's root.
pub const WIMBOOT_CONFIG: &str = "Windows/System32/WimBootCompress.ini";

/// The exclusions a capture of `dir` applies: the given configuration, else
/// (for WIMBoot) the tree's own [`WIMBOOT_CONFIG`], else DISM's defaults.
pub fn config_matcher(dir: &Path, opts: &CaptureOptions) -> ConfigMatcher {
    if let Some(c) = &opts.config {
        return c.matcher();
    }
    if opts.wimboot {
        if let Ok(c) = CaptureConfig::read(&dir.join(WIMBOOT_CONFIG)) {
            return c.matcher();
        }
    }
    CaptureConfig::dism_default().matcher()
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            name: None,
            description: None,
            flags: None,
            unix_data: true,
            rpfix: true,
            config: None,
            bootable: false,
            wimboot: false,
        }
    }
}

/// Progress of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureProgress {
    /// Scanning: entries seen so far and the last path.
    Scanning { entries: u64, path: String },
    /// Writing file data: bytes done of the total.
    Writing { done: u64, total: u64 },
}

/// What a capture found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureReport {
    pub counts: ImageCounts,
    /// Paths excluded by the configuration.
    pub excluded: u64,
    /// Things skipped or changed, for the caller to show.
    pub warnings: Vec<String>,
}

/// A scanned tree: the image (stream hashes not yet known) and where each blob's data is.
pub struct ScannedTree {
    pub image: Image,
    /// `(node, stream index, data)` for every nonempty stream.
    pub sources: Vec<(NodeId, usize, BlobData)>,
    /// Later names of hard-linked files: `(node, first node of the inode)`.
    pub links: Vec<(NodeId, NodeId)>,
    pub report: CaptureReport,
}

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::scan_tree;

/// Scanning a tree needs the UNIX file model (owners, modes, inodes, xattrs).
#[cfg(not(unix))]
pub fn scan_tree(
    _dir: &Path,
    _opts: &CaptureOptions,
    _progress: &mut dyn FnMut(CaptureProgress),
) -> Result<ScannedTree> {
    Err(Error::Unsupported(
        crate::error::Unsupported::CaptureOnThisPlatform,
    ))
}

/// Captures `dir` as a new image of `writer`: scans it, writes its file data and its
/// metadata resource, and adds its XML element.
pub fn capture_image(
    writer: &mut WimWriter,
    dir: &Path,
    opts: &CaptureOptions,
    progress: &mut dyn FnMut(CaptureProgress),
) -> Result<CaptureReport> {
    let mut t = scan_tree(dir, opts, progress)?;
    if writer.is_solid() {
        let names: Vec<Option<&str>> = t
            .sources
            .iter()
            .map(|(id, _, data)| match data {
                BlobData::File { .. } => Some(t.image.nodes[*id].name.as_str()),
                BlobData::Bytes(_) => None,
            })
            .collect();
        let order = solid_order(&names);
        let mut slots: Vec<Option<_>> = std::mem::take(&mut t.sources)
            .into_iter()
            .map(Some)
            .collect();
        t.sources = order.into_iter().filter_map(|i| slots[i].take()).collect();
    }
    let datas: Vec<BlobData> = t.sources.iter().map(|(_, _, d)| d.clone()).collect();
    let hashes = writer.add_blobs(&datas, &mut |done, total| {
        progress(CaptureProgress::Writing { done, total })
    })?;
    for ((id, si, _), h) in t.sources.iter().zip(hashes) {
        let n = &mut t.image.nodes[*id];
        n.streams[*si].hash = h;
        if n.streams[*si].kind == StreamKind::ReparsePoint {
            if let Some(r) = &mut n.reparse {
                r.data_hash = h;
            }
        }
    }
    // Hard links: one group id per inode that has several names in the image.
    let mut group_of: HashMap<NodeId, u64> = HashMap::new();
    for &(id, first) in &t.links {
        let next = group_of.len() as u64 + 1;
        let g = *group_of.entry(first).or_insert(next);
        let streams = t.image.nodes[first].streams.clone();
        let n = &mut t.image.nodes[id];
        n.streams = streams;
        n.hard_link_group = g;
    }
    for (first, g) in group_of {
        t.image.nodes[first].hard_link_group = g;
    }
    let counts = image_counts(&t.image);
    let name = opts.name.clone().unwrap_or_else(|| {
        std::fs::canonicalize(dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "Image".into())
    });
    let mut element = new_image_element(
        &counts,
        now_filetime(),
        Some(&name),
        opts.description.as_deref(),
        opts.flags.as_deref(),
    );
    if opts.wimboot {
        set_child_text(&mut element, "WIMBOOT", "1");
    }
    writer.add_image(&t.image, element)?;
    if opts.bootable {
        let index = writer.image_count() as u32;
        writer.set_boot_index(index);
    }
    if opts.rpfix {
        writer.set_header_flag(flags::RP_FIX);
    }
    t.report.counts = counts;
    Ok(t.report)
}

/// Captures `dir` into a new WIM at `path` (replacing any file there once complete).
pub fn create_wim(
    path: &Path,
    dir: &Path,
    capture: &CaptureOptions,
    write: &WriteOptions,
    progress: &mut dyn FnMut(CaptureProgress),
) -> Result<CaptureReport> {
    let mut w = WimWriter::create(path, write)?;
    let r = capture_image(&mut w, dir, capture, progress)?;
    w.finish()?;
    Ok(r)
}

/// Captures `dir` as a new image appended in place to the WIM at `path` (file data the
/// WIM has already is not stored again). The header is rewritten last.
pub fn append_image(
    path: &Path,
    dir: &Path,
    capture: &CaptureOptions,
    write: &WriteOptions,
    progress: &mut dyn FnMut(CaptureProgress),
) -> Result<CaptureReport> {
    let r;
    {
        let file = crate::file::WimFile::open(path)?;
        let wim: Wim<'_> = file.wim()?;
        let mut w = WimWriter::in_place(path, &wim, write)?;
        r = capture_image(&mut w, dir, capture, progress)?;
        w.finish()?;
    }
    Ok(r)
}

#[cfg(test)]
mod tests;
