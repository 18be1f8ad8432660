//! Items, the adaptive state the parser tracks, the real item encoder, and
//! the near-optimal parser.
//!
//! The parser walks forward byte by byte, relaxing the cheapest known way to
//! reach each later position (literal, repeat or explicit LZ match, repeat
//! or explicit delta match, and a few two- and three-item sequences). Each
//! position carries the adaptive state (repeat queues and decision histories)
//! of its cheapest path, which prices the items leaving it; the probabilities
//! and Huffman code lengths are those of the real encoder when the stretch
//! started. A stretch ends where no path crosses the current position, or
//! after `NUM_OPTIM` bytes; its items are then encoded for real.

use super::super::constants::*;
use super::super::{push_rep, take_rep};
use super::coder::{
    bit_cost, BitCosts, Code, Output, Probs, SlotTables, COST_SHIFT, MAX_FAST_LENGTH,
};
use super::mf::{extend, extend_delta, DeltaFinder, DeltaMatch, LzFinder, Match, DELTA_POS_BITS};
use crate::huffman_build::LengthBuilder;

/// Most bytes one stretch of the parse may cover before it is encoded.
pub(super) const NUM_OPTIM: usize = 2048;
/// Nodes needed: the stretch plus the farthest a lookahead can reach past it.
pub(super) const NUM_NODES: usize = NUM_OPTIM + 2 * MAX_FAST_LENGTH + 2;

/// Number of usable repeat offsets.
const NUM_REPS: u32 = 3;
/// Delta sources are tagged with this bit.
const DELTA_TAG: u32 = 1 << 31;
const PAIR_MASK: u32 = (1 << DELTA_POS_BITS) - 1;
/// Largest raw delta offset the packed pairs can hold.
const MAX_RAW_DELTA: u32 = PAIR_MASK - NUM_REPS;

/// A literal (len 1, src = byte) or a match (len >= 2). Match sources: LZ
/// repeat index (0..3); LZ offset + 2; with `DELTA_TAG`: delta repeat index,
/// or (power << 28 | raw offset) + 2.
#[derive(Clone, Copy, Default)]
pub(super) struct Item {
    pub(super) len: u32,
    pub(super) src: u32,
}

/// What the parser tracks per position: repeat queues (with the delayed
/// insertion of the latest source) and decision histories.
#[derive(Clone, Copy)]
pub(super) struct AState {
    lz_reps: [u32; 4],
    lz_prev: u32,
    d_reps: [u32; 4],
    d_prev: u32,
    /// The decision histories, one byte each at the `*_AT` bit offsets,
    /// packed so that they are always written whole: the next step reads
    /// them right back, and a read over several separate byte stores stalls.
    hist: u64,
}

const MAIN_AT: u32 = 0;
const MATCH_AT: u32 = 8;
const LZ_AT: u32 = 16;
const LZ_REP_AT: u32 = 24;
const DELTA_AT: u32 = 40;
const DELTA_REP_AT: u32 = 48;

/// `hist` with the history at bit `at` shifted left by one, taking `bit`,
/// and cut to `mask`.
#[inline(always)]
fn push_bit(hist: u64, at: u32, bit: u64, mask: u64) -> u64 {
    let v = (((hist >> at) << 1) | bit) & mask;
    (hist & !(0xFF << at)) | (v << at)
}

impl AState {
    pub(super) const INITIAL: AState = AState {
        lz_reps: [1, 2, 3, 4],
        lz_prev: 0,
        d_reps: [1, 2, 3, 4],
        d_prev: 0,
        hist: 0,
    };

    #[inline(always)]
    fn history(&self, at: u32) -> u8 {
        (self.hist >> at) as u8
    }

    #[inline(always)]
    fn main(&self) -> u8 {
        self.history(MAIN_AT)
    }

    #[inline(always)]
    fn mat(&self) -> u8 {
        self.history(MATCH_AT)
    }

    #[inline(always)]
    fn lz(&self) -> u8 {
        self.history(LZ_AT)
    }

    /// The history of LZ repeat decision `i` (< 2).
    #[inline(always)]
    fn lz_rep(&self, i: usize) -> u8 {
        self.history(LZ_REP_AT + 8 * (i as u32 & 1))
    }

    #[inline(always)]
    fn delta(&self) -> u8 {
        self.history(DELTA_AT)
    }

