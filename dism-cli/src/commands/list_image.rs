//! `/List-Image /ImageFile:<f> {/Index:<n> | /Name:<s>}`: every path of an image, one a line.

use super::{required_image, Context};
use crate::args::{value, OptionSpec, Options};
use crate::error::DismError;
use crate::open::ImageFile;

pub const OPTIONS: &[OptionSpec] = &[value("ImageFile"), value("Index"), value("Name")];

pub const HELP: &str =
    "Dism /List-Image /ImageFile:<path_to_image.wim> {/Index:<image_index> | /Name:<image_name>}

  Lists the files and folders in an image, one path a line.

    Example:
      Dism /List-Image /ImageFile:install.wim /Index:1";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let file = ImageFile::open(opts.require("ImageFile")?, None)?;
    let wim = file.wim()?;
    let index = required_image(opts, &file, &wim, "List-Image")?;
    let image = wim.image(index).map_err(|e| file.error(&e))?;
    for warning in &image.warnings {
        ctx.log.warn(&format!("{}: {warning}", file.path.display()));
    }
    let out = &mut *ctx.out;
    for (path, _) in image.walk() {
        let shown = if path == "/" {
            "\\".to_string()
        } else {
            path.replace('/', "\\")
        };
        let _ = writeln!(out, "{shown}");
    }
    Ok(())
}
