//! Chunk tables of compressed resources, and a reusable chunk decoder.
//!
//! A compressed resource is a sequence of chunks that decompress independently to
//! `chunk_size` bytes each (the last one to what remains). [`ChunkTable`] records where
//! each chunk is stored, whether the resource is an ordinary compressed one (table of
//! chunk offsets) or a solid one (table of chunk sizes); [`ChunkDecoder`] turns a chunk
//! back into its bytes.

use wim_compress::{Codec, Decompressor};

use crate::bytes::{range, to_usize, u32_at, u64_at};
use crate::error::{Error, Result};
use crate::header::Compression;
use crate::resource::ResourceHeader;

/// Where the chunks of one compressed resource are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkTable {
    /// Format of the chunks that are not stored raw.
    pub compression: Compression,
    /// Uncompressed size of every chunk but the last.
    pub chunk_size: u32,
    /// Uncompressed size of the whole resource.
    pub uncompressed_size: u64,
    /// File offset of the first chunk (just after the table).
    pub data_start: u64,
    /// `bounds[i]` is where chunk `i` starts, relative to `data_start`; the last
    /// element is where the last chunk ends. Strictly increasing.
    bounds: Vec<u64>,
    /// Bytes stored before each chunk and not counted in `bounds`: 0, or 4 in a pipable
    /// WIM, where every chunk is preceded by its stored size.
    chunk_gap: u64,
}

/// Number of chunks of `chunk_size` bytes that `uncompressed_size` bytes make.
pub fn chunk_count(uncompressed_size: u64, chunk_size: u32) -> u64 {
    if chunk_size == 0 {
        return 0;
    }
    uncompressed_size.div_ceil(u64::from(chunk_size))
}

/// Width of the entries of an ordinary (non-solid) chunk table.
pub fn chunk_entry_size(uncompressed_size: u64) -> u64 {
    if uncompressed_size <= u64::from(u32::MAX) {
        4
    } else {
        8
    }
}

impl ChunkTable {
    /// The chunk table of an ordinary compressed resource of a WIM whose header names
    /// `compression` and `chunk_size`: `n - 1` offsets of chunks `1..n`, relative to the
    /// end of the table, then the chunks.
    pub fn for_resource(
        file: &[u8],
        res: &ResourceHeader,
        compression: Compression,
        chunk_size: u32,
    ) -> Result<Self> {
        compression.check_chunk_size(u64::from(chunk_size))?;
        let stored = res.stored_bytes(file, "compressed resource")?;
        let stored_size = stored.len() as u64;
        let n = chunk_count(res.uncompressed_size, chunk_size);
        let entry = chunk_entry_size(res.uncompressed_size);
        let implausible = Error::ImplausibleSize {
            what: "uncompressed size of resource",
            size: res.uncompressed_size,
        };
        // Each chunk needs a table entry (but the first) and at least one stored byte.
        let table_size = n
            .saturating_sub(1)
            .checked_mul(entry)
            .ok_or(implausible.clone())?;
        if table_size
            .checked_add(n)
            .is_none_or(|need| need > stored_size)
        {
            return Err(implausible);
        }
        let table = &stored[..table_size as usize];
        let data_size = stored_size - table_size;
        let mut bounds = Vec::with_capacity(to_usize(n + 1)?);
        if n > 0 {
            bounds.push(0);
            for i in 0..(n - 1) as usize {
                bounds.push(if entry == 4 {
                    u64::from(u32_at(table, i * 4))
                } else {
                    u64_at(table, i * 8)
                });
            }
        }
        bounds.push(data_size);
        let t = Self {
            compression,
            chunk_size,
            uncompressed_size: res.uncompressed_size,
            data_start: res.offset + table_size,
            bounds,
            chunk_gap: 0,
        };
        t.validate()?;
        Ok(t)
    }

