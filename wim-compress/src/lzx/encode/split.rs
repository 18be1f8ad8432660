//! Deciding where to end a block: every few hundred observed items the
//! distribution of coarse item classes since the last check is compared with
//! the distribution of the block so far; a large enough difference starts a
//! new block with fresh Huffman codes.

/// Blocks are at least this long (except the last of a chunk).
pub(super) const MIN_BLOCK_SIZE: usize = 6500;
/// A block ends once it reaches about this length.
pub(super) const SOFT_MAX_BLOCK_SIZE: usize = 100_000;
/// Items observed between two checks.
pub(super) const OBSERVATIONS_PER_CHECK: u32 = 400;

const LITERAL_CLASSES: usize = 8;
const CLASSES: usize = LITERAL_CLASSES + 2;

#[derive(Default)]
pub(super) struct SplitStats {
    recent: [u32; CLASSES],
    total: [u32; CLASSES],
    num_recent: u32,
    num_total: u32,
}

impl SplitStats {
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// A literal, classed by its top two bits and its lowest bit.
    #[inline(always)]
    pub(super) fn literal(&mut self, b: u8) {
        self.recent[usize::from(((b >> 5) & 6) | (b & 1))] += 1;
        self.num_recent += 1;
    }

    /// A match, classed as short or long.
    #[inline(always)]
    pub(super) fn matched(&mut self, len: u32) {
        self.recent[LITERAL_CLASSES + usize::from(len >= 5)] += 1;
        self.num_recent += 1;
    }

    /// Whether enough new items have been seen for a check.
    #[inline(always)]
    pub(super) fn ready(&self) -> bool {
        self.num_recent >= OBSERVATIONS_PER_CHECK
    }

    /// Compares the recent items with the block so far: true means end the
    /// block before them. Otherwise they join the block's totals.
    pub(super) fn should_split(&mut self) -> bool {
        if self.num_total > 0 {
            // Both distributions scaled to the product of the counts.
            let mut diff = 0u64;
            for (&r, &t) in self.recent.iter().zip(&self.total) {
                let expected = u64::from(t) * u64::from(self.num_recent);
                let actual = u64::from(r) * u64::from(self.num_total);
                diff += expected.abs_diff(actual);
            }
            let threshold = u64::from(self.num_recent) * 7 / 8 * u64::from(self.num_total);
            if diff >= threshold {
                return true;
            }
        }
        for (t, r) in self.total.iter_mut().zip(self.recent.iter_mut()) {
            *t += *r;
            *r = 0;
        }
        self.num_total += self.num_recent;
        self.num_recent = 0;
        false
    }
}
