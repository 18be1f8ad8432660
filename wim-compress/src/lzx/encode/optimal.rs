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
use crate::incompressible;
use crate::matchfinder::{BinaryTrees, Bytes, Match, Window, PAD};

/// Nodes whose queues are kept (a power of two above `MAX_MATCH_LEN`).
const RING: usize = 512;
const RING_MASK: usize = RING - 1;
/// Cost of one bit in the cost model.
const BIT: u32 = 64;
/// Match lengths 2..=257.
const NUM_LENS: usize = MAX_MATCH_LEN - MIN_MATCH_LEN + 1;
/// Nodes a position's matches can reach, itself included: a fixed-size
/// window indexed by match length needs no bounds checks.
const WIN: usize = MAX_MATCH_LEN + 1;
/// Rows of the match offer table: the offset slots rounded up to a power
/// of two.
const SLOT_ROWS: usize = MAX_OFFSET_SLOTS.next_power_of_two();
/// Room for one position's matches (lengths 2..=257, each longer than the
/// previous).
const MATCHES_MAX: usize = 256;
/// Average matches cached per position before a block is cut short.
const CACHE_PER_POS: usize = 5;
/// Share of a block's bytes that its literals' entropy must reach for the
/// block to be taken as incompressible.
const INCOMPRESSIBLE: f64 = 0.98;
/// Cost of a symbol the previous pass did not use, in bits.
const UNUSED_MAIN_BITS: u32 = 15;
const UNUSED_LEN_BITS: u32 = 14;

/// What the path search reads and writes besides the nodes, in one place
/// so that one register addresses all of it.
struct Tables {
    /// `match_offer[slot][len]`: the cost of a match of
    /// `len` bytes in `slot` (without aligned bits) in the high half, `len`
    /// in the low one; adding the base cost and the offset's item bits
    /// gives the offer to the node `len` bytes on.
    /// Rows past the last slot (to a power of two, so that a masked slot
    /// needs no bounds check) stay unused.
    /// Entries 0 and 1 are unused.
    match_offer: [[u64; WIN]; SLOT_ROWS],
    /// Literal offers: cost in the high half, item 1 in the low one.
    lit_offer: [u64; NUM_CHARS],
    /// Aligned symbol costs in the high half; the entries past the eight
    /// symbols (zero) are for offset slots without aligned bits.
    aligned_offer: [u64; 16],
    /// Recent-offset queue per node, packed (see [`pack`]), for the last
    /// [`RING`] nodes (a match reaches back at most `MAX_MATCH_LEN`).
    queues: [u64; RING],
}

pub(super) struct OptParams {
    pub(super) depth: u32,
    pub(super) nice: u32,
    pub(super) passes: u32,
    pub(super) max_offset: u32,
    pub(super) num_main_syms: usize,
}

