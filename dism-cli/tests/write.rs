//! The writing commands end to end, judged by the peers: every file dism
//! writes must pass `wimlib-imagex verify` and `7zz t`, and `wimlib-imagex
//! apply --unix-data` must give back the captured tree exactly (contents,
//! names, hard links, symlinks, times, modes, owners, devices, fifos, xattrs).
//!
//! Needs root, wimlib-imagex, 7zz and the tools `support::tree` lists; a
//! missing tool fails the test.

#[path = "../../tests/support"]
mod support {
    pub mod tmp;
    pub mod tree;
}

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::tmp::{run, xorshift_bytes, TempDir};
use support::tree::{compare, data, make_tree, Checks};

const FULL: Checks = Checks {
    unix: true,
    root: true,
};

fn dism(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dism"))
        .arg("/LogPath:/tmp/wimkit-write-test.log")
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run dism")
}

/// Runs dism and requires success, returning its standard output.
fn dism_ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let o = dism(args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "dism {:?} failed ({:?}):\n{out}{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("The operation completed successfully."),
        "{out}"
    );
    out
}

fn opt(name: &str, value: impl AsRef<Path>) -> String {
    format!("/{name}:{}", value.as_ref().display())
}

fn wimlib(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    run(Command::new("wimlib-imagex").args(args.iter().map(|a| a.as_ref())))
}

/// The peers' checks of a finished file: wimlib's full verify and 7-Zip's test.
fn peers_accept(wim: &Path) {
    let v = wimlib(&[&"verify", &wim]);
    assert!(v.contains("successfully verified"), "{v}");
    run(Command::new("7zz").arg("t").arg(wim));
}

/// `wimlib-imagex info` of the whole file: field -> value of the header part.
fn wim_info(wim: &Path) -> String {
    wimlib(&[&"info", &wim])
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The source tree of the capture tests, in `dir/src`.
fn source(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    src
}

fn wimlib_apply(wim: &Path, index: u32, out: &Path) {
    wimlib(&[&"apply", &wim, &index.to_string(), &out, &"--unix-data"]);
}

fn capture_and_check(compress: &str, file: &str, wimlib_compression: &str) {
    let tmp = TempDir::new(&format!("capture-{compress}"));
    let src = source(&tmp.0);
    let wim = tmp.0.join(file);
    let out = dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &wim),
        &opt("CaptureDir", &src),
        &"/Name:first image",
        &"/Description:a tree with everything",
        &format!("/Compress:{compress}"),
        &"/CheckIntegrity",
        &"/Verify",
    ]);
    assert!(out.contains("Saving image"), "{out}");
    let mode = std::fs::metadata(&wim).unwrap().permissions().mode();
    assert_eq!(mode & 0o002, 0, "world-writable image file: {mode:o}");

    peers_accept(&wim);
    let info = wim_info(&wim);
    assert_eq!(
        field(&info, "Compression"),
        Some(wimlib_compression),
        "{info}"
    );
    assert_eq!(field(&info, "Image Count"), Some("1"));
    assert_eq!(field(&info, "Name"), Some("first image"));
    assert_eq!(field(&info, "Description"), Some("a tree with everything"));
    if compress == "recovery" {
        assert_eq!(
            field(&info, "Version"),
            Some("3584"),
            "solid: version 0xE00"
        );
    }
    // wimlib checks the integrity table whenever there is one, and warns when not.
    let o = Command::new("wimlib-imagex")
        .arg("verify")
        .arg(&wim)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !said.contains("integrity"), "{said}");

    let theirs = tmp.0.join("wimlib-apply");
    wimlib_apply(&wim, 1, &theirs);
    compare(
        &src,
        &theirs,
        FULL,
        &format!("{compress}: source vs wimlib's apply"),
    );

    let ours = tmp.0.join("our-apply");
    dism_ok(&[
        &"/Apply-Image",
        &opt("ImageFile", &wim),
        &"/Index:1",
        &opt("ApplyDir", &ours),
    ]);
    compare(
        &src,
        &ours,
        FULL,
        &format!("{compress}: source vs our apply"),
    );

    // The XML counts as wimlib computes them.
    let image = wimlib(&[&"info", &wim, &"1"]);
    let reference = tmp.0.join("reference.wim");
    wimlib(&[&"capture", &src, &reference, &"ref", &"--unix-data"]);
    let expected = wimlib(&[&"info", &reference, &"1"]);
    for name in [
        "Directory Count",
        "File Count",
        "Total Bytes",
        "Hard Link Bytes",
    ] {
        assert_eq!(field(&image, name), field(&expected, name), "{name}");
    }
    // Duplicate contents stored once, as wimlib stores them (solid streams too,
    // where only blobs of equal size are hashed before streaming).
    let blobs = |w: &Path| {
        let listing = wimlib(&[&"info", &w, &"--blobs"]);
        // Data blobs only: the metadata resources differ in bytes, not in meaning.
        let data: Vec<String> = listing
            .split("\n\n")
            .filter(|r| !r.contains("METADATA"))
            .filter_map(|r| {
                r.lines()
                    .find_map(|l| l.strip_prefix("Hash"))
                    .map(|h| h.trim().to_owned())
            })
            .collect();
        let hashes: std::collections::BTreeSet<String> = data.iter().cloned().collect();
        assert_eq!(hashes.len(), data.len(), "a blob stored twice:\n{listing}");
        hashes
    };
    let (mine, reference_blobs) = (blobs(&wim), blobs(&reference));
    assert!(mine.len() > 5, "{mine:?}");
    assert_eq!(
        mine, reference_blobs,
        "{compress}: blobs differ from wimlib's capture"
    );
}

