//! Undoing the E8 (x86 CALL) translation on a decoded chunk.

use super::constants::E8_TRANSLATION_SIZE;

/// A CALL opcode cannot start in the last this-many bytes of a chunk.
const TAIL: usize = 10;

/// Converts the absolute CALL targets the compressor stored back to
/// relative ones. Positions are relative to the chunk start. A 0xE8 byte that
/// belongs to the 4-byte operand of a preceding 0xE8 is not itself an opcode,
/// whether or not that operand was translated.
pub(crate) fn undo_e8_translation(data: &mut [u8]) {
    if data.len() <= TAIL {
        return;
    }
    let limit = data.len() - TAIL;
    // First position where an opcode may start (after the last operand).
    let mut next = 0usize;
    let mut base = 0usize;
    while base < limit {
        // `base + 8 < data.len()` because `limit` stops 10 bytes short.
        let Some(word) = data.get(base..).and_then(|rest| rest.first_chunk::<8>()) else {
            break;
        };
        let mut mask = e8_bytes(u64::from_le_bytes(*word));
        // Translating only rewrites bytes before `next`, so the mask of the
        // bytes after them stays valid.
        while mask != 0 {
            let pos = base + (mask.trailing_zeros() / 8) as usize;
            mask &= mask - 1;
            if pos >= limit {
                return;
            }
            if pos >= next {
                translate(data, pos);
                next = pos + 5;
            }
        }
        base += 8;
    }
}

/// Sets the top bit of exactly those bytes of a little-endian word that are 0xE8.
#[inline(always)]
fn e8_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ 0xE8E8_E8E8_E8E8_E8E8;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

#[inline]
fn translate(data: &mut [u8], pos: usize) {
    let Some(field) = data.get_mut(pos + 1..pos + 5) else {
        return;
    };
    let abs = i32::from_le_bytes([field[0], field[1], field[2], field[3]]);
    // Chunks are at most 2 MiB, so the position fits an i32.
    let pos = pos as i32;
    let rel = if abs >= 0 {
        if abs >= E8_TRANSLATION_SIZE {
            return;
        }
        abs - pos
    } else {
        if abs < -pos {
            return;
        }
        abs + E8_TRANSLATION_SIZE
    };
    field.copy_from_slice(&rel.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(data: &mut [u8]) {
        if data.len() <= TAIL {
            return;
        }
        let mut i = 0;
        while i < data.len() - TAIL {
            if data[i] == 0xE8 {
                translate(data, i);
                i += 5;
            } else {
                i += 1;
            }
        }
    }

    #[test]
    fn word_skipping_matches_bytewise_scan() {
        let mut seed = 0x1234_5678u32;
        for len in 0..200 {
            for density in [2u32, 5, 17] {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        if (seed >> 16) % density == 0 {
                            0xE8
                        } else {
                            (seed >> 24) as u8 % 8
                        }
                    })
                    .collect();
                let mut a = data.clone();
                let mut b = data;
                undo_e8_translation(&mut a);
                naive(&mut b);
                assert_eq!(a, b, "len {len}");
            }
        }
    }

    #[test]
    fn translation_rules() {
        // Target 0x20 at position 0x10: relative = 0x10.
        let mut d = vec![0u8; 32];
        d[0x10] = 0xE8;
        d[0x11] = 0x20;
        undo_e8_translation(&mut d);
        assert_eq!(&d[0x11..0x15], &0x10i32.to_le_bytes());
        // Negative absolute value within the chunk: compensating translation.
        let mut d = vec![0u8; 32];
        d[0x10] = 0xE8;
        d[0x11..0x15].copy_from_slice(&(-5i32).to_le_bytes());
        undo_e8_translation(&mut d);
        assert_eq!(&d[0x11..0x15], &(E8_TRANSLATION_SIZE - 5).to_le_bytes());
        // Too far back: untouched.
        let mut d = vec![0u8; 32];
        d[0x10] = 0xE8;
        d[0x11..0x15].copy_from_slice(&(-17i32).to_le_bytes());
        let before = d.clone();
        undo_e8_translation(&mut d);
        assert_eq!(d, before);
        // Opcode within the last 10 bytes: untouched.
        let mut d = vec![0u8; 32];
        d[22] = 0xE8;
        d[23] = 0x40;
        let before = d.clone();
        undo_e8_translation(&mut d);
        assert_eq!(d, before);
    }
}
