//! Images of a [`Wim`]: its XML data and the directory trees of its metadata resources.

use crate::blob_table::{Blob, BlobTable, Sha1Hash};
use crate::error::{Error, Result};
use crate::metadata::{Image, LinkReparse, Node, UnixTarget};
use crate::read::Wim;
use crate::xml::WimXml;

/// Largest metadata resource read (Windows images have metadata of some hundreds of
/// MiB at most); a larger claim is taken as hostile rather than allocated.
pub const MAX_METADATA_SIZE: u64 = 1 << 31;
/// Largest XML resource read.
pub const MAX_XML_SIZE: u64 = 1 << 28;

/// The metadata resource of image `index` (1-based) of a WIM with `count` images,
/// refused when its size is implausible.
pub fn metadata_blob(table: &BlobTable, count: u32, index: u32) -> Result<&Blob> {
    if index == 0 || index > count {
        return Err(Error::NoSuchImage { index, count });
    }
    let blob = table
        .metadata_blobs()
        .nth(index as usize - 1)
        .ok_or(Error::InvalidMetadata {
            what: "the blob table lists no metadata resource for this image",
            offset: 0,
        })?;
    if blob.size > MAX_METADATA_SIZE {
        return Err(Error::ImplausibleSize {
            what: "metadata resource size",
            size: blob.size,
        });
    }
    Ok(blob)
}

/// Parses a metadata resource and fills in every stream's size from `table`.
pub fn image_with_sizes(buf: &[u8], table: &BlobTable) -> Result<Image> {
    let mut image = Image::parse(buf)?;
    for node in &mut image.nodes {
        for s in &mut node.streams {
            s.size = if s.is_empty_hash() {
                Some(0)
            } else {
                table.get(&s.hash).map(|b| b.size)
            };
        }
    }
    Ok(image)
}

impl Wim<'_> {
    /// Number of images, as the header gives it.
    pub fn image_count(&self) -> u32 {
        self.header.image_count
    }

    /// The parsed XML data.
    pub fn xml(&self) -> Result<WimXml> {
        let size = self.header.xml.uncompressed_size;
        if size > MAX_XML_SIZE {
            return Err(Error::ImplausibleSize {
                what: "XML data size",
                size,
            });
        }
        let bytes = self.reader().read_resource(&self.header.xml)?;
        WimXml::parse(&bytes)
    }

    /// The directory tree of image `index` (1-based): its metadata resource is read, its
    /// SHA-1 checked and parsed; stream sizes are filled in from the blob table.
    pub fn image(&self, index: u32) -> Result<Image> {
        let blob = metadata_blob(&self.blob_table, self.image_count(), index)?;
        let buf = self.reader().read_blob(blob)?;
        image_with_sizes(&buf, &self.blob_table)
    }

    /// The data of the blob with SHA-1 `hash` (empty for the zero hash), checked.
    pub fn blob_data(&self, hash: &Sha1Hash) -> Result<Vec<u8>> {
        if *hash == [0; 20] {
            return Ok(Vec::new());
        }
        let blob = self.blob_table.get(hash).ok_or(Error::InvalidMetadata {
            what: "stream whose blob is not in the blob table",
            offset: 0,
        })?;
        self.reader().read_blob(blob)
    }

    /// For a symlink or junction node, its decoded reparse data and its target as a
    /// UNIX path (as wimlib would extract it, without fixups); `None` for other nodes.
    pub fn link_target(&self, node: &Node) -> Result<Option<(LinkReparse, UnixTarget)>> {
        let Some(rp) = node.reparse.filter(|_| node.is_symlink()) else {
            return Ok(None);
        };
        let data = self.blob_data(&rp.data_hash)?;
        let link = LinkReparse::parse(rp.tag, &data)?;
        let target = link.unix_target(rp.not_fixed());
        Ok(Some((link, target)))
    }
}
