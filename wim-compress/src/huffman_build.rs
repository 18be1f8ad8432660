//! Codeword lengths from symbol frequencies, reproducing bit for bit the code
//! the reference LZMS compressor derives, since both sides of an LZMS stream
//! rebuild the adaptive codes independently and must agree. The XPRESS and
//! LZX encoders use the same builder for their static codes.
//!
//! The construction is the classic two-queue Huffman method over symbols
//! sorted by (frequency, symbol), preferring the leaf queue on frequency ties.
//! Depths beyond the length limit are folded onto the longest length that still
//! has a codeword to split (not optimal, but it is what the format's encoder
//! does). Lengths are then dealt out longest first to the least frequent
//! symbols.

const SYM_BITS: u32 = 10;
const SYM_MASK: u32 = (1 << SYM_BITS) - 1;
/// Largest alphabet the builder takes (LZMS offsets: 799, LZX main: 656).
pub(crate) const MAX_SYMBOLS: usize = 1 << SYM_BITS;
const NODES: usize = 1 << SYM_BITS;

/// Scratch space for rebuilding codes, allocated once per decoder.
pub(crate) struct LengthBuilder {
    /// (frequency << SYM_BITS) | symbol, sorted ascending.
    sorted: Vec<u32>,
    /// Internal nodes in creation order: frequency (later reused for depth)
    /// and parent index. Fixed power-of-two arrays so masked indices need no
    /// bounds checks in the inner loops.
    node_freq: Box<[u32; NODES]>,
    node_up: Box<[u32; NODES]>,
    /// Number of internal nodes of the current tree.
    internal: usize,
    counters: Vec<u32>,
}

impl LengthBuilder {
    pub(crate) fn new() -> Self {
        Self {
            sorted: Vec::with_capacity(MAX_SYMBOLS),
            node_freq: Box::new([0; NODES]),
            node_up: Box::new([0; NODES]),
            internal: 0,
            counters: Vec::with_capacity(MAX_SYMBOLS / 4 + 4),
        }
    }

    /// Fills `lens` (same length as `freqs`) with codeword lengths of at most
    /// `max_len` bits. Frequencies must be below 2^22 (LZMS keeps them far
    /// lower); zero-frequency symbols get length 0.
    pub(crate) fn build(&mut self, freqs: &[u32], lens: &mut [u8], max_len: u32) {
        let n = freqs.len().min(lens.len()).min(1 << SYM_BITS);
        let freqs = &freqs[..n];
        let lens = &mut lens[..n];
        self.sort(freqs);
        lens.fill(0);
        let used = self.sorted.len();
        if used == 0 {
            return;
        }
        if used == 1 {
            // A single used symbol still gets a one-bit codeword; its partner
            // symbol (0, or 1 when the used one is 0) gets the other, if it exists.
            let sym = (self.sorted[0] & SYM_MASK) as usize;
            let partner = if sym == 0 { 1 } else { 0 };
            lens[sym] = 1;
            if let Some(l) = lens.get_mut(partner) {
                *l = 1;
            }
            return;
        }

        self.build_tree();
        let mut len_counts = [0u32; 17];
        let max_len = max_len.clamp(1, 16) as usize;
        self.length_counts(&mut len_counts, max_len);

        // Longest codewords go to the least frequent symbols.
        // The counts always add up to the number of used symbols; the range
        // check keeps the loop bounded regardless.
        let mut i = 0usize;
        for len in (1..=max_len).rev() {
            let n = len_counts[len] as usize;
            let Some(group) = self.sorted.get(i..i + n) else {
                break;
            };
            for &entry in group {
                if let Some(l) = lens.get_mut((entry & SYM_MASK) as usize) {
                    *l = len as u8;
                }
            }
            i += n;
        }
    }

