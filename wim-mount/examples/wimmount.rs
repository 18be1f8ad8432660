//! Mounts an image of a WIM with FUSE until unmounted (`fusermount3 -u DIR`).
//!
//!     cargo run --release -p wim-mount --example wimmount -- FILE.wim INDEX DIR [SCRATCH]
//!
//! With SCRATCH the mount is read-write (changes kept in SCRATCH, listed at unmount).

#[cfg(target_os = "linux")]
fn main() {
    use std::sync::Arc;
    use wim_mount::{serve, MountOptions, Overlay, Projection, ProjectionOptions};
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: wimmount FILE.wim INDEX DIR [SCRATCH]");
        std::process::exit(2);
    }
    let index: u32 = args[2].parse().expect("INDEX");
    let mut popts = ProjectionOptions::default();
    let dir = std::fs::canonicalize(&args[3]).expect("DIR");
    popts.fix_root = Some(dir.clone());
    let p = Arc::new(Projection::open(&args[1], index, popts).expect("open"));
    let opts = MountOptions::default();
    match args.get(4) {
        None => serve(p.clone(), &dir, &opts).expect("mount"),
        Some(scratch) => {
            let o = Arc::new(Overlay::new(p.clone(), scratch).expect("scratch"));
            serve(o.clone(), &dir, &opts).expect("mount");
            let edit = o.changes().expect("changes");
            for e in edit.entries.iter().filter(|e| e.changed) {
                println!("changed: {} {:?}", e.path, e.content);
            }
        }
    }
    eprintln!("unmounted; cache {:?}", p.cache().stats());
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("FUSE mounting needs Linux");
}
