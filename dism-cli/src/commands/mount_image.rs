//! The mount commands: `/Mount-Image`, `/Commit-Image`, `/Unmount-Image`,
//! `/Remount-Image`, `/Get-MountedImageInfo`, `/Cleanup-Mountpoints`.
//!
//! `/Mount-Image` starts a server process (the same binary, see
//! [`super::mount_server`]) that holds the FUSE mount and returns once the mount
//! works; the mount is recorded in the registry (`wim_mount::registry`), and the other
//! commands find it there and talk to its server over its control socket.

use std::path::{Path, PathBuf};

use wim_mount::registry::{self, MountEntry, Status};

use super::Context;
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::{code, DismError};

#[cfg(target_os = "linux")]
use super::mount_server::{mount_code, registry_write_error, SERVER_ARG};
#[cfg(target_os = "linux")]
use crate::progress::Progress;

/// Mounts past this many slow every unmount down (DISM's best practices).
pub const MOUNT_WARN_COUNT: usize = 20;

pub const MOUNT_OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("SWMFile"),
    value("Index"),
    value("Name"),
    value("MountDir"),
    flag("ReadOnly"),
    flag("Optimize"),
    flag("CheckIntegrity"),
];

pub const MOUNT_HELP: &str = "Dism /Mount-Image /ImageFile:<path_to_image_file>
    {/Index:<image_index> | /Name:<image_name>} /MountDir:<target_mount_directory>
    [/ReadOnly] [/Optimize] [/CheckIntegrity]

  Mounts an image of a WIM file on an empty directory (FUSE), read-write unless
  /ReadOnly: changes are kept in a scratch directory (/ScratchDir, or the mount
  registry) until /Commit-Image or /Unmount-Image /Commit writes them into the WIM.
  The command returns once the mount works; a server process keeps it.

  /ReadOnly       Mounts read-only (split images and read-only files need it).
  /SWMFile        The parts of a split image (default: <name>*.swm beside it).
  /Optimize       Accepted for compatibility (mounting is always fast).
  /CheckIntegrity Stops if the file does not match its integrity table.

    Example:
      Dism /Mount-Image /ImageFile:install.wim /Index:1 /MountDir:/mnt/offline";

pub const COMMIT_OPTIONS: &[OptionSpec] =
    &[value("MountDir"), flag("Append"), flag("CheckIntegrity")];

pub const COMMIT_HELP: &str = "Dism /Commit-Image /MountDir:<target_mount_directory>
    [/Append] [/CheckIntegrity]

  Writes the changes made in a mounted image into its WIM file, in place (only new
  data and a new metadata resource are written; the header last). The image stays
  mounted.

  /Append         Adds the mounted tree as a new image instead of replacing the
                  mounted one.
  /CheckIntegrity Writes an integrity table.

    Example:
      Dism /Commit-Image /MountDir:/mnt/offline";

pub const UNMOUNT_OPTIONS: &[OptionSpec] = &[
    value("MountDir"),
    flag("Commit"),
    flag("Discard"),
    flag("Append"),
    flag("CheckIntegrity"),
];

pub const UNMOUNT_HELP: &str = "Dism /Unmount-Image /MountDir:<target_mount_directory>
    {/Commit | /Discard} [/Append] [/CheckIntegrity]

  Unmounts an image, first committing its changes (/Commit) or dropping them
  (/Discard: the WIM file is left as it was).

  /Append         With /Commit: adds the tree as a new image.
  /CheckIntegrity With /Commit: writes an integrity table.

    Example:
      Dism /Unmount-Image /MountDir:/mnt/offline /Commit";

pub const REMOUNT_OPTIONS: &[OptionSpec] = &[value("MountDir")];

pub const REMOUNT_HELP: &str = "Dism /Remount-Image /MountDir:<target_mount_directory>

  Brings back a mount that stopped working (its server died: /Get-MountedImageInfo
  shows Needs Remount), with the changes it had saved.

    Example:
      Dism /Remount-Image /MountDir:/mnt/offline";

pub const INFO_OPTIONS: &[OptionSpec] = &[];

pub const INFO_HELP: &str = "Dism /Get-MountedImageInfo

  Lists the mounted images: mount directory, image file, index, whether read-write,
  and status (Ok, Needs Remount, Invalid).";

