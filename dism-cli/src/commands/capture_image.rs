//! `/Capture-Image` and `/Append-Image`: a directory tree into a new image file,
//! or as a new image of an existing one.

use std::path::Path;

use wim_format::capture::{append_image, create_wim};
use wim_format::Compression;

use super::writing::{
    capture_dir, capture_options, capture_progress, report_warnings, verify_written, write_options,
};
use super::Context;
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::DismError;
use crate::open::format_error;
use crate::progress::Progress;

pub const CAPTURE_OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("CaptureDir"),
    value("Name"),
    value("Description"),
    value("ConfigFile"),
    value("Compress"),
    value("ChunkSize"),
    flag("Bootable"),
    flag("WIMBoot"),
    flag("CheckIntegrity"),
    flag("Verify"),
    flag("NoUnixData"),
    flag("NoRpFix"),
];

pub const APPEND_OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("CaptureDir"),
    value("Name"),
    value("Description"),
    value("ConfigFile"),
    flag("Bootable"),
    flag("WIMBoot"),
    flag("CheckIntegrity"),
    flag("Verify"),
    flag("NoUnixData"),
    flag("NoRpFix"),
];

pub const CAPTURE_HELP: &str =
    "Dism /Capture-Image /ImageFile:<path_to_image_file> /CaptureDir:<source_directory>
    /Name:<image_name> [/Description:<image_description>] [/ConfigFile:<wimscript.ini>]
    [/Compress:{none|fast|max|recovery|xpress|lzx|lzms}] [/ChunkSize:<bytes>]
    [/Bootable] [/WIMBoot] [/CheckIntegrity] [/Verify] [/NoUnixData] [/NoRpFix]

  Captures a directory tree into a new image file (replacing one that exists,
  once the new one is complete). Content is stored once per SHA-1; hard links,
  symbolic links (as reparse points), times and, unless /NoUnixData, owners,
  modes, device numbers, FIFOs and extended attributes (wimlib's UNIX data).

  /Compress       fast (XPRESS, the default), max (LZX), lzms, recovery (solid
                  LZMS as in .esd files) or none.
  /ChunkSize      Chunk size in bytes, a power of two (solid chunks for recovery).
  /ConfigFile     A WimScript.ini: [ExclusionList], [ExclusionException],
                  [CompressionExclusionList]. Without it DISM's default
                  exclusions apply.
  /WIMBoot        Marks the image WIMBoot-compatible; without /Compress it is
                  XPRESS in 4096-byte chunks, and without /ConfigFile the
                  tree's Windows/System32/WimBootCompress.ini gives the
                  exclusions when it has one.
  /CheckIntegrity Writes an integrity table.
  /Verify         Reads every blob back and checks its SHA-1.
  /NoRpFix        Stores absolute symbolic link targets as they are.

    Example:
      Dism /Capture-Image /ImageFile:data.wim /CaptureDir:/srv/data /Name:Data";

pub const APPEND_HELP: &str =
    "Dism /Append-Image /ImageFile:<path_to_image_file> /CaptureDir:<source_directory>
    /Name:<image_name> [/Description:<image_description>] [/ConfigFile:<wimscript.ini>]
    [/Bootable] [/WIMBoot] [/CheckIntegrity] [/Verify] [/NoUnixData] [/NoRpFix]

  Captures a directory tree as a new image at the end of an existing image file.
  Content the file already holds is not stored again; the file keeps its
  compression. The new data is written after the old and the header last, so an
  interruption leaves the file with its original images.

    Example:
      Dism /Append-Image /ImageFile:data.wim /CaptureDir:/srv/data /Name:\"Data 2\"";

pub fn capture(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    run(ctx, opts, false)
}

pub fn append(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    run(ctx, opts, true)
}

/// Both commands: `append` adds to the existing file in place, otherwise a new
/// file replaces any there once complete.
fn run(ctx: &mut Context, opts: &Options, append: bool) -> Result<(), DismError> {
    let image_file = Path::new(opts.require("ImageFile")?);
    let dir = capture_dir(opts)?;
    let copts = capture_options(opts)?;
    let wopts = write_options(ctx, opts, Compression::Xpress)?;
    ctx.log.info(&format!(
        "{} {} {} {}",
        if append { "Appending" } else { "Capturing" },
        dir.display(),
        if append { "to" } else { "into" },
        image_file.display(),
    ));
    let write = if append { append_image } else { create_wim };
    let mut bar = Progress::start("Saving image", ctx.quiet);
    let report = write(
        image_file,
        dir,
        &copts,
        &wopts,
        &mut capture_progress(&mut bar),
    )
    .map_err(|e| format_error(image_file, &e))?;
    bar.finish();
    finish(ctx, opts, image_file, &report)
}

fn finish(
    ctx: &mut Context,
    opts: &Options,
    image_file: &Path,
    report: &wim_format::capture::CaptureReport,
) -> Result<(), DismError> {
    report_warnings(ctx, &report.warnings);
    ctx.log.info(&format!(
        "Captured {} directories, {} files, {} bytes ({} excluded)",
        report.counts.dir_count,
        report.counts.file_count,
        report.counts.total_bytes,
        report.excluded
    ));
    if opts.has("Verify") {
        verify_written(ctx, image_file)?;
    }
    Ok(())
}
