//! What the whole-file fuzz target does with its input, shared with the test
//! that replays every input the fuzzer ever found a problem with.

use crate::read::Wim;

/// Opens `data` as a WIM and touches everything a reader would: the XML, every
/// image's tree, and every blob (decoded and SHA-1-checked). Errors are ignored.
pub fn exercise_file(data: &[u8]) {
    let Ok(wim) = Wim::parse(data) else { return };
    let _ = wim.xml();
    for index in 1..=wim.image_count().min(16) {
        if let Ok(image) = wim.image(index) {
            let _ = image.walk();
        }
    }
    let mut reader = wim.reader();
    for blob in wim.blob_table.blobs.iter().take(256) {
        let _ = reader.verify_blob(blob);
    }
}