#[test]
fn capture_none() {
    capture_and_check("none", "x.wim", "None");
}

#[test]
fn capture_fast() {
    capture_and_check("fast", "x.wim", "XPRESS");
}

#[test]
fn capture_max() {
    capture_and_check("max", "x.wim", "LZX");
}

#[test]
fn capture_lzms() {
    capture_and_check("lzms", "x.wim", "LZMS");
}

#[test]
fn capture_recovery() {
    capture_and_check("recovery", "x.esd", "LZMS");
}

/// A second, partly overlapping tree for append and export.
/// `/ConfigFile` keeps and drops the same paths as wimlib's `--config` with the
/// same WimScript.ini, exceptions inside excluded directories included. (Names
/// differ from the patterns only in case: DISM ignores case, wimlib on Linux
/// does not, so the tree avoids that.)
#[test]
fn capture_config_matches_wimlib() {
    let tmp = TempDir::new("capture-config");
    let src = tmp.0.join("t");
    for dir in ["data/sub", "data/keepdir/inner", "logs/deep"] {
        std::fs::create_dir_all(src.join(dir)).unwrap();
    }
    for (i, file) in [
        "data/a.log",
        "data/keep.log",
        "data/sub/s.txt",
        "data/keepdir/inner/i.txt",
        "logs/deep/x.tmp",
        "logs/y.txt",
        "other.txt",
        "pagefile.sys",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(src.join(file), data(100 + i, i as u64)).unwrap();
    }
    let listing = |wim: &Path| wimlib(&[&"dir", &wim, &"1"]);
    let configs = [
        "[ExclusionList]\n\\data\n[ExclusionException]\n\\data\\keep.log\n\\data\\keepdir\n",
        "[ExclusionList]\n\\data\n*.tmp\n[ExclusionException]\n*.log\n",
        "[ExclusionList]\n\\data\n[ExclusionException]\n\\data\\*.log\n",
        "[ExclusionList]\n*.txt\n[ExclusionException]\n\\data\\keepdir\n\\logs\n",
    ];
    for (i, text) in configs.iter().enumerate() {
        let ini = tmp.0.join(format!("c{i}.ini"));
        std::fs::write(&ini, text).unwrap();
        let (ours, theirs) = (
            tmp.0.join(format!("o{i}.wim")),
            tmp.0.join(format!("t{i}.wim")),
        );
        dism_ok(&[
            &"/Capture-Image",
            &opt("ImageFile", &ours),
            &opt("CaptureDir", &src),
            &"/Name:c",
            &opt("ConfigFile", &ini),
        ]);
        wimlib(&[
            &"capture",
            &src,
            &theirs,
            &"c",
            &format!("--config={}", ini.display()),
        ]);
        let expected = listing(&theirs);
        assert!(expected.lines().count() > 2, "{expected}");
        assert_eq!(listing(&ours), expected, "config {i}:\n{text}");
    }
}

