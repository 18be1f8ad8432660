//! `/Split-Image`: an image file into parts of a set size (`x.swm`, `x2.swm`, ...).

use std::path::Path;

use wim_format::write::split;

use super::Context;
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::{code, DismError};
use crate::open::{format_error, ImageFile};
use crate::progress::Progress;

pub const OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("SWMFile"),
    value("FileSize"),
    flag("CheckIntegrity"),
];

pub const HELP: &str = "Dism /Split-Image /ImageFile:<path_to_image_file> /SWMFile:<path_to_swm>
    /FileSize:<MB-Size> [/CheckIntegrity]

  Splits an image file into read-only parts of at most /FileSize megabytes:
  the first is /SWMFile (install.swm), the next install2.swm, install3.swm and
  so on, all with one GUID. A part can be larger to hold one large file.
  Apply or export the set with /SWMFile:install*.swm.

    Example:
      Dism /Split-Image /ImageFile:install.wim /SWMFile:install.swm /FileSize:4000";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let file = ImageFile::open(opts.require("ImageFile")?, None)?;
    let first = Path::new(opts.require("SWMFile")?);
    let megabytes: u64 = opts
        .number("FileSize")?
        .ok_or_else(|| DismError::missing_argument("FileSize"))?;
    if megabytes == 0 {
        return Err(DismError::invalid_argument("0", "FileSize"));
    }
    let wim = file.wim()?;
    if wim.is_split() {
        return Err(DismError::new(
            code::INVALID_PARAMETER,
            format!("The image file is already split.\n{}", file.path.display()),
        ));
    }
    ctx.log.info(&format!(
        "Splitting {} into parts of {megabytes} MB from {}",
        file.path.display(),
        first.display()
    ));
    let bar = Progress::start("Splitting image", ctx.quiet);
    let parts = split(&wim, first, megabytes << 20, opts.has("CheckIntegrity"))
        .map_err(|e| format_error(first, &e))?;
    bar.finish();
    ctx.log.info(&format!("Wrote {} parts", parts.len()));
    Ok(())
}
