//! The persistent registry of mounted images: one small file per mount, so that every
//! process (and a later one, after the server died) finds the mounts, their servers
//! and what they left behind.
//!
//! The registry is `/var/lib/wimkit/mounts` for root and
//! `$XDG_STATE_HOME/wimkit/mounts` (`~/.local/state/wimkit/mounts`) otherwise;
//! `WIMKIT_MOUNT_REGISTRY` overrides it. For a mount whose id is `ID` (from its mount
//! directory) it holds `ID.mount` (the entry: `key=value` lines), `ID.sock` (the
//! server's control socket) and, unless `/ScratchDir` chose another place,
//! `ID.scratch/` (the overlay's data and saved state).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

/// The registry directory (see the module documentation).
pub fn registry_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WIMKIT_MOUNT_REGISTRY").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    #[cfg(unix)]
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/wimkit/mounts");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("wimkit").join("mounts")
}

/// `path` made absolute without touching the path itself (a dead FUSE mount point
/// cannot be stat'ed): its parent is canonicalised and its name kept.
pub fn normalize(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut parts: Vec<_> = abs.components().collect();
    if matches!(
        parts.last(),
        Some(std::path::Component::CurDir) | Some(std::path::Component::ParentDir)
    ) {
        // `dir/.` or `dir/..`: let canonicalisation handle the whole path.
        return std::fs::canonicalize(&abs).unwrap_or(abs);
    }
    let Some(name) = parts.pop() else {
        return abs;
    };
    let parent: PathBuf = parts.iter().collect();
    match std::fs::canonicalize(&parent) {
        Ok(p) => p.join(name.as_os_str()),
        Err(_) => abs,
    }
}

/// One mounted image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount directory (absolute).
    pub mount_dir: PathBuf,
    /// The image file (absolute).
    pub image_file: PathBuf,
    /// The mounted image (1-based).
    pub index: u32,
    pub read_write: bool,
    /// The server process (0 before it started).
    pub pid: u32,
    /// The overlay's scratch directory (read-write mounts).
    pub scratch: Option<PathBuf>,
    /// SHA-1 (hex) of the image's metadata resource when mounted or last committed:
    /// a different one in the file means the image changed under the mount.
    pub metadata_hash: String,
    /// Every part of a split set (mounted read-only); empty for one file.
    pub parts: Vec<PathBuf>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl MountEntry {
    /// The id of a mount directory: 16 hex digits of the SHA-1 of its path.
    pub fn id_of(mount_dir: &Path) -> String {
        let h = Sha1::digest(mount_dir.as_os_str().as_encoded_bytes());
        hex(&h[..8])
    }

    pub fn id(&self) -> String {
        Self::id_of(&self.mount_dir)
    }

    pub fn entry_path(&self) -> PathBuf {
        registry_dir().join(format!("{}.mount", self.id()))
    }

    pub fn socket_path(&self) -> PathBuf {
        registry_dir().join(format!("{}.sock", self.id()))
    }

    /// The scratch directory used when none is given.
    pub fn default_scratch(mount_dir: &Path) -> PathBuf {
        registry_dir().join(format!("{}.scratch", Self::id_of(mount_dir)))
    }

    /// The server's log (its standard error).
    pub fn log_path(&self) -> PathBuf {
        registry_dir().join(format!("{}.log", self.id()))
    }

    pub fn set_metadata_hash(&mut self, hash: &[u8]) {
        self.metadata_hash = hex(hash);
    }

    fn to_text(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("mount_dir={}\n", self.mount_dir.display()));
        s.push_str(&format!("image_file={}\n", self.image_file.display()));
        s.push_str(&format!("index={}\n", self.index));
        s.push_str(&format!("read_write={}\n", u8::from(self.read_write)));
        s.push_str(&format!("pid={}\n", self.pid));
        if let Some(d) = &self.scratch {
            s.push_str(&format!("scratch={}\n", d.display()));
        }
        s.push_str(&format!("metadata_hash={}\n", self.metadata_hash));
        for p in &self.parts {
            s.push_str(&format!("part={}\n", p.display()));
        }
        s
    }

    fn from_text(text: &str) -> Option<Self> {
        let mut e = MountEntry {
            mount_dir: PathBuf::new(),
            image_file: PathBuf::new(),
            index: 0,
            read_write: false,
            pid: 0,
            scratch: None,
            metadata_hash: String::new(),
            parts: Vec::new(),
        };
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            match k {
                "mount_dir" => e.mount_dir = PathBuf::from(v),
                "image_file" => e.image_file = PathBuf::from(v),
                "index" => e.index = v.parse().ok()?,
                "read_write" => e.read_write = v == "1",
                "pid" => e.pid = v.parse().ok()?,
                "scratch" => e.scratch = Some(PathBuf::from(v)),
                "metadata_hash" => e.metadata_hash = v.to_string(),
                "part" => e.parts.push(PathBuf::from(v)),
                _ => {}
            }
        }
        (!e.mount_dir.as_os_str().is_empty() && e.index > 0).then_some(e)
    }

    /// Writes the entry (atomically: a temporary file renamed over it).
    pub fn save(&self) -> std::io::Result<()> {
        let dir = registry_dir();
        std::fs::create_dir_all(&dir)?;
        let path = self.entry_path();
        let tmp = dir.join(format!("{}.mount.{}.tmp", self.id(), std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(self.to_text().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    }

    /// Creates the entry; fails with `AlreadyExists` when the mount directory has one.
    pub fn create(&self) -> std::io::Result<()> {
        let dir = registry_dir();
        std::fs::create_dir_all(&dir)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.entry_path())?;
        f.write_all(self.to_text().as_bytes())?;
        f.sync_all()
    }

    pub fn load(path: &Path) -> Option<Self> {
        Self::from_text(&std::fs::read_to_string(path).ok()?)
    }

    /// Removes the entry, its socket, log and scratch directory.
    pub fn remove(&self) {
        if let Some(s) = &self.scratch {
            let _ = std::fs::remove_dir_all(s);
        }
        let _ = std::fs::remove_file(self.socket_path());
        let _ = std::fs::remove_file(self.log_path());
        let _ = std::fs::remove_file(self.entry_path());
    }
}

/// Every registered mount, by mount directory.
pub fn list() -> Vec<MountEntry> {
    let mut out: Vec<MountEntry> = std::fs::read_dir(registry_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".mount"))
        .filter_map(|e| MountEntry::load(&e.path()))
        .collect();
    out.sort_by(|a, b| a.mount_dir.cmp(&b.mount_dir));
    out
}

