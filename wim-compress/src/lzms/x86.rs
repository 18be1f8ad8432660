//! Reversal of the LZMS x86 address translation.
//!
//! The compressor rewrites the 32-bit displacement of certain x86 call, jump
//! and RIP-relative instructions into an absolute position (displacement plus
//! the instruction's offset in the chunk), which repeats more often and so
//! compresses better. The decoder must detect exactly the same instructions
//! as the compressor did and subtract the offset again. Detection is
//! heuristic: translation is only active within a short distance of an
//! instruction whose (16-bit truncated) target was also referenced shortly
//! before, a sign that the bytes really are machine code.

use super::constants::{X86_ID_WINDOW_SIZE, X86_MAX_TRANSLATION_OFFSET};

/// Opcode positions within this many bytes of the end are never translated,
/// so translation never reads or writes past the chunk.
const TAIL: usize = 16;

/// First bytes that may start a translatable instruction.
const fn opcode_table() -> [bool; 256] {
    let mut t = [false; 256];
    t[0x48] = true;
    t[0x4C] = true;
    t[0xE8] = true;
    t[0xE9] = true;
    t[0xF0] = true;
    t[0xFF] = true;
    t
}
static IS_OPCODE: [bool; 256] = opcode_table();

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Top bit of each byte set where that byte of `v` is zero, plus possibly
/// some bytes above a zero byte (borrows); never misses a zero byte. The
/// caller masks with `HIGHS`, so several results can be merged first.
#[inline(always)]
fn zero_bytes_unmasked(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v
}

/// Flags the bytes of `x` (little-endian order) that may start a translatable
/// instruction, given `y` and `z`, the same eight bytes shifted by one and
/// two (so byte `i` of `y` is the byte after byte `i` of `x`). A superset of what
/// [`X86Filter::translate_at`] acts on: every byte it would not simply step
/// over is flagged, so unflagged bytes can be skipped.
#[inline(always)]
fn candidates(x: u64, y: u64, z: u64) -> u64 {
    // A byte of `a | b` is zero exactly when that byte is zero in both, so a
    // multi-byte pattern needs one zero test. The REX patterns are tested
    // in full (MOV needs REX.W with R clear and ModR/M 0x05 or 0x0D; LEA
    // takes either REX byte and any ModR/M whose r/m is 5), as near misses
    // such as `48 89 45` are very common in code. 0xE8/0xE9 differ only in
    // bit 0.
    let mov = (x ^ (0x48 * ONES)) | (y ^ (0x8B * ONES)) | ((z & (0xF7 * ONES)) ^ (0x05 * ONES));
    let lea = ((x & (0xFB * ONES)) ^ (0x48 * ONES))
        | (y ^ (0x8D * ONES))
        | ((z & (0x07 * ONES)) ^ (0x05 * ONES));
    let call = (x & (0xFE * ONES)) ^ (0xE8 * ONES);
    let lock = (x ^ (0xF0 * ONES)) | (y ^ (0x83 * ONES));
    let indirect = !x | (y ^ (0x15 * ONES));
    (zero_bytes_unmasked(mov)
        | zero_bytes_unmasked(lea)
        | zero_bytes_unmasked(call)
        | zero_bytes_unmasked(lock)
        | zero_bytes_unmasked(indirect))
        & HIGHS
}

/// Per-decoder state of the filter: the last position at which each 16-bit
/// target was referenced. Kept in the decoder so chunks reuse the allocation.
///
/// Positions are stored as `base + offset in chunk`, with `base` moving past
/// the previous chunk by more than the identification window, so entries left
/// by earlier chunks already read as "too long ago" and the 256 KiB table need
/// not be cleared for every chunk (which would dominate with small chunks).
pub(crate) struct X86Filter {
    last_target_usage: Box<[u32; 65536]>,
    base: u32,
}

/// Gap left between chunks so that stale entries are outside the window.
const STALE_GAP: u32 = X86_ID_WINDOW_SIZE as u32 + 1;

impl X86Filter {
    pub(crate) fn new() -> Self {
        Self {
            last_target_usage: Box::new([0; 65536]),
            base: STALE_GAP,
        }
    }

