//! The near-optimal parser (default and higher levels).
//!
//! For each block, the binary-tree finder's matches at every position are
//! cached once; then one or more passes find the cheapest path through the
//! block's positions under a cost model (a forward dynamic program whose
//! nodes carry the recent-offsets queue of their best arrival, so repeat
//! offsets are priced as such). The first pass prices symbols from rough
//! statistics gathered while matching; each later pass prices them with the
//! Huffman code lengths the previous pass's path would produce.

use super::super::constants::*;
use super::bitout::BitWriter;
use super::block::{offset_slot, Coder, Queue, Seq, MAX_MATCH_LEN, MIN_ALIGNED_SLOT};
use super::extend;
use super::split::{SplitStats, MIN_BLOCK_SIZE, SOFT_MAX_BLOCK_SIZE};
use crate::matchfinder::{BinaryTrees, Match};

/// Nodes whose queues are kept (a power of two above `MAX_MATCH_LEN`).
const RING: usize = 512;
const RING_MASK: usize = RING - 1;
/// Cost of one bit in the cost model.
const BIT: u32 = 64;
/// Match lengths 2..=257.
const NUM_LENS: usize = MAX_MATCH_LEN - MIN_MATCH_LEN + 1;
/// Average matches cached per position before a block is cut short.
const CACHE_PER_POS: usize = 5;
/// Cost of a symbol the previous pass did not use, in bits.
const UNUSED_MAIN_BITS: u32 = 15;
const UNUSED_LEN_BITS: u32 = 14;

pub(super) struct OptParams {
    pub(super) depth: u32,
    pub(super) nice: u32,
    pub(super) passes: u32,
    pub(super) max_offset: u32,
    pub(super) num_main_syms: usize,
}

pub(super) struct Optimal {
    bt: BinaryTrees,
    /// Matches of the block's positions, in position order.
    cache: Vec<Match>,
    cache_limit: usize,
    /// Number of cached matches per block position.
    counts: Vec<u32>,
    // Per node (block position 0..=len): best cost so far (`i32::MAX`: not
    // reached yet), and the item arriving there, `offset << LEN_BITS | len`
    // (length 1 = literal). Of two equal costs the smaller item wins.
    node_cost: Vec<i32>,
    node_item: Vec<u32>,
    /// Recent-offset queue per node, packed (see [`pack`]), for the last
    /// [`RING`] nodes (a match reaches back at most `MAX_MATCH_LEN`).
    queues: Box<[u64; RING]>,
    /// The chosen path, (len, offset) per item, last item first.
    path: Vec<(u32, u32)>,
    // Cost model.
    main_cost: Vec<u32>,
    len_cost: [u32; NUM_LEN_SYMS],
    aligned_cost: [u32; NUM_ALIGNED_SYMS],
    /// `match_cost[slot * NUM_LENS + len - 2]`, without aligned bits.
    match_cost: Vec<u32>,
    // Rough statistics from greedy observation while matching.
    obs_lit: [u32; NUM_CHARS],
    obs_matches: u32,
    obs_aligned: [u32; NUM_ALIGNED_SYMS],
}

impl Optimal {
    pub(super) fn new(max_chunk_size: usize) -> Self {
        let max_block = max_chunk_size.min(SOFT_MAX_BLOCK_SIZE);
        let cache_limit = max_block * CACHE_PER_POS;
        Self {
            bt: {
                let mut bt = BinaryTrees::new(max_chunk_size);
                bt.set_min_len(2);
                bt
            },
            cache: Vec::with_capacity(cache_limit + NUM_LENS + 8),
            cache_limit,
            counts: Vec::with_capacity(max_block + 1),
            node_cost: vec![0; max_block + 1],
            node_item: vec![0; max_block + 1],
            queues: Box::new([0; RING]),
            path: Vec::with_capacity(max_block + 1),
            main_cost: vec![0; MAX_MAIN_SYMS],
            len_cost: [0; NUM_LEN_SYMS],
            aligned_cost: [0; NUM_ALIGNED_SYMS],
            match_cost: vec![0; MAX_OFFSET_SLOTS * NUM_LENS],
            obs_lit: [0; NUM_CHARS],
            obs_matches: 0,
            obs_aligned: [0; NUM_ALIGNED_SYMS],
        }
    }

