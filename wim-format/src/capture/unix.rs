//! Walking a UNIX directory tree into an image: metadata from `lstat`,
//! extended attributes, link targets, and where every blob's data is.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::metadata::dentry::{
    FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_REPARSE_POINT,
};
use crate::metadata::reparse::{LinkReparse, RP_FLAG_NOT_FIXED, TAG_SYMLINK};
use crate::metadata::{Node, Reparse, Stream, Times, UnixData, Xattr};

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::access(op, &e).with_path(path)
}

fn filetime(secs: i64, nsecs: i64) -> u64 {
    let t = (secs as i128 + 11_644_473_600) * 10_000_000 + (nsecs as i128) / 100;
    t.clamp(0, u64::MAX as i128) as u64
}

fn new_node(name: &str, attributes: u32, md: &std::fs::Metadata, parent: Option<NodeId>) -> Node {
    let mtime = filetime(md.mtime(), md.mtime_nsec());
    let times = Times {
        // wimlib stores the last write time as the creation time on UNIX.
        creation: mtime,
        last_access: filetime(md.atime(), md.atime_nsec()),
        last_write: mtime,
    };
    Node::new(name, attributes, times, parent)
}

fn unnamed_stream(kind: StreamKind, size: u64) -> Stream {
    Stream {
        name: None,
        name_utf16: Vec::new(),
        hash: [0; 20],
        kind,
        size: Some(size),
    }
}

/// The extended attributes of `path` (not following a symlink); none where the file
/// system has none.
pub(crate) fn read_xattrs(path: &Path) -> Result<Vec<Xattr>> {
    use rustix::fs as rfs;
    let unsupported =
        |e: rustix::io::Errno| e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::NOSYS;
    let mut list = vec![0u8; 4096];
    let n = loop {
        match rfs::llistxattr(path, &mut list[..]) {
            Ok(n) => break n,
            Err(e) if e == rustix::io::Errno::RANGE => {
                let need = rfs::llistxattr(path, &mut [0u8; 0][..]).unwrap_or(list.len() * 2);
                list.resize(need.max(list.len() * 2), 0);
            }
            Err(e) if unsupported(e) => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::access("list extended attributes of", &e.into()).with_path(path))
            }
        }
    };
    let mut out = Vec::new();
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = std::ffi::OsStr::from_bytes_compat(name);
        let mut value = vec![0u8; 256];
        let len = loop {
            match rfs::lgetxattr(path, cname, &mut value[..]) {
                Ok(len) => break Some(len),
                Err(e) if e == rustix::io::Errno::RANGE => {
                    let need =
                        rfs::lgetxattr(path, cname, &mut [0u8; 0][..]).unwrap_or(value.len() * 2);
                    value.resize(need.max(value.len() * 2).min(1 << 17), 0);
                }
                Err(e) if e == rustix::io::Errno::NODATA => break None,
                Err(e) => {
                    return Err(
                        Error::access("read extended attribute of", &e.into()).with_path(path)
                    )
                }
            }
        };
        if let Some(len) = len {
            value.truncate(len);
            out.push(Xattr {
                name: name.to_vec(),
                value,
                flags: 0,
            });
        }
    }
    Ok(out)
}

trait FromBytesCompat {
    fn from_bytes_compat(b: &[u8]) -> &Self;
}

impl FromBytesCompat for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &Self {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
}

/// The target of an absolute symlink made relative to the capture root (identified by
/// device and inode) when it points inside it: the rest after the prefix that is the
/// root, slashes kept; `None` if it points outside.
fn relativize(target: &str, root: (u64, u64)) -> Option<String> {
    let b = target.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i] == b'/' {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        while i < b.len() && b[i] != b'/' {
            i += 1;
        }
        let md = std::fs::metadata(&target[..i]).ok()?;
        if (md.dev(), md.ino()) == root {
            return Some(target[i..].to_string());
        }
        if i >= b.len() {
            return None;
        }
    }
}

