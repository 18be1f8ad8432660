//! Split WIMs (`.swm`): a set of parts sharing a GUID, each with a header naming its
//! part number and the total, whose blob tables together describe every blob.
//!
//! [`SplitSet::open`] finds the parts as DISM's `/SWMFile:install*.swm` does: a file
//! name pattern with `*` and `?` wildcards, matched in one directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file::WimFile;
use crate::header::{flags, Header};
use crate::read::{effective_header, Wim};

/// Checks that `headers` (in any order) form one complete set: part 1's GUID and total
/// part count everywhere, distinct part numbers covering `1..=total`. Returns the
/// indexes of the headers in part order.
pub fn check_parts<'h>(headers: impl IntoIterator<Item = &'h Header>) -> Result<Vec<usize>> {
    let headers: Vec<&Header> = headers.into_iter().collect();
    let first = headers
        .iter()
        .position(|h| h.part_number == 1)
        .ok_or(match headers.first() {
            Some(h) => Error::MissingPart {
                part_number: 1,
                total_parts: h.total_parts,
            },
            None => Error::MissingPart {
                part_number: 1,
                total_parts: 1,
            },
        })?;
    let (guid, total) = (headers[first].guid, headers[first].total_parts);
    let mut slots: Vec<Option<usize>> = vec![None; usize::from(total)];
    for (i, h) in headers.iter().enumerate() {
        if h.guid != guid {
            return Err(Error::SplitGuidMismatch {
                part_number: h.part_number,
            });
        }
        if h.total_parts != total {
            return Err(Error::SplitPartCountMismatch {
                part_number: h.part_number,
                total_parts: h.total_parts,
                expected: total,
            });
        }
        // Header::parse guarantees 1 <= part_number <= total_parts.
        let slot = &mut slots[usize::from(h.part_number) - 1];
        if slot.is_some() {
            return Err(Error::DuplicatePart {
                part_number: h.part_number,
            });
        }
        *slot = Some(i);
    }
    slots
        .iter()
        .enumerate()
        .map(|(n, s)| {
            s.ok_or(Error::MissingPart {
                part_number: n as u16 + 1,
                total_parts: total,
            })
        })
        .collect()
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters and `?`
/// any one character. Compared case-insensitively on Windows, exactly elsewhere.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if cfg!(windows) {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    wildcard_chars(&fold(pattern), &fold(name))
}

