//! Replays every input the fuzzers ever found a problem with (fuzz/regressions/<target>/):
//! each must decode to Ok or a typed error without panicking.
use std::path::Path;

use wimkit::compress::{fuzzing, Codec, Decompressor};

fn replay(target: &str, codec: Codec) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Some((chunk, len, input)) = fuzzing::split_input(codec, &data) {
            let mut out = vec![0u8; len];
            let _ = Decompressor::new(codec, chunk)
                .unwrap()
                .decompress(input, &mut out);
        }
        count += 1;
    }
    count
}

#[test]
fn xpress_regressions() {
    assert!(replay("decode_xpress", Codec::Xpress) > 0);
}

#[test]
fn lzx_regressions() {
    assert!(replay("decode_lzx", Codec::Lzx) > 0);
}

#[test]
fn lzms_regressions() {
    assert!(replay("decode_lzms", Codec::Lzms) > 0);
}

/// Every input of a container target: each must give a result or an error, never a panic.
fn replay_files(target: &str, run: impl Fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        run(&std::fs::read(entry.unwrap().path()).unwrap());
        count += 1;
    }
    count
}

#[test]
fn open_wim_regressions() {
    assert!(replay_files("open_wim", wimkit::format::fuzzing::exercise_file) > 0);
}

#[test]
fn parse_metadata_regressions() {
    assert!(
        replay_files("parse_metadata", |data| {
            if let Ok(image) = wimkit::format::metadata::Image::parse(data) {
                let _ = image.walk();
            }
        }) > 0
    );
}

#[test]
fn compress_roundtrip_regressions() {
    assert!(replay_files("compress_roundtrip", fuzzing::compress_round_trip) > 0);
}
