//! Committing a read-write mount into its WIM, in place.
//!
//! The overlay's final tree ([`crate::Overlay::changes`]) becomes an image
//! ([`crate::ImageEdit::to_image`]); only the blobs the WIM lacks (scratch files, new
//! symlinks' reparse data) and a new metadata resource are written, after the end of
//! the file, then the blob table, XML data (and integrity table), and the header
//! last: the same crash safety as appending an image. The committed image replaces
//! the mounted one at its index (keeping its XML fields, with new counts and
//! modification time) or, with `append`, is added as a new image.
//!
//! The overlay is left as it is: it still shows the final tree over its old base,
//! whose data stays where it was in the file (an in-place write only adds), so the
//! mount keeps working and a later commit writes the tree again from the same base.

use std::path::Path;

use wim_format::write::xml::{image_counts, now_filetime, set_child_text, update_image_element};
use wim_format::write::{BlobData, WimWriter, WriteOptions};
use wim_format::{Sha1Hash, WimFile};

use crate::error::{FsError, FsResult};
use crate::overlay::{NewBlobSource, Overlay};

/// How to commit.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Add the tree as a new image instead of replacing the mounted one.
    pub append: bool,
    /// Write an integrity table (one is also kept when the WIM had one).
    pub integrity: bool,
    /// Compression threads; `None`: every core.
    pub threads: Option<usize>,
}

/// What a commit wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    /// Index of the committed image (the mounted one, or the new one with `append`).
    pub index: u32,
    /// Blobs written (the WIM lacked them).
    pub new_blobs: usize,
    /// Their uncompressed bytes.
    pub new_bytes: u64,
    /// SHA-1 of the committed image's metadata resource.
    pub metadata_hash: Sha1Hash,
}

/// A name for an appended copy of the image named `name` that no image has yet:
/// `name (2)`, `name (3)`...
fn unique_name(names: &[Option<String>], name: &str) -> String {
    let taken = |n: &str| names.iter().flatten().any(|x| x.eq_ignore_ascii_case(n));
    (2..)
        .map(|i| format!("{name} ({i})"))
        .find(|n| !taken(n))
        .expect("some name is free")
}

/// Commits `overlay` (a mount of image `index` of the WIM at `path`) into that WIM.
/// `progress(done, total)` counts bytes of new data written.
pub fn commit(
    overlay: &Overlay,
    path: &Path,
    index: u32,
    opts: &CommitOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> FsResult<CommitReport> {
    // One commit into a file at a time (two mounts of images of one WIM).
    let lock = std::fs::File::open(path)?;
    #[cfg(target_os = "linux")]
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(std::io::Error::from)?;
    let base = overlay.base();
    let edit = overlay.changes()?;
    let (image, new_blobs) = edit.to_image(base.image())?;

    let file = WimFile::open(path)?;
    let wim = file.wim()?;
    let mut wopts = WriteOptions {
        integrity: opts.integrity || wim.header.integrity.offset != 0,
        threads: opts.threads,
        ..WriteOptions::default()
    };
    wopts.level = 0;
    let mut w = WimWriter::in_place(path, &wim, &wopts)?;

    // New data: what the WIM does not have yet. Data of the base image that a
    // previous commit dropped from the blob table is read back from the mount's source.
    let mut data = Vec::new();
    let mut expect = Vec::new();
    for b in &new_blobs {
        if w.has_blob(&b.hash) {
            continue;
        }
        data.push(match &b.source {
            NewBlobSource::File(p) => BlobData::File {
                path: p.clone(),
                size: b.size,
                raw: false,
            },
            NewBlobSource::Memory(v) => BlobData::Bytes(v.clone()),
        });
        expect.push(b.hash);
    }
    for n in &image.nodes {
        for s in &n.streams {
            if w.has_blob(&s.hash) || expect.contains(&s.hash) {
                continue;
            }
            if base.source().blob(&s.hash).is_some() {
                data.push(BlobData::Bytes(base.source().blob_data(&s.hash)?));
                expect.push(s.hash);
            }
        }
    }
    let new_bytes: u64 = data.iter().map(BlobData::size).sum();
    let got = w.add_blobs(&data, progress)?;
    if got != expect {
        return Err(FsError::Invalid(
            "files of the mount changed while they were committed; close them and commit again",
        ));
    }

    let counts = image_counts(&image);
    let now = now_filetime();
    let xml = wim.xml()?;
    let old_element = w
        .image_elements_mut()
        .get(index as usize - 1)
        .cloned()
        .ok_or(FsError::Wim(wim_format::Error::NoSuchImage {
            index,
            count: wim.image_count(),
        }))?;
    let mut element = old_element;
    update_image_element(&mut element, &counts, now);

    // Every image the WIM will have, for exact reference counts.
    let mut images = Vec::new();
    for i in 1..=wim.image_count() {
        if i != index || opts.append {
            images.push(wim.image(i)?);
        }
    }
    let committed = if opts.append {
        let names: Vec<Option<String>> = xml.images.iter().map(|i| i.name.clone()).collect();
        let name = xml
            .image(index)
            .and_then(|i| i.name.clone())
            .unwrap_or_else(|| format!("Image {index}"));
        set_child_text(&mut element, "NAME", unique_name(&names, &name));
        wim_format::write::xml::set_filetime(&mut element, "CREATIONTIME", now);
        w.add_image(&image, element)?;
        w.image_count() as u32
    } else {
        w.replace_image(index, &image, element)?;
        index
    };
    images.push(image);
    w.recount(&images);
    w.finish()?;
    drop(wim);
    drop(file);

    // The hash of the metadata resource now at `committed`.
    let file = WimFile::open(path)?;
    let wim = file.wim()?;
    let metadata_hash = wim
        .blob_table
        .metadata_blobs()
        .nth(committed as usize - 1)
        .map(|b| b.hash)
        .unwrap_or([0; 20]);
    drop(lock);
    Ok(CommitReport {
        index: committed,
        new_blobs: expect.len(),
        new_bytes,
        metadata_hash,
    })
}

/// SHA-1 of the metadata resource of image `index` of the WIM at `path` (what
/// identifies the image's tree: it changes when the image is committed).
pub fn image_metadata_hash(path: &Path, index: u32) -> FsResult<Sha1Hash> {
    let file = WimFile::open(path)?;
    let wim = file.wim()?;
    let hash = wim
        .blob_table
        .metadata_blobs()
        .nth((index as usize).wrapping_sub(1))
        .map(|b| b.hash);
    hash.ok_or(FsError::Wim(wim_format::Error::NoSuchImage {
        index,
        count: wim.image_count(),
    }))
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn appended_names_are_new() {
        let names = vec![Some("A".to_string()), Some("a (2)".to_string()), None];
        assert_eq!(unique_name(&names, "A"), "A (3)");
        assert_eq!(unique_name(&names, "B"), "B (2)");
    }
}