    pub(super) fn memory_usage(max_chunk_size: usize) -> usize {
        let max_block = max_chunk_size.min(SOFT_MAX_BLOCK_SIZE);
        BinaryTrees::memory_usage(max_chunk_size)
            + (max_block * CACHE_PER_POS + NUM_LENS + 8) * std::mem::size_of::<Match>()
            + (max_block + 1) * (4 + 4 + 4 + 8)
            + RING * 8
            + (MAX_MAIN_SYMS + MAX_OFFSET_SLOTS * NUM_LENS) * 4
            + std::mem::size_of::<Self>()
    }

    /// Parses and writes a whole chunk.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn compress(
        &mut self,
        data: &[u8],
        w: &mut BitWriter,
        coder: &mut Coder,
        seqs: &mut Vec<Seq>,
        split: &mut SplitStats,
        p: &OptParams,
    ) {
        let n = data.len();
        self.bt.reset();
        let max_block = self.node_cost.len() - 1;
        let mut pos = 0usize;
        let mut next_search = 0usize;
        while pos < n {
            let block_start = pos;
            let max_end = n.min(pos + max_block);
            self.cache.clear();
            self.counts.clear();
            split.reset();
            self.obs_lit.fill(0);
            self.obs_matches = 0;
            self.obs_aligned.fill(0);
            let mut next_obs = pos;

            while pos < max_end {
                let max_len = (n - pos).min(MAX_MATCH_LEN) as u32;
                let nice = p.nice.min(max_len);
                if pos >= next_search {
                    let start = self.cache.len();
                    self.bt
                        .matches(data, pos, max_len, nice, p.depth, &mut self.cache);
                    let count = self.cache.len() - start;
                    self.counts.push(count as u32);
                    let best = self.cache[start..].last().copied().unwrap_or_default();
                    if pos >= next_obs {
                        if best.len >= 3 {
                            self.obs_matches += 1;
                            self.obs_aligned[((best.offset + 2) & 7) as usize] += 1;
                            split.matched(best.len);
                            next_obs = pos + best.len as usize;
                        } else {
                            self.obs_lit[usize::from(data[pos])] += 1;
                            split.literal(data[pos]);
                            next_obs = pos + 1;
                        }
                    }
                    if best.len >= nice && best.len > 0 {
                        next_search = pos + best.len as usize;
                    }
                } else {
                    self.bt.skip(data, pos, max_len, nice, p.depth);
                    self.counts.push(0);
                }
                pos += 1;
                if self.cache.len() >= self.cache_limit {
                    break;
                }
                if split.ready()
                    && pos - block_start >= MIN_BLOCK_SIZE
                    && max_end - pos >= MIN_BLOCK_SIZE
                    && split.should_split()
                {
                    break;
                }
            }

            let block = &data[block_start..pos];
            self.optimize_block(data, block_start, block.len(), coder, seqs, p);
            coder.flush(w, block, seqs);
            if w.overflowed() {
                return;
            }
        }
    }

    /// Chooses the items of the block `[start, start + len)` into `seqs`.
    #[inline(never)]
    fn optimize_block(
        &mut self,
        data: &[u8],
        start: usize,
        len: usize,
        coder: &mut Coder,
        seqs: &mut Vec<Seq>,
        p: &OptParams,
    ) {
        let queue = coder.queue;
        self.set_default_costs(p.num_main_syms);
        let passes = p.passes.max(1);
        for pass in 0..passes {
            self.compute_match_costs(p.num_main_syms);
            self.min_cost_path(data, start, len, queue, p.max_offset);
            self.record(len, seqs);
            if pass + 1 == passes {
                break;
            }
            coder.tally(&data[start..start + len], seqs, queue);
            coder.build_lens();
            self.set_costs_from_lens(coder, p.num_main_syms);
        }
    }

    /// Bootstrap costs from the greedy observations.
    fn set_default_costs(&mut self, num_main_syms: usize) {
        let lits: u32 = self.obs_lit.iter().sum();
        let total = (lits + self.obs_matches).max(1) as f32;
        let bits = |prob: f32| -> u32 {
            let c = (-prob.max(1e-9).log2() * BIT as f32) as u32;
            c.clamp(BIT, 16 * BIT)
        };
        let mut lit_prob = 0.0f32;
        for (c, &f) in self.main_cost.iter_mut().zip(&self.obs_lit) {
            if f > 0 {
                let prob = f as f32 / total;
                lit_prob += prob;
                *c = bits(prob);
            } else {
                *c = 12 * BIT;
            }
        }
        let match_prob = (1.0 - lit_prob).max(0.12);
        let headers = (num_main_syms - NUM_CHARS) as f32;
        let header_cost = bits(match_prob / headers.min(160.0));
        for c in self.main_cost[NUM_CHARS..num_main_syms].iter_mut() {
            *c = header_cost;
        }
        for (i, c) in self.len_cost.iter_mut().enumerate() {
            let b = 4.5 + 7.5 * (1.0 - (-(i as f32) / 22.0).exp());
            *c = (b * BIT as f32) as u32;
        }
        let matches = self.obs_matches.max(1) as f32;
        for (c, &f) in self.aligned_cost.iter_mut().zip(&self.obs_aligned) {
            *c = if f > 0 {
                bits(f as f32 / matches).min(7 * BIT)
            } else {
                6 * BIT
            };
        }
    }

    fn set_costs_from_lens(&mut self, coder: &Coder, num_main_syms: usize) {
        for (c, &l) in self.main_cost[..num_main_syms]
            .iter_mut()
            .zip(&coder.main_lens[..num_main_syms])
        {
            *c = if l > 0 {
                u32::from(l)
            } else {
                UNUSED_MAIN_BITS
            } * BIT;
        }
        for (c, &l) in self.len_cost.iter_mut().zip(&coder.len_lens) {
            *c = if l > 0 { u32::from(l) } else { UNUSED_LEN_BITS } * BIT;
        }
        // Priced as in an aligned block; a block that ends up verbatim
        // pays 3 bits instead, close to the average.
        for (c, &l) in self.aligned_cost.iter_mut().zip(&coder.aligned_lens) {
            *c = if l > 0 { u32::from(l) } else { 7 } * BIT;
        }
    }

    fn compute_match_costs(&mut self, num_main_syms: usize) {
        let num_slots = (num_main_syms - NUM_CHARS) / NUM_LEN_HEADERS;
        for slot in 0..num_slots {
            let mut extra = extra_bits(slot) * BIT;
            if slot >= MIN_ALIGNED_SLOT {
                extra -= NUM_ALIGNED_BITS * BIT;
            }
            let sym = NUM_CHARS + slot * NUM_LEN_HEADERS;
            let row = &mut self.match_cost[slot * NUM_LENS..(slot + 1) * NUM_LENS];
            for (i, c) in row.iter_mut().enumerate() {
                *c = if i < NUM_PRIMARY_LENS {
                    self.main_cost[sym + i] + extra
                } else {
                    self.main_cost[sym + NUM_PRIMARY_LENS]
                        + extra
                        + self.len_cost[(i - NUM_PRIMARY_LENS).min(NUM_LEN_SYMS - 1)]
                };
            }
        }
    }

    /// The forward dynamic program over the block's positions.
    ///
    /// Kept free of data-dependent branches where it can be: a node is one
    /// `u64` (cost above item), so an offer is a `min`, and each node's
    /// queue is selected rather than branched to.
    #[inline(never)]
    fn min_cost_path(
        &mut self,
        data: &[u8],
        start: usize,
        len: usize,
        queue: Queue,
        max_offset: u32,
    ) {
        let (Some(cost), Some(item), Some(block), Some(counts)) = (
            self.node_cost.get_mut(..len + 1),
            self.node_item.get_mut(..len + 1),
            data.get(..start + len),
            self.counts.get(..len),
        ) else {
            return;
        };
        cost.fill(i32::MAX);
        cost[0] = 0;
        let mut nodes = (&mut *cost, &mut *item);
        let queues = &mut *self.queues;
        queues[0] = pack(queue);
        let mc = &self.match_cost[..];
        let lit_cost: &[u32; NUM_CHARS] = match self.main_cost.first_chunk::<NUM_CHARS>() {
            Some(c) => c,
            None => return,
        };
        let aligned_cost = &self.aligned_cost;
        let cache = &self.cache[..];
        let mut ci = 0usize; // cache index of the current position's matches
                             // The current node's queue, kept out of memory: reloading the entry
                             // just stored would stall on store forwarding.
        let mut q = pack(queue);
        // Offsets are below 2^21, so `offset - 1` of 0 is out of range too.
        let max_off_m1 = max_offset.wrapping_sub(1);

        for (i, &count) in counts.iter().enumerate() {
            let base = nodes.0[i];
            let count = count as usize;
            // Absolute position, for offsets reaching before the block.
            let p = start + i;

            // Positions without matches (inside a long match the finder
            // skipped, or with nothing found) get no repeat-offset search
            // either: there, it would mostly re-find the long match at
            // every byte.
            if count > 0 {
                let max_len = (len - i).min(MAX_MATCH_LEN);
                let matches = cache.get(ci..ci + count).unwrap_or(&[]);
                ci += count;
                let mut next_len = 2usize;
                if max_len >= 2 {
                    // Recent offsets first, R0 before R1 before R2: each
                    // length is priced with the first (cheapest) source
                    // that has it. An offset reaching before the chunk
                    // reads as a mismatch.
                    let here = pair(block, p);
                    let reps = unpack(q);
                    for (k, off) in reps.into_iter().enumerate() {
                        let b = p.wrapping_sub(off as usize);
                        if b >= p || pair(block, b) != here {
                            continue;
                        }
                        let l = extend(block, p, b, 2, max_len);
                        if l < next_len {
                            continue;
                        }
                        relax(&mut nodes, &mc[k * NUM_LENS..], i, next_len, l, base, off);
                        next_len = l + 1;
                    }
                }
                // Explicit offsets: for each length, the closest match.
                for m in matches {
                    let l = (m.len as usize).min(max_len);
                    if l < next_len || m.offset.wrapping_sub(1) >= max_off_m1 {
                        continue;
                    }
                    let formatted = m.offset + 2;
                    let slot = offset_slot_fast(formatted);
                    let aligned = aligned_cost[(formatted & 7) as usize];
                    let b = base
                        + if slot >= MIN_ALIGNED_SLOT {
                            aligned as i32
                        } else {
                            0
                        };
                    let Some(row) = mc.get(slot * NUM_LENS..) else {
                        continue;
                    };
                    relax(&mut nodes, row, i, next_len, l, b, m.offset);
                    next_len = l + 1;
                }
            }

            // Literal; ties go to the literal (its item, 1, is below every
            // match's).
            let lit = base + lit_cost[usize::from(block[p])] as i32;
            let arrived = nodes.0[i + 1];
            let item = nodes.1[i + 1];
            let is_lit = lit <= arrived;
            nodes.0[i + 1] = lit.min(arrived);
            nodes.1[i + 1] = if is_lit { 1 } else { item };
            // The queue after the match that arrives, computed either way.
            let from = queues[(i + 1).wrapping_sub((item & LEN_MASK) as usize) & RING_MASK];
            let qm = packed_update(from, item >> LEN_BITS);
            q = if is_lit { q } else { qm };
            queues[(i + 1) & RING_MASK] = q;
        }
    }

    /// Walks the best path back from the block end into `seqs`.
    fn record(&mut self, len: usize, seqs: &mut Vec<Seq>) {
        self.path.clear();
        let mut j = len;
        while j > 0 {
            let item = self.node_item[j];
            let l = ((item & LEN_MASK) as usize).clamp(1, j);
            self.path.push((l as u32, item >> LEN_BITS));
            j -= l;
        }
        seqs.clear();
        let mut lits = 0u32;
        for &(l, off) in self.path.iter().rev() {
            if l == 1 {
                lits += 1;
            } else {
                seqs.push(Seq {
                    lit_run: lits,
                    len: l,
                    offset: off,
                });
                lits = 0;
            }
        }
        if lits > 0 {
            seqs.push(Seq {
                lit_run: lits,
                len: 0,
                offset: 0,
            });
        }
    }
}

