//! Opening image files for commands, with errors that name the file and say what is wrong.

use std::path::{Path, PathBuf};

use wim_format::{Error as FormatError, Wim};

use crate::error::{code, DismError};

/// An image file's bytes, held while a command works on it.
pub struct ImageFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl ImageFile {
    pub fn read(path: &str) -> Result<ImageFile, DismError> {
        let bytes = std::fs::read(path).map_err(|e| io_error(Path::new(path), &e))?;
        Ok(ImageFile {
            path: PathBuf::from(path),
            bytes,
        })
    }

    pub fn wim(&self) -> Result<Wim<'_>, DismError> {
        Wim::parse(&self.bytes).map_err(|e| format_error(&self.path, &e))
    }
}

pub fn io_error(path: &Path, e: &std::io::Error) -> DismError {
    use std::io::ErrorKind::*;
    let (code, what) = match e.kind() {
        NotFound => (
            code::FILE_NOT_FOUND,
            "The system cannot find the file specified.",
        ),
        PermissionDenied => (code::ACCESS_DENIED, "Access is denied."),
        _ => (code::GEN_FAILURE, "The file could not be read."),
    };
    DismError::new(code, format!("{what}\n{}: {e}", path.display()))
}

/// Maps a format error to DISM's codes: not a WIM at all is ERROR_BAD_FORMAT (11),
/// damage is ERROR_INVALID_DATA (13, as dism.exe reports damaged images), an unsupported feature ERROR_NOT_SUPPORTED (50).
pub fn format_error(path: &Path, e: &FormatError) -> DismError {
    let code = match e {
        FormatError::BadMagic(_)
        | FormatError::BadHeaderSize(_)
        | FormatError::UnknownVersion(_) => code::BAD_FORMAT,
        FormatError::Truncated { what, .. } if what.contains("header") => code::BAD_FORMAT,
        FormatError::Unsupported(_) => code::NOT_SUPPORTED,
        FormatError::NoSuchImage { .. } => code::INVALID_PARAMETER,
        _ => code::INVALID_DATA,
    };
    let lead = match code {
        code::BAD_FORMAT => "The file is not a valid image file.",
        code::NOT_SUPPORTED => "The image file uses a feature that is not supported.",
        code::INVALID_PARAMETER => "The specified image does not exist in the image file.",
        _ => "The image file is damaged.",
    };
    DismError::new(code, format!("{lead}\n{}: {e}", path.display()))
}
