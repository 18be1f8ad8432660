//! What the writing commands share: `/Compress` and `/ChunkSize`, the capture
//! options, `/Verify`, and errors of the written file.

use std::path::Path;

use wim_format::capture::{CaptureConfig, CaptureOptions, CaptureProgress};
use wim_format::verify::scan_health;
use wim_format::write::WriteOptions;
use wim_format::{Compression, WimFile};

use super::Context;
use crate::args::Options;
use crate::error::{code, DismError};
use crate::open::format_error;
use crate::progress::Progress;

/// `/Compress:<type>`: DISM's names and the codecs' own. When absent: what
/// WIMBoot images are written with if `/WIMBoot` is given, else `None`.
pub fn compression(opts: &Options) -> Result<Option<WriteOptions>, DismError> {
    let Some(value) = opts.get("Compress") else {
        return Ok(opts.has("WIMBoot").then(WriteOptions::wimboot));
    };
    let mut w = match value.to_ascii_lowercase().as_str() {
        "none" => WriteOptions::new(Compression::None),
        "fast" | "xpress" => WriteOptions::new(Compression::Xpress),
        "max" | "maximum" | "lzx" => WriteOptions::new(Compression::Lzx),
        "lzms" => WriteOptions::new(Compression::Lzms),
        "recovery" => WriteOptions::recovery(),
        _ => return Err(DismError::invalid_argument(value, "Compress")),
    };
    if let Some(size) = opts.number::<u32>("ChunkSize")? {
        let ok = size.is_power_of_two()
            && match w.compression {
                Compression::None => false,
                Compression::Xpress => (4096..=65536).contains(&size),
                Compression::Lzx => (32768..=1 << 21).contains(&size),
                Compression::Lzms => (32768..=1 << 30).contains(&size),
            };
        if !ok {
            return Err(DismError::invalid_argument(&size.to_string(), "ChunkSize"));
        }
        if w.solid {
            w.solid_chunk_size = Some(size);
        } else {
            w.chunk_size = Some(size);
        }
    }
    Ok(Some(w))
}

/// The write options of a command: `/Compress` (or `default`), `/CheckIntegrity`, `/Threads`.
pub fn write_options(
    ctx: &Context,
    opts: &Options,
    default: Compression,
) -> Result<WriteOptions, DismError> {
    if opts.has("ChunkSize") && !opts.has("Compress") {
        return Err(DismError::new(
            code::INVALID_PARAMETER,
            format!("/ChunkSize needs /Compress. {}", crate::error::HELP_HINT),
        ));
    }
    let mut w = compression(opts)?.unwrap_or_else(|| WriteOptions::new(default));
    w.integrity = opts.has("CheckIntegrity");
    w.threads = ctx.threads;
    Ok(w)
}

/// `/Name`, `/Description`, `/ConfigFile`, `/NoUnixData`, `/NoRpFix`, `/WIMBoot`.
pub fn capture_options(opts: &Options) -> Result<CaptureOptions, DismError> {
    let config = match opts.get("ConfigFile") {
        Some(path) => Some(
            CaptureConfig::read(Path::new(path)).map_err(|e| format_error(Path::new(path), &e))?,
        ),
        None => None,
    };
    Ok(CaptureOptions {
        name: Some(opts.require("Name")?.to_string()),
        description: opts.get("Description").map(str::to_string),
        flags: None,
        unix_data: !opts.has("NoUnixData"),
        rpfix: !opts.has("NoRpFix"),
        config,
        bootable: opts.has("Bootable"),
        wimboot: opts.has("WIMBoot"),
    })
}

/// The source directory of a capture, checked before anything is written.
pub fn capture_dir(opts: &Options) -> Result<&Path, DismError> {
    let dir = Path::new(opts.require("CaptureDir")?);
    match std::fs::metadata(dir) {
        Ok(md) if md.is_dir() => Ok(dir),
        Ok(_) => Err(DismError::new(
            code::DIRECTORY_INVALID,
            format!(
                "The directory name is invalid.\n{}: not a directory",
                dir.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DismError::new(
            code::PATH_NOT_FOUND,
            format!(
                "The system cannot find the path specified.\n{}: {e}",
                dir.display()
            ),
        )),
        Err(e) => Err(DismError::new(
            code::ACCESS_DENIED,
            format!(
                "The capture directory cannot be read.\n{}: {e}",
                dir.display()
            ),
        )),
    }
}

/// A progress bar fed by capture progress: scanning is logged, writing drawn.
pub fn capture_progress<'a>(bar: &'a mut Progress) -> impl FnMut(CaptureProgress) + 'a {
    move |p| {
        if let CaptureProgress::Writing { done, total } = p {
            bar.update(done, total);
        }
    }
}

/// Shows and logs a capture's warnings.
pub fn report_warnings(ctx: &mut Context, warnings: &[String]) {
    for warning in warnings {
        ctx.log.warn(warning);
        if !ctx.quiet {
            let _ = writeln!(ctx.out, "Warning: {warning}");
        }
    }
}

/// `/Verify`: reads back every blob of the written file and checks its SHA-1.
pub fn verify_written(ctx: &mut Context, path: &Path) -> Result<(), DismError> {
    let file = WimFile::open(path).map_err(|e| format_error(path, &e))?;
    let wim = file.wim().map_err(|e| format_error(path, &e))?;
    let report = scan_health(&wim, ctx.threads, &|_| {}).map_err(|e| format_error(path, &e))?;
    if !report.damaged.is_empty() {
        return Err(DismError::new(
            code::INVALID_DATA,
            format!(
                "The written image does not read back correctly.\n{}: {} damaged blobs",
                path.display(),
                report.damaged.len()
            ),
        ));
    }
    ctx.log.info(&format!(
        "{}: every blob reads back with its SHA-1",
        path.display()
    ));
    Ok(())
}
