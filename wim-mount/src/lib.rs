//! Mounting WIM images: a platform-neutral projection with FUSE and ProjFS backends.
//!
//! - [`source`]: [`WimSource`], an opened WIM that owns its bytes and reads any byte
//!   range of a blob through the shared [`ChunkCache`] ([`cache`]).
//! - [`projection`]: [`Projection`], one image as a read-only tree of inodes.
//! - [`overlay`]: [`Overlay`], a copy-on-write layer over a projection, its data in a
//!   scratch directory, and [`Overlay::changes`], the final tree ([`ImageEdit`]).
//! - [`vfs`]: the [`Vfs`] trait both implement, which the backends serve.
//! - `fuse` (Linux): [`mount`] and [`serve`] with `fuser` (no libfuse).
//! - [`commit`]: writing a mount's changes into its WIM, in place.
//! - [`registry`]: the persistent list of mounts (for `dism`'s mount commands).
//! - `server` (Linux): the control socket of a mount server and mount helpers.
//! - `projfs` (Windows): a ProjFS provider skeleton (`projfs::start`).
//!
//! `examples/wimmount.rs` mounts an image from the command line (read-write with a
//! scratch directory).
#![deny(unsafe_code)]

pub use wim_format as format;

pub mod cache;
pub mod commit;
pub mod error;
pub mod overlay;
pub mod projection;
pub mod registry;
pub mod source;
pub mod types;
pub mod vfs;

#[cfg(target_os = "linux")]
pub mod fuse;
#[cfg(target_os = "linux")]
pub mod server;

#[cfg(windows)]
#[allow(unsafe_code)]
pub mod projfs;

pub use cache::{CacheStats, ChunkCache, DEFAULT_CACHE_BYTES};
pub use error::{FsError, FsResult};
pub use overlay::{Content, EditEntry, ImageEdit, Overlay};
pub use projection::{Projection, ProjectionOptions};
pub use source::WimSource;
pub use types::{Attr, DirEntry, FileTimes, Ino, Kind, SetAttr, ROOT_INO};
pub use vfs::Vfs;

#[cfg(target_os = "linux")]
pub use fuse::{mount, serve, MountHandle, MountOptions};
