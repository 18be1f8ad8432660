//! A metadata resource (security data and dentry tree) from arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = wim_format::metadata::Image::parse(data) {
        for (path, id) in image.walk() {
            let _ = (path.len(), image.node(id).streams.len());
        }
    }
});
