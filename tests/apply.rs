//! Applies images that wimlib-imagex captures from a tree made here (every compression,
//! solid, with and without `--unix-data`) with `wim_format::apply` and compares the
//! result with the source tree and with what `wimlib-imagex apply` makes of the same WIM.
//!
//! Needs root (devices, owners, trusted.* xattrs), `wimlib-imagex`, `mkfifo`, `mknod`,
//! `setfattr`/`getfattr` (Debian package `attr`), `touch` and python3 (to make a
//! socket): without them these tests fail, they do not skip.

mod support;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use support::tmp::{capture, run, TempDir};
use support::tree::{compare, entries, make_tree, Checks};

use wimkit::format::apply::{apply_image, check_name, check_relative_path, ApplyOptions};
use wimkit::format::{Error, Wim};

fn wimlib_apply(wim: &Path, out: &Path, unix_data: bool) {
    let mut c = Command::new("wimlib-imagex");
    c.arg("apply").arg(wim).arg("1").arg(out);
    if unix_data {
        c.arg("--unix-data");
    }
    run(&mut c);
}

fn ours(wim_path: &Path, out: &Path, options: &ApplyOptions) -> wimkit::format::ApplyReport {
    let bytes = std::fs::read(wim_path).unwrap();
    let wim = Wim::parse(&bytes).unwrap();
    let mut last = (0, 0);
    let report = apply_image(&wim, 1, out, options, &mut |d, t| {
        assert!(d <= t, "progress {d} of {t}");
        last = (d, t);
    })
    .unwrap_or_else(|e| panic!("apply {wim_path:?}: {e}"));
    assert_eq!(last.0, last.1, "progress ends at the total");
    assert_eq!(last.0, report.bytes);
    report
}

fn check_codec(compress: &str) {
    let tmp = TempDir::new(compress);
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    let wim = tmp.0.join("x.wim");
    capture(&src, &wim, compress, true);

    for threads in [Some(1), None] {
        let out = tmp.0.join(format!("ours-{threads:?}"));
        let options = ApplyOptions {
            threads,
            ..ApplyOptions::default()
        };
        let report = ours(&wim, &out, &options);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.symlinks, 5);
        assert_eq!(report.special_files, 4);
        assert_eq!(report.hard_links, 4);
        let checks = Checks {
            unix: true,
            root: true,
        };
        compare(&src, &out, checks, &format!("{compress}: source vs ours"));
    }
    let theirs = tmp.0.join("wimlib");
    wimlib_apply(&wim, &theirs, true);
    let checks = Checks {
        unix: true,
        root: true,
    };
    compare(
        &theirs,
        &tmp.0.join("ours-None"),
        checks,
        &format!("{compress}: wimlib vs ours"),
    );

    // Without UNIX data on apply: default modes, our owner, special files as empty files.
    let plain = tmp.0.join("plain");
    let options = ApplyOptions {
        unix_data: false,
        ..ApplyOptions::default()
    };
    ours(&wim, &plain, &options);
    let theirs_plain = tmp.0.join("wimlib-plain");
    wimlib_apply(&wim, &theirs_plain, false);
    let checks = Checks {
        unix: true,
        root: false,
    };
    compare(
        &theirs_plain,
        &plain,
        checks,
        &format!("{compress}: no UNIX data"),
    );
    let md = std::fs::metadata(plain.join("mode600")).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o7000), (0, 0));
    assert!(std::fs::metadata(plain.join("fifo")).unwrap().is_file());
}

#[test]
fn apply_none() {
    check_codec("none");
}

#[test]
fn apply_xpress() {
    check_codec("XPRESS");
}

#[test]
fn apply_lzx() {
    check_codec("LZX");
}

#[test]
fn apply_lzms() {
    check_codec("LZMS");
}

#[test]
fn apply_solid() {
    check_codec("solid");
}

/// A capture without `--unix-data` applies with the default options.
#[test]
fn capture_without_unix_data() {
    let tmp = TempDir::new("nounix");
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    let wim = tmp.0.join("x.wim");
    capture(&src, &wim, "LZX", false);
    let out = tmp.0.join("ours");
    let report = ours(&wim, &out, &ApplyOptions::default());
    assert_eq!(report.special_files, 0);
    let theirs = tmp.0.join("wimlib");
    wimlib_apply(&wim, &theirs, false);
    let checks = Checks {
        unix: true,
        root: false,
    };
    compare(&theirs, &out, checks, "no UNIX data captured");
    for special in ["fifo", "chardev", "blockdev", "socket"] {
        assert!(!out.join(special).exists(), "{special}");
    }
    let umask_mode = |p: &str| std::fs::metadata(out.join(p)).unwrap().mode() & 0o7777;
    assert_eq!(umask_mode("suid") & 0o7000, 0);
    assert_eq!(
        std::fs::symlink_metadata(out.join("mode600"))
            .unwrap()
            .uid(),
        0
    );
    let _ = umask_mode("dir");
}

