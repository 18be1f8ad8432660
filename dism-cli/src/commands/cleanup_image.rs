//! `/Cleanup-Image /ImageFile:<f> [/SWMFile:<pattern>] {/CheckHealth | /ScanHealth}`:
//! DISM's health verbs applied to an image file.

use wim_format::integrity::IntegrityStatus;
use wim_format::verify::scan_health;

use super::Context;
use crate::args::{flag, value, OptionSpec, Options};
use crate::error::{code, DismError};
use crate::open::ImageFile;
use crate::progress::Progress;

pub const OPTIONS: &[OptionSpec] = &[
    value("ImageFile"),
    value("SWMFile"),
    flag("CheckHealth"),
    flag("ScanHealth"),
];

pub const HELP: &str = "Dism /Cleanup-Image /ImageFile:<path_to_image_file> [/SWMFile:<pattern>]
    {/CheckHealth | /ScanHealth}

  Checks an image file (an extension of DISM's verbs to WIM, ESD and SWM files).

  /CheckHealth  Checks the structure: header, blob table, XML, every image's
                metadata, and the integrity table when there is one. Quick.
  /ScanHealth   Also decodes every resource and checks every blob's SHA-1,
                listing each damaged blob with the files that use it.

  The exit status is 0 for a healthy file and 13 for a damaged one.

    Example:
      Dism /Cleanup-Image /ImageFile:install.esd /ScanHealth";

pub fn run(ctx: &mut Context, opts: &Options) -> Result<(), DismError> {
    let scan = match (opts.has("CheckHealth"), opts.has("ScanHealth")) {
        (true, false) => false,
        (false, true) => true,
        _ => {
            return Err(DismError::new(
                code::INVALID_PARAMETER,
                format!(
                    "Give one of /CheckHealth and /ScanHealth. {}",
                    crate::error::HELP_HINT
                ),
            ))
        }
    };
    let file = ImageFile::open(opts.require("ImageFile")?, opts.get("SWMFile"))?;
    let wim = file.wim()?;
    let mut problems: Vec<String> = Vec::new();
    match wim.check_integrity() {
        Ok(IntegrityStatus::Mismatch { part, chunk }) => problems.push(format!(
            "chunk {chunk} of part {part} does not match the integrity table"
        )),
        Ok(_) => {}
        Err(e) => problems.push(format!("integrity table: {e}")),
    }
    if let Err(e) = wim.xml() {
        problems.push(format!("XML data: {e}"));
    }
    for index in 1..=wim.image_count() {
        match wim.image(index) {
            Ok(image) => {
                problems.extend(image.warnings.iter().map(|w| format!("image {index}: {w}")))
            }
            Err(e) => problems.push(format!("image {index} metadata: {e}")),
        }
    }
    if scan {
        let progress = std::sync::Mutex::new(Progress::start("Scanning image", ctx.quiet));
        let report = scan_health(&wim, ctx.threads, &|p| {
            if let Ok(mut bar) = progress.lock() {
                bar.update(p.bytes_done, p.bytes_total);
            }
        })
        .map_err(|e| file.error(&e))?;
        if let Ok(bar) = progress.into_inner() {
            bar.finish();
        }
        ctx.log.info(&format!(
            "Checked {} blobs, {} bytes",
            report.blobs_checked, report.bytes
        ));
        for damaged in &report.damaged {
            let hash: String = damaged.hash.iter().map(|b| format!("{b:02x}")).collect();
            let mut line = format!("blob {hash}: {}", damaged.error);
            for (image, path) in &damaged.used_by {
                line.push_str(&format!("\n    used by image {image}: {path}"));
            }
            problems.push(line);
        }
    }
    for p in &problems {
        ctx.log.error(p);
        let _ = writeln!(ctx.out, "{p}");
    }
    if problems.is_empty() {
        if !ctx.quiet {
            let _ = writeln!(
                ctx.out,
                "No corruption was detected in {}.",
                file.path.display()
            );
        }
        Ok(())
    } else {
        Err(DismError::new(
            code::INVALID_DATA,
            format!(
                "The image file is damaged: {} problem(s) found.\n{}",
                problems.len(),
                file.path.display()
            ),
        ))
    }
}
