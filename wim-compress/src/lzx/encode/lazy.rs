//! The fast parser (low levels): hash chains, lazy evaluation one byte
//! ahead, and the recent offsets checked wherever a match was found.

use super::bitout::BitWriter;
use super::block::{queue_update, Coder, Queue, Seq, MAX_MATCH_LEN};
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

/// How good an explicit-offset match is for the lazy choice: its length,
/// plus one for a near offset and one more for a very near one.
#[inline(always)]
fn explicit_score(len: u32, offset: u32) -> u32 {
    let formatted = offset + 2;
    len + u32::from(formatted < 4096) + u32::from(formatted < 256)
}

/// How good a repeat-offset match is: worth three bytes more than its
/// length, since it codes no offset bits.
#[inline(always)]
fn rep_score(len: u32) -> u32 {
    len + 3
}

/// The longest match at `pos` (at most `max_len` bytes) at one of the recent
/// offsets, as (length, offset); length 0 when none has two bytes.
#[inline(always)]
fn longest_rep(data: &[u8], pos: usize, queue: &Queue, max_len: usize) -> (u32, u32) {
    let mut best = (0u32, 0u32);
    if max_len < 2 {
        return best;
    }
    let here = u16::from_le_bytes([data[pos], data[pos + 1]]);
    for &off in queue {
        let b = pos.wrapping_sub(off as usize);
        if b >= pos || u16::from_le_bytes([data[b], data[b + 1]]) != here {
            continue;
        }
        let len = extend(data, pos, b, 2, max_len) as u32;
        if len > best.0 {
            best = (len, off);
        }
    }
    best
}

/// Parses and writes a whole chunk.
///
/// At each position the longest match is taken, unless a repeat offset
/// scores at least as well (a match at R0 is taken at once), or the next
/// position, searched for something longer than the current length minus
/// two at half the depth, scores better: then a literal goes out and the
/// choice moves on by one byte.
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
    let mut block_start = 0usize;
    let mut lit_start = 0usize;
    let depth = p.depth.max(2);
    let lazy_depth = depth / 2;
    let max_off = p.max_offset as usize;
    // Length-3 matches this far (formatted) or farther are not worth it
    // unless their offset is a recent one.
    const FAR3: u32 = 8192;

    while pos < n {
        let max_len = (n - pos).min(MAX_MATCH_LEN);
        let nice = p.nice.min(max_len as u32);
        let m = hc.longest_match(data, pos, 2, max_len as u32, nice, depth);
        let far = m.len == 3 && m.offset + 2 >= FAR3 && !queue.contains(&m.offset);
        if m.len < 3 || far || m.offset as usize > max_off {
            split.literal(data[pos]);
            pos += 1;
        } else {
            // (len, offset) of the match to take, and the positions after
            // `pos` the finder has seen.
            let (mut len, mut off) = (m.len, m.offset);
            let mut seen = 1usize;
            if off != queue[0] {
                let mut score = explicit_score(len, off);
                let (rl, ro) = longest_rep(data, pos, &queue, max_len);
                if rl >= 3 && rep_score(rl) >= score {
                    (len, off) = (rl, ro);
                } else {
                    // Lazy evaluation: a better match one byte later?
                    while len < nice
                        && pos + 2 < n
                        && pos - block_start < SOFT_MAX_BLOCK_SIZE + LAZY_OVERRUN / 2
                    {
                        let q = pos + 1;
                        let max2 = (n - q).min(MAX_MATCH_LEN);
                        let nice2 = p.nice.min(max2 as u32);
                        let m2 = hc.longest_match(data, q, len - 2, max2 as u32, nice2, lazy_depth);
                        seen = 2;
                        if m2.len <= len - 2 {
                            break;
                        }
                        let next_score = if m2.offset as usize <= max_off {
                            explicit_score(m2.len, m2.offset)
                        } else {
                            0
                        };
                        let (rl, ro) = longest_rep(data, q, &queue, max2);
                        if rl >= 3 && rep_score(rl) >= next_score {
                            if rep_score(rl) > score {
                                split.literal(data[pos]);
                                pos = q;
                                (len, off) = (rl, ro);
                                seen = 1;
                            }
                            break;
                        }
                        if next_score > score {
                            split.literal(data[pos]);
                            pos = q;
                            (len, off, score) = (m2.len, m2.offset, next_score);
                            seen = 1;
                            if off == queue[0] {
                                break;
                            }
                            continue;
                        }
                        break;
                    }
                }
            }
            seqs.push(Seq {
                lit_run: (pos - lit_start) as u32,
                len,
                offset: off,
            });
            queue_update(&mut queue, off);
            split.matched(len);
            if (len as usize) > seen {
                hc.skip(data, pos + seen, len as usize - seen);
            }
            pos += len as usize;
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
