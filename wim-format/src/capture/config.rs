//! Capture configuration: DISM's `WimScript.ini` with the sections
//! `[ExclusionList]`, `[ExclusionException]` and `[CompressionExclusionList]`.
//!
//! A pattern with a path separator (`\` or `/`) is anchored at the capture root (a
//! leading separator is optional, a drive letter `C:` is dropped) and matches the whole
//! path; a pattern without one matches the file name in any directory. `*` matches any
//! run of characters within one component, `?` one character; matching ignores case.
//! Excluding a directory excludes everything below it; an exception keeps a path that
//! an exclusion would drop.

use std::path::Path;

use crate::error::{Error, Result};
use crate::split::wildcard_chars;

/// Parsed capture configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureConfig {
    pub exclusions: Vec<String>,
    pub exceptions: Vec<String>,
    /// Files stored uncompressed.
    pub compression_exclusions: Vec<String>,
}

impl CaptureConfig {
    /// DISM's exclusions when no configuration file is given.
    pub fn dism_default() -> Self {
        Self {
            exclusions: [
                "\\$ntfs.log",
                "\\hiberfil.sys",
                "\\pagefile.sys",
                "\\swapfile.sys",
                "\\System Volume Information",
                "\\RECYCLER",
                "\\Windows\\CSC",
            ]
            .map(String::from)
            .to_vec(),
            exceptions: Vec::new(),
            compression_exclusions: ["*.mp3", "*.zip", "*.cab", "\\WINDOWS\\inf\\*.pnf"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// No exclusions at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses the text of a configuration file (UTF-8 or UTF-16 with a BOM). Lines
    /// outside a known section, blank lines and `;` or `#` comments are ignored;
    /// quotes around a pattern are removed.
    pub fn parse(text: &str) -> Self {
        let mut c = Self::default();
        let mut section: Option<usize> = None;
        for line in text.lines() {
            let line = line.trim().trim_start_matches('\u{feff}').trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                let name = line[1..line.len() - 1].trim().to_ascii_lowercase();
                section = match name.as_str() {
                    "exclusionlist" => Some(0),
                    "exclusionexception" => Some(1),
                    "compressionexclusionlist" => Some(2),
                    _ => None,
                };
                continue;
            }
            let pat = line.trim_matches('"').trim().to_string();
            if pat.is_empty() {
                continue;
            }
            match section {
                Some(0) => c.exclusions.push(pat),
                Some(1) => c.exceptions.push(pat),
                Some(2) => c.compression_exclusions.push(pat),
                _ => {}
            }
        }
        c
    }

    /// Reads and parses a configuration file.
    pub fn read(path: &Path) -> Result<Self> {
        let b = std::fs::read(path).map_err(|e| Error::access("read", &e).with_path(path))?;
        Ok(Self::parse(&crate::xml::decode_text(&b)))
    }

    /// Whether the path `rel` (relative to the capture root, `/`-separated, with a
    /// leading `/`) is excluded from capture.
    pub fn is_excluded(&self, rel: &str) -> bool {
        self.exclusions.iter().any(|p| pattern_matches(p, rel))
            && !self.exceptions.iter().any(|p| pattern_matches(p, rel))
    }

    /// Whether the file at `rel` is stored uncompressed.
    pub fn is_compression_excluded(&self, rel: &str) -> bool {
        self.compression_exclusions
            .iter()
            .any(|p| pattern_matches(p, rel))
    }
}

fn fold(s: &str) -> Vec<char> {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `pattern` (see the module documentation) matches the path `rel`.
pub fn pattern_matches(pattern: &str, rel: &str) -> bool {
    let mut p = pattern.replace('\\', "/");
    if p.len() >= 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic() {
        p = p[2..].to_string();
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return false;
    }
    if p.contains('/') {
        let pc: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
        let rc: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        pc.len() == rc.len()
            && pc
                .iter()
                .zip(&rc)
                .all(|(a, b)| wildcard_chars(&fold(a), &fold(b)))
    } else {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        wildcard_chars(&fold(p), &fold(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let c = CaptureConfig::parse(
            "\u{feff}[ExclusionList]\n\\pagefile.sys\n\"\\Windows\\CSC\"\n*.tmp\n\\data\\*.log\n; c\n\
             [ExclusionException]\n\\data\\keep.log\n[CompressionExclusionList]\n*.zip\n[Other]\nx\n",
        );
        assert_eq!(c.exclusions.len(), 4);
        assert!(c.is_excluded("/pagefile.sys"));
        assert!(c.is_excluded("/PAGEFILE.SYS"));
        assert!(!c.is_excluded("/sub/pagefile.sys"));
        assert!(c.is_excluded("/windows/csc"));
        assert!(c.is_excluded("/a/b/x.tmp"));
        assert!(c.is_excluded("/data/a.log"));
        assert!(!c.is_excluded("/data/keep.log"));
        assert!(!c.is_excluded("/data/sub/a.log"));
        assert!(c.is_compression_excluded("/x/y.ZIP"));
        assert!(!c.is_compression_excluded("/x/y.zipx"));
        assert!(CaptureConfig::dism_default().is_excluded("/System Volume Information"));
        assert!(pattern_matches("C:\\hiberfil.sys", "/hiberfil.sys"));
        assert!(pattern_matches("a*b?c", "/q/aXXbYc"));
        assert!(!pattern_matches("a*b?c", "/q/aXXbc"));
    }
}