    /// The history of delta repeat decision `i` (< 2).
    #[inline(always)]
    fn delta_rep(&self, i: usize) -> u8 {
        self.history(DELTA_REP_AT + 8 * (i as u32 & 1))
    }

    #[inline(always)]
    fn apply(&mut self, item: Item) {
        let mut lz_next = 0;
        let mut d_next = 0;
        let mut h = self.hist;
        if item.len > 1 {
            h = push_bit(h, MAIN_AT, 1, 15);
            if item.src & DELTA_TAG != 0 {
                let src = item.src & !DELTA_TAG;
                h = push_bit(h, MATCH_AT, 1, 31);
                if src >= NUM_REPS {
                    h = push_bit(h, DELTA_AT, 0, 63);
                    d_next = src - (NUM_REPS - 1);
                } else {
                    let idx = src as usize;
                    h = push_bit(h, DELTA_AT, 1, 63);
                    h = rep_histories(h, DELTA_REP_AT, idx);
                    d_next = take_rep_at(&mut self.d_reps, idx);
                }
            } else {
                h = push_bit(h, MATCH_AT, 0, 31);
                if item.src >= NUM_REPS {
                    h = push_bit(h, LZ_AT, 0, 63);
                    lz_next = item.src - (NUM_REPS - 1);
                } else {
                    let idx = item.src as usize;
                    h = push_bit(h, LZ_AT, 1, 63);
                    h = rep_histories(h, LZ_REP_AT, idx);
                    lz_next = take_rep_at(&mut self.lz_reps, idx);
                }
            }
        } else {
            h = push_bit(h, MAIN_AT, 0, 15);
        }
        self.hist = h;
        if self.lz_prev != 0 {
            push_rep(&mut self.lz_reps, self.lz_prev);
        }
        self.lz_prev = lz_next;
        if self.d_prev != 0 {
            push_rep(&mut self.d_reps, self.d_prev);
        }
        self.d_prev = d_next;
    }
}

/// `take_rep` for the parser's states, with every element picked by
/// selects rather than by an index: the state then stays out of memory until
/// it is stored whole (a whole-state copy read right after piecewise stores
/// to its memory stalls).
#[inline(always)]
fn take_rep_at(reps: &mut [u32; 4], idx: usize) -> u32 {
    let [r0, r1, r2, r3] = *reps;
    let v = match idx {
        0 => r0,
        1 => r1,
        _ => r2,
    };
    *reps = [
        if idx == 0 { r1 } else { r0 },
        if idx <= 1 { r2 } else { r1 },
        r3,
        r3,
    ];
    v
}

/// `hist` after using repeat entry `idx`, for the two repeat-decision
/// histories at `at` and `at + 8`: a 1 for each entry passed over, a 0 for
/// the one taken (no decision for the third).
#[inline(always)]
fn rep_histories(hist: u64, at: u32, idx: usize) -> u64 {
    match idx {
        0 => push_bit(hist, at, 0, 63),
        1 => push_bit(push_bit(hist, at, 1, 63), at + 8, 0, 63),
        _ => push_bit(push_bit(hist, at, 1, 63), at + 8, 1, 63),
    }
}

/// How the cheapest known path reaches a position.
#[derive(Clone, Copy)]
struct Link {
    /// The last item of the path, and up to two items before it (latest
    /// first) when it was found by a lookahead.
    item: Item,
    extra: [Item; 2],
    num_extra: u8,
}

/// The parser's per-position records, one array per field: relaxing a run
/// of match lengths compares many costs but rarely improves one, so the
/// costs are kept dense.
pub(super) struct Nodes {
    costs: Vec<u32>,
    links: Vec<Link>,
    /// The adaptive state after the cheapest path, once it is final.
    states: Vec<AState>,
}

impl Nodes {
    pub(super) fn new() -> Self {
        let link = Link {
            item: Item { len: 1, src: 0 },
            extra: [Item { len: 1, src: 0 }; 2],
            num_extra: 0,
        };
        Nodes {
            costs: vec![u32::MAX; NUM_NODES],
            links: vec![link; NUM_NODES],
            states: vec![AState::INITIAL; NUM_NODES],
        }
    }

    pub(super) fn memory_usage() -> usize {
        use std::mem::size_of;
        NUM_NODES * (size_of::<u32>() + size_of::<Link>() + size_of::<AState>())
    }
}