pub(super) struct Optimal {
    bt: BinaryTrees,
    /// Matches of the block's positions, in position order: per position a
    /// header whose `len` is the number of matches that follow it. Sized
    /// once; `cache_len` entries are in use.
    cache: Vec<Match>,
    cache_len: usize,
    cache_limit: usize,
    /// Per node (block position 0..=len): the best arrival so far, its cost
    /// in the high half and its item, `offset << LEN_BITS | len` (length 1 =
    /// literal), in the low half; `u64::MAX` when not reached yet. Packed so
    /// that keeping the better of two arrivals is one `min`, which also
    /// gives ties to the smaller item.
    nodes: Vec<u64>,
    tables: Box<Tables>,
    /// A copy of the chunk when it has at most [`SMALL_CAP`] bytes, padded
    /// so that the path search's reads need neither bounds checks nor a
    /// path for the chunk's end (`None` for larger chunks).
    small: Option<Window<SMALL_CAP, SMALL_BUF>>,
    // Cost model.
    main_cost: Vec<u32>,
    len_cost: [u32; NUM_LEN_SYMS],
    aligned_cost: [u32; NUM_ALIGNED_SYMS],
    // Rough statistics from greedy observation while matching.
    obs_lit: [u32; NUM_CHARS],
    obs_matches: u32,
    obs_aligned: [u32; NUM_ALIGNED_SYMS],
    /// The repeat table of the incompressibility check.
    repeats: Vec<u32>,
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
            cache: vec![Match::default(); cache_limit + max_block + NUM_LENS + 8],
            cache_len: 0,
            cache_limit,
            nodes: vec![0; max_block + WIN],
            tables: Box::new(Tables {
                match_offer: [[0; WIN]; SLOT_ROWS],
                lit_offer: [0; NUM_CHARS],
                aligned_offer: [0; 16],
                queues: [0; RING],
            }),
            small: (max_chunk_size <= SMALL_CAP).then(|| Window::new(max_chunk_size)),
            main_cost: vec![0; MAX_MAIN_SYMS],
            len_cost: [0; NUM_LEN_SYMS],
            aligned_cost: [0; NUM_ALIGNED_SYMS],
            obs_lit: [0; NUM_CHARS],
            obs_matches: 0,
            obs_aligned: [0; NUM_ALIGNED_SYMS],
            repeats: vec![0; 1 << incompressible::TABLE_BITS],
        }
    }

    pub(super) fn memory_usage(max_chunk_size: usize) -> usize {
        let max_block = max_chunk_size.min(SOFT_MAX_BLOCK_SIZE);
        BinaryTrees::memory_usage(max_chunk_size)
            + (max_block * (CACHE_PER_POS + 1) + NUM_LENS + 8) * std::mem::size_of::<Match>()
            + (max_block + WIN) * 8
            + MAX_MATCH_LEN * 8
            + MAX_MAIN_SYMS * 4
            + std::mem::size_of::<Tables>()
            + if max_chunk_size <= SMALL_CAP {
                SMALL_BUF
            } else {
                0
            }
            + (4 << incompressible::TABLE_BITS)
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
        // Already-compressed content, for a caller that gave less room than
        // the chunk, is given up on before the match search, which is most
        // of the time such a chunk would cost.
        if w.room() < n
            && n <= incompressible::MAX_CHUNK
            && incompressible::looks_incompressible(data, &mut self.repeats, incompressible::LZX)
        {
            w.give_up();
            return;
        }
        self.bt.reset();
        if let Some(small) = &mut self.small {
            small.reset();
            small.load(data);
        }
        let max_block = self.nodes.len() - WIN;
        let mut pos = 0usize;
        let mut next_search = 0usize;
        while pos < n {
            let block_start = pos;
            let max_end = n.min(pos + max_block);
            self.cache_len = 0;
            let mut cached = 0usize;
            split.reset();
            self.obs_lit.fill(0);
            self.obs_matches = 0;
            self.obs_aligned.fill(0);
            let mut next_obs = pos;

            while pos < max_end {
                let max_len = (n - pos).min(MAX_MATCH_LEN) as u32;
                let nice = p.nice.min(max_len);
                let header = self.cache_len;
                // (The cache is sized so that it always has room.)
                let room = self
                    .cache
                    .get_mut(header..)
                    .and_then(|c| c.split_first_mut());
                let room = room.and_then(|(head, found)| {
                    let found: &mut [Match; MATCHES_MAX] =
                        found.get_mut(..MATCHES_MAX)?.try_into().ok()?;
                    Some((head, found))
                });
                if let (true, Some((head, found))) = (pos >= next_search, room) {
                    let count = self
                        .bt
                        .matches_into_array(data, pos, max_len, nice, p.depth, found);
                    *head = Match {
                        len: count as u32,
                        offset: 0,
                    };
                    let best = found
                        .get(..count)
                        .and_then(|f| f.last().copied())
                        .unwrap_or_default();
                    self.cache_len += 1 + count;
                    cached += count;
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
                    if let Some(head) = self.cache.get_mut(header) {
                        *head = Match::default();
                    }
                    self.cache_len += 1;
                }
                pos += 1;
                if cached >= self.cache_limit {
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

            // A chunk that is one block and whose literals alone, with every
            // match free, would take nearly all its bytes is stored raw by
            // a caller that gave less room than the chunk: the path search
            // would gain it a few bytes at best, at twice the time of the
            // match search.
            if block_start == 0 && pos == n && w.room() < n && self.looks_incompressible(n) {
                w.give_up();
                return;
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
            let cache = self.cache.get(..self.cache_len).unwrap_or(&[]);
            // The first of several passes only sets the next pass's costs,
            // from the first seven eighths of the block: the last eighth
            // adds little to its statistics (16 MiB of /usr files at level
            // 50: about 3% less time for 0.02% more bytes).
            let draft = pass == 0 && passes > 1;
            let span = if draft { len - len / 8 } else { len };
            let search = Search {
                nodes: &mut self.nodes,
                t: &mut self.tables,
                cache,
                start,
                len: span,
                queue,
                max_offset: p.max_offset,
            };
            match &self.small {
                Some(small) if data.len() <= SMALL_CAP => search.run(
                    draft,
                    Padded {
                        bytes: small.view(),
                        len: data.len(),
                    },
                ),
                _ => search.run(draft, data),
            }
            self.record(span, seqs);
            if pass + 1 == passes {
                break;
            }
            coder.tally(&data[start..start + span], seqs, queue);
            coder.build_lens();
            self.set_costs_from_lens(coder, p.num_main_syms);
        }
    }

    /// True when the order-0 entropy of the observed literals comes to at
    /// least [`INCOMPRESSIBLE`] of the `n` bytes of the block. On 782
    /// single-block 32 KiB chunks of /usr files, every chunk above the bound
    /// came out of the full parse at 99.6% of its size or more.
    fn looks_incompressible(&self, n: usize) -> bool {
        let lits: u32 = self.obs_lit.iter().sum();
        let total = f64::from(lits.max(1));
        let bits: f64 = self
            .obs_lit
            .iter()
            .filter(|&&f| f > 0)
            .map(|&f| f64::from(f) * (total / f64::from(f)).log2())
            .sum();
        bits >= INCOMPRESSIBLE * 8.0 * n as f64
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
            let row = &mut self.tables.match_offer[slot & (SLOT_ROWS - 1)];
            for (i, c) in row[MIN_MATCH_LEN..].iter_mut().enumerate() {
                let cost = if i < NUM_PRIMARY_LENS {
                    self.main_cost[sym + i] + extra
                } else {
                    self.main_cost[sym + NUM_PRIMARY_LENS]
                        + extra
                        + self.len_cost[(i - NUM_PRIMARY_LENS).min(NUM_LEN_SYMS - 1)]
                };
                *c = u64::from(cost) << 32 | (i + MIN_MATCH_LEN) as u64;
            }
        }
        let t = &mut *self.tables;
        for (o, &c) in t.lit_offer.iter_mut().zip(&self.main_cost) {
            *o = u64::from(c) << 32 | 1;
        }
        t.aligned_offer = [0; 16];
        for (o, &c) in t.aligned_offer.iter_mut().zip(&self.aligned_cost) {
            *o = u64::from(c) << 32;
        }
    }

    /// Walks the best path back from the block end into `seqs`.
    ///
    /// Seqs are gathered last first and reversed at the end; a literal only
    /// counts. The walk waits on each node it loads unless the CPU can guess
    /// the next: a literal's step is a branch, which it predicts.
    fn record(&mut self, len: usize, seqs: &mut Vec<Seq>) {
        seqs.clear();
        let mut j = len;
        // Literals after the last match seen (those before it in the block).
        let mut lits = 0u32;
        while j > 0 {
            let item = self.nodes[j] as u32;
            let l = ((item & LEN_MASK) as usize).clamp(1, j);
            if l == 1 {
                lits += 1;
                j -= 1;
                continue;
            }
            close_lit_run(seqs, lits);
            seqs.push(Seq {
                lit_run: 0,
                len: l as u32,
                offset: item >> LEN_BITS,
            });
            lits = 0;
            j -= l;
        }
        close_lit_run(seqs, lits);
        seqs.reverse();
    }
}

/// Gives `lits` literals to the seq gathered last in a backward walk (they
/// precede that match), or ends the block with them when it has none yet.
fn close_lit_run(seqs: &mut Vec<Seq>, lits: u32) {
    match seqs.last_mut() {
        Some(s) => s.lit_run = lits,
        None if lits > 0 => seqs.push(Seq {
            lit_run: lits,
            len: 0,
            offset: 0,
        }),
        None => {}
    }
}

/// One path search's inputs besides the chunk's bytes: the block
/// `[start, start + len)` of the chunk, its cached matches and the
/// recent-offset queue it starts with.
struct Search<'a> {
    nodes: &'a mut [u64],
    t: &'a mut Tables,
    cache: &'a [Match],
    start: usize,
    len: usize,
    queue: Queue,
    max_offset: u32,
}