    /// Sorts used symbols by frequency then symbol. Counting sort on small
    /// frequencies (the common case after halving) with a comparison sort
    /// only for the bucket of large ones.
    fn sort(&mut self, freqs: &[u32]) {
        let num_counters = (freqs.len().div_ceil(4) + 3) & !3;
        let num_counters = num_counters.max(4);
        let top = num_counters - 1;
        // The symbols are counted and scattered as two halves, each with its
        // own counters, so that the two halves form independent dependency
        // chains: many symbols share a frequency, and with one counter each
        // update would wait for the previous one through memory.
        let (low, high) = freqs.split_at(freqs.len() / 2);
        self.counters.clear();
        self.counters.resize(2 * num_counters, 0);
        let (ca, cb) = self.counters.split_at_mut(num_counters);
        for (i, &f) in high.iter().enumerate() {
            if let Some(&g) = low.get(i) {
                ca[(g as usize).min(top)] += 1;
            }
            cb[(f as usize).min(top)] += 1;
        }
        // Each bucket holds the first half's symbols, then the second's.
        let mut used = 0u32;
        for (a, b) in ca[1..].iter_mut().zip(&mut cb[1..]) {
            let (na, nb) = (*a, *b);
            *a = used;
            *b = used + na;
            used += na + nb;
        }
        self.sorted.clear();
        self.sorted.resize(used as usize, 0);
        let base = low.len();
        for (i, &f) in high.iter().enumerate() {
            if let Some(&g) = low.get(i) {
                if g != 0 {
                    let slot = &mut ca[(g as usize).min(top)];
                    if let Some(e) = self.sorted.get_mut(*slot as usize) {
                        *e = (g << SYM_BITS) | i as u32;
                    }
                    *slot += 1;
                }
            }
            if f != 0 {
                let slot = &mut cb[(f as usize).min(top)];
                if let Some(e) = self.sorted.get_mut(*slot as usize) {
                    *e = (f << SYM_BITS) | (base + i) as u32;
                }
                *slot += 1;
            }
        }
        // After the scatter, the second half's counter of bucket top - 1
        // sits where the large bucket starts.
        let start = (cb[top - 1] as usize).min(self.sorted.len());
        self.sorted[start..].sort_unstable();
    }

    /// Builds the internal nodes of the Huffman tree, recording each node's
    /// parent. Leaves come from `sorted`, internal nodes are created in
    /// non-decreasing frequency order, so two queues suffice.
    fn build_tree(&mut self) {
        let leaves = self.sorted.len();
        let internal = leaves.saturating_sub(1).min(NODES);
        let sorted = &self.sorted[..];
        let node_freq = &mut *self.node_freq;
        let node_up = &mut *self.node_up;
        let mut leaf = 0usize;
        let mut next_node = 0usize; // oldest internal node without a parent
        for e in 0..internal {
            let mut sum = 0u32;
            for _ in 0..2 {
                // Ties go to the leaf, as the format requires.
                let leaf_freq = sorted.get(leaf).map_or(u32::MAX, |&x| x >> SYM_BITS);
                if next_node == e || leaf_freq <= node_freq[next_node & (NODES - 1)] {
                    sum = sum.wrapping_add(leaf_freq);
                    leaf += 1;
                } else {
                    sum = sum.wrapping_add(node_freq[next_node & (NODES - 1)]);
                    node_up[next_node & (NODES - 1)] = e as u32;
                    next_node += 1;
                }
            }
            node_freq[e & (NODES - 1)] = sum;
        }
        self.internal = internal;
    }

    /// Counts codewords per length by walking internal nodes from the root
    /// down: each internal node at depth d turns one codeword of length d into
    /// two of length d + 1. Depths past the limit split the longest available
    /// shorter codeword instead.
    fn length_counts(&mut self, len_counts: &mut [u32; 17], max_len: usize) {
        const M: usize = NODES - 1;
        let root = self.internal.saturating_sub(1);
        // Reuse node_freq to hold depths; the root sits at depth 0.
        let depth = &mut *self.node_freq;
        let up = &*self.node_up;
        depth[root & M] = 0;
        // Parents are assigned in creation order, so depth never increases
        // with the node index and each depth is one contiguous run of nodes.
        // Recording where each run ends is enough to count nodes per depth.
        let mut lowest = [root as u32; 18];
        let mut deepest = 0u32;
        for node in (0..root).rev() {
            let d = (depth[up[node & M] as usize & M] + 1).min(16);
            depth[node & M] = d;
            lowest[d as usize] = node as u32;
            deepest = deepest.max(d);
        }
        if (deepest as usize) < max_len {
            // No length limiting needed: leaves at depth d are the children of
            // internal nodes at depth d - 1 that are not internal themselves.
            let mut above = 1u32; // internal nodes at depth d - 1
            for d in 1..=deepest as usize + 1 {
                let here = if d <= deepest as usize {
                    lowest[d - 1].wrapping_sub(lowest[d])
                } else {
                    0
                };
                len_counts[d] = above.wrapping_mul(2).wrapping_sub(here);
                above = here;
            }
            return;
        }
        self.length_counts_limited(len_counts, max_len);
    }

