//! Mounting WIM images: a platform-neutral projection with FUSE and ProjFS backends.
//!
//! Not implemented yet (issue 6); the crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]

pub use wim_format as format;
