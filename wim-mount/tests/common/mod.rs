//! Shared by the tests: a sample tree with every kind of file, captured by wimlib, and
//! a comparison of a tree against it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Deterministic bytes: compressible but not trivially (text-like runs and noise).
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    let words: [&[u8]; 6] = [
        b"wim ", b"chunk ", b"solid ", b"LZMS\n", b"xpress ", b"lzx\t",
    ];
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 3 == 0 {
            out.push((x >> 24) as u8);
        } else {
            out.extend_from_slice(words[(x % 6) as usize]);
        }
    }
    out.truncate(len);
    out
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {path:?} {name}: {e}"));
}

/// Makes the sample tree under `root` (which must not exist).
pub fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("dir/sub/deeper")).unwrap();
    fs::create_dir(root.join("empty dir")).unwrap();
    fs::create_dir(root.join("ünïcödé")).unwrap();
    fs::write(root.join("hello.txt"), b"hello, world\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("dir/big.bin"), data(1, 1_300_000)).unwrap();
    fs::write(root.join("dir/medium.bin"), data(2, 200_001)).unwrap();
    fs::write(root.join("dir/sub/small"), data(3, 5000)).unwrap();
    fs::write(root.join("dir/sub/deeper/exactly32k"), data(4, 32768)).unwrap();
    fs::write(root.join("ünïcödé/файл с пробелами"), data(5, 70_000)).unwrap();
    // Incompressible: chunks stored raw.
    let mut noise = Vec::with_capacity(100_000);
    let mut x = 0x1234_5678_9abc_def1u64;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push((x >> 32) as u8);
    }
    fs::write(root.join("dir/noise.bin"), noise).unwrap();
    fs::write(root.join("dup1"), data(6, 40_000)).unwrap();
    fs::write(root.join("dir/dup2"), data(6, 40_000)).unwrap();
    // Hard links.
    fs::write(root.join("linked"), data(7, 12_345)).unwrap();
    fs::hard_link(root.join("linked"), root.join("dir/linked too")).unwrap();
    // Symlinks (none pointing inside the tree, so no fixups apply).
    std::os::unix::fs::symlink("../hello.txt", root.join("dir/rel link")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("abs link")).unwrap();
    std::os::unix::fs::symlink("nowhere/at/all", root.join("dangling")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("dir/dir link")).unwrap();
    // Special files.
    run(Command::new("mkfifo").arg(root.join("fifo")));
    run(Command::new("mknod")
        .arg(root.join("null-dev"))
        .args(["c", "1", "3"]));
    // Modes and owners.
    fs::set_permissions(root.join("hello.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(
        root.join("dir/sub/small"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    fs::set_permissions(root.join("empty dir"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::lchown(root.join("dir/medium.bin"), Some(1234), Some(5678)).unwrap();
    std::os::unix::fs::lchown(root.join("abs link"), Some(42), Some(43)).unwrap();
    // Extended attributes.
    set_xattr(&root.join("hello.txt"), "user.greeting", b"hi there");
    set_xattr(&root.join("hello.txt"), "user.empty", b"");
    set_xattr(&root.join("dir"), "user.dir attr", &[0, 1, 2, 255]);
    set_xattr(&root.join("dir/big.bin"), "trusted.big", &data(8, 3000));
}

/// Captures `src` into `wim` with `--unix-data` and `extra` options.
pub fn capture(src: &Path, wim: &Path, extra: &[&str]) {
    run(Command::new("wimlib-imagex")
        .arg("capture")
        .arg(src)
        .arg(wim)
        .args(["--unix-data", "--norpfix"])
        .args(extra));
}

/// The capture variants tested: name and options.
pub const VARIANTS: [(&str, &[&str]); 5] = [
    ("none", &["--compress=none"]),
    ("xpress", &["--compress=xpress"]),
    ("lzx", &["--compress=lzx"]),
    ("lzms", &["--compress=lzms"]),
    (
        "solid",
        &["--solid", "--compress=lzms", "--solid-chunk-size=256K"],
    ),
];

/// What a tree holds at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub nlink: u64,
    pub link: Option<Vec<u8>>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    pub content: Option<Vec<u8>>,
    pub ino: u64,
}

fn xattrs_of(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap_or(0);
    let mut out = BTreeMap::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let mut v = vec![0u8; 65536];
        let k = rustix::fs::lgetxattr(path, OsStr::from_bytes(name), &mut v[..]).unwrap();
        v.truncate(k);
        out.insert(name.to_vec(), v);
    }
    out
}

/// Every entry of the tree at `root`, by path relative to it (`""` for the root).
pub fn scan(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        let m = fs::symlink_metadata(&full).unwrap();
        let ft = m.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_file() {
            'f'
        } else if ft.is_fifo() {
            'p'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else {
            's'
        };
        if ft.is_dir() {
            for e in fs::read_dir(&full).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
        }
        out.insert(
            rel.to_string_lossy().into_owned(),
            Entry {
                kind,
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                rdev: if kind == 'c' || kind == 'b' {
                    m.rdev()
                } else {
                    0
                },
                size: if kind == 'd' { 0 } else { m.size() },
                mtime: (m.mtime(), m.mtime_nsec()),
                nlink: if kind == 'd' { 0 } else { m.nlink() },
                link: ft.is_symlink().then(|| {
                    fs::read_link(&full)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec()
                }),
                xattrs: xattrs_of(&full),
                content: ft.is_file().then(|| fs::read(&full).unwrap()),
                ino: m.ino(),
            },
        );
    }
    out
}
