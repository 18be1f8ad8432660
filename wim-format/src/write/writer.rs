//! [`WimWriter`]: one WIM file being written, new or in place. Blobs are added
//! (deduplicated by SHA-1, compressed in parallel), then images (metadata resource and
//! XML element), then [`WimWriter::finish`] writes the blob table, XML data, integrity
//! table and, last, the header.
//!
//! Crash safety: a new WIM is written to a temporary file beside the target, synced and
//! renamed over it. In place (append, delete), everything new is written after the end
//! of the existing file and synced before the header is rewritten, so until that last
//! 208-byte write the file still opens with its old header and contents.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use crate::blob_table::{Blob, BlobEntry, BlobLocation, Sha1Hash};
use crate::digest::sha1;
use crate::error::{Error, Result};
use crate::header::{Compression, Header, HEADER_SIZE};
use crate::integrity::IntegrityTable;
use crate::metadata::Image;
use crate::read::Wim;
use crate::resource::{ResourceFlags, ResourceHeader};
use crate::solid::SOLID_RESOURCE_MAGIC;
use crate::xml::Element;

use super::metadata::metadata_bytes;
use super::resource::{
    compress_buffers, pump, write_buffer, write_compressed, ChunkCodec, Out, StreamWriter,
};
use super::xml::{now_filetime, wim_element, xml_bytes};

/// Default chunk size of XPRESS and LZX WIMs.
pub const DEFAULT_CHUNK_SIZE: u32 = 32 * 1024;
/// The order in which a solid resource takes blobs, given the file name each is the
/// data of (`None`: not a file's data, such as reparse data or a named stream):
/// similar files side by side, so that one compressor window sees them together. As
/// wimlib orders them: unnamed first, then names without an extension, by name,
/// then the rest by extension and name (both ignoring case); ties keep their order.
pub fn solid_order(names: &[Option<&str>]) -> Vec<usize> {
    let keys: Vec<(u8, String, String)> = names
        .iter()
        .map(|name| match name.map(str::to_lowercase) {
            None => (0, String::new(), String::new()),
            Some(name) => match name.rfind('.') {
                Some(dot) => (2, name[dot + 1..].to_string(), name),
                None => (1, String::new(), name),
            },
        })
        .collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    order
}

/// Default chunk size of LZMS (non-solid) resources.
pub const DEFAULT_LZMS_CHUNK_SIZE: u32 = 128 * 1024;
/// Default chunk size of solid resources (wimlib's `--solid`, DISM's `recovery`).
pub const DEFAULT_SOLID_CHUNK_SIZE: u32 = 64 << 20;
/// Chunk size of the integrity table.
pub const INTEGRITY_CHUNK_SIZE: u32 = 10 << 20;
/// Blobs up to this size are read whole and compressed in batches with others.
const SMALL_BLOB: u64 = 4 << 20;
/// Bytes of small blobs batched at most. Two batches are held at once (one
/// read while the other compresses); at 32 MiB a capture held about 130 MB
/// where at 4 MiB it holds about 50 MB, in the same time (325 MB of /usr
/// files, 2 cores, /Compress fast, max and lzms).
const BATCH_BYTES: u64 = 4 << 20;

/// How to write a WIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compression of the resources (and of the metadata in a solid WIM: LZMS).
    pub compression: Compression,
    /// Chunk size; `None`: 32 KiB, 128 KiB for LZMS.
    pub chunk_size: Option<u32>,
    /// Compression level 1..=100 (wimlib's scale); 0: the default (50).
    pub level: u32,
    /// Put the file data in solid resources (an ESD; DISM's `/Compress:recovery`).
    pub solid: bool,
    /// Compression of the solid resources (LZMS by default).
    pub solid_compression: Compression,
    /// Chunk size of the solid resources; `None`: 64 MiB.
    pub solid_chunk_size: Option<u32>,
    /// Write an integrity table.
    pub integrity: bool,
    /// Worker threads; `None`: every core.
    pub threads: Option<usize>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            compression: Compression::Xpress,
            chunk_size: None,
            level: 0,
            solid: false,
            solid_compression: Compression::Lzms,
            solid_chunk_size: None,
            integrity: false,
            threads: None,
        }
    }
}

impl WriteOptions {
    /// Options for `compression` with everything else default.
    pub fn new(compression: Compression) -> Self {
        Self {
            compression,
            ..Self::default()
        }
    }

    /// What WIMBoot images are written with: XPRESS in 4 KiB chunks, which
    /// Windows reads file data from in place.
    pub fn wimboot() -> Self {
        Self {
            compression: Compression::Xpress,
            chunk_size: Some(4096),
            ..Self::default()
        }
    }

    /// DISM's `/Compress:recovery`: solid LZMS.
    pub fn recovery() -> Self {
        Self {
            compression: Compression::Lzms,
            solid: true,
            ..Self::default()
        }
    }

    fn header_compression(&self) -> Compression {
        if self.solid {
            Compression::Lzms
        } else {
            self.compression
        }
    }

    fn header_chunk_size(&self) -> u32 {
        let c = self.header_compression();
        self.chunk_size.unwrap_or(match c {
            Compression::Lzms => DEFAULT_LZMS_CHUNK_SIZE,
            _ => DEFAULT_CHUNK_SIZE,
        })
    }

