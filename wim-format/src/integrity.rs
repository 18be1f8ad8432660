//! The integrity table: SHA-1s of fixed-size chunks of the file from the end of the
//! header to the end of the blob table, checked in parallel.

use rayon::prelude::*;

use crate::blob_table::Sha1Hash;
use crate::bytes::{to_usize, u32_at};
use crate::digest::sha1;
use crate::error::{Error, Result};
use crate::header::{Header, HEADER_SIZE};
use crate::read::{ResourceData, Wim};

/// Size of the integrity table's own header: total size, entry count, chunk size.
pub const INTEGRITY_HEADER_SIZE: usize = 12;

/// A parsed integrity table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityTable {
    /// Bytes of the file each entry covers (the last one covers what remains).
    pub chunk_size: u32,
    pub hashes: Vec<Sha1Hash>,
}

/// What checking a WIM's integrity table found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityStatus {
    /// Every chunk hashes as the table says.
    Ok,
    /// The WIM has no integrity table.
    NoTable,
    /// Chunk `chunk` (0-based) of part `part` (1-based) does not match.
    Mismatch { part: u16, chunk: u64 },
}

impl IntegrityTable {
    /// Parses the table's bytes.
    pub fn parse(data: &[u8]) -> Result<Self> {
        crate::bytes::need(data, INTEGRITY_HEADER_SIZE, "integrity table")?;
        let size = u32_at(data, 0) as u64;
        let count = u32_at(data, 4) as u64;
        let chunk_size = u32_at(data, 8);
        let expected = INTEGRITY_HEADER_SIZE as u64 + 20 * count;
        if size != expected || data.len() as u64 != expected {
            return Err(Error::InvalidIntegrityTable {
                what: "its size does not match its entry count",
            });
        }
        if chunk_size == 0 {
            return Err(Error::InvalidIntegrityTable {
                what: "chunk size zero",
            });
        }
        let hashes = data[INTEGRITY_HEADER_SIZE..]
            .chunks_exact(20)
            .map(|c| c.try_into().expect("20 bytes"))
            .collect();
        Ok(Self { chunk_size, hashes })
    }

    /// The bytes of the table.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut d = Vec::with_capacity(INTEGRITY_HEADER_SIZE + 20 * self.hashes.len());
        d.extend_from_slice(
            &((INTEGRITY_HEADER_SIZE + 20 * self.hashes.len()) as u32).to_le_bytes(),
        );
        d.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        d.extend_from_slice(&self.chunk_size.to_le_bytes());
        for h in &self.hashes {
            d.extend_from_slice(h);
        }
        d
    }

    /// The table of `covered` (the bytes after the header up to the end of the blob
    /// table) in chunks of `chunk_size` bytes, hashed in parallel.
    pub fn compute(covered: &[u8], chunk_size: u32) -> Self {
        let hashes = covered
            .par_chunks(chunk_size.max(1) as usize)
            .map(sha1)
            .collect();
        Self { chunk_size, hashes }
    }

    /// The first chunk of `covered` whose hash differs, checked in parallel.
    pub fn first_mismatch(&self, covered: &[u8]) -> Result<Option<u64>> {
        let cs = to_usize(u64::from(self.chunk_size))?;
        let n = covered.len().div_ceil(cs);
        if n != self.hashes.len() {
            return Err(Error::InvalidIntegrityTable {
                what: "its entry count does not match the bytes it covers",
            });
        }
        Ok(covered
            .par_chunks(cs)
            .zip(self.hashes.par_iter())
            .enumerate()
            .filter(|(_, (c, h))| sha1(c) != **h)
            .map(|(i, _)| i as u64)
            .min())
    }
}

/// The bytes of `file` the integrity table of `header` covers: from the end of the
/// header to the end of the blob table.
pub fn covered_bytes<'a>(file: &'a [u8], header: &Header) -> Result<&'a [u8]> {
    let end = header.blob_table.end()?;
    let start = HEADER_SIZE as u64;
    if end < start {
        return Err(Error::InvalidIntegrityTable {
            what: "the blob table ends inside the header",
        });
    }
    crate::bytes::range(
        file,
        start,
        end - start,
        "data covered by the integrity table",
    )
}

/// Reads the integrity table of one file (`None` if it has none).
pub fn read_table(file: &[u8], header: &Header) -> Result<Option<IntegrityTable>> {
    let res = header.integrity;
    if res.is_absent() || res.offset == 0 {
        return Ok(None);
    }
    let bytes = match ResourceData::open(file, header, &res)? {
        ResourceData::Stored(s) => s.to_vec(),
        ResourceData::Chunked(_) => {
            return Err(Error::InvalidIntegrityTable {
                what: "it is compressed",
            })
        }
    };
    IntegrityTable::parse(&bytes).map(Some)
}

impl Wim<'_> {
    /// Checks the integrity table of every part (in parallel on rayon's current pool).
    /// [`IntegrityStatus::NoTable`] if part 1 has none; parts without a table are
    /// otherwise skipped.
    pub fn check_integrity(&self) -> Result<IntegrityStatus> {
        let mut any = false;
        for p in &self.parts {
            let Some(table) = read_table(p.file, &p.header)? else {
                continue;
            };
            any = true;
            let covered = covered_bytes(p.file, &p.header)?;
            if let Some(chunk) = table.first_mismatch(covered)? {
                return Ok(IntegrityStatus::Mismatch {
                    part: p.header.part_number,
                    chunk,
                });
            }
        }
        Ok(if any {
            IntegrityStatus::Ok
        } else {
            IntegrityStatus::NoTable
        })
    }

    /// Whether the WIM (part 1) has an integrity table.
    pub fn has_integrity_table(&self) -> bool {
        !self.header.integrity.is_absent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trip_and_mismatch() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let t = IntegrityTable::compute(&data, 4096);
        assert_eq!(t.hashes.len(), 25);
        assert_eq!(IntegrityTable::parse(&t.to_bytes()).unwrap(), t);
        assert_eq!(t.first_mismatch(&data).unwrap(), None);
        let mut bad = data.clone();
        bad[50_000] ^= 1;
        assert_eq!(t.first_mismatch(&bad).unwrap(), Some(12));
        assert!(t.first_mismatch(&data[..4096]).is_err());
        let mut b = t.to_bytes();
        b[4] = 3;
        assert!(IntegrityTable::parse(&b).is_err());
        assert!(IntegrityTable::parse(&b[..5]).is_err());
    }
}
