//! Reads the metadata and XML of WIMs that wimlib-imagex captures from a tree made
//! here (every compression, solid, with and without `--unix-data`) and compares them
//! with the tree and with what `wimlib-imagex info`/`dir` report; then reads every image
//! of every WIM in the third-party corpus (`../shared/corpus`).
//!
//! Needs `wimlib-imagex`, `mkfifo`, and `setfattr` (Debian package `attr`) or python3 to
//! set extended attributes, and a file system with user xattrs: without them these
//! tests fail, they do not skip.

mod support;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use support::tmp::{capture, run, TempDir};

use wimkit::format::digest::sha1;
use wimkit::format::{Error, Image, Unsupported, Wim, WimXml};

/// Sets a user xattr with setfattr, or python3 when setfattr is missing.
fn set_xattr(path: &Path, name: &str, value: &str) {
    let setfattr = Command::new("setfattr")
        .args(["-n", name, "-v", value])
        .arg(path)
        .status();
    if matches!(setfattr, Ok(s) if s.success()) {
        return;
    }
    let py = format!(
        "import os,sys; os.setxattr(sys.argv[1], {name:?}, {value:?}.encode(), follow_symlinks=False)"
    );
    run(Command::new("python3").args(["-c", &py]).arg(path));
}

/// Xattrs set on the tree: path relative to the root -> name -> value.
type Xattrs = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

