//! Writing WIM files.
pub mod metadata;
pub mod resource;
pub mod writer;
pub mod xml;

pub use writer::{BlobData, WimWriter, WriteOptions};
pub mod ops;

pub use ops::{delete_image, export_images, optimize, part_path, split, ExportOptions};
