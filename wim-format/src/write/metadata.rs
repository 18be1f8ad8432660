//! Serialising an image ([`Image`]) into a metadata resource: the security data, then
//! the directory tree as wimlib lays it out (root dentry and an end marker, then the
//! children of every directory in pre-order, each list closed by an 8-byte zero).

use std::collections::HashMap;

use crate::blob_table::Sha1Hash;
use crate::metadata::dentry::{
    DENTRY_FIXED_SIZE, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_ENCRYPTED,
    FILE_ATTRIBUTE_REPARSE_POINT, STREAM_ENTRY_FIXED_SIZE,
};
use crate::metadata::security::SecurityData;
use crate::metadata::tags::{
    TaggedItem, UnixData, Xattr, TAG_OBJECT_ID, TAG_WIMLIB_LINUX_XATTRS_OLD, TAG_WIMLIB_UNIX_DATA,
    TAG_XATTRS,
};
use crate::metadata::{Image, Node, NodeId, StreamKind};

/// The security data block: `{u32 total length, u32 count, u64 sizes[count]}`, the
/// descriptors, zero padding to a multiple of 8. The total length stored is the
/// padded one.
pub fn security_data_bytes(sd: &SecurityData) -> Vec<u8> {
    let n = sd.descriptors.len();
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for d in &sd.descriptors {
        out.extend_from_slice(&(d.len() as u64).to_le_bytes());
    }
    for d in &sd.descriptors {
        out.extend_from_slice(d);
    }
    out.resize(out.len().next_multiple_of(8), 0);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    out
}

/// The data of a UNIX data tagged item.
pub fn unix_data_bytes(u: &UnixData) -> Vec<u8> {
    let mut d = Vec::with_capacity(16);
    for x in [u.uid, u.gid, u.mode, u.rdev] {
        d.extend_from_slice(&x.to_le_bytes());
    }
    d
}

/// The data of an extended-attributes tagged item ([`TAG_XATTRS`]): for each entry
/// `{u16 value length, u8 name length, u8 flags, name, NUL, value}`, unpadded.
/// Entries with an empty name or a name over 255 bytes or a value over 65535 bytes
/// are left out.
pub fn xattrs_bytes(xattrs: &[Xattr]) -> Vec<u8> {
    let mut d = Vec::new();
    for x in xattrs {
        if x.name.is_empty() || x.name.len() > 255 || x.value.len() > 0xFFFF {
            continue;
        }
        d.extend_from_slice(&(x.value.len() as u16).to_le_bytes());
        d.push(x.name.len() as u8);
        d.push(x.flags);
        d.extend_from_slice(&x.name);
        d.push(0);
        d.extend_from_slice(&x.value);
    }
    d
}

/// The tagged items a node is written with: its UNIX data, extended attributes and
/// object id from the decoded fields, then every other item it was read with.
pub fn node_tagged_items(node: &Node) -> Vec<TaggedItem> {
    let mut items = Vec::new();
    if let Some(u) = &node.unix {
        items.push(TaggedItem {
            tag: TAG_WIMLIB_UNIX_DATA,
            data: unix_data_bytes(u),
        });
    }
    if !node.xattrs.is_empty() {
        items.push(TaggedItem {
            tag: TAG_XATTRS,
            data: xattrs_bytes(&node.xattrs),
        });
    }
    if let Some(oid) = &node.object_id {
        items.push(TaggedItem {
            tag: TAG_OBJECT_ID,
            data: oid.clone(),
        });
    }
    for it in &node.tagged_items {
        let decoded = match it.tag {
            TAG_WIMLIB_UNIX_DATA => node.unix.is_some(),
            TAG_XATTRS => !node.xattrs.is_empty(),
            // Decoded into `xattrs`, written back in the current format.
            TAG_WIMLIB_LINUX_XATTRS_OLD => !node.xattrs.is_empty(),
            TAG_OBJECT_ID => node.object_id.is_some(),
            _ => false,
        };
        if !decoded {
            items.push(it.clone());
        }
    }
    items
}

