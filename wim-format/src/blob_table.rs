//! The blob table: one 50-byte entry per blob (or, in solid runs, per solid resource).

use std::collections::HashMap;

use crate::bytes::{u16_at, u32_at};
use crate::error::{Error, Result};
use crate::header::Header;
use crate::resource::{ResourceFlags, ResourceHeader, RESOURCE_HEADER_SIZE};
use crate::solid::{SolidResource, SOLID_RESOURCE_MAGIC};

/// Size of one blob-table entry on disk.
pub const BLOB_ENTRY_SIZE: usize = 50;

/// A SHA-1 message digest.
pub type Sha1Hash = [u8; 20];

/// One entry of the blob table, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobEntry {
    pub resource: ResourceHeader,
    /// 1-based part of a split set that holds the blob.
    pub part_number: u16,
    pub ref_count: u32,
    /// SHA-1 of the blob's uncompressed data; zero for a solid resource entry.
    pub hash: Sha1Hash,
}

impl BlobEntry {
    /// Parses `data`, exactly 50 bytes long or longer (the rest is ignored).
    pub fn parse(data: &[u8]) -> Result<Self> {
        crate::bytes::need(data, BLOB_ENTRY_SIZE, "blob table entry")?;
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&data[30..50]);
        Ok(Self {
            resource: ResourceHeader::parse(data)?,
            part_number: u16_at(data, RESOURCE_HEADER_SIZE),
            ref_count: u32_at(data, RESOURCE_HEADER_SIZE + 2),
            hash,
        })
    }

    pub fn to_bytes(&self) -> [u8; BLOB_ENTRY_SIZE] {
        let mut d = [0u8; BLOB_ENTRY_SIZE];
        d[..24].copy_from_slice(&self.resource.to_bytes());
        d[24..26].copy_from_slice(&self.part_number.to_le_bytes());
        d[26..30].copy_from_slice(&self.ref_count.to_le_bytes());
        d[30..50].copy_from_slice(&self.hash);
        d
    }

    /// Whether this entry, in a solid run, describes a solid resource.
    pub fn is_solid_resource(&self) -> bool {
        self.resource.is_solid() && self.resource.uncompressed_size == SOLID_RESOURCE_MAGIC
    }
}

/// Parses the uncompressed bytes of a blob table into its entries.
pub fn parse_entries(data: &[u8]) -> Result<Vec<BlobEntry>> {
    if data.len() % BLOB_ENTRY_SIZE != 0 {
        return Err(Error::ImplausibleSize {
            what: "blob table size (not a multiple of 50)",
            size: data.len() as u64,
        });
    }
    data.chunks_exact(BLOB_ENTRY_SIZE)
        .map(BlobEntry::parse)
        .collect()
}

/// Where a blob's data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobLocation {
    /// The blob is a resource of its own (compressed or not).
    Resource(ResourceHeader),
    /// The blob is `size` bytes at `offset` in the uncompressed data of solid
    /// resource number `resource` of [`BlobTable::solid_resources`].
    Solid { resource: usize, offset: u64 },
}

/// A blob the table describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    pub hash: Sha1Hash,
    /// Uncompressed size.
    pub size: u64,
    pub ref_count: u32,
    pub part_number: u16,
    /// A metadata resource (an image's directory tree and security data).
    pub is_metadata: bool,
    pub location: BlobLocation,
}

/// Entries the table held but that describe no readable blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkippedEntries {
    /// A second entry for a hash already seen (non-metadata).
    pub duplicates: usize,
    /// An entry whose hash is all zeroes.
    pub zero_hash: usize,
    /// An entry of size zero.
    pub empty: usize,
    /// A metadata entry with reference count zero (old WAIK WIMs have these).
    pub unreferenced_metadata: usize,
    /// An entry of another part of a split set.
    pub other_part: usize,
}

/// The blob table, interpreted: blobs (metadata ones in image order first among their
/// kind), solid resources, and a lookup by hash.
#[derive(Debug, Clone, Default)]
pub struct BlobTable {
    /// Every blob, in table order (including metadata resources).
    pub blobs: Vec<Blob>,
    /// The solid resources of every solid run, in table order.
    pub solid_resources: Vec<SolidResource>,
    /// Indexes into `blobs` of the metadata resources, in image order.
    pub metadata: Vec<usize>,
    pub skipped: SkippedEntries,
    by_hash: HashMap<Sha1Hash, usize>,
}