/// The real encoder: probabilities, Huffman codes and repeat queues exactly
/// as the decoder will have them.
pub(super) struct Coder {
    probs: Box<Probs>,
    main: u8,
    mat: u8,
    lz: u8,
    lz_rep: [u8; 2],
    delta: u8,
    delta_rep: [u8; 2],
    lz_reps: [u32; 4],
    lz_pending: u32,
    last_was_lz: bool,
    d_reps: [u32; 4],
    d_pending: u32,
    last_was_delta: bool,
    literal: Code,
    lz_offset: Code,
    length: Code,
    delta_offset: Code,
    delta_power: Code,
    builder: LengthBuilder,
    /// Current cost of each match length up to MAX_FAST_LENGTH.
    len_cost: Box<[u32; MAX_FAST_LENGTH + 1]>,
    pub(super) slots: SlotTables,
    costs: BitCosts,
}

impl Coder {
    pub(super) fn new() -> Self {
        Coder {
            probs: Box::new(Probs::INITIAL_PROBS),
            main: 0,
            mat: 0,
            lz: 0,
            lz_rep: [0; 2],
            delta: 0,
            delta_rep: [0; 2],
            lz_reps: [1, 2, 3, 4],
            lz_pending: 0,
            last_was_lz: false,
            d_reps: [1, 2, 3, 4],
            d_pending: 0,
            last_was_delta: false,
            literal: Code::new(NUM_LITERAL_SYMS, LITERAL_REBUILD_FREQ),
            lz_offset: Code::new(MAX_NUM_OFFSET_SYMS, LZ_OFFSET_REBUILD_FREQ),
            length: Code::new(NUM_LENGTH_SYMS, LENGTH_REBUILD_FREQ),
            delta_offset: Code::new(MAX_NUM_OFFSET_SYMS, DELTA_OFFSET_REBUILD_FREQ),
            delta_power: Code::new(NUM_DELTA_POWER_SYMS, DELTA_POWER_REBUILD_FREQ),
            builder: LengthBuilder::new(),
            len_cost: Box::new([0; MAX_FAST_LENGTH + 1]),
            slots: SlotTables::new(),
            costs: BitCosts::new(),
        }
    }

    pub(super) fn reset(&mut self, num_offset_syms: usize) {
        *self.probs = Probs::INITIAL_PROBS;
        self.probs.init_costs(&self.costs);
        self.main = 0;
        self.mat = 0;
        self.lz = 0;
        self.lz_rep = [0; 2];
        self.delta = 0;
        self.delta_rep = [0; 2];
        self.lz_reps = [1, 2, 3, 4];
        self.lz_pending = 0;
        self.last_was_lz = false;
        self.d_reps = [1, 2, 3, 4];
        self.d_pending = 0;
        self.last_was_delta = false;
        let b = &mut self.builder;
        self.literal.reset(NUM_LITERAL_SYMS, b);
        self.lz_offset.reset(num_offset_syms, b);
        self.length.reset(NUM_LENGTH_SYMS, b);
        self.delta_offset.reset(num_offset_syms, b);
        self.delta_power.reset(NUM_DELTA_POWER_SYMS, b);
        self.update_len_costs();
    }

    fn update_len_costs(&mut self) {
        for len in 0..=MAX_FAST_LENGTH {
            let slot = self.slots.length_slot(len as u32);
            self.len_cost[len] = (u32::from(self.length.lens[slot])
                + u32::from(LENGTH_EXTRA_BITS[slot]))
                << COST_SHIFT;
        }
    }

    fn encode_length(&mut self, out: &mut Output<'_>, len: u32) {
        let slot = self.slots.length_slot(len);
        if self.length.encode(slot, out, &mut self.builder) {
            self.update_len_costs();
        }
        out.write_bits(len - LENGTH_BASE[slot], u32::from(LENGTH_EXTRA_BITS[slot]));
    }

    fn encode_offset(&mut self, out: &mut Output<'_>, offset: u32, delta: bool) {
        let slot = self.slots.offset_slot(offset);
        let code = if delta {
            &mut self.delta_offset
        } else {
            &mut self.lz_offset
        };
        code.encode(slot, out, &mut self.builder);
        out.write_bits(
            offset - OFFSET_BASE[slot],
            u32::from(OFFSET_EXTRA_BITS[slot]),
        );
    }

