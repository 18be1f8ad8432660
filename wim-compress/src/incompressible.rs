//! A quick look at a chunk, before any match finding, for whether the
//! near-optimal encoders can make anything of it: already-compressed
//! content (archives, images, media) fills a byte-entropy coder to the brim
//! and repeats nothing, so the whole parse would only end in the chunk being
//! stored raw.
//!
//! The look checks each way the formats save bits: skewed literals (the
//! order-0 entropy of the bytes), LZ repeats (a sparse hash of four-byte
//! sequences) and, for LZMS, delta repeats, which copy a run of differences
//! at a power-of-two span (the order-0 entropy of those differences: smooth
//! data such as sampled sound or pictures has skewed differences even where
//! its bytes are spread evenly).

/// Entropy, as a share of eight bits a byte, from which the bytes (and the
/// differences at each span) count as incompressible.
const FULL_ENTROPY: f64 = 0.99;

/// Spans whose differences are checked (the delta spans LZMS offers that
/// real data has: bytes, 16- and 32-bit samples, 64-bit words).
const SPANS: [usize; 4] = [1, 2, 4, 8];

/// Every this many positions is a difference sampled.
const DELTA_STEP: usize = 3;

/// Bits of the repeat table (entries of `u32` positions).
pub(crate) const TABLE_BITS: u32 = 14;

/// What a format can use, and so what the look checks.
#[derive(Clone, Copy)]
pub(crate) struct Look {
    /// Check the differences (LZMS's delta matches).
    deltas: bool,
    /// Share of the chunk that four-byte repeats may cover.
    max_repeats: f64,
}

/// LZMS at 128 KiB: of 130 chunks of compressed files, the 49 so judged all
/// came out of the full parse at 100.02% of their size or more.
pub(crate) const LZMS: Look = Look {
    deltas: true,
    max_repeats: 0.01,
};

/// LZX at 32 KiB, whose short matches gain more from a few repeats: of 517
/// chunks of compressed files, the 211 so judged came out of the full parse
/// at 99.8% of their size or more (0.0004 chunks lost in all); allowing 1%
/// would have taken 252 and lost up to 0.94% on one.
pub(crate) const LZX: Look = Look {
    deltas: false,
    max_repeats: 0.003,
};

/// Largest chunk checked: solid chunks mix many files, and are seldom
/// incompressible as a whole.
pub(crate) const MAX_CHUNK: usize = 1 << 20;

/// Order-0 entropy of a histogram, as a share of eight bits a symbol.
fn entropy_share(hist: &[u32; 256]) -> f64 {
    let total: u32 = hist.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let t = f64::from(total);
    let bits: f64 = hist
        .iter()
        .filter(|&&f| f > 0)
        .map(|&f| f64::from(f) * (t / f64::from(f)).log2())
        .sum();
    bits / (8.0 * t)
}

/// Order-0 entropy share of the bytes of `data`.
fn byte_entropy(data: &[u8]) -> f64 {
    // Four histograms side by side, so that runs of one byte do not stall
    // on a single counter.
    let mut h = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        h[0][q[0] as usize] += 1;
        h[1][q[1] as usize] += 1;
        h[2][q[2] as usize] += 1;
        h[3][q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        h[0][b as usize] += 1;
    }
    let mut sum = [0u32; 256];
    for (i, s) in sum.iter_mut().enumerate() {
        *s = h[0][i] + h[1][i] + h[2][i] + h[3][i];
    }
    entropy_share(&sum)
}

/// The lowest order-0 entropy share of the differences at the [`SPANS`].
fn delta_entropy(data: &[u8]) -> f64 {
    let mut least = 1.0f64;
    for span in SPANS {
        let mut h = [0u32; 256];
        let mut i = span;
        while i < data.len() {
            h[data[i].wrapping_sub(data[i - span]) as usize] += 1;
            i += DELTA_STEP;
        }
        least = least.min(entropy_share(&h));
    }
    least
}

