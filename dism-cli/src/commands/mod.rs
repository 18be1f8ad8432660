//! The servicing commands: each declares its options, its help and what it runs.

pub mod apply_image;
pub mod capture_image;
pub mod cleanup_image;
pub mod delete_image;
pub mod export_image;
pub mod get_image_info;
pub mod list_image;
pub mod mount_image;
#[cfg(target_os = "linux")]
pub mod mount_server;
pub mod optimize_image;
pub mod split_image;
pub mod writing;

use std::io::Write;
use std::path::Path;

use wim_format::xml::ImageInfo;
use wim_format::Wim;

use crate::open::ImageFile;

use crate::args::{flag, value, OptionSpec, Options};
use crate::error::DismError;
use crate::log::Log;

/// What a command runs with.
pub struct Context<'a> {
    pub out: &'a mut dyn Write,
    pub log: &'a mut Log,
    pub quiet: bool,
    /// `/Threads:N` (1 = one core); `None` uses every core.
    pub threads: Option<usize>,
}

pub struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    /// The syntax line and the options, shown by `dism /<name> /?`.
    pub help: &'static str,
    pub options: &'static [OptionSpec],
    pub run: fn(&mut Context, &Options) -> Result<(), DismError>,
}

impl Command {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// Options every command accepts.
pub const GLOBAL_OPTIONS: &[OptionSpec] = &[
    value("LogPath"),
    value("LogLevel"),
    value("ScratchDir"),
    flag("Quiet"),
    flag("English"),
    value("Format"),
    flag("NoRestart"),
    value("Threads"),
];

/// Every command this dism knows. Commands land here as they are implemented.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "Get-ImageInfo",
        aliases: &["Get-WimInfo"],
        summary: "Displays information about images in a WIM, ESD or SWM file.",
        help: get_image_info::HELP,
        options: get_image_info::OPTIONS,
        run: get_image_info::run,
    },
    Command {
        name: "Apply-Image",
        aliases: &[],
        summary: "Applies an image to a directory.",
        help: apply_image::HELP,
        options: apply_image::OPTIONS,
        run: apply_image::run,
    },
    Command {
        name: "Cleanup-Image",
        aliases: &[],
        summary: "Checks an image file's structure (/CheckHealth) or every blob (/ScanHealth).",
        help: cleanup_image::HELP,
        options: cleanup_image::OPTIONS,
        run: cleanup_image::run,
    },
    Command {
        name: "Capture-Image",
        aliases: &[],
        summary: "Captures a directory into a new image file.",
        help: capture_image::CAPTURE_HELP,
        options: capture_image::CAPTURE_OPTIONS,
        run: capture_image::capture,
    },
    Command {
        name: "Append-Image",
        aliases: &[],
        summary: "Adds a directory as a new image to an existing image file.",
        help: capture_image::APPEND_HELP,
        options: capture_image::APPEND_OPTIONS,
        run: capture_image::append,
    },
    Command {
        name: "Export-Image",
        aliases: &[],
        summary: "Exports a copy of an image to another image file.",
        help: export_image::HELP,
        options: export_image::OPTIONS,
        run: export_image::run,
    },
    Command {
        name: "Delete-Image",
        aliases: &[],
        summary: "Deletes an image from an image file that has several.",
        help: delete_image::HELP,
        options: delete_image::OPTIONS,
        run: delete_image::run,
    },
    Command {
        name: "Optimize-Image",
        aliases: &[],
        summary: "Rebuilds an image file without unused data, optionally recompressed.",
        help: optimize_image::HELP,
        options: optimize_image::OPTIONS,
        run: optimize_image::run,
    },
    Command {
        name: "Split-Image",
        aliases: &[],
        summary: "Splits an image file into parts (.swm) of a given size.",
        help: split_image::HELP,
        options: split_image::OPTIONS,
        run: split_image::run,
    },
    Command {
        name: "List-Image",
        aliases: &[],
        summary: "Displays a list of the files and folders in a specified image.",
        help: list_image::HELP,
        options: list_image::OPTIONS,
        run: list_image::run,
    },
    Command {
        name: "Mount-Image",
        aliases: &["Mount-Wim"],
        summary: "Mounts an image from a WIM file on a directory (read-write or /ReadOnly).",
        help: mount_image::MOUNT_HELP,
        options: mount_image::MOUNT_OPTIONS,
        run: mount_image::mount,
    },
    Command {
        name: "Commit-Image",
        aliases: &["Commit-Wim"],
        summary: "Saves the changes of a mounted image into its WIM file.",
        help: mount_image::COMMIT_HELP,
        options: mount_image::COMMIT_OPTIONS,
        run: mount_image::commit,
    },
    Command {
        name: "Unmount-Image",
        aliases: &["Unmount-Wim"],
        summary: "Unmounts an image, committing (/Commit) or discarding (/Discard) its changes.",
        help: mount_image::UNMOUNT_HELP,
        options: mount_image::UNMOUNT_OPTIONS,
        run: mount_image::unmount,
    },
    Command {
        name: "Remount-Image",
        aliases: &["Remount-Wim"],
        summary: "Brings back a mounted image that stopped working.",
        help: mount_image::REMOUNT_HELP,
        options: mount_image::REMOUNT_OPTIONS,
        run: mount_image::remount,
    },
    Command {
        name: "Get-MountedImageInfo",
        aliases: &["Get-MountedWimInfo"],
        summary: "Lists the mounted images and their status.",
        help: mount_image::INFO_HELP,
        options: mount_image::INFO_OPTIONS,
        run: mount_image::info,
    },
    Command {
        name: "Cleanup-Mountpoints",
        aliases: &["Cleanup-Wim"],
        summary: "Removes what broken mounts left behind.",
        help: mount_image::CLEANUP_HELP,
        options: mount_image::CLEANUP_OPTIONS,
        run: mount_image::cleanup,
    },
];

