//! A source tree with every kind of entry a Linux capture meets, and the
//! comparison of two trees (contents, names, links, times, modes, owners,
//! devices, xattrs) that the apply and write tests judge results by.
//!
//! Needs root (devices, owners, trusted.* xattrs), `mkfifo`, `mknod`,
//! `setfattr`/`getfattr` (Debian package `attr`), `touch` and python3.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::tmp::run;

/// Deterministic bytes: random-looking with some repetition, so every codec compresses
/// them somewhat.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
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

pub const BASE_TIME: u64 = 981_173_106; // 2001-02-03

pub fn make_tree(root: &Path) {
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
pub fn entries(root: &Path) -> BTreeMap<String, std::fs::Metadata> {
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
pub fn xattrs(root: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
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
pub struct Checks {
    /// Modes, owners, devices, xattrs (UNIX data applied on both sides).
    pub unix: bool,
    /// Compare the root directory's metadata too.
    pub root: bool,
}

/// Compares the trees `a` and `b`: paths, types, contents, link targets (with each
/// root's absolute path taken as equal), hard links, times and, if asked, UNIX data.
/// Times of `a` are truncated to FILETIME's 100 ns.
pub fn compare(a: &Path, b: &Path, checks: Checks, what: &str) {
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
