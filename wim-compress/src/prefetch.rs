//! A cache prefetch hint for the encoders' match finders, whose time goes
//! mostly to waiting on hash-table and chain loads at unpredictable addresses.
//!
//! The crate's only `unsafe`: a prefetch is a hint that never faults and
//! never reads or writes memory as far as the program can observe, so any
//! address is sound; the helper still only forms addresses inside the slice
//! (wrapping arithmetic, no dereference). Covered by the `compress_roundtrip`
//! fuzz target through every encoder that calls it.
#![allow(unsafe_code)]

/// Asks the CPU to bring `slice[index]` into the cache (a no-op off x86-64
/// and when `index` is out of range).
#[inline(always)]
pub(crate) fn prefetch<T>(slice: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if index < slice.len() {
        let p = slice.as_ptr().wrapping_add(index).cast::<i8>();
        // SAFETY: `_mm_prefetch` only hints the cache hierarchy: it cannot
        // fault, has no architecturally visible effect on memory, and SSE is
        // part of the x86-64 baseline. `p` points inside `slice` besides.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, index);
}
