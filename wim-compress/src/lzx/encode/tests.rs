//! Round trips through our decoder.

use super::LzxEncoder;
use crate::lzx::LzxDecoder;

const LEVELS: [u32; 5] = [1, 20, 35, 50, 100];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    (0..len).map(|_| r.next() as u8).collect()
}

fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "the ",
        "quick ",
        "brown ",
        "fox ",
        "jumps ",
        "over ",
        "lazy ",
        "dog ",
        "and ",
        "compression ",
        "window ",
        "imaging ",
        "format ",
        "of ",
        "a ",
        "block\n",
    ];
    let mut r = Rng(seed);
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        v.extend_from_slice(WORDS[(r.next() % 16) as usize].as_bytes());
        if r.next() % 11 == 0 {
            v.extend_from_slice(format!("{} ", r.next() % 1000).as_bytes());
        }
    }
    v.truncate(len);
    v
}

/// Instruction-like bytes with many CALL (E8) opcodes and relative targets.
fn x86(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        match r.next() % 6 {
            0 => {
                v.push(0xE8);
                let target = (r.next() % 4096) as i32 - 2048;
                v.extend_from_slice(&target.to_le_bytes());
            }
            1 => v.extend_from_slice(&[0x48, 0x89, 0x5C, 0x24, 0x08]),
            2 => v.extend_from_slice(&[0x8B, 0x45, (r.next() % 8) as u8 * 4]),
            3 => v.push(0xE8),
            4 => v.extend_from_slice(&[0xC3, 0xCC, 0xCC, 0xCC]),
            _ => v.push(r.next() as u8),
        }
    }
    v.truncate(len);
    v
}

/// Records of a fixed stride with a few changing fields: repeat offsets.
fn records(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut v = Vec::with_capacity(len + 64);
    let mut n = 0u32;
    while v.len() < len {
        n += 1;
        v.extend_from_slice(b"REC:");
        v.extend_from_slice(&n.to_le_bytes());
        v.extend_from_slice(&[0u8; 6]);
        v.push((r.next() % 3) as u8);
        v.extend_from_slice(b"field-a=17;field-b=");
        v.push(b'0' + (r.next() % 10) as u8);
        v.extend_from_slice(&[0xFF; 5]);
    }
    v.truncate(len);
    v
}

fn compress(enc: &mut LzxEncoder, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; data.len() + 1024];
    let n = enc.compress(data, &mut out)?;
    out.truncate(n);
    Some(out)
}

fn check(chunk_size: usize, level: u32, data: &[u8]) -> Option<usize> {
    let mut enc = LzxEncoder::new(chunk_size, level).unwrap();
    let c = compress(&mut enc, data)?;
    let mut dec = LzxDecoder::new(chunk_size.max(32 * 1024)).unwrap();
    let mut back = vec![0u8; data.len()];
    dec.decompress(&c, &mut back)
        .unwrap_or_else(|e| panic!("decode failed (chunk {chunk_size}, level {level}): {e}"));
    assert!(back == data, "mismatch (chunk {chunk_size}, level {level})");
    // The encoder is reusable: a second chunk gives the same result.
    assert_eq!(compress(&mut enc, data).as_deref(), Some(&c[..]));
    Some(c.len())
}

#[test]
fn tiny_inputs() {
    for level in LEVELS {
        let mut enc = LzxEncoder::new(32768, level).unwrap();
        let mut out = [0u8; 64];
        assert_eq!(enc.compress(&[], &mut out), Some(0));
        assert_eq!(enc.compress(&[], &mut []), Some(0));
        assert_eq!(enc.compress(&[7], &mut []), None);
        for len in 1..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 5) as u8).collect();
            check(32768, level, &data).unwrap();
        }
    }
}

#[test]
fn zeros_and_random() {
    for level in LEVELS {
        let zeros = vec![0u8; 32768];
        let n = check(32768, level, &zeros).unwrap();
        assert!(n < 200, "zeros at level {level}: {n}");
        let r = random(32768, u64::from(level));
        let mut enc = LzxEncoder::new(32768, level).unwrap();
        let mut out = vec![0u8; r.len() - 1];
        assert_eq!(enc.compress(&r, &mut out), None, "random at level {level}");
        // With room, random data still round-trips.
        check(32768, level, &r[..5000]).unwrap();
    }
}

