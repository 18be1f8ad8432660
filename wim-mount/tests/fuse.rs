//! Mounting with FUSE (needs /dev/fuse and root or fusermount3): a wimlib-captured WIM
//! read-only compared with its source tree; an overlay mount read-write.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use wim_mount::types::Kind;
use wim_mount::{mount, Content, MountOptions, Overlay, Projection, ProjectionOptions};

/// Unmounts on drop (lazily), so that a failed test leaves no mount behind.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let mounted = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(self.0.to_str().unwrap_or("")));
        if mounted {
            let _ = Command::new("fusermount3").arg("-u").arg(&self.0).status();
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn mounted(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(1) == dir.to_str())
}

#[test]
fn read_only_mount_matches_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::make_tree(&src);
    let want = common::scan(&src);
    for (name, opts) in [common::VARIANTS[2], common::VARIANTS[4]] {
        let wim = tmp.path().join(format!("{name}.wim"));
        common::capture(&src, &wim, opts);
        let mnt = tmp.path().join(format!("mnt-{name}"));
        std::fs::create_dir(&mnt).unwrap();
        let _guard = Guard(mnt.clone());
        let p = Arc::new(Projection::open(&wim, 1, ProjectionOptions::default()).unwrap());
        let handle = mount(p.clone(), &mnt, &MountOptions::default()).unwrap();
        assert!(mounted(&mnt));
        let got = common::scan(&mnt);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: paths"
        );
        for (path, w) in &want {
            let mut g = got[path].clone();
            g.ino = w.ino;
            let mut w = w.clone();
            if w.kind == 'd' {
                // The mount point's own mode is the image root's.
                w.mtime = g.mtime;
            }
            // The mount truncates times to the WIM's 100 ns.
            w.mtime.1 = w.mtime.1 / 100 * 100;
            assert_eq!(g, w, "{name}: {path}");
        }
        // Hard links share an inode number in the mount.
        let a = std::fs::metadata(mnt.join("linked")).unwrap();
        let b = std::fs::metadata(mnt.join("dir/linked too")).unwrap();
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
        // Read-only.
        let e = std::fs::write(mnt.join("new"), b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(30), "{e}");
        // Many readers at once.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let d = std::fs::read(mnt.join("dir/big.bin")).unwrap();
                    assert_eq!(d, common::data(1, 1_300_000));
                });
            }
        });
        handle.unmount().unwrap();
        assert!(!mounted(&mnt));
        eprintln!("{name}: mount ok, cache {:?}", p.cache().stats());
    }
}

#[test]
fn read_write_mount_through_overlay() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::make_tree(&src);
    let wim = tmp.path().join("rw.wim");
    common::capture(&src, &wim, &["--compress=lzx"]);
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _guard = Guard(mnt.clone());
    let p = Arc::new(Projection::open(&wim, 1, ProjectionOptions::default()).unwrap());
    let o = Arc::new(Overlay::new(p, tmp.path().join("scratch")).unwrap());
    let handle = mount(o.clone(), &mnt, &MountOptions::default()).unwrap();

    let m = |s: &str| mnt.join(s);
    std::fs::create_dir(m("new dir")).unwrap();
    std::fs::write(m("new dir/file"), b"new contents").unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(m("dir/big.bin"))
            .unwrap();
        f.seek(SeekFrom::Start(1_000_000)).unwrap();
        f.write_all(b"PATCHED").unwrap();
    }
    std::fs::rename(m("dir/sub"), m("sub moved")).unwrap();
    std::fs::remove_file(m("dup1")).unwrap();
    std::fs::remove_dir(m("empty dir")).unwrap();
    std::os::unix::fs::symlink("new dir/file", m("to new")).unwrap();
    std::fs::hard_link(m("hello.txt"), m("new dir/hello again")).unwrap();
    std::fs::set_permissions(m("hello.txt"), std::fs::Permissions::from_mode(0o604)).unwrap();
    rustix::fs::setxattr(
        m("hello.txt"),
        "user.added",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    // Seen through the mount.
    assert_eq!(std::fs::read(m("new dir/file")).unwrap(), b"new contents");
    let mut big = common::data(1, 1_300_000);
    big[1_000_000..1_000_007].copy_from_slice(b"PATCHED");
    assert_eq!(std::fs::read(m("dir/big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(m("sub moved/small")).unwrap(),
        common::data(3, 5000)
    );
    assert!(!m("dup1").exists());
    assert_eq!(std::fs::read(m("to new")).unwrap(), b"new contents");
    assert_eq!(std::fs::metadata(m("hello.txt")).unwrap().nlink(), 2);
    let mut names: Vec<String> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.contains(&"new dir".to_string()) && !names.contains(&"dir/sub".to_string()));
    handle.unmount().unwrap();

    // The overlay kept everything for commit.
    let edit = o.changes().unwrap();
    let by: BTreeMap<&str, &wim_mount::EditEntry> =
        edit.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    assert!(matches!(
        &by["/new dir/file"].content,
        Content::Scratch { size: 12, .. }
    ));
    assert!(matches!(
        &by["/dir/big.bin"].content,
        Content::Scratch {
            size: 1_300_000,
            ..
        }
    ));
    assert!(by.contains_key("/sub moved/deeper/exactly32k"));
    assert!(!by.contains_key("/dup1") && !by.contains_key("/empty dir"));
    assert_eq!(by["/to new"].kind, Kind::Symlink);
    assert_eq!(by["/hello.txt"].unix.unwrap().mode, 0o100604);
    assert_eq!(by["/hello.txt"].ino, by["/new dir/hello again"].ino);
    assert!(by["/hello.txt"]
        .xattrs
        .iter()
        .any(|x| x.name == b"user.added"));
}