impl Search<'_> {
    /// [`min_cost_path`] as a draft or in full.
    fn run<B: ChunkBytes>(self, draft: bool, data: B) {
        if draft {
            min_cost_path::<B, true>(self, data)
        } else {
            min_cost_path::<B, false>(self, data)
        }
    }
}

/// The forward dynamic program over the block's positions.
///
/// A `DRAFT` search, whose path only gives the next pass its costs, offers
/// each recent-offset match and the longest explicit one at their full
/// lengths alone: it runs in about half the time, and the costs it leads
/// to gave slightly smaller output than a full first pass (16 MiB of
/// /usr files at level 50: 5,024,520 -> 5,020,438 bytes).
///
/// Kept free of data-dependent branches where it can be: an offer is a
/// `min` on a packed node, and each node's queue is selected rather than
/// branched to.
#[inline(never)]
fn min_cost_path<B: ChunkBytes, const DRAFT: bool>(search: Search<'_>, data: B) {
    let Search {
        nodes,
        t,
        cache,
        start,
        len,
        queue,
        max_offset,
    } = search;
    // Nodes past the block's end pad every window to `WIN` entries.
    let Some(nodes) = nodes.get_mut(..len + WIN) else {
        return;
    };
    if data.len() < start + len {
        return;
    }
    // Nodes start unreached. Each position's window reaches one node
    // further than the previous one's, which it clears first (below),
    // so only the first window is cleared up front.
    let first = nodes.len().min(MAX_MATCH_LEN + 1);
    nodes[..first].fill(u64::MAX);
    nodes[0] = 0;
    t.queues[0] = pack(queue);
    // Cache index of the current position's header.
    let mut ci = 0usize;
    // The current node's queue, kept out of memory: reloading the entry
    // just stored would stall on store forwarding.
    let mut q = pack(queue);
    // The current node's final entry, kept out of memory for the same
    // reason: the previous position stored it last.
    let mut here_node = 0u64;
    // Offsets are below 2^21, so `offset - 1` of 0 is out of range too.
    let max_off_m1 = max_offset.wrapping_sub(1);

    for i in 0..len {
        // The nodes a match from here can reach: `win[l]` is node
        // `i + l`.
        let max_len = (len - i).min(MAX_MATCH_LEN);
        let Some(win) = nodes
            .get_mut(i..i + WIN)
            .and_then(|w| <&mut [u64; WIN]>::try_from(w).ok())
        else {
            break;
        };
        win[MAX_MATCH_LEN] = u64::MAX;
        let base = here_node & COST_MASK;
        let count = cache.get(ci).map_or(0, |h| h.len as usize);
        // Absolute position, for offsets reaching before the block.
        let p = start + i;

        // Positions without matches (inside a long match the finder
        // skipped, or with nothing found) get no repeat-offset search
        // either: there, it would mostly re-find the long match at
        // every byte.
        if count > 0 {
            let matches = cache.get(ci + 1..ci + 1 + count).unwrap_or(&[]);
            let mut next_len = 2usize;
            // Recent offsets first, R0 before R1 before R2: each length
            // is priced with the first (cheapest) source that has it.
            let rep = RepSearch {
                data,
                p,
                here: data.load8(p),
                max_len,
                base,
            };
            rep.offer::<0, DRAFT>(win, &t.match_offer, q, &mut next_len);
            rep.offer::<1, DRAFT>(win, &t.match_offer, q, &mut next_len);
            rep.offer::<2, DRAFT>(win, &t.match_offer, q, &mut next_len);
            // Explicit offsets: for each length, the closest match.
            // When the recent offsets already cover the longest one
            // (common), one test skips them all.
            let longest = matches.last().map_or(0, |m| (m.len as usize).min(max_len));
            let matches = if longest < next_len { &[] } else { matches };
            let matches = match matches.split_last() {
                Some((last, _)) if DRAFT => std::slice::from_ref(last),
                _ => matches,
            };
            for m in matches {
                let l = (m.len as usize).min(max_len);
                if l < next_len || m.offset.wrapping_sub(1) >= max_off_m1 {
                    continue;
                }
                let formatted = m.offset + 2;
                let slot = offset_slot_fast(formatted);
                let aligned = if slot >= MIN_ALIGNED_SLOT {
                    t.aligned_offer[(formatted & 7) as usize]
                } else {
                    0
                };
                let add = (base + aligned) | u64::from(m.offset) << LEN_BITS;
                relax(
                    win,
                    &t.match_offer[slot & (SLOT_ROWS - 1)],
                    if DRAFT { l } else { next_len },
                    l,
                    add,
                );
                next_len = l + 1;
            }
        }
        ci += 1 + count;

        // Literal; ties go to the literal (its item, 1, is below every
        // match's).
        let next = &mut win[1];
        let lit = base + t.lit_offer[usize::from(data.byte(p))];
        let arrived = *next;
        let is_lit = lit <= arrived;
        here_node = lit.min(arrived);
        *next = here_node;
        let item = arrived as u32;
        // The queue after the match that arrives, computed either way.
        let from = t.queues[(i + 1).wrapping_sub((item & LEN_MASK) as usize) & RING_MASK];
        let qm = packed_update(from, item >> LEN_BITS);
        q = if is_lit { q } else { qm };
        t.queues[(i + 1) & RING_MASK] = q;
    }
}