pub const CLEANUP_OPTIONS: &[OptionSpec] = &[];

pub const CLEANUP_HELP: &str = "Dism /Cleanup-Mountpoints

  Removes what broken mounts left behind (stale mounts, scratch directories,
  registry entries). Working mounts are left alone.";

#[cfg(not(target_os = "linux"))]
fn unsupported() -> DismError {
    DismError::new(
        code::NOT_SUPPORTED,
        "Mounting images needs Linux (FUSE) in this version of dism.",
    )
}

/// The mount directory of a command, made absolute.
fn mount_dir(opts: &Options) -> Result<PathBuf, DismError> {
    Ok(registry::normalize(Path::new(opts.require("MountDir")?)))
}

/// The registered mount on `/MountDir`.
fn registered(opts: &Options) -> Result<MountEntry, DismError> {
    let dir = mount_dir(opts)?;
    registry::find(&dir).ok_or_else(|| {
        DismError::new(
            code::INVALID_PARAMETER,
            format!(
                "No image is mounted on the specified directory.\n{}: not in the mount registry ({})",
                dir.display(),
                registry::registry_dir().display()
            ),
        )
    })
}

fn no_server(e: &MountEntry) -> DismError {
    #[cfg(target_os = "linux")]
    let c = mount_code::CANNOT_COMMIT;
    #[cfg(not(target_os = "linux"))]
    let c = code::NOT_SUPPORTED;
    DismError::new(
        c,
        format!(
            "The mounted image is not working: its server is gone. Run dism /Remount-Image /MountDir:{} first.",
            e.mount_dir.display()
        ),
    )
}

