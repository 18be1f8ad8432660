//! What to create, decided from the image before anything is written: the entries by
//! kind, the inodes of regular files, and the blobs to read grouped into work units.

use std::collections::HashMap;

use crate::blob_table::{Blob, BlobLocation, Sha1Hash};
use crate::error::{Error, Result};
use crate::metadata::dentry::FILE_ATTRIBUTE_ENCRYPTED;
use crate::metadata::{Image, NodeId};
use crate::read::Wim;

use super::ApplyOptions;

/// SHA-1 of no data: a stream with this hash is empty even if the blob table lacks it.
const SHA1_EMPTY: Sha1Hash = [
    0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55, 0xbf, 0xef, 0x95, 0x60, 0x18, 0x90,
    0xaf, 0xd8, 0x07, 0x09,
];

const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// Whether `name` can be one component of a path under the target.
pub fn check_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Whether `rel` (components separated by `/`) stays under the directory it is
/// relative to: not absolute, no empty, `.` or `..` components, no NUL.
pub fn check_relative_path(rel: &str) -> bool {
    !rel.is_empty() && rel.split('/').all(check_name)
}

/// A FILETIME (100 ns units since 1601) as seconds and nanoseconds since 1970.
pub fn filetime_to_unix(ft: u64) -> (i64, u32) {
    const EPOCH_DIFF: i128 = 116_444_736_000_000_000;
    let t = i128::from(ft) - EPOCH_DIFF;
    let secs = t.div_euclid(10_000_000) as i64;
    let nanos = (t.rem_euclid(10_000_000) * 100) as u32;
    (secs, nanos)
}

/// A directory to create; `rel` is empty for the root (the target itself).
pub(crate) struct DirEntry {
    pub rel: String,
    pub node: NodeId,
}

/// A regular file: one inode with one or more names (hard links).
pub(crate) struct FileInode {
    pub paths: Vec<String>,
    /// The node whose metadata the inode gets (the first name's).
    pub node: NodeId,
    pub size: u64,
}

pub(crate) struct LinkEntry {
    pub rel: String,
    pub node: NodeId,
    pub tag: u32,
    pub not_fixed: bool,
    pub data: Sha1Hash,
}

pub(crate) struct Special {
    pub rel: String,
    pub node: NodeId,
    pub mode: u32,
    pub rdev: u32,
}

/// One blob to read and what it goes to.
pub(crate) struct BlobWork {
    pub blob: Blob,
    /// Indexes into [`Plan::files`].
    pub inodes: Vec<usize>,
    /// Whether it is the reparse data of a link (kept in memory for later).
    pub reparse: bool,
}

/// Blobs read in order by one reader.
pub(crate) struct Unit {
    pub blobs: Vec<BlobWork>,
    pub bytes: u64,
}

#[derive(Default)]
pub(crate) struct Plan {
    pub dirs: Vec<DirEntry>,
    pub files: Vec<FileInode>,
    /// Indexes into `files` of empty files.
    pub empty: Vec<usize>,
    pub links: Vec<LinkEntry>,
    pub specials: Vec<Special>,
    pub units: Vec<Unit>,
    /// Bytes of file data to write.
    pub total_bytes: u64,
    pub warnings: Vec<String>,
}

fn count_warning(warnings: &mut Vec<String>, n: usize, what: &str) {
    if n > 0 {
        warnings.push(format!("{n} {what}"));
    }
}

