//! Applies images that wimlib-imagex captures from a tree made here (every compression,
//! solid, with and without `--unix-data`) with `wim_format::apply` and compares the
//! result with the source tree and with what `wimlib-imagex apply` makes of the same WIM.
//!
//! Needs root (devices, owners, trusted.* xattrs), `wimlib-imagex`, `mkfifo`, `mknod`,
//! `setfattr`/`getfattr` (Debian package `attr`), `touch` and python3 (to make a
//! socket): without them these tests fail, they do not skip.

mod support;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::tmp::{capture, run, TempDir};

use wimkit::format::apply::{apply_image, check_name, check_relative_path, ApplyOptions};
use wimkit::format::{Error, Wim};

/// Deterministic bytes: random-looking with some repetition, so every codec compresses
/// them somewhat.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if s % 3 == 0 {
            out.extend_from_slice(b"some repeated text ");
        } else {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

const BASE_TIME: u64 = 981_173_106; // 2001-02-03

fn make_tree(root: &Path) {
    let w = |p: &str, d: &[u8]| std::fs::write(root.join(p), d).unwrap();
    for d in ["dir/sub/deeper", "empty-dir", "ünïcödé dir", "owned-dir"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    w("hello.txt", b"hello, wim\n");
    w("empty", b"");
    w("dir/big.bin", &data(3 << 20, 1));
    w("dir/medium.txt", &data(300_000, 2));
    w("dir/sub/deeper/same-as-hello", b"hello, wim\n");
    w("dir/sub/same-as-medium", &data(300_000, 2));
    w("ünïcödé dir/日本語 𝄞.bin", &[0, 1, 2, 3, 255]);
    w(
        "corrupt-me.txt",
        b"UNIQUE-CONTENT-FOR-THE-CORRUPTION-TEST\n",
    );
    for (p, mode) in [("mode600", 0o600), ("mode755", 0o755), ("suid", 0o4755)] {
        w(p, format!("mode {mode:o}\n").as_bytes());
        std::fs::set_permissions(root.join(p), PermissionsExt::from_mode(mode)).unwrap();
    }
    std::fs::hard_link(root.join("dir/big.bin"), root.join("big-link")).unwrap();
    std::fs::hard_link(root.join("dir/big.bin"), root.join("dir/sub/big-link2")).unwrap();
    std::fs::hard_link(root.join("empty"), root.join("empty-link")).unwrap();
    std::fs::hard_link(root.join("hello.txt"), root.join("hello-link")).unwrap();
    std::os::unix::fs::symlink("../hello.txt", root.join("dir/rel-link")).unwrap();
    std::os::unix::fs::symlink("sub/deeper", root.join("dir/dir-link")).unwrap();
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("abs-inside")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname-nowhere", root.join("abs-outside")).unwrap();
    std::os::unix::fs::symlink("dangling", root.join("ünïcödé dir/dangling-link")).unwrap();
    run(Command::new("mkfifo").arg(root.join("fifo")));
    let sock = root.join("socket");
    run(Command::new("python3")
        .args([
            "-c",
            "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
        ])
        .arg(&sock));
    run(Command::new("mknod")
        .arg(root.join("chardev"))
        .args(["c", "1", "3"]));
    run(Command::new("mknod")
        .arg(root.join("blockdev"))
        .args(["b", "7", "200"]));
    for p in ["mode600", "owned-dir", "dir/medium.txt", "fifo"] {
        run(Command::new("chown").arg("1234:5678").arg(root.join(p)));
    }
    run(Command::new("chown")
        .args(["-h", "4321:8765"])
        .arg(root.join("dir/rel-link")));
    // chown clears set-user-id: set the suid file's owner first, then its mode again.
    run(Command::new("chown")
        .arg("1234:5678")
        .arg(root.join("suid")));
    std::fs::set_permissions(root.join("suid"), PermissionsExt::from_mode(0o4755)).unwrap();
    for (p, n, v) in [
        ("hello.txt", "user.test", "value one"),
        ("hello.txt", "user.second", "2"),
        ("dir", "user.on-a-dir", "d"),
        ("mode600", "user.test", "x"),
        ("dir/medium.txt", "trusted.wimkit", "trusted value"),
        ("dir/rel-link", "trusted.on-a-link", "l"),
    ] {
        run(Command::new("setfattr")
            .args(["-h", "-n", n, "-v", v])
            .arg(root.join(p)));
    }
    // Distinct past times with nanoseconds, children first (touching an entry does not
    // change its directory's times).
    let mut all: Vec<PathBuf> = entries(root).into_keys().map(|r| root.join(r)).collect();
    all.push(root.to_path_buf());
    for (i, p) in all.iter().enumerate() {
        let t = format!(
            "@{}.{:09}",
            BASE_TIME + i as u64 * 1000,
            123_456_789 + i as u64
        );
        run(Command::new("touch").args(["-h", "-d", &t]).arg(p));
    }
}

/// Every path under `root`, relative, with its lstat ("" is the root).
fn entries(root: &Path) -> BTreeMap<String, std::fs::Metadata> {
    let mut out = BTreeMap::new();
    out.insert(String::new(), std::fs::symlink_metadata(root).unwrap());
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            if md.is_dir() {
                stack.push(p);
            }
            out.insert(rel, md);
        }
    }
    out
}

