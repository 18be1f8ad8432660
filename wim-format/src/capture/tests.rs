//! Capture → write → read back / apply (ours and wimlib's) → identical tree.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::unix::read_xattrs;
use super::*;
use crate::header::Compression;
use crate::write::writer::WriteOptions;
use crate::{apply_image, ApplyOptions, WimFile};

pub(crate) fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wimkit-w-{tag}-{}-{}",
        std::process::id(),
        crate::write::xml::now_filetime()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("command runs (wimlib-imagex must be installed)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sample tree: files, empty file, dirs, empty dir, hard links, relative and
/// absolute symlinks, a fifo, xattrs, duplicate content, a larger file.
pub(crate) fn sample_tree(root: &Path) {
    use std::fs;
    fs::create_dir_all(root.join("d/e")).unwrap();
    fs::create_dir_all(root.join("emptydir")).unwrap();
    fs::write(root.join("a"), b"hello\n").unwrap();
    fs::write(root.join("dup"), b"hello\n").unwrap();
    fs::write(root.join("d/e/deep"), b"deep file").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(root.join("d/big"), &big).unwrap();
    let rnd: Vec<u8> = (0..5_000_000u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect();
    fs::write(root.join("d/large"), &rnd).unwrap();
    fs::hard_link(root.join("a"), root.join("d/hl")).unwrap();
    std::os::unix::fs::symlink("a", root.join("rel")).unwrap();
    std::os::unix::fs::symlink("../d/e", root.join("d/reldir")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    rustix::fs::setxattr(
        root.join("a").as_path(),
        "user.test",
        b"value",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let mut p = fs::metadata(root.join("d/e/deep")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o600);
    fs::set_permissions(root.join("d/e/deep"), p).unwrap();
}

/// Everything about a tree that capture and apply must keep.
pub(crate) fn describe(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = root.join(&rel);
        let md = std::fs::symlink_metadata(&path).unwrap();
        let ft = md.file_type();
        let mut d = format!(
            "mode={:o} uid={} gid={} mtime={}",
            md.mode(),
            md.uid(),
            md.gid(),
            if ft.is_symlink() {
                0
            } else {
                md.mtime() * 10_000_000 + md.mtime_nsec() / 100
            }
        );
        if ft.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            for n in names {
                stack.push(rel.join(n));
            }
        } else if ft.is_symlink() {
            d += &format!(" link={}", std::fs::read_link(&path).unwrap().display());
        } else if ft.is_file() {
            let data = std::fs::read(&path).unwrap();
            d += &format!(" sha1={:02x?}", crate::digest::sha1(&data));
            if md.nlink() > 1 {
                let first = inodes.entry(md.ino()).or_insert(rel.display().to_string());
                d += &format!(" linked-with={first}");
            }
        }
        if !ft.is_symlink() {
            let mut xs = read_xattrs(&path).unwrap();
            xs.retain(|x| x.name.starts_with(b"user."));
            for x in xs {
                d += &format!(
                    " xattr {}={}",
                    String::from_utf8_lossy(&x.name),
                    String::from_utf8_lossy(&x.value)
                );
            }
        }
        out.insert(format!("/{}", rel.display()), d);
    }
    out
}

fn assert_same(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
    let mut diffs = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            Some(w) if w == v => {}
            other => diffs.push(format!("{k}: {v} vs {other:?}")),
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            diffs.push(format!("{k}: only in the second tree"));
        }
    }
    assert!(diffs.is_empty(), "trees differ:\n{}", diffs.join("\n"));
}

fn opts() -> CaptureOptions {
    CaptureOptions {
        name: Some("test".into()),
        ..Default::default()
    }
}