/// `*`/`?` matching over characters already case-folded as the caller wants
/// (also the capture configuration's matcher).
pub(crate) fn wildcard_chars(p: &[char], n: &[char]) -> bool {
    // Iterative matching with backtracking to the last star.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] != '*' && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The files of a directory whose names match a wildcard pattern, sorted by name.
/// `pattern` may name a directory (`dir/install*.swm`); a bare file name pattern is
/// looked up in `default_dir`.
pub fn glob(pattern: &str, default_dir: &Path) -> Result<Vec<PathBuf>> {
    let p = Path::new(pattern);
    let (dir, name) = match (p.parent(), p.file_name()) {
        (Some(d), Some(n)) if !d.as_os_str().is_empty() => (d.to_path_buf(), n),
        (_, Some(n)) => (default_dir.to_path_buf(), n),
        _ => (default_dir.to_path_buf(), p.as_os_str()),
    };
    let name = name.to_string_lossy().into_owned();
    let rd = std::fs::read_dir(&dir).map_err(|e| Error::access("list", &e).with_path(&dir))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::access("list", &e).with_path(&dir))?;
        let fname = e.file_name();
        if wildcard_match(&name, &fname.to_string_lossy()) && e.path().is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The files of a split set, opened (memory-mapped) and checked.
#[derive(Debug)]
pub struct SplitSet {
    /// The parts, in part order.
    pub parts: Vec<WimFile>,
}

impl SplitSet {
    /// Opens the set whose part 1 is `first`, finding the other parts with `pattern`
    /// (`install*.swm`, in `first`'s directory unless it names one). Without a pattern,
    /// only `first` is opened (which must then be a whole WIM, or a one-part set).
    /// Every error names the file concerned.
    pub fn open(first: impl AsRef<Path>, pattern: Option<&str>) -> Result<Self> {
        let first = first.as_ref();
        let mut paths = vec![first.to_path_buf()];
        if let Some(pattern) = pattern {
            let dir = first
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            let first_canon = canon(first);
            for p in glob(pattern, dir)? {
                if canon(&p) != first_canon {
                    paths.push(p);
                }
            }
        }
        Self::open_files(&paths)
    }

    /// Opens exactly these files, part 1 first, as one set.
    pub fn open_files(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::with_capacity(paths.len());
        let mut headers = Vec::with_capacity(paths.len());
        for p in paths {
            let f = WimFile::open(p)?;
            let h = effective_header(f.bytes()).map_err(|e| e.with_path(p))?;
            files.push(f);
            headers.push(h);
        }
        let Some(h1) = headers.first() else {
            return Err(Error::MissingPart {
                part_number: 1,
                total_parts: 1,
            });
        };
        if h1.part_number != 1 {
            return Err(Error::NotFirstPart {
                part_number: h1.part_number,
            }
            .with_path(&paths[0]));
        }
        // Say which file is wrong where one is.
        for (h, p) in headers.iter().zip(paths) {
            if h.guid != h1.guid {
                return Err(Error::SplitGuidMismatch {
                    part_number: h.part_number,
                }
                .with_path(p));
            }
            if h.total_parts != h1.total_parts {
                return Err(Error::SplitPartCountMismatch {
                    part_number: h.part_number,
                    total_parts: h.total_parts,
                    expected: h1.total_parts,
                }
                .with_path(p));
            }
        }
        for (i, h) in headers.iter().enumerate() {
            if headers[..i].iter().any(|o| o.part_number == h.part_number) {
                return Err(Error::DuplicatePart {
                    part_number: h.part_number,
                }
                .with_path(&paths[i]));
            }
        }
        let order = check_parts(headers.iter()).map_err(|e| e.with_path(&paths[0]))?;
        let mut slots: Vec<Option<WimFile>> = files.into_iter().map(Some).collect();
        let parts = order
            .into_iter()
            .map(|i| slots[i].take().expect("distinct indexes"))
            .collect();
        Ok(Self { parts })
    }

    /// The set as one [`Wim`] whose blob table covers every part.
    pub fn wim(&self) -> Result<Wim<'_>> {
        let files: Vec<&[u8]> = self.parts.iter().map(WimFile::bytes).collect();
        Wim::parse_parts(&files).map_err(|e| e.with_path(self.parts[0].path()))
    }

    /// `r` with its error, if any, said to be about part `part_number` (e.g. the part
    /// of a blob that failed to read).
    pub fn context<T>(&self, part_number: u16, r: Result<T>) -> Result<T> {
        match self.part_path(part_number) {
            Some(p) => r.map_err(|e| e.with_path(p)),
            None => r,
        }
    }

    /// The path of part `part_number` (1-based).
    pub fn part_path(&self, part_number: u16) -> Option<&Path> {
        let i = usize::from(part_number).checked_sub(1)?;
        self.parts.get(i).map(WimFile::path)
    }
}

/// Whether a header says its file is one part of a split set (the SPANNED flag or more
/// than one part).
pub fn is_split_header(h: &Header) -> bool {
    h.total_parts > 1 || h.has_flag(flags::SPANNED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Compression;

    fn part(n: u16, total: u16, guid: u8) -> Header {
        let mut h = Header::new(Compression::Lzx, 32768, [guid; 16]);
        h.part_number = n;
        h.total_parts = total;
        h
    }

    #[test]
    fn complete_sets_in_any_order() {
        let hs = [part(2, 3, 1), part(3, 3, 1), part(1, 3, 1)];
        assert_eq!(check_parts(hs.iter()).unwrap(), vec![2, 0, 1]);
        assert_eq!(check_parts([part(1, 1, 5)].iter()).unwrap(), vec![0]);
    }

    #[test]
    fn set_errors() {
        let e = check_parts([part(1, 3, 1), part(2, 3, 2), part(3, 3, 1)].iter());
        assert_eq!(e, Err(Error::SplitGuidMismatch { part_number: 2 }));
        let e = check_parts([part(1, 3, 1), part(3, 3, 1)].iter());
        assert_eq!(
            e,
            Err(Error::MissingPart {
                part_number: 2,
                total_parts: 3
            })
        );
        let e = check_parts([part(2, 2, 1)].iter());
        assert_eq!(
            e,
            Err(Error::MissingPart {
                part_number: 1,
                total_parts: 2
            })
        );
        let e = check_parts([part(1, 2, 1), part(2, 2, 1), part(2, 2, 1)].iter());
        assert_eq!(e, Err(Error::DuplicatePart { part_number: 2 }));
        let e = check_parts([part(1, 2, 1), part(2, 3, 1)].iter());
        assert!(matches!(e, Err(Error::SplitPartCountMismatch { .. })));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("install*.swm", "install.swm"));
        assert!(wildcard_match("install*.swm", "install2.swm"));
        assert!(wildcard_match("install?.swm", "install2.swm"));
        assert!(!wildcard_match("install?.swm", "install.swm"));
        assert!(!wildcard_match("install*.swm", "install2.wim"));
        assert!(wildcard_match("*", "x"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
    }
}
