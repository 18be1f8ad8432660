//! The copy-on-write overlay over a wimlib-captured image, and the final tree it gives.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use wim_mount::format::write::metadata::metadata_bytes;
use wim_mount::format::Image;
use wim_mount::overlay::NewBlobSource;
use wim_mount::types::Kind;
use wim_mount::vfs::{NewFile, XattrMode};
use wim_mount::{Content, FsError, Overlay, Projection, ProjectionOptions, SetAttr, ROOT_INO};

fn file(perm: u32) -> NewFile {
    NewFile {
        kind: Kind::File,
        perm,
        uid: 1000,
        gid: 100,
        rdev: 0,
    }
}

fn dir(perm: u32) -> NewFile {
    NewFile {
        kind: Kind::Directory,
        ..file(perm)
    }
}

#[test]
fn overlay_operations_and_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::make_tree(&src);
    let wim = tmp.path().join("x.wim");
    common::capture(&src, &wim, &["--compress=xpress"]);
    let base = Arc::new(Projection::open(&wim, 1, ProjectionOptions::default()).unwrap());
    let scratch = tmp.path().join("scratch");
    let o = Overlay::new(base.clone(), &scratch).unwrap();
    assert!(!o.is_modified());
    let r = |p: &str| o.resolve(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let read_all = |p: &str| {
        let ino = o.resolve(p).unwrap();
        o.read(ino, 0, 1 << 24).unwrap()
    };

    // New directory and file, written sparsely.
    let nd = o.mkdir(ROOT_INO, "newdir", dir(0o750)).unwrap();
    assert_eq!((nd.kind, nd.perm, nd.nlink), (Kind::Directory, 0o750, 2));
    let f = o.create(nd.ino, "f", file(0o640)).unwrap();
    assert_eq!(o.write(f.ino, 0, b"abc").unwrap(), 3);
    o.write(f.ino, 10, b"XYZ").unwrap();
    assert_eq!(read_all("newdir/f"), b"abc\0\0\0\0\0\0\0XYZ");
    assert_eq!(o.getattr(f.ino).unwrap().size, 13);
    assert!(matches!(
        o.create(nd.ino, "f", file(0o600)),
        Err(FsError::Exists)
    ));
    assert!(matches!(
        o.create(nd.ino, "a/b", file(0o600)),
        Err(FsError::Invalid(_))
    ));

    // Writing an image file copies it up; the image is not touched.
    let hello = r("hello.txt");
    o.write(hello, 0, b"HELLO").unwrap();
    assert_eq!(read_all("hello.txt"), b"HELLO, world\n");
    assert_eq!(base.read(hello, 0, 100).unwrap(), b"hello, world\n");
    assert!(scratch.join(hello.to_string()).exists());
    // Truncation of a large file.
    let big = r("dir/big.bin");
    o.setattr(
        big,
        &SetAttr {
            size: Some(100),
            ..SetAttr::default()
        },
    )
    .unwrap();
    assert_eq!(read_all("dir/big.bin"), common::data(1, 100));
    // Truncation to zero copies nothing; extension reads zeroes.
    let med = r("dir/medium.bin");
    o.setattr(
        med,
        &SetAttr {
            size: Some(0),
            ..SetAttr::default()
        },
    )
    .unwrap();
    o.setattr(
        med,
        &SetAttr {
            size: Some(5),
            ..SetAttr::default()
        },
    )
    .unwrap();
    assert_eq!(read_all("dir/medium.bin"), vec![0; 5]);

    // Unlink: a whiteout over the image's name.
    o.unlink(ROOT_INO, "dup1").unwrap();
    assert!(matches!(o.lookup(ROOT_INO, "dup1"), Err(FsError::NotFound)));
    assert!(!o
        .readdir(ROOT_INO)
        .unwrap()
        .iter()
        .any(|e| e.name == "dup1"));
    assert!(matches!(
        o.unlink(ROOT_INO, "dir"),
        Err(FsError::IsDirectory)
    ));
    // Recreated after removal: a new, empty file.
    o.unlink(ROOT_INO, "empty").unwrap();
    let e2 = o.create(ROOT_INO, "empty", file(0o644)).unwrap();
    assert!(e2.ino > base.max_ino());

    // Rename a directory of the image: its entries follow it.
    o.rename(r("dir"), "sub", ROOT_INO, "moved", false).unwrap();
    assert_eq!(read_all("moved/small"), common::data(3, 5000));
    assert_eq!(read_all("moved/deeper/exactly32k"), common::data(4, 32768));
    assert!(o.resolve("dir/sub").is_err());
    assert_eq!(o.parent(r("moved")).unwrap(), ROOT_INO);
    // Not below itself.
    assert!(matches!(
        o.rename(ROOT_INO, "moved", r("moved/deeper"), "x", false),
        Err(FsError::Invalid(_))
    ));
    // rmdir: empty only.
    o.rmdir(ROOT_INO, "empty dir").unwrap();
    assert!(matches!(o.rmdir(ROOT_INO, "dir"), Err(FsError::NotEmpty)));
    assert!(matches!(
        o.rmdir(ROOT_INO, "hello.txt"),
        Err(FsError::NotDirectory)
    ));

    // Symlink and hard link.
    o.symlink(nd.ino, "ln", "../hello.txt", file(0)).unwrap();
    assert_eq!(o.readlink(r("newdir/ln")).unwrap(), "../hello.txt");
    let hl = o.link(hello, nd.ino, "hl").unwrap();
    assert_eq!((hl.ino, hl.nlink), (hello, 2));
    assert_eq!(read_all("newdir/hl"), b"HELLO, world\n");
    assert!(matches!(
        o.link(nd.ino, ROOT_INO, "dl"),
        Err(FsError::NotPermitted)
    ));
    // A hard link of the image: unlink one name, the other stays.
    let linked = r("linked");
    assert_eq!(o.getattr(linked).unwrap().nlink, 2);
    o.unlink(r("dir"), "linked too").unwrap();
    assert_eq!(o.getattr(linked).unwrap().nlink, 1);

    // Metadata.
    let a = o
        .setattr(
            hello,
            &SetAttr {
                perm: Some(0o640),
                uid: Some(1),
                gid: Some(2),
                write: Some(133_000_000_000_000_000),
                ..SetAttr::default()
            },
        )
        .unwrap();
    assert_eq!((a.mode(), a.uid, a.gid), (0o100640, 1, 2));
    assert_eq!(a.times.write, 133_000_000_000_000_000);
    o.setxattr(hello, b"user.new", b"value", XattrMode::Create)
        .unwrap();
    assert!(matches!(
        o.setxattr(hello, b"user.new", b"v", XattrMode::Create),
        Err(FsError::Exists)
    ));
    assert!(matches!(
        o.setxattr(hello, b"user.none", b"v", XattrMode::Replace),
        Err(FsError::NoAttribute)
    ));
    o.removexattr(hello, b"user.greeting").unwrap();
    assert!(matches!(
        o.removexattr(hello, b"user.greeting"),
        Err(FsError::NoAttribute)
    ));
    assert_eq!(o.getxattr(hello, b"user.new").unwrap(), b"value");
    // xattrs of an untouched file come from the image.
    assert_eq!(
        o.listxattr(r("dir")).unwrap(),
        vec![b"user.dir attr".to_vec()]
    );

    // Rename over an existing file replaces it; noreplace refuses.
    assert!(matches!(
        o.rename(nd.ino, "f", r("dir"), "dup2", true),
        Err(FsError::Exists)
    ));
    o.rename(nd.ino, "f", r("dir"), "dup2", false).unwrap();
    assert_eq!(read_all("dir/dup2"), b"abc\0\0\0\0\0\0\0XYZ");
    assert!(o.resolve("newdir/f").is_err());
    // A directory over a non-empty directory is refused.
    o.mkdir(ROOT_INO, "d2", dir(0o755)).unwrap();
    assert!(matches!(
        o.rename(ROOT_INO, "d2", ROOT_INO, "dir", false),
        Err(FsError::NotEmpty)
    ));
    assert!(matches!(
        o.rename(ROOT_INO, "d2", ROOT_INO, "hello.txt", false),
        Err(FsError::NotDirectory)
    ));
    // ...and over an empty one works.
    o.mkdir(r("d2"), "inner", dir(0o700)).unwrap();
    o.mkdir(ROOT_INO, "d3", dir(0o755)).unwrap();
    o.rename(ROOT_INO, "d2", ROOT_INO, "d3", false).unwrap();
    assert_eq!(o.readdir(r("d3")).unwrap()[0].name, "inner");
    assert_eq!(o.getattr(r("d3")).unwrap().nlink, 3);

    // The final tree.
    assert!(o.is_modified());
    let edit = o.changes().unwrap();
    let by_path: BTreeMap<&str, &wim_mount::EditEntry> =
        edit.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let paths: Vec<&str> = by_path.keys().copied().collect();
    let want = [
        "/",
        "/abs link",
        "/d3",
        "/d3/inner",
        "/dangling",
        "/dir",
        "/dir/big.bin",
        "/dir/dir link",
        "/dir/dup2",
        "/dir/medium.bin",
        "/dir/noise.bin",
        "/dir/rel link",
        "/empty",
        "/fifo",
        "/hello.txt",
        "/linked",
        "/moved",
        "/moved/deeper",
        "/moved/deeper/exactly32k",
        "/moved/small",
        "/newdir",
        "/newdir/hl",
        "/newdir/ln",
        "/null-dev",
        "/ünïcödé",
        "/ünïcödé/файл с пробелами",
    ];
    assert_eq!(paths, want);
    // Parents come first and are directories.
    for (i, e) in edit.entries.iter().enumerate() {
        if let Some(p) = e.parent {
            assert!(p < i);
            assert_eq!(edit.entries[p].kind, Kind::Directory);
        }
    }
    let h = by_path["/hello.txt"];
    assert!(h.changed);
    assert!(matches!(&h.content, Content::Scratch { size: 13, .. }));
    assert_eq!(h.unix.unwrap().mode, 0o100640);
    assert_eq!(h.ino, by_path["/newdir/hl"].ino);
    let names: Vec<&[u8]> = h.xattrs.iter().map(|x| x.name.as_slice()).collect();
    assert_eq!(names, [&b"user.empty"[..], b"user.new"]);
    let n = by_path["/dir/noise.bin"];
    assert!(!n.changed);
    assert!(matches!(n.content, Content::Blob { size: 100_000, .. }));
    assert_eq!(n.base, Some(base.node_of(r("dir/noise.bin")).unwrap()));
    assert!(matches!(
        &by_path["/newdir/ln"].content,
        Content::Symlink { target, reparse: None } if target == "../hello.txt"
    ));
    assert!(matches!(
        &by_path["/dir/rel link"].content,
        Content::Symlink {
            reparse: Some(_),
            ..
        }
    ));
    assert_eq!(by_path["/empty"].content, Content::Empty);
    assert_eq!(
        by_path["/moved"].base,
        base.node_of(base.resolve("dir/sub").unwrap()).ok()
    );
    assert_eq!(by_path["/null-dev"].kind, Kind::CharDevice);
    assert_eq!(by_path["/newdir"].unix.unwrap().mode, 0o040750);

    // As an Image for the metadata writer: it serialises and parses back to the
    // same paths; the new data is listed once per hash.
    let (image, new_blobs) = edit.to_image(base.image()).unwrap();
    let parsed = Image::parse(&metadata_bytes(&image)).unwrap();
    let mut got: Vec<String> = parsed.walk().into_iter().map(|(p, _)| p).collect();
    got.sort();
    let mut want_sorted: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    let hl_node = parsed.node(parsed.lookup("/newdir/hl").unwrap());
    let h_node = parsed.node(parsed.lookup("/hello.txt").unwrap());
    assert_ne!(h_node.hard_link_group, 0);
    assert_eq!(h_node.hard_link_group, hl_node.hard_link_group);
    assert_eq!(h_node.unix.unwrap().mode, 0o100640);
    assert!(parsed
        .node(parsed.lookup("/newdir/ln").unwrap())
        .is_symlink());
    let files: Vec<_> = new_blobs
        .iter()
        .filter(|b| matches!(b.source, NewBlobSource::File(_)))
        .collect();
    // hello.txt, big.bin (100 bytes), medium.bin (5 zeroes), dup2 (13 bytes).
    assert_eq!(files.len(), 4, "{new_blobs:?}");
    assert_eq!(
        new_blobs
            .iter()
            .filter(|b| matches!(b.source, NewBlobSource::Memory(_)))
            .count(),
        1
    );
    assert_eq!(
        h_node.unnamed_data().unwrap().hash,
        <sha1::Sha1 as sha1::Digest>::digest(b"HELLO, world\n").as_slice()
    );
}
