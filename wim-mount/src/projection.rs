//! The read-only view of one image as a tree of inodes: lookup, readdir, getattr,
//! readlink, extended attributes and reads served from the WIM through the chunk
//! cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wim_format::metadata::StreamKind;
use wim_format::{Image, LinkReparse, Node, NodeId, Sha1Hash};

use crate::cache::{ChunkCache, DEFAULT_CACHE_BYTES};
use crate::error::{FsError, FsResult};
use crate::source::WimSource;
use crate::types::{Attr, DirEntry, FileTimes, Ino, Kind, ROOT_INO, S_IFMT};

/// How the image is shown.
#[derive(Debug, Clone)]
pub struct ProjectionOptions {
    /// Owner of files without UNIX data (default: the mounting user).
    pub uid: u32,
    pub gid: u32,
    /// Permissions of directories and files without UNIX data (wimlib's defaults).
    pub dir_perm: u32,
    pub file_perm: u32,
    /// Use the UNIX data (owner, mode, device number) stored with `--unix-data`.
    pub unix_data: bool,
    /// Prefix of absolute link targets that capture made relative to the image root
    /// (reparse-point fixups, in a WIM with the RP_FIX flag), e.g. the mount point;
    /// `None` leaves them as stored.
    pub fix_root: Option<PathBuf>,
}

impl Default for ProjectionOptions {
    fn default() -> Self {
        let (uid, gid) = current_user();
        Self {
            uid,
            gid,
            dir_perm: 0o755,
            file_perm: 0o644,
            unix_data: true,
            fix_root: None,
        }
    }
}

/// The real user and group ids of this process (0 where there are none).
pub fn current_user() -> (u32, u32) {
    #[cfg(unix)]
    {
        (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        )
    }
    #[cfg(not(unix))]
    {
        (0, 0)
    }
}

/// One image of a WIM seen as a filesystem (read-only).
pub struct Projection {
    source: Arc<WimSource>,
    index: u32,
    image: Image,
    options: ProjectionOptions,
    /// Per node: the node whose number its inode has (itself unless a hard link).
    rep: Vec<NodeId>,
    /// Per node: its kind.
    kinds: Vec<Kind>,
    /// Per representative node: names of the inode (hard links); per directory:
    /// 2 + subdirectories.
    nlink: Vec<u32>,
    /// Link targets read so far.
    links: Mutex<HashMap<NodeId, String>>,
}

impl std::fmt::Debug for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projection")
            .field("source", &self.source)
            .field("index", &self.index)
            .field("nodes", &self.image.nodes.len())
            .finish()
    }
}

const S_SPECIAL: [u32; 4] = [
    crate::types::S_IFIFO,
    crate::types::S_IFCHR,
    crate::types::S_IFBLK,
    crate::types::S_IFSOCK,
];

fn kind_of(node: &Node, unix_data: bool) -> Kind {
    if node.is_symlink() {
        return Kind::Symlink;
    }
    if node.is_directory() {
        return Kind::Directory;
    }
    if let Some(u) = node.unix.filter(|_| unix_data) {
        if S_SPECIAL.contains(&(u.mode & S_IFMT)) {
            if let Some(k) = Kind::from_mode(u.mode) {
                return k;
            }
        }
    }
    Kind::File
}

impl Projection {
    /// Opens image `index` (1-based) of the WIM at `path`, with a cache of its own.
    pub fn open(
        path: impl AsRef<std::path::Path>,
        index: u32,
        options: ProjectionOptions,
    ) -> FsResult<Self> {
        let cache = ChunkCache::new(DEFAULT_CACHE_BYTES);
        let source = Arc::new(WimSource::open(path, cache)?);
        Self::new(source, index, options)
    }

    /// Image `index` (1-based) of `source`.
    pub fn new(source: Arc<WimSource>, index: u32, options: ProjectionOptions) -> FsResult<Self> {
        let mut image = source.image(index)?;
        let n = image.nodes.len();
        // Children sorted by name, for binary search.
        let names: Vec<String> = image.nodes.iter().map(|x| x.name.clone()).collect();
        for node in &mut image.nodes {
            node.children
                .sort_by(|&a, &b| names[a].as_bytes().cmp(names[b].as_bytes()));
        }
        let kinds: Vec<Kind> = image
            .nodes
            .iter()
            .map(|x| kind_of(x, options.unix_data))
            .collect();
        let mut rep: Vec<NodeId> = (0..n).collect();
        let mut nlink = vec![1u32; n];
        let mut groups: HashMap<u64, NodeId> = HashMap::new();
        // Only reachable nodes count: the walk does not enter symlinks.
        let mut stack = vec![image.root];
        while let Some(id) = stack.pop() {
            let node = &image.nodes[id];
            if kinds[id] == Kind::Directory {
                nlink[id] = 2;
                for &c in &node.children {
                    if kinds[c] == Kind::Directory {
                        nlink[id] += 1;
                    }
                    stack.push(c);
                }
            } else if kinds[id] == Kind::File && node.hard_link_group != 0 {
                match groups.get(&node.hard_link_group) {
                    Some(&first) => {
                        rep[id] = first;
                        nlink[first] += 1;
                    }
                    None => {
                        groups.insert(node.hard_link_group, id);
                    }
                }
            }
        }
        // The first of a group in the walk may not be the lowest id; any member works
        // as long as it is the same for all.
        Ok(Self {
            source,
            index,
            image,
            options,
            rep,
            kinds,
            nlink,
            links: Mutex::new(HashMap::new()),
        })
    }

