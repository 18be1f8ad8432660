//! `/Delete-Image`: removes an image's metadata and XML, in place.

use std::path::Path;

use wim_format::write::{delete_image, WriteOptions};

use super::{required_image, Context};
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::{code, DismError};
use crate::open::{format_error, ImageFile};

pub const OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("Index"),
    value("Name"),
    flag("CheckIntegrity"),
];

pub const HELP: &str = "Dism /Delete-Image /ImageFile:<path_to_image_file>
    {/Index:<image_index> | /Name:<image_name>} [/CheckIntegrity]

  Deletes an image from an image file: its metadata and its XML entry go, data
  no other image uses leaves the blob table. The file does not shrink; run
  /Optimize-Image to drop the unused data. The header is written last, so an
  interruption leaves the file as it was.

    Example:
      Dism /Delete-Image /ImageFile:install.wim /Index:2";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let path = opts.require("ImageFile")?;
    let index = {
        let file = ImageFile::open(path, None)?;
        let wim = file.wim()?;
        if wim.image_count() == 1 {
            return Err(DismError::new(
                code::INVALID_PARAMETER,
                format!("The image file has only one image; it cannot be deleted.\n{path}"),
            ));
        }
        required_image(opts, &file, &wim, "Delete-Image")?
    };
    let write = WriteOptions {
        integrity: opts.has("CheckIntegrity"),
        threads: ctx.threads,
        ..WriteOptions::default()
    };
    ctx.log.info(&format!("Deleting image {index} of {path}"));
    delete_image(Path::new(path), index, &write).map_err(|e| format_error(Path::new(path), &e))?;
    Ok(())
}
