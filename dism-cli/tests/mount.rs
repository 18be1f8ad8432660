//! The mount commands end to end, with real FUSE mounts (needs root, /dev/fuse,
//! wimlib-imagex and the tools `support::tree` lists; a missing one fails the test):
//! read-only mounts of wimlib-written WIMs of every compression compared with the
//! source tree; read-write mounts changed in every way, committed, and judged by
//! `wimlib-imagex verify` and a wimlib apply against the same changes made to a copy
//! of the source; /Append; /Discard leaving the file byte-identical; a killed server
//! shown as Needs Remount, remounted with its changes, and cleaned up.
//!
//! Each test has a registry of its own (`WIMKIT_MOUNT_REGISTRY`), so that tests
//! running at once do not see each other's mounts.
#![cfg(target_os = "linux")]

#[path = "../../tests/support"]
mod support {
    pub mod tmp;
    pub mod tree;
}

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use support::tmp::{capture, run, TempDir};
use support::tree::{compare, data, make_tree, Checks, BASE_TIME};

const FULL: Checks = Checks {
    unix: true,
    root: true,
};

/// A test's place: its temporary directory and mount registry. Dropping it takes
/// down every mount still registered (a failed test leaves nothing mounted).
struct Site {
    tmp: TempDir,
}

impl Site {
    fn new(tag: &str) -> Site {
        Site {
            tmp: TempDir::new(&format!("mount-{tag}")),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.0.join(p)
    }

    fn registry(&self) -> PathBuf {
        self.path("registry")
    }

    fn dism(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dism"))
            .env("WIMKIT_MOUNT_REGISTRY", self.registry())
            .arg(format!("/LogPath:{}", self.path("dism.log").display()))
            .args(args.iter().map(|a| a.as_ref()))
            .output()
            .expect("run dism")
    }

    /// Runs dism and requires success; returns its standard output.
    fn ok(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
        let o = self.dism(args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success() && out.contains("The operation completed successfully."),
            "dism {:?} failed ({:?}):\n{out}{}\nlog:\n{}",
            args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
            o.status,
            String::from_utf8_lossy(&o.stderr),
            self.server_logs()
        );
        out
    }

    /// Runs dism and requires it to fail with `code` (as printed); returns its output.
    fn fails(&self, args: &[&dyn AsRef<std::ffi::OsStr>], code: &str) -> String {
        let o = self.dism(args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            !o.status.success() && out.contains(&format!("Error: {code}\n")),
            "dism {:?}: expected error {code}, got {:?}:\n{out}",
            args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
            o.status
        );
        let want = u32::from_str_radix(code.trim_start_matches("0x"), 16).unwrap_or(0);
        if code.starts_with("0x") {
            assert_eq!(o.status.code(), Some((want & 0xff) as i32), "{out}");
        }
        out
    }

    fn server_logs(&self) -> String {
        let mut s = String::new();
        for e in std::fs::read_dir(self.registry())
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "log") {
                s.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        s
    }

    /// `key=value` of the registry entry of the only mount on `dir`.
    fn entry_field(&self, dir: &Path, key: &str) -> String {
        for e in std::fs::read_dir(self.registry()).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if e.path().extension().is_some_and(|x| x == "mount")
                && text.contains(&format!("mount_dir={}\n", dir.display()))
            {
                return text
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{key}=")))
                    .unwrap()
                    .to_string();
            }
        }
        panic!("no registry entry for {}", dir.display());
    }

    fn mount(&self, wim: &Path, index: u32, dir: &Path, read_only: bool) {
        let mut args: Vec<String> = vec![
            "/Mount-Image".into(),
            opt("ImageFile", wim),
            format!("/Index:{index}"),
            opt("MountDir", dir),
        ];
        if read_only {
            args.push("/ReadOnly".into());
        }
        let refs: Vec<&dyn AsRef<std::ffi::OsStr>> = args
            .iter()
            .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
            .collect();
        let out = self.ok(&refs);
        assert!(out.contains("Mounting image"), "{out}");
        assert!(
            mounted(dir),
            "{} is not mounted after /Mount-Image",
            dir.display()
        );
    }

