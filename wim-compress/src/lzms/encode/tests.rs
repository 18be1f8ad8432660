use super::super::LzmsDecoder;
use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    crate::test_data::xorshift_bytes(len, seed, 256)
}

/// Words drawn from a small vocabulary, with punctuation: compresses like text.
fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "the",
        "of",
        "chunk",
        "window",
        "imaging",
        "format",
        "and",
        "a",
        "match",
        "offset",
        "length",
        "literal",
        "range",
        "coder",
        "huffman",
        "delta",
        "x86",
        "filter",
        "to",
        "is",
        "repeat",
        "probability",
        "state",
        "queue",
    ];
    let mut r = Rng(seed | 1);
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        v.extend_from_slice(WORDS[r.below(WORDS.len() as u64) as usize].as_bytes());
        v.push(match r.below(12) {
            0 => b'.',
            1 => b',',
            2 => b'\n',
            _ => b' ',
        });
    }
    v.truncate(len);
    v
}

/// Instruction-like bytes: calls and RIP-relative loads to a few targets,
/// mixed with filler, so the x86 translation kicks in.
fn x86_like(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let targets: Vec<u32> = (0..40).map(|_| r.below(1 << 20) as u32).collect();
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        let pos = v.len() as u32;
        let t = targets[r.below(targets.len() as u64) as usize];
        match r.below(8) {
            0 | 1 => {
                v.push(0xE8);
                v.extend_from_slice(&t.wrapping_sub(pos + 5).to_le_bytes());
            }
            2 => {
                v.extend_from_slice(&[0x48, 0x8D, 0x05]);
                v.extend_from_slice(&t.wrapping_sub(pos + 7).to_le_bytes());
            }
            3 => {
                v.extend_from_slice(&[0x48, 0x8B, 0x0D]);
                v.extend_from_slice(&t.wrapping_sub(pos + 7).to_le_bytes());
            }
            4 => {
                v.extend_from_slice(&[0xFF, 0x15]);
                v.extend_from_slice(&t.wrapping_sub(pos + 6).to_le_bytes());
            }
            5 => {
                v.push(0xE9);
                v.extend_from_slice(&(r.next() as u32).to_le_bytes());
            }
            6 => v.extend_from_slice(&[0xF0, 0x83, 0x05, 1, 2, 3, 4, 1]),
            _ => {
                let k = r.below(6) as usize;
                for _ in 0..k {
                    v.push([0x90, 0x55, 0x89, 0xE5, 0xC3, 0x4C][r.below(6) as usize]);
                }
            }
        }
    }
    v.truncate(len);
    v
}

/// 16-bit ramps and u32 tables: delta matches and repeat offsets.
fn structured(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut v = Vec::with_capacity(len + 64);
    while v.len() < len {
        match r.below(4) {
            0 => {
                let start = r.next() as u16;
                let step = r.below(9) as u16 + 1;
                for i in 0..r.below(300) as u16 {
                    v.extend_from_slice(&start.wrapping_add(i.wrapping_mul(step)).to_le_bytes());
                }
            }
            1 => {
                let base = r.next() as u32;
                for i in 0..r.below(200) as u32 {
                    v.extend_from_slice(&base.wrapping_add(i * 12).to_le_bytes());
                    v.extend_from_slice(&(i & 7).to_le_bytes());
                }
            }
            2 => {
                // An earlier stretch again (repeat offsets).
                if v.len() > 100 {
                    let from = r.below(v.len() as u64 - 50) as usize;
                    let n = r.below(50) as usize + 4;
                    for i in 0..n {
                        v.push(v[from + i]);
                    }
                }
            }
            _ => {
                for _ in 0..r.below(20) {
                    v.push(r.next() as u8);
                }
            }
        }
    }
    v.truncate(len);
    v
}

/// Compresses and checks the result decodes back; returns the size or None.
fn round_trip(enc: &mut LzmsEncoder, data: &[u8], out_len: usize) -> Option<usize> {
    let mut out = vec![0u8; out_len];
    let size = enc.compress(data, &mut out)?;
    assert!(size <= out_len && size >= 4 && size % 2 == 0);
    let mut dec = LzmsDecoder::new(data.len().max(1)).unwrap();
    let mut back = vec![0u8; data.len()];
    dec.decompress(&out[..size], &mut back)
        .unwrap_or_else(|e| panic!("decode failed: {e:?} (len {})", data.len()));
    if back != data {
        let at = back.iter().zip(data).position(|(a, b)| a != b).unwrap_or(0);
        panic!("mismatch at {at} of {}", data.len());
    }
    Some(size)
}