/// Bits of a node's item holding the length (1 = literal, else a match
/// length); the offset sits above them.
const LEN_BITS: u32 = 9;
const LEN_MASK: u32 = (1 << LEN_BITS) - 1;

/// Offset slots of the formatted offsets below 1024.
const SLOT_LUT: [u8; 1024] = {
    let mut t = [0u8; 1024];
    let mut f = 0usize;
    while f < 1024 {
        t[f] = if f < 4 {
            f as u8
        } else {
            let b = 31 - (f as u32).leading_zeros();
            (2 * b + ((f as u32 >> (b - 1)) & 1)) as u8
        };
        f += 1;
    }
    t
};

/// [`offset_slot`] without branches for the offsets of chunks up to 256 KiB
/// (formatted offsets from 2 on): from 1024 on, a slot is the slot of the
/// offset shifted right by 9 bits plus 18 (two slots per bit).
#[inline(always)]
fn offset_slot_fast(formatted: u32) -> usize {
    if formatted >= 262_144 {
        return offset_slot(formatted);
    }
    let shift = if formatted >= 1024 { 9 } else { 0 };
    usize::from(SLOT_LUT[(formatted >> shift) as usize & 1023]) + 2 * shift as usize
}

/// Offers the nodes `win[lo..=hi]` a match: the offer for length `len` is
/// `row[len] + add`.
#[inline(always)]
fn relax(win: &mut [u64; WIN], row: &[u64; WIN], lo: usize, hi: usize, add: u64) {
    // `hi` never exceeds the longest match; saying so drops the checks.
    let hi = hi.min(MAX_MATCH_LEN);
    // Two lengths a step: half the loop overhead.
    let mut len = lo;
    while len < hi {
        let a = row[len].wrapping_add(add);
        let b = row[len + 1].wrapping_add(add);
        win[len] = win[len].min(a);
        win[len + 1] = win[len + 1].min(b);
        len += 2;
    }
    if len == hi {
        win[len] = win[len].min(row[len].wrapping_add(add));
    }
}