    /// Kills the server of the mount on `dir` (as a crash would).
    fn kill_server(&self, dir: &Path) {
        let pid = self.entry_field(dir, "pid");
        run(Command::new("kill").args(["-KILL", &pid]));
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The Status line of `dir` in /Get-MountedImageInfo.
    fn status(&self, dir: &Path) -> String {
        let out = self.ok(&[&"/Get-MountedImageInfo"]);
        let block = out
            .split("\n\n")
            .find(|b| b.contains(&format!("Mount Dir : {}\n", dir.display())))
            .unwrap_or_else(|| panic!("{} not listed:\n{out}", dir.display()));
        block
            .lines()
            .find_map(|l| l.strip_prefix("Status : "))
            .unwrap()
            .to_string()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for e in std::fs::read_dir(self.registry())
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if e.path().extension().is_some_and(|x| x == "mount") {
                for l in text.lines() {
                    if let Some(pid) = l.strip_prefix("pid=") {
                        let _ = Command::new("kill").args(["-KILL", pid]).status();
                    }
                    if let Some(dir) = l.strip_prefix("mount_dir=") {
                        let _ = Command::new("umount").args(["-l", dir]).status();
                    }
                }
            }
        }
    }
}

fn opt(name: &str, value: impl AsRef<Path>) -> String {
    format!("/{name}:{}", value.as_ref().display())
}

fn mounted(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == dir.to_str())
}

fn sha1(path: &Path) -> String {
    run(Command::new("sha1sum").arg(path))
}

fn wimlib(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    run(Command::new("wimlib-imagex").args(args.iter().map(|a| a.as_ref())))
}

fn verify(wim: &Path) {
    let v = wimlib(&[&"verify", &wim]);
    assert!(v.contains("successfully verified"), "{v}");
}

fn wimlib_apply(wim: &Path, index: u32, out: &Path) {
    wimlib(&[&"apply", &wim, &index.to_string(), &out, &"--unix-data"]);
}

fn source(site: &Site) -> PathBuf {
    let src = site.path("src");
    std::fs::create_dir(&src).unwrap();
    make_tree(&src);
    src
}

/// A copy of `src` with everything (`cp -a`: links, owners, modes, xattrs, times).
fn copy_tree(src: &Path, dst: &Path) {
    run(Command::new("cp").arg("-a").arg(src).arg(dst));
    // The link into the tree points into the copy (as a mount or apply fixes it).
    let inside = dst.join("abs-inside");
    let target = std::fs::read_link(&inside).unwrap();
    let rel = target.strip_prefix(src).unwrap();
    std::fs::remove_file(&inside).unwrap();
    std::os::unix::fs::symlink(dst.join(rel), &inside).unwrap();
}