    pub fn source(&self) -> &Arc<WimSource> {
        &self.source
    }

    pub fn cache(&self) -> &Arc<ChunkCache> {
        self.source.cache()
    }

    /// The image index (1-based).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The image's tree (children sorted by name).
    pub fn image(&self) -> &Image {
        &self.image
    }

    pub fn options(&self) -> &ProjectionOptions {
        &self.options
    }

    /// Number of inode numbers the image uses (`1..=max_ino`).
    pub fn max_ino(&self) -> Ino {
        self.image.nodes.len() as Ino
    }

    /// The inode number of `node`.
    pub fn ino_of(&self, node: NodeId) -> Ino {
        self.rep[node] as Ino + ROOT_INO - self.image.root as Ino
    }

    /// The node of inode `ino` (the first name of a hard-linked file).
    pub fn node_of(&self, ino: Ino) -> FsResult<NodeId> {
        let id = ino
            .checked_sub(ROOT_INO)
            .map(|i| i as usize + self.image.root)
            .filter(|&i| i < self.image.nodes.len() && self.rep[i] == i)
            .ok_or(FsError::NotFound)?;
        Ok(id)
    }

    pub fn node(&self, ino: Ino) -> FsResult<&Node> {
        Ok(&self.image.nodes[self.node_of(ino)?])
    }

    pub fn kind(&self, ino: Ino) -> FsResult<Kind> {
        Ok(self.kinds[self.node_of(ino)?])
    }

    /// Whether `ino` names an inode of the image.
    pub fn contains(&self, ino: Ino) -> bool {
        self.node_of(ino).is_ok()
    }

    /// The children of directory `id` (sorted by name).
    fn children(&self, id: NodeId) -> FsResult<&[NodeId]> {
        if self.kinds[id] != Kind::Directory {
            return Err(FsError::NotDirectory);
        }
        Ok(&self.image.nodes[id].children)
    }

