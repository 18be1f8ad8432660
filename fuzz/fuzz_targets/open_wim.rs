//! A whole WIM file from arbitrary bytes: open it, read its XML, parse every
//! image's metadata, walk the trees and read every blob. Errors are fine;
//! panics, hangs and huge allocations are not.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wim_format::fuzzing::exercise_file(data);
});
