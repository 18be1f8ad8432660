//! The forward E8 (x86 CALL) translation the compressor applies to a copy of
//! each chunk before matching; the decoder's `undo_e8_translation` inverts it.

use super::super::constants::E8_TRANSLATION_SIZE;

/// No opcode is translated in the last this-many bytes of a chunk.
const TAIL: usize = 10;

/// Rewrites the 32-bit relative operand after every 0xE8 opcode byte into an
/// absolute target, where the result stays inside the translation range.
/// Positions are relative to the chunk start; the four operand bytes after a
/// translated or untranslated opcode are never opcodes themselves.
pub(super) fn apply_e8_translation(data: &mut [u8]) {
    if data.len() <= TAIL {
        return;
    }
    let limit = data.len() - TAIL;
    let mut pos = 0usize;
    while pos < limit {
        // Find the next opcode byte quickly.
        let Some(skip) = data[pos..limit].iter().position(|&b| b == 0xE8) else {
            return;
        };
        pos += skip;
        translate(data, pos);
        pos += 5;
    }
}

#[inline]
fn translate(data: &mut [u8], pos: usize) {
    let Some(field) = data.get_mut(pos + 1..pos + 5) else {
        return;
    };
    let rel = i32::from_le_bytes([field[0], field[1], field[2], field[3]]);
    // Chunks are at most 2 MiB, so the position fits an i32.
    let p = pos as i32;
    if rel < -p || rel >= E8_TRANSLATION_SIZE {
        return;
    }
    let abs = if rel < E8_TRANSLATION_SIZE - p {
        rel + p
    } else {
        rel - E8_TRANSLATION_SIZE
    };
    field.copy_from_slice(&abs.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::super::super::e8::undo_e8_translation;
    use super::*;

    #[test]
    fn forward_then_inverse_is_identity() {
        let mut seed = 0x9E37_79B9u32;
        for len in [0usize, 1, 10, 11, 15, 64, 1000, 5000] {
            for density in [2u32, 7, 40] {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        if (seed >> 16) % density == 0 {
                            0xE8
                        } else {
                            (seed >> 24) as u8
                        }
                    })
                    .collect();
                let mut t = data.clone();
                apply_e8_translation(&mut t);
                undo_e8_translation(&mut t);
                assert_eq!(t, data, "len {len} density {density}");
            }
        }
    }
}
