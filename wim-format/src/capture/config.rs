//! Capture configuration: DISM's `WimScript.ini` with the sections
//! `[ExclusionList]`, `[ExclusionException]` and `[CompressionExclusionList]`.
//!
//! A pattern with a path separator (`\` or `/`) is anchored at the capture root (a
//! leading separator is optional, a drive letter `C:` is dropped) and matches the whole
//! path; a pattern without one matches the file name in any directory. `*` matches any
//! run of characters within one component, `?` one character; matching ignores case.
//!
//! Excluding a directory excludes everything below it. An exception keeps what it
//! matches and everything below that, even inside an excluded directory: the
//! directories on the way to an anchored exception are kept (holding only what is
//! kept below them), as wimlib and DISM do.

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

    /// The patterns parsed once, for testing many paths.
    pub fn matcher(&self) -> ConfigMatcher {
        let parse = |list: &[String]| list.iter().filter_map(|p| Pattern::new(p)).collect();
        ConfigMatcher {
            exclusions: parse(&self.exclusions),
            exceptions: parse(&self.exceptions),
            compression_exclusions: parse(&self.compression_exclusions),
        }
    }

    /// See [`ConfigMatcher::is_excluded`].
    pub fn is_excluded(&self, rel: &str) -> bool {
        self.matcher().is_excluded(rel)
    }

    /// See [`ConfigMatcher::is_compression_excluded`].
    pub fn is_compression_excluded(&self, rel: &str) -> bool {
        self.matcher().is_compression_excluded(rel)
    }
}

/// A [`CaptureConfig`] with its patterns parsed.
pub struct ConfigMatcher {
    exclusions: Vec<Pattern>,
    exceptions: Vec<Pattern>,
    compression_exclusions: Vec<Pattern>,
}

impl ConfigMatcher {
    /// Whether the path `rel` (relative to the capture root, `/`-separated, with a
    /// leading `/`) is excluded from capture: an exclusion matches it or a directory
    /// above it, and no exception matches it, a directory above it, or a path below
    /// it.
    pub fn is_excluded(&self, rel: &str) -> bool {
        if self.exclusions.is_empty() {
            return false;
        }
        let comps = components(rel);
        self.exclusions
            .iter()
            .any(|p| p.matches_at_or_above(&comps))
            && !self
                .exceptions
                .iter()
                .any(|p| p.matches_at_or_above(&comps) || p.may_match_below(&comps))
    }

    /// Whether the file at `rel` is stored uncompressed.
    pub fn is_compression_excluded(&self, rel: &str) -> bool {
        if self.compression_exclusions.is_empty() {
            return false;
        }
        let comps = components(rel);
        self.compression_exclusions
            .iter()
            .any(|p| p.matches_comps(&comps))
    }
}

fn fold(s: &str) -> Vec<char> {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn components(rel: &str) -> Vec<Vec<char>> {
    rel.split('/').filter(|c| !c.is_empty()).map(fold).collect()
}

/// A parsed pattern: anchored at the capture root (its components), or a file
/// name to match in any directory.
struct Pattern {
    anchored: bool,
    comps: Vec<Vec<char>>,
}

impl Pattern {
    fn new(pattern: &str) -> Option<Self> {
        let mut p = pattern.replace('\\', "/");
        if p.len() >= 2 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic() {
            p = p[2..].to_string();
        }
        let p = p.trim_end_matches('/');
        let anchored = p.contains('/');
        let comps = components(p);
        (!comps.is_empty()).then_some(Self { anchored, comps })
    }

    /// The pattern's components match the leading ones of `path` (as many as
    /// both have).
    fn leading_match(&self, path: &[Vec<char>]) -> bool {
        self.comps
            .iter()
            .zip(path)
            .all(|(a, b)| wildcard_chars(a, b))
    }

    fn matches_comps(&self, path: &[Vec<char>]) -> bool {
        if self.anchored {
            self.comps.len() == path.len() && self.leading_match(path)
        } else {
            path.last()
                .is_some_and(|name| wildcard_chars(&self.comps[0], name))
        }
    }

    /// Matches the path or one of the directories above it.
    fn matches_at_or_above(&self, path: &[Vec<char>]) -> bool {
        if self.anchored {
            path.len() >= self.comps.len() && self.leading_match(path)
        } else {
            path.iter().any(|name| wildcard_chars(&self.comps[0], name))
        }
    }

    /// The path is a directory on the way to what this anchored pattern matches.
    fn may_match_below(&self, path: &[Vec<char>]) -> bool {
        self.anchored && path.len() < self.comps.len() && self.leading_match(path)
    }
}

/// Whether `pattern` (see the module documentation) matches the path `rel` itself.
pub fn pattern_matches(pattern: &str, rel: &str) -> bool {
    Pattern::new(pattern).is_some_and(|p| p.matches_comps(&components(rel)))
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
        assert!(!c.is_excluded("/data"));
        assert!(c.is_compression_excluded("/x/y.ZIP"));
        assert!(!c.is_compression_excluded("/x/y.zipx"));
        assert!(CaptureConfig::dism_default().is_excluded("/System Volume Information"));
        assert!(pattern_matches("C:\\hiberfil.sys", "/hiberfil.sys"));
        assert!(pattern_matches("a*b?c", "/q/aXXbYc"));
        assert!(!pattern_matches("a*b?c", "/q/aXXbc"));
    }

    /// What wimlib-imagex 1.13 keeps for the same tree and configuration files.
    #[test]
    fn exceptions_reach_into_excluded_directories() {
        let c = CaptureConfig::parse(
            "[ExclusionList]\n\\data\n[ExclusionException]\n\\data\\keep.log\n\\data\\keepdir\n",
        );
        for kept in [
            "/data",
            "/data/keep.log",
            "/data/keepdir",
            "/data/keepdir/inner/i.txt",
            "/other.txt",
        ] {
            assert!(!c.is_excluded(kept), "{kept}");
        }
        for dropped in ["/data/a.log", "/data/sub", "/data/sub/s.txt"] {
            assert!(c.is_excluded(dropped), "{dropped}");
        }
        // A file-name exception does not open an excluded directory.
        let c = CaptureConfig::parse("[ExclusionList]\n\\data\n[ExclusionException]\n*.log\n");
        assert!(c.is_excluded("/data"));
        // Wildcards in an anchored exception open the directory for what they match.
        let c =
            CaptureConfig::parse("[ExclusionList]\n\\data\n[ExclusionException]\n\\data\\*.log\n");
        assert!(!c.is_excluded("/data") && !c.is_excluded("/data/a.log"));
        assert!(c.is_excluded("/data/sub"));
        // An exception for a directory keeps files an exclusion names below it.
        let c =
            CaptureConfig::parse("[ExclusionList]\n*.txt\n[ExclusionException]\n\\data\\keepdir\n");
        assert!(!c.is_excluded("/data/keepdir/inner/i.txt"));
        assert!(c.is_excluded("/other.txt") && c.is_excluded("/data/sub/s.txt"));
    }
}
