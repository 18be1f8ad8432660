//! Pseudo-random data for the unit tests of several modules.

/// `len` bytes of a xorshift sequence (seeded by `seed`), each reduced
/// below `alpha` (at most 256): the same bytes for the same arguments.
pub(crate) fn xorshift_bytes(len: usize, seed: u64, alpha: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % alpha) as u8
        })
        .collect()
}
