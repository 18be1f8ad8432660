//! Hostile and hand-made metadata resources.

use super::dentry::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT};
use super::image::{Image, StreamKind, MAX_DEPTH};
use crate::error::Error;

/// A dentry named `name` with `streams` extra stream entries `(name, hash byte)`.
fn dentry(name: &str, attrs: u32, subdir: u64, hash: u8, streams: &[(&str, u8)]) -> Vec<u8> {
    let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut d = vec![0u8; 102];
    d[8..12].copy_from_slice(&attrs.to_le_bytes());
    d[12..16].copy_from_slice(&(-1i32).to_le_bytes());
    d[16..24].copy_from_slice(&subdir.to_le_bytes());
    d[64..84].fill(hash);
    d[96..98].copy_from_slice(&(streams.len() as u16).to_le_bytes());
    d[100..102].copy_from_slice(&(name.len() as u16).to_le_bytes());
    if !name.is_empty() {
        d.extend(&name);
        d.extend([0, 0]);
    }
    d.resize(d.len().next_multiple_of(8), 0);
    let len = d.len() as u64;
    d[0..8].copy_from_slice(&len.to_le_bytes());
    for (sname, h) in streams {
        let sname: Vec<u8> = sname.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut e = vec![0u8; 38];
        e[16..36].fill(*h);
        e[36..38].copy_from_slice(&(sname.len() as u16).to_le_bytes());
        if !sname.is_empty() {
            e.extend(&sname);
            e.extend([0, 0]);
        }
        e.resize(e.len().next_multiple_of(8), 0);
        let elen = e.len() as u64;
        e[0..8].copy_from_slice(&elen.to_le_bytes());
        d.extend(e);
    }
    d
}

const DIR: u32 = FILE_ATTRIBUTE_DIRECTORY;
const END: [u8; 8] = [0; 8];

/// Builds a resource from `lists`: each directory's children as `(name, attrs,
/// list index of its children or None, hash, streams)`; list 0 is the root's.
type Child<'a> = (&'a str, u32, Option<usize>, u8, &'a [(&'a str, u8)]);