impl Plan {
    pub fn new(wim: &Wim<'_>, image: &Image, opts: &ApplyOptions, threads: usize) -> Result<Self> {
        let mut plan = Plan {
            warnings: image.warnings.clone(),
            ..Plan::default()
        };
        let (mut named, mut sd, mut oid, mut other_rp, mut encrypted, mut xattr_skipped) =
            (0, 0, 0, 0, 0, 0);
        let mut groups: HashMap<u64, usize> = HashMap::new();
        // Blobs by hash -> index into `work`.
        let mut by_hash: HashMap<Sha1Hash, usize> = HashMap::new();
        let mut work: Vec<BlobWork> = Vec::new();
        let mut need_blob =
            |hash: Sha1Hash, rel: &str, inode: Option<usize>, reparse: bool| -> Result<()> {
                let i = match by_hash.get(&hash) {
                    Some(&i) => i,
                    None => {
                        let blob =
                            *wim.blob_table
                                .get(&hash)
                                .ok_or_else(|| Error::MissingBlob {
                                    path: format!("/{rel}"),
                                    hash,
                                })?;
                        work.push(BlobWork {
                            blob,
                            inodes: Vec::new(),
                            reparse: false,
                        });
                        by_hash.insert(hash, work.len() - 1);
                        work.len() - 1
                    }
                };
                work[i].inodes.extend(inode);
                work[i].reparse |= reparse;
                Ok(())
            };
        // Nodes below a link (which only a hostile or damaged image has) are skipped.
        let mut under_link = vec![false; image.nodes.len()];
        let mut below_links = 0;
        for (path, id) in image.walk() {
            let node = image.node(id);
            if let Some(parent) = node.parent {
                if under_link[parent] || image.node(parent).is_symlink() {
                    under_link[id] = true;
                    below_links += 1;
                    continue;
                }
            }
            let rel = path.trim_start_matches('/').to_string();
            if id != image.root && !check_relative_path(&rel) {
                return Err(Error::InvalidMetadata {
                    what: "a path of the image would leave the target directory",
                    offset: 0,
                });
            }
            named += node.named_data().count();
            sd += usize::from(node.security_id.is_some());
            oid += usize::from(node.object_id.is_some());
            if !opts.unix_data && !node.xattrs.is_empty() {
                xattr_skipped += 1;
            }
            if id == image.root {
                plan.dirs.push(DirEntry { rel, node: id });
                continue;
            }
            if node.attributes & FILE_ATTRIBUTE_ENCRYPTED != 0 {
                encrypted += 1;
                if node.is_directory() {
                    plan.dirs.push(DirEntry { rel, node: id });
                }
                continue;
            }
            if node.is_symlink() {
                let Some(rp) = node.reparse else { continue };
                if rp.data_hash != [0; 20] {
                    need_blob(rp.data_hash, &rel, None, true)?;
                }
                plan.links.push(LinkEntry {
                    rel,
                    node: id,
                    tag: rp.tag,
                    not_fixed: rp.not_fixed(),
                    data: rp.data_hash,
                });
                continue;
            }
            if node.is_reparse_point() {
                other_rp += 1;
            }
            if node.is_directory() {
                plan.dirs.push(DirEntry { rel, node: id });
                continue;
            }
            let special = node
                .unix
                .filter(|_| opts.unix_data)
                .filter(|u| matches!(u.mode & S_IFMT, S_IFIFO | S_IFCHR | S_IFBLK | S_IFSOCK));
            if let Some(u) = special {
                plan.specials.push(Special {
                    rel,
                    node: id,
                    mode: u.mode,
                    rdev: u.rdev,
                });
                continue;
            }
            if node.hard_link_group != 0 {
                if let Some(&inode) = groups.get(&node.hard_link_group) {
                    plan.files[inode].paths.push(rel);
                    continue;
                }
            }
            let inode = plan.files.len();
            if node.hard_link_group != 0 {
                groups.insert(node.hard_link_group, inode);
            }
            let hash = node.unnamed_data().map_or([0; 20], |s| s.hash);
            let size = if hash == [0; 20] || hash == SHA1_EMPTY {
                plan.empty.push(inode);
                0
            } else {
                need_blob(hash, &rel, Some(inode), false)?;
                wim.blob_table.get(&hash).map_or(0, |b| b.size)
            };
            plan.files.push(FileInode {
                paths: vec![rel],
                node: id,
                size,
            });
        }
        plan.total_bytes = plan.files.iter().map(|f| f.size).sum();
        let w = &mut plan.warnings;
        count_warning(w, named, "named data streams were not applied");
        count_warning(w, sd, "Windows security descriptors were not applied");
        count_warning(w, oid, "object ids were not applied");
        count_warning(
            w,
            other_rp,
            "reparse points other than symlinks and junctions were not applied (applied as plain files or directories)",
        );
        count_warning(w, encrypted, "encrypted files were not applied");
        count_warning(
            w,
            below_links,
            "files inside symlinks or junctions were not applied",
        );
        count_warning(
            w,
            xattr_skipped,
            "files' extended attributes were not applied (UNIX data not requested)",
        );
        plan.units = make_units(wim, work, threads);
        Ok(plan)
    }
}

/// Groups blobs into units: each plain resource alone (in file order); the blobs of a
/// solid resource in offset order, in ranges of whole chunks (by the chunk they start
/// in), enough ranges to keep `threads` busy (their chunks are shared: see
/// `solid.rs`).
fn make_units(wim: &Wim<'_>, work: Vec<BlobWork>, threads: usize) -> Vec<Unit> {
    let mut plain = Vec::new();
    let mut solid: HashMap<usize, Vec<(u64, BlobWork)>> = HashMap::new();
    for w in work {
        match w.blob.location {
            BlobLocation::Resource(res) => plain.push((res.offset, w)),
            BlobLocation::Solid { resource, offset } => {
                solid.entry(resource).or_default().push((offset, w))
            }
        }
    }
    let mut units: Vec<Unit> = Vec::new();
    let mut solid: Vec<_> = solid.into_iter().collect();
    solid.sort_by_key(|(r, _)| *r);
    for (r, mut blobs) in solid {
        blobs.sort_by_key(|(o, _)| *o);
        let res = &wim.blob_table.solid_resources[r];
        let cs = u64::from(res.header.chunk_size.max(1));
        let chunks = res.header.uncompressed_size.div_ceil(cs).max(1);
        let per_unit = (chunks / (4 * threads as u64)).max(1);
        let mut current = None;
        for (offset, w) in blobs {
            let group = offset / cs / per_unit;
            if current != Some(group) {
                current = Some(group);
                units.push(Unit {
                    blobs: Vec::new(),
                    bytes: 0,
                });
            }
            if let Some(u) = units.last_mut() {
                u.bytes += w.blob.size;
                u.blobs.push(w);
            }
        }
    }
    plain.sort_by_key(|(o, _)| *o);
    units.extend(plain.into_iter().map(|(_, w)| Unit {
        bytes: w.blob.size,
        blobs: vec![w],
    }));
    units.retain(|u| !u.blobs.is_empty());
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(!check_name(bad), "{bad:?}");
        }
        for good in ["a", "...", "a b", "日本", "a\\b"] {
            assert!(check_name(good), "{good:?}");
        }
        for bad in ["", "/a", "a/", "a//b", "a/../b", "../a", "a/./b", "a/.."] {
            assert!(!check_relative_path(bad), "{bad:?}");
        }
        assert!(check_relative_path("a/b/c"));
    }

    #[test]
    fn filetimes() {
        assert_eq!(filetime_to_unix(116_444_736_000_000_000), (0, 0));
        assert_eq!(filetime_to_unix(116_444_736_000_000_001), (0, 100));
        assert_eq!(filetime_to_unix(116_444_735_999_999_999), (-1, 999_999_900));
        assert_eq!(filetime_to_unix(0), (-11_644_473_600, 0));
    }
}