/// Entries already in the target are replaced, never written through: a symlink to a
/// file outside, a symlink to a directory outside and a hard link to a file outside.
#[test]
fn existing_entries_are_replaced_not_followed() {
    let tmp = TempDir::new("hostile");
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    let wim = tmp.0.join("x.wim");
    capture(&src, &wim, "XPRESS", true);

    let outside = tmp.0.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), b"do not touch").unwrap();
    std::fs::write(outside.join("linked"), b"do not touch either").unwrap();
    let out = tmp.0.join("out");
    std::fs::create_dir_all(out.join("empty-dir/keep")).unwrap();
    std::fs::write(out.join("unrelated"), b"stays").unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), out.join("hello.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), out.join("abs-inside")).unwrap();
    std::fs::hard_link(outside.join("linked"), out.join("mode600")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("ünïcödé dir")).unwrap();
    let before = entries(&outside);

    ours(&wim, &out, &ApplyOptions::default());

    let after = entries(&outside);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        std::fs::read(outside.join("victim")).unwrap(),
        b"do not touch"
    );
    assert_eq!(
        std::fs::read(outside.join("linked")).unwrap(),
        b"do not touch either"
    );
    assert_eq!(std::fs::read(out.join("unrelated")).unwrap(), b"stays");
    assert!(out.join("empty-dir/keep").is_dir());
    assert!(std::fs::symlink_metadata(out.join("dir")).unwrap().is_dir());
    assert_eq!(
        std::fs::read(out.join("hello.txt")).unwrap(),
        b"hello, wim\n"
    );
    assert_eq!(std::fs::read(out.join("mode600")).unwrap(), b"mode 600\n");
    assert_eq!(
        std::fs::read_link(out.join("abs-inside")).unwrap(),
        std::fs::canonicalize(&out).unwrap().join("hello.txt")
    );
}

/// A damaged blob fails the apply with an error naming the file.
#[test]
fn damaged_blob_names_the_file() {
    let tmp = TempDir::new("damaged");
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("fine"), b"fine\n").unwrap();
    std::fs::write(
        src.join("corrupt-me.txt"),
        b"UNIQUE-CONTENT-FOR-THE-CORRUPTION-TEST\n",
    )
    .unwrap();
    let wim = tmp.0.join("x.wim");
    capture(&src, &wim, "none", true);
    let mut bytes = std::fs::read(&wim).unwrap();
    let needle = b"UNIQUE-CONTENT";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at] ^= 0x20;
    let wim = Wim::parse(&bytes).unwrap();
    let err = apply_image(
        &wim,
        1,
        &tmp.0.join("out"),
        &ApplyOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    match &err {
        Error::FileData { path, source } => {
            assert_eq!(path, "/corrupt-me.txt");
            assert!(matches!(**source, Error::HashMismatch { .. }), "{source}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("corrupt-me.txt"), "{err}");
    assert!(
        !tmp.0.join("out/corrupt-me.txt").exists(),
        "no wrong file left"
    );
}

#[test]
fn containment_checks() {
    for bad in ["", ".", "..", "a/b", "a\0b"] {
        assert!(!check_name(bad), "{bad:?}");
    }
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        "a/.",
        "./a",
        "a/\0",
    ] {
        assert!(!check_relative_path(bad), "{bad:?}");
    }
    for good in ["a", "a/b/c", "...", "a\\..\\b", "ünï/日本"] {
        assert!(check_relative_path(good), "{good:?}");
    }
}

/// Applies `index` of an opened set with the facade API and compares with the source.
fn apply_set(set: &wimkit::SplitSet, index: u32, src: &Path, out: &Path, what: &str) {
    let wim = set.wim().unwrap_or_else(|e| panic!("{what}: {e}"));
    wimkit::apply_image(&wim, index, out, &ApplyOptions::default(), &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let checks = Checks {
        unix: true,
        root: true,
    };
    compare(src, out, checks, what);
}

#[test]
fn pipable_split_multi_image_and_integrity_wims_apply_identically() {
    let tmp = TempDir::new("kinds");
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    let wim = |name: &str| tmp.0.join(name);

    // Pipable, with an integrity table.
    run(Command::new("wimlib-imagex")
        .arg("capture")
        .arg(&src)
        .arg(wim("p.wim"))
        .args(["--pipable", "--unix-data", "--check"]));
    let set = wimkit::SplitSet::open(wim("p.wim"), None).unwrap();
    assert_eq!(
        set.wim().unwrap().check_integrity().unwrap(),
        wimkit::IntegrityStatus::Ok
    );
    apply_set(&set, 1, &src, &tmp.0.join("pipable"), "pipable");

    // Two images: the second one has an extra file.
    capture(&src, &wim("m.wim"), "LZX", true);
    let src2 = tmp.0.join("src2");
    run(Command::new("cp").arg("-a").arg(&src).arg(&src2));
    std::fs::write(src2.join("second-image-only.txt"), "only in image 2").unwrap();
    run(Command::new("wimlib-imagex")
        .arg("append")
        .arg(&src2)
        .arg(wim("m.wim"))
        .args(["second", "--unix-data"]));
    let set = wimkit::SplitSet::open(wim("m.wim"), None).unwrap();
    assert_eq!(set.wim().unwrap().image_count(), 2);
    apply_set(
        &set,
        1,
        &src,
        &tmp.0.join("multi-1"),
        "multi-image, image 1",
    );
    apply_set(
        &set,
        2,
        &src2,
        &tmp.0.join("multi-2"),
        "multi-image, image 2",
    );

    // Split into parts of about 100 KB, found by a pattern.
    run(Command::new("wimlib-imagex")
        .arg("split")
        .arg(wim("m.wim"))
        .arg(wim("s.swm"))
        .arg("0.1"));
    assert!(
        wim("s3.swm").exists(),
        "the split made at least three parts"
    );
    let pattern = tmp.0.join("s*.swm");
    let set = wimkit::SplitSet::open(wim("s.swm"), Some(pattern.to_str().unwrap())).unwrap();
    assert!(set.parts.len() >= 3);
    apply_set(&set, 2, &src2, &tmp.0.join("split-2"), "split set, image 2");
    // One part missing: an error that names what is missing, not a partial tree.
    std::fs::remove_file(wim("s2.swm")).unwrap();
    let err = wimkit::SplitSet::open(wim("s.swm"), Some(pattern.to_str().unwrap())).unwrap_err();
    assert!(err.to_string().contains('2'), "{err}");
}