/// Share of `data` that four-byte repeats cover, found greedily through a
/// table of the latest position of each hashed sequence (`table` of
/// `1 << TABLE_BITS` entries, any contents).
fn repeat_share(data: &[u8], table: &mut [u32]) -> f64 {
    let n = data.len();
    if n < 8 {
        return 0.0;
    }
    table.fill(u32::MAX);
    let mask = table.len() - 1;
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let mut covered = 0usize;
    let mut i = 0;
    while i + 4 <= n {
        let w = word(i);
        let slot = (w.wrapping_mul(0x9E37_79B1) >> (32 - TABLE_BITS)) as usize & mask;
        let cand = table[slot] as usize;
        table[slot] = i as u32;
        if cand < i && word(cand) == w {
            let len = 4 + data[i + 4..]
                .iter()
                .zip(&data[cand + 4..])
                .take_while(|(a, b)| a == b)
                .count();
            covered += len;
            i += len;
        } else {
            i += 1;
        }
    }
    covered as f64 / n as f64
}

/// Whether `data` looks as if it cannot be compressed: every check of
/// `look` finds the chunk random-looking. Cheapest first; a text or code
/// chunk is turned down by its byte histogram alone. `table` has
/// `1 << TABLE_BITS` entries.
pub(crate) fn looks_incompressible(data: &[u8], table: &mut [u32], look: Look) -> bool {
    byte_entropy(data) >= FULL_ENTROPY
        && (!look.deltas || delta_entropy(data) >= FULL_ENTROPY)
        && repeat_share(data, table) <= look.max_repeats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::xorshift_bytes;

    #[test]
    fn only_random_looking_chunks_are_judged_incompressible() {
        let mut table = vec![0u32; 1 << TABLE_BITS];
        let n = 128 << 10;
        let random = xorshift_bytes(n, 1, 256);
        assert!(looks_incompressible(&random, &mut table, LZMS));
        // Text: skewed bytes.
        let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog; "
            .iter()
            .cycle()
            .take(n)
            .copied()
            .collect();
        assert!(!looks_incompressible(&text, &mut table, LZMS));
        // Random but for 2% repeated from earlier in the chunk.
        let mut repeated = random.clone();
        repeated.copy_within(1000..1000 + n / 50, n / 2);
        assert!(repeat_share(&repeated, &mut table) >= 0.019);
        assert!(!looks_incompressible(&repeated, &mut table, LZX));
        // A random walk: its bytes are spread evenly and seldom repeat four
        // at a time, but its differences are small (what delta matches and
        // sampled sound look like).
        let mut v = 0u8;
        let walk: Vec<u8> = xorshift_bytes(n, 2, 256)
            .iter()
            .map(|&r| {
                v = v.wrapping_add(r % 7).wrapping_sub(3);
                v
            })
            .collect();
        assert!(byte_entropy(&walk) >= FULL_ENTROPY);
        assert!(!looks_incompressible(&walk, &mut table, LZMS));
        // Differences at a span of 4 only (four interleaved walks).
        let mut lanes = [0u8; 4];
        let interleaved: Vec<u8> = xorshift_bytes(n, 3, 256)
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let l = &mut lanes[i % 4];
                *l = l.wrapping_add(r % 5).wrapping_sub(2);
                *l
            })
            .collect();
        assert!(!looks_incompressible(&interleaved, &mut table, LZMS));
    }

    /// Prints, per 128 KiB chunk of the files in `LZMS_CAL` (separated by
    /// `:`), the three measures and the size the full parse gives, for
    /// calibrating the bounds (run by hand with --ignored --nocapture).
    #[test]
    #[ignore]
    fn calibrate() {
        let Ok(paths) = std::env::var("LZMS_CAL") else {
            return;
        };
        let lzx = std::env::var_os("LZMS_CAL_LZX").is_some();
        let chunk = if lzx { 32 << 10 } else { 128 << 10 };
        let mut lzms = crate::lzms::LzmsEncoder::new(chunk, 50).unwrap();
        let mut lzx_enc = crate::lzx::LzxEncoder::new(chunk, 50).unwrap();
        let mut table = vec![0u32; 1 << TABLE_BITS];
        let mut out = vec![0u8; 2 * chunk];
        for path in paths.split(':') {
            let data = std::fs::read(path).unwrap();
            for c in data.chunks(chunk) {
                let size = if lzx {
                    lzx_enc.compress(c, &mut out)
                } else {
                    lzms.compress(c, &mut out)
                };
                println!(
                    "{path} {:.4} {:.4} {:.4} {:.4}",
                    byte_entropy(c),
                    delta_entropy(c),
                    repeat_share(c, &mut table),
                    size.unwrap_or(c.len()) as f64 / c.len() as f64
                );
            }
        }
    }
}