fn tagged_area(items: &[TaggedItem]) -> Vec<u8> {
    let mut d = Vec::new();
    for it in items {
        d.extend_from_slice(&it.tag.to_le_bytes());
        d.extend_from_slice(&(it.data.len() as u32).to_le_bytes());
        d.extend_from_slice(&it.data);
        d.resize(d.len().next_multiple_of(8), 0);
    }
    d
}

/// Whether the node gets a list of children (a directory that is not a reparse point,
/// as wimlib decides; or anything that has children).
fn has_child_list(node: &Node) -> bool {
    (node.attributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)
        == FILE_ATTRIBUTE_DIRECTORY)
        || !node.children.is_empty()
}

/// The streams of a node as stored: the dentry's default hash and the extra stream
/// entries `(UTF-16 name, hash)`, chosen as wimlib chooses them.
pub fn stored_streams(node: &Node) -> (Sha1Hash, Vec<(Vec<u16>, Sha1Hash)>) {
    let zero = [0u8; 20];
    if node.attributes & FILE_ATTRIBUTE_ENCRYPTED != 0 {
        let h = node
            .streams
            .iter()
            .find(|s| s.kind == StreamKind::EncryptedRaw)
            .map_or(zero, |s| s.hash);
        return (h, Vec::new());
    }
    let unnamed = node.unnamed_data().map_or(zero, |s| s.hash);
    let reparse = if node.is_reparse_point() {
        node.reparse_stream()
            .map(|s| s.hash)
            .or_else(|| node.reparse.map(|r| r.data_hash))
    } else {
        None
    };
    let named: Vec<(Vec<u16>, Sha1Hash)> = node
        .named_data()
        .map(|s| (s.name_utf16.clone(), s.hash))
        .collect();
    if reparse.is_none() && named.is_empty() {
        return (unnamed, Vec::new());
    }
    let mut extra = Vec::new();
    if let Some(h) = reparse {
        extra.push((Vec::new(), h));
    }
    extra.push((Vec::new(), unnamed));
    extra.extend(named);
    (zero, extra)
}

fn utf16_bytes(s: &[u16]) -> impl Iterator<Item = u8> + '_ {
    s.iter().flat_map(|c| c.to_le_bytes())
}

/// One dentry with its extra stream entries; `is_root` drops the names.
fn dentry_bytes(node: &Node, subdir_offset: u64, is_root: bool) -> Vec<u8> {
    let (name, short): (&[u16], &[u16]) = if is_root {
        (&[], &[])
    } else {
        (&node.name_utf16, &node.short_name_utf16)
    };
    let (default_hash, extra) = stored_streams(node);
    let mut d = vec![0u8; DENTRY_FIXED_SIZE as usize];
    d[8..12].copy_from_slice(&node.attributes.to_le_bytes());
    let sid = node.security_id.map_or(-1i32, |s| s as i32);
    d[12..16].copy_from_slice(&sid.to_le_bytes());
    d[16..24].copy_from_slice(&subdir_offset.to_le_bytes());
    d[40..48].copy_from_slice(&node.times.creation.to_le_bytes());
    d[48..56].copy_from_slice(&node.times.last_access.to_le_bytes());
    d[56..64].copy_from_slice(&node.times.last_write.to_le_bytes());
    d[64..84].copy_from_slice(&default_hash);
    d[84..88].copy_from_slice(&node.unknown_0x54.to_le_bytes());
    let union = if node.is_reparse_point() {
        let r = node.reparse.unwrap_or(crate::metadata::Reparse {
            tag: 0,
            reserved: 0,
            flags: 0,
            data_hash: [0; 20],
        });
        u64::from(r.tag) | u64::from(r.reserved) << 32 | u64::from(r.flags) << 48
    } else {
        node.hard_link_group
    };
    d[88..96].copy_from_slice(&union.to_le_bytes());
    d[96..98].copy_from_slice(&(extra.len() as u16).to_le_bytes());
    d[98..100].copy_from_slice(&((short.len() * 2) as u16).to_le_bytes());
    d[100..102].copy_from_slice(&((name.len() * 2) as u16).to_le_bytes());
    if !name.is_empty() {
        d.extend(utf16_bytes(name));
        d.extend([0, 0]);
    }
    if !short.is_empty() {
        d.extend(utf16_bytes(short));
        d.extend([0, 0]);
    }
    d.resize(d.len().next_multiple_of(8), 0);
    d.extend(tagged_area(&node_tagged_items(node)));
    let len = d.len() as u64;
    d[..8].copy_from_slice(&len.to_le_bytes());
    for (sname, hash) in extra {
        let start = d.len();
        d.resize(start + STREAM_ENTRY_FIXED_SIZE as usize, 0);
        d[start + 16..start + 36].copy_from_slice(&hash);
        d[start + 36..start + 38].copy_from_slice(&((sname.len() * 2) as u16).to_le_bytes());
        if !sname.is_empty() {
            d.extend(utf16_bytes(&sname));
            d.extend([0, 0]);
        }
        d.resize(d.len().next_multiple_of(8), 0);
        let elen = (d.len() - start) as u64;
        d[start..start + 8].copy_from_slice(&elen.to_le_bytes());
    }
    d
}

