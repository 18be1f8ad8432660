//! SHA-1, the digest that names every blob.

use sha1::{Digest, Sha1};

use crate::blob_table::Sha1Hash;

/// The SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> Sha1Hash {
    Sha1::digest(data).into()
}
