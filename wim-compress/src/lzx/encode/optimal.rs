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
    // Per node (block position 0..=len): best cost, and the item arriving
    // there (length 1 = literal; otherwise match length and real offset).
    nodes: Vec<Node>,
    /// Recent-offset queue per node, packed (see [`pack`]).
    queues: Vec<u64>,
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
            nodes: vec![Node::default(); max_block + 1],
            queues: vec![0; max_block + 1],
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
            + (max_block + 1) * (std::mem::size_of::<Node>() + 8 + 8)
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
        let max_block = self.nodes.len() - 1;
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
    #[inline(never)]
    fn min_cost_path(
        &mut self,
        data: &[u8],
        start: usize,
        len: usize,
        queue: Queue,
        max_offset: u32,
    ) {
        let nodes = &mut self.nodes[..len + 1];
        let queues = &mut self.queues[..len + 1];
        for n in nodes.iter_mut() {
            n.cost = u32::MAX;
        }
        nodes[0].cost = 0;
        queues[0] = pack(queue);
        let mc = &self.match_cost[..];
        let lit_cost: &[u32; NUM_CHARS] = match self.main_cost.first_chunk::<NUM_CHARS>() {
            Some(c) => c,
            None => return,
        };
        let Some(block) = data.get(start..start + len) else {
            return;
        };
        let mut ci = 0usize; // cache index of the current position's matches
                             // The current node's queue, kept out of memory: reloading the entry
                             // just stored would stall on store forwarding.
        let mut q = pack(queue);

        for i in 0..len {
            let base = nodes[i].cost;
            let max_len = (len - i).min(MAX_MATCH_LEN);
            let count = self.counts.get(i).copied().unwrap_or(0) as usize;
            let matches = self.cache.get(ci..ci + count).unwrap_or(&[]);
            ci += count;
            // Absolute position, for offsets reaching before the block.
            let p = start + i;

            // Positions without matches (inside a long match the finder
            // skipped, or with nothing found) get no repeat-offset search
            // either: there, it would mostly re-find the long match at
            // every byte.
            if max_len >= 2 && count > 0 {
                let mut next_len = 2usize;
                // Recent offsets first, R0 before R1 before R2: each length
                // is priced with the first (cheapest) source that has it.
                let reps = unpack(q);
                // First two bytes of each recent offset, compared without
                // a branch per offset (an offset reaching before the chunk
                // reads as a mismatch).
                let here = pair(data, p);
                let hit = |o: u32| -> bool {
                    p.checked_sub(o as usize)
                        .is_some_and(|b| o != 0 && pair(data, b) == here)
                };
                let hits = [hit(reps[0]), hit(reps[1]), hit(reps[2])];
                if hits[0] | hits[1] | hits[2] {
                    for (k, off) in reps.into_iter().enumerate() {
                        if !hits[k] {
                            continue;
                        }
                        let l = extend(data, p, p - off as usize, 2, max_len);
                        if l < next_len {
                            continue;
                        }
                        relax(nodes, &mc[k * NUM_LENS..], i, next_len, l, base, off);
                        next_len = l + 1;
                        if next_len > max_len {
                            break;
                        }
                    }
                }
                // Explicit offsets: for each length, the closest match.
                for m in matches {
                    if next_len > max_len {
                        break;
                    }
                    let l = (m.len as usize).min(max_len);
                    if l < next_len || m.offset > max_offset || m.offset == 0 {
                        continue;
                    }
                    let formatted = m.offset + 2;
                    let slot = offset_slot(formatted);
                    let mut b = base;
                    if slot >= MIN_ALIGNED_SLOT {
                        b += self.aligned_cost[(formatted & 7) as usize];
                    }
                    let Some(row) = mc.get(slot * NUM_LENS..) else {
                        continue;
                    };
                    relax(nodes, row, i, next_len, l, b, m.offset);
                    next_len = l + 1;
                }
            }

            // Literal; ties go to the literal.
            let c = base + lit_cost[usize::from(block[i])];
            if c <= nodes[i + 1].cost {
                nodes[i + 1] = Node { cost: c, item: 1 };
            } else {
                let item = nodes[i + 1].item;
                let ml = (item & LEN_MASK) as usize;
                q = packed_update(queues[i + 1 - ml], item >> LEN_BITS);
            }
            queues[i + 1] = q;
        }
    }

    /// Walks the best path back from the block end into `seqs`.
    fn record(&mut self, len: usize, seqs: &mut Vec<Seq>) {
        self.path.clear();
        let mut j = len;
        while j > 0 {
            let item = self.nodes[j].item;
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

#[derive(Clone, Copy, Default)]
struct Node {
    /// Cheapest cost found so far to reach this position.
    cost: u32,
    /// The item arriving there: offset << LEN_BITS | length.
    item: u32,
}

/// Offers node `i`'s successors `i + lo ..= i + hi` a match at `offset`
/// costing `base + row[len - 2]`.
#[inline(always)]
fn relax(nodes: &mut [Node], row: &[u32], i: usize, lo: usize, hi: usize, base: u32, offset: u32) {
    let (Some(targets), Some(costs)) = (nodes.get_mut(i + lo..=i + hi), row.get(lo - 2..=hi - 2))
    else {
        return;
    };
    let first = (offset << LEN_BITS) | lo as u32;
    for (item, (node, &mcost)) in (first..).zip(targets.iter_mut().zip(costs)) {
        let c = base + mcost;
        if c < node.cost {
            *node = Node { cost: c, item };
        }
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

/// `block::queue_update` on a packed queue.
#[inline(always)]
fn packed_update(q: u64, offset: u32) -> u64 {
    let o = u64::from(offset);
    let r0 = q & QUEUE_MASK;
    let r1 = (q >> QUEUE_BITS) & QUEUE_MASK;
    let r2 = (q >> (2 * QUEUE_BITS)) & QUEUE_MASK;
    if o == r0 {
        q
    } else if o == r1 {
        r1 | r0 << QUEUE_BITS | r2 << (2 * QUEUE_BITS)
    } else if o == r2 {
        r2 | r1 << QUEUE_BITS | r0 << (2 * QUEUE_BITS)
    } else {
        o | r0 << QUEUE_BITS | r1 << (2 * QUEUE_BITS)
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