    pub(crate) fn thread_count(&self) -> usize {
        self.threads
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Where a blob the writer knows is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    Res(ResourceHeader, u16),
    /// In solid resource `res` of [`WimWriter::solid`], at `offset` of its data.
    Solid {
        res: usize,
        offset: u64,
        size: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: Sha1Hash,
    loc: Loc,
    refs: u32,
}

/// Data of a blob to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobData {
    /// The contents of a file on disk, `size` bytes as seen when scanning; `raw`
    /// stores it uncompressed (DISM's `[CompressionExclusionList]`).
    File { path: PathBuf, size: u64, raw: bool },
    /// Bytes in memory.
    Bytes(Vec<u8>),
}

impl BlobData {
    pub fn size(&self) -> u64 {
        match self {
            Self::File { size, .. } => *size,
            Self::Bytes(b) => b.len() as u64,
        }
    }

    fn raw(&self) -> bool {
        matches!(self, Self::File { raw: true, .. })
    }

    fn open(&self) -> Result<File> {
        match self {
            Self::File { path, .. } => {
                File::open(path).map_err(|e| Error::access("open", &e).with_path(path))
            }
            Self::Bytes(_) => unreachable!("bytes are not opened"),
        }
    }

    fn read_all(&self) -> Result<Vec<u8>> {
        match self {
            Self::Bytes(b) => Ok(b.clone()),
            Self::File { path, size, .. } => {
                let mut f = self.open()?;
                read_exactly(&mut f, *size).map_err(|e| Error::access("read", &e).with_path(path))
            }
        }
    }

    fn read_err(&self) -> impl Fn(&std::io::Error) -> Error + '_ {
        move |e| match self {
            Self::File { path, .. } => Error::access("read", e).with_path(path),
            Self::Bytes(_) => Error::access("read", e),
        }
    }

    /// SHA-1 of the data.
    fn hash(&self) -> Result<Sha1Hash> {
        match self {
            Self::Bytes(b) => Ok(sha1(b)),
            Self::File { size, .. } => {
                let mut f = self.open()?;
                let mut h = Sha1::new();
                pump(
                    &mut f,
                    *size,
                    |b| {
                        h.update(b);
                        Ok(())
                    },
                    self.read_err(),
                )?;
                Ok(h.finalize().into())
            }
        }
    }
}

/// Progress of writing blobs: bytes done of the total.
pub type WriteProgress<'a> = &'a mut dyn FnMut(u64, u64);

/// A WIM file being written.
pub struct WimWriter {
    out: Out,
    target: PathBuf,
    /// The temporary file renamed over `target` at the end; `None` in place.
    temp: Option<PathBuf>,
    header: Header,
    opts: WriteOptions,
    codec: ChunkCodec,
    solid_codec: Option<ChunkCodec>,
    entries: Vec<Entry>,
    by_hash: HashMap<Sha1Hash, usize>,
    /// Solid resources: their blob-table entry and uncompressed size.
    solid: Vec<(ResourceHeader, u64)>,
    metadata: Vec<BlobEntry>,
    images: Vec<Element>,
    xml_base: Option<Element>,
    finished: bool,
    /// In place: the file's length before this writer, restored when it is
    /// dropped unfinished (an error, e.g. a full disk, part-way through).
    original_len: Option<u64>,
}

/// 16 random bytes for a GUID.
pub fn new_guid() -> [u8; 16] {
    let mut g = [0u8; 16];
    #[cfg(unix)]
    if File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut g))
        .is_ok()
    {
        return g;
    }
    use std::hash::{BuildHasher, Hasher};
    for (i, part) in g.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(now_filetime() as u128 ^ (i as u128) << 64);
        h.write_u32(std::process::id());
        part.copy_from_slice(&h.finish().to_le_bytes());
    }
    g
}

/// A temporary file beside `target`, created exclusively with mode 0664 less the
/// umask (never world-writable).
fn create_temp_beside(target: &Path) -> Result<(File, PathBuf)> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wim".into());
    let mut last = None;
    for _ in 0..16 {
        let g = new_guid();
        let suffix: String = g[..6].iter().map(|b| format!("{b:02x}")).collect();
        let p = dir.join(format!(".{name}.{suffix}.tmp"));
        let mut o = OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o664);
        }
        match o.open(&p) {
            Ok(f) => return Ok((f, p)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(Error::access("create", &e).with_path(&p)),
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other("no temporary name"));
    Err(Error::access("create", &e).with_path(target))
}

impl WimWriter {
    fn codecs(opts: &WriteOptions) -> Result<(ChunkCodec, Option<ChunkCodec>)> {
        let threads = opts.thread_count();
        let hc = opts.header_compression();
        let codec = ChunkCodec::new(hc, opts.header_chunk_size(), opts.level, threads)?;
        let solid = if opts.solid {
            Some(ChunkCodec::new(
                opts.solid_compression,
                opts.solid_chunk_size.unwrap_or(DEFAULT_SOLID_CHUNK_SIZE),
                opts.level,
                threads,
            )?)
        } else {
            None
        };
        Ok((codec, solid))
    }