    pub(super) fn encode_item(&mut self, out: &mut Output<'_>, item: Item) {
        let p = &mut *self.probs;
        if item.len <= 1 {
            out.encode(0, &mut self.main, &mut p.main);
            self.literal
                .encode(item.src as usize & 0xFF, out, &mut self.builder);
            self.last_was_lz = false;
            self.last_was_delta = false;
            return;
        }
        out.encode(1, &mut self.main, &mut p.main);
        if item.src & DELTA_TAG == 0 {
            out.encode(0, &mut self.mat, &mut p.is_delta);
            if self.lz_pending != 0 && !self.last_was_lz {
                push_rep(&mut self.lz_reps, self.lz_pending);
                self.lz_pending = 0;
            }
            let offset;
            if item.src >= NUM_REPS {
                out.encode(0, &mut self.lz, &mut p.lz_is_rep);
                offset = item.src - (NUM_REPS - 1);
                self.encode_offset(out, offset, false);
            } else {
                out.encode(1, &mut self.lz, &mut p.lz_is_rep);
                let idx = item.src as usize;
                for i in 0..idx.min(2) {
                    out.encode(1, &mut self.lz_rep[i], &mut p.lz_rep[i]);
                }
                if idx < 2 {
                    out.encode(0, &mut self.lz_rep[idx], &mut p.lz_rep[idx]);
                }
                offset = take_rep(&mut self.lz_reps, idx.min(2));
            }
            if self.lz_pending != 0 {
                push_rep(&mut self.lz_reps, self.lz_pending);
            }
            self.lz_pending = offset;
            self.last_was_lz = true;
            self.last_was_delta = false;
        } else {
            out.encode(1, &mut self.mat, &mut p.is_delta);
            if self.d_pending != 0 && !self.last_was_delta {
                push_rep(&mut self.d_reps, self.d_pending);
                self.d_pending = 0;
            }
            let src = item.src & !DELTA_TAG;
            let pair;
            if src >= NUM_REPS {
                out.encode(0, &mut self.delta, &mut p.delta_is_rep);
                pair = src - (NUM_REPS - 1);
                let power = pair >> DELTA_POS_BITS;
                self.delta_power
                    .encode(power as usize, out, &mut self.builder);
                self.encode_offset(out, pair & PAIR_MASK, true);
            } else {
                out.encode(1, &mut self.delta, &mut p.delta_is_rep);
                let idx = src as usize;
                for i in 0..idx.min(2) {
                    out.encode(1, &mut self.delta_rep[i], &mut p.delta_rep[i]);
                }
                if idx < 2 {
                    out.encode(0, &mut self.delta_rep[idx], &mut p.delta_rep[idx]);
                }
                pair = take_rep(&mut self.d_reps, idx.min(2));
            }
            if self.d_pending != 0 {
                push_rep(&mut self.d_reps, self.d_pending);
            }
            self.d_pending = pair;
            self.last_was_delta = true;
            self.last_was_lz = false;
        }
        self.encode_length(out, item.len);
    }

    #[inline(always)]
    fn literal_cost(&self, main: u8, byte: u8) -> u32 {
        bit_cost(&self.probs.main, main, 0)
            + (u32::from(self.literal.lens[byte as usize]) << COST_SHIFT)
    }

    #[inline(always)]
    fn lz_offset_cost(&self, offset: u32) -> u32 {
        let slot = self.slots.offset_slot(offset);
        (u32::from(self.lz_offset.lens[slot]) + u32::from(OFFSET_EXTRA_BITS[slot])) << COST_SHIFT
    }

    #[inline(always)]
    fn delta_source_cost(&self, power: u32, raw: u32) -> u32 {
        let slot = self.slots.offset_slot(raw);
        (u32::from(self.delta_power.lens[power as usize & 7])
            + u32::from(self.delta_offset.lens[slot])
            + u32::from(OFFSET_EXTRA_BITS[slot]))
            << COST_SHIFT
    }

    /// Cost of the bits that pick an LZ repeat match at `idx`, from the
    /// main decision on.
    #[inline(always)]
    fn lz_rep_cost(&self, st: &AState, idx: usize) -> u32 {
        let p = &*self.probs;
        let mut cost = bit_cost(&p.main, st.main(), 1)
            + bit_cost(&p.is_delta, st.mat(), 0)
            + bit_cost(&p.lz_is_rep, st.lz(), 1);
        for i in 0..idx.min(2) {
            cost += bit_cost(&p.lz_rep[i], st.lz_rep(i), 1);
        }
        if idx < 2 {
            cost += bit_cost(&p.lz_rep[idx], st.lz_rep(idx), 0);
        }
        cost
    }

