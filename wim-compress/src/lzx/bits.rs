//! The LZX bit reader: 16-bit little-endian coding units, each read from its
//! most significant bit down.
//!
//! The reader keeps up to 64 bits left-justified in `buf`. A coding unit is
//! real input only when both of its bytes are present; past that the stream
//! reads as zero bits, which well-formed streams need because decoding looks
//! ahead further than the last codeword. The reader never fails: the caller's
//! output size bounds how many bits it can ask for.

#[derive(Clone, Copy)]
pub(crate) struct Bits {
    /// Unconsumed bits, next bit in bit 63. Bits below `count` are either zero
    /// or already the right stream bits (a fast refill may add a partial unit).
    pub(crate) buf: u64,
    /// Number of valid bits in `buf`.
    pub(crate) count: u32,
    /// Byte offset of the next coding unit to load; may run past the input.
    pub(crate) pos: usize,
}

/// Bits guaranteed after [`Bits::refill`]: enough for a main symbol, a
/// length symbol and 16 offset bits. (The 17-bit offsets of the largest
/// windows refill once more.) Refilling stops at 63 bits so that shifting by
/// the bit count never overflows.
pub(crate) const REFILL_MIN: u32 = 48;

impl Bits {
    pub(crate) fn new(pos: usize) -> Self {
        Self {
            buf: 0,
            count: 0,
            pos,
        }
    }

    /// Number of bits consumed from the start of the input.
    #[inline(always)]
    pub(crate) fn position(&self) -> usize {
        self.pos * 8 - self.count as usize
    }

    /// Tops the buffer up to at least [`REFILL_MIN`] bits.
    ///
    /// While 8 input bytes remain this is branch-free: it ORs in all 64 bits
    /// and counts only the whole units that fit, so bits below `count` stay
    /// either zero or exactly the coming stream bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self, input: &[u8]) {
        debug_assert!(self.count <= 63);
        if let Some(raw) = input
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<8>())
        {
            let v = u64::from_le_bytes(*raw).rotate_left(32);
            // Units now sit as [u2, u3, u0, u1] from the top; swap neighbours.
            let units = ((v & 0x0000_FFFF_0000_FFFF) << 16) | ((v >> 16) & 0x0000_FFFF_0000_FFFF);
            self.buf |= units >> (self.count & 63);
            let added = (63 - self.count) / 16;
            self.pos += 2 * added as usize;
            self.count += 16 * added;
        } else if self.count < REFILL_MIN {
            // By value: a reference to `self` would pin the hot loop's reader
            // in memory instead of registers.
            *self = Self::refill_slow(*self, input);
        }
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(mut b: Bits, input: &[u8]) -> Bits {
        while b.count < REFILL_MIN {
            let unit = match input.get(b.pos..b.pos + 2) {
                Some(w) => u64::from(u16::from_le_bytes([w[0], w[1]])),
                None => 0,
            };
            b.buf |= unit << (48 - b.count);
            b.count += 16;
            b.pos += 2;
        }
        b
    }

    /// The next `n` (at most 32) bits without consuming them.
    #[inline(always)]
    pub(crate) fn peek(&self, n: u32) -> u32 {
        ((self.buf >> 1) >> (63 - n)) as u32
    }

    /// Drops `n` bits; the caller has made sure at least `n` are buffered.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.count);
        self.buf <<= n;
        self.count -= n;
    }

    /// Takes `n` (at most 17) already-buffered bits.
    #[inline(always)]
    pub(crate) fn take(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.consume(n);
        v
    }

    /// Refills if needed and takes `n` (at most 32) bits.
    #[inline]
    pub(crate) fn read(&mut self, n: u32, input: &[u8]) -> u32 {
        if self.count < n {
            self.refill(input);
        }
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitstring(input: &[u8], n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            let unit = i / 16;
            let v = match input.get(2 * unit..2 * unit + 2) {
                Some(b) => u16::from_le_bytes([b[0], b[1]]),
                None => 0,
            };
            s.push(if v & (0x8000 >> (i % 16)) != 0 {
                '1'
            } else {
                '0'
            });
        }
        s
    }

    #[test]
    fn reads_units_msb_first_and_zero_pads() {
        let input: Vec<u8> = (0..37u8)
            .map(|i| i.wrapping_mul(73).wrapping_add(11))
            .collect();
        for step in 1..=17u32 {
            let mut b = Bits::new(0);
            let mut got = String::new();
            while got.len() < 400 {
                let v = b.read(step, &input);
                for k in (0..step).rev() {
                    got.push(if v & (1 << k) != 0 { '1' } else { '0' });
                }
                assert_eq!(b.position(), got.len());
            }
            // The odd final byte is never part of a coding unit.
            assert_eq!(got, bitstring(&input[..36], got.len()), "step {step}");
        }
    }
}
