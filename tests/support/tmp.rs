//! Temporary directories and external commands for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("wimkit-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command that must exist and succeed (a missing tool fails the test:
/// the README's test command installs every one), returning its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is it installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Deterministic incompressible bytes.
pub fn xorshift_bytes(n: usize, mut s: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// `wimlib-imagex capture` of `src` into `out` as image "test image": `compress` is a
/// wimlib compression name or `solid`; `unix_data` adds `--unix-data`.
pub fn capture(src: &Path, out: &Path, compress: &str, unix_data: bool) {
    let mut c = Command::new("wimlib-imagex");
    c.arg("capture").arg(src).arg(out).arg("test image");
    match compress {
        "solid" => c.arg("--solid"),
        other => c.arg(format!("--compress={other}")),
    };
    if unix_data {
        c.arg("--unix-data");
    }
    run(&mut c);
}