impl BlobTable {
    /// Interprets the entries of the blob table of the WIM `file` whose header is
    /// `header`. Reads the 16-byte header of every solid resource; checks every plain
    /// resource lies within the file and every solid blob within its run's resources.
    pub fn from_entries(entries: &[BlobEntry], header: &Header, file: &[u8]) -> Result<Self> {
        let mut t = Self::default();
        let solid_allowed = header.allows_solid();
        let is_solid = |e: &BlobEntry| solid_allowed && e.resource.is_solid();
        let mut i = 0;
        while i < entries.len() {
            if is_solid(&entries[i]) {
                // A run of SOLID entries: first its resources, then its blobs.
                let run_end = entries[i..]
                    .iter()
                    .position(|e| !is_solid(e))
                    .map_or(entries.len(), |p| i + p);
                let run = &entries[i..run_end];
                let first = t.solid_resources.len();
                for e in run.iter().filter(|e| e.is_solid_resource()) {
                    t.solid_resources
                        .push(SolidResource::read(file, &e.resource)?);
                }
                let resources = first..t.solid_resources.len();
                for e in run.iter().filter(|e| !e.is_solid_resource()) {
                    // In a solid run, a blob's size is in the stored-size field and its
                    // offset is into the concatenation of the run's resources.
                    let size = e.resource.stored_size;
                    let mut offset = e.resource.offset;
                    let mut place = None;
                    for r in resources.clone() {
                        let rsize = t.solid_resources[r].header.uncompressed_size;
                        if offset < rsize {
                            if size <= rsize - offset {
                                place = Some((r, offset));
                            }
                            break;
                        }
                        offset -= rsize;
                    }
                    let Some((resource, offset)) = place else {
                        if e.hash == [0; 20] {
                            t.skipped.zero_hash += 1;
                            continue;
                        }
                        if size == 0 {
                            t.skipped.empty += 1;
                            continue;
                        }
                        return Err(Error::SolidBlobOutOfRange {
                            offset: e.resource.offset,
                            size,
                        });
                    };
                    t.add(
                        e,
                        size,
                        BlobLocation::Solid { resource, offset },
                        header,
                        file,
                    )?;
                }
                i = run_end;
                continue;
            }
            let e = &entries[i];
            i += 1;
            let mut res = e.resource;
            if !solid_allowed {
                res.flags = res.flags.without(ResourceFlags::SOLID);
            }
            t.add(
                e,
                res.uncompressed_size,
                BlobLocation::Resource(res),
                header,
                file,
            )?;
        }
        Ok(t)
    }

    fn add(
        &mut self,
        e: &BlobEntry,
        size: u64,
        location: BlobLocation,
        header: &Header,
        file: &[u8],
    ) -> Result<()> {
        if e.hash == [0; 20] {
            self.skipped.zero_hash += 1;
            return Ok(());
        }
        if size == 0 {
            self.skipped.empty += 1;
            return Ok(());
        }
        if e.part_number != header.part_number {
            self.skipped.other_part += 1;
            return Ok(());
        }
        let is_metadata = e.resource.is_metadata();
        if is_metadata && matches!(location, BlobLocation::Solid { .. }) {
            return Err(Error::SolidMetadata);
        }
        if is_metadata && e.ref_count == 0 {
            self.skipped.unreferenced_metadata += 1;
            return Ok(());
        }
        if !is_metadata && self.by_hash.contains_key(&e.hash) {
            self.skipped.duplicates += 1;
            return Ok(());
        }
        if let BlobLocation::Resource(res) = &location {
            res.stored_bytes(file, "blob resource")?;
        }
        let blob = Blob {
            hash: e.hash,
            size,
            ref_count: e.ref_count,
            part_number: e.part_number,
            is_metadata,
            location,
        };
        let index = self.blobs.len();
        self.blobs.push(blob);
        if is_metadata {
            self.metadata.push(index);
        } else {
            self.by_hash.insert(e.hash, index);
        }
        Ok(())
    }

