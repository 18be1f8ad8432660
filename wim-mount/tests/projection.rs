//! The projection against the tree wimlib captured, for every compression and solid;
//! the chunk cache's decode counts.
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::Entry;
use wim_mount::format::BlobLocation;
use wim_mount::types::{filetime_to_system, Kind};
use wim_mount::{ChunkCache, Projection, ProjectionOptions, WimSource, ROOT_INO};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn kind_char(k: Kind) -> char {
    match k {
        Kind::Directory => 'd',
        Kind::File => 'f',
        Kind::Symlink => 'l',
        Kind::Fifo => 'p',
        Kind::CharDevice => 'c',
        Kind::BlockDevice => 'b',
        Kind::Socket => 's',
    }
}

/// Checks every entry of `src` against the projection.
fn compare(p: &Projection, src: &BTreeMap<String, Entry>, rng: &mut Rng) {
    let mut by_src_ino: BTreeMap<u64, u64> = BTreeMap::new();
    for (rel, e) in src {
        let ino = p.resolve(rel).unwrap_or_else(|err| panic!("{rel}: {err}"));
        let a = p.getattr(ino).unwrap();
        assert_eq!(kind_char(a.kind), e.kind, "{rel}");
        assert_eq!(a.mode(), e.mode, "{rel}: mode");
        assert_eq!((a.uid, a.gid), (e.uid, e.gid), "{rel}: owner");
        assert_eq!(u64::from(a.rdev), e.rdev, "{rel}: rdev");
        if e.kind != 'd' {
            assert_eq!(a.size, e.size, "{rel}: size");
            assert_eq!(u64::from(a.nlink), e.nlink, "{rel}: nlink");
        }
        let want = std::time::UNIX_EPOCH
            + std::time::Duration::new(e.mtime.0 as u64, (e.mtime.1 / 100 * 100) as u32);
        assert_eq!(filetime_to_system(a.times.write), want, "{rel}: mtime");
        // Hard links share the inode number, and only they do.
        if let Some(prev) = by_src_ino.insert(e.ino, ino) {
            assert_eq!(prev, ino, "{rel}: hard link");
        }
        if let Some(link) = &e.link {
            assert_eq!(p.readlink(ino).unwrap().as_bytes(), &link[..], "{rel}");
        } else {
            assert!(p.readlink(ino).is_err());
        }
        let names: BTreeSet<Vec<u8>> = p.listxattr(ino).unwrap().into_iter().collect();
        let want: BTreeSet<Vec<u8>> = e.xattrs.keys().cloned().collect();
        assert_eq!(names, want, "{rel}: xattr names");
        for (k, v) in &e.xattrs {
            assert_eq!(&p.getxattr(ino, k).unwrap(), v, "{rel}: xattr");
        }
        assert!(p.getxattr(ino, b"user.none").is_err());
        if let Some(content) = &e.content {
            assert_eq!(
                p.read(ino, 0, content.len() + 10).unwrap(),
                *content,
                "{rel}"
            );
            for _ in 0..20 {
                let off = rng.next() % (content.len() as u64 + 1);
                let len = (rng.next() % 70_000) as usize;
                let got = p.read(ino, off, len).unwrap();
                let end = (off as usize + len).min(content.len());
                assert_eq!(got, content[off as usize..end], "{rel} at {off}+{len}");
            }
            assert!(p
                .read(ino, content.len() as u64 + 5, 10)
                .unwrap()
                .is_empty());
        }
        if e.kind == 'd' {
            let listed: BTreeSet<String> = p
                .readdir(ino)
                .unwrap()
                .into_iter()
                .map(|d| d.name)
                .collect();
            let prefix = if rel.is_empty() {
                String::new()
            } else {
                format!("{rel}/")
            };
            let want: BTreeSet<String> = src
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .filter(|k| !k.is_empty() && !k.contains('/'))
                .map(str::to_string)
                .collect();
            assert_eq!(listed, want, "{rel}: readdir");
            for d in p.readdir(ino).unwrap() {
                assert_eq!(p.lookup(ino, &d.name).unwrap(), d.ino);
                assert_eq!(p.getattr(d.ino).unwrap().kind, d.kind);
            }
        } else {
            assert!(p.readdir(ino).is_err());
        }
    }
    assert!(p.lookup(ROOT_INO, "no such file").is_err());
    assert!(p.resolve("hello.txt/x").is_err());
}

#[test]
fn projection_matches_source_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::make_tree(&src);
    let want = common::scan(&src);
    let mut rng = Rng(0x5eed);
    for (name, opts) in common::VARIANTS {
        let wim = tmp.path().join(format!("{name}.wim"));
        common::capture(&src, &wim, opts);
        let p = Projection::open(&wim, 1, ProjectionOptions::default()).unwrap();
        compare(&p, &want, &mut rng);
        eprintln!("{name}: ok, cache {:?}", p.cache().stats());
    }
}

/// Chunks `[first, last]` of a resource with `chunk` bytes per chunk that bytes
/// `offset..offset + size` cover.
fn chunk_span(offset: u64, size: u64, chunk: u64) -> u64 {
    (offset + size - 1) / chunk - offset / chunk + 1
}