/// `/WIMBoot` against wimlib's `--wimboot`: XPRESS in 4 KiB chunks, the
/// image marked, and the exclusions of the tree's own WimBootCompress.ini
/// (which replace DISM's defaults: pagefile.sys stays). Export and append
/// mark the images they add, and only those.
#[test]
fn wimboot_matches_wimlib() {
    let tmp = TempDir::new("wimboot");
    let src = tmp.0.join("t");
    std::fs::create_dir_all(src.join("Windows/System32")).unwrap();
    std::fs::create_dir_all(src.join("data/sub")).unwrap();
    std::fs::write(
        src.join("Windows/System32/WimBootCompress.ini"),
        "[ExclusionList]\n\\data\\excluded.txt\n*.skip\n\n[CompressionExclusionList]\n*.zip\n\n\
         [PrepopulateList]\n\\Windows\\System32\\*.dll\n",
    )
    .unwrap();
    for (i, file) in [
        "data/excluded.txt",
        "data/kept.txt",
        "data/sub/a.skip",
        "data/sub/b.zip",
        "data/sub/big.bin",
        "Windows/System32/k.dll",
        "pagefile.sys",
    ]
    .iter()
    .enumerate()
    {
        let len = if file.ends_with(".bin") {
            300_000
        } else {
            5000 + i
        };
        std::fs::write(src.join(file), data(len, i as u64)).unwrap();
    }
    let (ours, theirs) = (tmp.0.join("o.wim"), tmp.0.join("t.wim"));
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &ours),
        &opt("CaptureDir", &src),
        &"/Name:wb",
        &"/WIMBoot",
    ]);
    wimlib(&[&"capture", &src, &theirs, &"wb", &"--wimboot"]);
    peers_accept(&ours);
    // The file's compression and chunk size, and the image's mark.
    let marks = |wim: &Path, image: u32| {
        let header = wim_info(wim);
        let info = wimlib(&[&"info", &wim, &image.to_string()]);
        (
            field(&header, "Compression").map(str::to_string),
            field(&header, "Chunk Size").map(str::to_string),
            field(&info, "WIMBoot compatible").map(str::to_string),
        )
    };
    let wimboot = (
        Some("XPRESS".to_string()),
        Some("4096 bytes".to_string()),
        Some("yes".to_string()),
    );
    assert_eq!(marks(&theirs, 1), wimboot);
    assert_eq!(marks(&ours, 1), wimboot);
    let listing = |wim: &Path| wimlib(&[&"dir", &wim, &"1"]);
    let expected = listing(&theirs);
    assert!(expected.contains("/pagefile.sys") && !expected.contains("excluded"));
    assert_eq!(listing(&ours), expected);

    // A plain capture, then an exported and an appended WIMBoot image.
    let plain = tmp.0.join("plain.wim");
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &plain),
        &opt("CaptureDir", &src),
        &"/Name:plain",
    ]);
    let unmarked = (
        Some("XPRESS".to_string()),
        Some("32768 bytes".to_string()),
        Some("no".to_string()),
    );
    assert_eq!(marks(&plain, 1), unmarked);
    let exported = tmp.0.join("e.wim");
    dism_ok(&[
        &"/Export-Image",
        &opt("SourceImageFile", &plain),
        &"/SourceIndex:1",
        &opt("DestinationImageFile", &exported),
        &"/WIMBoot",
    ]);
    peers_accept(&exported);
    assert_eq!(marks(&exported, 1), wimboot);
    dism_ok(&[
        &"/Append-Image",
        &opt("ImageFile", &plain),
        &opt("CaptureDir", &src),
        &"/Name:second",
        &"/WIMBoot",
    ]);
    peers_accept(&plain);
    assert_eq!(marks(&plain, 1), unmarked);
    assert_eq!(marks(&plain, 2).2.as_deref(), Some("yes"));
}

