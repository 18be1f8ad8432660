//! The chunk being searched, copied into a buffer of a fixed power-of-two
//! capacity plus padding, and fixed-size tables: every index is masked to the
//! capacity, so the compiler drops the bounds checks of the hot loops and no
//! index can be out of bounds whatever the caller passes.

/// Bytes after the capacity so that 8-byte loads at any masked index fit.
pub(crate) const PAD: usize = 16;

/// A boxed array of `N` default values, built on the heap.
pub(super) fn boxed<T: Copy + Default, const N: usize>() -> Box<[T; N]> {
    match vec![T::default(); N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a boxed slice of N elements converts to [T; N]"),
    }
}

/// A copy of the current chunk (`CAP` a power of two, `BUF = CAP + PAD`).
pub(crate) struct Window<const CAP: usize, const BUF: usize> {
    buf: Box<[u8; BUF]>,
    len: usize,
    loaded: bool,
    /// Bytes of a chunk that are used (`max_chunk_size`, at most `CAP`):
    /// positions past it are out of contract and find nothing.
    limit: usize,
}

impl<const CAP: usize, const BUF: usize> Window<CAP, BUF> {
    const MASK: usize = {
        assert!(CAP.is_power_of_two() && BUF >= CAP + PAD);
        CAP - 1
    };

    pub(crate) fn new(max_chunk_size: usize) -> Self {
        Self {
            buf: boxed(),
            len: 0,
            loaded: false,
            limit: max_chunk_size.min(CAP),
        }
    }

    /// Forgets the chunk: the next call copies in the new one.
    pub(crate) fn reset(&mut self) {
        self.loaded = false;
    }

    /// Copies `data` (at most `max_chunk_size` bytes of it) on the first call
    /// after a reset; returns the chunk length.
    #[inline(always)]
    pub(crate) fn load(&mut self, data: &[u8]) -> usize {
        if !self.loaded {
            let n = data.len().min(self.limit);
            self.buf[..n].copy_from_slice(&data[..n]);
            self.len = n;
            self.loaded = true;
        }
        self.len
    }

    /// The buffer as a plain array reference, to hold in a register.
    #[inline(always)]
    pub(crate) fn view(&self) -> Bytes<'_, CAP, BUF> {
        Bytes(&self.buf)
    }
}

/// A view of a [`Window`]'s buffer; indices are masked to `CAP`.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a, const CAP: usize, const BUF: usize>(&'a [u8; BUF]);

impl<const CAP: usize, const BUF: usize> Bytes<'_, CAP, BUF> {
    const MASK: usize = Window::<CAP, BUF>::MASK;

    #[inline(always)]
    pub(crate) fn byte(self, i: usize) -> u8 {
        self.0[i & Self::MASK]
    }

    /// The four bytes at `i`, little-endian (bytes past the chunk are stale).
    #[inline(always)]
    pub(super) fn u32_at(self, i: usize) -> u32 {
        let i = i & Self::MASK;
        let b = &self.0[i..i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    #[inline(always)]
    fn u64_at(self, i: usize) -> u64 {
        let i = i & Self::MASK;
        let b = &self.0[i..i + 8];
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// The eight bytes at `i`, little-endian (bytes past the chunk are stale).
    #[inline(always)]
    pub(crate) fn u64_le(self, i: usize) -> u64 {
        self.u64_at(i)
    }

    /// Length of the common prefix of the chunk at `a` and at `b`, known to
    /// be at least `start`, capped at `max` (`b + max` within the chunk).
    #[inline(always)]
    pub(crate) fn extend(self, a: usize, b: usize, start: usize, max: usize) -> usize {
        let mut len = start;
        while len < max {
            let d = self.u64_at(a + len) ^ self.u64_at(b + len);
            if d != 0 {
                return (len + (d.trailing_zeros() / 8) as usize).min(max);
            }
            len += 8;
        }
        max
    }
}
