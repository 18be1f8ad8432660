//! LZ77 match finders shared by the XPRESS and LZX encoders.
//!
//! Every WIM chunk is compressed independently, so a finder works on one
//! chunk at a time: `reset` before each chunk, then positions are visited in
//! increasing order, each exactly once, by either a search or a `skip`.
//! `data` is the whole chunk (at most the `max_chunk_size` the finder was
//! created for) and must be the same slice for every call between two resets.
//!
//! - [`HashChains`] finds the longest match at a position (greedy and lazy
//!   parsing).
//! - [`BinaryTrees`] finds every match that is longer than all closer ones
//!   (near-optimal parsing needs the whole list).
//!
//! Both index 4-byte sequences (chains or trees under a hash of the first four
//! bytes) and keep a separate table of the latest positions per hash of three
//! bytes for length-3 matches. What is found:
//!
//! - every reported match is real (offset ≥ 1 within the chunk, `len` bytes
//!   equal, `len` ≤ the bytes left and ≤ `max_len`);
//! - with an unlimited depth, the longest match is found whenever it is 4
//!   bytes or longer (both finders);
//! - a 3-byte match comes from the newest position sharing the 3-byte hash
//!   (the two newest for [`BinaryTrees`]) and is reported as length 3 even if
//!   that position matches further (the 4-byte structure then has it);
//! - [`BinaryTrees`] reports length-2 matches (the newest occurrence of the
//!   pair) after [`BinaryTrees::set_min_len`]`(2)`; [`HashChains`] never does.
//!
//! Memory is fixed per finder (see the `memory_usage` functions): for chunks
//! of up to 64 KiB, about 384 KiB for [`HashChains`] and 576 KiB for
//! [`BinaryTrees`] (+128 KiB with length-2 matches); above that (up to
//! 2 MiB) about 11 MiB and 19 MiB.
//!
//! The first call after a reset copies the chunk into the finder's own buffer,
//! whose size is a power of two plus padding, as are all the tables: every
//! index is masked, so the hot loops carry no bounds checks and no input can
//! make an index go out of bounds. Finders for chunks of up to 64 KiB store
//! positions in 16 bits (tables cleared at each reset); larger ones (up to
//! 2 MiB) in 32 bits offset by a per-chunk base that grows at every reset, so
//! entries of earlier chunks fall below the base and read as empty, and the
//! tables are cleared only when the base would overflow.
//!
//! Out-of-contract calls (a position past the chunk or past `max_chunk_size`)
//! find nothing and never panic.

mod bt;
mod hc;
mod window;

pub use bt::BinaryTrees;
pub use hc::HashChains;
pub(crate) use hc::SmallChains;
pub(crate) use window::{Bytes, Window, PAD};

/// One match: `len` bytes equal to those `offset` bytes back (offset ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match {
    pub len: u32,
    pub offset: u32,
}

/// Multiplier of the hash functions (a large odd constant with well-mixed bits).
const HASH_MUL: u32 = 0x1E35_A7BD;

#[inline(always)]
fn hash(v: u32, order: u32) -> usize {
    (v.wrapping_mul(HASH_MUL) >> (32 - order)) as usize
}

/// The first base after a reset: `base + max_chunk_size` must stay below
/// the largest stored value and 0 must never be a live entry.
const FIRST_BASE: u32 = 1;

/// Largest chunk whose positions are stored in 16 bits (halving the tables
/// keeps more of them in cache). Such tables are cleared at every reset.
const MAX_U16_CHUNK: usize = 1 << 16;

/// Capacity of the finders for larger chunks (LZX's largest chunk).
const LARGE_CAP: usize = 1 << 21;

/// A stored position: `base + pos` in a `u16` or `u32`, 0 for none.
pub(crate) trait Pos: Copy + Default + 'static {
    /// Whether the base advances at a reset instead of the tables being cleared.
    const EPOCHS: bool;
    fn new(v: u32) -> Self;
    fn get(self) -> u32;
}

