//! The WIM container: header, blob table, resources, XML and metadata.
//!
//! Not implemented yet (issue 3); the crate exists so the workspace has its final shape.
#![forbid(unsafe_code)]

pub use wim_compress as compress;
