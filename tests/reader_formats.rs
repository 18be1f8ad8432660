//! Reads the less common WIM layouts that wimlib-imagex writes: split sets (`.swm`),
//! pipable WIMs, integrity tables; opens files memory-mapped (errors must name the
//! file); and checks `scan_health` on good and damaged WIMs, with one and two threads.
//!
//! Needs `wimlib-imagex` on PATH (Debian package wimtools): without it these tests fail.

mod support;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::tmp::{xorshift_bytes, TempDir};

use wimkit::format::integrity::IntegrityStatus;
use wimkit::format::verify::scan_health;
use wimkit::format::{
    BlobLocation, ChunkTable, Compression, Error, Magic, SplitSet, StreamKind, Wim, WimFile,
};

fn text(n: usize, seed: usize) -> Vec<u8> {
    let words = [
        "wim", "chunk", "resource", "blob", "table", "solid", "header", "lzx", "xpress", "lzms",
        "split", "pipable",
    ];
    let mut t = String::new();
    let mut i = seed;
    while t.len() < n {
        t.push_str(words[(i * 7 + i / 3) % words.len()]);
        t.push(if i % 13 == 0 { '\n' } else { ' ' });
        i += 1;
    }
    t.truncate(n);
    t.into_bytes()
}

/// A tree of about `mb` MiB of random data in 300 KiB files, plus text, an empty file,
/// duplicates and a named directory structure.
fn make_tree(root: &Path, mb: usize) {
    let sub = root.join("dir/sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(root.join("text.txt"), text(200_000, 1)).unwrap();
    std::fs::write(sub.join("copy-of-text.txt"), text(200_000, 1)).unwrap();
    std::fs::write(root.join("dir/small.txt"), b"hello, wim\n").unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    for i in 0..(mb * 1024 / 300) {
        std::fs::write(
            sub.join(format!("random-{i}.bin")),
            xorshift_bytes(300 * 1024, 0x9E37_79B9_7F4A_7C15 ^ i as u64),
        )
        .unwrap();
    }
    std::fs::write(root.join("big-text.txt"), text(700_000, 5)).unwrap();
}

fn wimlib_imagex(args: &[&str]) -> String {
    let out = Command::new("wimlib-imagex")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("wimlib-imagex could not be run ({e}); the test setup must install it (Debian package wimtools)")
        });
    assert!(
        out.status.success(),
        "wimlib-imagex {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn capture(src: &Path, wim: &Path, extra: &[&str]) {
    let mut args = vec!["capture", src.to_str().unwrap(), wim.to_str().unwrap()];
    args.extend_from_slice(extra);
    wimlib_imagex(&args);
}

/// Every regular file of the tree: path relative to `root` (`/a/b`) -> contents.
fn tree_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = format!("/{}", p.strip_prefix(root).unwrap().to_str().unwrap());
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Reads every blob (checking its SHA-1) and checks that image 1's files hold the
/// tree's contents.
fn check_against_tree(wim: &Wim<'_>, root: &Path) {
    let mut reader = wim.reader();
    for blob in &wim.blob_table.blobs {
        reader.verify_blob(blob).unwrap();
    }
    let image = wim.image(1).unwrap();
    let files = tree_files(root);
    let mut seen = 0;
    for (path, id) in image.walk() {
        let node = image.node(id);
        if node.is_directory() {
            continue;
        }
        let want = files
            .get(&path)
            .unwrap_or_else(|| panic!("{path} not in the tree"));
        let got = match node.unnamed_data() {
            Some(s) if s.kind == StreamKind::Data => wim.blob_data(&s.hash).unwrap(),
            _ => Vec::new(),
        };
        assert!(got == *want, "{path}: contents differ");
        seen += 1;
    }
    assert_eq!(seen, files.len());
}