    /// Picks the base for a chunk of `size` bytes, clearing the table only
    /// when the position counter would otherwise wrap.
    fn start_chunk(&mut self, size: usize) -> u32 {
        let needed = size as u64 + 2 * u64::from(STALE_GAP);
        if u64::from(self.base) + needed > u64::from(u32::MAX) {
            self.last_target_usage.fill(0);
            self.base = STALE_GAP;
        }
        let base = self.base;
        self.base += size as u32 + STALE_GAP;
        base
    }

    /// Undoes the translation over a whole decoded chunk.
    pub(crate) fn undo(&mut self, data: &mut [u8]) {
        let size = data.len();
        if size <= TAIL + 1 {
            return;
        }
        let base = self.start_chunk(size);
        let mut last_x86_pos: i32 = -X86_MAX_TRANSLATION_OFFSET - 1;
        // The first byte is never considered an opcode.
        let mut p = 1usize;
        let limit = size - TAIL;
        // Sixteen positions per step, with one range check per step for all
        // the loads. Most steps in non-code data find nothing; in code, the
        // flags of one step serve every candidate in it instead of
        // rescanning after each one. Flags past a translated operand stay
        // valid, as they depend only on bytes the translation did not touch.
        while p < limit {
            let Some(window) = data.get(p..p + 18) else {
                // The last position before `limit`: scanned byte by byte.
                if IS_OPCODE[usize::from(data[p])] {
                    p = self.translate_at(data, p, base, &mut last_x86_pos);
                } else {
                    p += 1;
                }
                continue;
            };
            let word = |i: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&window[i..i + 8]);
                u64::from_le_bytes(w)
            };
            // Every pattern has a byte with the top bit set in its first
            // two bytes, so a window of plain ASCII (most text) is skipped
            // without the full test.
            if (word(0) | word(1) | word(8) | word(9)) & HIGHS == 0 {
                p += 16;
                continue;
            }
            let lo = candidates(word(0), word(1), word(2));
            let hi = candidates(word(8), word(9), word(10));
            let block = p;
            if lo | hi == 0 {
                p += 16;
                continue;
            }
            for (mut flags, start) in [(lo, block), (hi, block + 8)] {
                while flags != 0 {
                    let q = start + (flags.trailing_zeros() / 8) as usize;
                    flags &= flags - 1;
                    // Inside an operand just skipped: not an instruction start.
                    if q < p {
                        continue;
                    }
                    if q >= limit {
                        return;
                    }
                    p = self.translate_at(data, q, base, &mut last_x86_pos);
                }
            }
            p = p.max(block + 16);
        }
    }

    /// Examines the candidate opcode at `p` (with `p + 10 < data.len()`),
    /// translates its operand if appropriate and returns where scanning resumes.
    #[inline]
    fn translate_at(
        &mut self,
        data: &mut [u8],
        p: usize,
        base: u32,
        last_x86_pos: &mut i32,
    ) -> usize {
        let Some(&[b0, b1, b2]) = data.get(p..p + 3) else {
            return data.len();
        };
        // The opcode is classified without a multi-way branch: in code the
        // candidates come every couple of dozen bytes in no predictable
        // order, and mispredicted jumps would dominate the filter's time.
        // Relative call: common in non-code data too, so it gets a tighter
        // window below.
        let call = b0 == 0xE8;
        // Indirect call through a RIP-relative pointer.
        let indirect = b0 == 0xFF && b1 == 0x15;
        // Lock-prefixed add to a RIP-relative location.
        let lock = b0 == 0xF0 && b1 == 0x83 && b2 == 0x05;
        // REX.W prefix followed by LEA or MOV with a RIP-relative operand.
        // Only the r/m bits of ModR/M are tested; the format does this.
        let rex = b0 & 0xFB == 0x48
            && b2 & 0x07 == 0x05
            && (b1 == 0x8D || (b1 == 0x8B && b0 & 0x04 == 0 && b2 & 0xF0 == 0));
        let opcode_len =
            usize::from(call) | (usize::from(indirect) << 1) | (usize::from(lock | rex) * 3);
        if opcode_len == 0 {
            // Relative jumps are deliberately not translated, but their
            // operand is skipped so that it is not scanned for opcodes.
            return if b0 == 0xE9 { p + 5 } else { p + 1 };
        }
        let max_offset = X86_MAX_TRANSLATION_OFFSET >> u32::from(call);

        let pos = p as i32;
        let operand = p + opcode_len;
        let Some(field) = data.get_mut(operand..operand + 4) else {
            return data.len();
        };
        // Rewritten unconditionally (unchanged when out of the window) so
        // that the window test is a select rather than a branch.
        let shift = if pos - *last_x86_pos <= max_offset {
            pos as u32
        } else {
            0
        };
        let v = u32::from_le_bytes([field[0], field[1], field[2], field[3]]).wrapping_sub(shift);
        field.copy_from_slice(&v.to_le_bytes());
        // The target's low 16 bits identify it, computed from the relative
        // (now restored) displacement.
        let target = (pos as u32).wrapping_add(v) as u16;
        let end = pos + opcode_len as i32 + 3;
        let stamp = base + end as u32;
        let slot = &mut self.last_target_usage[target as usize];
        // Entries are never later than `stamp`: same chunk earlier, or an
        // older chunk with a smaller base.
        if stamp.wrapping_sub(*slot) <= X86_ID_WINDOW_SIZE as u32 {
            *last_x86_pos = end;
        }
        *slot = stamp;
        operand + 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter as a plain byte-by-byte scan, to check the word scan
    /// never skips a byte that the per-byte rules would act on.
    fn undo_bytewise(f: &mut X86Filter, data: &mut [u8]) {
        let size = data.len();
        if size <= TAIL + 1 {
            return;
        }
        let base = f.start_chunk(size);
        let mut last_x86_pos: i32 = -X86_MAX_TRANSLATION_OFFSET - 1;
        let mut p = 1usize;
        while p < size - TAIL {
            p = if IS_OPCODE[data[p] as usize] {
                f.translate_at(data, p, base, &mut last_x86_pos)
            } else {
                p + 1
            };
        }
    }

    #[test]
    fn word_scan_matches_byte_scan() {
        // Bytes drawn mostly from opcode and operand values, so candidates,
        // near misses and translations are all dense.
        const PICK: [u8; 16] = [
            0x48, 0x4C, 0xE8, 0xE9, 0xF0, 0xFF, 0x8B, 0x8D, 0x83, 0x15, 0x05, 0x00, 0x0D, 0x20,
            0x89, 0x49,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..200usize {
            let len = 17 + (n * 97) % 3000;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if seed % 4 == 0 {
                        (seed >> 8) as u8
                    } else {
                        PICK[(seed >> 8) as usize % 16]
                    }
                })
                .collect();
            let mut fast = data.clone();
            X86Filter::new().undo(&mut fast);
            let mut slow = data.clone();
            undo_bytewise(&mut X86Filter::new(), &mut slow);
            assert!(fast == slow, "n = {n}");
        }
    }

    #[test]
    fn short_buffers_untouched() {
        let mut f = X86Filter::new();
        let mut d = [0xE8u8; 17];
        f.undo(&mut d);
        assert_eq!(d, [0xE8; 17]);
    }

    #[test]
    fn data_without_candidates_untouched() {
        let mut f = X86Filter::new();
        let orig: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 0x40) as u8).collect();
        let mut d = orig.clone();
        f.undo(&mut d);
        assert_eq!(d, orig);
    }

    #[test]
    fn stale_entries_never_count_and_base_wraps() {
        // The same x86-like chunk must filter identically whatever came before
        // and however close the position counter is to wrapping.
        // Relative calls to one target: after two of them the filter trusts
        // the region and starts translating.
        let mut chunk = vec![0x90u8; 8];
        for i in 0..400u32 {
            let pos = chunk.len() as u32;
            chunk.push(0xE8);
            chunk.extend_from_slice(&0x2000u32.wrapping_sub(pos + i % 3).to_le_bytes());
            chunk.extend_from_slice(&[0x90; 6]);
        }
        let mut fresh = chunk.clone();
        X86Filter::new().undo(&mut fresh);
        assert!(fresh != chunk, "test data should trigger translations");

        let mut f = X86Filter::new();
        for start in [0u32, u32::MAX - 70_000, u32::MAX - 200_000] {
            let mut warm = chunk.clone();
            f.undo(&mut warm);
            f.base = f.base.max(start);
            let mut again = chunk.clone();
            f.undo(&mut again);
            assert!(again == fresh, "filter output depends on earlier chunks");
        }
    }
}