/// Bits of a node's item holding the length (1 = literal, else a match
/// length); the offset sits above them.
const LEN_BITS: u32 = 9;
const LEN_MASK: u32 = (1 << LEN_BITS) - 1;

/// [`offset_slot`] without branches for the offsets of chunks up to 256 KiB
/// (formatted offsets from 2 on).
#[inline(always)]
fn offset_slot_fast(formatted: u32) -> usize {
    if formatted >= 262_144 {
        return offset_slot(formatted);
    }
    let f = formatted | 2;
    let b = 31 - f.leading_zeros();
    (2 * b + ((f >> (b - 1)) & 1)) as usize
}

/// Offers node `i`'s successors `i + lo ..= i + hi` a match at `offset`
/// costing `base + row[len - 2]`.
#[inline(always)]
fn relax(
    nodes: &mut (&mut [i32], &mut [u32]),
    row: &[u32],
    i: usize,
    lo: usize,
    hi: usize,
    base: i32,
    offset: u32,
) {
    let n = hi + 1 - lo;
    let (Some(tc), Some(ti), Some(costs)) = (
        nodes.0.get_mut(i + lo..).and_then(|t| t.get_mut(..n)),
        nodes.1.get_mut(i + lo..).and_then(|t| t.get_mut(..n)),
        row.get(lo - 2..).and_then(|r| r.get(..n)),
    ) else {
        return;
    };
    // Items are below 2^30, so signed comparisons order them too.
    let first = ((offset << LEN_BITS) | lo as u32) as i32;
    for k in 0..n {
        let c = base + costs[k] as i32;
        let it = first + k as i32;
        let (t, ot) = (tc[k], ti[k] as i32);
        // All ones when the offer is better: masks, not a branch.
        let take = -(((c < t) | ((c == t) & (it < ot))) as i32);
        tc[k] = (c & take) | (t & !take);
        ti[k] = ((it & take) | (ot & !take)) as u32;
    }
}