    /// The general form of [`Self::length_counts`], node by node, used when
    /// some depth exceeds the limit; the order of folding matters there.
    #[cold]
    fn length_counts_limited(&mut self, len_counts: &mut [u32; 17], max_len: usize) {
        const M: usize = NODES - 1;
        let root = self.internal.saturating_sub(1);
        let depth = &mut *self.node_freq;
        let up = &*self.node_up;
        depth[root & M] = 0;
        len_counts.fill(0);
        len_counts[1] = 2;
        for node in (0..root).rev() {
            let d = depth[up[node & M] as usize & M].saturating_add(1);
            depth[node & M] = d;
            let mut len = (d as usize).min(max_len);
            if len >= max_len {
                loop {
                    len -= 1;
                    if len == 0 || len_counts[len] != 0 {
                        break;
                    }
                }
            }
            len_counts[len] = len_counts[len].wrapping_sub(1);
            len_counts[len + 1] = len_counts[len + 1].wrapping_add(2);
        }
    }
}

/// Canonical codewords for `lens` (0 = unused), as every WIM codec assigns
/// them: shorter codes first, and within one length in symbol order. The
/// codeword is returned most-significant bit first in the low `len` bits.
#[allow(dead_code)] // used by the XPRESS and LZX encoders
pub(crate) fn canonical_codewords(lens: &[u8], codes: &mut [u32]) {
    let mut len_counts = [0u32; 17];
    for &l in lens {
        len_counts[usize::from(l.min(16))] += 1;
    }
    len_counts[0] = 0;
    let mut next = [0u32; 17];
    let mut code = 0u32;
    for len in 1..17 {
        code = (code + len_counts[len - 1]) << 1;
        next[len] = code;
    }
    for (c, &l) in codes.iter_mut().zip(lens) {
        let l = usize::from(l.min(16));
        if l == 0 {
            *c = 0;
        } else {
            *c = next[l];
            next[l] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft_complete(lens: &[u8]) -> bool {
        let sum: u64 = lens
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (32 - l))
            .sum();
        sum == 1u64 << 32
    }

    #[test]
    fn uniform_frequencies_give_flat_code() {
        let mut b = LengthBuilder::new();
        let mut lens = [0u8; 256];
        b.build(&[1; 256], &mut lens, 15);
        assert!(lens.iter().all(|&l| l == 8));
    }

    #[test]
    fn ties_prefer_leaves() {
        // Frequencies 1,1,2: leaves-first gives lengths 2,2,1.
        let mut b = LengthBuilder::new();
        let mut lens = [0u8; 3];
        b.build(&[1, 1, 2], &mut lens, 15);
        assert_eq!(lens, [2, 2, 1]);
        // 1,1,1,1,2: after (1,1)->2 and (1,1)->2, the tie 2 (leaf) vs 2 (node)
        // must pick the leaf.
        let mut lens = [0u8; 5];
        b.build(&[1, 1, 1, 1, 2], &mut lens, 15);
        assert_eq!(lens, [3, 3, 2, 2, 2]);
    }

    #[test]
    fn length_limit_produces_complete_code() {
        let mut b = LengthBuilder::new();
        let freqs: Vec<u32> = (0..40)
            .map(|i| if i < 30 { 1u32 << (i / 2) } else { 1 })
            .collect();
        let mut lens = vec![0u8; freqs.len()];
        b.build(&freqs, &mut lens, 15);
        assert!(lens.iter().all(|&l| (1..=15).contains(&l)));
        assert!(kraft_complete(&lens));
    }

    #[test]
    fn canonical_codewords_are_prefix_free_and_ordered() {
        let lens = [3u8, 0, 2, 3, 2, 2];
        let mut codes = [0u32; 6];
        canonical_codewords(&lens, &mut codes);
        assert_eq!(codes, [0b110, 0, 0b00, 0b111, 0b01, 0b10]);
    }

    #[test]
    fn single_symbol() {
        let mut b = LengthBuilder::new();
        let mut lens = [9u8; 4];
        b.build(&[0, 0, 5, 0], &mut lens, 15);
        assert_eq!(lens, [1, 0, 1, 0]);
        let mut lens = [9u8; 1];
        b.build(&[3], &mut lens, 15);
        assert_eq!(lens, [1]);
    }

    #[test]
    fn fast_length_counts_match_node_by_node_walk() {
        // Without limiting, the run-based count must equal the general walk.
        let mut b = LengthBuilder::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for n in 2..300usize {
            let freqs: Vec<u32> = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    1 + ((seed % 2000) as u32 >> (seed % 11))
                })
                .collect();
            b.sort(&freqs);
            b.build_tree();
            let mut fast = [0u32; 17];
            b.length_counts(&mut fast, 16);
            let mut slow = [0u32; 17];
            b.length_counts_limited(&mut slow, 16);
            assert_eq!(fast, slow, "n = {n}");
        }
    }
}
