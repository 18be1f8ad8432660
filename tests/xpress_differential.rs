//! XPRESS: our decoder against wimlib's compressor, and against the `xpress-huffman` crate.
mod support;

use proptest::prelude::*;
use support::data::{any_kind, chunk_len, make, real_files};
use support::libwim::{CType, Libwim};
use wimkit::compress::{DecodeError, XpressDecoder};

const LEVELS: [u32; 4] = [1, 20, 50, 100];
const CHUNK_SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

fn round_trip(lib: &Libwim, chunk: usize, level: u32, data: &[u8]) -> Result<bool, DecodeError> {
    let Some(packed) = lib.compressor(CType::Xpress, chunk, level).compress(data) else {
        return Ok(false);
    };
    let mut ours = vec![0u8; data.len()];
    XpressDecoder::new(chunk)?.decompress(&packed, &mut ours)?;
    assert!(
        ours == data,
        "XPRESS chunk {chunk} level {level}: our output differs from the input"
    );
    let theirs = xpress_huffman::decompress(&packed, data.len())
        .expect("xpress-huffman decodes wimlib's chunk");
    // xpress-huffman stops once its input pointer reaches the end, which can drop
    // the last few symbols held in its bit buffer: it must give a long prefix.
    assert!(
        data.starts_with(&theirs),
        "xpress-huffman disagrees with the input"
    );
    assert!(
        theirs.len() + 64 >= data.len(),
        "xpress-huffman decoded only {} of {} bytes",
        theirs.len(),
        data.len()
    );
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn wimlib_chunks_decode_exactly(
        kind in any_kind(),
        chunk_idx in 0..CHUNK_SIZES.len(),
        level_idx in 0..LEVELS.len(),
        seed in any::<u64>(),
        len_frac in 0.0f64..=1.0,
        edge in chunk_len(4096),
    ) {
        let lib = Libwim::load();
        let chunk = CHUNK_SIZES[chunk_idx];
        // Half the cases use an edge length scaled to the chunk, half any length.
        let len = if seed % 2 == 0 { ((chunk as f64) * len_frac) as usize } else { edge * chunk / 4096 };
        let data = make(kind, len.min(chunk), seed);
        round_trip(&lib, chunk, LEVELS[level_idx], &data).unwrap();
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000), out_len in 0usize..70_000) {
        let mut out = vec![0u8; out_len];
        let mut d = XpressDecoder::new(65536).unwrap();
        let _ = d.decompress(&data, &mut out);
    }

    #[test]
    fn damaged_chunks_never_panic(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..8), cut in any::<usize>()) {
        let lib = Libwim::load();
        let data = make(support::data::Kind::Text, 20_000, seed);
        let mut packed = lib.compressor(CType::Xpress, 32768, 50).compress(&data).unwrap();
        for (at, bit) in flips {
            let i = at % packed.len();
            packed[i] ^= 1 << bit;
        }
        packed.truncate(cut % (packed.len() + 1));
        let mut out = vec![0u8; data.len()];
        let _ = XpressDecoder::new(32768).unwrap().decompress(&packed, &mut out);
    }
}

#[test]
fn real_files_every_chunk_size_and_level() {
    let lib = Libwim::load();
    let files = real_files(1 << 20);
    assert!(files.len() >= 3, "expected real files to test with");
    let mut chunks = 0;
    for (name, data) in &files {
        for &chunk in &CHUNK_SIZES {
            for &level in &LEVELS {
                // A few chunks from each file keep the test quick in debug builds.
                for piece in data.chunks(chunk).step_by(7).take(3) {
                    if round_trip(&lib, chunk, level, piece)
                        .unwrap_or_else(|e| panic!("{name}: {e}"))
                    {
                        chunks += 1;
                    }
                }
            }
        }
    }
    assert!(chunks > 100, "only {chunks} chunks were compressible");
}

#[test]
fn edge_cases() {
    let mut d = XpressDecoder::new(65536).unwrap();
    // Too short for the code-length header.
    assert_eq!(
        d.decompress(&[0; 100], &mut [0; 10]),
        Err(DecodeError::Truncated)
    );
    // All-zero lengths: no codeword is defined.
    assert_eq!(
        d.decompress(&[0; 300], &mut [0; 10]),
        Err(DecodeError::InvalidSymbol)
    );
    // Empty output needs no input.
    assert_eq!(d.decompress(&[], &mut []), Ok(()));
    // Larger than the decoder was made for.
    assert!(matches!(
        XpressDecoder::new(4096)
            .unwrap()
            .decompress(&[0; 300], &mut [0; 5000]),
        Err(DecodeError::UnsupportedChunkSize(5000))
    ));
    assert!(XpressDecoder::new(65537).is_err());
}

#[test]
fn hand_made_match_before_start_is_an_error() {
    // Code: symbols 'a' (97) and 256+16 (offset log2 1, length 3) both of length 1.
    let mut chunk = vec![0u8; 256];
    chunk[97 / 2] |= 1 << 4; // 97 is odd: high nibble
    chunk[(256 + 16) / 2] |= 1; // even: low nibble
                                // Bits: match first (codeword 1), then its offset bit.
    chunk.extend_from_slice(&[0x00, 0xC0, 0, 0, 0, 0]);
    let mut out = [0u8; 8];
    assert_eq!(
        XpressDecoder::new(4096)
            .unwrap()
            .decompress(&chunk, &mut out),
        Err(DecodeError::MatchBeforeStart)
    );
    // 'a' then the match with offset 2 (bits 0, 1, 0): before start again since only 1 byte out.
    // 'a','a' then match offset 2 length 3: 0 0 1 0 -> 0x2000 in the first word.
    let mut ok = chunk[..256].to_vec();
    ok.extend_from_slice(&[0x00, 0x20, 0, 0, 0, 0]);
    let mut out = [0u8; 5];
    XpressDecoder::new(4096)
        .unwrap()
        .decompress(&ok, &mut out)
        .unwrap();
    assert_eq!(&out, b"aaaaa");
}