/// Scans the tree at `dir` into an image.
pub fn scan_tree(
    dir: &Path,
    opts: &CaptureOptions,
    progress: &mut dyn FnMut(CaptureProgress),
) -> Result<ScannedTree> {
    let config = super::config_matcher(dir, opts);
    let root_md = std::fs::metadata(dir).map_err(io_err("stat", dir))?;
    if !root_md.is_dir() {
        return Err(Error::Access {
            op: "capture",
            kind: std::io::ErrorKind::NotADirectory,
            message: "not a directory".into(),
        }
        .with_path(dir));
    }
    let root_id = (root_md.dev(), root_md.ino());
    let mut root = new_node("", FILE_ATTRIBUTE_DIRECTORY, &root_md, None);
    root.streams.push(unnamed_stream(StreamKind::Data, 0));
    if opts.unix_data {
        root.unix = Some(unix_of(&root_md));
        root.xattrs = read_xattrs(dir)?;
    }
    let mut t = ScannedTree {
        image: Image {
            root: 0,
            nodes: vec![root],
            security: Default::default(),
            warnings: Vec::new(),
        },
        sources: Vec::new(),
        links: Vec::new(),
        report: CaptureReport::default(),
    };
    let mut inodes: HashMap<(u64, u64), NodeId> = HashMap::new();
    let mut entries = 0u64;
    let mut stack: Vec<(NodeId, PathBuf, String)> = vec![(0, dir.to_path_buf(), String::new())];
    while let Some((dir_id, dir_path, dir_rel)) = stack.pop() {
        let rd = std::fs::read_dir(&dir_path).map_err(io_err("read directory", &dir_path))?;
        let mut names = Vec::new();
        for e in rd {
            let e = e.map_err(io_err("read directory", &dir_path))?;
            names.push(e.file_name());
        }
        names.sort();
        for os_name in names {
            let path = dir_path.join(&os_name);
            let Some(name) = os_name.to_str() else {
                return Err(Error::Access {
                    op: "capture",
                    kind: std::io::ErrorKind::InvalidData,
                    message: "the file name is not valid UTF-8".into(),
                }
                .with_path(&path));
            };
            let rel = format!("{dir_rel}/{name}");
            if config.is_excluded(&rel) {
                t.report.excluded += 1;
                continue;
            }
            let md = std::fs::symlink_metadata(&path).map_err(io_err("stat", &path))?;
            let ft = md.file_type();
            entries += 1;
            if entries % 1024 == 0 {
                progress(CaptureProgress::Scanning {
                    entries,
                    path: rel.clone(),
                });
            }
            // Sockets are kept as wimlib keeps them: an empty entry whose UNIX
            // mode says what it is (an applied socket is inert, like a fresh one).
            let special =
                ft.is_fifo() || ft.is_char_device() || ft.is_block_device() || ft.is_socket();
            if special && !opts.unix_data {
                t.report.warnings.push(format!(
                    "skipped special file {} (it needs UNIX data)",
                    path.display()
                ));
                continue;
            }
            let attributes = if ft.is_dir() {
                FILE_ATTRIBUTE_DIRECTORY
            } else if ft.is_symlink() {
                FILE_ATTRIBUTE_REPARSE_POINT
            } else if special {
                0
            } else {
                FILE_ATTRIBUTE_NORMAL
            };
            let mut node = new_node(name, attributes, &md, Some(dir_id));
            let id = t.image.nodes.len();
            if opts.unix_data {
                node.unix = Some(unix_of(&md));
                node.xattrs = read_xattrs(&path)?;
            }
            // A later name of a file already seen.
            if !ft.is_dir() && md.nlink() > 1 {
                if let Some(&first) = inodes.get(&(md.dev(), md.ino())) {
                    t.image.nodes.push(node);
                    t.image.nodes[dir_id].children.push(id);
                    t.links.push((id, first));
                    continue;
                }
                inodes.insert((md.dev(), md.ino()), id);
            }
            if ft.is_dir() {
                node.streams.push(unnamed_stream(StreamKind::Data, 0));
                stack.push((id, path.clone(), rel));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path).map_err(io_err("read link", &path))?;
                let Some(target) = target.to_str().map(String::from) else {
                    return Err(Error::Access {
                        op: "capture",
                        kind: std::io::ErrorKind::InvalidData,
                        message: "the symbolic link target is not valid UTF-8".into(),
                    }
                    .with_path(&path));
                };
                let mut rp_flags = RP_FLAG_NOT_FIXED;
                let mut stored = target.clone();
                if opts.rpfix && target.starts_with('/') {
                    if let Some(r) = relativize(&target, root_id) {
                        stored = r;
                        rp_flags = 0;
                    }
                }
                if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                    node.attributes |= FILE_ATTRIBUTE_DIRECTORY;
                }
                let data = LinkReparse::for_unix_target(&stored);
                node.reparse = Some(Reparse {
                    tag: TAG_SYMLINK,
                    reserved: 0,
                    flags: rp_flags,
                    data_hash: [0; 20],
                });
                node.streams
                    .push(unnamed_stream(StreamKind::ReparsePoint, data.len() as u64));
                node.streams.push(unnamed_stream(StreamKind::Data, 0));
                t.sources.push((id, 0, BlobData::Bytes(data)));
            } else {
                let size = if special { 0 } else { md.len() };
                node.streams.push(unnamed_stream(StreamKind::Data, size));
                if size > 0 {
                    let raw = config.is_compression_excluded(&rel);
                    t.sources.push((
                        id,
                        0,
                        BlobData::File {
                            path: path.clone(),
                            size,
                            raw,
                        },
                    ));
                }
            }
            t.image.nodes.push(node);
            t.image.nodes[dir_id].children.push(id);
        }
    }
    progress(CaptureProgress::Scanning {
        entries,
        path: String::new(),
    });
    Ok(t)
}

fn unix_of(md: &std::fs::Metadata) -> UnixData {
    UnixData {
        uid: md.uid(),
        gid: md.gid(),
        mode: md.mode(),
        rdev: md.rdev() as u32,
    }
}
