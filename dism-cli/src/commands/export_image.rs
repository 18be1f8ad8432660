//! `/Export-Image`: images of one file (or a split set) into another, new or existing.

use std::path::Path;

use wim_format::write::{export_images, ExportOptions};

use super::writing::{compression, verify_written};
use super::{image_infos, select_image, Context};
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::{code, DismError};
use crate::open::{format_error, ImageFile};
use crate::progress::Progress;

pub const OPTIONS: &[OptionSpec] = &[
    value("SourceImageFile"),
    value("SWMFile"),
    value("SourceIndex"),
    value("SourceName"),
    value("DestinationImageFile"),
    value("DestinationName"),
    value("DestinationDescription"),
    value("Compress"),
    value("ChunkSize"),
    flag("Bootable"),
    flag("WIMBoot"),
    flag("CheckIntegrity"),
    flag("Verify"),
];

pub const HELP: &str =
    "Dism /Export-Image /SourceImageFile:<path_to_image_file> [/SWMFile:<pattern>]
    {/SourceIndex:<image_index> | /SourceName:<image_name> | /SourceIndex:*}
    /DestinationImageFile:<path_to_image_file> [/DestinationName:<image_name>]
    [/Compress:{none|fast|max|recovery|xpress|lzx|lzms}] [/ChunkSize:<bytes>]
    [/Bootable] [/WIMBoot] [/CheckIntegrity] [/Verify]

  Copies an image (or every image, with /SourceIndex:*) to another image file.
  A new destination is written with /Compress (default: the source's); an
  existing one keeps its compression and gains the image. Data the destination
  holds already is not stored again; resources whose compression matches are
  copied without recompressing. /SWMFile joins the parts of a split image.
  /Compress:recovery (solid LZMS) needs a destination ending in .esd.
  /WIMBoot marks the exported images WIMBoot-compatible; a new destination
  without /Compress is then XPRESS in 4096-byte chunks.

    Example:
      Dism /Export-Image /SourceImageFile:install.wim /SourceIndex:1
           /DestinationImageFile:install.esd /Compress:recovery";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let source = ImageFile::open(opts.require("SourceImageFile")?, opts.get("SWMFile"))?;
    let dest = Path::new(opts.require("DestinationImageFile")?);
    let wim = source.wim()?;
    let infos = image_infos(&source, &wim)?;
    let indexes: Vec<u32> = if opts.get("SourceIndex") == Some("*") {
        if opts.has("SourceName") {
            return Err(both_given());
        }
        (1..=wim.image_count()).collect()
    } else {
        let selection = opts.renamed(&[("SourceIndex", "Index"), ("SourceName", "Name")]);
        match select_image(&selection, &infos, &source.path)? {
            Some(i) => vec![i],
            None => {
                return Err(DismError::new(
                    code::INVALID_PARAMETER,
                    format!(
                        "/Export-Image needs /SourceIndex or /SourceName. {}",
                        crate::error::HELP_HINT
                    ),
                ))
            }
        }
    };
    let mut write = match compression(opts)? {
        Some(w) => w,
        None => {
            // The source's compression (a solid source stays solid).
            let mut w = wim_format::write::WriteOptions::new(wim.header.compression);
            w.solid = !wim.blob_table.solid_resources.is_empty();
            if !w.solid && wim.header.compression != wim_format::Compression::None {
                w.chunk_size = Some(wim.header.chunk_size);
            }
            w
        }
    };
    if write.solid
        && opts
            .get("Compress")
            .is_some_and(|c| c.eq_ignore_ascii_case("recovery"))
        && !dest
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("esd"))
    {
        return Err(DismError::new(
            code::INVALID_PARAMETER,
            format!(
                "/Compress:recovery is only supported for a destination image file with the .esd extension.\n{}",
                dest.display()
            ),
        ));
    }
    if dest.exists() && opts.has("Compress") {
        let warning = format!(
            "{} exists: the image is added with the file's own compression",
            dest.display()
        );
        ctx.log.warn(&warning);
        if !ctx.quiet {
            let _ = writeln!(ctx.out, "Warning: {warning}");
        }
    }
    write.integrity = opts.has("CheckIntegrity");
    write.threads = ctx.threads;
    let export = ExportOptions {
        write,
        name: opts.get("DestinationName").map(str::to_string),
        description: opts.get("DestinationDescription").map(str::to_string),
        bootable: opts.has("Bootable"),
        wimboot: opts.has("WIMBoot"),
    };
    if export.name.is_some() && indexes.len() > 1 {
        return Err(DismError::new(
            code::INVALID_PARAMETER,
            format!(
                "/DestinationName names one image; /SourceIndex:* exports several. {}",
                crate::error::HELP_HINT
            ),
        ));
    }
    ctx.log.info(&format!(
        "Exporting image(s) {indexes:?} of {} to {}",
        source.path.display(),
        dest.display()
    ));
    let bar = Progress::start("Exporting image", ctx.quiet);
    export_images(&wim, &indexes, dest, &export).map_err(|e| format_error(dest, &e))?;
    bar.finish();
    if opts.has("Verify") {
        verify_written(ctx, dest)?;
    }
    Ok(())
}

fn both_given() -> DismError {
    DismError::new(
        code::INVALID_PARAMETER,
        format!(
            "Give /SourceIndex or /SourceName, not both. {}",
            crate::error::HELP_HINT
        ),
    )
}