/// One position's repeat-offset search.
struct RepSearch<B> {
    data: B,
    /// The position in `data` and its node's cost bits.
    p: usize,
    base: u64,
    /// The eight bytes at `p`.
    here: u64,
    max_len: usize,
}

impl<B: ChunkBytes> RepSearch<B> {
    /// Offers the match at recent offset `K` for the lengths from
    /// `next_len` on that no cheaper source has (its full length alone in
    /// a `DRAFT`), advancing `next_len`.
    #[inline(always)]
    fn offer<const K: usize, const DRAFT: bool>(
        &self,
        win: &mut [u64; WIN],
        match_offer: &[[u64; WIN]; SLOT_ROWS],
        q: u64,
        next_len: &mut usize,
    ) {
        let off = ((q >> (K as u32 * QUEUE_BITS)) & QUEUE_MASK) as usize;
        // An offset reaching before the chunk cannot match (nor can 0,
        // which the queue never holds).
        if off.wrapping_sub(1) >= self.p {
            return;
        }
        let from = self.p - off;
        let diff = self.here ^ self.data.load8(from);
        if diff & 0xffff != 0 {
            return;
        }
        let l = if diff != 0 {
            (diff.trailing_zeros() / 8) as usize
        } else {
            self.data.extend_from_8(self.p, from, self.max_len)
        }
        .min(self.max_len);
        if l < *next_len {
            return;
        }
        let add = self.base | (off as u64) << LEN_BITS;
        relax(
            win,
            &match_offer[K],
            if DRAFT { l } else { *next_len },
            l,
            add,
        );
        *next_len = l + 1;
    }
}