pub fn info(ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
    let entries = registry::list();
    if entries.is_empty() {
        if !ctx.quiet {
            let _ = writeln!(ctx.out, "No mounted images found.\n");
        }
        return Ok(());
    }
    let mut text = String::from("Mounted images:\n\n");
    for e in &entries {
        #[cfg(target_os = "linux")]
        let status = registry::status(e);
        #[cfg(not(target_os = "linux"))]
        let status = Status::Invalid;
        text.push_str(&format!(
            "Mount Dir : {}\nImage File : {}\nImage Index : {}\nMounted Read/Write : {}\nStatus : {}\n\n",
            e.mount_dir.display(),
            e.image_file.display(),
            e.index,
            if e.read_write { "Yes" } else { "No" },
            status.text()
        ));
    }
    if !ctx.quiet {
        let _ = write!(ctx.out, "{text}");
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn mount(_ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
    Err(unsupported())
}
#[cfg(not(target_os = "linux"))]
pub fn commit(_ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
    Err(unsupported())
}
#[cfg(not(target_os = "linux"))]
pub fn unmount(_ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
    Err(unsupported())
}
#[cfg(not(target_os = "linux"))]
pub fn remount(_ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
    Err(unsupported())
}
#[cfg(not(target_os = "linux"))]
pub fn cleanup(_ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
    let _ = (registered, no_server, Status::Ok);
    Err(unsupported())
}

#[cfg(target_os = "linux")]
pub use linux::{cleanup, commit, mount, remount, unmount};

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use wim_mount::server::{self, Outcome, Request};

    use super::*;
    use crate::commands::apply_image::check_integrity;
    use crate::commands::required_image;
    use crate::error::HELP_HINT;
    use crate::open::ImageFile;

    fn hex(h: &[u8]) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn not_empty(dir: &Path, why: &str) -> DismError {
        DismError::new(
            mount_code::DIR_NOT_EMPTY,
            format!(
                "The user attempted to mount to a directory that is not empty. This is not supported.\n{}: {why}",
                dir.display()
            ),
        )
    }

    /// Checks the mount directory: it exists, is a directory, is empty, has no mount.
    fn check_mount_dir(dir: &Path) -> Result<(), DismError> {
        if registry::find(dir).is_some() || server::is_mounted(dir) {
            return Err(not_empty(
                dir,
                "an image is mounted there already (see /Get-MountedImageInfo; /Remount-Image or /Cleanup-Mountpoints for a broken one)",
            ));
        }
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(DismError::new(
                    code::DIRECTORY_INVALID,
                    format!(
                        "The directory name is invalid.\n{}: not a directory",
                        dir.display()
                    ),
                ))
            }
            Err(e) => {
                return Err(DismError::new(
                    code::PATH_NOT_FOUND,
                    format!(
                        "The system cannot find the path specified.\n{}: {e}",
                        dir.display()
                    ),
                ))
            }
        }
        let mut it = std::fs::read_dir(dir).map_err(|e| {
            DismError::new(
                code::ACCESS_DENIED,
                format!("Access is denied.\n{}: {e}", dir.display()),
            )
        })?;
        if it.next().is_some() {
            return Err(not_empty(dir, "it has entries"));
        }
        Ok(())
    }

    fn read_only_file(path: &Path) -> DismError {
        DismError::new(
            mount_code::NO_WRITE_PERMISSION,
            format!(
                "You do not have permissions to mount and modify this image.\n{}: the file is read-only; mount it with /ReadOnly",
                path.display()
            ),
        )
    }

    pub fn mount(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
        let image_arg = opts.require("ImageFile")?;
        let dir = mount_dir(opts)?;
        let read_write = !opts.has("ReadOnly");
        let pattern = opts.get("SWMFile").map(str::to_string).or_else(|| {
            let p = Path::new(image_arg);
            let ext = p.extension()?.to_str()?;
            ext.eq_ignore_ascii_case("swm").then(|| {
                let stem = p.file_stem().unwrap_or_default().to_string_lossy();
                p.with_file_name(format!("{stem}*.{ext}"))
                    .display()
                    .to_string()
            })
        });
        let file = ImageFile::open(image_arg, pattern.as_deref())?;
        let wim = file.wim()?;
        let index = required_image(opts, &file, &wim, "Mount-Image")?;
        let image_file = std::fs::canonicalize(&file.path).map_err(|e| {
            DismError::new(
                code::FILE_NOT_FOUND,
                format!("{}: {e}", file.path.display()),
            )
        })?;
        for p in [&image_file, &dir] {
            if p.to_string_lossy().contains('\n') {
                return Err(DismError::invalid_argument(
                    &p.display().to_string(),
                    "MountDir",
                ));
            }
        }
        if read_write {
            if wim.is_split() || wim.header.total_parts > 1 {
                return Err(DismError::new(
                    code::NOT_SUPPORTED,
                    format!(
                        "A split image file cannot be mounted for servicing (read-write); mount it with /ReadOnly.\n{}: part {} of {}",
                        image_file.display(),
                        wim.header.part_number,
                        wim.header.total_parts
                    ),
                ));
            }
            let ro = std::fs::metadata(&image_file)
                .map(|m| m.permissions().readonly())
                .unwrap_or(true)
                || std::fs::OpenOptions::new()
                    .write(true)
                    .open(&image_file)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
            if ro {
                return Err(read_only_file(&image_file));
            }
        }
        let entries = registry::list();
        if read_write {
            if let Some(e) = entries
                .iter()
                .find(|e| e.read_write && e.image_file == image_file && e.index == index)
            {
                return Err(DismError::new(
                    mount_code::ALREADY_MOUNTED_RW,
                    format!(
                        "The specified image in the specified wim is already mounted for read and write access.\n{} image {index}: mounted on {}",
                        image_file.display(),
                        e.mount_dir.display()
                    ),
                ));
            }
        }
        check_mount_dir(&dir)?;
        if opts.has("CheckIntegrity") {
            check_integrity(ctx, &file)?;
        }
        if entries.len() >= MOUNT_WARN_COUNT {
            let w = format!(
                "{} images are mounted already; more than {MOUNT_WARN_COUNT} slow every unmount down (DISM's best practices).",
                entries.len()
            );
            ctx.log.warn(&w);
            if !ctx.quiet {
                let _ = writeln!(ctx.out, "Warning: {w}");
            }
        }
        let parts: Vec<PathBuf> = if wim.is_split() {
            (1..=wim.header.total_parts)
                .filter_map(|n| file.set.part_path(n))
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
                .collect()
        } else {
            Vec::new()
        };
        let metadata_hash = wim
            .blob_table
            .metadata_blobs()
            .nth(index as usize - 1)
            .map(|b| hex(&b.hash))
            .unwrap_or_default();
        drop(wim);
        drop(file);
        let scratch = read_write.then(|| match opts.get("ScratchDir") {
            Some(s) => registry::normalize(Path::new(s))
                .join(format!("wimkit-mount-{}", MountEntry::id_of(&dir))),
            None => MountEntry::default_scratch(&dir),
        });
        let entry = MountEntry {
            mount_dir: dir.clone(),
            image_file: image_file.clone(),
            index,
            read_write,
            pid: 0,
            scratch,
            metadata_hash,
            parts,
        };
        entry.create().map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                not_empty(&dir, "an image is being mounted there")
            } else {
                registry_write_error(&entry, &e)
            }
        })?;
        ctx.log.info(&format!(
            "Mounting image {index} of {} on {} ({})",
            image_file.display(),
            dir.display(),
            if read_write {
                "read-write"
            } else {
                "read-only"
            }
        ));
        let progress = Progress::start("Mounting image", ctx.quiet);
        if let Err(e) = start_server(&entry, false) {
            entry.remove();
            return Err(e);
        }
        progress.finish();
        Ok(())
    }

    /// Starts the server of `entry` and waits until it mounted (or failed).
    fn start_server(entry: &MountEntry, remount: bool) -> Result<(), DismError> {
        let exe = std::env::current_exe().map_err(|e| {
            DismError::new(code::GEN_FAILURE, format!("dism cannot find itself: {e}"))
        })?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(entry.log_path())
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let mut cmd = Command::new(exe);
        cmd.arg(SERVER_ARG).arg(entry.entry_path());
        if remount {
            cmd.arg("remount");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .current_dir("/")
            .spawn()
            .map_err(|e| {
                DismError::new(
                    code::GEN_FAILURE,
                    format!("The mount server could not be started: {e}"),
                )
            })?;
        let out = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let line = line.trim_end();
        if line == "ready" {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix("error ") {
            let _ = child.wait();
            let (c, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            return Err(DismError::new(
                c.parse().unwrap_or(code::GEN_FAILURE),
                msg.replace("\\n", "\n").replace("\\\\", "\\"),
            ));
        }
        let status = child.wait();
        Err(DismError::new(
            code::GEN_FAILURE,
            format!(
                "The mount server stopped before the image was mounted ({status:?}); see {}",
                entry.log_path().display()
            ),
        ))
    }

    /// Sends `req` to the server of `entry`, drawing progress under `label`.
    fn ask(
        ctx: &mut Context,
        entry: &MountEntry,
        req: Request,
        label: &str,
    ) -> Result<(), DismError> {
        let mut bar = Progress::start(label, ctx.quiet);
        let outcome = server::request(&entry.socket_path(), &req, &mut |d, t| bar.update(d, t))
            .map_err(|_| no_server(entry))?;
        match outcome {
            Outcome::Ok(_) => {
                bar.finish();
                Ok(())
            }
            Outcome::Failed { code, message } => Err(DismError::new(code, message)),
        }
    }

    pub fn commit(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
        let entry = registered(opts)?;
        if !entry.read_write {
            return Err(DismError::new(
                mount_code::CANNOT_COMMIT,
                format!(
                    "The image is mounted read-only: there is nothing to commit.\n{}",
                    entry.mount_dir.display()
                ),
            ));
        }
        if !server::ping(&entry.socket_path()) {
            return Err(no_server(&entry));
        }
        ctx.log.info(&format!(
            "Committing {} into image {} of {}",
            entry.mount_dir.display(),
            entry.index,
            entry.image_file.display()
        ));
        let req = Request::Commit {
            append: opts.has("Append"),
            integrity: opts.has("CheckIntegrity"),
        };
        ask(ctx, &entry, req, "Saving image")
    }

    pub fn unmount(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
        let commit = match (opts.has("Commit"), opts.has("Discard")) {
            (true, false) => true,
            (false, true) => false,
            _ => {
                return Err(DismError::new(
                    code::INVALID_PARAMETER,
                    format!("/Unmount-Image needs /Commit or /Discard (one of them). {HELP_HINT}"),
                ))
            }
        };
        if !commit && (opts.has("Append") || opts.has("CheckIntegrity")) {
            return Err(DismError::new(
                code::INVALID_PARAMETER,
                format!("/Append and /CheckIntegrity go with /Commit. {HELP_HINT}"),
            ));
        }
        let entry = registered(opts)?;
        if commit && !entry.read_write {
            return Err(DismError::new(
                mount_code::CANNOT_COMMIT,
                format!(
                    "The image is mounted read-only: unmount it with /Discard.\n{}",
                    entry.mount_dir.display()
                ),
            ));
        }
        ctx.log.info(&format!(
            "Unmounting {} ({})",
            entry.mount_dir.display(),
            if commit { "commit" } else { "discard" }
        ));
        if !server::ping(&entry.socket_path()) {
            if commit {
                return Err(no_server(&entry));
            }
            // A dead mount: take away what it left.
            let bar = Progress::start("Unmounting image", ctx.quiet);
            clean(ctx, &entry);
            bar.finish();
            return Ok(());
        }
        if commit {
            ask(
                ctx,
                &entry,
                Request::Unmount {
                    commit,
                    append: opts.has("Append"),
                    integrity: opts.has("CheckIntegrity"),
                },
                "Saving image",
            )?;
            let bar = Progress::start("Unmounting image", ctx.quiet);
            bar.finish();
            Ok(())
        } else {
            ask(
                ctx,
                &entry,
                Request::Unmount {
                    commit: false,
                    append: false,
                    integrity: false,
                },
                "Unmounting image",
            )
        }
    }

    /// Removes a broken mount: its stale FUSE mount, a hung server, its scratch
    /// directory and registry entry.
    fn clean(ctx: &mut Context, entry: &MountEntry) {
        if server::is_mounted(&entry.mount_dir) {
            if let Err(e) = server::unmount(&entry.mount_dir, true) {
                ctx.log.warn(&format!("{}: {e}", entry.mount_dir.display()));
            }
        }
        stop_hung_server(entry);
        entry.remove();
        ctx.log.info(&format!(
            "Removed the broken mount of {}",
            entry.mount_dir.display()
        ));
    }

    /// Stops the server of `entry` if it is alive but does not answer (only a process
    /// that is that mount's server, not whatever got its pid).
    fn stop_hung_server(entry: &MountEntry) {
        if entry.pid == 0 || !registry::process_alive(entry.pid) {
            return;
        }
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", entry.pid)).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let ours = args.iter().any(|a| *a == SERVER_ARG.as_bytes())
            && args
                .iter()
                .any(|a| *a == entry.entry_path().as_os_str().as_encoded_bytes());
        if ours {
            let _ = Command::new("kill")
                .args(["-KILL", &entry.pid.to_string()])
                .status();
            for _ in 0..50 {
                if !registry::process_alive(entry.pid) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }

    pub fn remount(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
        let entry = registered(opts)?;
        match registry::status(&entry) {
            Status::Ok => {
                ctx.log.info(&format!(
                    "{} is mounted and working: nothing to remount",
                    entry.mount_dir.display()
                ));
                return Ok(());
            }
            Status::Invalid => {
                return Err(DismError::new(
                    code::INVALID_DATA,
                    format!(
                        "The mounted image cannot be remounted: its image file is gone or the image changed. Run dism /Cleanup-Mountpoints.\n{} image {}",
                        entry.image_file.display(),
                        entry.index
                    ),
                ))
            }
            Status::NeedsRemount => {}
        }
        ctx.log.info(&format!(
            "Remounting image {} of {} on {}",
            entry.index,
            entry.image_file.display(),
            entry.mount_dir.display()
        ));
        if server::is_mounted(&entry.mount_dir) {
            server::unmount(&entry.mount_dir, true).map_err(|e| {
                DismError::new(
                    mount_code::UNMOUNT_BUSY,
                    format!(
                        "The broken mount could not be taken away.\n{}: {e}",
                        entry.mount_dir.display()
                    ),
                )
            })?;
        }
        stop_hung_server(&entry);
        let bar = Progress::start("Mounting image", ctx.quiet);
        start_server(&entry, true)?;
        bar.finish();
        Ok(())
    }

    pub fn cleanup(ctx: &mut Context, _opts: &Options) -> Result<(), DismError> {
        let mut removed = 0;
        for e in registry::list() {
            // A mount being made right now (its server not started yet).
            let young = std::fs::metadata(e.entry_path())
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() < 120);
            if e.pid == 0 && young {
                continue;
            }
            if registry::status(&e) != Status::Ok {
                clean(ctx, &e);
                removed += 1;
            }
        }
        for p in registry::orphans() {
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            removed += 1;
        }
        ctx.log
            .info(&format!("Cleaned up {removed} broken mounts and leftovers"));
        Ok(())
    }
}
