//! Opening image files for commands, with errors that name the file and say what is wrong.

use std::path::{Path, PathBuf};

use wim_format::split::SplitSet;
use wim_format::{Error as FormatError, Wim};

use crate::error::{code, DismError};

/// An image file (or a split set: its first part and the parts `/SWMFile` finds),
/// memory-mapped while a command works on it.
pub struct ImageFile {
    pub path: PathBuf,
    pub set: SplitSet,
}

impl ImageFile {
    pub fn open(path: &str, swm_pattern: Option<&str>) -> Result<ImageFile, DismError> {
        let set =
            SplitSet::open(path, swm_pattern).map_err(|e| format_error(Path::new(path), &e))?;
        Ok(ImageFile {
            path: PathBuf::from(path),
            set,
        })
    }

    pub fn wim(&self) -> Result<Wim<'_>, DismError> {
        self.set.wim().map_err(|e| format_error(&self.path, &e))
    }

    /// Maps an error of a later read of this file.
    pub fn error(&self, e: &FormatError) -> DismError {
        format_error(&self.path, e)
    }
}

/// Maps a format error to DISM's codes: a missing file is 2, no access 5, not a WIM at
/// all ERROR_BAD_FORMAT (11), damage ERROR_INVALID_DATA (13, as dism.exe reports damaged
/// images), an unsupported feature ERROR_NOT_SUPPORTED (50).
pub fn format_error(path: &Path, e: &FormatError) -> DismError {
    use std::io::ErrorKind;
    let (code, lead) = match e.root() {
        FormatError::Access {
            kind: ErrorKind::NotFound,
            ..
        } => (
            code::FILE_NOT_FOUND,
            "The system cannot find the file specified.",
        ),
        FormatError::Access {
            kind: ErrorKind::PermissionDenied,
            ..
        } => (code::ACCESS_DENIED, "Access is denied."),
        FormatError::Access {
            kind: ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge,
            ..
        } => (code::DISK_FULL, "There is not enough space on the disk."),
        FormatError::Access { .. } => (code::GEN_FAILURE, "The file could not be read."),
        FormatError::BadMagic(_)
        | FormatError::BadHeaderSize(_)
        | FormatError::UnknownVersion(_) => {
            (code::BAD_FORMAT, "The file is not a valid image file.")
        }
        FormatError::Truncated { what, .. } if what.contains("header") => {
            (code::BAD_FORMAT, "The file is not a valid image file.")
        }
        FormatError::Unsupported(_) => (
            code::NOT_SUPPORTED,
            "The image file uses a feature that is not supported.",
        ),
        FormatError::NoSuchImage { .. } => (
            code::INVALID_PARAMETER,
            "The specified image does not exist in the image file.",
        ),
        FormatError::MissingPart { .. }
        | FormatError::DuplicatePart { .. }
        | FormatError::NotFirstPart { .. }
        | FormatError::SplitGuidMismatch { .. }
        | FormatError::SplitPartCountMismatch { .. } => (
            code::INVALID_PARAMETER,
            "The parts of the split image file do not form one set.",
        ),
        _ => (code::INVALID_DATA, "The image file is damaged."),
    };
    let detail = match e {
        FormatError::File { .. } => e.to_string(),
        _ => format!("{}: {e}", path.display()),
    };
    DismError::new(code, format!("{lead}\n{detail}"))
}
