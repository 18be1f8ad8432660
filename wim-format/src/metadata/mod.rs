//! Metadata resources: an image's security data and directory tree.
//!
//! - [`security`]: the table of security descriptors at the start.
//! - [`dentry`]: one on-disk directory entry and its extra stream entries.
//! - [`tags`]: tagged items after a dentry's names (object id, xattrs, UNIX data).
//! - [`reparse`]: symlink and junction reparse data.
//! - [`image`]: the tree in memory ([`Image`]).

pub mod dentry;
pub mod image;
pub mod reparse;
pub mod security;
pub mod tags;

pub use image::{Image, Node, NodeId, Reparse, Stream, StreamKind, Times, MAX_DEPTH};
pub use reparse::{LinkReparse, UnixTarget};
pub use security::SecurityData;
pub use tags::{TaggedItem, UnixData, Xattr};

#[cfg(test)]
mod tests;