/// The mount registered for `mount_dir`.
pub fn find(mount_dir: &Path) -> Option<MountEntry> {
    let dir = normalize(mount_dir);
    let path = registry_dir().join(format!("{}.mount", MountEntry::id_of(&dir)));
    MountEntry::load(&path).filter(|e| e.mount_dir == dir)
}

/// Files of the registry that no entry owns (sockets, scratch directories, logs and
/// temporary files of mounts that are gone).
pub fn orphans() -> Vec<PathBuf> {
    let ids: Vec<String> = list().iter().map(MountEntry::id).collect();
    std::fs::read_dir(registry_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.ends_with(".mount") && !ids.iter().any(|id| name.starts_with(id.as_str()))
                || name.ends_with(".tmp")
        })
        .map(|e| e.path())
        .collect()
}

/// Where a mount stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The server answers and the directory is mounted.
    Ok,
    /// The server is gone (or the mount was taken away): `/Remount-Image` brings it back.
    NeedsRemount,
    /// The image file is gone or its image changed under the mount.
    Invalid,
}

impl Status {
    /// As `/Get-MountedImageInfo` shows it.
    pub fn text(self) -> &'static str {
        match self {
            Status::Ok => "Ok",
            Status::NeedsRemount => "Needs Remount",
            Status::Invalid => "Invalid",
        }
    }
}

/// Whether the image a mount shows is still the one in its file.
pub fn image_matches(e: &MountEntry) -> bool {
    match crate::commit::image_metadata_hash(&e.image_file, e.index) {
        Ok(h) => hex(&h) == e.metadata_hash,
        Err(_) => false,
    }
}

/// The status of a mount: asks its server, then looks at the image file.
#[cfg(target_os = "linux")]
pub fn status(e: &MountEntry) -> Status {
    if crate::server::ping(&e.socket_path()) {
        return if e.image_file.exists() {
            Status::Ok
        } else {
            Status::Invalid
        };
    }
    if image_matches(e) {
        Status::NeedsRemount
    } else {
        Status::Invalid
    }
}

/// Whether process `pid` exists.
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    match rustix::process::Pid::from_raw(pid as i32) {
        Some(p) => rustix::process::test_kill_process(p).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = MountEntry {
            mount_dir: "/mnt/a b".into(),
            image_file: "/x/y.wim".into(),
            index: 3,
            read_write: true,
            pid: 42,
            scratch: Some("/s".into()),
            metadata_hash: "00ff".into(),
            parts: vec!["/x/y.swm".into(), "/x/y2.swm".into()],
        };
        assert_eq!(MountEntry::from_text(&e.to_text()), Some(e.clone()));
        let ro = MountEntry {
            read_write: false,
            scratch: None,
            ..e
        };
        assert_eq!(MountEntry::from_text(&ro.to_text()), Some(ro));
        assert_eq!(MountEntry::id_of(Path::new("/mnt")).len(), 16);
    }
}