    #[inline(always)]
    fn delta_rep_cost(&self, st: &AState, idx: usize) -> u32 {
        let p = &*self.probs;
        let mut cost = bit_cost(&p.main, st.main(), 1)
            + bit_cost(&p.is_delta, st.mat(), 1)
            + bit_cost(&p.delta_is_rep, st.delta(), 1);
        for i in 0..idx.min(2) {
            cost += bit_cost(&p.delta_rep[i], st.delta_rep(i), 1);
        }
        if idx < 2 {
            cost += bit_cost(&p.delta_rep[idx], st.delta_rep(idx), 0);
        }
        cost
    }
}

/// Level-dependent choices.
#[derive(Clone, Copy)]
pub(super) struct Params {
    pub(super) nice: usize,
    pub(super) use_delta: bool,
    /// LZ match length from which the delta search is skipped.
    pub(super) delta_skip_len: usize,
    /// Whether the positions skipped so are still put in the delta finder.
    pub(super) record_delta_skipped: bool,
    pub(super) try_match_lit_rep0: bool,
    pub(super) try_lit_rep0: bool,
    pub(super) try_rep_lit_rep0: bool,
}

/// Everything the parser works on, borrowed separately.
pub(super) struct Parse<'a, 'o> {
    pub(super) nodes: &'a mut Nodes,
    pub(super) items: &'a mut Vec<Item>,
    pub(super) matches: &'a mut [Match],
    pub(super) dmatches: &'a mut [DeltaMatch],
    pub(super) coder: &'a mut Coder,
    pub(super) out: &'a mut Output<'o>,
    pub(super) mf: &'a mut LzFinder,
    pub(super) df: &'a mut DeltaFinder,
    pub(super) data: &'a [u8],
    pub(super) params: Params,
}

impl Parse<'_, '_> {
    /// Encodes the cheapest path to node `end` (a stretch starting at node 0).
    fn encode_path(&mut self, end: usize) {
        self.items.clear();
        let mut i = end;
        while i > 0 {
            let node = &self.nodes.links[i];
            let mut total = node.item.len as usize;
            self.items.push(node.item);
            for k in 0..node.num_extra as usize {
                self.items.push(node.extra[k]);
                total += node.extra[k].len as usize;
            }
            i = i.saturating_sub(total);
        }
        for k in (0..self.items.len()).rev() {
            let item = self.items[k];
            self.coder.encode_item(self.out, item);
        }
    }

    /// Ends the stretch at `cur` with one long match taken at once, then
    /// restarts from the position after it.
    fn take_long(&mut self, cur: usize, item: Item) {
        self.encode_path(cur);
        self.coder.encode_item(self.out, item);
        let mut st = self.nodes.states[cur];
        st.apply(item);
        self.nodes.states[0] = st;
    }

    #[inline(always)]
    fn relax(&mut self, at: usize, cost: u32, item: Item) {
        if cost < self.nodes.costs[at] {
            self.nodes.costs[at] = cost;
            let link = &mut self.nodes.links[at];
            link.item = item;
            link.num_extra = 0;
        }
    }

    /// Relaxes nodes `cur + lo ..= cur + hi` with matches of those lengths
    /// from `src` costing `base` plus the length cost.
    #[inline(always)]
    fn relax_lens(&mut self, cur: usize, lo: usize, hi: usize, base: u32, src: u32) {
        let count = (hi + 1).saturating_sub(lo);
        let (Some(costs), Some(links), Some(len_costs)) = (
            self.nodes.costs.get_mut(cur + lo..cur + lo + count),
            self.nodes.links.get_mut(cur + lo..cur + lo + count),
            self.coder.len_cost.get(lo..lo + count),
        ) else {
            return;
        };
        for i in 0..count {
            let c = base + len_costs[i];
            if c < costs[i] {
                costs[i] = c;
                links[i].item = Item {
                    len: (lo + i) as u32,
                    src,
                };
                links[i].num_extra = 0;
            }
        }
    }

