//! The LZX bit writer: 16-bit little-endian coding units, each filled from
//! its most significant bit down (the mirror of the decoder's `Bits`).
//!
//! Writing past the end of the output sets a flag instead of failing; the
//! caller checks it between blocks and reports the chunk as not fitting.

pub(super) struct BitWriter<'a> {
    out: &'a mut [u8],
    /// Byte offset of the next unit.
    pos: usize,
    /// Pending bits in the low `count` bits (higher bits are stale).
    buf: u64,
    count: u32,
    overflow: bool,
}

impl<'a> BitWriter<'a> {
    pub(super) fn new(out: &'a mut [u8]) -> Self {
        Self {
            out,
            pos: 0,
            buf: 0,
            count: 0,
            overflow: false,
        }
    }

    /// Appends the low `n` bits of `bits` (n <= 32), most significant first.
    #[inline(always)]
    pub(super) fn put(&mut self, bits: u32, n: u32) {
        debug_assert!(n <= 32 && (n == 32 || bits >> n == 0));
        self.buf = (self.buf << n) | u64::from(bits);
        self.count += n;
        // Two whole units at a time: fewer, wider stores.
        if self.count >= 32 {
            self.count -= 32;
            let pair = (self.buf >> self.count) as u32;
            let hi = (pair >> 16) as u16;
            let lo = pair as u16;
            if let Some(dst) = self.out.get_mut(self.pos..self.pos + 4) {
                let [a, b] = hi.to_le_bytes();
                let [c, d] = lo.to_le_bytes();
                dst.copy_from_slice(&[a, b, c, d]);
                self.pos += 4;
            } else {
                self.emit(hi);
                self.emit(lo);
            }
        }
    }

    #[inline(always)]
    fn emit(&mut self, unit: u16) {
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + 2) {
            dst.copy_from_slice(&unit.to_le_bytes());
            self.pos += 2;
        } else {
            self.overflow = true;
        }
    }

    /// Bytes of room the output has in all.
    pub(super) fn room(&self) -> usize {
        self.out.len()
    }

    /// Gives the chunk up as not fitting, without writing it.
    pub(super) fn give_up(&mut self) {
        self.overflow = true;
    }

    /// True once a unit did not fit in the output.
    pub(super) fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Pads the last unit with zero bits and returns the stream length, or
    /// `None` if it did not fit.
    pub(super) fn finish(mut self) -> Option<usize> {
        while self.count >= 16 {
            self.count -= 16;
            let unit = (self.buf >> self.count) as u16;
            self.emit(unit);
        }
        if self.count > 0 {
            let unit = (self.buf << (16 - self.count)) as u16;
            self.count = 0;
            self.emit(unit);
        }
        if self.overflow {
            None
        } else {
            Some(self.pos)
        }
    }
}