/// Every image's XML data, in index order (an image the XML leaves out gets an
/// entry with only its index).
pub fn image_infos(file: &ImageFile, wim: &Wim<'_>) -> Result<Vec<ImageInfo>, DismError> {
    let xml = wim.xml().map_err(|e| file.error(&e))?;
    Ok((1..=wim.image_count())
        .map(|i| {
            xml.image(i).cloned().unwrap_or(ImageInfo {
                index: Some(i),
                ..ImageInfo::default()
            })
        })
        .collect())
}

/// The image a command that needs one (`/Index` or `/Name`) works on.
pub fn required_image(
    opts: &Options,
    file: &ImageFile,
    wim: &Wim<'_>,
    command: &str,
) -> Result<u32, DismError> {
    let infos = image_infos(file, wim)?;
    select_image(opts, &infos, &file.path)?.ok_or_else(|| {
        DismError::new(
            crate::error::code::INVALID_PARAMETER,
            format!(
                "/{command} needs /Index or /Name. {}",
                crate::error::HELP_HINT
            ),
        )
    })
}

/// The image `/Index` or `/Name` selects (1-based), or `None` when neither is given.
pub fn select_image(
    opts: &Options,
    infos: &[ImageInfo],
    path: &Path,
) -> Result<Option<u32>, DismError> {
    let missing = |what: String| {
        DismError::new(
            crate::error::code::INVALID_PARAMETER,
            format!(
                "The specified image does not exist in the image file.\n{}: no image {what}",
                path.display()
            ),
        )
    };
    match (opts.number::<u32>("Index")?, opts.get("Name")) {
        (Some(_), Some(_)) => Err(DismError::new(
            crate::error::code::INVALID_PARAMETER,
            format!(
                "Give /Index or /Name, not both. {}",
                crate::error::HELP_HINT
            ),
        )),
        (Some(i), None) if i == 0 || i as usize > infos.len() => {
            Err(missing(format!("with index {i} (it has {})", infos.len())))
        }
        (Some(i), None) => Ok(Some(i)),
        (None, Some(name)) => infos
            .iter()
            .position(|info| info.name.as_deref() == Some(name))
            .or_else(|| {
                infos.iter().position(|info| {
                    info.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
            .map(|i| Some(i as u32 + 1))
            .ok_or_else(|| missing(format!("named \"{name}\""))),
        (None, None) => Ok(None),
    }
}

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.is(name))
}
