//! Solid resources: several blobs compressed together, with their own 16-byte header
//! giving the uncompressed size, chunk size and compression format.

use crate::bytes::{need, u32_at, u64_at};
use crate::chunks::ChunkTable;
use crate::error::{Error, Result};
use crate::header::Compression;
use crate::resource::ResourceHeader;

/// The value of the uncompressed-size field that marks a blob-table entry as a solid
/// resource rather than a blob.
pub const SOLID_RESOURCE_MAGIC: u64 = 0x1_0000_0000;
/// Size of the header at the start of a solid resource.
pub const SOLID_HEADER_SIZE: usize = 16;

/// The header at the start of a solid resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolidHeader {
    pub uncompressed_size: u64,
    pub chunk_size: u32,
    pub compression: Compression,
}

impl SolidHeader {
    /// Parses and validates the first 16 bytes of `data`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        need(data, SOLID_HEADER_SIZE, "solid resource header")?;
        let uncompressed_size = u64_at(data, 0);
        let chunk_size = u32_at(data, 8);
        let compression = Compression::from_solid_format(u32_at(data, 12))?;
        compression.check_chunk_size(u64::from(chunk_size))?;
        Ok(Self {
            uncompressed_size,
            chunk_size,
            compression,
        })
    }

    pub fn to_bytes(&self) -> [u8; SOLID_HEADER_SIZE] {
        let mut d = [0u8; SOLID_HEADER_SIZE];
        d[..8].copy_from_slice(&self.uncompressed_size.to_le_bytes());
        d[8..12].copy_from_slice(&self.chunk_size.to_le_bytes());
        d[12..16].copy_from_slice(&self.compression.solid_format().to_le_bytes());
        d
    }
}

/// A solid resource: where it is stored and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolidResource {
    /// The blob-table entry that describes it (its `uncompressed_size` is
    /// [`SOLID_RESOURCE_MAGIC`]; the real one is in `header`).
    pub resource: ResourceHeader,
    pub header: SolidHeader,
}

impl SolidResource {
    /// Reads the header of the solid resource `resource` locates, and checks that the
    /// uncompressed size it declares could fit in the stored size.
    pub fn read(file: &[u8], resource: &ResourceHeader) -> Result<Self> {
        let stored = resource.stored_bytes(file, "solid resource")?;
        let header = SolidHeader::parse(stored)?;
        // A chunk costs at least a 4-byte size and one stored byte.
        let n = crate::chunks::chunk_count(header.uncompressed_size, header.chunk_size);
        let room = (stored.len() - SOLID_HEADER_SIZE) as u64 / 5;
        if n > room {
            return Err(Error::ImplausibleSize {
                what: "uncompressed size of solid resource",
                size: header.uncompressed_size,
            });
        }
        Ok(Self {
            resource: *resource,
            header,
        })
    }

    /// The resource's chunk table (allocates one `u64` per chunk).
    pub fn chunk_table(&self, file: &[u8]) -> Result<ChunkTable> {
        let stored = self.resource.stored_bytes(file, "solid resource")?;
        ChunkTable::for_solid(
            stored,
            self.resource.offset,
            self.header.compression,
            self.header.chunk_size,
            self.header.uncompressed_size,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::ResourceFlags;

    fn solid_file(
        usize_: u64,
        chunk: u32,
        format: u32,
        sizes: &[u32],
        data: usize,
    ) -> (Vec<u8>, ResourceHeader) {
        let mut f = vec![0u8; 8];
        f.extend_from_slice(&usize_.to_le_bytes());
        f.extend_from_slice(&chunk.to_le_bytes());
        f.extend_from_slice(&format.to_le_bytes());
        for s in sizes {
            f.extend_from_slice(&s.to_le_bytes());
        }
        f.resize(f.len() + data, 0x55);
        let r = ResourceHeader {
            stored_size: f.len() as u64 - 8,
            flags: ResourceFlags::SOLID,
            offset: 8,
            uncompressed_size: SOLID_RESOURCE_MAGIC,
        };
        (f, r)
    }

    #[test]
    fn parses_and_builds_table() {
        let (f, r) = solid_file(100_000, 65536, 0, &[65536, 100_000 - 65536], 100_000);
        let s = SolidResource::read(&f, &r).unwrap();
        assert_eq!(s.header.compression, Compression::None);
        let t = s.chunk_table(&f).unwrap();
        assert_eq!(t.num_chunks(), 2);
        assert_eq!(
            t.chunk_location(1),
            Some((8 + 16 + 8 + 65536, 100_000 - 65536))
        );
        assert_eq!(SolidHeader::parse(&s.header.to_bytes()).unwrap(), s.header);
    }

    #[test]
    fn hostile_headers() {
        // Huge uncompressed size.
        let (f, r) = solid_file(u64::MAX, 1 << 15, 3, &[10], 10);
        assert!(matches!(
            SolidResource::read(&f, &r),
            Err(Error::ImplausibleSize { .. })
        ));
        let (f, r) = solid_file(1 << 40, 1 << 26, 3, &[10], 10);
        assert!(matches!(
            SolidResource::read(&f, &r),
            Err(Error::ImplausibleSize { .. })
        ));
        // Unknown format, bad chunk sizes.
        let (f, r) = solid_file(10, 1 << 15, 9, &[10], 10);
        assert_eq!(
            SolidResource::read(&f, &r),
            Err(Error::UnknownSolidCompression(9))
        );
        let (f, r) = solid_file(10, 1 << 17, 1, &[10], 10);
        assert!(matches!(
            SolidResource::read(&f, &r),
            Err(Error::BadChunkSize { .. })
        ));
        let (f, r) = solid_file(10, 0, 3, &[10], 10);
        assert!(matches!(
            SolidResource::read(&f, &r),
            Err(Error::BadChunkSize { .. })
        ));
        // Chunk sizes that run past the resource.
        let (f, r) = solid_file(70_000, 1 << 15, 3, &[30_000, 30_000, 4000], 1000);
        let s = SolidResource::read(&f, &r).unwrap();
        assert!(matches!(s.chunk_table(&f), Err(Error::BadChunk { .. })));
        // A zero-sized chunk.
        let (f, r) = solid_file(70_000, 1 << 15, 3, &[0, 30_000, 4000], 40_000);
        let s = SolidResource::read(&f, &r).unwrap();
        assert!(matches!(
            s.chunk_table(&f),
            Err(Error::ChunkTableNotIncreasing { .. })
        ));
        // Truncated header, resource out of the file.
        let (f, mut r) = solid_file(10, 1 << 15, 3, &[], 0);
        r.stored_size = 10;
        assert!(matches!(
            SolidResource::read(&f, &r),
            Err(Error::Truncated { .. })
        ));
        r.stored_size = 1000;
        assert!(matches!(
            SolidResource::read(&f, &r),
            Err(Error::OutOfFile { .. })
        ));
    }
}