    /// The inode named `name` in directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &str) -> FsResult<Ino> {
        let dir = self.node_of(parent)?;
        let children = self.children(dir)?;
        let nodes = &self.image.nodes;
        let i = children
            .binary_search_by(|&c| nodes[c].name.as_bytes().cmp(name.as_bytes()))
            .map_err(|_| FsError::NotFound)?;
        Ok(self.ino_of(children[i]))
    }

    /// The parent directory of directory `ino` (the root is its own parent).
    pub fn parent(&self, ino: Ino) -> FsResult<Ino> {
        let id = self.node_of(ino)?;
        Ok(self.image.nodes[id]
            .parent
            .map_or(ROOT_INO, |p| self.ino_of(p)))
    }

    /// The entries of directory `ino`, sorted by name (without `.` and `..`).
    pub fn readdir(&self, ino: Ino) -> FsResult<Vec<DirEntry>> {
        let dir = self.node_of(ino)?;
        Ok(self
            .children(dir)?
            .iter()
            .map(|&c| DirEntry {
                name: self.image.nodes[c].name.clone(),
                ino: self.ino_of(c),
                kind: self.kinds[c],
            })
            .collect())
    }

    /// The unnamed data stream of a regular file: its hash and size (`None` for an
    /// empty file). A stream whose blob the WIM lacks has size 0 (reads fail).
    pub fn content(&self, ino: Ino) -> FsResult<Option<(Sha1Hash, u64)>> {
        let id = self.node_of(ino)?;
        if self.kinds[id] != Kind::File {
            return Ok(None);
        }
        let node = &self.image.nodes[id];
        if node.attributes & wim_format::metadata::dentry::FILE_ATTRIBUTE_ENCRYPTED != 0 {
            return Ok(None);
        }
        Ok(node
            .streams
            .iter()
            .find(|s| s.kind == StreamKind::Data && s.name.is_none() && !s.is_empty_hash())
            .map(|s| (s.hash, s.size.unwrap_or(0))))
    }

    pub fn getattr(&self, ino: Ino) -> FsResult<Attr> {
        let id = self.node_of(ino)?;
        let node = &self.image.nodes[id];
        let kind = self.kinds[id];
        let o = &self.options;
        let unix = node.unix.filter(|_| o.unix_data);
        let (mut uid, mut gid) = (o.uid, o.gid);
        let (perm, rdev) = match unix {
            Some(u) => {
                if u.uid != u32::MAX {
                    uid = u.uid;
                }
                if u.gid != u32::MAX {
                    gid = u.gid;
                }
                (u.mode & 0o7777, if kind.is_special() { u.rdev } else { 0 })
            }
            None => match kind {
                Kind::Directory => (o.dir_perm, 0),
                Kind::Symlink => (0o777, 0),
                _ => (o.file_perm, 0),
            },
        };
        let size = match kind {
            Kind::File => self.content(ino)?.map_or(0, |(_, s)| s),
            Kind::Symlink => self.readlink(ino).map_or(0, |t| t.len() as u64),
            _ => 0,
        };
        let t = node.times;
        Ok(Attr {
            ino,
            kind,
            perm,
            uid,
            gid,
            rdev,
            nlink: self.nlink[id],
            size,
            times: FileTimes {
                creation: t.creation,
                access: t.last_access,
                write: t.last_write,
                change: t.last_write,
            },
        })
    }

    /// The target of symlink `ino`, as wimlib extracts it on UNIX.
    pub fn readlink(&self, ino: Ino) -> FsResult<String> {
        let id = self.node_of(ino)?;
        if self.kinds[id] != Kind::Symlink {
            return Err(FsError::Invalid("not a symbolic link"));
        }
        if let Some(t) = self
            .links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(t.clone());
        }
        let node = &self.image.nodes[id];
        let rp = node.reparse.ok_or(FsError::Invalid("no reparse data"))?;
        let data = self.source.blob_data(&rp.data_hash)?;
        let link = LinkReparse::parse(rp.tag, &data)?;
        let t = link.unix_target(rp.not_fixed());
        let mut target = String::new();
        // As apply does: only a WIM captured with fixups (RP_FIX) has targets to fix.
        if t.fixed && self.source.rp_fix() {
            if let Some(root) = &self.options.fix_root {
                target.push_str(root.to_string_lossy().trim_end_matches('/'));
            }
        }
        target.push_str(&t.path);
        self.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, target.clone());
        Ok(target)
    }

    /// The names of the extended attributes of `ino`.
    pub fn listxattr(&self, ino: Ino) -> FsResult<Vec<Vec<u8>>> {
        Ok(self
            .node(ino)?
            .xattrs
            .iter()
            .map(|x| x.name.clone())
            .collect())
    }

    /// The value of extended attribute `name` of `ino`.
    pub fn getxattr(&self, ino: Ino, name: &[u8]) -> FsResult<Vec<u8>> {
        self.node(ino)?
            .xattrs
            .iter()
            .find(|x| x.name == name)
            .map(|x| x.value.clone())
            .ok_or(FsError::NoAttribute)
    }

    /// Reads bytes `offset..` of regular file `ino` into `out`; returns how many (0 at
    /// or past the end).
    pub fn read_into(&self, ino: Ino, offset: u64, out: &mut [u8]) -> FsResult<usize> {
        match self.kind(ino)? {
            Kind::File => {}
            Kind::Directory => return Err(FsError::IsDirectory),
            _ => return Err(FsError::Invalid("not a regular file")),
        }
        let Some((hash, _)) = self.content(ino)? else {
            return Ok(0);
        };
        let blob =
            *self
                .source
                .blob(&hash)
                .ok_or(FsError::Wim(wim_format::Error::MissingBlob {
                    path: self.image.path(self.node_of(ino)?),
                    hash,
                }))?;
        Ok(self.source.read_blob(&blob, offset, out)?)
    }

    /// Up to `size` bytes of regular file `ino` from `offset`.
    pub fn read(&self, ino: Ino, offset: u64, size: usize) -> FsResult<Vec<u8>> {
        let file_size = self.content(ino)?.map_or(0, |(_, s)| s);
        let n = (size as u64).min(file_size.saturating_sub(offset)) as usize;
        let mut out = vec![0; n];
        let got = self.read_into(ino, offset, &mut out)?;
        out.truncate(got);
        Ok(out)
    }

    /// The inode at `path` (`/`-separated, from the root).
    pub fn resolve(&self, path: &str) -> FsResult<Ino> {
        let mut ino = ROOT_INO;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            ino = self.lookup(ino, part)?;
        }
        Ok(ino)
    }
}