/// Chunks up to this size are read from a padded copy by the path search.
const SMALL_CAP: usize = 1 << 16;
const SMALL_BUF: usize = SMALL_CAP + PAD;

/// The chunk's bytes as the path search reads them.
trait ChunkBytes: Copy {
    fn len(self) -> usize;
    /// The byte at `i` (below `len`).
    fn byte(self, i: usize) -> u8;
    /// The eight bytes at `i`, little-endian; bytes past the chunk read as
    /// zero or as stale bytes (callers cap lengths at the chunk's end).
    fn load8(self, i: usize) -> u64;
    /// Length of the common prefix at `a` and `b`, known to be at least 8,
    /// up to `max` (`a + max` within the chunk).
    fn extend_from_8(self, a: usize, b: usize, max: usize) -> usize;
}

impl ChunkBytes for &[u8] {
    #[inline(always)]
    fn len(self) -> usize {
        <[u8]>::len(self)
    }

    #[inline(always)]
    fn byte(self, i: usize) -> u8 {
        self.get(i).copied().unwrap_or(0)
    }

    #[inline(always)]
    fn load8(self, i: usize) -> u64 {
        load8(self, i)
    }

    /// Kept out of line so that the path search's loop holds no pointers
    /// for it.
    #[inline(never)]
    fn extend_from_8(self, a: usize, b: usize, max: usize) -> usize {
        extend(self, a, b, 8, max)
    }
}