fn check(data: &[u8], chunk: usize, level: u32) -> Option<usize> {
    let mut enc = LzmsEncoder::new(chunk, level).unwrap();
    round_trip(&mut enc, data, data.len().saturating_sub(1).max(4))
}

#[test]
fn tiny_inputs() {
    for level in [1, 20, 50, 100] {
        let mut enc = LzmsEncoder::new(64, level).unwrap();
        for len in 0..40usize {
            let data: Vec<u8> = (0..len).map(|i| (i % 3) as u8).collect();
            for out_len in 0..64 {
                let _ = round_trip(&mut enc, &data, out_len);
            }
        }
        // Empty input: the range coder's final units and nothing else.
        assert!(round_trip(&mut enc, &[], 8).is_some_and(|n| n <= 8));
        assert!(round_trip(&mut enc, &[7], 8).is_some());
    }
}

#[test]
fn zeros_and_random() {
    for level in [1, 20, 50, 100] {
        let zeros = vec![0u8; 200_000];
        let size = check(&zeros, 1 << 18, level).unwrap();
        assert!(size < 200, "zeros: {size}");
        assert!(check(&random(100_000, 5), 1 << 17, level).is_none());
    }
}

#[test]
fn kinds_and_levels() {
    let chunk = 128 << 10;
    for level in [1, 20, 50, 100] {
        for (name, data) in [
            ("text", text(chunk, 1)),
            ("x86", x86_like(chunk, 2)),
            ("structured", structured(chunk, 3)),
        ] {
            let size = check(&data, chunk, level)
                .unwrap_or_else(|| panic!("{name} level {level} did not compress"));
            assert!(size < data.len() * 3 / 4, "{name} level {level}: {size}");
        }
    }
}

#[test]
fn chunk_sizes() {
    for (chunk, level) in [
        (32 << 10, 50),
        (1 << 20, 20),
        (1 << 20, 50),
        (1 << 20, 100),
        (5 << 20, 50),
    ] {
        let mut data = text(chunk / 2, chunk as u64);
        data.extend(x86_like(chunk / 4, 9));
        data.extend(structured(chunk - data.len(), 11));
        check(&data, chunk, level).expect("compresses");
        // A short final chunk with a compressor made for larger ones.
        check(&data[..chunk / 3], chunk, level).expect("compresses");
    }
}

#[test]
fn every_output_size_is_safe() {
    let mut data = text(6000, 4);
    data.extend(structured(4000, 6));
    data.extend(x86_like(3000, 8));
    for level in [1, 50, 100] {
        let mut enc = LzmsEncoder::new(data.len(), level).unwrap();
        let full = round_trip(&mut enc, &data, data.len()).unwrap();
        for out_len in full.saturating_sub(300)..full + 20 {
            let r = round_trip(&mut enc, &data, out_len);
            if out_len >= full {
                assert_eq!(r, Some(full), "out_len {out_len}");
            } else {
                assert!(r.is_none(), "out_len {out_len} gave {r:?} < {full}");
            }
        }
    }
}

#[test]
fn reuse_gives_identical_output() {
    let a = text(50_000, 21);
    let b = structured(70_000, 22);
    let mut enc = LzmsEncoder::new(1 << 17, 50).unwrap();
    let mut o1 = vec![0u8; 1 << 17];
    let mut o2 = vec![0u8; 1 << 17];
    let n1 = enc.compress(&a, &mut o1).unwrap();
    enc.compress(&b, &mut o2).unwrap();
    let n3 = enc.compress(&a, &mut o2).unwrap();
    assert_eq!(o1[..n1], o2[..n3]);
}

/// Chunks over a MiB allocate the finder's arrays per chunk, shrink them
/// midway and give them back at the end; a compressor reused over large,
/// small and large chunks must still write what fresh ones write.
#[test]
fn reuse_of_large_chunk_finders_gives_identical_output() {
    let mut big = text(1 << 20, 31);
    big.extend(x86_like(1 << 20, 32));
    big.extend(structured(3 << 19, 33));
    let small = structured(300_000, 34);
    let fresh = |data: &[u8]| {
        let mut o = vec![0u8; data.len()];
        let n = LzmsEncoder::new(4 << 20, 50)
            .unwrap()
            .compress(data, &mut o)
            .unwrap();
        o.truncate(n);
        o
    };
    let (want_big, want_small) = (fresh(&big), fresh(&small));
    let mut enc = LzmsEncoder::new(4 << 20, 50).unwrap();
    for (data, want) in [(&big, &want_big), (&small, &want_small), (&big, &want_big)] {
        let mut o = vec![0u8; data.len()];
        let n = enc.compress(data, &mut o).unwrap();
        assert_eq!(&o[..n], &want[..], "{} bytes", data.len());
        assert_eq!(check(data, 4 << 20, 50), Some(n));
    }
}

