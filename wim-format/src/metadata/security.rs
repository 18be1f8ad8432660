//! The security data at the start of a metadata resource:
//! `{u32 total length, u32 count, u64 sizes[count]}`, then the descriptors
//! back to back, padded with zeroes to a multiple of 8 bytes.

use crate::bytes::{u32_at, u64_at};
use crate::error::{Error, Result};

/// Most descriptors a table may list: security ids are signed 32-bit numbers.
const MAX_DESCRIPTORS: u64 = 0x8000_0000;

/// The security descriptors of one image, indexed by the dentries' security ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityData {
    /// Each descriptor in self-relative `SECURITY_DESCRIPTOR` form.
    pub descriptors: Vec<Vec<u8>>,
    /// The total length as used to find the directory tree: the stored field rounded up
    /// to 8, with 0 read as 8 (some writers store 0 when there are no descriptors).
    pub total_length: u32,
    /// The total length field as stored.
    pub stored_total_length: u32,
}

impl SecurityData {
    /// Parses the security data at the start of the metadata resource `buf`.
    ///
    /// Tolerated (as wimlib does): a total length of 0 (meaning 8), and a total length
    /// larger than the descriptors need (`slack()` tells by how much). Refused: a total
    /// length beyond the resource, a size table or descriptors beyond the total length,
    /// a descriptor over 4 GiB, or more than 2^31 descriptors.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let bad = |what| Error::InvalidMetadata { what, offset: 0 };
        if buf.len() < 8 {
            return Err(bad(
                "metadata resource shorter than the security data header",
            ));
        }
        let stored_total_length = u32_at(buf, 0);
        let count = u64::from(u32_at(buf, 4));
        let mut total = u64::from(stored_total_length).next_multiple_of(8);
        if total == 0 {
            total = 8;
        }
        if count > MAX_DESCRIPTORS {
            return Err(bad("security descriptor count above 2^31"));
        }
        if total > buf.len() as u64 {
            return Err(bad("security data longer than the metadata resource"));
        }
        let header_len = 8 + count * 8;
        if header_len > total {
            return Err(bad(
                "security descriptor size table exceeds the security data",
            ));
        }
        // Every size fits in the (checked) total length, so `count` is bounded by the
        // resource size before anything is allocated.
        let mut descriptors = Vec::with_capacity(count as usize);
        let mut pos = header_len;
        for i in 0..count as usize {
            let size = u64_at(buf, 8 + i * 8);
            if size > u64::from(u32::MAX) {
                return Err(bad("security descriptor larger than 4 GiB"));
            }
            let end = pos + size;
            if end > total {
                return Err(bad("security descriptors exceed the security data"));
            }
            descriptors.push(buf[pos as usize..end as usize].to_vec());
            pos = end;
        }
        Ok(Self {
            descriptors,
            // total <= buf.len() and came from a u32 rounded up, so it fits.
            total_length: u32::try_from(total).map_err(|_| Error::TooLarge(total))?,
            stored_total_length,
        })
    }

    /// Bytes the total length exceeds what the header and descriptors need, rounded up
    /// to 8 (0 for data as wimlib and Microsoft write it). wimlib warns when nonzero.
    pub fn slack(&self) -> u64 {
        let used: u64 = 8
            + 8 * self.descriptors.len() as u64
            + self.descriptors.iter().map(|d| d.len() as u64).sum::<u64>();
        u64::from(self.total_length).saturating_sub(used.next_multiple_of(8))
    }

    pub fn len(&self) -> usize {
        self.descriptors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(total: u32, sizes: &[u64], body: usize) -> Vec<u8> {
        let mut b = total.to_le_bytes().to_vec();
        b.extend((sizes.len() as u32).to_le_bytes());
        for s in sizes {
            b.extend(s.to_le_bytes());
        }
        b.extend((0..body).map(|i| i as u8));
        b
    }

    #[test]
    fn good_and_tolerated() {
        let b = table(8 + 16 + 5 + 3, &[2, 3], 8);
        let sd = SecurityData::parse(&b).unwrap();
        assert_eq!(sd.descriptors, vec![vec![0, 1], vec![2, 3, 4]]);
        assert_eq!(sd.total_length, 32);
        assert_eq!(sd.slack(), 0);
        // Zero total length means 8.
        let sd = SecurityData::parse(&table(0, &[], 0)).unwrap();
        assert_eq!(sd.total_length, 8);
        // Larger than needed: accepted.
        let sd = SecurityData::parse(&table(64, &[1], 60)).unwrap();
        assert_eq!(sd.slack(), 40);
    }

    #[test]
    fn bad() {
        assert!(SecurityData::parse(&[0; 7]).is_err());
        // Total beyond the buffer.
        assert!(SecurityData::parse(&table(1000, &[], 0)).is_err());
        // Size table beyond the total.
        assert!(SecurityData::parse(&table(16, &[1, 1], 16)).is_err());
        // Descriptors beyond the total.
        assert!(SecurityData::parse(&table(24, &[9], 16)).is_err());
        // Absurd count.
        let mut b = table(8, &[], 0);
        b[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(SecurityData::parse(&b).is_err());
        // Huge size.
        assert!(SecurityData::parse(&table(24, &[u64::MAX], 8)).is_err());
    }
}