#[test]
fn incompressible_chunk_is_given_up_only_when_room_is_short() {
    // Random bytes whose last 400 repeat the first 400: the full parse
    // would save about 1%, not worth twice the time.
    let mut r = random(32768, 7);
    r.copy_within(..400, 32768 - 400);
    let mut enc = LzxEncoder::new(32768, 50).unwrap();
    let mut short = vec![0u8; r.len() - 1];
    assert_eq!(enc.compress(&r, &mut short), None);
    // With room for it, the chunk is still written, and decodes.
    let mut roomy = vec![0u8; r.len() + 4096];
    let n = enc
        .compress(&r, &mut roomy)
        .expect("fits in the room given");
    assert!(n < r.len() - 1, "{n} bytes: the parse would have fitted");
    let mut back = vec![0u8; r.len()];
    LzxDecoder::new(32768)
        .unwrap()
        .decompress(&roomy[..n], &mut back)
        .unwrap();
    assert!(back == r);
    // Random bytes with a repeat are not given up: half of them are one
    // match.
    let mut halves = random(16384, 8);
    halves.extend_from_within(..);
    let n = check(32768, 50, &halves).expect("a repeated half compresses");
    assert!(n < 17_000, "{n} bytes");
}

#[test]
fn kinds_of_data_at_every_level() {
    for level in LEVELS {
        for (name, data) in [
            ("text", text(32768, 1)),
            ("x86", x86(32768, 2)),
            ("records", records(32768, 3)),
        ] {
            let n = check(32768, level, &data).unwrap();
            assert!(n < data.len() / 2, "{name} at level {level}: {n}");
        }
    }
}

#[test]
fn chunk_sizes_and_short_final_chunks() {
    let mut data = text(300_000, 4);
    data.extend_from_slice(&x86(200_000, 5));
    data.extend_from_slice(&records(100_000, 6));
    for (chunk, level) in [(65536, 50), (65536, 20), (1 << 20, 35), (1 << 20, 1)] {
        let len = chunk.min(data.len());
        check(chunk, level, &data[..len]).unwrap();
        // A short final chunk with the resource's chunk size.
        check(chunk, level, &data[..len / 3 + 1]).unwrap();
    }
}

#[test]
fn two_mib_chunk() {
    let mut data = text(1 << 20, 7);
    data.extend_from_slice(&x86(1 << 20, 8));
    for level in [20, 50] {
        check(2 << 20, level, &data).unwrap();
        check(2 << 20, level, &data[..777_777]).unwrap();
    }
}

#[test]
fn every_output_size_near_the_result() {
    let data = {
        let mut d = text(20_000, 9);
        d.extend_from_slice(&x86(12_000, 10));
        d
    };
    for level in [1, 50] {
        let full = check(32768, level, &data).unwrap();
        let mut enc = LzxEncoder::new(32768, level).unwrap();
        let mut dec = LzxDecoder::new(32768).unwrap();
        let mut back = vec![0u8; data.len()];
        for size in (0..full + 40).filter(|s| *s < 64 || s + 70 > full) {
            let mut out = vec![0u8; size];
            match enc.compress(&data, &mut out) {
                None => assert!(size < full, "size {size} of {full}"),
                Some(n) => {
                    assert!(n <= size);
                    dec.decompress(&out[..n], &mut back).unwrap();
                    assert!(back == data);
                }
            }
        }
    }
}

#[test]
fn small_chunk_sizes_are_accepted() {
    // Below the smallest window the encoder still uses a 32 KiB window.
    let data = text(1000, 11);
    for level in LEVELS {
        check(1000, level, &data).unwrap();
    }
    assert!(LzxEncoder::new(0, 50).is_err());
    assert!(LzxEncoder::new((2 << 20) + 1, 50).is_err());
    assert!(LzxEncoder::new(32768, 101).is_err());
    let mut enc = LzxEncoder::new(1000, 50).unwrap();
    let mut out = vec![0u8; 4096];
    assert_eq!(enc.compress(&[0u8; 1001], &mut out), None);
}
