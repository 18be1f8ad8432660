//! The mount server: the `dism` binary started detached by `/Mount-Image` and
//! `/Remount-Image` (`dism --wimkit-mount-server <entry file> [remount]`), holding the
//! FUSE session and, read-write, the overlay. It answers the other commands on its
//! control socket (`wim_mount::server`) until it is unmounted.
//!
//! It tells its parent how mounting went on its standard output (`ready`, or
//! `error CODE MESSAGE`) and writes nothing there afterwards; its standard error is
//! the mount's log in the registry.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wim_mount::commit::{commit, CommitOptions};
use wim_mount::registry::MountEntry;
use wim_mount::server::{self, Request, Responder};
use wim_mount::{
    mount, ChunkCache, FsError, MountHandle, MountOptions, Overlay, Projection, ProjectionOptions,
    WimSource, DEFAULT_CACHE_BYTES,
};

use crate::error::{code, DismError};
use crate::open::format_error;

/// The hidden argument that starts a server.
pub const SERVER_ARG: &str = "--wimkit-mount-server";

/// Codes of the mount commands (dism.exe's).
pub mod mount_code {
    /// The mount directory is not empty.
    pub const DIR_NOT_EMPTY: u32 = 0xc142_0114;
    /// The image is already mounted read-write.
    pub const ALREADY_MOUNTED_RW: u32 = 0xc142_0127;
    /// The image file cannot be mounted read-write (read-only file).
    pub const NO_WRITE_PERMISSION: u32 = 0xc151_0111;
    /// The mounted image cannot be committed (its server is gone, or mounted read-only).
    pub const CANNOT_COMMIT: u32 = 0xc142_011d;
    /// The directory could not be completely unmounted (files open in it).
    pub const UNMOUNT_BUSY: u32 = 0xc142_0117;
}

fn log(msg: &str) {
    let t = crate::time::DateTime::now();
    eprintln!("{} [{}] {msg}", t.log_format(), std::process::id());
}

/// Maps an error of the overlay or the commit to DISM's codes.
pub fn fs_error(image: &Path, e: &FsError) -> DismError {
    match e {
        FsError::Wim(w) => format_error(image, w),
        FsError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => DismError::new(
            code::DISK_FULL,
            format!("There is not enough space on the disk.\n{e}"),
        ),
        FsError::Invalid(why) => DismError::new(
            mount_code::CANNOT_COMMIT,
            format!("The mounted image cannot be committed.\n{why}"),
        ),
        _ => DismError::new(
            code::GEN_FAILURE,
            format!("The mounted image cannot be committed.\n{e}"),
        ),
    }
}

/// The server's `main`: returns only on a failure to mount.
pub fn main(args: &[String]) -> u8 {
    server::detach();
    let Some(entry_path) = args.first() else {
        return 87;
    };
    let remount = args.get(1).is_some_and(|a| a == "remount");
    let mut stdout = std::io::stdout();
    let Some(entry) = MountEntry::load(Path::new(entry_path)) else {
        let _ = writeln!(stdout, "error 87 no mount entry at {entry_path}");
        return 87;
    };
    match start(entry, remount) {
        Ok(server) => {
            let _ = writeln!(stdout, "ready");
            let _ = stdout.flush();
            server.run()
        }
        Err(e) => {
            log(&format!("mounting failed: {}", e.message));
            let msg = e.message.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(stdout, "error {} {msg}", e.code);
            let _ = stdout.flush();
            e.exit_status()
        }
    }
}

struct Server {
    entry: Mutex<MountEntry>,
    overlay: Option<Arc<Overlay>>,
    /// Kept alive while mounted (dropping it unmounts).
    handle: Mutex<Option<MountHandle>>,
    listener: Mutex<Option<std::os::unix::net::UnixListener>>,
    /// One commit, unmount or state save at a time.
    busy: Mutex<()>,
}