#[test]
fn split_sets_read_every_blob() {
    let tmp = TempDir::new("split");
    let src = tmp.0.join("src");
    make_tree(&src, 5);
    let wim = tmp.0.join("full.wim");
    capture(&src, &wim, &["--compress=lzx"]);
    let swm = tmp.0.join("part.swm");
    wimlib_imagex(&["split", wim.to_str().unwrap(), swm.to_str().unwrap(), "1"]);
    let set = SplitSet::open(&swm, Some("part*.swm")).unwrap();
    assert!(set.parts.len() >= 3, "{} parts", set.parts.len());
    let w = set.wim().unwrap();
    assert!(w.is_split());
    let parts_used: std::collections::BTreeSet<u16> =
        w.blob_table.blobs.iter().map(|b| b.part_number).collect();
    assert!(parts_used.len() >= 3, "blobs in parts {parts_used:?}");
    check_against_tree(&w, &src);
    // The whole WIM and the set hold the same blobs.
    let whole = WimFile::open(&wim).unwrap();
    let whole = whole.wim().unwrap();
    assert_eq!(whole.blob_table.len(), w.blob_table.len());
    // The pattern may name the directory; `?` works too.
    let pattern = tmp.0.join("part?.swm");
    let set2 = SplitSet::open(&swm, Some(pattern.to_str().unwrap())).unwrap();
    assert_eq!(set2.parts.len(), set.parts.len());
    // scan_health sees every part.
    let report = scan_health(&w, Some(2), &|_| {}).unwrap();
    assert!(report.is_healthy(), "{:?}", report.damaged);
    assert_eq!(report.blobs_checked, w.blob_table.len() as u64);
    // A lone part is refused as such.
    let lone = WimFile::open(set.part_path(2).unwrap()).unwrap();
    let e = lone.wim().unwrap_err();
    assert!(
        matches!(e.root(), Error::Unsupported(_)) && e.to_string().contains("part2.swm"),
        "{e}"
    );
}