fn make_tree(root: &Path) -> Xattrs {
    let w = |p: &str, data: &[u8]| std::fs::write(root.join(p), data).unwrap();
    std::fs::create_dir_all(root.join("dir/sub/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::fs::create_dir_all(root.join("ünïcödé dir")).unwrap();
    w("hello.txt", b"hello, wim\n");
    w("empty", b"");
    let text: String = (0..20_000u32)
        .map(|i| format!("line {i} of text\n"))
        .collect();
    w("dir/big.txt", text.as_bytes());
    w("dir/sub/deeper/same-as-hello", b"hello, wim\n");
    w("ünïcödé dir/日本語 𝄞.bin", &[0, 1, 2, 3, 255]);
    w("mode600", b"secret");
    w("mode755", b"#!/bin/sh\n");
    std::fs::set_permissions(
        root.join("mode600"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("mode755"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::hard_link(root.join("dir/big.txt"), root.join("big-link")).unwrap();
    std::fs::hard_link(root.join("dir/big.txt"), root.join("dir/sub/big-link2")).unwrap();
    std::fs::hard_link(root.join("empty"), root.join("empty-link")).unwrap();
    std::os::unix::fs::symlink("../hello.txt", root.join("dir/rel-link")).unwrap();
    std::os::unix::fs::symlink("sub/deeper", root.join("dir/dir-link")).unwrap();
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("abs-inside")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname-nowhere", root.join("abs-outside")).unwrap();
    run(Command::new("mkfifo").arg(root.join("fifo")));
    let mut xattrs = Xattrs::new();
    for (p, n, v) in [
        ("hello.txt", "user.test", "value one"),
        ("hello.txt", "user.second", "2"),
        ("dir", "user.on-a-dir", "d"),
        ("mode600", "user.test", "x"),
    ] {
        set_xattr(&root.join(p), n, v);
        xattrs
            .entry(p.to_string())
            .or_default()
            .insert(n.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    xattrs
}

/// Every path under `root`, relative, with its lstat.
fn source_entries(root: &Path) -> BTreeMap<String, std::fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if md.is_dir() {
                stack.push(e.path());
            }
            out.insert(rel, md);
        }
    }
    out
}

/// `wimlib-imagex info`: per image, field -> value.
fn wimlib_info(wim: &Path) -> Vec<HashMap<String, String>> {
    let out = run(Command::new("wimlib-imagex").arg("info").arg(wim));
    let mut images = Vec::new();
    let mut in_images = false;
    for line in out.lines() {
        if line.starts_with("Available Images") {
            in_images = true;
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if !in_images {
            continue;
        }
        if k == "Index" {
            images.push(HashMap::new());
        }
        if let Some(m) = images.last_mut() {
            m.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    images
}

fn wimlib_dir(wim: &Path, image: u32) -> BTreeSet<String> {
    run(Command::new("wimlib-imagex")
        .arg("dir")
        .arg(wim)
        .arg(image.to_string()))
    .lines()
    .map(str::to_string)
    .collect()
}

/// Checks our XML against `wimlib-imagex info` and our trees against `dir`.
fn compare_with_wimlib(path: &Path, wim: &Wim<'_>, xml: &WimXml, images: &[Image]) {
    let info = wimlib_info(path);
    assert_eq!(info.len() as u32, wim.image_count(), "{path:?}");
    assert_eq!(xml.images.len(), info.len(), "{path:?}");
    for (i, theirs) in info.iter().enumerate() {
        let ours = xml.image(i as u32 + 1).unwrap();
        let num = |k: &str| theirs.get(k).and_then(|v| v.parse::<u64>().ok());
        assert_eq!(
            ours.name.clone().unwrap_or_default(),
            theirs["Name"],
            "{path:?}"
        );
        // wimlib shows 0 for a missing element.
        let z = |v: Option<u64>| Some(v.unwrap_or(0));
        assert_eq!(z(ours.dir_count), num("Directory Count"), "{path:?}");
        assert_eq!(z(ours.file_count), num("File Count"), "{path:?}");
        assert_eq!(z(ours.total_bytes), num("Total Bytes"), "{path:?}");
        assert_eq!(z(ours.hard_link_bytes), num("Hard Link Bytes"), "{path:?}");
        let paths: BTreeSet<String> = images[i].walk().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            wimlib_dir(path, i as u32 + 1),
            "{path:?} image {}",
            i + 1
        );
    }
}

fn check_capture(compress: &str, unix_data: bool) {
    let tmp = TempDir::new(compress);
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    let xattrs = make_tree(&src);
    let wim_path = tmp.0.join("x.wim");
    capture(&src, &wim_path, compress, unix_data);
    let bytes = std::fs::read(&wim_path).unwrap();
    let wim = Wim::parse(&bytes).unwrap();
    assert_eq!(wim.image_count(), 1);
    let xml = wim.xml().unwrap();
    assert_eq!(xml.images[0].index, Some(1));
    assert_eq!(xml.images[0].name.as_deref(), Some("test image"));
    let image = wim.image(1).unwrap();
    assert!(image.warnings.is_empty(), "{:?}", image.warnings);
    compare_with_wimlib(&wim_path, &wim, &xml, std::slice::from_ref(&image));

    let mut source = source_entries(&src);
    if !unix_data {
        // Without UNIX data there is no way to store a special file: wimlib skips it.
        source.remove("fifo");
    }
    let walked: BTreeMap<String, usize> = image
        .walk()
        .into_iter()
        .filter(|(p, _)| p != "/")
        .map(|(p, id)| (p[1..].to_string(), id))
        .collect();
    assert_eq!(
        walked.keys().collect::<Vec<_>>(),
        source.keys().collect::<Vec<_>>(),
        "paths ({compress})"
    );
    // Hard-link groups: same inode <=> same nonzero group.
    let mut group_of_inode: HashMap<u64, u64> = HashMap::new();
    for (rel, md) in &source {
        let node = image.node(walked[rel]);
        assert_eq!(rel.rsplit('/').next().unwrap(), node.name, "name of {rel}");
        let ft = md.file_type();
        if ft.is_file() {
            let data = std::fs::read(src.join(rel)).unwrap();
            let s = node.unnamed_data().expect("unnamed data stream");
            assert_eq!(s.size, Some(data.len() as u64), "size of {rel}");
            let want = if data.is_empty() {
                [0; 20]
            } else {
                sha1(&data)
            };
            assert_eq!(s.hash, want, "hash of {rel}");
            assert_eq!(wim.blob_data(&s.hash).unwrap(), data, "data of {rel}");
            if md.nlink() > 1 {
                assert_ne!(node.hard_link_group, 0, "{rel} is hard-linked");
                let g = *group_of_inode
                    .entry(md.ino())
                    .or_insert(node.hard_link_group);
                assert_eq!(g, node.hard_link_group, "group of {rel}");
            }
        }
        if ft.is_dir() {
            assert!(node.is_directory(), "{rel} is a directory");
        }
        if ft.is_symlink() {
            let original = std::fs::read_link(src.join(rel)).unwrap();
            let (link, target) = wim.link_target(node).unwrap().expect("a link");
            assert_eq!(link.is_relative(), !original.is_absolute(), "{rel}");
            let got = if target.fixed {
                format!("{}{}", src.display(), target.path)
            } else {
                target.path.clone()
            };
            assert_eq!(Path::new(&got), original, "target of {rel}");
        }
        match node.unix {
            Some(u) => {
                assert!(unix_data, "UNIX data without --unix-data on {rel}");
                assert_eq!(
                    (u.mode, u.uid, u.gid),
                    (md.mode(), md.uid(), md.gid()),
                    "{rel}"
                );
            }
            None => assert!(!unix_data, "no UNIX data on {rel}"),
        }
        let ours: BTreeMap<Vec<u8>, Vec<u8>> = node
            .xattrs
            .iter()
            .filter(|x| x.name.starts_with(b"user."))
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect();
        // wimlib captures Linux xattrs only in UNIX data mode.
        let inode_xattrs = xattrs
            .iter()
            .filter(|_| unix_data)
            .filter(|(p, _)| source[p.as_str()].ino() == md.ino())
            .flat_map(|(_, m)| m.clone())
            .collect::<BTreeMap<_, _>>();
        assert_eq!(
            ours, inode_xattrs,
            "xattrs of {rel} ({compress}, unix {unix_data})"
        );
    }
    let groups: BTreeSet<u64> = group_of_inode.values().copied().collect();
    assert_eq!(
        groups.len(),
        group_of_inode.len(),
        "distinct inodes, distinct groups"
    );
    if unix_data {
        let fifo = image.node(walked["fifo"]);
        assert_eq!(fifo.unix.unwrap().mode & 0o170000, 0o010000, "fifo mode");
    }
}

#[test]
fn capture_none() {
    check_capture("none", true);
    check_capture("none", false);
}

#[test]
fn capture_xpress() {
    check_capture("XPRESS", true);
    check_capture("XPRESS", false);
}

#[test]
fn capture_lzx() {
    check_capture("LZX", true);
    check_capture("LZX", false);
}

#[test]
fn capture_lzms() {
    check_capture("LZMS", true);
    check_capture("LZMS", false);
}

#[test]
fn capture_solid() {
    check_capture("solid", true);
    check_capture("solid", false);
}

#[test]
fn two_images_and_their_xml() {
    let tmp = TempDir::new("multi");
    let (a, b) = (tmp.0.join("a"), tmp.0.join("b"));
    std::fs::create_dir_all(a.join("only-in-a")).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("file"), b"bbb").unwrap();
    let path = tmp.0.join("m.wim");
    run(Command::new("wimlib-imagex")
        .arg("capture")
        .arg(&a)
        .arg(&path)
        .arg("first")
        .args(["--compress=XPRESS"]));
    run(Command::new("wimlib-imagex")
        .arg("append")
        .arg(&b)
        .arg(&path)
        .arg("second & <b>")
        .args(["--image-property", "DESCRIPTION=desc"]));
    let bytes = std::fs::read(&path).unwrap();
    let wim = Wim::parse(&bytes).unwrap();
    assert_eq!(wim.image_count(), 2);
    let xml = wim.xml().unwrap();
    assert_eq!(xml.image(2).unwrap().name.as_deref(), Some("second & <b>"));
    assert_eq!(xml.image(2).unwrap().description.as_deref(), Some("desc"));
    assert!(xml.image(1).unwrap().creation_time.unwrap() > 0x01D0_0000_0000_0000);
    let images = [wim.image(1).unwrap(), wim.image(2).unwrap()];
    assert!(images[0].lookup("/only-in-a").is_some());
    assert!(images[1].lookup("/file").is_some());
    assert!(matches!(
        wim.image(3),
        Err(Error::NoSuchImage { index: 3, count: 2 })
    ));
    assert!(matches!(wim.image(0), Err(Error::NoSuchImage { .. })));
    compare_with_wimlib(&path, &wim, &xml, &images);
}

/// Known-bad corpus files: (path, why).
const KNOWN_BAD: [&str; 3] = [
    // Damaged data, blob table and XML.
    "recursiveextractor/TestDataCorrupt.wim",
    // The manifest says only its integrity table is wrong, but its metadata resource's
    // compressed bytes are damaged too: wimlib-imagex dir fails to decompress it as well.
    "managedwimlib/VerifyFail.wim",
    // A part of a split set alone; split sets are refused by the container layer.
    "managedwimlib/Split.swm",
];

#[test]
fn corpus_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    assert!(dir.is_dir(), "the corpus is missing at {dir:?}");
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if ["wim", "swm", "esd", "ppkg"]
                .iter()
                .any(|x| p.extension().is_some_and(|e| e == *x))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 40, "{} corpus files", files.len());
    let mut checked = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        let read_all = || -> Result<(Wim<'_>, WimXml, Vec<Image>), Error> {
            let wim = Wim::parse(&bytes)?;
            let xml = wim.xml()?;
            let images = (1..=wim.image_count())
                .map(|i| wim.image(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((wim, xml, images))
        };
        let result = read_all();
        if KNOWN_BAD.contains(&rel.as_str()) {
            assert!(result.is_err(), "{rel} is known to be bad but read");
            continue;
        }
        if rel == "managedwimlib/Split2.swm" {
            // Part 2 of the split set: refused as a split set, not as damaged.
            assert!(
                matches!(
                    result,
                    Err(Error::Unsupported(Unsupported::SplitSet { .. }))
                ),
                "{rel}"
            );
            continue;
        }
        let (wim, xml, images) = result.unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(xml.images.len() as u32, wim.image_count(), "{rel}");
        for (i, image) in images.iter().enumerate() {
            assert!(
                image.warnings.is_empty(),
                "{rel} image {}: {:?}",
                i + 1,
                image.warnings
            );
            for node in &image.nodes {
                for s in &node.streams {
                    assert!(
                        s.size.is_some(),
                        "{rel}: stream of {:?} has no blob",
                        node.name
                    );
                }
            }
        }
        compare_with_wimlib(path, &wim, &xml, &images);
        checked += 1;
    }
    assert!(checked >= 40, "{checked} corpus files checked");
}
