//! The DISM log file: `2022-02-15 12:41:13, Info                  DISM   <message>`.
//!
//! Default place: `/var/log/dism/dism.log` for root, else `$XDG_STATE_HOME/dism/dism.log`
//! (`~/.local/state/dism/dism.log`). A log past [`ARCHIVE_BYTES`] is renamed with `.bak`
//! appended (replacing the previous archive) and a new one is started, as dism.exe does.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{code, DismError};
use crate::time::DateTime;

/// Size past which the log is archived to `<log>.bak`.
pub const ARCHIVE_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 1,
    Warning = 2,
    Info = 3,
    Debug = 4,
}

pub struct Log {
    file: Option<File>,
    path: PathBuf,
    level: Level,
}

pub fn default_path() -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            return PathBuf::from("/var/log/dism/dism.log");
        }
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir);
    state.join("dism").join("dism.log")
}

impl Log {
    /// Opens the log for appending. `/LogLevel` outside 1..=4 is error 87. A log
    /// named with `/LogPath` that cannot be opened is an error; the default one
    /// is best effort (a read-only home must not stop a read-only command).
    pub fn open(path: Option<&str>, level: Option<&str>) -> Result<Log, DismError> {
        let level = match level {
            None => Level::Info,
            Some("1") => Level::Error,
            Some("2") => Level::Warning,
            Some("3") => Level::Info,
            Some("4") => Level::Debug,
            Some(_) => {
                return Err(DismError::new(
                    code::INVALID_PARAMETER,
                    "An invalid log level was specified.",
                ))
            }
        };
        let explicit = path.is_some();
        let path = path.map(PathBuf::from).unwrap_or_else(default_path);
        match open_rotated(&path) {
            Ok(file) => Ok(Log {
                file: Some(file),
                path,
                level,
            }),
            Err(e) if explicit => Err(DismError::new(
                code::ACCESS_DENIED,
                format!("The log file {} cannot be opened: {e}", path.display()),
            )),
            Err(_) => Ok(Log {
                file: None,
                path,
                level,
            }),
        }
    }

    /// A log that writes nothing (for tests and for `/?`).
    pub fn disabled() -> Log {
        Log {
            file: None,
            path: PathBuf::new(),
            level: Level::Error,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, level: Level, message: &str) {
        if level > self.level {
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let name = match level {
            Level::Error => "Error",
            Level::Warning => "Warning",
            Level::Info => "Info",
            Level::Debug => "Debug",
        };
        for line in message.lines() {
            // A failing log write must not fail the operation it records.
            let _ = writeln!(
                file,
                "{}, {:<22}DISM   {}",
                DateTime::now().log_format(),
                name,
                line
            );
        }
    }

    pub fn info(&mut self, message: &str) {
        self.write(Level::Info, message);
    }

    pub fn warn(&mut self, message: &str) {
        self.write(Level::Warning, message);
    }

    pub fn error(&mut self, message: &str) {
        self.write(Level::Error, message);
    }
}

fn open_rotated(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ARCHIVE_BYTES) {
        let mut bak = path.as_os_str().to_owned();
        bak.push(".bak");
        std::fs::rename(path, bak)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_levels_and_archiving() {
        let dir = std::env::temp_dir().join(format!("dism-log-test-{}", std::process::id()));
        let path = dir.join("sub/dism.log");
        let p = path.to_str().unwrap();
        let mut log = Log::open(Some(p), Some("2")).unwrap();
        log.info("hidden at level 2");
        log.warn("shown");
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hidden"));
        let line = text.lines().next().unwrap();
        assert_eq!(&line[19..], ", Warning               DISM   shown");
        std::fs::write(&path, vec![b'x'; ARCHIVE_BYTES as usize + 1]).unwrap();
        Log::open(Some(p), None).unwrap().info("fresh");
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("DISM   fresh\n"));
        assert_eq!(
            std::fs::metadata(dir.join("sub/dism.log.bak"))
                .unwrap()
                .len(),
            ARCHIVE_BYTES + 1
        );
        assert_eq!(
            Log::open(Some(p), Some("7")).err().unwrap().message,
            "An invalid log level was specified."
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
