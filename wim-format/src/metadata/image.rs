//! An image's directory tree in memory: an arena of [`Node`]s built from the dentries of
//! a metadata resource without recursion.

use std::collections::HashSet;

use super::dentry::{
    read_dentry, RawDentry, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_ENCRYPTED,
    FILE_ATTRIBUTE_REPARSE_POINT,
};
use super::reparse::{RP_FLAG_NOT_FIXED, TAG_MOUNT_POINT, TAG_SYMLINK};
use super::security::SecurityData;
use super::tags::{self, TaggedItem, UnixData, Xattr};
use crate::blob_table::Sha1Hash;
use crate::error::{Error, Result};

/// Deepest directory nesting accepted (the root's children are at depth 1).
pub const MAX_DEPTH: usize = 1024;

/// Index of a node in [`Image::nodes`].
pub type NodeId = usize;

/// What a stream of a file holds, decided as wimlib decides it (the format does not
/// say): named streams are data; the first unnamed stream of a reparse point is its
/// reparse data and the next its unnamed data; the default hash of the dentry counts
/// only when nonzero or when no extra stream claims the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Data,
    ReparsePoint,
    /// The raw encrypted data of an EFS-encrypted file.
    EncryptedRaw,
    /// A stream nothing uses (e.g. a second unnamed data stream).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// None for the unnamed stream (lossy UTF-8 for unpaired surrogates).
    pub name: Option<String>,
    pub name_utf16: Vec<u16>,
    /// SHA-1 of the data; all zeroes for an empty stream.
    pub hash: Sha1Hash,
    pub kind: StreamKind,
    /// Uncompressed size, when known (filled in from the blob table by
    /// [`crate::Wim::image`]; 0 for a zero hash).
    pub size: Option<u64>,
}

impl Stream {
    pub fn is_empty_hash(&self) -> bool {
        self.hash == [0; 20]
    }
}

/// The reparse point fields of a dentry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reparse {
    pub tag: u32,
    pub reserved: u16,
    pub flags: u16,
    /// Hash of the reparse data (all zeroes if there is none).
    pub data_hash: Sha1Hash,
}

impl Reparse {
    pub fn not_fixed(&self) -> bool {
        self.flags & RP_FLAG_NOT_FIXED != 0
    }
}

/// Creation, last access and last write times (FILETIME: 100 ns since 1601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Times {
    pub creation: u64,
    pub last_access: u64,
    pub last_write: u64,
}

/// A file or directory (one dentry: hard links are separate nodes sharing
/// [`Node::hard_link_group`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Long name, lossy UTF-8 (empty for the root).
    pub name: String,
    pub name_utf16: Vec<u16>,
    pub short_name: String,
    pub short_name_utf16: Vec<u16>,
    pub attributes: u32,
    /// Index into [`Image::security`], if any (invalid ids are dropped with a warning).
    pub security_id: Option<u32>,
    pub times: Times,
    pub streams: Vec<Stream>,
    pub reparse: Option<Reparse>,
    /// Nonzero ids shared by the dentries of one file; 0 when not linked (always 0 for
    /// reparse points, whose dentries have no room for it).
    pub hard_link_group: u64,
    pub unix: Option<UnixData>,
    pub xattrs: Vec<Xattr>,
    pub object_id: Option<Vec<u8>>,
    /// Every tagged item as stored, known ones included.
    pub tagged_items: Vec<TaggedItem>,
    /// The dentry field at 0x54 whose use is unknown.
    pub unknown_0x54: u32,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
}

impl Node {
    /// A node with a name, attributes, times and a parent, and nothing else
    /// (no streams, security, links or tags yet).
    pub fn new(name: &str, attributes: u32, times: Times, parent: Option<NodeId>) -> Node {
        Node {
            name: name.to_string(),
            name_utf16: name.encode_utf16().collect(),
            short_name: String::new(),
            short_name_utf16: Vec::new(),
            attributes,
            security_id: None,
            times,
            streams: Vec::new(),
            reparse: None,
            hard_link_group: 0,
            unix: None,
            xattrs: Vec::new(),
            object_id: None,
            tagged_items: Vec::new(),
            unknown_0x54: 0,
            parent,
            children: Vec::new(),
        }
    }

    pub fn is_directory(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }

    pub fn is_reparse_point(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }

    /// A symlink or junction (wimlib extracts both as symlinks on UNIX).
    pub fn is_symlink(&self) -> bool {
        self.reparse
            .is_some_and(|r| r.tag == TAG_SYMLINK || r.tag == TAG_MOUNT_POINT)
    }

    /// The unnamed data stream ("the file's contents").
    pub fn unnamed_data(&self) -> Option<&Stream> {
        self.streams
            .iter()
            .find(|s| s.kind == StreamKind::Data && s.name.is_none())
    }