    /// The chunk table of a compressed resource of a pipable WIM: every chunk is
    /// preceded by its stored size as a 32-bit integer, and the table of the offsets of
    /// chunks `1..n` (relative to the first chunk, not counting those size prefixes) is
    /// at the end of the resource. The size prefixes are checked against the table.
    pub fn for_pipable_resource(
        file: &[u8],
        res: &ResourceHeader,
        compression: Compression,
        chunk_size: u32,
    ) -> Result<Self> {
        compression.check_chunk_size(u64::from(chunk_size))?;
        let stored = res.stored_bytes(file, "compressed resource")?;
        let stored_size = stored.len() as u64;
        let n = chunk_count(res.uncompressed_size, chunk_size);
        let entry = chunk_entry_size(res.uncompressed_size);
        let implausible = Error::ImplausibleSize {
            what: "uncompressed size of pipable resource",
            size: res.uncompressed_size,
        };
        // Each chunk needs a table entry (but the first), a 4-byte size prefix and at
        // least one stored byte.
        let table_size = n
            .saturating_sub(1)
            .checked_mul(entry)
            .ok_or(implausible.clone())?;
        let overhead = n.checked_mul(5).ok_or(implausible.clone())?;
        if table_size
            .checked_add(overhead)
            .is_none_or(|need| need > stored_size)
        {
            return Err(implausible);
        }
        let table = &stored[(stored_size - table_size) as usize..];
        let data_size = stored_size - table_size - 4 * n;
        let mut bounds = Vec::with_capacity(to_usize(n + 1)?);
        if n > 0 {
            bounds.push(0);
            for i in 0..(n - 1) as usize {
                bounds.push(if entry == 4 {
                    u64::from(u32_at(table, i * 4))
                } else {
                    u64_at(table, i * 8)
                });
            }
        }
        bounds.push(data_size);
        let t = Self {
            compression,
            chunk_size,
            uncompressed_size: res.uncompressed_size,
            data_start: res.offset,
            bounds,
            chunk_gap: 4,
        };
        t.validate()?;
        // Every size prefix must agree with the table.
        for i in 0..n {
            let (start, end) = (t.bounds[i as usize], t.bounds[i as usize + 1]);
            let at = start + 4 * i; // relative to the resource; fits: <= stored_size
            let prefix = u64::from(u32_at(stored, at as usize));
            if prefix != end - start {
                return Err(Error::BadChunk {
                    chunk: i,
                    stored_size: prefix,
                    uncompressed_size: t.chunk_len(i),
                });
            }
        }
        Ok(t)
    }