/// `getfattr` of the whole tree: relative path -> name -> value.
fn xattrs(root: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let out = run(Command::new("getfattr")
        .args([
            "-R",
            "-P",
            "-h",
            "-d",
            "-m",
            "-",
            "-e",
            "hex",
            "--absolute-names",
        ])
        .arg(root));
    let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut cur = None;
    let prefix = root.to_str().unwrap();
    for line in out.lines() {
        if let Some(p) = line.strip_prefix("# file: ") {
            let rel = p.strip_prefix(prefix).unwrap().trim_start_matches('/');
            cur = Some(rel.to_string());
        } else if let Some((n, v)) = line.split_once('=') {
            if n == "security.selinux" {
                continue;
            }
            let rel = cur.clone().expect("a file before attributes");
            map.entry(rel).or_default().insert(n.into(), v.into());
        }
    }
    map
}

#[derive(Clone, Copy)]
struct Checks {
    /// Modes, owners, devices, xattrs (UNIX data applied on both sides).
    unix: bool,
    /// Compare the root directory's metadata too.
    root: bool,
}

/// Compares the trees `a` and `b`: paths, types, contents, link targets (with each
/// root's absolute path taken as equal), hard links, times and, if asked, UNIX data.
/// Times of `a` are truncated to FILETIME's 100 ns.
fn compare(a: &Path, b: &Path, checks: Checks, what: &str) {
    let (ea, eb) = (entries(a), entries(b));
    assert_eq!(
        ea.keys().collect::<Vec<_>>(),
        eb.keys().collect::<Vec<_>>(),
        "paths ({what})"
    );
    let mut inodes_a: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let mut inodes_b: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for (rel, ma) in &ea {
        let mb = &eb[rel];
        let ctx = format!("{rel:?} ({what})");
        let (ta, tb) = (ma.file_type(), mb.file_type());
        assert_eq!(
            (ta.is_file(), ta.is_dir(), ta.is_symlink(), ta.is_fifo()),
            (tb.is_file(), tb.is_dir(), tb.is_symlink(), tb.is_fifo()),
            "type of {ctx}"
        );
        assert_eq!(
            (ta.is_char_device(), ta.is_block_device(), ta.is_socket()),
            (tb.is_char_device(), tb.is_block_device(), tb.is_socket()),
            "type of {ctx}"
        );
        if ta.is_file() {
            assert_eq!(ma.len(), mb.len(), "size of {ctx}");
            assert!(
                std::fs::read(a.join(rel)).unwrap() == std::fs::read(b.join(rel)).unwrap(),
                "contents of {ctx}"
            );
            inodes_a.entry(ma.ino()).or_default().insert(rel);
            inodes_b.entry(mb.ino()).or_default().insert(rel);
        }
        if ta.is_symlink() {
            let norm = |root: &Path, p: PathBuf| {
                let s = p.to_str().unwrap().to_string();
                s.replace(root.to_str().unwrap(), "<ROOT>")
            };
            assert_eq!(
                norm(a, std::fs::read_link(a.join(rel)).unwrap()),
                norm(b, std::fs::read_link(b.join(rel)).unwrap()),
                "target of {ctx}"
            );
        }
        if rel.is_empty() && !checks.root {
            continue;
        }
        assert_eq!(ma.mtime(), mb.mtime(), "mtime of {ctx}");
        assert_eq!(
            ma.mtime_nsec() / 100 * 100,
            mb.mtime_nsec(),
            "mtime nanoseconds of {ctx}"
        );
        if checks.unix {
            assert_eq!(ma.mode(), mb.mode(), "mode of {ctx}");
            assert_eq!((ma.uid(), ma.gid()), (mb.uid(), mb.gid()), "owner of {ctx}");
            if ta.is_char_device() || ta.is_block_device() {
                assert_eq!(ma.rdev(), mb.rdev(), "rdev of {ctx}");
            }
        }
    }
    let pa: BTreeSet<_> = inodes_a.into_values().collect();
    let pb: BTreeSet<_> = inodes_b.into_values().collect();
    assert_eq!(pa, pb, "hard links ({what})");
    if checks.unix {
        assert_eq!(xattrs(a), xattrs(b), "xattrs ({what})");
    }
}

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