    /// Adds the blobs and solid resources of `other` (the table of another part of a
    /// split set): its solid resource numbers are renumbered, its metadata resources
    /// follow this table's, and a blob whose hash this table already has is counted as
    /// a duplicate.
    pub fn merge(&mut self, other: BlobTable) {
        let base = self.solid_resources.len();
        self.solid_resources.extend(other.solid_resources);
        let s = &mut self.skipped;
        let o = other.skipped;
        s.duplicates += o.duplicates;
        s.zero_hash += o.zero_hash;
        s.empty += o.empty;
        s.unreferenced_metadata += o.unreferenced_metadata;
        for mut blob in other.blobs {
            if let BlobLocation::Solid { resource, .. } = &mut blob.location {
                *resource += base;
            }
            if !blob.is_metadata && self.by_hash.contains_key(&blob.hash) {
                self.skipped.duplicates += 1;
                continue;
            }
            let index = self.blobs.len();
            if blob.is_metadata {
                self.metadata.push(index);
            } else {
                self.by_hash.insert(blob.hash, index);
            }
            self.blobs.push(blob);
        }
    }

    /// The index in [`BlobTable::blobs`] of the (non-metadata) blob with this SHA-1.
    pub fn index_of(&self, hash: &Sha1Hash) -> Option<usize> {
        self.by_hash.get(hash).copied()
    }

    /// The (non-metadata) blob with this SHA-1.
    pub fn get(&self, hash: &Sha1Hash) -> Option<&Blob> {
        self.by_hash.get(hash).map(|&i| &self.blobs[i])
    }

    /// The metadata resources, in image order.
    pub fn metadata_blobs(&self) -> impl Iterator<Item = &Blob> + '_ {
        self.metadata.iter().map(|&i| &self.blobs[i])
    }

    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Compression;

    #[test]
    fn entry_round_trip() {
        let e = BlobEntry {
            resource: ResourceHeader {
                stored_size: 5,
                flags: ResourceFlags::METADATA,
                offset: 9,
                uncompressed_size: 5,
            },
            part_number: 1,
            ref_count: 3,
            hash: [0x42; 20],
        };
        let b = e.to_bytes();
        assert_eq!(BlobEntry::parse(&b).unwrap(), e);
        assert_eq!(parse_entries(&[b, b].concat()).unwrap().len(), 2);
        assert!(parse_entries(&b[..49]).is_err());
    }

    fn solid_header_bytes(usize_: u64) -> Vec<u8> {
        let mut f = usize_.to_le_bytes().to_vec();
        f.extend_from_slice(&65536u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(usize_ as u32).to_le_bytes());
        f.resize(f.len() + usize_ as usize, 0);
        f
    }

    #[test]
    fn solid_runs() {
        let header = Header::new(Compression::Lzms, 1 << 17, [0; 16]);
        // Two solid resources of 1000 and 500 bytes at offsets 0 and 1020.
        let mut file = solid_header_bytes(1000);
        let second = file.len() as u64;
        file.extend(solid_header_bytes(500));
        let res = |offset: u64, stored: u64| BlobEntry {
            resource: ResourceHeader {
                stored_size: stored,
                flags: ResourceFlags::SOLID,
                offset,
                uncompressed_size: SOLID_RESOURCE_MAGIC,
            },
            part_number: 1,
            ref_count: 1,
            hash: [0; 20],
        };
        let blob = |offset: u64, size: u64, h: u8| BlobEntry {
            resource: ResourceHeader {
                stored_size: size,
                flags: ResourceFlags::SOLID,
                offset,
                uncompressed_size: size,
            },
            part_number: 1,
            ref_count: 1,
            hash: [h; 20],
        };
        let entries = [
            res(0, second),
            res(second, file.len() as u64 - second),
            blob(0, 1000, 1),
            blob(1000, 400, 2),
            blob(1400, 100, 3),
        ];
        let t = BlobTable::from_entries(&entries, &header, &file).unwrap();
        assert_eq!(t.solid_resources.len(), 2);
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.get(&[2; 20]).unwrap().location,
            BlobLocation::Solid {
                resource: 1,
                offset: 0
            }
        );
        assert_eq!(
            t.get(&[3; 20]).unwrap().location,
            BlobLocation::Solid {
                resource: 1,
                offset: 400
            }
        );
        // A blob straddling two resources, or beyond all of them.
        for bad in [blob(900, 200, 4), blob(1450, 51, 4), blob(u64::MAX, 2, 4)] {
            let entries = [res(0, second), res(second, file.len() as u64 - second), bad];
            assert!(matches!(
                BlobTable::from_entries(&entries, &header, &file),
                Err(Error::SolidBlobOutOfRange { .. })
            ));
        }
        // Solid resource entry out of the file.
        let entries = [res(0, 1 << 40), blob(0, 10, 5)];
        assert!(matches!(
            BlobTable::from_entries(&entries, &header, &file),
            Err(Error::OutOfFile { .. })
        ));
    }
}
