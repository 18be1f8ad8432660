//! `/Optimize-Image`: rebuilds an image file without the data nothing uses.

use std::path::Path;

use wim_format::write::optimize;

use super::writing::{verify_written, write_options};
use super::Context;
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::DismError;
use crate::open::{format_error, ImageFile};
use crate::progress::Progress;

pub const OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("Compress"),
    value("ChunkSize"),
    flag("CheckIntegrity"),
    flag("Verify"),
];

pub const HELP: &str = "Dism /Optimize-Image /ImageFile:<path_to_image_file>
    [/Compress:{none|fast|max|recovery|xpress|lzx|lzms}] [/ChunkSize:<bytes>]
    [/CheckIntegrity] [/Verify]

  Rebuilds an image file offline (as wimlib-imagex optimize does): data no
  image uses is dropped, and with /Compress everything is recompressed. The new
  file is written beside the old one and replaces it only when complete.

    Example:
      Dism /Optimize-Image /ImageFile:install.wim /Compress:max";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let path = opts.require("ImageFile")?;
    // Fail early, with the usual errors, on a file that is not an image file.
    let integrity = {
        let file = ImageFile::open(path, None)?;
        file.wim()?.has_integrity_table()
    };
    let mut write = write_options(ctx, opts, wim_format::Compression::Xpress)?;
    write.integrity |= integrity;
    let recompress = opts.has("Compress");
    ctx.log
        .info(&format!("Optimizing {path} (recompress: {recompress})"));
    let bar = Progress::start("Saving image", ctx.quiet);
    optimize(Path::new(path), &write, recompress).map_err(|e| format_error(Path::new(path), &e))?;
    bar.finish();
    if opts.has("Verify") {
        verify_written(ctx, Path::new(path))?;
    }
    Ok(())
}