const QUEUE_BITS: u32 = 21;
const QUEUE_MASK: u64 = (1 << QUEUE_BITS) - 1;

/// The queue in one register: R0 in the low 21 bits, then R1, then R2
/// (offsets are below 2^21).
#[inline(always)]
fn pack(q: Queue) -> u64 {
    u64::from(q[0]) | u64::from(q[1]) << QUEUE_BITS | u64::from(q[2]) << (2 * QUEUE_BITS)
}

#[inline(always)]
fn unpack(q: u64) -> Queue {
    [
        (q & QUEUE_MASK) as u32,
        ((q >> QUEUE_BITS) & QUEUE_MASK) as u32,
        ((q >> (2 * QUEUE_BITS)) & QUEUE_MASK) as u32,
    ]
}

/// `block::queue_update` on a packed queue (selects, no branches).
#[inline(always)]
fn packed_update(q: u64, offset: u32) -> u64 {
    let o = u64::from(offset);
    let r0 = q & QUEUE_MASK;
    let r1 = (q >> QUEUE_BITS) & QUEUE_MASK;
    let r2 = (q >> (2 * QUEUE_BITS)) & QUEUE_MASK;
    let push = o | r0 << QUEUE_BITS | r1 << (2 * QUEUE_BITS);
    let swap1 = r1 | r0 << QUEUE_BITS | r2 << (2 * QUEUE_BITS);
    let swap2 = r2 | r1 << QUEUE_BITS | r0 << (2 * QUEUE_BITS);
    let a = if o == r2 { swap2 } else { push };
    let b = if o == r1 { swap1 } else { a };
    if o == r0 {
        q
    } else {
        b
    }
}

/// The two bytes at `pos` (zero past the end).
#[inline(always)]
fn pair(data: &[u8], pos: usize) -> u16 {
    data.get(pos..pos + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::super::block::queue_update;
    use super::*;

    #[test]
    fn packed_queue_follows_the_plain_one() {
        let mut q: Queue = [1, 1, 1];
        let mut p = pack(q);
        for off in [1u32, 5, 9, 5, 1, 9, 2_000_000, 7, 7, 9, 2_097_149, 3] {
            queue_update(&mut q, off);
            p = packed_update(p, off);
            assert_eq!(unpack(p), q);
        }
    }
}