fn second_tree(dir: &Path, src: &Path) -> PathBuf {
    let second = dir.join("second");
    std::fs::create_dir_all(second.join("more")).unwrap();
    std::fs::copy(src.join("dir/big.bin"), second.join("more/big-copy.bin")).unwrap();
    std::fs::write(second.join("new.txt"), data(50_000, 77)).unwrap();
    second
}

#[test]
fn append_export_delete_optimize() {
    let tmp = TempDir::new("append");
    let src = source(&tmp.0);
    let wim = tmp.0.join("x.wim");
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &wim),
        &opt("CaptureDir", &src),
        &"/Name:one",
        &"/Compress:max",
    ]);
    let before = std::fs::metadata(&wim).unwrap().len();
    let second = second_tree(&tmp.0, &src);
    dism_ok(&[
        &"/Append-Image",
        &opt("ImageFile", &wim),
        &opt("CaptureDir", &second),
        &"/Name:two",
    ]);
    peers_accept(&wim);
    let info = wim_info(&wim);
    assert_eq!(field(&info, "Image Count"), Some("2"));
    assert_eq!(field(&info, "Compression"), Some("LZX"), "append keeps LZX");
    // big-copy.bin is deduplicated against the first image's big.bin.
    let grown = std::fs::metadata(&wim).unwrap().len() - before;
    assert!(grown < 200_000, "append grew the file by {grown} bytes");
    for (index, tree) in [(1, &src), (2, &second)] {
        let out = tmp.0.join(format!("apply-{index}"));
        wimlib_apply(&wim, index, &out);
        compare(tree, &out, FULL, &format!("appended image {index}"));
    }

    // Export image 2 to a new ESD (recompressed) and image 1 to a new WIM.
    let esd = tmp.0.join("two.esd");
    dism_ok(&[
        &"/Export-Image",
        &opt("SourceImageFile", &wim),
        &"/SourceIndex:2",
        &opt("DestinationImageFile", &esd),
        &"/Compress:recovery",
    ]);
    peers_accept(&esd);
    assert_eq!(field(&wim_info(&esd), "Version"), Some("3584"));
    // Each export puts its new blobs in one solid resource (not one per blob).
    let solid_resources = |w: &Path| {
        let listing = wimlib(&[&"info", &w, &"--blobs"]);
        let resources: std::collections::BTreeSet<String> = listing
            .lines()
            .filter(|l| l.starts_with("Solid resource"))
            .map(str::to_owned)
            .collect();
        resources.len()
    };
    assert_eq!(solid_resources(&esd), 1);
    let out = tmp.0.join("apply-esd");
    wimlib_apply(&esd, 1, &out);
    compare(&second, &out, FULL, "exported to ESD");

    // Export image 1 into the ESD (an existing file): it keeps its compression.
    dism_ok(&[
        &"/Export-Image",
        &opt("SourceImageFile", &wim),
        &"/SourceName:one",
        &opt("DestinationImageFile", &esd),
        &"/DestinationName:one again",
    ]);
    peers_accept(&esd);
    assert!(solid_resources(&esd) <= 2);
    let info = wim_info(&esd);
    assert_eq!(field(&info, "Image Count"), Some("2"));
    let out = tmp.0.join("apply-esd-2");
    wimlib_apply(&esd, 2, &out);
    compare(&src, &out, FULL, "exported into an existing ESD");

    // Delete image 1: metadata and XML only, the file does not shrink.
    let size = std::fs::metadata(&wim).unwrap().len();
    dism_ok(&[&"/Delete-Image", &opt("ImageFile", &wim), &"/Index:1"]);
    peers_accept(&wim);
    let info = wim_info(&wim);
    assert_eq!(field(&info, "Image Count"), Some("1"));
    assert_eq!(field(&info, "Name"), Some("two"));
    assert!(std::fs::metadata(&wim).unwrap().len() >= size - 4096);

    // Optimize drops what only image 1 used.
    dism_ok(&[&"/Optimize-Image", &opt("ImageFile", &wim)]);
    peers_accept(&wim);
    let optimized = std::fs::metadata(&wim).unwrap().len();
    // As small as a fresh capture of what image 2 holds.
    let fresh = tmp.0.join("fresh.wim");
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &fresh),
        &opt("CaptureDir", &second),
        &"/Name:two",
        &"/Compress:max",
    ]);
    let fresh = std::fs::metadata(&fresh).unwrap().len();
    assert!(
        optimized < size && optimized <= fresh + fresh / 50,
        "{size} -> {optimized} bytes; a fresh capture takes {fresh}"
    );
    let out = tmp.0.join("apply-optimized");
    wimlib_apply(&wim, 1, &out);
    compare(&second, &out, FULL, "optimized");

    // Optimize can recompress.
    dism_ok(&[
        &"/Optimize-Image",
        &opt("ImageFile", &wim),
        &"/Compress:fast",
    ]);
    peers_accept(&wim);
    assert_eq!(field(&wim_info(&wim), "Compression"), Some("XPRESS"));
}