fn start(mut entry: MountEntry, remount: bool) -> Result<Arc<Server>, DismError> {
    let image = entry.image_file.clone();
    let popts = ProjectionOptions {
        fix_root: Some(entry.mount_dir.clone()),
        ..ProjectionOptions::default()
    };
    let projection = if entry.parts.is_empty() {
        Projection::open(&image, entry.index, popts)
    } else {
        WimSource::open_parts(&entry.parts, ChunkCache::new(DEFAULT_CACHE_BYTES))
            .map_err(FsError::from)
            .and_then(|s| Projection::new(Arc::new(s), entry.index, popts))
    };
    let projection = Arc::new(projection.map_err(|e| fs_error(&image, &e))?);
    let overlay = match (&entry.scratch, entry.read_write) {
        (Some(scratch), true) => {
            let o = if remount {
                match Overlay::restore(projection.clone(), scratch) {
                    Ok(Some(o)) => {
                        log("restored the changes saved before the server stopped");
                        o
                    }
                    Ok(None) => {
                        log("no saved changes match the image: remounting it unchanged");
                        fresh_overlay(projection.clone(), scratch)?
                    }
                    Err(e) => {
                        log(&format!(
                            "saved changes unreadable ({e}): remounting unchanged"
                        ));
                        fresh_overlay(projection.clone(), scratch)?
                    }
                }
            } else {
                fresh_overlay(projection.clone(), scratch)?
            };
            Some(Arc::new(o))
        }
        _ => None,
    };
    let listener = server::bind(&entry.socket_path()).map_err(|e| {
        DismError::new(
            code::GEN_FAILURE,
            format!(
                "The mount's control socket cannot be made.\n{}: {e}",
                entry.socket_path().display()
            ),
        )
    })?;
    let opts = MountOptions {
        fsname: format!("wimkit:{}", image.display()),
        ..MountOptions::default()
    };
    let dir = entry.mount_dir.clone();
    let handle = match &overlay {
        Some(o) => mount(o.clone(), &dir, &opts),
        None => mount(projection.clone(), &dir, &opts),
    }
    .map_err(|e| {
        DismError::new(
            code::GEN_FAILURE,
            format!(
                "The image could not be mounted.\n{}: {e} (is /dev/fuse there?)",
                dir.display()
            ),
        )
    })?;
    entry.pid = std::process::id();
    entry.save().map_err(|e| registry_write_error(&entry, &e))?;
    log(&format!(
        "mounted image {} of {} on {} ({})",
        entry.index,
        image.display(),
        dir.display(),
        if entry.read_write {
            "read-write"
        } else {
            "read-only"
        }
    ));
    Ok(Arc::new(Server {
        entry: Mutex::new(entry),
        overlay,
        handle: Mutex::new(Some(handle)),
        listener: Mutex::new(Some(listener)),
        busy: Mutex::new(()),
    }))
}

fn fresh_overlay(p: Arc<Projection>, scratch: &Path) -> Result<Overlay, DismError> {
    let _ = std::fs::remove_dir_all(scratch);
    Overlay::new(p, scratch).map_err(|e| {
        DismError::new(
            code::GEN_FAILURE,
            format!(
                "The scratch directory cannot be used.\n{}: {e}",
                scratch.display()
            ),
        )
    })
}