/// Every kind of change, made the same way to a mounted tree and a real one. Times of
/// every entry are set at the end (the changes themselves happen at different moments
/// in the two trees).
fn change_tree(root: &Path, round: u32) {
    let p = |s: &str| root.join(s);
    if round == 0 {
        // Data: overwrite, append, truncate, write in the middle, a new large file.
        std::fs::write(p("hello.txt"), b"changed hello\n").unwrap();
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(p("dir/medium.txt"))
            .unwrap();
        f.write_all(b"appended").unwrap();
        drop(f);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(p("dir/sub/same-as-medium"))
            .unwrap();
        f.set_len(1000).unwrap();
        drop(f);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(p("dir/big.bin"))
            .unwrap();
        f.seek(SeekFrom::Start(1_000_000)).unwrap();
        f.write_all(&data(70_000, 99)).unwrap();
        drop(f);
        std::fs::write(p("new-large.bin"), data(2_500_000, 7)).unwrap();
        std::fs::write(p("new-empty"), b"").unwrap();
        // Names: delete, rename, move across directories, replace by rename.
        std::fs::remove_file(p("mode755")).unwrap();
        std::fs::remove_dir(p("empty-dir")).unwrap();
        std::fs::rename(p("dir/sub/deeper"), p("moved-deeper")).unwrap();
        std::fs::rename(p("corrupt-me.txt"), p("ünïcödé dir/renamed.txt")).unwrap();
        std::fs::rename(p("mode600"), p("suid")).unwrap();
        // New directories, links, special files.
        std::fs::create_dir_all(p("new dir/inner")).unwrap();
        std::fs::write(p("new dir/inner/file"), b"in a new directory").unwrap();
        std::os::unix::fs::symlink("../hello.txt", p("new dir/new-link")).unwrap();
        std::os::unix::fs::symlink("/nowhere/abs", p("new-abs-link")).unwrap();
        std::fs::hard_link(p("new dir/inner/file"), p("new-hard-link")).unwrap();
        std::fs::hard_link(p("dir/medium.txt"), p("medium-link")).unwrap();
        std::fs::remove_file(p("hello-link")).unwrap();
        run(Command::new("mkfifo").arg(p("new dir/fifo")));
        run(Command::new("mknod")
            .arg(p("new-chardev"))
            .args(["c", "1", "5"]));
        // Metadata: modes, owners, xattrs.
        std::fs::set_permissions(p("hello.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::set_permissions(p("new dir"), std::fs::Permissions::from_mode(0o750)).unwrap();
        run(Command::new("chown").arg("111:222").arg(p("new-large.bin")));
        run(Command::new("chown")
            .args(["-h", "333:444"])
            .arg(p("new-abs-link")));
        run(Command::new("setfattr")
            .args(["-n", "user.new", "-v", "fresh"])
            .arg(p("new-large.bin")));
        run(Command::new("setfattr")
            .args(["-n", "user.test", "-v", "replaced"])
            .arg(p("hello.txt")));
        run(Command::new("setfattr")
            .args(["-x", "user.second"])
            .arg(p("hello.txt")));
    } else {
        std::fs::write(p("round2.txt"), b"second round\n").unwrap();
        std::fs::remove_file(p("new-empty")).unwrap();
        std::fs::rename(p("new dir"), p("dir/new dir moved")).unwrap();
    }
    let mut all: Vec<PathBuf> = support::tree::entries(root)
        .into_keys()
        .filter(|r| !r.is_empty())
        .map(|r| root.join(r))
        .collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    all.push(root.to_path_buf());
    for (i, path) in all.iter().enumerate() {
        let t = format!(
            "@{}.{:09}",
            BASE_TIME + 500_000 + round as u64 * 100_000 + i as u64 * 10,
            333_000_000 + i as u64 * 100
        );
        run(Command::new("touch").args(["-h", "-d", &t]).arg(path));
    }
}

#[test]
fn read_only_mounts_of_every_compression() {
    let site = Site::new("ro");
    let src = source(&site);
    for compress in ["none", "xpress", "lzx", "lzms", "solid"] {
        let wim = site.path(&format!("{compress}.wim"));
        capture(&src, &wim, compress, true);
        let before = sha1(&wim);
        let mnt = site.path(&format!("mnt-{compress}"));
        std::fs::create_dir(&mnt).unwrap();
        site.mount(&wim, 1, &mnt, true);
        compare(
            &src,
            &mnt,
            FULL,
            &format!("{compress}: source vs read-only mount"),
        );
        let e = std::fs::write(mnt.join("new"), b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(30), "{compress}: {e}");
        assert_eq!(site.status(&mnt), "Ok");
        let info = site.ok(&[&"/Get-MountedImageInfo"]);
        assert!(info.contains("Mounted Read/Write : No"), "{info}");
        // Committing a read-only mount is refused.
        site.fails(&[&"/Commit-Image", &opt("MountDir", &mnt)], "0xc142011d");
        site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Discard"]);
        assert!(!mounted(&mnt));
        assert_eq!(sha1(&wim), before, "{compress}: the file changed");
    }
    let out = site.ok(&[&"/Get-MountedImageInfo"]);
    assert!(out.contains("No mounted images found."), "{out}");
}

#[test]
fn mounts_are_refused_like_dism() {
    let site = Site::new("refuse");
    let src = source(&site);
    let wim = site.path("x.wim");
    capture(&src, &wim, "lzx", true);
    let mnt = site.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Not empty.
    std::fs::write(mnt.join("file"), b"x").unwrap();
    site.fails(
        &[
            &"/Mount-Image",
            &opt("ImageFile", &wim),
            &"/Index:1",
            &opt("MountDir", &mnt),
        ],
        "0xc1420114",
    );
    std::fs::remove_file(mnt.join("file")).unwrap();
    // A read-only file mounted read-write.
    let ro = site.path("ro.wim");
    std::fs::copy(&wim, &ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
    site.fails(
        &[
            &"/Mount-Image",
            &opt("ImageFile", &ro),
            &"/Index:1",
            &opt("MountDir", &mnt),
        ],
        "0xc1510111",
    );
    // A split set read-write (read-only is fine).
    let swm = site.path("split.swm");
    wimlib(&[&"split", &wim, &swm, &"1"]);
    site.fails(
        &[
            &"/Mount-Image",
            &opt("ImageFile", &swm),
            &"/Index:1",
            &opt("MountDir", &mnt),
        ],
        "50",
    );
    site.mount(&swm, 1, &mnt, true);
    compare(
        &src,
        &mnt,
        FULL,
        "source vs a read-only mount of a split set",
    );
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Discard"]);
    // The same image twice read-write.
    site.mount(&wim, 1, &mnt, false);
    let mnt2 = site.path("mnt2");
    std::fs::create_dir(&mnt2).unwrap();
    site.fails(
        &[
            &"/Mount-Image",
            &opt("ImageFile", &wim),
            &"/Index:1",
            &opt("MountDir", &mnt2),
        ],
        "0xc1420127",
    );
    // Mounting on a mount point.
    site.fails(
        &[
            &"/Mount-Image",
            &opt("ImageFile", &wim),
            &"/Index:1",
            &opt("MountDir", &mnt),
            &"/ReadOnly",
        ],
        "0xc1420114",
    );
    // Read-only beside it is fine.
    site.mount(&wim, 1, &mnt2, true);
    // Neither /Commit nor /Discard.
    site.fails(&[&"/Unmount-Image", &opt("MountDir", &mnt)], "87");
    // A file open in the mount keeps it mounted.
    let open = std::fs::File::open(mnt.join("hello.txt")).unwrap();
    site.fails(
        &[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Discard"],
        "0xc1420117",
    );
    assert_eq!(site.status(&mnt), "Ok");
    drop(open);
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Discard"]);
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt2), &"/Discard"]);
}

#[test]
fn read_write_commit_append_and_discard() {
    let site = Site::new("rw");
    let src = source(&site);
    let wim = site.path("x.wim");
    capture(&src, &wim, "lzx", true);
    let mnt = site.path("mnt");
    std::fs::create_dir(&mnt).unwrap();

    // Discard leaves the file byte-identical.
    let before = sha1(&wim);
    site.mount(&wim, 1, &mnt, false);
    change_tree(&mnt, 0);
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Discard"]);
    assert_eq!(sha1(&wim), before, "/Discard changed the file");
    let out = site.ok(&[&"/Get-MountedImageInfo"]);
    assert!(out.contains("No mounted images found."), "{out}");

    // Every kind of change, committed; the mount stays usable.
    let expected = site.path("expected");
    copy_tree(&src, &expected);
    change_tree(&expected, 0);
    site.mount(&wim, 1, &mnt, false);
    assert!(site
        .ok(&[&"/Get-MountedImageInfo"])
        .contains("Mounted Read/Write : Yes"));
    change_tree(&mnt, 0);
    compare(&expected, &mnt, FULL, "expected vs the changed mount");
    let out = site.ok(&[&"/Commit-Image", &opt("MountDir", &mnt)]);
    assert!(out.contains("Saving image"), "{out}");
    verify(&wim);
    let applied = site.path("applied-1");
    wimlib_apply(&wim, 1, &applied);
    compare(
        &expected,
        &applied,
        FULL,
        "expected vs wimlib's apply of the commit",
    );
    assert_eq!(site.status(&mnt), "Ok");

    // More changes, committed as a new image at unmount, with an integrity table.
    let expected2 = site.path("expected2");
    copy_tree(&expected, &expected2);
    change_tree(&expected2, 1);
    change_tree(&mnt, 1);
    site.ok(&[
        &"/Unmount-Image",
        &opt("MountDir", &mnt),
        &"/Commit",
        &"/Append",
        &"/CheckIntegrity",
    ]);
    assert!(!mounted(&mnt));
    verify(&wim);
    let info = wimlib(&[&"info", &wim]);
    assert!(info.contains("Image Count:    2"), "{info}");
    assert!(info.contains("Integrity info"), "{info}");
    let applied2 = site.path("applied-2");
    wimlib_apply(&wim, 2, &applied2);
    compare(
        &expected2,
        &applied2,
        FULL,
        "expected vs wimlib's apply of /Append",
    );
    let applied1 = site.path("applied-1b");
    wimlib_apply(&wim, 1, &applied1);
    compare(&expected, &applied1, FULL, "image 1 after /Append");
    // The registry is empty again.
    let left: Vec<_> = std::fs::read_dir(site.registry())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the registry: {left:?}");
}

#[test]
fn solid_wim_commit() {
    let site = Site::new("solid");
    let src = source(&site);
    let wim = site.path("x.esd");
    capture(&src, &wim, "solid", true);
    let mnt = site.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let expected = site.path("expected");
    copy_tree(&src, &expected);
    change_tree(&expected, 0);
    site.mount(&wim, 1, &mnt, false);
    change_tree(&mnt, 0);
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Commit"]);
    verify(&wim);
    let applied = site.path("applied");
    wimlib_apply(&wim, 1, &applied);
    compare(
        &expected,
        &applied,
        FULL,
        "solid: expected vs wimlib's apply",
    );
}

#[test]
fn killed_server_remount_and_cleanup() {
    let site = Site::new("kill");
    let src = source(&site);
    let wim = site.path("x.wim");
    capture(&src, &wim, "xpress", true);
    let mnt = site.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let expected = site.path("expected");
    copy_tree(&src, &expected);
    change_tree(&expected, 0);

    site.mount(&wim, 1, &mnt, false);
    change_tree(&mnt, 0);
    // The server saves its state within a second of a change.
    std::thread::sleep(Duration::from_millis(1500));
    site.kill_server(&mnt);
    assert_eq!(site.status(&mnt), "Needs Remount");
    site.fails(&[&"/Commit-Image", &opt("MountDir", &mnt)], "0xc142011d");
    let out = site.ok(&[&"/Remount-Image", &opt("MountDir", &mnt)]);
    assert!(out.contains("Mounting image"), "{out}");
    assert_eq!(site.status(&mnt), "Ok");
    compare(&expected, &mnt, FULL, "expected vs the remounted mount");
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &mnt), &"/Commit"]);
    verify(&wim);
    let applied = site.path("applied");
    wimlib_apply(&wim, 1, &applied);
    compare(
        &expected,
        &applied,
        FULL,
        "expected vs the commit after a remount",
    );

    // Dead mounts (one read-write, one read-only) are cleaned up; a working one stays.
    let (a, b, c) = (site.path("a"), site.path("b"), site.path("c"));
    for d in [&a, &b, &c] {
        std::fs::create_dir(d).unwrap();
    }
    site.mount(&wim, 1, &a, false);
    site.mount(&wim, 1, &b, true);
    site.mount(&wim, 1, &c, true);
    std::fs::write(a.join("scratch-data"), b"x").unwrap();
    site.kill_server(&a);
    site.kill_server(&b);
    assert_eq!(site.status(&a), "Needs Remount");
    assert_eq!(site.status(&b), "Needs Remount");
    site.ok(&[&"/Cleanup-Mountpoints"]);
    assert!(!mounted(&a) && !mounted(&b));
    assert!(mounted(&c));
    let out = site.ok(&[&"/Get-MountedImageInfo"]);
    assert!(
        !out.contains(&format!("Mount Dir : {}\n", a.display())),
        "{out}"
    );
    assert_eq!(site.status(&c), "Ok");
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &c), &"/Discard"]);
    let left: Vec<_> = std::fs::read_dir(site.registry())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the registry: {left:?}");
    // The directories can be mounted on again.
    site.mount(&wim, 1, &a, false);
    site.ok(&[&"/Unmount-Image", &opt("MountDir", &a), &"/Discard"]);
}
