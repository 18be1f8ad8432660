//! Any input to the LZX decoder: Ok or a typed error, never a panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wim_compress::{Codec, Decompressor};

fuzz_target!(|data: &[u8]| {
    // Input layout (shared by the decode targets): u8 chunk-size selector,
    // u32 LE uncompressed size, then the compressed chunk.
    let Some((chunk_size, out_len, chunk)) = wim_compress::fuzzing::split_input(Codec::Lzx, data) else { return };
    let mut d = Decompressor::new(Codec::Lzx, chunk_size).expect("valid chunk size");
    let mut out = vec![0u8; out_len];
    let _ = d.decompress(chunk, &mut out);
});
