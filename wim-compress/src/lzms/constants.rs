//! Fixed parameters of the LZMS format and its slot tables.
//!
//! The slot tables are derived at compile time from run lengths of the
//! extra-bit counts: every slot's base is the previous base plus the number of
//! values the previous slot can express, so only the extra-bit counts need to
//! be written down.

/// Precision of the adaptive bit probabilities.
pub(crate) const PROB_BITS: u32 = 6;
/// Number of recent bits each probability entry remembers (= 1 << PROB_BITS).
pub(crate) const PROB_WINDOW: u32 = 1 << PROB_BITS;
/// History each probability entry starts with: 48 zeros among the last 64 bits.
pub(crate) const INITIAL_RECENT_BITS: u64 = 0x0000_0000_5555_5555;
pub(crate) const INITIAL_ZERO_COUNT: u32 = 48;

pub(crate) const NUM_MAIN_STATES: usize = 16;
pub(crate) const NUM_MATCH_STATES: usize = 32;
pub(crate) const NUM_LZ_STATES: usize = 64;
pub(crate) const NUM_LZ_REP_STATES: usize = 64;
pub(crate) const NUM_DELTA_STATES: usize = 64;
pub(crate) const NUM_DELTA_REP_STATES: usize = 64;

/// Three repeat offsets are addressable, so two binary decisions pick one.
pub(crate) const NUM_REP_DECISIONS: usize = 2;

pub(crate) const NUM_LITERAL_SYMS: usize = 256;
pub(crate) const NUM_LENGTH_SYMS: usize = 54;
pub(crate) const NUM_DELTA_POWER_SYMS: usize = 8;
pub(crate) const MAX_NUM_OFFSET_SYMS: usize = 799;

pub(crate) const MAX_CODEWORD_LEN: u32 = 15;

pub(crate) const LITERAL_REBUILD_FREQ: u32 = 1024;
pub(crate) const LZ_OFFSET_REBUILD_FREQ: u32 = 1024;
pub(crate) const LENGTH_REBUILD_FREQ: u32 = 512;
pub(crate) const DELTA_OFFSET_REBUILD_FREQ: u32 = 1024;
pub(crate) const DELTA_POWER_REBUILD_FREQ: u32 = 512;

/// (extra bits, number of consecutive slots using that many extra bits).
const OFFSET_RUNS: [(u8, u16); 21] = [
    (0, 8),
    (2, 9),
    (3, 7),
    (4, 10),
    (5, 15),
    (6, 15),
    (7, 20),
    (8, 20),
    (9, 30),
    (10, 33),
    (11, 40),
    (12, 42),
    (13, 45),
    (14, 60),
    (15, 73),
    (16, 80),
    (17, 85),
    (18, 95),
    (19, 105),
    (20, 6),
    (30, 1),
];

const LENGTH_RUNS: [(u8, u16); 13] = [
    (0, 26),
    (1, 4),
    (2, 6),
    (3, 4),
    (4, 5),
    (5, 2),
    (6, 1),
    (7, 1),
    (8, 1),
    (9, 1),
    (10, 1),
    (16, 1),
    (30, 1),
];

/// Expands run lengths into per-slot extra-bit counts and bases; the base
/// array has one extra entry (one past the largest value) so that slot
/// searches need no special case at the top.
const fn expand<const N: usize, const M: usize>(runs: &[(u8, u16)]) -> ([u8; N], [u32; M]) {
    let mut extra = [0u8; N];
    let mut base = [0u32; M];
    let mut slot = 0;
    let mut r = 0;
    base[0] = 1;
    while r < runs.len() {
        let (bits, count) = runs[r];
        let mut k = 0;
        while k < count {
            extra[slot] = bits;
            base[slot + 1] = base[slot] + (1u32 << bits);
            slot += 1;
            k += 1;
        }
        r += 1;
    }
    assert!(slot == N && M == N + 1);
    (extra, base)
}

const OFFSET_TABLES: ([u8; MAX_NUM_OFFSET_SYMS], [u32; MAX_NUM_OFFSET_SYMS + 1]) =
    expand(&OFFSET_RUNS);
const LENGTH_TABLES: ([u8; NUM_LENGTH_SYMS], [u32; NUM_LENGTH_SYMS + 1]) = expand(&LENGTH_RUNS);

pub(crate) const OFFSET_EXTRA_BITS: [u8; MAX_NUM_OFFSET_SYMS] = OFFSET_TABLES.0;
pub(crate) const OFFSET_BASE: [u32; MAX_NUM_OFFSET_SYMS + 1] = OFFSET_TABLES.1;
pub(crate) const LENGTH_EXTRA_BITS: [u8; NUM_LENGTH_SYMS] = LENGTH_TABLES.0;
pub(crate) const LENGTH_BASE: [u32; NUM_LENGTH_SYMS + 1] = LENGTH_TABLES.1;

/// Number of offset slots a chunk of `size` bytes uses: enough to express an
/// offset of `size - 1`, the largest that can point inside the chunk.
pub(crate) fn num_offset_slots(size: usize) -> usize {
    if size < 2 {
        return 0;
    }
    let largest = size - 1;
    // Slots whose base is <= largest offset, i.e. one more than its slot index.
    OFFSET_BASE[..MAX_NUM_OFFSET_SYMS].partition_point(|&b| (b as usize) <= largest)
}

/// x86 filter: how far past the last likely instruction translation stays on.
pub(crate) const X86_MAX_TRANSLATION_OFFSET: i32 = 1023;
/// x86 filter: two uses of one target this close make an instruction "likely".
pub(crate) const X86_ID_WINDOW_SIZE: i32 = 65535;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_tables_hit_known_values() {
        // Spot checks against published LZMS limits: the last offset base is one
        // past the largest offset, the last length base one past the largest length.
        assert_eq!(OFFSET_BASE[MAX_NUM_OFFSET_SYMS], 1_180_427_428 + 1);
        assert_eq!(LENGTH_BASE[NUM_LENGTH_SYMS], 1_073_809_578 + 1);
        assert_eq!(OFFSET_BASE[9], 0xd);
        assert_eq!(LENGTH_BASE[27], 0x1d);
    }

    #[test]
    fn offset_slot_counts() {
        assert_eq!(num_offset_slots(0), 0);
        assert_eq!(num_offset_slots(1), 0);
        assert_eq!(num_offset_slots(2), 1);
        assert_eq!(num_offset_slots(9), 8);
        assert_eq!(num_offset_slots(10), 9);
        assert_eq!(num_offset_slots(1 << 30), 799);
    }
}
