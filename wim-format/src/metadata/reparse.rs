//! Reparse data: what a WIM stores for a reparse point is the reparse buffer without its
//! 8-byte header (`{u32 tag, u16 data length, u16 reserved}`); the tag and reserved
//! field live in the dentry, and the data length is the blob's size.
//!
//! Symbolic links (`0xA000000C`) and junctions (`0xA0000003`) are decoded here. wimlib
//! stores a Linux symlink as a symlink reparse point: a relative target with the
//! RELATIVE flag and `/` and `\` swapped; an absolute target `/x/y` with the flag clear
//! and the substitute name `\??\C:\x\y` (print name `C:\x\y`). When capturing with
//! reparse-point fixups, an absolute target inside the captured tree is stored relative
//! to the image root and the dentry's NOT_FIXED flag is clear; otherwise NOT_FIXED is set.

use crate::bytes::{u16_at, u32_at};
use crate::error::{Error, Result};

pub const TAG_SYMLINK: u32 = 0xA000_000C;
pub const TAG_MOUNT_POINT: u32 = 0xA000_0003;
/// Symlink flag: the substitute name is relative to the link's directory.
pub const SYMLINK_FLAG_RELATIVE: u32 = 0x1;
/// Dentry reparse flag: the target was not adjusted to the image root at capture.
pub const RP_FLAG_NOT_FIXED: u16 = 0x1;
/// Largest reparse buffer Windows allows (header included).
pub const MAX_REPARSE_BUFFER: usize = 16 * 1024;

/// NT namespace prefixes wimlib strips (with the device component after them) when
/// turning an absolute target into a UNIX path.
const NT_ROOTS: [&str; 3] = ["\\??\\", "\\DosDevices\\", "\\Device\\"];

/// A decoded symlink or junction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReparse {
    pub tag: u32,
    /// The path Windows follows (an NT path unless relative), UTF-16.
    pub substitute_name: Vec<u16>,
    /// The path shown to users, UTF-16.
    pub print_name: Vec<u16>,
    /// Symlink flags (0 for junctions).
    pub flags: u32,
}

/// A link target as a UNIX path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixTarget {
    pub path: String,
    /// An absolute target that capture made relative to the image root: an extractor
    /// doing fixups prefixes the extraction directory.
    pub fixed: bool,
}

fn bad(what: &'static str) -> Error {
    Error::InvalidMetadata { what, offset: 0 }
}