/// Children of `id` in the order they are written: by case-sensitive UTF-16 name.
fn sorted_children(image: &Image, id: NodeId) -> Vec<NodeId> {
    let mut c = image.nodes[id].children.clone();
    c.sort_by(|&a, &b| image.nodes[a].name_utf16.cmp(&image.nodes[b].name_utf16));
    c
}

/// The uncompressed metadata resource of `image`.
pub fn metadata_bytes(image: &Image) -> Vec<u8> {
    let mut out = security_data_bytes(&image.security);
    let root = image.root;
    // Pre-order list of the nodes that get a child list, with their sorted children.
    let mut dirs: Vec<(NodeId, Vec<NodeId>)> = Vec::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !has_child_list(&image.nodes[id]) {
            continue;
        }
        let kids = sorted_children(image, id);
        for &k in kids.iter().rev() {
            stack.push(k);
        }
        dirs.push((id, kids));
    }
    // Sizes of every dentry (the subdir offset does not change its length).
    let mut len_of: HashMap<NodeId, u64> = HashMap::new();
    let size = |id: NodeId| dentry_bytes(&image.nodes[id], 0, id == root).len() as u64;
    let root_len = size(root);
    let mut cursor = out.len() as u64 + root_len + 8;
    let mut subdir: HashMap<NodeId, u64> = HashMap::new();
    for (id, kids) in &dirs {
        subdir.insert(*id, cursor);
        for &k in kids {
            let l = size(k);
            len_of.insert(k, l);
            cursor += l;
        }
        cursor += 8;
    }
    out.reserve((cursor as usize).saturating_sub(out.len()));
    let sub = |id: NodeId| subdir.get(&id).copied().unwrap_or(0);
    out.extend(dentry_bytes(&image.nodes[root], sub(root), true));
    out.extend([0u8; 8]);
    for (_, kids) in &dirs {
        for &k in kids {
            out.extend(dentry_bytes(&image.nodes[k], sub(k), false));
        }
        out.extend([0u8; 8]);
    }
    debug_assert_eq!(out.len() as u64, cursor);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::reparse::{LinkReparse, TAG_SYMLINK};
    use crate::metadata::{Reparse, Stream, Times};

    pub(crate) fn node(name: &str, attributes: u32, parent: Option<NodeId>) -> Node {
        let times = Times {
            creation: 1,
            last_access: 2,
            last_write: 3,
        };
        Node::new(name, attributes, times, parent)
    }

    fn stream(name: Option<&str>, hash: u8, kind: StreamKind) -> Stream {
        Stream {
            name: name.map(String::from),
            name_utf16: name.map_or(Vec::new(), |n| n.encode_utf16().collect()),
            hash: [hash; 20],
            kind,
            size: None,
        }
    }

    #[test]
    fn round_trips_through_the_parser() {
        let mut nodes = vec![node("", FILE_ATTRIBUTE_DIRECTORY, None)];
        let add = |nodes: &mut Vec<Node>, n: Node| {
            let id = nodes.len();
            let p = n.parent.unwrap();
            nodes.push(n);
            nodes[p].children.push(id);
            id
        };
        let d = add(&mut nodes, node("zdir", FILE_ATTRIBUTE_DIRECTORY, Some(0)));
        let _empty = add(&mut nodes, node("empty", FILE_ATTRIBUTE_DIRECTORY, Some(d)));
        let mut f = node("file", 0x80, Some(d));
        f.streams = vec![
            stream(None, 7, StreamKind::Data),
            stream(Some("ads"), 8, StreamKind::Data),
        ];
        f.hard_link_group = 5;
        f.short_name_utf16 = "FILE~1".encode_utf16().collect();
        f.short_name = "FILE~1".into();
        f.unix = Some(UnixData {
            uid: 1,
            gid: 2,
            mode: 0o100644,
            rdev: 0,
        });
        f.xattrs = vec![Xattr {
            name: b"user.a".to_vec(),
            value: b"xyz".to_vec(),
            flags: 0,
        }];
        f.security_id = Some(1);
        add(&mut nodes, f);
        let mut l = node("link", FILE_ATTRIBUTE_REPARSE_POINT, Some(0));
        let rp = LinkReparse::for_unix_target("a/b");
        let h = crate::digest::sha1(&rp);
        l.streams = vec![Stream {
            hash: h,
            ..stream(None, 0, StreamKind::ReparsePoint)
        }];
        l.reparse = Some(Reparse {
            tag: TAG_SYMLINK,
            reserved: 0,
            flags: 1,
            data_hash: h,
        });
        l.tagged_items = vec![TaggedItem {
            tag: 0x1234,
            data: vec![1, 2, 3],
        }];
        add(&mut nodes, l);
        let image = Image {
            root: 0,
            nodes,
            security: SecurityData {
                descriptors: vec![vec![1, 2, 3], vec![4; 21]],
                total_length: 0,
                stored_total_length: 0,
            },
            warnings: Vec::new(),
        };
        let bytes = metadata_bytes(&image);
        let back = Image::parse(&bytes).unwrap();
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(back.security.descriptors, image.security.descriptors);
        let paths: Vec<String> = back.walk().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["/", "/link", "/zdir", "/zdir/empty", "/zdir/file"]);
        let f = back.node(back.lookup("/zdir/file").unwrap());
        assert_eq!(f.unnamed_data().unwrap().hash, [7; 20]);
        assert_eq!(f.named_data().next().unwrap().hash, [8; 20]);
        assert_eq!(f.hard_link_group, 5);
        assert_eq!(f.short_name, "FILE~1");
        assert_eq!(f.unix.unwrap().mode, 0o100644);
        assert_eq!(f.xattrs[0].value, b"xyz");
        assert_eq!(f.security_id, Some(1));
        assert_eq!(f.times.last_write, 3);
        let l = back.node(back.lookup("/link").unwrap());
        assert_eq!(l.reparse.unwrap().data_hash, h);
        assert_eq!(l.reparse.unwrap().flags, 1);
        assert_eq!(l.tagged_items[0].tag, 0x1234);
        // Writing what was read gives the same bytes.
        assert_eq!(metadata_bytes(&back), bytes);
    }

    #[test]
    fn empty_security_data_is_eight_bytes() {
        assert_eq!(
            security_data_bytes(&SecurityData::default()),
            [8, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}