fn read_in_pieces(p: &Projection, ino: u64, size: u64, piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < size {
        let b = p.read(ino, off, piece).unwrap();
        assert!(!b.is_empty());
        off += b.len() as u64;
        out.extend(b);
    }
    out
}

#[test]
fn chunk_cache_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::make_tree(&src);
    let big = std::fs::read(src.join("dir/big.bin")).unwrap();

    // An ordinary LZX resource: 4 KiB from the middle costs one chunk; the whole file
    // read 4 KiB at a time costs each chunk once.
    let wim = tmp.path().join("lzx.wim");
    common::capture(&src, &wim, &["--compress=lzx"]);
    let p = Projection::open(&wim, 1, ProjectionOptions::default()).unwrap();
    let ino = p.resolve("dir/big.bin").unwrap();
    let before = p.cache().stats().decodes;
    assert_eq!(p.read(ino, 600_000, 4096).unwrap(), big[600_000..604_096]);
    assert_eq!(p.cache().stats().decodes - before, 1, "one chunk for 4 KiB");
    let got = read_in_pieces(&p, ino, big.len() as u64, 4096);
    assert_eq!(got, big);
    let chunks = (big.len() as u64).div_ceil(32768);
    let s = p.cache().stats();
    assert_eq!(s.decodes - before, chunks, "each LZX chunk once: {s:?}");
    eprintln!("lzx: {} KiB file, {chunks} chunks, {s:?}", big.len() >> 10);

    // A solid LZMS resource of 256 KiB chunks.
    let wim = tmp.path().join("solid.wim");
    common::capture(
        &src,
        &wim,
        &["--solid", "--compress=lzms", "--solid-chunk-size=256K"],
    );
    let cache = ChunkCache::new(64 << 20);
    let source = Arc::new(WimSource::open(&wim, cache.clone()).unwrap());
    let p = Projection::new(source.clone(), 1, ProjectionOptions::default()).unwrap();
    let ino = p.resolve("dir/big.bin").unwrap();
    let (hash, size) = p.content(ino).unwrap().unwrap();
    let blob = *source.blob(&hash).unwrap();
    let BlobLocation::Solid { resource, offset } = blob.location else {
        panic!("not solid: {blob:?}");
    };
    let res = source.blob_table().solid_resources[resource];
    let cs = u64::from(res.header.chunk_size);
    assert_eq!(cs, 256 << 10);
    let span = chunk_span(offset, size, cs);
    // (Opening decoded the metadata resource's chunks.)
    let before = cache.stats().decodes;
    let got = read_in_pieces(&p, ino, size, 4096);
    assert_eq!(got, big);
    let s = cache.stats();
    assert_eq!(s.decodes - before, span, "each solid chunk once: {s:?}");
    eprintln!("solid: file spans {span} chunks of 256 KiB: {s:?}");

    // Every file of the image in 4 KiB reads, from 4 threads at once, with a fresh
    // cache: each chunk of the solid resources is decoded once in all.
    let cache = ChunkCache::new(64 << 20);
    let source = Arc::new(WimSource::open(&wim, cache.clone()).unwrap());
    let p = Arc::new(Projection::new(source.clone(), 1, ProjectionOptions::default()).unwrap());
    let before = cache.stats().decodes;
    let files: Vec<(u64, u64)> = p
        .image()
        .walk()
        .into_iter()
        .filter_map(|(path, _)| {
            let ino = p.resolve(&path).ok()?;
            let a = p.getattr(ino).ok()?;
            (a.kind == Kind::File && a.size > 0).then_some((ino, a.size))
        })
        .collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (p, files) = (&p, &files);
            s.spawn(move || {
                for (i, &(ino, size)) in files.iter().enumerate() {
                    if (i + t) % 2 == 0 {
                        read_in_pieces(p, ino, size, 4096);
                    }
                }
            });
        }
    });
    let total_chunks: u64 = source
        .blob_table()
        .solid_resources
        .iter()
        .map(|r| {
            r.header
                .uncompressed_size
                .div_ceil(u64::from(r.header.chunk_size))
        })
        .sum();
    let s = cache.stats();
    let decodes = s.decodes - before;
    assert!(decodes <= total_chunks, "{s:?} > {total_chunks} chunks");
    assert!(
        decodes >= total_chunks - 1,
        "{s:?} vs {total_chunks} chunks"
    );
    eprintln!("solid, 4 threads: {total_chunks} chunks in the WIM, {s:?}");

    // A cache too small for two chunks still serves reads (re-decoding).
    let cache = ChunkCache::new(1);
    let source = Arc::new(WimSource::open(&wim, cache.clone()).unwrap());
    let p = Projection::new(source, 1, ProjectionOptions::default()).unwrap();
    let ino = p.resolve("dir/big.bin").unwrap();
    assert_eq!(read_in_pieces(&p, ino, size, 100_000), big);
    assert!(cache.stats().entries <= 1);
}