/// A chunk of at most [`SMALL_CAP`] bytes in a padded [`Window`]: indices
/// are masked, so reads need no bounds checks.
#[derive(Clone, Copy)]
struct Padded<'a> {
    bytes: Bytes<'a, SMALL_CAP, SMALL_BUF>,
    len: usize,
}

impl ChunkBytes for Padded<'_> {
    #[inline(always)]
    fn len(self) -> usize {
        self.len
    }

    #[inline(always)]
    fn byte(self, i: usize) -> u8 {
        self.bytes.byte(i)
    }

    #[inline(always)]
    fn load8(self, i: usize) -> u64 {
        self.bytes.u64_le(i)
    }

    #[inline(never)]
    fn extend_from_8(self, a: usize, b: usize, max: usize) -> usize {
        self.bytes.extend(a, b, 8, max)
    }
}

/// The cost half of a packed node.
const COST_MASK: u64 = !0 << 32;

/// The eight bytes at `i`, little-endian; bytes past the end read as zero.
#[inline(always)]
fn load8(data: &[u8], i: usize) -> u64 {
    match data.get(i..i.wrapping_add(8)) {
        Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) => {
            u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
        }
        _ => load8_tail(data, i),
    }
}

#[cold]
#[inline(never)]
fn load8_tail(data: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(tail) = data.get(i..) {
        for (d, s) in b.iter_mut().zip(tail) {
            *d = *s;
        }
    }
    u64::from_le_bytes(b)
}

const QUEUE_BITS: u32 = 21;
const QUEUE_MASK: u64 = (1 << QUEUE_BITS) - 1;

/// The queue in one register: R0 in the low 21 bits, then R1, then R2
/// (offsets are below 2^21).
#[inline(always)]
fn pack(q: Queue) -> u64 {
    u64::from(q[0]) | u64::from(q[1]) << QUEUE_BITS | u64::from(q[2]) << (2 * QUEUE_BITS)
}

#[cfg(test)]
fn unpack(q: u64) -> Queue {
    [
        (q & QUEUE_MASK) as u32,
        ((q >> QUEUE_BITS) & QUEUE_MASK) as u32,
        ((q >> (2 * QUEUE_BITS)) & QUEUE_MASK) as u32,
    ]
}

/// `block::queue_update` on a packed queue (selects, no branches). Bits
/// above R2 may be left set; every reader masks them off.
#[inline(always)]
fn packed_update(q: u64, offset: u32) -> u64 {
    const M0: u64 = QUEUE_MASK;
    const M1: u64 = QUEUE_MASK << QUEUE_BITS;
    const M2: u64 = QUEUE_MASK << (2 * QUEUE_BITS);
    // Offsets are below 2^21: the offset in all three fields, so that one
    // `xor` compares it with R0, R1 and R2 at once.
    let o = u64::from(offset);
    let same = q ^ (o | o << QUEUE_BITS | o << (2 * QUEUE_BITS));
    let push = q << QUEUE_BITS | o;
    // R0 and R1 swapped: the pushed queue's first two fields (the offset,
    // then the old R0) over the old R2.
    let swap1 = (push & (M0 | M1)) | (q & !(M0 | M1));
    // Swapping R0 with R2 flips both fields by their difference.
    let d = (q ^ (q >> (2 * QUEUE_BITS))) & M0;
    let swap2 = q ^ d ^ (d << (2 * QUEUE_BITS));
    let a = if same & M2 == 0 { swap2 } else { push };
    let b = if same & M1 == 0 { swap1 } else { a };
    if same & M0 == 0 {
        q
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::super::block::queue_update;
    use super::*;

    #[test]
    fn fast_slots_agree() {
        for f in 2..400_000u32 {
            assert_eq!(offset_slot_fast(f), offset_slot(f), "formatted offset {f}");
        }
    }

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