fn utf16_at(data: &[u8], at: usize, len: usize) -> Vec<u16> {
    data[at..at + len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

impl LinkReparse {
    /// Decodes the stored reparse data `data` of a reparse point with tag `tag`.
    pub fn parse(tag: u32, data: &[u8]) -> Result<Self> {
        if tag != TAG_SYMLINK && tag != TAG_MOUNT_POINT {
            return Err(bad("reparse point is neither a symlink nor a junction"));
        }
        if data.len() < 8 {
            return Err(bad("link reparse data too short"));
        }
        let sub_off = usize::from(u16_at(data, 0));
        let sub_len = usize::from(u16_at(data, 2));
        let print_off = usize::from(u16_at(data, 4));
        let print_len = usize::from(u16_at(data, 6));
        if (sub_off | sub_len | print_off | print_len) & 1 != 0 {
            return Err(bad("link reparse names not UTF-16 aligned"));
        }
        let (flags, names_at) = if tag == TAG_SYMLINK {
            if data.len() < 12 {
                return Err(bad("symlink reparse data too short"));
            }
            (u32_at(data, 8), 12)
        } else {
            (0, 8)
        };
        if names_at + sub_off + sub_len > data.len()
            || names_at + print_off + print_len > data.len()
        {
            return Err(bad("link reparse names run past the data"));
        }
        Ok(Self {
            tag,
            substitute_name: utf16_at(data, names_at + sub_off, sub_len),
            print_name: utf16_at(data, names_at + print_off, print_len),
            flags,
        })
    }

    pub fn is_relative(&self) -> bool {
        self.tag == TAG_SYMLINK && self.flags & SYMLINK_FLAG_RELATIVE != 0
    }

    /// The target as a UNIX path, the way wimlib reads links back: for absolute links
    /// the NT prefix and device (`\??\C:`) are dropped; `\` becomes `/` and `/` becomes
    /// `\`; an empty absolute target becomes `/`. `not_fixed` is the dentry's
    /// [`RP_FLAG_NOT_FIXED`].
    pub fn unix_target(&self, not_fixed: bool) -> UnixTarget {
        let mut target = String::from_utf16_lossy(&self.substitute_name);
        let mut fixed = false;
        if !self.is_relative() {
            if let Some(root) = NT_ROOTS.iter().find(|r| target.starts_with(*r)) {
                let rest = target[root.len()..].trim_start_matches('\\');
                let device_end = rest.find('\\').unwrap_or(rest.len());
                target = rest[device_end..].to_string();
            }
            fixed = !not_fixed;
        }
        let mut path: String = target
            .chars()
            .map(|c| match c {
                '\\' => '/',
                '/' => '\\',
                c => c,
            })
            .collect();
        if path.is_empty() && !self.is_relative() {
            path.push('/');
        }
        UnixTarget { path, fixed }
    }

    /// The stored reparse data (header excluded) wimlib makes for the UNIX symlink
    /// target `target`.
    pub fn for_unix_target(target: &str) -> Vec<u8> {
        let swapped: Vec<u16> = target
            .chars()
            .map(|c| match c {
                '/' => '\\',
                '\\' => '/',
                c => c,
            })
            .collect::<String>()
            .encode_utf16()
            .collect();
        let absolute = swapped.first().is_none_or(|&c| c == u16::from(b'\\'));
        let (flags, sub, print_skip) = if absolute {
            let mut s: Vec<u16> = "\\??\\C:".encode_utf16().collect();
            s.extend(&swapped);
            (0, s, 4)
        } else {
            (SYMLINK_FLAG_RELATIVE, swapped, 0)
        };
        let print = &sub[print_skip..];
        let mut out = Vec::new();
        let sub_bytes = (sub.len() * 2) as u16;
        out.extend(0u16.to_le_bytes());
        out.extend(sub_bytes.to_le_bytes());
        out.extend((sub_bytes + 2).to_le_bytes());
        out.extend(((print.len() * 2) as u16).to_le_bytes());
        out.extend(flags.to_le_bytes());
        for c in sub.iter().chain([&0]).chain(print).chain([&0]) {
            out.extend(c.to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trip() {
        for t in ["../a/b", "x", "/etc/passwd", "/", "a\\b", "dir/ü"] {
            let data = LinkReparse::for_unix_target(t);
            let l = LinkReparse::parse(TAG_SYMLINK, &data).unwrap();
            assert_eq!(l.is_relative(), !t.starts_with('/'));
            assert_eq!(l.unix_target(true).path, t);
        }
        let l = LinkReparse::parse(TAG_SYMLINK, &LinkReparse::for_unix_target("/x")).unwrap();
        assert_eq!(String::from_utf16_lossy(&l.substitute_name), "\\??\\C:\\x");
        assert_eq!(String::from_utf16_lossy(&l.print_name), "C:\\x");
        assert!(l.unix_target(false).fixed);
    }

    #[test]
    fn junction_and_bad() {
        let name: Vec<u8> = "\\??\\D:\\dir"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut d = vec![0, 0];
        d.extend((name.len() as u16).to_le_bytes());
        d.extend([0, 0, 0, 0]);
        d.extend(&name);
        let j = LinkReparse::parse(TAG_MOUNT_POINT, &d).unwrap();
        assert_eq!(j.unix_target(false).path, "/dir");
        assert!(LinkReparse::parse(TAG_SYMLINK, &d).is_err());
        assert!(LinkReparse::parse(0x8000_0017, &d).is_err());
        assert!(LinkReparse::parse(TAG_MOUNT_POINT, &d[..d.len() - 1]).is_err());
        let mut odd = d.clone();
        odd[0] = 1;
        assert!(LinkReparse::parse(TAG_MOUNT_POINT, &odd).is_err());
    }
}
