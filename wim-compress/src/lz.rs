//! Match copying shared by the LZ77-family decoders.

/// Copies a match of `len` bytes from `offset` bytes back to `pos`.
///
/// The caller has checked `1 <= offset <= pos` and `pos + len <= out.len()`.
/// Overlapping matches (offset < len) repeat the last `offset` bytes, as LZ77
/// requires. While there is slack after the match, short copies go in 16-byte
/// steps that may write a little past the match: those bytes are overwritten by
/// later output.
#[inline(always)]
pub(crate) fn copy_match(out: &mut [u8], pos: usize, offset: usize, len: usize) {
    let src = pos - offset;
    if pos + len + 16 <= out.len() {
        if offset >= 16 {
            copy_steps::<16>(out, src, pos, len);
            return;
        }
        if offset >= 8 {
            copy_steps::<8>(out, src, pos, len);
            return;
        }
        if len <= 32 {
            for i in 0..len {
                out[pos + i] = out[src + i];
            }
            return;
        }
    }
    if offset >= len {
        out.copy_within(src..src + len, pos);
    } else if offset == 1 {
        let byte = out[src];
        out[pos..pos + len].fill(byte);
    } else {
        // The source is periodic with period `offset`; copying whole periods from
        // its start lets each step double what is already in place.
        let mut done = 0;
        while done < len {
            let n = (offset + done).min(len - done);
            out.copy_within(src..src + n, pos + done);
            done += n;
        }
    }
}

/// Copies in `STEP`-byte blocks; needs `offset >= STEP` (each block's source is
/// already written) and `STEP` bytes of slack after the match.
#[inline(always)]
fn copy_steps<const STEP: usize>(out: &mut [u8], mut src: usize, mut dst: usize, len: usize) {
    let end = dst + len;
    loop {
        let block: [u8; STEP] = out[src..src + STEP].try_into().unwrap_or([0; STEP]);
        out[dst..dst + STEP].copy_from_slice(&block);
        dst += STEP;
        src += STEP;
        if dst >= end {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_match;

    fn naive(out: &mut [u8], pos: usize, offset: usize, len: usize) {
        for i in 0..len {
            out[pos + i] = out[pos + i - offset];
        }
    }

    #[test]
    fn matches_naive_copy_for_every_small_case() {
        for offset in 1..40 {
            for len in 1..80 {
                for slack in [0usize, 3, 40] {
                    let size = 50 + len + slack;
                    let mut a: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
                    let mut b = a.clone();
                    copy_match(&mut a, 50, offset, len);
                    naive(&mut b, 50, offset, len);
                    assert_eq!(
                        a[..50 + len],
                        b[..50 + len],
                        "offset {offset} len {len} slack {slack}"
                    );
                }
            }
        }
    }
}