    #[inline(always)]
    fn relax3(&mut self, at: usize, cost: u32, item: Item, extra: [Item; 2], num_extra: u8) {
        if cost < self.nodes.costs[at] {
            self.nodes.costs[at] = cost;
            self.nodes.links[at] = Link {
                item,
                extra,
                num_extra,
            };
        }
    }

    pub(super) fn run(&mut self) {
        let data = self.data;
        let n = data.len();
        let nice = self.params.nice;
        let use_delta = self.params.use_delta;
        let lz_nice = self.mf.nice().min(nice);
        let mut pos = 0usize;
        self.nodes.states[0] = AState::INITIAL;
        'stretch: loop {
            if self.out.overflow || pos >= n {
                return;
            }
            self.nodes.costs[0] = 0;
            let mut cur = 0usize;
            let mut end = 0usize;
            // The state at `cur`, carried over from the previous step rather
            // than read back from `states` right after it was stored there.
            let mut st = self.nodes.states[0];
            loop {
                let cost0 = self.nodes.costs[cur];
                let rem = n - pos;

                // Longest LZ match seen here (repeat or explicit).
                let mut longest_lz = 0usize;

                // Repeat-offset LZ matches.
                if rem >= 2 {
                    for idx in 0..NUM_REPS as usize {
                        let off = st.lz_reps[idx] as usize;
                        if off == 0 || off > pos {
                            continue;
                        }
                        let src = pos - off;
                        if data[pos] != data[src] || data[pos + 1] != data[src + 1] {
                            continue;
                        }
                        let len = extend(data, pos, src, 2, rem);
                        longest_lz = longest_lz.max(len);
                        if len >= nice {
                            let item = Item {
                                len: len as u32,
                                src: idx as u32,
                            };
                            self.take_long(cur, item);
                            self.mf.skip(data, pos, len);
                            if use_delta {
                                self.df.skip(data, pos, len);
                            }
                            pos += len;
                            continue 'stretch;
                        }
                        while end < cur + len {
                            end += 1;
                            self.nodes.costs[end] = u32::MAX;
                        }
                        let base = cost0 + self.coder.lz_rep_cost(&st, idx);
                        self.relax_lens(cur, 2, len, base, idx as u32);
                        // Repeat match, literal, then the same offset again.
                        if self.params.try_rep_lit_rep0 && rem >= len + 3 {
                            let a = pos + len + 1;
                            let b = src + len + 1;
                            if data[a] == data[b] && data[a + 1] == data[b + 1] {
                                let len2 = extend(data, a, b, 2, nice.min(n - a));
                                let co = &*self.coder;
                                let p = &*co.probs;
                                let main1 = ((st.main() << 1) | 1) & 15;
                                let mat1 = (st.mat() << 1) & 31;
                                let lz1 = ((st.lz() << 1) | 1) & 63;
                                let rep0 = ((st.lz_rep(0) << 1) | u8::from(idx > 0)) & 63;
                                let lit = data[pos + len];
                                let main2 = (main1 << 1) & 15;
                                let c = base
                                    + co.len_cost[len]
                                    + co.literal_cost(main1, lit)
                                    + bit_cost(&p.main, main2, 1)
                                    + bit_cost(&p.is_delta, mat1, 0)
                                    + bit_cost(&p.lz_is_rep, lz1, 1)
                                    + bit_cost(&p.lz_rep[0], rep0, 0)
                                    + co.len_cost[len2];
                                let total = len + 1 + len2;
                                while end < cur + total {
                                    end += 1;
                                    self.nodes.costs[end] = u32::MAX;
                                }
                                self.relax3(
                                    cur + total,
                                    c,
                                    Item {
                                        len: len2 as u32,
                                        src: 0,
                                    },
                                    [
                                        Item {
                                            len: 1,
                                            src: u32::from(lit),
                                        },
                                        Item {
                                            len: len as u32,
                                            src: idx as u32,
                                        },
                                    ],
                                    2,
                                );
                            }
                        }
                    }
                }

                // Repeat-offset delta matches.
                if use_delta && rem >= 2 {
                    for idx in 0..NUM_REPS as usize {
                        let pair = st.d_reps[idx];
                        let power = pair >> DELTA_POS_BITS;
                        let span = 1usize << power;
                        let off = ((pair & PAIR_MASK) as usize) << power;
                        if off == 0 || off + span > pos {
                            continue;
                        }
                        let m = pos - off;
                        let d = |i: usize| data[i].wrapping_sub(data[i - span]);
                        if d(pos) != d(m) || d(pos + 1) != d(m + 1) {
                            continue;
                        }
                        let len = extend_delta(data, pos, m, span, 2);
                        if len >= nice {
                            let item = Item {
                                len: len as u32,
                                src: DELTA_TAG | idx as u32,
                            };
                            self.take_long(cur, item);
                            self.mf.skip(data, pos, len);
                            self.df.skip(data, pos, len);
                            pos += len;
                            continue 'stretch;
                        }
                        while end < cur + len {
                            end += 1;
                            self.nodes.costs[end] = u32::MAX;
                        }
                        let base = cost0 + self.coder.delta_rep_cost(&st, idx);
                        self.relax_lens(cur, 2, len, base, DELTA_TAG | idx as u32);
                    }
                }

                // Explicit-offset LZ matches.
                let num = self.mf.get_matches(data, pos, self.matches);
                if num > 0 {
                    longest_lz = longest_lz.max(self.matches[0].len as usize);
                }
                if num > 0 {
                    let longest = self.matches[0];
                    if longest.len as usize >= lz_nice {
                        let off = longest.offset as usize;
                        let len = extend(data, pos, pos - off, longest.len as usize, rem);
                        let item = Item {
                            len: len as u32,
                            src: off as u32 + (NUM_REPS - 1),
                        };
                        self.take_long(cur, item);
                        self.mf.skip(data, pos + 1, len - 1);
                        if use_delta {
                            self.df.skip(data, pos, len);
                        }
                        pos += len;
                        continue 'stretch;
                    }
                    while end < cur + longest.len as usize {
                        end += 1;
                        self.nodes.costs[end] = u32::MAX;
                    }
                    let co = &*self.coder;
                    let base = cost0
                        + bit_cost(&co.probs.main, st.main(), 1)
                        + bit_cost(&co.probs.is_delta, st.mat(), 0)
                        + bit_cost(&co.probs.lz_is_rep, st.lz(), 0);
                    let mut l = 2usize;
                    for i in (0..num).rev() {
                        let m = self.matches[i];
                        let mlen = m.len as usize;
                        let pc = base + self.coder.lz_offset_cost(m.offset);
                        if l <= mlen {
                            self.relax_lens(cur, l, mlen, pc, m.offset + (NUM_REPS - 1));
                            l = mlen + 1;
                        }
                        // Match, literal, then the same offset again.
                        if self.params.try_match_lit_rep0 && rem >= mlen + 3 {
                            let a = pos + mlen + 1;
                            let b = a - m.offset as usize;
                            if data[a] == data[b] && data[a + 1] == data[b + 1] {
                                let len2 = extend(data, a, b, 2, nice.min(n - a));
                                let co = &*self.coder;
                                let p = &*co.probs;
                                let main1 = ((st.main() << 1) | 1) & 15;
                                let mat1 = (st.mat() << 1) & 31;
                                let lz1 = (st.lz() << 1) & 63;
                                let lit = data[pos + mlen];
                                let main2 = (main1 << 1) & 15;
                                let c = pc
                                    + co.len_cost[mlen]
                                    + co.literal_cost(main1, lit)
                                    + bit_cost(&p.main, main2, 1)
                                    + bit_cost(&p.is_delta, mat1, 0)
                                    + bit_cost(&p.lz_is_rep, lz1, 1)
                                    + bit_cost(&p.lz_rep[0], st.lz_rep(0), 0)
                                    + co.len_cost[len2];
                                let total = mlen + 1 + len2;
                                while end < cur + total {
                                    end += 1;
                                    self.nodes.costs[end] = u32::MAX;
                                }
                                self.relax3(
                                    cur + total,
                                    c,
                                    Item {
                                        len: len2 as u32,
                                        src: 0,
                                    },
                                    [
                                        Item {
                                            len: 1,
                                            src: u32::from(lit),
                                        },
                                        Item {
                                            len: mlen as u32,
                                            src: m.offset + (NUM_REPS - 1),
                                        },
                                    ],
                                    2,
                                );
                            }
                        }
                    }
                }

                // Explicit-offset delta matches.
                // Where a long LZ match starts, a delta match rarely wins:
                // no search there. The position need not even be recorded:
                // its bytes repeat earlier ones, whose keys are in the table
                // already, and a later delta match reaches that copy instead,
                // a little farther back.
                if use_delta && longest_lz >= self.params.delta_skip_len {
                    if self.params.record_delta_skipped {
                        self.df.skip(data, pos, 1);
                    }
                } else if use_delta {
                    let num = self.df.find(data, pos, self.dmatches);
                    for i in 0..num {
                        let dm = self.dmatches[i];
                        if dm.raw > MAX_RAW_DELTA {
                            continue;
                        }
                        let pair = (dm.power << DELTA_POS_BITS) | dm.raw;
                        let src = DELTA_TAG | (pair + (NUM_REPS - 1));
                        let len = dm.len as usize;
                        if len >= nice {
                            let item = Item {
                                len: len as u32,
                                src,
                            };
                            self.take_long(cur, item);
                            self.mf.skip(data, pos + 1, len - 1);
                            self.df.skip(data, pos + 1, len - 1);
                            pos += len;
                            continue 'stretch;
                        }
                        while end < cur + len {
                            end += 1;
                            self.nodes.costs[end] = u32::MAX;
                        }
                        let co = &*self.coder;
                        let base = cost0
                            + bit_cost(&co.probs.main, st.main(), 1)
                            + bit_cost(&co.probs.is_delta, st.mat(), 1)
                            + bit_cost(&co.probs.delta_is_rep, st.delta(), 0)
                            + co.delta_source_cost(dm.power, dm.raw);
                        self.relax_lens(cur, 3, len, base, src);
                    }
                }

                // Literal.
                if end < cur + 1 {
                    end = cur + 1;
                    self.nodes.costs[end] = u32::MAX;
                }
                let lit = data[pos];
                let lit_cost = cost0 + self.coder.literal_cost(st.main(), lit);
                if lit_cost < self.nodes.costs[cur + 1] {
                    self.relax(
                        cur + 1,
                        lit_cost,
                        Item {
                            len: 1,
                            src: u32::from(lit),
                        },
                    );
                } else if self.params.try_lit_rep0 && rem >= 3 {
                    // Literal, then the latest offset again.
                    let off = if st.lz_prev != 0 {
                        st.lz_prev
                    } else {
                        st.lz_reps[0]
                    } as usize;
                    let a = pos + 1;
                    if off <= a && data[a] == data[a - off] && data[a + 1] == data[a + 1 - off] {
                        let len2 = extend(data, a, a - off, 2, nice.min(n - a));
                        let co = &*self.coder;
                        let p = &*co.probs;
                        let main1 = (st.main() << 1) & 15;
                        let c = lit_cost
                            + bit_cost(&p.main, main1, 1)
                            + bit_cost(&p.is_delta, st.mat(), 0)
                            + bit_cost(&p.lz_is_rep, st.lz(), 1)
                            + bit_cost(&p.lz_rep[0], st.lz_rep(0), 0)
                            + co.len_cost[len2];
                        let total = 1 + len2;
                        while end < cur + total {
                            end += 1;
                            self.nodes.costs[end] = u32::MAX;
                        }
                        self.relax3(
                            cur + total,
                            c,
                            Item {
                                len: len2 as u32,
                                src: 0,
                            },
                            [
                                Item {
                                    len: 1,
                                    src: u32::from(lit),
                                },
                                Item::default(),
                            ],
                            1,
                        );
                    }
                }

                pos += 1;
                cur += 1;

                // The cheapest path here is now final: derive its state.
                let link = &self.nodes.links[cur];
                let (item, num_extra) = (link.item, link.num_extra as usize);
                let s = if num_extra == 0 {
                    let mut s = self.nodes.states[cur - item.len as usize];
                    s.apply(item);
                    s
                } else {
                    let extra = link.extra;
                    let mut from = cur - item.len as usize;
                    for e in &extra[..num_extra] {
                        from -= e.len as usize;
                    }
                    let mut s = self.nodes.states[from];
                    for e in extra[..num_extra].iter().rev() {
                        s.apply(*e);
                    }
                    s.apply(item);
                    s
                };
                self.nodes.states[cur] = s;

                if cur == end || cur >= NUM_OPTIM {
                    self.encode_path(cur);
                    self.nodes.states[0] = s;
                    continue 'stretch;
                }
                st = s;
            }
        }
    }
}