impl Pos for u16 {
    const EPOCHS: bool = false;
    #[inline(always)]
    fn new(v: u32) -> Self {
        v as u16
    }
    #[inline(always)]
    fn get(self) -> u32 {
        u32::from(self)
    }
}

impl Pos for u32 {
    const EPOCHS: bool = true;
    #[inline(always)]
    fn new(v: u32) -> Self {
        v
    }
    #[inline(always)]
    fn get(self) -> u32 {
        self
    }
}

/// The base for the next chunk, or `None` when the tables must be cleared
/// and the base restarted at [`FIRST_BASE`].
#[inline]
fn next_base<P: Pos>(base: u32, cap: usize) -> Option<u32> {
    if !P::EPOCHS {
        return None;
    }
    let cap = u32::try_from(cap).ok()?;
    let next = base.checked_add(cap)?.checked_add(1)?;
    next.checked_add(cap)?.checked_add(1)?;
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extend(data: &[u8], a: usize, b: usize, start: usize, max: usize) -> usize {
        let mut len = start;
        while len < max && data[a + len] == data[b + len] {
            len += 1;
        }
        len
    }

    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Test inputs: random over small alphabets (many matches), text-like
    /// repetition, runs.
    fn inputs() -> Vec<Vec<u8>> {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut v = Vec::new();
        for alphabet in [2u64, 4, 16, 256] {
            v.push(
                (0..3000)
                    .map(|_| (xorshift(&mut seed) % alphabet) as u8)
                    .collect(),
            );
        }
        let words = [&b"alpha "[..], b"beta ", b"gamma ", b"delta\n", b"ab"];
        let mut t = Vec::new();
        while t.len() < 5000 {
            t.extend_from_slice(words[(xorshift(&mut seed) % 5) as usize]);
        }
        v.push(t);
        let mut r = vec![0u8; 2000];
        r.extend((0..500).map(|i| (i % 7) as u8));
        r.extend(vec![9u8; 700]);
        v.push(r);
        v.push(vec![]);
        v.push(vec![1, 2]);
        v.push(vec![5, 5, 5, 5]);
        v
    }

    fn brute_longest(data: &[u8], pos: usize, max_len: usize) -> usize {
        let max_len = max_len.min(data.len() - pos);
        (0..pos)
            .map(|c| extend(data, c, pos, 0, max_len))
            .max()
            .unwrap_or(0)
    }

    fn check_real(data: &[u8], pos: usize, m: Match, max_len: u32) {
        let (len, off) = (m.len as usize, m.offset as usize);
        assert!(off >= 1 && off <= pos, "offset {off} at {pos}");
        assert!(len <= max_len as usize && pos + len <= data.len());
        assert_eq!(data[pos - off..pos - off + len], data[pos..pos + len]);
    }

    #[test]
    fn extend_counts_common_prefix() {
        let mut d = vec![7u8; 40];
        d[35] = 1;
        assert_eq!(extend(&d, 0, 20, 0, 20), 15);
        assert_eq!(extend(&d, 0, 1, 3, 39), 34);
        assert_eq!(extend(&d, 0, 1, 0, 0), 0);
    }

    #[test]
    fn hash_chains_matches_are_real_and_longest_when_unlimited() {
        for data in inputs() {
            for (reuse, cap) in [(0, 8192), (1, 8192), (1, 1 << 20)] {
                let mut hc = HashChains::new(cap);
                if reuse == 1 {
                    // A previous chunk must not leak into this one.
                    hc.reset();
                    let junk: Vec<u8> = data.iter().map(|b| b ^ 0x55).collect();
                    let mut p = 0;
                    while p < junk.len() {
                        hc.longest_match(&junk, p, 2, 300, 300, 50);
                        p += 1;
                    }
                }
                hc.reset();
                let mut pos = 0;
                while pos < data.len() {
                    let max_len = 258u32;
                    let m = hc.longest_match(&data, pos, 2, max_len, 1000, u32::MAX);
                    let brute = brute_longest(&data, pos, max_len as usize);
                    if m.len > 0 {
                        check_real(&data, pos, m, max_len);
                    }
                    // Every match of 4+ bytes is on the chain; a 3-byte one is
                    // found through the latest position with that hash.
                    if brute >= 4 {
                        assert_eq!(m.len as usize, brute, "pos {pos}");
                    } else {
                        assert!(m.len as usize <= brute);
                    }
                    if pos % 5 == 0 {
                        hc.skip(&data, pos + 1, 3);
                        pos += 4;
                    } else {
                        pos += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn hash_chains_respect_best_len_and_nice_len() {
        let data = b"abcdefgh_abcdefgh_abcdefgh_abcdefgh".repeat(4);
        let mut hc = HashChains::new(1024);
        hc.reset();
        hc.skip(&data, 0, 9);
        let m = hc.longest_match(&data, 9, 2, 200, 5, 100);
        assert!(m.len >= 5 && m.offset == 9);
        let m = hc.longest_match(&data, 10, 200, 200, 300, 100);
        assert_eq!(m.len, 0);
    }

    #[test]
    fn binary_trees_report_increasing_real_matches_and_the_longest() {
        for (min_len, cap) in [(3u32, 8192), (2, 8192), (3, 1 << 20), (2, 1 << 20)] {
            for data in inputs() {
                let mut bt = BinaryTrees::new(cap);
                bt.set_min_len(min_len);
                for _round in 0..2 {
                    bt.reset();
                    let mut out = Vec::new();
                    for pos in 0..data.len() {
                        let max_len = 200u32;
                        if pos % 7 == 3 {
                            bt.skip(&data, pos, max_len, 1000, u32::MAX);
                            continue;
                        }
                        out.clear();
                        bt.matches(&data, pos, max_len, 1000, u32::MAX, &mut out);
                        let mut prev = 0;
                        for &m in &out {
                            check_real(&data, pos, m, max_len);
                            assert!(m.len > prev, "lengths must increase");
                            assert!(m.len >= min_len);
                            prev = m.len;
                        }
                        let brute = brute_longest(&data, pos, max_len as usize);
                        if brute >= 4 {
                            assert_eq!(prev as usize, brute, "pos {pos} min {min_len}");
                        }
                        if min_len == 2 && brute >= 2 {
                            assert!(prev >= 2, "pos {pos}: length-2 match missed");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn binary_trees_stop_at_nice_len_and_survive_depth_limits() {
        let mut seed = 99u64;
        let data: Vec<u8> = (0..20000)
            .map(|_| (xorshift(&mut seed) % 3) as u8)
            .collect();
        let mut bt = BinaryTrees::new(32768);
        bt.reset();
        let mut out = Vec::new();
        for pos in 0..data.len() {
            out.clear();
            bt.matches(&data, pos, 100, 12, 4, &mut out);
            for &m in &out {
                check_real(&data, pos, m, 100);
            }
            assert!(out.iter().filter(|m| m.len >= 12).count() <= 1);
        }
    }

    #[test]
    fn out_of_contract_positions_do_not_panic() {
        let data = vec![3u8; 100];
        let mut hc = HashChains::new(50);
        hc.reset();
        for pos in 0..120 {
            let m = hc.longest_match(&data, pos, 2, 300, 300, 10);
            if m.len > 0 {
                check_real(&data, pos, m, 300);
            }
        }
        hc.skip(&data, 90, 100);
        let mut bt = BinaryTrees::new(50);
        bt.reset();
        let mut out = Vec::new();
        for pos in 0..120 {
            bt.matches(&data, pos, 300, 300, 10, &mut out);
            bt.skip(&data, pos, 300, 300, 10);
        }
        for &m in &out {
            assert!(m.len > 0 && m.offset > 0);
        }
    }

    #[test]
    fn base_wraps_by_clearing() {
        let mut hc = HashChains::new(1 << 21);
        let data = b"xyzxyzxyzxyz".to_vec();
        for _ in 0..2100 {
            hc.reset();
            assert_eq!(hc.longest_match(&data, 0, 2, 12, 12, 8).len, 0);
            assert_eq!(hc.longest_match(&data, 3, 2, 9, 12, 8).len, 9);
        }
    }
}