/// A random chunk is given up before the parse when the room is short of
/// the chunk (the writer's case), and still compressed (and decodable) when
/// the caller has room for it.
#[test]
fn incompressible_chunks_are_given_up_only_when_room_is_short() {
    // Random but for a repeat of 1% of it: the full parse gets it just
    // under its size, the check still calls it incompressible.
    let mut data = random(128 << 10, 41);
    data.copy_within(500..1800, 90_000);
    let mut enc = LzmsEncoder::new(128 << 10, 50).unwrap();
    let full = round_trip(&mut enc, &data, data.len() + 4096).expect("fits with room");
    assert!(full < data.len() - 1, "{full}");
    assert_eq!(round_trip(&mut enc, &data, data.len() - 1), None);
    // The same chunk after a compressible one: the state the check leaves
    // behind does not matter.
    let text = text(100_000, 42);
    let a = round_trip(&mut enc, &text, text.len() - 1).expect("compresses");
    assert_eq!(check(&text, 128 << 10, 50), Some(a));
}

#[test]
fn rejects_bad_parameters() {
    assert!(LzmsEncoder::new(0, 50).is_err());
    assert!(LzmsEncoder::new(1024, 101).is_err());
    let mut enc = LzmsEncoder::new(16, 50).unwrap();
    assert_eq!(enc.compress(&[0; 17], &mut [0; 64]), None);
    assert!(LzmsEncoder::memory_usage(64 << 20, 50) < 700 << 20);
}

#[test]
fn memory_usage_is_about_nine_bytes_per_byte() {
    for (n, lo, hi) in [
        (128usize << 10, 2 << 20, 4 << 20),
        (1 << 20, 10 << 20, 14 << 20),
        (64 << 20, 580 << 20, 610 << 20),
    ] {
        let m = LzmsEncoder::memory_usage(n, 50);
        assert!((lo..hi).contains(&m), "{n}: {m}");
    }
}

#[test]
fn in_place_matches_copying_and_restores_the_chunk() {
    let mut enc = LzmsEncoder::new(1 << 18, 50).unwrap();
    for (k, data) in [
        x86_like(200_000, 31),
        x86_like(70_000, 32),
        text(100_000, 33),
        random(5_000, 34),
        structured(1 << 18, 35),
    ]
    .into_iter()
    .enumerate()
    {
        let mut o1 = vec![0u8; data.len() - 1];
        let mut o2 = vec![0u8; data.len() - 1];
        let n1 = enc.compress(&data, &mut o1);
        let mut work = data.clone();
        let n2 = enc.compress_in_place(&mut work, &mut o2);
        assert_eq!(n1, n2, "case {k}");
        if let Some(n) = n1 {
            assert_eq!(o1[..n], o2[..n], "case {k}");
        }
        assert!(work == data, "case {k}: chunk not restored");
    }
}

/// Thread CPU time in seconds.
pub(super) fn thread_cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        * 1e-9
}

/// Compression speed and size on a real file, for profiling by hand:
/// `LZMS_FILE` (required), `LZMS_MB` MiB of it (default
/// 4) in chunks of `LZMS_CHUNK` bytes (default 128 KiB), `LZMS_ROUNDS`
/// times (default 1), at `LZMS_LEVEL` (default 50). Prints the total size,
/// a checksum of the output and the thread CPU time.
#[test]
#[ignore]
fn cpu_timing() {
    let var = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let path = std::env::var("LZMS_FILE").expect("LZMS_FILE: the file to compress");
    let mut data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    data.truncate(var("LZMS_MB", 4) << 20);
    let chunk = var("LZMS_CHUNK", 128 << 10);
    let rounds = var("LZMS_ROUNDS", 1);
    let level = var("LZMS_LEVEL", 50) as u32;
    let mut enc = LzmsEncoder::new(chunk, level).unwrap();
    let mut out = vec![0u8; chunk];
    let (mut size, mut sum, mut best) = (0usize, 0u64, f64::MAX);
    for _ in 0..rounds {
        let t = thread_cpu();
        size = 0;
        sum = 0;
        for c in data.chunks(chunk) {
            let n = enc.compress(c, &mut out[..c.len() - 1]).unwrap_or(c.len());
            size += n;
            for &b in &out[..n.min(c.len() - 1)] {
                sum = sum.wrapping_mul(0x100_0000_01B3) ^ u64::from(b);
            }
        }
        best = best.min(thread_cpu() - t);
    }
    eprintln!(
        "RESULT size {size} sum {sum:016x} cpu {best:.3}s {:.2} MB/s",
        data.len() as f64 / best / 1e6
    );
}