    /// The chunk table of a solid resource whose 16-byte header has been parsed: `n`
    /// 32-bit stored sizes after that header, then the chunks. `stored` is the whole
    /// resource as stored, starting at file offset `offset`.
    pub(crate) fn for_solid(
        stored: &[u8],
        offset: u64,
        compression: Compression,
        chunk_size: u32,
        uncompressed_size: u64,
    ) -> Result<Self> {
        const HDR: u64 = crate::solid::SOLID_HEADER_SIZE as u64;
        let stored_size = stored.len() as u64;
        let n = chunk_count(uncompressed_size, chunk_size);
        let implausible = Error::ImplausibleSize {
            what: "uncompressed size of solid resource",
            size: uncompressed_size,
        };
        // Each chunk needs a 4-byte entry and at least one stored byte.
        let need = n
            .checked_mul(5)
            .and_then(|x| x.checked_add(HDR))
            .ok_or(implausible.clone())?;
        if need > stored_size {
            return Err(implausible);
        }
        let table = &stored[HDR as usize..(HDR + 4 * n) as usize];
        let mut bounds = Vec::with_capacity(to_usize(n + 1)?);
        let mut at = 0u64;
        bounds.push(0);
        for i in 0..n as usize {
            at = at
                .checked_add(u64::from(u32_at(table, i * 4)))
                .ok_or(implausible.clone())?;
            bounds.push(at);
        }
        if at > stored_size - HDR - 4 * n {
            return Err(Error::BadChunk {
                chunk: n.saturating_sub(1),
                stored_size: at,
                uncompressed_size,
            });
        }
        let t = Self {
            compression,
            chunk_size,
            uncompressed_size,
            data_start: offset + HDR + 4 * n,
            bounds,
            chunk_gap: 0,
        };
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<()> {
        for i in 0..self.num_chunks() {
            let (start, end) = (self.bounds[i as usize], self.bounds[i as usize + 1]);
            if end <= start {
                return Err(Error::ChunkTableNotIncreasing {
                    chunk: i + u64::from(end < start),
                });
            }
            let usz = self.chunk_len(i);
            if end - start > usz {
                return Err(Error::BadChunk {
                    chunk: i,
                    stored_size: end - start,
                    uncompressed_size: usz,
                });
            }
            if self.compression == Compression::None && end - start != usz {
                return Err(Error::BadChunk {
                    chunk: i,
                    stored_size: end - start,
                    uncompressed_size: usz,
                });
            }
        }
        Ok(())
    }

    pub fn num_chunks(&self) -> u64 {
        self.bounds.len() as u64 - 1
    }

    /// Uncompressed size of chunk `i` (zero past the last chunk).
    pub fn chunk_len(&self, i: u64) -> u64 {
        let start = i.saturating_mul(u64::from(self.chunk_size));
        self.uncompressed_size
            .saturating_sub(start)
            .min(u64::from(self.chunk_size))
    }

    /// File offset and stored size of chunk `i`.
    pub fn chunk_location(&self, i: u64) -> Option<(u64, u64)> {
        let i = usize::try_from(i).ok()?;
        let (start, end) = (*self.bounds.get(i)?, *self.bounds.get(i + 1)?);
        let gaps = self.chunk_gap * (i as u64 + 1);
        Some((self.data_start + start + gaps, end - start))
    }

    /// Whether chunk `i` is stored without compression.
    pub fn is_raw(&self, i: u64) -> bool {
        self.chunk_location(i)
            .is_some_and(|(_, s)| s == self.chunk_len(i))
    }
}

/// Decodes chunks, keeping its decompressor and output buffer between calls.
#[derive(Default)]
pub struct ChunkDecoder {
    decompressor: Option<(Codec, u32, Decompressor)>,
    buf: Vec<u8>,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The uncompressed bytes of chunk `index` of `table`: borrowed from `file` when the
    /// chunk is stored raw, else decompressed into the decoder's buffer.
    pub fn decode<'a>(
        &'a mut self,
        file: &'a [u8],
        table: &ChunkTable,
        index: u64,
    ) -> Result<&'a [u8]> {
        let (offset, stored_size) = table.chunk_location(index).ok_or(Error::BadChunk {
            chunk: index,
            stored_size: 0,
            uncompressed_size: 0,
        })?;
        let len = table.chunk_len(index);
        let src = range(file, offset, stored_size, "chunk")?;
        if stored_size == len {
            return Ok(src);
        }
        let Some(codec) = table.compression.codec() else {
            return Err(Error::BadChunk {
                chunk: index,
                stored_size,
                uncompressed_size: len,
            });
        };
        // Split borrows: the decompressor and the buffer are separate fields.
        let len = len as usize; // at most chunk_size, a u32
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let dec = Self::slot_decompressor(&mut self.decompressor, codec, table, index)?;
        let out = &mut self.buf[..len];
        dec.decompress(src, out)
            .map_err(|source| Error::Decompression {
                chunk: index,
                source,
            })?;
        Ok(out)
    }

    fn slot_decompressor<'s>(
        slot: &'s mut Option<(Codec, u32, Decompressor)>,
        codec: Codec,
        table: &ChunkTable,
        index: u64,
    ) -> Result<&'s mut Decompressor> {
        let reusable = matches!(slot, Some((c, s, _)) if *c == codec && *s == table.chunk_size);
        if !reusable {
            let d = Decompressor::new(codec, table.chunk_size as usize).map_err(|source| {
                Error::Decompression {
                    chunk: index,
                    source,
                }
            })?;
            *slot = Some((codec, table.chunk_size, d));
        }
        match slot {
            Some((_, _, d)) => Ok(d),
            None => unreachable!("the decompressor was just created"),
        }
    }

    fn decompressor_for(&mut self, table: &ChunkTable, index: u64) -> Result<&mut Decompressor> {
        let Some(codec) = table.compression.codec() else {
            return Err(Error::BadChunk {
                chunk: index,
                stored_size: 0,
                uncompressed_size: table.chunk_len(index),
            });
        };
        Self::slot_decompressor(&mut self.decompressor, codec, table, index)
    }

    /// Decodes chunk `index` of `table` into `out`, which must be exactly
    /// [`ChunkTable::chunk_len`] bytes long.
    pub fn decode_into(
        &mut self,
        file: &[u8],
        table: &ChunkTable,
        index: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let (offset, stored_size) = table.chunk_location(index).ok_or(Error::BadChunk {
            chunk: index,
            stored_size: 0,
            uncompressed_size: 0,
        })?;
        let len = table.chunk_len(index);
        if out.len() as u64 != len {
            return Err(Error::BadChunk {
                chunk: index,
                stored_size,
                uncompressed_size: len,
            });
        }
        let src = range(file, offset, stored_size, "chunk")?;
        if stored_size == len {
            out.copy_from_slice(src);
            return Ok(());
        }
        let dec = self.decompressor_for(table, index)?;
        dec.decompress(src, out)
            .map_err(|source| Error::Decompression {
                chunk: index,
                source,
            })
    }

    /// The bytes the last [`ChunkDecoder::decode`] that decompressed wrote (and more).
    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::ResourceFlags;

    fn res(stored: u64, usize_: u64) -> ResourceHeader {
        ResourceHeader {
            stored_size: stored,
            flags: ResourceFlags::COMPRESSED,
            offset: 0,
            uncompressed_size: usize_,
        }
    }

    fn file_with_table(offsets: &[u32], data_len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
        f.resize(f.len() + data_len, 0xAB);
        f
    }

    #[test]
    fn ordinary_table() {
        // Three chunks of 4096: two raw, the last compressed to 100 bytes.
        let f = file_with_table(&[4096, 8192], 8192 + 100);
        let t = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, 3 * 4096),
            Compression::Xpress,
            4096,
        )
        .unwrap();
        assert_eq!(t.num_chunks(), 3);
        assert_eq!(t.chunk_location(0), Some((8, 4096)));
        assert_eq!(t.chunk_location(2), Some((8 + 8192, 100)));
        assert!(t.is_raw(0) && t.is_raw(1) && !t.is_raw(2));
        let mut d = ChunkDecoder::new();
        assert_eq!(d.decode(&f, &t, 0).unwrap().len(), 4096);
    }

    #[test]
    fn hostile_tables() {
        // Decreasing offsets.
        let f = file_with_table(&[3000, 2000], 5000);
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, 3 * 4096),
            Compression::Xpress,
            4096,
        );
        assert!(
            matches!(e, Err(Error::ChunkTableNotIncreasing { chunk: 2 })),
            "{e:?}"
        );
        // Equal offsets (an empty chunk).
        let f = file_with_table(&[3000, 3000], 5000);
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, 3 * 4096),
            Compression::Xpress,
            4096,
        );
        assert!(
            matches!(e, Err(Error::ChunkTableNotIncreasing { chunk: 1 })),
            "{e:?}"
        );
        // An offset beyond the resource.
        let f = file_with_table(&[3000, 900_000], 5000);
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, 3 * 4096),
            Compression::Xpress,
            4096,
        );
        assert!(e.is_err(), "{e:?}");
        // A chunk stored larger than it decompresses.
        let f = file_with_table(&[4097, 5000], 5000);
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, 3 * 4096),
            Compression::Xpress,
            4096,
        );
        assert!(matches!(e, Err(Error::BadChunk { chunk: 0, .. })), "{e:?}");
        // Absurd uncompressed size: the table cannot fit.
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, u64::MAX),
            Compression::Xpress,
            4096,
        );
        assert!(matches!(e, Err(Error::ImplausibleSize { .. })), "{e:?}");
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64, 1 << 40),
            Compression::Lzms,
            1 << 15,
        );
        assert!(matches!(e, Err(Error::ImplausibleSize { .. })), "{e:?}");
        // Resource beyond the file.
        let e = ChunkTable::for_resource(
            &f,
            &res(f.len() as u64 + 1, 4096),
            Compression::Xpress,
            4096,
        );
        assert!(matches!(e, Err(Error::OutOfFile { .. })), "{e:?}");
        // Bad chunk size.
        let e = ChunkTable::for_resource(&f, &res(f.len() as u64, 4096), Compression::Lzx, 4096);
        assert!(matches!(e, Err(Error::BadChunkSize { .. })), "{e:?}");
    }

    #[test]
    fn pipable_table() {
        // Three chunks of 4096 stored in 4096, 4096 and 100 bytes, each after its size,
        // then the table of the offsets of chunks 1 and 2.
        let mut f = Vec::new();
        for n in [4096u32, 4096, 100] {
            f.extend_from_slice(&n.to_le_bytes());
            f.resize(f.len() + n as usize, 0xAB);
        }
        f.extend_from_slice(&4096u32.to_le_bytes());
        f.extend_from_slice(&8192u32.to_le_bytes());
        let r = res(f.len() as u64, 3 * 4096);
        let t = ChunkTable::for_pipable_resource(&f, &r, Compression::Xpress, 4096).unwrap();
        assert_eq!(t.chunk_location(0), Some((4, 4096)));
        assert_eq!(t.chunk_location(1), Some((4 + 4096 + 4, 4096)));
        assert_eq!(t.chunk_location(2), Some((3 * 4 + 8192, 100)));
        let mut d = ChunkDecoder::new();
        assert_eq!(d.decode(&f, &t, 1).unwrap(), &[0xAB; 4096][..]);
        // A size prefix that disagrees with the table.
        let mut bad = f.clone();
        bad[4 + 4096] = 7;
        assert!(matches!(
            ChunkTable::for_pipable_resource(&bad, &r, Compression::Xpress, 4096),
            Err(Error::BadChunk { chunk: 1, .. })
        ));
        // Too small to hold its chunks.
        let r = res(20, 3 * 4096);
        assert!(ChunkTable::for_pipable_resource(&f, &r, Compression::Xpress, 4096).is_err());
    }

    #[test]
    fn garbage_chunk_fails_cleanly() {
        let f = file_with_table(&[], 50);
        let t = ChunkTable::for_resource(&f, &res(50, 4000), Compression::Xpress, 4096).unwrap();
        let mut d = ChunkDecoder::new();
        assert!(matches!(
            d.decode(&f, &t, 0),
            Err(Error::Decompression { chunk: 0, .. })
        ));
        assert!(d.decode(&f, &t, 1).is_err());
    }
}
