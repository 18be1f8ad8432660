//! Any data, any codec, chunk size, level and output room: the compressor
//! never panics or overruns, and what it writes decodes to the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wim_compress::fuzzing::compress_round_trip(data));