#[test]
fn split_and_join() {
    let tmp = TempDir::new("split");
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..6 {
        // Incompressible, so that parts really fill up.
        std::fs::write(src.join(format!("f{i}")), xorshift_bytes(700_000, i + 1)).unwrap();
    }
    std::fs::write(src.join("big"), xorshift_bytes(3 << 20, 99)).unwrap();
    let wim = tmp.0.join("x.wim");
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &wim),
        &opt("CaptureDir", &src),
        &"/Name:split me",
    ]);
    let swm = tmp.0.join("parts.swm");
    dism_ok(&[
        &"/Split-Image",
        &opt("ImageFile", &wim),
        &opt("SWMFile", &swm),
        &"/FileSize:1",
    ]);
    let parts: Vec<PathBuf> = std::iter::once(swm.clone())
        .chain((2..).map(|n| tmp.0.join(format!("parts{n}.swm"))))
        .take_while(|p| p.exists())
        .collect();
    assert!(parts.len() >= 4, "{} parts", parts.len());
    let guid = field(&wim_info(&parts[0]), "GUID").unwrap().to_string();
    for (i, part) in parts.iter().enumerate() {
        let info = wim_info(part);
        assert_eq!(field(&info, "GUID"), Some(guid.as_str()));
        assert_eq!(
            field(&info, "Part Number"),
            Some(format!("{}/{}", i + 1, parts.len()).as_str())
        );
        // A part may exceed the size only to hold one blob (the 3 MiB file).
        let len = std::fs::metadata(part).unwrap().len();
        assert!(len <= (1 << 20) + 4096 || len > 3 << 20, "{part:?}: {len}");
    }
    let pattern = tmp.0.join("parts*.swm");
    let out = tmp.0.join("wimlib-apply");
    wimlib(&[&"apply", &swm, &"1", &out, &"--ref", &pattern]);
    compare(
        &src,
        &out,
        Checks {
            unix: false,
            root: false,
        },
        "split, wimlib's apply",
    );
    let ours = tmp.0.join("our-apply");
    dism_ok(&[
        &"/Apply-Image",
        &opt("ImageFile", &swm),
        &opt("SWMFile", &pattern),
        &"/Index:1",
        &opt("ApplyDir", &ours),
    ]);
    compare(
        &src,
        &ours,
        Checks {
            unix: false,
            root: false,
        },
        "split, our apply",
    );

    let joined = tmp.0.join("joined.wim");
    dism_ok(&[
        &"/Export-Image",
        &opt("SourceImageFile", &swm),
        &opt("SWMFile", &pattern),
        &"/SourceIndex:1",
        &opt("DestinationImageFile", &joined),
    ]);
    peers_accept(&joined);
    let out = tmp.0.join("joined-apply");
    wimlib_apply(&joined, 1, &out);
    compare(
        &src,
        &out,
        Checks {
            unix: false,
            root: false,
        },
        "joined",
    );
}

