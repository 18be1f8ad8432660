//! wimkit: the Windows Imaging Format (`.wim`, `.esd`, `.swm`) in pure Rust.
//!
//! Open an image file (memory-mapped), list its images, walk a tree, read a
//! file's streams, check every blob, and extract an image to a directory:
//!
//! ```no_run
//! use std::path::Path;
//!
//! # fn main() -> Result<(), wimkit::Error> {
//! let file = wimkit::WimFile::open("install.wim")?;
//! let wim = file.wim()?;
//!
//! // The images, from the XML data.
//! for info in &wim.xml()?.images {
//!     println!("{:?}: {:?}, {:?} bytes", info.index, info.name, info.total_bytes);
//! }
//!
//! // Image 1's tree: every path, depth first.
//! let image = wim.image(1)?;
//! for (path, id) in image.walk() {
//!     let node = image.node(id);
//!     println!("{path} {}", if node.is_directory() { "<DIR>" } else { "" });
//! }
//!
//! // One file's data and its named streams, each checked against its SHA-1.
//! if let Some(id) = image.lookup("/Windows/System32/notepad.exe") {
//!     let node = image.node(id);
//!     let data = wimkit::read_stream(&wim, node.unnamed_data())?;
//!     println!("{} bytes", data.len());
//!     for stream in node.named_data() {
//!         println!("{:?}: {} bytes", stream.name, wimkit::read_stream(&wim, Some(stream))?.len());
//!     }
//! }
//!
//! // Decode and hash every blob on all cores; then extract image 1.
//! let report = wimkit::scan_health(&wim, None, &|_progress| {})?;
//! assert!(report.is_healthy());
//! let options = wimkit::ApplyOptions::default();
//! let applied = wimkit::apply_image(&wim, 1, Path::new("out"), &options, &mut |_done, _total| {})?;
//! for warning in &applied.warnings {
//!     eprintln!("{warning}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A split set opens with [`SplitSet::open`]`("install.swm", Some("install*.swm"))`
//! and gives the same [`Wim`]. The lower layers are here too: [`compress`] (the
//! XPRESS, LZX and LZMS codecs) and [`mod@format`] (the container, layer by layer).
#![forbid(unsafe_code)]

pub use wim_compress as compress;
pub use wim_format as format;

pub use wim_format::{
    apply_image, scan_health, ApplyOptions, ApplyReport, Error, Image, ImageInfo, IntegrityStatus,
    Node, NodeId, Result, ScanReport, SplitSet, Stream, StreamKind, UnixData, Wim, WimFile, WimXml,
    Xattr,
};

/// The data of a stream of a file (`None`, a file without data, reads as empty),
/// decoded and checked against its SHA-1.
pub fn read_stream(wim: &Wim<'_>, stream: Option<&Stream>) -> Result<Vec<u8>> {
    match stream {
        Some(s) => wim.blob_data(&s.hash),
        None => Ok(Vec::new()),
    }
}
