//! The fast parser (low levels): hash chains, one step of lazy evaluation,
//! and the recent-offsets queue checked at every position.

use super::super::constants::extra_bits;
use super::bitout::BitWriter;
use super::block::{offset_slot, queue_update, Coder, Queue, Seq, MAX_MATCH_LEN};
use super::extend;
use super::split::{SplitStats, MIN_BLOCK_SIZE, SOFT_MAX_BLOCK_SIZE};
use crate::matchfinder::HashChains;

/// Longest stretch a lazy block may overrun the soft maximum by (a chain of
/// lazy steps, then one match); bounds the per-block buffers.
pub(super) const LAZY_OVERRUN: usize = 4 * 1024;

pub(super) struct LazyParams {
    pub(super) depth: u32,
    pub(super) nice: u32,
    pub(super) max_offset: u32,
}

/// Estimated bits a match saves over coding its bytes as literals (scaled
/// by 4); positive means worth taking.
#[inline(always)]
fn gain_explicit(len: u32, offset: u32) -> i32 {
    let slot = offset_slot(offset + 2);
    let mut cost = 36 + 4 * extra_bits(slot) as i32;
    if len >= 9 {
        cost += 12;
    }
    (len as i32) * 32 - cost
}

#[inline(always)]
fn gain_rep(len: u32, idx: usize) -> i32 {
    let mut cost = 26 + 4 * idx as i32;
    if len >= 9 {
        cost += 12;
    }
    (len as i32) * 32 - cost
}

/// The best match at `pos` as (len, offset, gain); len 0 when none.
/// Inserts `pos` into the hash chains.
#[inline(always)]
fn best_at(
    hc: &mut HashChains,
    data: &[u8],
    pos: usize,
    queue: &Queue,
    depth: u32,
    p: &LazyParams,
) -> (u32, u32, i32) {
    let max_len = (data.len() - pos).min(MAX_MATCH_LEN);
    let nice = p.nice.min(max_len as u32);
    let m = hc.longest_match(data, pos, 1, max_len as u32, nice, depth);
    let mut best = (0u32, 0u32, 0i32);
    if m.len >= 2 && m.offset >= 1 && m.offset <= p.max_offset && (m.offset as usize) <= pos {
        let len = m.len.min(max_len as u32);
        best = (len, m.offset, gain_explicit(len, m.offset));
    }
    if max_len >= 2 {
        let here = u16::from_le_bytes([data[pos], data[pos + 1]]);
        for (k, &off) in queue.iter().enumerate() {
            let Some(b) = pos.checked_sub(off as usize) else {
                continue;
            };
            if off == 0 || u16::from_le_bytes([data[b], data[b + 1]]) != here {
                continue;
            }
            let len = extend(data, pos, b, 2, max_len) as u32;
            let g = gain_rep(len, k);
            if g > best.2 {
                best = (len, off, g);
            }
        }
    }
    best
}

/// Parses and writes a whole chunk.
pub(super) fn compress_lazy(
    hc: &mut HashChains,
    data: &[u8],
    w: &mut BitWriter,
    coder: &mut Coder,
    seqs: &mut Vec<Seq>,
    split: &mut SplitStats,
    p: &LazyParams,
) {
    let n = data.len();
    hc.reset();
    seqs.clear();
    split.reset();
    let mut queue = coder.queue;
    let mut pos = 0usize;
    let mut inserted = 0usize; // next position the chains have not seen
    let mut block_start = 0usize;
    let mut lit_start = 0usize;
    let lazy_depth = (p.depth / 2).max(1);

    while pos < n {
        if pos + 2 > n {
            split.literal(data[pos]);
            pos += 1;
            continue;
        }
        let (mut len, mut off, mut gain) = best_at(hc, data, pos, &queue, p.depth, p);
        inserted = inserted.max(pos + 1);
        if gain <= 0 {
            split.literal(data[pos]);
            pos += 1;
        } else {
            // Lazy evaluation: prefer a better match one byte later.
            while len < p.nice
                && pos + 3 <= n
                && pos - block_start < SOFT_MAX_BLOCK_SIZE + LAZY_OVERRUN / 2
            {
                let (l2, o2, g2) = best_at(hc, data, pos + 1, &queue, lazy_depth, p);
                inserted = inserted.max(pos + 2);
                if g2 > gain {
                    split.literal(data[pos]);
                    pos += 1;
                    (len, off, gain) = (l2, o2, g2);
                } else {
                    break;
                }
            }
            seqs.push(Seq {
                lit_run: (pos - lit_start) as u32,
                len,
                offset: off,
            });
            queue_update(&mut queue, off);
            split.matched(len);
            pos += len as usize;
            if inserted < pos {
                hc.skip(data, inserted, pos - inserted);
                inserted = pos;
            }
            lit_start = pos;
        }

        // End the block here?
        let block_len = pos - block_start;
        let end = block_len >= SOFT_MAX_BLOCK_SIZE
            || (split.ready()
                && block_len >= MIN_BLOCK_SIZE
                && n - pos >= MIN_BLOCK_SIZE
                && split.should_split());
        if end && pos < n {
            if pos > lit_start {
                seqs.push(Seq {
                    lit_run: (pos - lit_start) as u32,
                    len: 0,
                    offset: 0,
                });
            }
            coder.flush(w, &data[block_start..], seqs);
            debug_assert_eq!(coder.queue, queue);
            if w.overflowed() {
                return;
            }
            seqs.clear();
            split.reset();
            block_start = pos;
            lit_start = pos;
        }
    }
    if pos > lit_start {
        seqs.push(Seq {
            lit_run: (pos - lit_start) as u32,
            len: 0,
            offset: 0,
        });
    }
    coder.flush(w, &data[block_start..], seqs);
}
