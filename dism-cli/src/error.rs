//! DISM's error model: a numeric code, a message, and the exit status derived from the code.

use std::fmt;

/// Codes dism.exe uses, with the same numbers.
pub mod code {
    /// ERROR_FILE_NOT_FOUND.
    pub const FILE_NOT_FOUND: u32 = 2;
    /// ERROR_PATH_NOT_FOUND.
    pub const PATH_NOT_FOUND: u32 = 3;
    /// ERROR_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 5;
    /// ERROR_INVALID_DATA: the file is damaged.
    pub const INVALID_DATA: u32 = 13;
    /// ERROR_INVALID_PARAMETER: a bad or missing option.
    pub const INVALID_PARAMETER: u32 = 87;
    /// ERROR_NOT_SUPPORTED.
    pub const NOT_SUPPORTED: u32 = 50;
    /// ERROR_DISK_FULL.
    pub const DISK_FULL: u32 = 112;
    /// ERROR_DIRECTORY: the name is not a directory.
    pub const DIRECTORY_INVALID: u32 = 267;
    /// ERROR_FILE_EXISTS.
    pub const FILE_EXISTS: u32 = 80;
    /// An operation failed for a reason with no closer Win32 code.
    pub const GEN_FAILURE: u32 = 31;
    /// The image file is damaged or not a WIM (WIMGAPI's ERROR_BAD_FORMAT).
    pub const BAD_FORMAT: u32 = 11;
}

/// A failed DISM command: what `Error: <code>` and the message show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DismError {
    pub code: u32,
    pub message: String,
}

impl DismError {
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn unknown_option(token: &str) -> Self {
        Self::new(
            code::INVALID_PARAMETER,
            format!("DISM doesn't recognize the command-line option \"{token}\". {HELP_HINT}"),
        )
    }

    pub fn missing_argument(option: &str) -> Self {
        Self::new(
            code::INVALID_PARAMETER,
            format!("The /{option} option is missing a required argument. {HELP_HINT}"),
        )
    }

    pub fn invalid_argument(value: &str, option: &str) -> Self {
        Self::new(
            code::INVALID_PARAMETER,
            format!("The {value} argument given for the /{option} option is invalid. {HELP_HINT}"),
        )
    }

    /// The code as dism.exe prints it: decimal for Win32 codes, hex for HRESULT-style ones.
    pub fn code_text(&self) -> String {
        if self.code < 0x10000 {
            self.code.to_string()
        } else {
            format!("0x{:08x}", self.code)
        }
    }

    /// The process exit status. dism.exe exits with the code itself; POSIX keeps
    /// only 8 bits, so larger codes exit with their low byte (255 where that is 0).
    pub fn exit_status(&self) -> u8 {
        match (self.code & 0xff) as u8 {
            0 => 255,
            low => low,
        }
    }
}

pub const HELP_HINT: &str = "For more information, refer to the help by running dism /?.";

impl fmt::Display for DismError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error: {}\n\n{}", self.code_text(), self.message)
    }
}

impl std::error::Error for DismError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_like_dism() {
        assert_eq!(DismError::new(87, "x").code_text(), "87");
        assert_eq!(DismError::new(0xc1420127, "x").code_text(), "0xc1420127");
        assert_eq!(DismError::new(87, "x").exit_status(), 87);
        assert_eq!(DismError::new(0xc1420127, "x").exit_status(), 0x27);
        assert_eq!(DismError::new(0xc1420100, "x").exit_status(), 255);
    }
}