#[test]
fn split_set_errors_name_the_file() {
    let tmp = TempDir::new("split-errors");
    let src = tmp.0.join("src");
    make_tree(&src, 3);
    let wim = tmp.0.join("a.wim");
    capture(&src, &wim, &["--compress=xpress"]);
    let a = tmp.0.join("a.swm");
    wimlib_imagex(&["split", wim.to_str().unwrap(), a.to_str().unwrap(), "1"]);
    let total = SplitSet::open(&a, Some("a*.swm")).unwrap().parts.len();
    assert!(total >= 2);
    // Missing part: only part 1.
    let e = SplitSet::open(&a, Some("nothing*.swm")).unwrap_err();
    assert!(
        matches!(e.root(), Error::MissingPart { part_number: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("a.swm"), "{e}");
    // Duplicate part: a copy of part 2 under another name.
    std::fs::copy(tmp.0.join("a2.swm"), tmp.0.join("a2-copy.swm")).unwrap();
    let e = SplitSet::open(&a, Some("a*.swm")).unwrap_err();
    assert!(
        matches!(e.root(), Error::DuplicatePart { part_number: 2 }),
        "{e}"
    );
    assert!(e.to_string().contains("a2"), "{e}");
    std::fs::remove_file(tmp.0.join("a2-copy.swm")).unwrap();
    // GUID mismatch: part 2 of another capture of the same tree.
    let wim_b = tmp.0.join("b.wim");
    capture(&src, &wim_b, &["--compress=xpress"]);
    let b = tmp.0.join("b.swm");
    wimlib_imagex(&["split", wim_b.to_str().unwrap(), b.to_str().unwrap(), "1"]);
    std::fs::rename(tmp.0.join("b2.swm"), tmp.0.join("mixed2.swm")).unwrap();
    std::fs::copy(&a, tmp.0.join("mixed.swm")).unwrap();
    for n in 3..=total {
        std::fs::copy(
            tmp.0.join(format!("a{n}.swm")),
            tmp.0.join(format!("mixed{n}.swm")),
        )
        .unwrap();
    }
    let e = SplitSet::open(tmp.0.join("mixed.swm"), Some("mixed*.swm")).unwrap_err();
    assert!(
        matches!(e.root(), Error::SplitGuidMismatch { part_number: 2 }),
        "{e}"
    );
    assert!(e.to_string().contains("mixed2.swm"), "{e}");
    // Opening from a part other than 1.
    let e = SplitSet::open(tmp.0.join("a2.swm"), Some("a*.swm")).unwrap_err();
    assert!(matches!(e.root(), Error::NotFirstPart { .. }), "{e}");
}

#[test]
fn corpus_split_set() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/managedwimlib");
    let set = SplitSet::open(dir.join("Split.swm"), Some("Split*.swm")).unwrap();
    assert_eq!(set.parts.len(), 2);
    let w = set.wim().unwrap();
    let mut reader = w.reader();
    for blob in &w.blob_table.blobs {
        reader.verify_blob(blob).unwrap();
    }
    assert!(w.blob_table.blobs.iter().any(|b| b.part_number == 2));
    let image = w.image(1).unwrap();
    assert!(image.nodes.len() > 1);
    let report = scan_health(&w, Some(1), &|_| {}).unwrap();
    assert!(report.is_healthy(), "{:?}", report.damaged);
}

#[test]
fn pipable_wims() {
    let tmp = TempDir::new("pipable");
    let src = tmp.0.join("src");
    make_tree(&src, 1);
    for c in ["none", "xpress", "lzx", "lzms"] {
        let wim = tmp.0.join(format!("{c}.wim"));
        capture(&src, &wim, &["--pipable", &format!("--compress={c}")]);
        let f = WimFile::open(&wim).unwrap();
        let w = f.wim().unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(w.header.magic, Magic::Pipable, "{c}");
        assert_eq!(
            w.header.compression == Compression::None,
            c == "none",
            "{c}"
        );
        check_against_tree(&w, &src);
        assert_eq!(w.xml().unwrap().images.len(), 1);
        let report = scan_health(&w, Some(2), &|_| {}).unwrap();
        assert!(report.is_healthy(), "{c}: {:?}", report.damaged);
    }
}

#[test]
fn integrity_tables() {
    let tmp = TempDir::new("integrity");
    let src = tmp.0.join("src");
    make_tree(&src, 2);
    let checked = tmp.0.join("checked.wim");
    capture(&src, &checked, &["--compress=lzx", "--check"]);
    let f = WimFile::open(&checked).unwrap();
    let w = f.wim().unwrap();
    assert!(w.has_integrity_table());
    assert_eq!(w.check_integrity().unwrap(), IntegrityStatus::Ok);
    // One byte changed in the middle of the data.
    let mut bytes = std::fs::read(&checked).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    let w = Wim::parse(&bytes).unwrap();
    match w.check_integrity().unwrap() {
        IntegrityStatus::Mismatch { part: 1, chunk } => {
            let cs = 10 << 20;
            assert_eq!(chunk, (at as u64 - 208) / cs);
        }
        other => panic!("{other:?}"),
    }
    let plain = tmp.0.join("plain.wim");
    capture(&src, &plain, &["--compress=lzx"]);
    let f = WimFile::open(&plain).unwrap();
    assert_eq!(
        f.wim().unwrap().check_integrity().unwrap(),
        IntegrityStatus::NoTable
    );
    // wimlib agrees with us about the damaged file.
    let damaged = tmp.0.join("damaged.wim");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = Command::new("wimlib-imagex")
        .args(["verify", damaged.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The corpus' good and failing tables.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/managedwimlib");
    let f = WimFile::open(dir.join("VerifySuccess.wim")).unwrap();
    assert_eq!(
        f.wim().unwrap().check_integrity().unwrap(),
        IntegrityStatus::Ok
    );
    let f = WimFile::open(dir.join("VerifyFail.wim")).unwrap();
    assert!(matches!(
        f.wim().unwrap().check_integrity().unwrap(),
        IntegrityStatus::Mismatch { .. }
    ));
}

#[test]
fn mapped_open_and_errors_name_the_file() {
    let tmp = TempDir::new("open");
    let src = tmp.0.join("src");
    make_tree(&src, 1);
    for c in ["none", "xpress", "lzx", "lzms"] {
        let wim = tmp.0.join(format!("{c}.wim"));
        capture(&src, &wim, &[&format!("--compress={c}")]);
        let f = WimFile::open(&wim).unwrap();
        assert!(f.is_mapped(), "{c}");
        check_against_tree(&f.wim().unwrap(), &src);
    }
    let solid = tmp.0.join("solid.wim");
    capture(&src, &solid, &["--solid"]);
    check_against_tree(&WimFile::open(&solid).unwrap().wim().unwrap(), &src);
    // A missing file.
    let missing = tmp.0.join("no-such.wim");
    let e = WimFile::open(&missing).unwrap_err();
    assert!(matches!(e.root(), Error::Access { .. }), "{e}");
    assert!(e.to_string().contains("no-such.wim"), "{e}");
    // An empty file.
    let empty = tmp.0.join("empty.wim");
    std::fs::write(&empty, b"").unwrap();
    let e = WimFile::open(&empty).unwrap().wim().unwrap_err();
    assert!(matches!(e.root(), Error::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("empty.wim"), "{e}");
    // A truncated file: its blob table lies beyond the end.
    let bytes = std::fs::read(tmp.0.join("lzx.wim")).unwrap();
    let cut = tmp.0.join("cut.wim");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = WimFile::open(&cut).unwrap().wim().unwrap_err();
    assert!(matches!(e.root(), Error::OutOfFile { .. }), "{e}");
    assert!(e.to_string().contains("cut.wim"), "{e}");
    // Not a WIM.
    let e = WimFile::open("/usr/bin/bash").unwrap().wim().unwrap_err();
    assert!(matches!(e.root(), Error::BadMagic(_)), "{e}");
    assert!(e.to_string().contains("/usr/bin/bash"), "{e}");
}

/// Flips a byte in the middle of chunk `chunk` of the resource of the file `path` of
/// image 1; returns the damaged bytes and the blob's hash.
fn corrupt_chunk(bytes: &[u8], path: &str, chunk: u64) -> (Vec<u8>, [u8; 20]) {
    let w = Wim::parse(bytes).unwrap();
    let image = w.image(1).unwrap();
    let id = image.lookup(path).unwrap();
    let hash = image.node(id).unnamed_data().unwrap().hash;
    let blob = w.blob_table.get(&hash).unwrap();
    let at = match blob.location {
        BlobLocation::Resource(res) => {
            let t =
                ChunkTable::for_resource(bytes, &res, w.header.compression, w.header.chunk_size)
                    .unwrap();
            let (off, size) = t.chunk_location(chunk).unwrap();
            off + size / 2
        }
        BlobLocation::Solid { resource, offset } => {
            let t = w.blob_table.solid_resources[resource]
                .chunk_table(bytes)
                .unwrap();
            let c = offset / u64::from(t.chunk_size);
            let (off, size) = t.chunk_location(c).unwrap();
            off + size / 2
        }
    };
    let mut out = bytes.to_vec();
    out[at as usize] ^= 0x55;
    out[at as usize + 1] ^= 0xAA;
    (out, hash)
}

#[test]
fn scan_health_good_and_damaged() {
    let tmp = TempDir::new("scan");
    let src = tmp.0.join("src");
    make_tree(&src, 2);
    for (name, args) in [
        ("lzx", vec!["--compress=lzx"]),
        ("xpress", vec!["--compress=xpress"]),
        ("solid", vec!["--solid", "--solid-chunk-size=256K"]),
    ] {
        let wim = tmp.0.join(format!("{name}.wim"));
        capture(&src, &wim, &args);
        let bytes = std::fs::read(&wim).unwrap();
        let w = Wim::parse(&bytes).unwrap();
        let calls = AtomicUsize::new(0);
        let r1 = scan_health(&w, Some(1), &|_| {
            calls.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert!(calls.load(Ordering::Relaxed) > 0);
        let r2 = scan_health(&w, Some(2), &|_| {}).unwrap();
        assert!(r1.is_healthy(), "{name}: {:?}", r1.damaged);
        assert_eq!(r1, r2, "{name}");
        assert_eq!(r1.blobs_checked, w.blob_table.len() as u64);
        // Damage chunk 3 of the big text file.
        let (bad, hash) = corrupt_chunk(&bytes, "/big-text.txt", 3);
        let w = Wim::parse(&bad).unwrap();
        let r1 = scan_health(&w, Some(1), &|_| {}).unwrap();
        let r2 = scan_health(&w, Some(2), &|_| {}).unwrap();
        assert_eq!(r1, r2, "{name}");
        let d = r1
            .damaged
            .iter()
            .find(|d| d.hash == hash)
            .unwrap_or_else(|| panic!("{name}: {:?}", r1.damaged));
        assert!(
            d.used_by.contains(&(1, "/big-text.txt".to_string())),
            "{name}: {:?}",
            d.used_by
        );
        if name != "solid" {
            assert_eq!(r1.damaged.len(), 1, "{name}: {:?}", r1.damaged);
        }
        // Reading the blob directly fails too.
        assert!(w.blob_data(&hash).is_err());
    }
}

#[test]
fn scan_health_reports_damaged_metadata() {
    let tmp = TempDir::new("scan-meta");
    let src = tmp.0.join("src");
    make_tree(&src, 1);
    let wim = tmp.0.join("m.wim");
    capture(&src, &wim, &["--compress=lzx"]);
    let mut bytes = std::fs::read(&wim).unwrap();
    let w = Wim::parse(&bytes).unwrap();
    let meta = *w.blob_table.metadata_blobs().next().unwrap();
    let BlobLocation::Resource(res) = meta.location else {
        panic!()
    };
    let at = (res.offset + res.stored_size / 2) as usize;
    bytes[at] ^= 0xFF;
    let w = Wim::parse(&bytes).unwrap();
    let r = scan_health(&w, None, &|_| {}).unwrap();
    let d = r.damaged.iter().find(|d| d.is_metadata).unwrap();
    assert_eq!(d.used_by, vec![(1, "image 1 metadata".to_string())]);
}