    /// The named data streams.
    pub fn named_data(&self) -> impl Iterator<Item = &Stream> {
        self.streams
            .iter()
            .filter(|s| s.kind == StreamKind::Data && s.name.is_some())
    }

    pub fn reparse_stream(&self) -> Option<&Stream> {
        self.streams
            .iter()
            .find(|s| s.kind == StreamKind::ReparsePoint)
    }
}

/// One image's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub root: NodeId,
    pub nodes: Vec<Node>,
    pub security: SecurityData,
    /// What was skipped or repaired while reading, as wimlib warns about it.
    pub warnings: Vec<String>,
}

fn lossy(s: &[u16]) -> String {
    String::from_utf16_lossy(s)
}

fn assign_stream_kinds(attributes: u32, streams: &mut [Stream]) {
    if attributes & FILE_ATTRIBUTE_ENCRYPTED != 0 {
        if let Some(s) = streams
            .iter_mut()
            .find(|s| s.name.is_none() && !s.is_empty_hash())
        {
            s.kind = StreamKind::EncryptedRaw;
        }
        return;
    }
    let reparse = attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0;
    let (mut have_reparse, mut have_data) = (false, false);
    let mut zero_default = None;
    for (i, s) in streams.iter_mut().enumerate() {
        if s.name.is_some() {
            s.kind = StreamKind::Data;
        } else if i != 0 || !s.is_empty_hash() {
            if reparse && !have_reparse {
                have_reparse = true;
                s.kind = StreamKind::ReparsePoint;
            } else if !have_data {
                have_data = true;
                s.kind = StreamKind::Data;
            }
        } else {
            zero_default = Some(i);
        }
    }
    if let Some(i) = zero_default {
        streams[i].kind = if reparse && !have_reparse {
            StreamKind::ReparsePoint
        } else if !have_data {
            StreamKind::Data
        } else {
            StreamKind::Unknown
        };
    }
}

fn make_stream(name: &[u16], hash: Sha1Hash) -> Stream {
    Stream {
        name: (!name.is_empty()).then(|| lossy(name)),
        name_utf16: name.to_vec(),
        hash,
        kind: StreamKind::Unknown,
        size: None,
    }
}

/// Turns a raw dentry into a node (no parent or children yet).
fn node_from(d: RawDentry, descriptors: usize, warnings: &mut Vec<String>) -> Node {
    let mut streams = vec![make_stream(&[], d.default_hash)];
    streams.extend(d.extra_streams.iter().map(|s| make_stream(&s.name, s.hash)));
    assign_stream_kinds(d.attributes, &mut streams);
    let (items, truncated) = tags::split_items(&d.tagged_area);
    let name = lossy(&d.name);
    if truncated {
        warnings.push(format!(
            "tagged items of \"{name}\" run past the dentry; rest ignored"
        ));
    }
    let (xattrs, xattrs_ok) = tags::xattrs(&items);
    if !xattrs_ok {
        warnings.push(format!("malformed extended attributes on \"{name}\""));
    }
    let security_id = match u32::try_from(d.security_id) {
        Ok(id) if (id as usize) < descriptors => Some(id),
        Ok(id) => {
            warnings.push(format!(
                "\"{name}\" has security id {id} beyond the table; dropped"
            ));
            None
        }
        Err(_) => None,
    };
    let is_reparse = d.is_reparse_point();
    let reparse = is_reparse.then(|| Reparse {
        tag: d.union_field as u32,
        reserved: (d.union_field >> 32) as u16,
        flags: (d.union_field >> 48) as u16,
        data_hash: streams
            .iter()
            .find(|s| s.kind == StreamKind::ReparsePoint)
            .map_or([0; 20], |s| s.hash),
    });
    Node {
        name,
        name_utf16: d.name,
        short_name: lossy(&d.short_name),
        short_name_utf16: d.short_name,
        attributes: d.attributes,
        security_id,
        times: Times {
            creation: d.creation_time,
            last_access: d.last_access_time,
            last_write: d.last_write_time,
        },
        streams,
        reparse,
        hard_link_group: if is_reparse { 0 } else { d.union_field },
        unix: tags::unix_data(&items),
        xattrs,
        object_id: tags::object_id(&items),
        tagged_items: items,
        unknown_0x54: d.unknown_0x54,
        parent: None,
        children: Vec::new(),
    }
}

/// Why a child name is refused, if it is.
fn bad_name(name: &[u16]) -> Option<&'static str> {
    const DOT: u16 = b'.' as u16;
    if name.is_empty() {
        return Some("unnamed file");
    }
    if name == [DOT] || name == [DOT, DOT] {
        return Some("file named \".\" or \"..\"");
    }
    if name.contains(&0) {
        return Some("name with a NUL character");
    }
    if name
        .iter()
        .any(|&c| c == u16::from(b'/') || c == u16::from(b'\\'))
    {
        return Some("name with a path separator");
    }
    None
}

