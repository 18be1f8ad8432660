//! Fixed parameters of the LZX format.

pub(crate) const NUM_CHARS: usize = 256;
pub(crate) const MIN_MATCH_LEN: usize = 2;
/// Length headers 0..=6 are complete lengths; header 7 is followed by a length symbol.
pub(crate) const NUM_PRIMARY_LENS: usize = 7;
pub(crate) const NUM_LEN_HEADERS: usize = NUM_PRIMARY_LENS + 1;
pub(crate) const NUM_LEN_SYMS: usize = 249;
pub(crate) const NUM_PRE_SYMS: usize = 20;
pub(crate) const NUM_ALIGNED_SYMS: usize = 8;
pub(crate) const NUM_ALIGNED_BITS: u32 = 3;
pub(crate) const MAX_OFFSET_SLOTS: usize = 50;
pub(crate) const MAX_MAIN_SYMS: usize = NUM_CHARS + MAX_OFFSET_SLOTS * NUM_LEN_HEADERS;
pub(crate) const NUM_RECENT_OFFSETS: usize = 3;

pub(crate) const MAX_MAIN_CODEWORD_LEN: u32 = 16;
pub(crate) const MAX_LEN_CODEWORD_LEN: u32 = 16;
pub(crate) const MAX_PRE_CODEWORD_LEN: u32 = 15;
pub(crate) const MAX_ALIGNED_CODEWORD_LEN: u32 = 7;

pub(crate) const MAIN_TABLE_BITS: u32 = 11;
pub(crate) const LEN_TABLE_BITS: u32 = 10;
pub(crate) const PRE_TABLE_BITS: u32 = 6;
pub(crate) const ALIGNED_TABLE_BITS: u32 = 7;

pub(crate) const BLOCKTYPE_VERBATIM: u32 = 1;
pub(crate) const BLOCKTYPE_ALIGNED: u32 = 2;
pub(crate) const BLOCKTYPE_UNCOMPRESSED: u32 = 3;
/// Size of a block whose header sets the "default size" flag bit.
pub(crate) const DEFAULT_BLOCK_SIZE: usize = 32768;

/// A run-length code in the length descriptions may write up to this many
/// entries past the end of the range being described; the arrays have slack
/// for it so that such streams behave as in the reference decoder.
pub(crate) const LENS_OVERRUN: usize = 50;

/// WIM always uses this value as the E8 translation size.
pub(crate) const E8_TRANSLATION_SIZE: i32 = 12_000_000;

/// Number of extra offset bits for each offset slot: two slots per bit count
/// from slot 2 on, capped at 17 bits.
pub(crate) const fn extra_bits(slot: usize) -> u32 {
    if slot < 4 {
        0
    } else if slot >= 36 {
        17
    } else {
        (slot as u32 / 2) - 1
    }
}

/// Smallest formatted offset (real offset + 2) coded with each slot; slot
/// `MAX_OFFSET_SLOTS` gives the end of the last slot's range.
pub(crate) const fn slot_base(slot: usize) -> u32 {
    let mut base = 0u32;
    let mut s = 0;
    while s < slot {
        base += 1 << extra_bits(s);
        s += 1;
    }
    base
}

/// log2 of the window for chunks of at most `max_chunk_size` bytes.
pub(crate) fn window_order(max_chunk_size: usize) -> u32 {
    let order = usize::BITS - (max_chunk_size.max(1) - 1).leading_zeros();
    order.max(15)
}

/// Number of offset slots a window of `1 << order` bytes needs: enough to
/// code the largest formatted offset, `window - 1` (a match can start at most
/// `window - 3` bytes back, since the first two bytes cannot match the last two).
pub(crate) fn num_offset_slots(order: u32) -> usize {
    let max_formatted = (1u32 << order) - 1;
    let mut slots = 30;
    while slots < MAX_OFFSET_SLOTS && max_formatted >= slot_base(slots) {
        slots += 1;
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_tables_match_the_format() {
        let bases: Vec<u32> = (0..=MAX_OFFSET_SLOTS).map(slot_base).collect();
        assert_eq!(&bases[..12], &[0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48]);
        assert_eq!(bases[30], 32768);
        assert_eq!(bases[36], 262144);
        assert_eq!(bases[37], 393216);
        assert_eq!(bases[38], 524288);
        assert_eq!(bases[39], 655360);
        assert_eq!(bases[50], 2097152);
        assert_eq!(extra_bits(34), 16);
        assert_eq!(extra_bits(35), 16);
        assert_eq!(extra_bits(36), 17);
        assert_eq!(extra_bits(49), 17);
    }

    #[test]
    fn slot_counts_per_window() {
        let expect = [
            (15, 30),
            (16, 32),
            (17, 34),
            (18, 36),
            (19, 38),
            (20, 42),
            (21, 50),
        ];
        for (order, slots) in expect {
            assert_eq!(num_offset_slots(order), slots, "order {order}");
        }
        assert_eq!(window_order(32768), 15);
        assert_eq!(window_order(32769), 16);
        assert_eq!(window_order(1000), 15);
        assert_eq!(window_order(2 * 1024 * 1024), 21);
        assert_eq!(window_order(1024 * 1024 + 1), 21);
    }
}
