//! Tagged metadata items: the optional area at the end of a dentry, after its names.
//!
//! Each item is `{u32 tag, u32 length, data[length]}`, padded to a multiple of 8.

use crate::bytes::{u16_at, u32_at};

/// Object id (the NTFS `$OBJECT_ID`: 16 bytes, or 64 with the birth ids).
pub const TAG_OBJECT_ID: u32 = 0x1;
/// Extended attributes, in the format DISM uses since Windows 10 1607; wimlib 1.13+
/// stores Linux xattrs in it too.
pub const TAG_XATTRS: u32 = 0x2;
/// wimlib extension: `{u32 uid, u32 gid, u32 mode, u32 rdev}`.
pub const TAG_WIMLIB_UNIX_DATA: u32 = 0x337D_D873;
/// wimlib 1.11-1.12 Linux xattrs (superseded by [`TAG_XATTRS`]); read only.
pub const TAG_WIMLIB_LINUX_XATTRS_OLD: u32 = 0x337D_D874;

/// Size of the item header.
const ITEM_HEADER: usize = 8;
/// Shortest object id wimlib accepts.
const OBJECT_ID_MIN: usize = 16;
/// Longest xattr name and value the formats allow.
const XATTR_NAME_MAX: usize = 255;
const XATTR_VALUE_MAX: usize = 65535;

/// One tagged item as stored (`data` is `length` bytes, without the padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedItem {
    pub tag: u32,
    pub data: Vec<u8>,
}

/// UNIX owner, mode and device number, as wimlib stores them with `--unix-data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixData {
    pub uid: u32,
    pub gid: u32,
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub rdev: u32,
}

/// One extended attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xattr {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    /// 0 or 0x80 (`FILE_NEED_EA`) in the Windows format; 0 for the old wimlib format.
    pub flags: u8,
}

/// Splits the tagged-item area of a dentry into items. Like wimlib, stops at the first
/// item whose length runs past the area (and reports that in the second value); bytes
/// too few to hold another header are padding.
pub fn split_items(area: &[u8]) -> (Vec<TaggedItem>, bool) {
    let mut items = Vec::new();
    let mut pos = 0usize;
    while area.len() - pos >= ITEM_HEADER {
        let tag = u32_at(area, pos);
        let len = u32_at(area, pos + 4) as usize;
        let avail = area.len() - pos - ITEM_HEADER;
        if len > avail {
            return (items, true);
        }
        let start = pos + ITEM_HEADER;
        // 7-Zip pads the area with zeroes, which read as empty items of tag 0.
        if tag != 0 || len != 0 {
            items.push(TaggedItem {
                tag,
                data: area[start..start + len].to_vec(),
            });
        }
        // The padding may be missing after the last item.
        pos = start + len.next_multiple_of(8).min(avail);
    }
    (items, false)
}

/// The first UNIX data item of `items`.
pub fn unix_data(items: &[TaggedItem]) -> Option<UnixData> {
    let d = &items
        .iter()
        .find(|i| i.tag == TAG_WIMLIB_UNIX_DATA && i.data.len() >= 16)?
        .data;
    Some(UnixData {
        uid: u32_at(d, 0),
        gid: u32_at(d, 4),
        mode: u32_at(d, 8),
        rdev: u32_at(d, 12),
    })
}

/// The first object id of `items`.
pub fn object_id(items: &[TaggedItem]) -> Option<Vec<u8>> {
    items
        .iter()
        .find(|i| i.tag == TAG_OBJECT_ID && i.data.len() >= OBJECT_ID_MIN)
        .map(|i| i.data.clone())
}

/// The extended attributes of `items`: the first [`TAG_XATTRS`] item, or failing that
/// the first old-format one. The second value is false if an entry was malformed (the
/// entries before it are returned).
pub fn xattrs(items: &[TaggedItem]) -> (Vec<Xattr>, bool) {
    if let Some(i) = items.iter().find(|i| i.tag == TAG_XATTRS) {
        return parse_xattrs(&i.data);
    }
    if let Some(i) = items.iter().find(|i| i.tag == TAG_WIMLIB_LINUX_XATTRS_OLD) {
        return parse_old_xattrs(&i.data);
    }
    (Vec::new(), true)
}

