//! Reads WIMs that wimlib-imagex writes (every compression format, several chunk sizes,
//! solid resources) through `wimkit::format`, decompressing every chunk of every blob
//! and checking each blob's SHA-1 against the blob table; and feeds the reader damaged
//! files, which must give errors, never panics.
//!
//! Needs `wimlib-imagex` on PATH (the test setup installs it): without it these tests fail.

mod support;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::tmp::{xorshift_bytes, TempDir};

use wimkit::format::{BlobLocation, Compression, Error, Header, ResourceData, Wim};

/// A source tree of about 1.7 MB: text, a copy of /usr/bin/bash, repeated and
/// incompressible data, an empty file and duplicate files.
fn make_tree(root: &Path) {
    let sub = root.join("dir/sub");
    std::fs::create_dir_all(&sub).unwrap();
    let words = [
        "wim", "chunk", "resource", "blob", "table", "solid", "header", "lzx", "xpress", "lzms",
    ];
    let mut text = String::new();
    for i in 0..12_000u32 {
        text.push_str(words[(i as usize * 7 + i as usize / 3) % words.len()]);
        text.push(if i % 13 == 0 { '\n' } else { ' ' });
    }
    std::fs::write(root.join("text.txt"), &text).unwrap();
    std::fs::write(sub.join("copy-of-text.txt"), &text).unwrap();
    std::fs::write(root.join("dir/small.txt"), b"hello, wim\n").unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    let bash = std::fs::read("/usr/bin/bash").expect("/usr/bin/bash");
    std::fs::write(root.join("bash"), &bash).unwrap();
    let repeated: Vec<u8> = b"0123456789abcdef"
        .iter()
        .cycle()
        .take(200_000)
        .copied()
        .collect();
    std::fs::write(sub.join("repeated.bin"), &repeated).unwrap();
    std::fs::write(
        root.join("random.bin"),
        xorshift_bytes(150_000, 0x9E37_79B9_7F4A_7C15),
    )
    .unwrap();
    // Exactly two 32 KiB chunks, and one byte more than that.
    std::fs::write(sub.join("exact.bin"), xorshift_bytes(65_536, 7)).unwrap();
    std::fs::write(sub.join("exact-plus-one.bin"), &text.as_bytes()[..65_537]).unwrap();
}