fn resource(lists: &[Vec<Child<'_>>]) -> Vec<u8> {
    // Two passes: sizes first, then offsets.
    let sizes: Vec<usize> = lists
        .iter()
        .map(|l| {
            l.iter()
                .map(|c| dentry(c.0, c.1, 0, c.3, c.4).len())
                .sum::<usize>()
                + 8
        })
        .collect();
    let root_len = dentry("", DIR, 0, 0, &[]).len();
    let mut starts = Vec::new();
    let mut at = 8 + root_len + 8;
    for s in &sizes {
        starts.push(at as u64);
        at += s;
    }
    let mut buf = vec![8, 0, 0, 0, 0, 0, 0, 0];
    buf.extend(dentry("", DIR, starts[0], 0, &[]));
    buf.extend(END);
    for l in lists {
        for c in l {
            let sub = c.2.map_or(0, |i| starts[i]);
            buf.extend(dentry(c.0, c.1, sub, c.3, c.4));
        }
        buf.extend(END);
    }
    buf
}

#[test]
fn simple_tree_and_walk() {
    let buf = resource(&[
        vec![("a", DIR, Some(1), 0, &[]), ("f", 0, None, 7, &[])],
        vec![("b", 0, None, 0, &[("", 9), ("ads", 3)])],
    ]);
    let img = Image::parse(&buf).unwrap();
    let paths: Vec<String> = img.walk().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/", "/a", "/a/b", "/f"]);
    let b = img.node(img.lookup("/a/b").unwrap());
    assert_eq!(b.unnamed_data().unwrap().hash, [9; 20]);
    assert_eq!(b.named_data().next().unwrap().name.as_deref(), Some("ads"));
    assert_eq!(
        img.node(img.lookup("f").unwrap())
            .unnamed_data()
            .unwrap()
            .hash,
        [7; 20]
    );
    assert!(img.warnings.is_empty());
}

#[test]
fn reparse_stream_assignment() {
    // Reparse data in the first unnamed extra stream, data in the second.
    let rp = FILE_ATTRIBUTE_REPARSE_POINT;
    let buf = resource(&[vec![
        ("l", rp, None, 0, &[("", 1), ("", 2)]),
        ("m", rp, None, 5, &[]),
    ]]);
    let img = Image::parse(&buf).unwrap();
    let l = img.node(img.lookup("/l").unwrap());
    assert_eq!(l.reparse_stream().unwrap().hash, [1; 20]);
    assert_eq!(l.unnamed_data().unwrap().hash, [2; 20]);
    assert_eq!(l.reparse.unwrap().data_hash, [1; 20]);
    let m = img.node(img.lookup("/m").unwrap());
    assert_eq!(m.reparse_stream().unwrap().hash, [5; 20]);
    assert_eq!(m.streams[0].kind, StreamKind::ReparsePoint);
}

#[test]
fn bad_names_and_duplicates_are_skipped() {
    let buf = resource(&[vec![
        (".", 0, None, 0, &[]),
        ("..", 0, None, 0, &[]),
        ("a/b", 0, None, 0, &[]),
        ("a\\b", 0, None, 0, &[]),
        ("nul\0x", 0, None, 0, &[]),
        ("", 0, None, 0, &[]),
        ("same", 0, None, 1, &[]),
        ("same", 0, None, 2, &[]),
        ("ok", 0, None, 0, &[]),
    ]]);
    let img = Image::parse(&buf).unwrap();
    let names: Vec<&str> = img.nodes[0]
        .children
        .iter()
        .map(|&c| img.nodes[c].name.as_str())
        .collect();
    assert_eq!(names, ["same", "ok"]);
    assert_eq!(
        img.node(img.lookup("/same").unwrap())
            .unnamed_data()
            .unwrap()
            .hash,
        [1; 20]
    );
    assert_eq!(img.warnings.len(), 7);
}

#[test]
fn cycles_and_shared_lists_fail() {
    // A directory whose children list is the root's own list.
    let buf = resource(&[vec![("a", DIR, Some(0), 0, &[])]]);
    assert!(matches!(
        Image::parse(&buf),
        Err(Error::InvalidMetadata { .. })
    ));
    // Two directories sharing one non-empty list.
    let buf = resource(&[
        vec![("a", DIR, Some(1), 0, &[]), ("b", DIR, Some(1), 0, &[])],
        vec![("x", 0, None, 0, &[])],
    ]);
    assert!(Image::parse(&buf).is_err());
    // Sharing an empty list is harmless.
    let buf = resource(&[
        vec![("a", DIR, Some(1), 0, &[]), ("b", DIR, Some(1), 0, &[])],
        vec![],
    ]);
    assert_eq!(Image::parse(&buf).unwrap().nodes.len(), 3);
}

#[test]
fn depth_limit() {
    let lists: Vec<Vec<Child<'_>>> = (0..MAX_DEPTH + 2)
        .map(|i| {
            vec![(
                "d",
                DIR,
                Some(i + 1).filter(|&n| n <= MAX_DEPTH + 1),
                0,
                &[][..],
            )]
        })
        .collect();
    let buf = resource(&lists);
    assert!(matches!(
        Image::parse(&buf),
        Err(Error::InvalidMetadata { .. })
    ));
    let ok: Vec<Vec<Child<'_>>> = (0..MAX_DEPTH)
        .map(|i| vec![("d", DIR, Some(i + 1).filter(|&n| n < MAX_DEPTH), 0, &[][..])])
        .collect();
    assert_eq!(
        Image::parse(&resource(&ok)).unwrap().nodes.len(),
        MAX_DEPTH + 1
    );
}

#[test]
fn truncation_and_absurd_counts() {
    let buf = resource(&[vec![("file", 0, None, 0, &[("s", 1)])]]);
    // Every truncation fails cleanly (or, cut inside the final terminators, still
    // parses what is there).
    for n in 0..buf.len() {
        let _ = Image::parse(&buf[..n]);
    }
    assert!(Image::parse(&buf[..buf.len() - 9]).is_err());
    // A stream count far beyond the data.
    let mut b = buf.clone();
    let child = 8 + dentry("", DIR, 0, 0, &[]).len() + 8;
    b[child + 96..child + 98].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(Image::parse(&b).is_err());
    // A dentry length far beyond the data, and one below the fixed size.
    let mut b = buf.clone();
    b[child..child + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Image::parse(&b).is_err());
    let mut b = buf.clone();
    b[child..child + 8].copy_from_slice(&40u64.to_le_bytes());
    assert!(Image::parse(&b).is_err());
    // A name longer than the dentry.
    let mut b = buf.clone();
    b[child + 100..child + 102].copy_from_slice(&1000u16.to_le_bytes());
    assert!(Image::parse(&b).is_err());
    // Subdirectory offset beyond the resource.
    let mut b = buf;
    b[8 + 16..8 + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Image::parse(&b).is_err());
}

#[test]
fn empty_and_odd_roots() {
    // No dentries at all: an empty image with a warning.
    let mut buf = vec![8, 0, 0, 0, 0, 0, 0, 0];
    buf.extend(END);
    let img = Image::parse(&buf).unwrap();
    assert_eq!(img.nodes.len(), 1);
    assert_eq!(img.warnings.len(), 1);
    // A root that is a file.
    let mut buf = vec![8, 0, 0, 0, 0, 0, 0, 0];
    buf.extend(dentry("", 0, 0, 0, &[]));
    assert!(Image::parse(&buf).is_err());
    // A named root loses its name.
    let mut buf = vec![0, 0, 0, 0, 0, 0, 0, 0];
    buf.extend(dentry("root", DIR, 0, 0, &[]));
    let img = Image::parse(&buf).unwrap();
    assert_eq!(img.nodes[0].name, "");
    assert_eq!(img.walk()[0].0, "/");
}

/// Mutated and truncated resources never panic (they parse or fail).
#[test]
fn mutations_never_panic() {
    let base = resource(&[
        vec![("a", DIR, Some(1), 0, &[]), ("f", 0, None, 7, &[("x", 1)])],
        vec![(
            "b",
            FILE_ATTRIBUTE_REPARSE_POINT,
            None,
            0,
            &[("", 9), ("ads", 3)],
        )],
    ]);
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..20_000 {
        let mut b = base.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % b.len() as u64) as usize;
            b[i] = match next() % 4 {
                0 => 0,
                1 => 0xFF,
                _ => next() as u8,
            };
        }
        let cut = b.len() - (next() % 16) as usize;
        let _ = Image::parse(&b[..cut]);
    }
}