fn apply_ours(wim: &Path, index: u32, to: &Path) {
    let f = WimFile::open(wim).unwrap();
    let w = f.wim().unwrap();
    let r = apply_image(&w, index, to, &ApplyOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

fn check_written(wim: &Path, src: &Path, dir: &Path, index: u32) {
    let want = describe(src);
    run(Command::new("wimlib-imagex").arg("verify").arg(wim));
    let ours = dir.join(format!("ours{index}"));
    apply_ours(wim, index, &ours);
    assert_same(&want, &describe(&ours));
    let theirs = dir.join(format!("wimlib{index}"));
    run(Command::new("wimlib-imagex")
        .arg("apply")
        .arg(wim)
        .arg(index.to_string())
        .arg(&theirs)
        .arg("--unix-data"));
    assert_same(&want, &describe(&theirs));
}

#[test]
fn capture_round_trips_every_compression() {
    let dir = tmpdir("cap");
    let src = dir.join("src");
    sample_tree(&src);
    for (i, wo) in [
        WriteOptions::new(Compression::None),
        WriteOptions::new(Compression::Xpress),
        WriteOptions {
            integrity: true,
            threads: Some(2),
            ..WriteOptions::new(Compression::Lzx)
        },
        WriteOptions::recovery(),
    ]
    .into_iter()
    .enumerate()
    {
        let wim = dir.join(format!("t{i}.wim"));
        let r = create_wim(&wim, &src, &opts(), &wo, &mut |_| {}).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        // XML counts as wimlib computes them.
        assert_eq!(r.counts.dir_count, 4, "{r:?}");
        assert_eq!(r.counts.hard_link_bytes, 6);
        let f = WimFile::open(&wim).unwrap();
        let w = f.wim().unwrap();
        assert_eq!(
            w.header.compression,
            if wo.solid {
                Compression::Lzms
            } else {
                wo.compression
            }
        );
        let x = w.xml().unwrap();
        assert_eq!(x.images[0].name.as_deref(), Some("test"));
        assert_eq!(x.images[0].file_count, Some(r.counts.file_count));
        if wo.integrity {
            assert_eq!(w.check_integrity().unwrap(), crate::IntegrityStatus::Ok);
        }
        // Duplicate content is stored once.
        let img = w.image(1).unwrap();
        let a = img
            .node(img.lookup("/a").unwrap())
            .unnamed_data()
            .unwrap()
            .hash;
        let dup = img
            .node(img.lookup("/dup").unwrap())
            .unnamed_data()
            .unwrap()
            .hash;
        assert_eq!(a, dup);
        let (_, t) = w
            .link_target(img.node(img.lookup("/abs").unwrap()))
            .unwrap()
            .unwrap();
        assert_eq!(t.path, "/etc/passwd");
        check_written(&wim, &src, &dir.join(format!("out{i}")), 1);
        // Mode: never world-writable.
        assert_eq!(std::fs::metadata(&wim).unwrap().mode() & 0o002, 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn append_then_interrupted_append() {
    let dir = tmpdir("app");
    let src = dir.join("src");
    sample_tree(&src);
    let src2 = dir.join("src2");
    std::fs::create_dir_all(&src2).unwrap();
    std::fs::write(src2.join("new"), b"new content").unwrap();
    std::fs::write(src2.join("a"), b"hello\n").unwrap();
    let wim = dir.join("t.wim");
    let wo = WriteOptions::new(Compression::Lzx);
    create_wim(&wim, &src, &opts(), &wo, &mut |_| {}).unwrap();
    let before = std::fs::read(&wim).unwrap();
    // Interrupted append: everything but the header.
    {
        let file = WimFile::read(&wim).unwrap();
        let w = file.wim().unwrap();
        let mut ww = WimWriter::in_place(&wim, &w, &wo).unwrap();
        capture_image(&mut ww, &src2, &opts(), &mut |_| {}).unwrap();
        ww.finish_without_header().unwrap();
    }
    let after = std::fs::read(&wim).unwrap();
    assert!(after.len() > before.len());
    assert_eq!(&after[..before.len()], &before[..]);
    run(Command::new("wimlib-imagex").arg("verify").arg(&wim));
    check_written(&wim, &src, &dir.join("o1"), 1);
    // A real append.
    let mut o2 = opts();
    o2.name = Some("second".into());
    append_image(
        &wim,
        &src2,
        &o2,
        &WriteOptions {
            integrity: true,
            ..wo.clone()
        },
        &mut |_| {},
    )
    .unwrap();
    let f = WimFile::open(&wim).unwrap();
    let w = f.wim().unwrap();
    assert_eq!(w.image_count(), 2);
    assert_eq!(w.xml().unwrap().images[1].name.as_deref(), Some("second"));
    assert_eq!(w.check_integrity().unwrap(), crate::IntegrityStatus::Ok);
    drop(f);
    check_written(&wim, &src, &dir.join("o2"), 1);
    check_written(&wim, &src2, &dir.join("o3"), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn counts_match_wimlib_and_ops_work() {
    use crate::write::{delete_image, export_images, optimize, split, ExportOptions};
    let dir = tmpdir("ops");
    let src = dir.join("src");
    sample_tree(&src);
    std::fs::remove_file(src.join("d/large")).unwrap();
    let theirs = dir.join("theirs.wim");
    run(Command::new("wimlib-imagex")
        .arg("capture")
        .arg(&src)
        .arg(&theirs)
        .arg("--unix-data"));
    let wim = dir.join("t.wim");
    let wo = WriteOptions::new(Compression::Xpress);
    create_wim(&wim, &src, &opts(), &wo, &mut |_| {}).unwrap();
    let (a, b) = (
        WimFile::open(&theirs).unwrap(),
        WimFile::open(&wim).unwrap(),
    );
    let (xa, xb) = (
        a.wim().unwrap().xml().unwrap(),
        b.wim().unwrap().xml().unwrap(),
    );
    let (ia, ib) = (&xa.images[0], &xb.images[0]);
    assert_eq!(
        (
            ia.dir_count,
            ia.file_count,
            ia.total_bytes,
            ia.hard_link_bytes
        ),
        (
            ib.dir_count,
            ib.file_count,
            ib.total_bytes,
            ib.hard_link_bytes
        )
    );
    drop((a, b));
    // Append a second image, delete the first: the second remains intact.
    let mut o2 = opts();
    o2.name = Some("two".into());
    append_image(&wim, &src, &o2, &wo, &mut |_| {}).unwrap();
    delete_image(&wim, 1, &wo).unwrap();
    {
        let f = WimFile::open(&wim).unwrap();
        let w = f.wim().unwrap();
        assert_eq!(w.image_count(), 1);
        assert_eq!(w.xml().unwrap().images[0].name.as_deref(), Some("two"));
        assert_eq!(w.xml().unwrap().images[0].index, Some(1));
    }
    check_written(&wim, &src, &dir.join("del"), 1);
    // Optimize shrinks it and keeps it readable.
    let before = std::fs::metadata(&wim).unwrap().len();
    optimize(&wim, &wo, false).unwrap();
    assert!(std::fs::metadata(&wim).unwrap().len() < before);
    check_written(&wim, &src, &dir.join("opt"), 1);
    // Export (raw copy, and recompress to solid) and split + join through export.
    let f = WimFile::open(&wim).unwrap();
    let w = f.wim().unwrap();
    let e1 = dir.join("e1.wim");
    export_images(
        &w,
        &[1],
        &e1,
        &ExportOptions {
            write: wo.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    check_written(&e1, &src, &dir.join("e1"), 1);
    let esd = dir.join("e.esd");
    export_images(
        &w,
        &[1],
        &esd,
        &ExportOptions {
            write: WriteOptions::recovery(),
            ..Default::default()
        },
    )
    .unwrap();
    check_written(&esd, &src, &dir.join("esd"), 1);
    // Export into an existing WIM appends.
    export_images(
        &w,
        &[1],
        &e1,
        &ExportOptions {
            name: Some("copy".into()),
            ..Default::default()
        },
    )
    .unwrap();
    check_written(&e1, &src, &dir.join("e1b"), 2);
    let parts = split(&w, &dir.join("s.swm"), 3_000, true).unwrap();
    assert!(parts.len() > 1, "{parts:?}");
    let glob = dir.join("s*.swm");
    run(Command::new("wimlib-imagex")
        .arg("verify")
        .arg(&parts[0])
        .arg(format!("--ref={}", glob.display())));
    let set = crate::SplitSet::open(&parts[0], Some("s*.swm")).unwrap();
    let joined_wim = set.wim().unwrap();
    let joined = dir.join("joined.wim");
    export_images(&joined_wim, &[1], &joined, &ExportOptions::default()).unwrap();
    check_written(&joined, &src, &dir.join("join"), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Solid streams take file data grouped by extension, then by name, ignoring case;
/// data without a file name (reparse data) first, files without an extension next.
#[test]
fn solid_order_groups_by_extension() {
    let names = [
        Some("z.txt"),
        Some("a.bin"),
        Some("m"),
        Some("B.TXT"),
        Some(".cfg"),
        None,
        Some("c.txt"),
        Some("K"),
    ];
    let order: Vec<Option<&str>> = crate::write::writer::solid_order(&names)
        .into_iter()
        .map(|i| names[i])
        .collect();
    assert_eq!(
        order,
        [
            None,
            Some("K"),
            Some("m"),
            Some("a.bin"),
            Some(".cfg"),
            Some("B.TXT"),
            Some("c.txt"),
            Some("z.txt")
        ]
    );
}