    /// Starts a new WIM that will replace `path` (created beside it, renamed at
    /// [`WimWriter::finish`]).
    pub fn create(path: impl AsRef<Path>, opts: &WriteOptions) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let (codec, solid_codec) = Self::codecs(opts)?;
        let header = Header::new(
            opts.header_compression(),
            opts.header_chunk_size(),
            new_guid(),
        );
        let (file, temp) = create_temp_beside(&target)?;
        let mut out = Out::new(file, 0, &temp)?;
        // The real header is written last.
        out.write(&[0u8; HEADER_SIZE])?;
        Ok(Self {
            out,
            target,
            temp: Some(temp),
            header,
            opts: opts.clone(),
            codec,
            solid_codec,
            entries: Vec::new(),
            by_hash: HashMap::new(),
            solid: Vec::new(),
            metadata: Vec::new(),
            images: Vec::new(),
            xml_base: None,
            finished: false,
            original_len: None,
        })
    }

    /// Starts rewriting the WIM at `path`, whose contents `wim` are (parsed from the
    /// same file), in place: new data goes after the end of the file, the header last.
    /// The compression and chunk size are the WIM's; `opts` gives the level, threads,
    /// integrity and, for a WIM with solid resources, whether new blobs go solid.
    pub fn in_place(path: impl AsRef<Path>, wim: &Wim<'_>, opts: &WriteOptions) -> Result<Self> {
        let path = path.as_ref();
        if wim.is_split() {
            return Err(Error::Unsupported(crate::error::Unsupported::SplitSet {
                part_number: 1,
                total_parts: wim.header.total_parts,
            })
            .with_path(path));
        }
        let mut o = opts.clone();
        o.compression = wim.header.compression;
        o.chunk_size = Some(wim.header.chunk_size);
        if wim.header.compression == Compression::None {
            o.chunk_size = None;
        }
        o.solid = opts.solid || !wim.blob_table.solid_resources.is_empty();
        if o.solid && wim.header.compression != Compression::Lzms {
            o.solid = false;
        }
        let (codec, solid_codec) = Self::codecs(&o)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::access("open", &e).with_path(path))?;
        let end = file
            .metadata()
            .map_err(|e| Error::access("stat", &e).with_path(path))?
            .len();
        let out = Out::new(file, end, path)?;
        let mut w = Self {
            out,
            target: path.to_path_buf(),
            temp: None,
            header: wim.header.clone(),
            opts: o,
            codec,
            solid_codec,
            entries: Vec::new(),
            by_hash: HashMap::new(),
            solid: Vec::new(),
            metadata: Vec::new(),
            images: Vec::new(),
            xml_base: None,
            finished: false,
            original_len: Some(end),
        };
        w.header.flags &= !crate::header::flags::WRITE_IN_PROGRESS;
        // Keep every blob where it is.
        for s in &wim.blob_table.solid_resources {
            w.solid.push((s.resource, s.header.uncompressed_size));
        }
        for b in &wim.blob_table.blobs {
            if b.is_metadata {
                continue;
            }
            let loc = match b.location {
                BlobLocation::Resource(r) => Loc::Res(r, b.part_number),
                BlobLocation::Solid { resource, offset } => Loc::Solid {
                    res: resource,
                    offset,
                    size: b.size,
                },
            };
            w.insert(b.hash, loc, b.ref_count);
        }
        for b in wim.blob_table.metadata_blobs() {
            let BlobLocation::Resource(r) = b.location else {
                continue;
            };
            w.metadata.push(BlobEntry {
                resource: r,
                part_number: b.part_number,
                ref_count: b.ref_count.max(1),
                hash: b.hash,
            });
        }
        let xml = wim.xml().map_err(|e| e.with_path(path))?;
        w.images = super::xml::image_elements(&xml);
        w.images
            .resize_with(wim.image_count() as usize, || Element {
                name: "IMAGE".into(),
                ..Element::default()
            });
        w.xml_base = Some(xml.root);
        Ok(w)
    }

    /// The header as it will be written (compression, chunk size, GUID, ...).
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn options(&self) -> &WriteOptions {
        &self.opts
    }

    /// Number of images so far.
    pub fn image_count(&self) -> usize {
        self.metadata.len()
    }

    /// Whether a blob with this SHA-1 is in the WIM already.
    pub fn has_blob(&self, hash: &Sha1Hash) -> bool {
        *hash == [0; 20] || self.by_hash.contains_key(hash)
    }

    /// Uncompressed size of a blob the WIM has.
    pub fn blob_size(&self, hash: &Sha1Hash) -> Option<u64> {
        let e = self.entries[*self.by_hash.get(hash)?];
        Some(match e.loc {
            Loc::Res(r, _) => r.uncompressed_size,
            Loc::Solid { size, .. } => size,
        })
    }

    fn insert(&mut self, hash: Sha1Hash, loc: Loc, refs: u32) {
        if self.by_hash.contains_key(&hash) || hash == [0; 20] {
            return;
        }
        self.by_hash.insert(hash, self.entries.len());
        self.entries.push(Entry { hash, loc, refs });
    }

    /// Whether new blobs go into solid resources (where their order matters: see
    /// [`solid_order`]).
    pub fn is_solid(&self) -> bool {
        self.solid_codec.is_some()
    }

    /// Adds the data of `blobs` (deduplicated against each other and the WIM) and
    /// returns their SHA-1s, in order. Empty blobs get the zero hash and are not
    /// stored. `progress(done, total)` counts bytes.
    pub fn add_blobs(
        &mut self,
        blobs: &[BlobData],
        progress: WriteProgress<'_>,
    ) -> Result<Vec<Sha1Hash>> {
        let total: u64 = blobs.iter().map(BlobData::size).sum();
        if self.solid_codec.is_some() {
            return self.add_blobs_solid(blobs, total, progress);
        }
        let mut hashes = vec![[0u8; 20]; blobs.len()];
        let mut done = 0u64;
        // Small blobs go in batches: while the workers compress one batch they also
        // read and hash the next, so that no core waits on the reading (the main
        // thread only deduplicates and writes). Large blobs are streamed after.
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut large = Vec::new();
        let mut batch_bytes = 0u64;
        for (i, b) in blobs.iter().enumerate() {
            let size = b.size();
            if size == 0 {
                continue;
            }
            if size > SMALL_BLOB {
                large.push(i);
                continue;
            }
            if batches.is_empty() || batch_bytes >= BATCH_BYTES {
                batches.push(Vec::new());
                batch_bytes = 0;
            }
            batch_bytes += size;
            if let Some(last) = batches.last_mut() {
                last.push(i);
            }
        }
        let read = |batch: &[usize]| -> Result<Vec<(usize, Vec<u8>, Sha1Hash)>> {
            batch
                .par_iter()
                .with_max_len(1)
                .map(|&i| {
                    let data = blobs[i].read_all()?;
                    let h = sha1(&data);
                    Ok((i, data, h))
                })
                .collect()
        };
        let mut next = match batches.first() {
            Some(first) => Some(self.codec.install(|| read(first))?),
            None => None,
        };
        for k in 0..batches.len() {
            let Some(current) = next.take() else {
                break;
            };
            let mut seen = std::collections::HashSet::new();
            let mut keep: Vec<(usize, Vec<u8>)> = Vec::new();
            for (i, data, h) in current {
                hashes[i] = h;
                done += data.len() as u64;
                if !self.by_hash.contains_key(&h) && seen.insert(h) {
                    keep.push((i, data));
                }
            }
            let (raw, packed): (Vec<_>, Vec<_>) =
                keep.into_iter().partition(|(i, _)| blobs[*i].raw());
            let packed_data: Vec<&[u8]> = packed.iter().map(|(_, d)| d.as_slice()).collect();
            let following = batches.get(k + 1);
            let codec = &self.codec;
            let (compressed, read_next) = codec.install(|| {
                rayon::join(
                    || compress_buffers(codec, &packed_data),
                    || following.map(|b| read(b)),
                )
            });
            for (group, compressed) in [(packed, compressed), (raw, Vec::new())] {
                let datas: Vec<&[u8]> = group.iter().map(|(_, d)| d.as_slice()).collect();
                let res = write_compressed(&mut self.out, &self.codec, &datas, &compressed)?;
                for ((i, _), r) in group.iter().zip(res) {
                    self.insert(hashes[*i], Loc::Res(r, 1), 0);
                }
            }
            progress(done, total);
            next = read_next.transpose()?;
        }
        for i in large {
            hashes[i] = self.stream_blob(&blobs[i])?;
            done += blobs[i].size();
            progress(done, total);
        }
        progress(done, total);
        Ok(hashes)
    }

    /// Writes a large blob as it is read; drops it again if its hash was known.
    fn stream_blob(&mut self, b: &BlobData) -> Result<Sha1Hash> {
        if let BlobData::Bytes(d) = b {
            let h = sha1(d);
            if !self.by_hash.contains_key(&h) {
                let r = write_buffer(&mut self.out, &self.codec, d, false)?;
                self.insert(h, Loc::Res(r, 1), 0);
            }
            return Ok(h);
        }
        let mut f = b.open()?;
        let start = self.out.pos();
        let mut s = StreamWriter::begin(&mut self.out, &self.codec, b.size(), false, b.raw())?;
        let out = &mut self.out;
        if s.is_raw() {
            pump(&mut f, b.size(), |d| s.push(out, d), b.read_err())?;
        } else {
            // Window by window, the next read while this one is hashed and compressed.
            let cs = self.codec.chunk_size as usize;
            let window = (self.codec.window_chunks() * cs) as u64;
            let mut left = b.size();
            let read = |f: &mut File, left: &mut u64| -> Result<Vec<Vec<u8>>> {
                let n = (*left).min(window);
                *left -= n;
                read_chunks(f, n, cs).map_err(|e| b.read_err()(&e))
            };
            let mut next = read(&mut f, &mut left)?;
            while !next.is_empty() {
                let f = &mut f;
                let left = &mut left;
                next = s.push_chunks(out, next, || read(f, left))??;
            }
        }
        let (res, h) = s.finish(&mut self.out)?;
        if self.by_hash.contains_key(&h) {
            self.out.seek(start)?;
        } else {
            self.insert(h, Loc::Res(res, 1), 0);
        }
        Ok(h)
    }

    fn add_blobs_solid(
        &mut self,
        blobs: &[BlobData],
        total: u64,
        progress: WriteProgress<'_>,
    ) -> Result<Vec<Sha1Hash>> {
        let codec = self.solid_codec.as_ref().expect("solid codec");
        // Duplicates must never enter the solid stream, so a blob is hashed before
        // it is streamed when another blob of the same size exists, here or in the
        // WIM; the others (most, in a typical tree) cannot be duplicates and are
        // hashed once, as they are streamed.
        let mut size_count: HashMap<u64, u32> = HashMap::new();
        for b in blobs.iter().filter(|b| b.size() > 0) {
            *size_count.entry(b.size()).or_default() += 1;
        }
        for e in &self.entries {
            let size = match e.loc {
                Loc::Res(r, _) => r.uncompressed_size,
                Loc::Solid { size, .. } => size,
            };
            if let Some(c) = size_count.get_mut(&size) {
                *c += 1;
            }
        }
        let ahead = |b: &BlobData| size_count.get(&b.size()).is_some_and(|&c| c > 1);
        let early: Vec<Option<Sha1Hash>> = codec.install(|| {
            blobs
                .par_iter()
                .with_max_len(1)
                .map(|b| {
                    if ahead(b) {
                        b.hash().map(Some)
                    } else {
                        Ok(None)
                    }
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let mut chosen = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, b) in blobs.iter().enumerate() {
            if b.size() == 0 {
                continue;
            }
            match early[i] {
                Some(h) if self.by_hash.contains_key(&h) || !seen.insert(h) => {}
                _ => chosen.push(i),
            }
        }
        let mut hashes: Vec<Sha1Hash> = early.iter().map(|h| h.unwrap_or([0; 20])).collect();
        let size: u64 = chosen.iter().map(|&i| blobs[i].size()).sum();
        if size == 0 {
            progress(total, total);
            return Ok(hashes);
        }
        let mut s = StreamWriter::begin(&mut self.out, codec, size, true, false)?;
        let mut offset = 0u64;
        let mut placed = Vec::new();
        for &i in &chosen {
            let b = &blobs[i];
            let mut h = Sha1::new();
            let out = &mut self.out;
            match b {
                BlobData::Bytes(d) => {
                    h.update(d);
                    s.push(out, d)?;
                }
                BlobData::File { .. } => {
                    let mut f = b.open()?;
                    pump(
                        &mut f,
                        b.size(),
                        |d| {
                            h.update(d);
                            s.push(out, d)
                        },
                        b.read_err(),
                    )?;
                }
            }
            let got: Sha1Hash = h.finalize().into();
            if early[i].is_some_and(|e| e != got) {
                let path = match b {
                    BlobData::File { path, .. } => path.clone(),
                    BlobData::Bytes(_) => PathBuf::new(),
                };
                return Err(Error::Access {
                    op: "read",
                    kind: std::io::ErrorKind::Other,
                    message: "the file changed while it was captured".into(),
                }
                .with_path(path));
            }
            hashes[i] = got;
            placed.push((got, offset, b.size()));
            offset += b.size();
            progress(offset, total);
        }
        let (res, _) = s.finish(&mut self.out)?;
        self.record_solid(res, size, placed);
        progress(total, total);
        Ok(hashes)
    }

    /// Records a finished solid resource of `size` bytes and the blobs placed in it:
    /// `(hash, offset, size)`.
    fn record_solid(&mut self, res: ResourceHeader, size: u64, placed: Vec<(Sha1Hash, u64, u64)>) {
        let res_index = self.solid.len();
        self.solid.push((res, size));
        for (h, offset, size) in placed {
            self.insert(
                h,
                Loc::Solid {
                    res: res_index,
                    offset,
                    size,
                },
                0,
            );
        }
    }

    /// Copies the blobs of `src` this WIM lacks, in the given order: into one new
    /// solid resource when new blobs go solid (read, checked against their hashes
    /// and streamed), else each as [`copy_blob`](Self::copy_blob) copies it.
    pub fn copy_blobs(&mut self, src: &Wim<'_>, blobs: &[Blob]) -> Result<()> {
        let Some(codec) = self.solid_codec.as_ref() else {
            for b in blobs {
                self.copy_blob(src, b)?;
            }
            return Ok(());
        };
        let mut seen = std::collections::HashSet::new();
        let todo: Vec<&Blob> = blobs
            .iter()
            .filter(|b| b.size > 0 && !self.has_blob(&b.hash) && seen.insert(b.hash))
            .collect();
        let size: u64 = todo.iter().map(|b| b.size).sum();
        if size == 0 {
            return Ok(());
        }
        let start = self.out.pos();
        let mut s = StreamWriter::begin(&mut self.out, codec, size, true, false)?;
        let mut reader = src.reader();
        let mut placed = Vec::with_capacity(todo.len());
        let mut offset = 0u64;
        for b in todo {
            let mut h = Sha1::new();
            let out = &mut self.out;
            reader.visit_blob(b, |d| {
                h.update(d);
                s.push(out, d)
            })?;
            let got: Sha1Hash = h.finalize().into();
            if got != b.hash {
                self.out.seek(start)?;
                return Err(Error::HashMismatch {
                    expected: b.hash,
                    actual: got,
                });
            }
            placed.push((got, offset, b.size));
            offset += b.size;
        }
        let (res, _) = s.finish(&mut self.out)?;
        self.record_solid(res, size, placed);
        Ok(())
    }

    /// Copies the blob `blob` of `src` into this WIM, whose new blobs are not solid,
    /// unless it is there already: the stored bytes as they are when their format
    /// suits this WIM (not solid, and stored raw or with this WIM's compression and
    /// chunk size), else decompressed and compressed again.
    fn copy_blob(&mut self, src: &Wim<'_>, blob: &Blob) -> Result<()> {
        if self.has_blob(&blob.hash) || blob.size == 0 {
            return Ok(());
        }
        let part_header = src.part_header(blob.part_number)?;
        if let BlobLocation::Resource(r) = blob.location {
            let same = !r.is_compressed()
                || (part_header.compression == self.header.compression
                    && part_header.chunk_size == self.header.chunk_size
                    && part_header.magic == crate::header::Magic::Standard);
            if same && !r.is_spanned() {
                let file = src.part_file(blob.part_number)?;
                let bytes = r.stored_bytes(file, "blob resource")?;
                let offset = self.out.pos();
                self.out.write(bytes)?;
                let mut nr = r;
                nr.offset = offset;
                nr.flags = r
                    .flags
                    .without(ResourceFlags::SOLID)
                    .without(ResourceFlags::FREE);
                self.insert(blob.hash, Loc::Res(nr, 1), 0);
                return Ok(());
            }
        }
        let mut reader = src.reader();
        if blob.size <= SMALL_BLOB {
            let data = reader.read_blob(blob)?;
            let mut p = |_: u64, _: u64| {};
            self.add_blobs(&[BlobData::Bytes(data)], &mut p)?;
            return Ok(());
        }
        let start = self.out.pos();
        let mut s = StreamWriter::begin(&mut self.out, &self.codec, blob.size, false, false)?;
        let out = &mut self.out;
        reader.visit_blob(blob, |d| s.push(out, d))?;
        let (res, h) = s.finish(&mut self.out)?;
        if h != blob.hash {
            self.out.seek(start)?;
            return Err(Error::HashMismatch {
                expected: blob.hash,
                actual: h,
            });
        }
        self.insert(h, Loc::Res(res, 1), 0);
        Ok(())
    }

    /// Copies whole the solid resource `index` of `src` with every blob in it (for
    /// rebuilding ESDs without recompressing).
    pub fn copy_solid_resource(&mut self, src: &Wim<'_>, index: usize) -> Result<()> {
        let s = src
            .blob_table
            .solid_resources
            .get(index)
            .ok_or(Error::InvalidMetadata {
                what: "no such solid resource",
                offset: index as u64,
            })?;
        let blobs: Vec<&Blob> = src
            .blob_table
            .blobs
            .iter()
            .filter(
                |b| matches!(b.location, BlobLocation::Solid { resource, .. } if resource == index),
            )
            .collect();
        let part = blobs.first().map_or(1, |b| b.part_number);
        let bytes = s
            .resource
            .stored_bytes(src.part_file(part)?, "solid resource")?;
        let offset = self.out.pos();
        self.out.write(bytes)?;
        let mut r = s.resource;
        r.offset = offset;
        let ri = self.solid.len();
        self.solid.push((r, s.header.uncompressed_size));
        for b in blobs {
            if let BlobLocation::Solid { offset, .. } = b.location {
                self.insert(
                    b.hash,
                    Loc::Solid {
                        res: ri,
                        offset,
                        size: b.size,
                    },
                    0,
                );
            }
        }
        Ok(())
    }

    /// Adds an image: its metadata resource (every stream's blob must be in the WIM
    /// already) and its XML IMAGE element. Reference counts are raised by its dentries.
    pub fn add_image(&mut self, image: &Image, element: Element) -> Result<()> {
        for n in &image.nodes {
            for s in &n.streams {
                if s.hash == [0; 20] {
                    continue;
                }
                match self.by_hash.get(&s.hash) {
                    Some(&i) => self.entries[i].refs += 1,
                    None => {
                        return Err(Error::MissingBlob {
                            path: String::new(),
                            hash: s.hash,
                        })
                    }
                }
            }
        }
        let bytes = metadata_bytes(image);
        let hash = sha1(&bytes);
        let mut res = write_buffer(&mut self.out, &self.codec, &bytes, false)?;
        res.flags = res.flags | ResourceFlags::METADATA;
        self.metadata.push(BlobEntry {
            resource: res,
            part_number: 1,
            ref_count: 1,
            hash,
        });
        self.images.push(element);
        Ok(())
    }

    /// Replaces image `index` (1-based) in place: a new metadata resource for `image`
    /// (every stream's blob must be in the WIM already) takes the old one's slot, and
    /// `element` its XML IMAGE element; the image keeps its position (and its boot
    /// index). Reference counts are raised by the new dentries; call
    /// [`WimWriter::recount`] with every image for exact counts (the old image's
    /// references are not taken back here).
    pub fn replace_image(&mut self, index: u32, image: &Image, element: Element) -> Result<()> {
        let count = self.metadata.len() as u32;
        if index == 0 || index > count {
            return Err(Error::NoSuchImage { index, count });
        }
        self.add_image(image, element)?;
        let i = index as usize - 1;
        let entry = self.metadata.pop().expect("the image just added");
        let element = self.images.pop().expect("the element just added");
        self.metadata[i] = entry;
        if i < self.images.len() {
            self.images[i] = element;
        }
        Ok(())
    }

    /// Removes image `index` (1-based) from what will be written: its metadata entry
    /// and XML element. Its blobs stay unless [`WimWriter::recount`] drops them.
    pub fn remove_image(&mut self, index: u32) -> Result<()> {
        let count = self.metadata.len() as u32;
        if index == 0 || index > count {
            return Err(Error::NoSuchImage { index, count });
        }
        let i = index as usize - 1;
        self.metadata.remove(i);
        if i < self.images.len() {
            self.images.remove(i);
        }
        if self.header.boot_index == index {
            self.header.boot_index = 0;
        } else if self.header.boot_index > index {
            self.header.boot_index -= 1;
        }
        Ok(())
    }

    /// Sets every reference count from `images` (all images the WIM will have) and
    /// drops blobs nothing references from the blob table.
    pub fn recount(&mut self, images: &[Image]) {
        for e in &mut self.entries {
            e.refs = 0;
        }
        for img in images {
            for n in &img.nodes {
                for s in &n.streams {
                    if let Some(&i) = self.by_hash.get(&s.hash) {
                        self.entries[i].refs += 1;
                    }
                }
            }
        }
        self.entries.retain(|e| e.refs > 0);
        self.by_hash = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.hash, i))
            .collect();
    }

    /// The XML IMAGE elements (to change names, descriptions...).
    pub fn image_elements_mut(&mut self) -> &mut Vec<Element> {
        &mut self.images
    }

    /// Sets a flag of the header (e.g. [`crate::header::flags::RP_FIX`]).
    pub fn set_header_flag(&mut self, flag: u32) {
        self.header.flags |= flag;
    }

    /// Sets the bootable image (1-based; 0: none).
    pub fn set_boot_index(&mut self, index: u32) {
        self.header.boot_index = index;
    }

    /// The bytes of the blob table.
    fn table_bytes(&self) -> Vec<u8> {
        let mut t = Vec::new();
        let part = self.header.part_number;
        for m in &self.metadata {
            t.extend_from_slice(&m.to_bytes());
        }
        for e in &self.entries {
            if let Loc::Res(r, _) = e.loc {
                t.extend_from_slice(
                    &BlobEntry {
                        resource: r,
                        part_number: part,
                        ref_count: e.refs.max(1),
                        hash: e.hash,
                    }
                    .to_bytes(),
                );
            }
        }
        // One solid run: every solid resource, then their blobs with offsets into the
        // concatenation of the resources' data.
        let used: Vec<bool> = (0..self.solid.len())
            .map(|r| {
                self.entries
                    .iter()
                    .any(|e| matches!(e.loc, Loc::Solid { res, .. } if res == r))
            })
            .collect();
        let mut base = Vec::with_capacity(self.solid.len());
        let mut acc = 0u64;
        for (i, (r, size)) in self.solid.iter().enumerate() {
            base.push(acc);
            if !used[i] {
                continue;
            }
            acc += size;
            let mut r = *r;
            r.uncompressed_size = SOLID_RESOURCE_MAGIC;
            r.flags = ResourceFlags::SOLID;
            t.extend_from_slice(
                &BlobEntry {
                    resource: r,
                    part_number: part,
                    ref_count: 1,
                    hash: [0; 20],
                }
                .to_bytes(),
            );
        }
        for e in &self.entries {
            if let Loc::Solid { res, offset, size } = e.loc {
                t.extend_from_slice(
                    &BlobEntry {
                        resource: ResourceHeader {
                            stored_size: size,
                            flags: ResourceFlags::SOLID,
                            offset: base[res] + offset,
                            // Zero, as DISM and wimlib write it: 7-Zip reads a
                            // nonzero value here as a resource of its own.
                            uncompressed_size: 0,
                        },
                        part_number: part,
                        ref_count: e.refs.max(1),
                        hash: e.hash,
                    }
                    .to_bytes(),
                );
            }
        }
        t
    }

    /// Writes the blob table, XML data and integrity table, syncs, then writes the
    /// header (and, for a new WIM, renames it into place). `stop_before_header` is for
    /// tests of crash safety: everything but the header write happens.
    pub fn finish(self) -> Result<Header> {
        self.finish_inner(false)
    }

    #[doc(hidden)]
    pub fn finish_without_header(self) -> Result<Header> {
        self.finish_inner(true)
    }

    fn finish_inner(mut self, stop_before_header: bool) -> Result<Header> {
        let table = self.table_bytes();
        let table_res = super::resource::write_stored(&mut self.out, &table)?;
        let xml_offset = self.out.pos();
        let root = wim_element(self.xml_base.as_ref(), &self.images, xml_offset);
        let xml = xml_bytes(&root);
        let xml_res = super::resource::write_stored(&mut self.out, &xml)?;
        let mut h = self.header.clone();
        h.image_count = self.metadata.len() as u32;
        h.blob_table = ResourceHeader {
            flags: ResourceFlags::METADATA,
            ..table_res
        };
        h.xml = ResourceHeader {
            flags: ResourceFlags::METADATA,
            ..xml_res
        };
        if h.boot_index > h.image_count {
            h.boot_index = 0;
        }
        h.boot_metadata = if h.boot_index > 0 {
            self.metadata[h.boot_index as usize - 1].resource
        } else {
            ResourceHeader::default()
        };
        h.integrity = ResourceHeader::default();
        if self.opts.integrity {
            self.out.flush()?;
            let table = integrity_of(self.out.file(), self.out.path(), table_res.end()?)?;
            let bytes = table.to_bytes();
            h.integrity = super::resource::write_stored(&mut self.out, &bytes)?;
        }
        let path = self.out.path().to_path_buf();
        let in_place = self.temp.is_none();
        if in_place {
            // Data first, synced; the header after.
            self.out.flush()?;
            self.out
                .file()
                .sync_data()
                .map_err(|e| Error::access("sync", &e).with_path(&path))?;
        }
        self.finished = true;
        if stop_before_header {
            let end = self.out.pos();
            let _ = end;
            self.out.finish()?;
            return Ok(h);
        }
        self.out.write_at(0, &h.to_bytes())?;
        self.out.finish()?;
        if let Some(temp) = self.temp.take() {
            std::fs::rename(&temp, &self.target)
                .map_err(|e| Error::access("rename", &e).with_path(&self.target))?;
            sync_dir(&self.target);
        }
        Ok(h)
    }
}