impl Server {
    fn entry(&self) -> MountEntry {
        self.entry.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn run(self: Arc<Self>) -> u8 {
        // Saves the overlay's state for a remount after a crash. Under `busy`,
        // so that a save never runs beside an unmount, which removes the
        // scratch directory the state is saved in (a save racing it left the
        // directory behind).
        if let Some(o) = self.overlay.clone() {
            let me = self.clone();
            std::thread::spawn(move || {
                let mut saved = u64::MAX;
                loop {
                    std::thread::sleep(Duration::from_millis(500));
                    let _busy = me.busy.lock().unwrap_or_else(|p| p.into_inner());
                    let g = o.generation();
                    if g != saved {
                        match o.save_state() {
                            Ok(()) => saved = g,
                            Err(e) => log(&format!("saving the overlay state failed: {e}")),
                        }
                    }
                }
            });
        }
        // Ends the server when the directory is unmounted from outside (the entry
        // stays: the mount needs a remount).
        let dir = self.entry().mount_dir;
        let me = self.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let _busy = me.busy.lock().unwrap_or_else(|p| p.into_inner());
            if !server::is_mounted(&dir) {
                log("the directory was unmounted from outside: stopping");
                if let Some(o) = &me.overlay {
                    let _ = o.save_state();
                }
                std::process::exit(0);
            }
        });
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .expect("the listener");
        let me = self.clone();
        server::serve_requests(listener, Arc::new(move |req, r| me.handle(req, r)));
        0
    }

    fn handle(&self, req: Request, r: &mut Responder) {
        match req {
            Request::Status => {
                if server::is_mounted(&self.entry().mount_dir) {
                    r.ok("mounted");
                } else {
                    r.error(mount_code::CANNOT_COMMIT, "the directory is not mounted");
                }
            }
            Request::Commit { append, integrity } => {
                let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
                match self.commit(append, integrity, r) {
                    Ok(()) => r.ok("committed"),
                    Err(e) => r.error(e.code, &e.message),
                }
            }
            Request::Unmount {
                commit,
                append,
                integrity,
            } => {
                let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
                if commit {
                    if let Err(e) = self.commit(append, integrity, r) {
                        return r.error(e.code, &e.message);
                    }
                }
                let entry = self.entry();
                if let Err(e) = server::unmount(&entry.mount_dir, false) {
                    log(&format!("unmount failed: {e}"));
                    return r.error(
                        mount_code::UNMOUNT_BUSY,
                        &format!(
                            "The directory could not be completely unmounted. Close the files open in it and try again.\n{}: {e}",
                            entry.mount_dir.display()
                        ),
                    );
                }
                log(&format!(
                    "unmounted {} ({})",
                    entry.mount_dir.display(),
                    if commit { "committed" } else { "discarded" }
                ));
                // The session ended with the unmount; the handle has nothing left to do.
                std::mem::forget(self.handle.lock().unwrap_or_else(|p| p.into_inner()).take());
                entry.remove();
                r.ok("unmounted");
                std::process::exit(0);
            }
        }
    }

    fn commit(&self, append: bool, integrity: bool, r: &mut Responder) -> Result<(), DismError> {
        let entry = self.entry();
        let Some(overlay) = &self.overlay else {
            return Err(DismError::new(
                mount_code::CANNOT_COMMIT,
                format!(
                    "The image is mounted read-only: there is nothing to commit.\n{}",
                    entry.mount_dir.display()
                ),
            ));
        };
        let opts = CommitOptions {
            append,
            integrity,
            threads: None,
        };
        let report = commit(
            overlay,
            &entry.image_file,
            entry.index,
            &opts,
            &mut |d, t| r.progress(d, t),
        )
        .map_err(|e| fs_error(&entry.image_file, &e))?;
        log(&format!(
            "committed to image {} of {}: {} new blobs, {} bytes",
            report.index,
            entry.image_file.display(),
            report.new_blobs,
            report.new_bytes
        ));
        if !append {
            let mut e = self.entry.lock().unwrap_or_else(|p| p.into_inner());
            e.set_metadata_hash(&report.metadata_hash);
            let _ = e.save();
        }
        Ok(())
    }
}

/// The error of a mount registry entry that cannot be written.
pub(crate) fn registry_write_error(entry: &MountEntry, e: &std::io::Error) -> DismError {
    DismError::new(
        code::ACCESS_DENIED,
        format!(
            "The mount registry cannot be written.\n{}: {e}",
            entry.entry_path().display()
        ),
    )
}