impl Image {
    /// Parses an uncompressed metadata resource.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let security = SecurityData::parse(buf)?;
        let mut warnings = Vec::new();
        if security.slack() != 0 {
            warnings.push(format!(
                "security data length {} exceeds what its descriptors need",
                security.total_length
            ));
        }
        let root_offset = u64::from(security.total_length);
        let ndesc = security.len();
        let mut nodes = Vec::new();
        let Some((root, _)) = read_dentry(buf, root_offset)? else {
            warnings.push("the metadata resource has no directory entries: empty image".into());
            nodes.push(empty_root());
            return Ok(Self {
                root: 0,
                nodes,
                security,
                warnings,
            });
        };
        if !root.is_directory() {
            return Err(Error::InvalidMetadata {
                what: "the root of the image is not a directory",
                offset: root_offset,
            });
        }
        let root_subdir = root.subdir_offset;
        let mut root_node = node_from(root, ndesc, &mut warnings);
        if !root_node.name_utf16.is_empty() || !root_node.short_name_utf16.is_empty() {
            warnings.push("the root directory has a name; removed".into());
            root_node.name.clear();
            root_node.name_utf16.clear();
            root_node.short_name.clear();
            root_node.short_name_utf16.clear();
        }
        nodes.push(root_node);
        let mut image = Self {
            root: 0,
            nodes,
            security,
            warnings,
        };
        // Every dentry may be read once: this refuses cycles, lists shared by two
        // directories and overlapping lists, and bounds the node count by the size.
        let mut seen = HashSet::from([root_offset]);
        let mut pending = Vec::new();
        if root_subdir != 0 {
            pending.push((0usize, root_subdir, 1usize));
        }
        while let Some((dir, list, depth)) = pending.pop() {
            if depth > MAX_DEPTH {
                return Err(Error::InvalidMetadata {
                    what: "directory tree too deep (or cyclic)",
                    offset: list,
                });
            }
            let mut names = HashSet::new();
            let mut at = list;
            while let Some((d, next)) = read_dentry(buf, at)? {
                if !seen.insert(d.offset) {
                    return Err(Error::InvalidMetadata {
                        what: "dentry reached twice (cyclic or shared directory lists)",
                        offset: d.offset,
                    });
                }
                at = next;
                if let Some(why) = bad_name(&d.name) {
                    let dir_path = image.path(dir);
                    image
                        .warnings
                        .push(format!("ignoring {why} in \"{dir_path}\""));
                    continue;
                }
                if names.contains(&d.name) {
                    let path = image.join(dir, &lossy(&d.name));
                    image
                        .warnings
                        .push(format!("ignoring duplicate file \"{path}\""));
                    continue;
                }
                names.insert(d.name.clone());
                let (subdir, is_dir) = (d.subdir_offset, d.is_directory());
                let mut node = node_from(d, ndesc, &mut image.warnings);
                node.parent = Some(dir);
                let id = image.nodes.len();
                image.nodes.push(node);
                image.nodes[dir].children.push(id);
                if subdir != 0 {
                    if is_dir {
                        pending.push((id, subdir, depth + 1));
                    } else {
                        let path = image.path(id);
                        image
                            .warnings
                            .push(format!("ignoring children of non-directory \"{path}\""));
                    }
                }
            }
        }
        Ok(image)
    }

    /// Full path of `id`: `/` for the root, `/a/b` below it.
    pub fn path(&self, id: NodeId) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            if c == self.root {
                break;
            }
            parts.push(self.nodes[c].name.as_str());
            cur = self.nodes[c].parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    fn join(&self, dir: NodeId, name: &str) -> String {
        let p = self.path(dir);
        if p == "/" {
            format!("/{name}")
        } else {
            format!("{p}/{name}")
        }
    }

    /// Every node with its full path, depth first, parents before children, children
    /// in stored order.
    pub fn walk(&self) -> Vec<(String, NodeId)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![(String::from("/"), self.root)];
        while let Some((path, id)) = stack.pop() {
            for &c in self.nodes[id].children.iter().rev() {
                let name = &self.nodes[c].name;
                let p = if id == self.root {
                    format!("/{name}")
                } else {
                    format!("{path}/{name}")
                };
                stack.push((p, c));
            }
            out.push((path, id));
        }
        out
    }

    /// The node at `path` (`/`-separated, case-sensitive).
    pub fn lookup(&self, path: &str) -> Option<NodeId> {
        let mut cur = self.root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            cur = *self.nodes[cur]
                .children
                .iter()
                .find(|&&c| self.nodes[c].name == part)?;
        }
        Some(cur)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }
}

fn empty_root() -> Node {
    Node::new("", FILE_ATTRIBUTE_DIRECTORY, Times::default(), None)
}