impl Drop for WimWriter {
    fn drop(&mut self) {
        if let Some(t) = self.temp.take() {
            let _ = std::fs::remove_file(t);
        }
        // The header still describes the original data only, so cutting off what
        // an unfinished in-place write added gives back the original file.
        if let (false, Some(len)) = (self.finished, self.original_len) {
            self.out.abandon(len);
        }
    }
}

fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(d) = path.parent() {
        let d = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        if let Ok(f) = File::open(d) {
            let _ = f.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The integrity table of `file` from the end of the header to `end`, read in 10 MiB
/// chunks and hashed in parallel.
pub fn integrity_of(file: &File, path: &Path, end: u64) -> Result<IntegrityTable> {
    let cs = u64::from(INTEGRITY_CHUNK_SIZE);
    let start = HEADER_SIZE as u64;
    let n = end.saturating_sub(start).div_ceil(cs);
    let hashes = (0..n)
        .into_par_iter()
        .map(|i| {
            let at = start + i * cs;
            let len = cs.min(end - at) as usize;
            let mut buf = vec![0u8; len];
            read_exact_at(file, &mut buf, at)
                .map_err(|e| Error::access("read", &e).with_path(path))?;
            Ok(sha1(&buf))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(IntegrityTable {
        chunk_size: INTEGRITY_CHUNK_SIZE,
        hashes,
    })
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, at)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}

/// Reads `n` bytes of `f` as chunks of `cs` bytes (the last may be shorter).
fn read_chunks(f: &mut File, n: u64, cs: usize) -> std::io::Result<Vec<Vec<u8>>> {
    let mut chunks = Vec::with_capacity((n as usize).div_ceil(cs.max(1)));
    let mut left = n;
    while left > 0 {
        let k = left.min(cs as u64);
        chunks.push(read_exactly(f, k)?);
        left -= k;
    }
    Ok(chunks)
}

/// The next `k` bytes of `f`, read straight into their buffer (no zeroing, no
/// bounce buffer); a file that ends first is an error.
fn read_exactly(f: &mut File, k: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::with_capacity(k as usize);
    (&mut *f).take(k).read_to_end(&mut v)?;
    if (v.len() as u64) < k {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file became shorter while it was read",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::WimFile;

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
            .collect()
    }

    /// The WIM has `count` data blobs, each reading back to its hash.
    fn check_data_blobs(wim: &crate::read::Wim<'_>, count: usize) {
        let data: Vec<&Blob> = wim
            .blob_table
            .blobs
            .iter()
            .filter(|b| !b.is_metadata)
            .collect();
        assert_eq!(data.len(), count);
        let mut reader = wim.reader();
        for blob in data {
            let got = reader.read_blob(blob).unwrap();
            assert_eq!(sha1(&got), blob.hash);
        }
    }

    /// Solid streams hold each content once: duplicates within a batch, and
    /// duplicates of blobs already in the WIM, are found although only blobs of
    /// equal size are hashed before streaming.
    #[test]
    fn solid_streams_store_each_content_once() {
        let dir = std::env::temp_dir().join(format!("wimkit-solid-dedupe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.esd");
        let mut opts = WriteOptions::recovery();
        opts.solid_chunk_size = Some(1 << 16);
        opts.threads = Some(2);
        // Random `a` and `b` fill chunks stored raw, `c` compressed ones; five chunks
        // on two workers finish out of order and must be written in order.
        let (a, b) = (bytes(100_000, 1), bytes(70_000, 2));
        let c: Vec<u8> = bytes(100_000, 3).iter().map(|x| x & 3).collect();
        let mut w = WimWriter::create(&path, &opts).unwrap();
        let first = [
            BlobData::Bytes(a.clone()),
            BlobData::Bytes(b.clone()),
            BlobData::Bytes(a.clone()),
            BlobData::Bytes(c.clone()),
            BlobData::Bytes(Vec::new()),
        ];
        let h = w.add_blobs(&first, &mut |_, _| {}).unwrap();
        assert_eq!(h[0], sha1(&a));
        assert_eq!(h[0], h[2]);
        assert_eq!(h[1], sha1(&b));
        assert_eq!(h[3], sha1(&c));
        assert_eq!(h[4], [0; 20]);
        // A second stream: `b` again (a unique size in this batch, but the WIM has it).
        let d = bytes(5_000, 4);
        let h2 = w
            .add_blobs(
                &[BlobData::Bytes(b.clone()), BlobData::Bytes(d.clone())],
                &mut |_, _| {},
            )
            .unwrap();
        assert_eq!(h2, vec![sha1(&b), sha1(&d)]);
        w.finish().unwrap();

        let file = WimFile::open(&path).unwrap();
        let wim = file.wim().unwrap();
        let solid: Vec<u64> = wim
            .blob_table
            .solid_resources
            .iter()
            .map(|s| s.header.uncompressed_size)
            .collect();
        assert_eq!(solid, vec![270_000, 5_000]);
        check_data_blobs(&wim, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Large blobs (streamed window by window, from files and from memory) and
    /// their duplicates, next to small ones.
    #[test]
    fn large_blobs_stream_in_windows() {
        let dir = std::env::temp_dir().join(format!("wimkit-large-blobs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.wim");
        let mut opts = WriteOptions::new(Compression::Xpress);
        opts.threads = Some(2);
        // Over several windows, and not a whole number of chunks.
        let big: Vec<u8> = bytes(37 << 20, 7).iter().map(|b| b & 0x0f).collect();
        let file = dir.join("big");
        std::fs::write(&file, &big).unwrap();
        let from_file = || BlobData::File {
            path: file.clone(),
            size: big.len() as u64,
            raw: false,
        };
        let mut mem = bytes(6 << 20, 8);
        mem.truncate((6 << 20) - 5);
        let blobs = [
            from_file(),
            BlobData::Bytes(bytes(1000, 9)),
            from_file(),
            BlobData::Bytes(mem.clone()),
            BlobData::Bytes(big.clone()),
        ];
        let mut w = WimWriter::create(&path, &opts).unwrap();
        let h = w.add_blobs(&blobs, &mut |_, _| {}).unwrap();
        assert_eq!(h[0], sha1(&big));
        assert_eq!(h[2], h[0]);
        assert_eq!(h[4], h[0]);
        assert_eq!(h[3], sha1(&mem));
        // A file that shrank since it was scanned is an error that names it.
        let shrunk = BlobData::File {
            path: file.clone(),
            size: big.len() as u64 + 10,
            raw: false,
        };
        let e = w.add_blobs(&[shrunk], &mut |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("big"), "{e}");
        drop(w);

        let mut w = WimWriter::create(&path, &opts).unwrap();
        w.add_blobs(&blobs, &mut |_, _| {}).unwrap();
        w.finish().unwrap();
        let f = WimFile::open(&path).unwrap();
        let wim = f.wim().unwrap();
        check_data_blobs(&wim, 3);
        assert!(std::fs::metadata(&path).unwrap().len() < (30 << 20));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
