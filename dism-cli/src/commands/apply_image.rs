//! `/Apply-Image /ImageFile:<f> [/SWMFile:<pattern>] {/Index | /Name} /ApplyDir:<dir>
//! [/CheckIntegrity] [/Verify] [/NoUnixData] [/NoRpFix]`.

use std::path::Path;

use wim_format::apply::{apply_image, ApplyOptions};
use wim_format::integrity::IntegrityStatus;

use super::{required_image, Context};
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::{code, DismError};
use crate::open::ImageFile;
use crate::progress::Progress;

pub const OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("SWMFile"),
    value("Index"),
    value("Name"),
    value("ApplyDir"),
    flag("CheckIntegrity"),
    flag("Verify"),
    flag("NoUnixData"),
    flag("NoRpFix"),
    flag("ConfirmTrustedFile"),
];

pub const HELP: &str = "Dism /Apply-Image /ImageFile:<path_to_image_file> [/SWMFile:<pattern>]
    /ApplyDir:<target_directory> {/Index:<image_index> | /Name:<image_name>}
    [/CheckIntegrity] [/Verify] [/NoUnixData] [/NoRpFix]

  Applies an image to a directory: files, directories, hard links, symbolic links
  and times. When the image carries wimlib's UNIX data (captured with --unix-data),
  owners, modes, device nodes, FIFOs and extended attributes are restored too.
  Named data streams and Windows security descriptors cannot be applied on this
  system: dism says how many were left out.

  /SWMFile        The other parts of a split image (e.g. install*.swm).
  /CheckIntegrity Stops if the file does not match its integrity table.
  /Verify         Every file's data is checked against its SHA-1 as it is written
                  (always done; accepted for compatibility).
  /NoUnixData     Ignores UNIX data: default modes, the caller's ownership.
  /NoRpFix        Keeps absolute symbolic link targets as stored.

    Example:
      Dism /Apply-Image /ImageFile:install.wim /Index:1 /ApplyDir:/mnt/windows";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let file = ImageFile::open(opts.require("ImageFile")?, opts.get("SWMFile"))?;
    let target = Path::new(opts.require("ApplyDir")?);
    let wim = file.wim()?;
    if opts.has("CheckIntegrity") {
        check_integrity(ctx, &file)?;
    }
    let index = required_image(opts, &file, &wim, "Apply-Image")?;
    let options = ApplyOptions {
        unix_data: !opts.has("NoUnixData"),
        threads: ctx.threads,
        rpfix: opts.has("NoRpFix").then_some(false),
    };
    ctx.log.info(&format!(
        "Applying image {index} of {} to {}",
        file.path.display(),
        target.display()
    ));
    let mut progress = Progress::start("Applying image", ctx.quiet);
    let report = apply_image(&wim, index, target, &options, &mut |done, total| {
        progress.update(done, total)
    })
    .map_err(|e| apply_error(&file, target, &e))?;
    progress.finish();
    for warning in &report.warnings {
        ctx.log.warn(warning);
        if !ctx.quiet {
            let _ = writeln!(ctx.out, "Warning: {warning}");
        }
    }
    ctx.log.info(&format!(
        "Applied {} directories, {} files, {} hard links, {} symbolic links, {} special files, {} bytes",
        report.directories, report.files, report.hard_links, report.symlinks, report.special_files, report.bytes
    ));
    Ok(())
}

/// Errors of the target side (disk full, permissions) name the target; the rest the image.
fn apply_error(file: &ImageFile, target: &Path, e: &wim_format::Error) -> DismError {
    use std::io::ErrorKind;
    match e.root() {
        wim_format::Error::Access { kind, .. } if !matches!(e, wim_format::Error::File { path, .. } if path == &file.path) =>
        {
            let code = match kind {
                ErrorKind::PermissionDenied => code::ACCESS_DENIED,
                ErrorKind::StorageFull => code::DISK_FULL,
                ErrorKind::NotFound => code::FILE_NOT_FOUND,
                _ => code::GEN_FAILURE,
            };
            DismError::new(
                code,
                format!(
                    "The image could not be applied to {}.\n{e}",
                    target.display()
                ),
            )
        }
        _ => file.error(e),
    }
}

pub fn check_integrity(ctx: &mut Context, file: &ImageFile) -> Result<(), DismError> {
    let wim = file.wim()?;
    match wim.check_integrity().map_err(|e| file.error(&e))? {
        IntegrityStatus::Ok => {
            ctx.log.info(&format!("{}: the integrity table matches", file.path.display()));
            Ok(())
        }
        IntegrityStatus::NoTable => {
            ctx.log.warn(&format!("{}: no integrity table to check", file.path.display()));
            Ok(())
        }
        IntegrityStatus::Mismatch { part, chunk } => Err(DismError::new(
            code::INVALID_DATA,
            format!(
                "The image file does not match its integrity table.\n{}: chunk {chunk} of part {part} differs",
                file.path.display()
            ),
        )),
    }
}
