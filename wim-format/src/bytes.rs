//! Little-endian helpers and bounds-checked slicing of the file.

use crate::error::{Error, Result};

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

pub(crate) fn to_usize(n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::TooLarge(n))
}

/// `size` bytes at `offset` of `file`, or [`Error::OutOfFile`].
pub(crate) fn range<'a>(
    file: &'a [u8],
    offset: u64,
    size: u64,
    what: &'static str,
) -> Result<&'a [u8]> {
    let file_len = file.len() as u64;
    let out = || Error::OutOfFile {
        what,
        offset,
        size,
        file_len,
    };
    let end = offset.checked_add(size).ok_or_else(out)?;
    if end > file_len {
        return Err(out());
    }
    // Both fit in usize because they are at most file.len().
    Ok(&file[offset as usize..end as usize])
}

/// Checks that `data` holds at least `needed` bytes.
pub(crate) fn need(data: &[u8], needed: usize, what: &'static str) -> Result<()> {
    if data.len() < needed {
        return Err(Error::Truncated {
            what,
            needed: needed as u64,
            available: data.len() as u64,
        });
    }
    Ok(())
}