/// Entries `{u16 value length, u8 name length, u8 flags, name, NUL, value}`, unpadded.
pub fn parse_xattrs(d: &[u8]) -> (Vec<Xattr>, bool) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < d.len() {
        let rest = &d[pos..];
        if rest.iter().all(|&b| b == 0) {
            break; // padding
        }
        if rest.len() < 4 {
            return (out, false);
        }
        let value_len = usize::from(u16_at(rest, 0));
        let name_len = usize::from(rest[2]);
        let flags = rest[3];
        let size = 4 + name_len + 1 + value_len;
        if name_len == 0 || rest.len() < size {
            return (out, false);
        }
        let name = &rest[4..4 + name_len];
        if name.contains(&0) || rest[4 + name_len] != 0 {
            return (out, false);
        }
        out.push(Xattr {
            name: name.to_vec(),
            value: rest[4 + name_len + 1..size].to_vec(),
            flags,
        });
        pos += size;
    }
    (out, true)
}

/// wimlib's old entries `{u16 name length, u16 reserved, u32 value length, name,
/// value}`, each padded to a multiple of 4.
pub fn parse_old_xattrs(d: &[u8]) -> (Vec<Xattr>, bool) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < d.len() {
        let rest = &d[pos..];
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        if rest.len() < 8 {
            return (out, false);
        }
        let name_len = usize::from(u16_at(rest, 0));
        let value_len = u32_at(rest, 4) as usize;
        if name_len == 0 || name_len > XATTR_NAME_MAX || value_len > XATTR_VALUE_MAX {
            return (out, false);
        }
        let size = 8 + name_len + value_len;
        if rest.len() < size {
            return (out, false);
        }
        let name = &rest[8..8 + name_len];
        if name.contains(&0) {
            return (out, false);
        }
        out.push(Xattr {
            name: name.to_vec(),
            value: rest[8 + name_len..size].to_vec(),
            flags: 0,
        });
        pos += size.next_multiple_of(4).min(rest.len());
    }
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(tag: u32, data: &[u8]) -> Vec<u8> {
        let mut v = tag.to_le_bytes().to_vec();
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        v.resize(v.len().next_multiple_of(8), 0);
        v
    }

    #[test]
    fn items_and_values() {
        let mut unix = Vec::new();
        for x in [1000u32, 100, 0o100644, 0] {
            unix.extend(x.to_le_bytes());
        }
        let mut xa = vec![3, 0, 9, 0];
        xa.extend(b"user.test\0abc");
        xa.extend([1, 0, 1, 0x80, b'k', 0, b'v']);
        let mut area = item(TAG_WIMLIB_UNIX_DATA, &unix);
        area.extend(item(TAG_XATTRS, &xa));
        area.extend(item(0x1234, b"raw"));
        let (items, truncated) = split_items(&area);
        assert!(!truncated);
        assert_eq!(items.len(), 3);
        let u = unix_data(&items).unwrap();
        assert_eq!((u.uid, u.gid, u.mode), (1000, 100, 0o100644));
        let (x, ok) = xattrs(&items);
        assert!(ok);
        assert_eq!(x[0].name, b"user.test");
        assert_eq!(x[0].value, b"abc");
        assert_eq!(x[1].flags, 0x80);
        assert_eq!(items[2].data, b"raw");
        // An item running past the end stops the list.
        let mut bad = item(TAG_OBJECT_ID, &[0; 16]);
        bad.extend(7u32.to_le_bytes());
        bad.extend(1000u32.to_le_bytes());
        let (items, truncated) = split_items(&bad);
        assert!(truncated);
        assert_eq!(object_id(&items).unwrap().len(), 16);
    }

    #[test]
    fn old_xattrs_and_malformed() {
        let mut old = vec![4, 0, 0, 0, 2, 0, 0, 0];
        old.extend(b"user");
        old.extend(b"hi");
        old.extend([0, 0]);
        let (x, ok) = parse_old_xattrs(&old);
        assert!(ok);
        assert_eq!(
            (x[0].name.as_slice(), x[0].value.as_slice()),
            (&b"user"[..], &b"hi"[..])
        );
        // Value length past the end; missing NUL after the name.
        assert!(!parse_xattrs(&[200, 0, 1, 0, b'a', 0]).1);
        assert!(!parse_xattrs(&[0, 0, 1, 0, b'a', b'b']).1);
        assert!(!parse_old_xattrs(&[1, 0, 0, 0, 255, 255, 255, 255, b'a']).1);
    }
}
