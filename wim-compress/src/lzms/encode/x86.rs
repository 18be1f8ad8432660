//! The forward direction of the LZMS x86 address translation.
//!
//! The decoder (`super::super::x86`) reverses this after decoding, so both
//! must pick exactly the same instructions. The decision for an instruction
//! only depends on bytes at or after its opcode that have not been rewritten
//! yet, plus the history of 16-bit targets; the target is computed from the
//! relative displacement, i.e. before translating here and after restoring
//! there.

use super::super::constants::{X86_ID_WINDOW_SIZE, X86_MAX_TRANSLATION_OFFSET};

/// Opcodes this close to the end are never translated (same rule as the decoder).
const TAIL: usize = 16;

/// Rewrites relative displacements into absolute positions in place.
/// `last_use` is scratch space of 65536 entries; its contents on entry do not
/// matter.
pub(super) fn forward(data: &mut [u8], last_use: &mut [i32]) {
    let size = data.len();
    if size <= TAIL + 1 || last_use.len() < 65536 {
        return;
    }
    let last_use = &mut last_use[..65536];
    // "Never used": farther back than any window can reach.
    last_use.fill(-X86_ID_WINDOW_SIZE - 1);
    let mut last_x86_pos: i32 = -X86_MAX_TRANSLATION_OFFSET - 1;
    let limit = size - TAIL;
    // The first byte is never an opcode.
    let mut i = 1usize;
    while i < limit {
        let b0 = data[i];
        if !matches!(b0, 0x48 | 0x4C | 0xE8 | 0xE9 | 0xF0 | 0xFF) {
            i += 1;
            continue;
        }
        // i + 2 < size because i < size - 16.
        let b1 = data[i + 1];
        let b2 = data[i + 2];
        let mut max_offset = X86_MAX_TRANSLATION_OFFSET;
        let opcode_len = match b0 {
            0x48 if b1 == 0x8B && (b2 == 0x05 || b2 == 0x0D) => 3,
            0x48 | 0x4C if b1 == 0x8D && b2 & 0x07 == 0x05 => 3,
            0xE8 => {
                max_offset >>= 1;
                1
            }
            0xE9 => {
                i += 5;
                continue;
            }
            0xF0 if b1 == 0x83 && b2 == 0x05 => 3,
            0xFF if b1 == 0x15 => 2,
            _ => {
                i += 1;
                continue;
            }
        };
        let op = i + opcode_len;
        let Some(field) = data.get_mut(op..op + 4) else {
            return;
        };
        let pos = i as i32;
        let target =
            (pos as u32).wrapping_add(u32::from(u16::from_le_bytes([field[0], field[1]]))) as u16;
        if pos - last_x86_pos <= max_offset {
            let v = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
            field.copy_from_slice(&v.wrapping_add(pos as u32).to_le_bytes());
        }
        let end = pos + opcode_len as i32 + 3;
        let slot = &mut last_use[target as usize];
        if end - *slot <= X86_ID_WINDOW_SIZE {
            last_x86_pos = end;
        }
        *slot = end;
        i = op + 4;
    }
}