#[test]
fn killed_append_leaves_the_original_valid() {
    let tmp = TempDir::new("kill");
    let small = tmp.0.join("small");
    std::fs::create_dir(&small).unwrap();
    std::fs::write(small.join("a.txt"), "the original image\n").unwrap();
    let wim = tmp.0.join("x.wim");
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &wim),
        &opt("CaptureDir", &small),
        &"/Name:original",
        &"/Compress:max",
    ]);
    let big = tmp.0.join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..12 {
        std::fs::write(big.join(format!("f{i}")), data(4 << 20, i + 10)).unwrap();
    }
    let original = std::fs::read(&wim).unwrap();
    let mut killed_midway = 0;
    for delay_ms in [30u64, 150, 400, 900, 1600, 2500] {
        std::fs::write(&wim, &original).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_dism"))
            .arg("/LogPath:/tmp/wimkit-write-test.log")
            .arg("/Append-Image")
            .arg(opt("ImageFile", &wim))
            .arg(opt("CaptureDir", &big))
            .arg("/Name:appended")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        child.wait().unwrap();
        let v = wimlib(&[&"verify", &wim]);
        assert!(
            v.contains("successfully verified"),
            "after {delay_ms} ms: {v}"
        );
        let count = field(&wim_info(&wim), "Image Count").map(str::to_string);
        if finished {
            assert_eq!(count.as_deref(), Some("2"));
        } else {
            assert!(matches!(count.as_deref(), Some("1" | "2")), "{count:?}");
            if count.as_deref() == Some("1") {
                killed_midway += 1;
                let out = tmp.0.join(format!("apply-{delay_ms}"));
                wimlib_apply(&wim, 1, &out);
                compare(
                    &small,
                    &out,
                    Checks {
                        unix: false,
                        root: false,
                    },
                    "after a kill",
                );
            }
        }
    }
    assert!(
        killed_midway >= 2,
        "the append was interrupted only {killed_midway} times"
    );
}

#[test]
fn bad_sources_and_full_disks_fail_cleanly() {
    let tmp = TempDir::new("bad");
    let wim = tmp.0.join("x.wim");
    let o = dism(&[
        &"/Capture-Image",
        &opt("ImageFile", &wim),
        &opt("CaptureDir", tmp.0.join("missing")),
        &"/Name:x",
    ]);
    assert_ne!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("missing"), "names the directory: {text}");
    assert!(!wim.exists(), "nothing written");

    let o = dism(&[&"/Capture-Image", &opt("ImageFile", &wim), &"/Name:x"]);
    assert_eq!(o.status.code(), Some(87), "missing /CaptureDir");

    // A disk that fills up: a small tmpfs.
    let small = tmp.0.join("small-fs");
    std::fs::create_dir(&small).unwrap();
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&small));
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(small.clone());
    let src = tmp.0.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("random"), xorshift_bytes(5 << 20, 5)).unwrap();
    let target = small.join("x.wim");
    let o = dism(&[
        &"/Capture-Image",
        &opt("ImageFile", &target),
        &opt("CaptureDir", &src),
        &"/Name:x",
    ]);
    assert_eq!(
        o.status.code(),
        Some(112),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let left: Vec<_> = std::fs::read_dir(&small).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // Appending to a full disk keeps the original.
    let tiny = tmp.0.join("tiny");
    std::fs::create_dir(&tiny).unwrap();
    std::fs::write(tiny.join("a"), "a").unwrap();
    dism_ok(&[
        &"/Capture-Image",
        &opt("ImageFile", &target),
        &opt("CaptureDir", &tiny),
        &"/Name:tiny",
    ]);
    let o = dism(&[
        &"/Append-Image",
        &opt("ImageFile", &target),
        &opt("CaptureDir", &src),
        &"/Name:too big",
    ]);
    assert_eq!(o.status.code(), Some(112));
    let v = wimlib(&[&"verify", &target]);
    assert!(v.contains("successfully verified"), "{v}");
    assert_eq!(field(&wim_info(&target), "Image Count"), Some("1"));
    let md = std::fs::metadata(&target).unwrap();
    assert!(
        md.len() < 1 << 20,
        "the failed append's data was not left behind"
    );
}