fn wimlib_imagex(args: &[&str]) {
    let out = Command::new("wimlib-imagex").args(args).output().unwrap_or_else(|e| {
        panic!("wimlib-imagex could not be run ({e}); the test setup must install it (Debian package wimtools)")
    });
    assert!(
        out.status.success(),
        "wimlib-imagex {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Captures `src` into `dir/name.wim` with extra `args`.
fn capture(src: &Path, dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.wim"));
    let mut a = vec![
        "capture",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
        "--threads=1",
    ];
    a.extend_from_slice(args);
    wimlib_imagex(&a);
    out
}

struct Counts {
    blobs: usize,
    metadata: usize,
    solid_blobs: usize,
    solid_resources: usize,
}

/// Reads every blob of the WIM at `path`, checks each SHA-1, and the XML data.
fn check_wim(path: &Path) -> Counts {
    let file = std::fs::read(path).unwrap();
    let wim = Wim::parse(&file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = wim.reader();
    let mut counts = Counts {
        blobs: 0,
        metadata: 0,
        solid_blobs: 0,
        solid_resources: wim.blob_table.solid_resources.len(),
    };
    for blob in &wim.blob_table.blobs {
        let data = reader.read_blob(blob).unwrap_or_else(|e| {
            panic!(
                "{}: blob {:02x?} ({:?}): {e}",
                path.display(),
                &blob.hash[..4],
                blob.location
            )
        });
        assert_eq!(data.len() as u64, blob.size);
        // A part of the blob that crosses chunk boundaries, read on its own.
        let (from, len) = (blob.size / 3, (blob.size / 2).min(70_000));
        let mut part = Vec::new();
        reader
            .visit_blob_range(blob, from, len, |b| {
                part.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        assert_eq!(part, &data[from as usize..(from + len) as usize]);
        assert!(reader
            .visit_blob_range(blob, from, blob.size, |_| Ok(()))
            .is_err());
        counts.blobs += 1;
        counts.metadata += usize::from(blob.is_metadata);
        counts.solid_blobs += usize::from(matches!(blob.location, BlobLocation::Solid { .. }));
    }
    assert_eq!(
        counts.metadata as u32,
        wim.header.image_count,
        "{}",
        path.display()
    );
    let xml = reader.read_resource(&wim.header.xml).unwrap();
    assert_eq!(
        &xml[..2],
        &[0xFF, 0xFE],
        "XML starts with a UTF-16LE byte-order mark"
    );
    counts
}

fn check_all(wims: &[(PathBuf, Compression, Option<u32>)]) {
    for (path, compression, chunk_size) in wims {
        let file = std::fs::read(path).unwrap();
        let header = Header::parse(&file).unwrap();
        assert_eq!(header.compression, *compression, "{}", path.display());
        if let Some(cs) = chunk_size {
            assert_eq!(header.chunk_size, *cs, "{}", path.display());
        }
        assert_eq!(Header::parse(&header.to_bytes()).unwrap(), header);
        let c = check_wim(path);
        assert!(c.blobs > 0);
        // The tree's distinct non-empty contents: text, small, bash, repeated, random,
        // exact, exact-plus-one; plus one metadata resource.
        assert_eq!(c.blobs, 8, "{}", path.display());
        eprintln!(
            "{}: {} blobs ({} solid in {} solid resources)",
            path.display(),
            c.blobs,
            c.solid_blobs,
            c.solid_resources
        );
    }
}

fn tree() -> (TempDir, PathBuf) {
    let t = TempDir::new("tree");
    let src = t.0.join("src");
    make_tree(&src);
    (t, src)
}

#[test]
fn uncompressed_wims() {
    let (t, src) = tree();
    let a = capture(&src, &t.0, "none", &["--compress=none"]);
    check_all(&[(a, Compression::None, None)]);
}

#[test]
fn xpress_wims() {
    let (t, src) = tree();
    let wims = [
        (
            capture(
                &src,
                &t.0,
                "x4k",
                &["--compress=XPRESS", "--chunk-size=4096"],
            ),
            Compression::Xpress,
            Some(4096),
        ),
        (
            capture(&src, &t.0, "x32k", &["--compress=XPRESS"]),
            Compression::Xpress,
            Some(32768),
        ),
        (
            capture(
                &src,
                &t.0,
                "x64k",
                &["--compress=XPRESS", "--chunk-size=65536"],
            ),
            Compression::Xpress,
            Some(65536),
        ),
    ];
    check_all(&wims);
}

#[test]
fn xpress_solid_wims() {
    let (t, src) = tree();
    let common = ["--compress=XPRESS", "--solid", "--solid-compress=XPRESS"];
    let a = capture(
        &src,
        &t.0,
        "xs64k",
        &[&common[..], &["--solid-chunk-size=65536"]].concat(),
    );
    let b = capture(
        &src,
        &t.0,
        "xs4k",
        &[&common[..], &["--solid-chunk-size=4096"]].concat(),
    );
    check_all(&[
        (a.clone(), Compression::Xpress, None),
        (b, Compression::Xpress, None),
    ]);
    assert!(check_wim(&a).solid_blobs >= 7);
}

#[test]
fn xpress_solid_run_of_several_resources() {
    let (t, src) = tree();
    let a = capture(
        &src,
        &t.0,
        "multi",
        &[
            "--compress=XPRESS",
            "--solid",
            "--solid-compress=XPRESS",
            "--solid-chunk-size=8192",
        ],
    );
    // Appending new data writes a second solid resource; the blob table then holds a run
    // of two resource entries whose blobs' offsets run across both.
    std::fs::write(src.join("new.bin"), xorshift_bytes(40_000, 99)).unwrap();
    std::fs::write(src.join("new.txt"), "appended text ".repeat(5000)).unwrap();
    wimlib_imagex(&[
        "append",
        src.to_str().unwrap(),
        a.to_str().unwrap(),
        "second",
        "--threads=1",
        "--solid",
        "--solid-compress=XPRESS",
        "--solid-chunk-size=16384",
    ]);
    let c = check_wim(&a);
    assert_eq!(c.metadata, 2);
    assert_eq!(c.solid_resources, 2);
    assert_eq!(c.blobs, 7 + 2 + 2);
}

/// Needs the LZX decoder.
#[test]
fn lzx_wims() {
    let (t, src) = tree();
    let wims = [
        (
            capture(&src, &t.0, "lzx32k", &["--compress=LZX"]),
            Compression::Lzx,
            Some(32768),
        ),
        (
            capture(
                &src,
                &t.0,
                "lzx64k",
                &["--compress=LZX", "--chunk-size=65536"],
            ),
            Compression::Lzx,
            Some(65536),
        ),
        (
            capture(
                &src,
                &t.0,
                "lzx2m",
                &["--compress=LZX", "--chunk-size=2097152"],
            ),
            Compression::Lzx,
            Some(2097152),
        ),
    ];
    check_all(&wims);
}

/// Needs the LZX decoder.
#[test]
fn lzx_solid_wims() {
    let (t, src) = tree();
    let a = capture(
        &src,
        &t.0,
        "lzxs",
        &[
            "--compress=LZX",
            "--solid",
            "--solid-compress=LZX",
            "--solid-chunk-size=262144",
        ],
    );
    let b = capture(
        &src,
        &t.0,
        "lzxs2m",
        &[
            "--compress=LZX",
            "--solid",
            "--solid-compress=LZX",
            "--solid-chunk-size=2097152",
        ],
    );
    check_all(&[(a, Compression::Lzx, None), (b, Compression::Lzx, None)]);
}

/// Needs the LZMS decoder.
#[test]
fn lzms_wims() {
    let (t, src) = tree();
    let wims = [
        (
            capture(&src, &t.0, "lzms", &["--compress=LZMS"]),
            Compression::Lzms,
            None,
        ),
        (
            capture(
                &src,
                &t.0,
                "lzms32k",
                &["--compress=LZMS", "--chunk-size=32768"],
            ),
            Compression::Lzms,
            Some(32768),
        ),
    ];
    check_all(&wims);
}

/// Needs the LZMS decoder.
#[test]
fn lzms_solid_wims() {
    let (t, src) = tree();
    let a = capture(&src, &t.0, "esd", &["--solid"]);
    let b = capture(
        &src,
        &t.0,
        "esd32k",
        &["--solid", "--solid-chunk-size=32768"],
    );
    check_all(&[(a, Compression::Lzms, None), (b, Compression::Lzms, None)]);
    // Recompressing an XPRESS WIM into a solid one.
    let c = capture(&src, &t.0, "opt", &["--compress=XPRESS"]);
    wimlib_imagex(&["optimize", c.to_str().unwrap(), "--solid", "--threads=1"]);
    let n = check_wim(&c);
    assert_eq!(n.blobs, 8);
    assert!(n.solid_blobs >= 7);
}

/// Needs both the LZX (image metadata) and LZMS (solid data) decoders.
#[test]
fn exported_lzx_wim_into_solid() {
    let (t, src) = tree();
    let a = capture(&src, &t.0, "base", &["--compress=LZX"]);
    let b = t.0.join("exported.wim");
    wimlib_imagex(&[
        "export",
        a.to_str().unwrap(),
        "1",
        b.to_str().unwrap(),
        "--solid",
        "--threads=1",
    ]);
    check_wim(&b);
}

// ---- Damaged files: errors, never panics. ----

fn xpress_wim_bytes(t: &TempDir, src: &Path, args: &[&str]) -> Vec<u8> {
    std::fs::read(capture(src, &t.0, "victim", args)).unwrap()
}

/// Reads everything a reader would; returns the first error, if any.
fn read_everything(file: &[u8]) -> Result<usize, Error> {
    let wim = Wim::parse(file)?;
    let mut r = wim.reader();
    for blob in &wim.blob_table.blobs {
        r.verify_blob(blob)?;
    }
    r.read_resource(&wim.header.xml)?;
    Ok(wim.blob_table.len())
}

#[test]
fn hostile_headers_and_tables() {
    let (t, src) = tree();
    let good = xpress_wim_bytes(&t, &src, &["--compress=XPRESS"]);
    assert_eq!(read_everything(&good).unwrap(), 8);

    assert!(matches!(
        Wim::parse(&good[..100]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        Wim::parse(&good[..0]),
        Err(Error::Truncated { .. })
    ));
    let mut bad = good.clone();
    bad[1] = b'Z';
    assert!(matches!(Wim::parse(&bad), Err(Error::BadMagic(_))));

    // Blob table beyond the end of the file (offset, then size).
    let header = Header::parse(&good).unwrap();
    let mut h = header.clone();
    h.blob_table.offset = good.len() as u64 - 10;
    let mut bad = good.clone();
    bad[..208].copy_from_slice(&h.to_bytes());
    assert!(matches!(Wim::parse(&bad), Err(Error::OutOfFile { .. })));
    let mut h = header.clone();
    h.blob_table.offset = u64::MAX - 5;
    bad[..208].copy_from_slice(&h.to_bytes());
    assert!(matches!(Wim::parse(&bad), Err(Error::OutOfFile { .. })));
    // The file cut short before its blob table.
    assert!(matches!(
        Wim::parse(&good[..header.blob_table.offset as usize + 10]),
        Err(Error::OutOfFile { .. })
    ));
    // A blob table that is not a whole number of entries.
    let mut h = header.clone();
    h.blob_table.stored_size -= 1;
    h.blob_table.uncompressed_size -= 1;
    bad[..208].copy_from_slice(&h.to_bytes());
    assert!(matches!(
        Wim::parse(&bad),
        Err(Error::ImplausibleSize { .. })
    ));
    // Split and pipable files are refused for now.
    let mut h = header.clone();
    h.total_parts = 2;
    bad[..208].copy_from_slice(&h.to_bytes());
    assert!(matches!(Wim::parse(&bad), Err(Error::Unsupported(_))));
    let mut bad = good.clone();
    bad[..8].copy_from_slice(b"WLPWM\0\0\0");
    assert!(matches!(Wim::parse(&bad), Err(Error::Unsupported(_))));
}

#[test]
fn hostile_chunk_tables() {
    let (t, src) = tree();
    let good = xpress_wim_bytes(&t, &src, &["--compress=XPRESS", "--chunk-size=4096"]);
    let wim = Wim::parse(&good).unwrap();
    // The bash blob: compressed, many chunks.
    let (res, table) = wim
        .blob_table
        .blobs
        .iter()
        .filter_map(|b| match b.location {
            BlobLocation::Resource(r) if r.is_compressed() => {
                match ResourceData::open(&good, &wim.header, &r) {
                    Ok(ResourceData::Chunked(t)) if t.num_chunks() > 10 => Some((r, t)),
                    _ => None,
                }
            }
            _ => None,
        })
        .next()
        .expect("a compressed blob of more than 10 chunks");
    let blob_hash = wim
        .blob_table
        .blobs
        .iter()
        .find(|b| b.location == BlobLocation::Resource(res))
        .unwrap()
        .hash;
    let entry_at = |i: usize| res.offset as usize + 4 * i; // entry for chunk i + 1
    let read_it = |file: &[u8]| -> Result<(), Error> {
        let wim = Wim::parse(file)?;
        let blob = *wim.blob_table.get(&blob_hash).unwrap();
        wim.reader().verify_blob(&blob)
    };
    assert!(read_it(&good).is_ok());
    let (o1, o2) = (
        table.chunk_location(1).unwrap().0 - table.data_start,
        table.chunk_location(2).unwrap().0 - table.data_start,
    );
    for (i, value, what) in [
        (1, o1 as u32 - 1, "decreasing"),
        (1, o1 as u32, "equal"),
        (3, u32::MAX, "beyond the resource"),
        (0, o2 as u32 + 5, "beyond the next"),
        (0, 0, "zero"),
        (0, 4097, "longer than a chunk"),
    ] {
        let mut bad = good.clone();
        bad[entry_at(i)..entry_at(i) + 4].copy_from_slice(&value.to_le_bytes());
        let e = read_it(&bad);
        assert!(e.is_err(), "{what}: {e:?}");
    }
    // A chunk's bytes damaged: decompression error or hash mismatch.
    let mut bad = good.clone();
    let (at, len) = table.chunk_location(3).unwrap();
    for b in &mut bad[at as usize..(at + len) as usize] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    assert!(matches!(
        read_it(&bad),
        Err(Error::Decompression { .. } | Error::HashMismatch { .. })
    ));
}

#[test]
fn hostile_solid_resources() {
    let (t, src) = tree();
    let good = xpress_wim_bytes(
        &t,
        &src,
        &[
            "--compress=XPRESS",
            "--solid",
            "--solid-compress=XPRESS",
            "--solid-chunk-size=16384",
        ],
    );
    let wim = Wim::parse(&good).unwrap();
    let solid = wim.blob_table.solid_resources[0];
    let at = solid.resource.offset as usize;
    drop(wim);
    for (field, value, what) in [
        (0, u64::MAX, "huge uncompressed size"),
        (0, 1 << 40, "large uncompressed size"),
        (8, 1 << 31, "chunk size 2 GiB"),
        (8, 3 << 12, "chunk size not a power of two"),
        (12, 9, "unknown format"),
    ] {
        let mut bad = good.clone();
        let width = if field == 0 { 8 } else { 4 };
        bad[at + field..at + field + width].copy_from_slice(&value.to_le_bytes()[..width]);
        let e = read_everything(&bad);
        assert!(e.is_err(), "{what}: {e:?}");
    }
    // The first chunk-size entry made huge, then zero.
    for value in [u32::MAX, 0, 16385] {
        let mut bad = good.clone();
        bad[at + 16..at + 20].copy_from_slice(&value.to_le_bytes());
        assert!(read_everything(&bad).is_err(), "chunk size entry {value}");
    }
}

/// Flips bytes all over small XPRESS WIMs (solid and not): the reader may fail in any
/// way but must not panic.
#[test]
fn random_damage_never_panics() {
    let (t, src) = tree();
    // A smaller tree keeps this quick.
    let small = t.0.join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("a.txt"), "some text that repeats ".repeat(3000)).unwrap();
    std::fs::write(small.join("b.bin"), xorshift_bytes(20_000, 3)).unwrap();
    drop(src);
    let plain = xpress_wim_bytes(&t, &small, &["--compress=XPRESS", "--chunk-size=4096"]);
    let solid = xpress_wim_bytes(
        &t,
        &small,
        &[
            "--compress=XPRESS",
            "--solid",
            "--solid-compress=XPRESS",
            "--solid-chunk-size=4096",
        ],
    );
    for good in [plain, solid] {
        assert!(read_everything(&good).is_ok());
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut bad = good.clone();
            for _ in 0..1 + next() % 4 {
                // Aim half of the damage at the header and blob table, where it matters most.
                let len = bad.len() as u64;
                let pos = if next() % 2 == 0 {
                    next() % 208
                } else if next() % 2 == 0 {
                    len - 1 - next() % 3000u64.min(len - 1)
                } else {
                    next() % len
                };
                bad[pos as usize] ^= 1 << (next() % 8);
            }
            let _ = read_everything(&bad);
            let cut = (next() % bad.len() as u64) as usize;
            let _ = read_everything(&bad[..cut]);
        }
    }
}
