//! An opened WIM (one file or a split set) that owns its bytes, and reads any byte
//! range of any blob through a shared [`ChunkCache`], decompressing only the chunks
//! that cover the range.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha1::{Digest, Sha1};
use wim_format::header::flags;
use wim_format::images::{image_with_sizes, metadata_blob};
use wim_format::{
    Blob, BlobLocation, BlobTable, ChunkTable, Error, Header, Image, ResourceData, Result,
    Sha1Hash, Wim, WimFile,
};

use crate::cache::{ChunkCache, ChunkKey};

/// Chunk tables of ordinary compressed resources kept; past this the table cache is
/// emptied (solid resources' tables are few and always kept).
const KEPT_TABLES: usize = 4096;

static NEXT_SOURCE_ID: AtomicU64 = AtomicU64::new(1);

enum Bytes {
    File(WimFile),
    Memory(Vec<u8>),
}

impl Bytes {
    fn get(&self) -> &[u8] {
        match self {
            Self::File(f) => f.bytes(),
            Self::Memory(v) => v,
        }
    }
}

struct Part {
    bytes: Bytes,
    header: Header,
}

/// Where the data of a plain (non-solid) resource is.
#[derive(Clone)]
enum Located {
    /// Stored uncompressed at this file offset.
    Stored(u64),
    Chunked(Arc<ChunkTable>),
}

#[derive(Default)]
struct Tables {
    plain: HashMap<(usize, u64), Located>,
    solid: HashMap<usize, Arc<ChunkTable>>,
}

/// An opened WIM that owns its bytes (memory-mapped or in memory).
pub struct WimSource {
    id: u64,
    paths: Vec<PathBuf>,
    parts: Vec<Part>,
    blob_table: BlobTable,
    tables: Mutex<Tables>,
    cache: Arc<ChunkCache>,
}

impl std::fmt::Debug for WimSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WimSource")
            .field("id", &self.id)
            .field("paths", &self.paths)
            .field("parts", &self.parts.len())
            .field("blobs", &self.blob_table.len())
            .finish()
    }
}

fn out_of_range(offset: u64, size: u64, resource_size: u64) -> Error {
    Error::BlobOutOfRange {
        offset,
        size,
        resource_size,
    }
}

impl WimSource {
    /// Opens the WIM at `path` (memory-mapped).
    pub fn open(path: impl AsRef<Path>, cache: Arc<ChunkCache>) -> Result<Self> {
        Self::open_parts(&[path.as_ref().to_path_buf()], cache)
    }

    /// Opens a split set (every part, in any order) or a single WIM.
    pub fn open_parts(paths: &[PathBuf], cache: Arc<ChunkCache>) -> Result<Self> {
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            files.push(Bytes::File(WimFile::open(p)?));
        }
        Self::build(files, paths.to_vec(), cache)
    }

    /// A WIM held in memory.
    pub fn from_bytes(bytes: Vec<u8>, cache: Arc<ChunkCache>) -> Result<Self> {
        Self::build(vec![Bytes::Memory(bytes)], Vec::new(), cache)
    }

    fn build(files: Vec<Bytes>, paths: Vec<PathBuf>, cache: Arc<ChunkCache>) -> Result<Self> {
        let slices: Vec<&[u8]> = files.iter().map(Bytes::get).collect();
        let with_path = |e: Error| match paths.first() {
            Some(p) => e.with_path(p),
            None => e,
        };
        let wim = if slices.len() == 1 {
            Wim::parse(slices[0])
        } else {
            Wim::parse_parts(&slices)
        }
        .map_err(with_path)?;
        // Parts in part order, matched to the files by address.
        let mut order = Vec::with_capacity(wim.parts.len());
        for p in &wim.parts {
            let i = slices
                .iter()
                .position(|s| std::ptr::eq(s.as_ptr(), p.file.as_ptr()) && s.len() == p.file.len())
                .ok_or(Error::MissingPart {
                    part_number: p.header.part_number,
                    total_parts: p.header.total_parts,
                })?;
            order.push((i, p.header.clone()));
        }
        let blob_table = wim.blob_table;
        let mut files: Vec<Option<Bytes>> = files.into_iter().map(Some).collect();
        let parts = order
            .into_iter()
            .filter_map(|(i, header)| files[i].take().map(|bytes| Part { bytes, header }))
            .collect();
        Ok(Self {
            id: NEXT_SOURCE_ID.fetch_add(1, Ordering::Relaxed),
            paths,
            parts,
            blob_table,
            tables: Mutex::new(Tables::default()),
            cache,
        })
    }

    /// The header of part 1.
    pub fn header(&self) -> &Header {
        &self.parts[0].header
    }

    /// The files this WIM was opened from (empty for one in memory).
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn blob_table(&self) -> &BlobTable {
        &self.blob_table
    }

    pub fn cache(&self) -> &Arc<ChunkCache> {
        &self.cache
    }

    /// Whether the WIM was captured with reparse-point fixups (absolute link targets
    /// inside the image stored relative to its root).
    pub fn rp_fix(&self) -> bool {
        self.header().has_flag(flags::RP_FIX)
    }

    pub fn image_count(&self) -> u32 {
        self.header().image_count
    }

    /// The blob with SHA-1 `hash`.
    pub fn blob(&self, hash: &Sha1Hash) -> Option<&Blob> {
        self.blob_table.get(hash)
    }

    /// The directory tree of image `index` (1-based), with stream sizes filled in, as
    /// [`Wim::image`] reads it.
    pub fn image(&self, index: u32) -> Result<Image> {
        let blob = *metadata_blob(&self.blob_table, self.image_count(), index)?;
        let buf = self.read_verified(&blob)?;
        image_with_sizes(&buf, &self.blob_table)
    }

    /// The whole data of `blob`, its SHA-1 checked.
    pub fn read_verified(&self, blob: &Blob) -> Result<Vec<u8>> {
        let size = usize::try_from(blob.size).map_err(|_| Error::TooLarge(blob.size))?;
        let mut out = vec![0; size];
        let n = self.read_blob(blob, 0, &mut out)?;
        out.truncate(n);
        let actual: Sha1Hash = Sha1::digest(&out).into();
        if actual != blob.hash {
            return Err(Error::HashMismatch {
                expected: blob.hash,
                actual,
            });
        }
        Ok(out)
    }

    /// The data of the blob with SHA-1 `hash` (empty for the zero hash), checked.
    pub fn blob_data(&self, hash: &Sha1Hash) -> Result<Vec<u8>> {
        if *hash == [0; 20] {
            return Ok(Vec::new());
        }
        let blob = *self.blob_table.get(hash).ok_or(Error::MissingBlob {
            path: String::new(),
            hash: *hash,
        })?;
        self.read_verified(&blob)
    }

    fn part(&self, blob: &Blob) -> Result<(usize, &Part)> {
        let i = usize::from(blob.part_number).wrapping_sub(1);
        let part = self.parts.get(i).ok_or(Error::Unsupported(
            wim_format::Unsupported::BlobInOtherPart {
                part_number: blob.part_number,
            },
        ))?;
        Ok((i, part))
    }

    fn plain_location(
        &self,
        pi: usize,
        part: &Part,
        res: &wim_format::ResourceHeader,
    ) -> Result<Located> {
        let key = (pi, res.offset);
        if let Some(l) = lock(&self.tables).plain.get(&key) {
            return Ok(l.clone());
        }
        let file = part.bytes.get();
        let located = match ResourceData::open(file, &part.header, res)? {
            ResourceData::Stored(s) => {
                // The stored bytes are a subslice of the file.
                let at = (s.as_ptr() as usize).wrapping_sub(file.as_ptr() as usize);
                Located::Stored(at as u64)
            }
            ResourceData::Chunked(t) => Located::Chunked(Arc::new(t)),
        };
        let mut tables = lock(&self.tables);
        if tables.plain.len() >= KEPT_TABLES {
            tables.plain.clear();
        }
        tables.plain.insert(key, located.clone());
        Ok(located)
    }

    fn solid_table(&self, part: &Part, resource: usize, blob: &Blob) -> Result<Arc<ChunkTable>> {
        if let Some(t) = lock(&self.tables).solid.get(&resource) {
            return Ok(t.clone());
        }
        let solid =
            self.blob_table
                .solid_resources
                .get(resource)
                .ok_or(Error::SolidBlobOutOfRange {
                    offset: 0,
                    size: blob.size,
                })?;
        let t = Arc::new(solid.chunk_table(part.bytes.get())?);
        lock(&self.tables).solid.insert(resource, t.clone());
        Ok(t)
    }

    /// Reads bytes `offset..` of `blob` into `out`, as many as fit and exist; returns
    /// how many. Only the chunks covering the range are decompressed (through the
    /// cache). The data is not hashed.
    pub fn read_blob(&self, blob: &Blob, offset: u64, out: &mut [u8]) -> Result<usize> {
        let len = (out.len() as u64).min(blob.size.saturating_sub(offset));
        if len == 0 {
            return Ok(0);
        }
        let out = &mut out[..len as usize];
        let (pi, part) = self.part(blob)?;
        let file = part.bytes.get();
        match blob.location {
            BlobLocation::Resource(res) => match self.plain_location(pi, part, &res)? {
                Located::Stored(at) => {
                    if res.uncompressed_size != blob.size {
                        return Err(out_of_range(0, blob.size, res.uncompressed_size));
                    }
                    let start = at + offset;
                    let src = file
                        .get(start as usize..(start + len) as usize)
                        .ok_or(out_of_range(offset, len, blob.size))?;
                    out.copy_from_slice(src);
                }
                Located::Chunked(t) => {
                    if t.uncompressed_size != blob.size {
                        return Err(out_of_range(0, blob.size, t.uncompressed_size));
                    }
                    self.read_chunks(pi, file, &t, offset, out)?;
                }
            },
            BlobLocation::Solid {
                resource,
                offset: start,
            } => {
                let t = self.solid_table(part, resource, blob)?;
                let end = start.checked_add(blob.size);
                if end.is_none_or(|e| e > t.uncompressed_size) {
                    return Err(Error::SolidBlobOutOfRange {
                        offset: start,
                        size: blob.size,
                    });
                }
                self.read_chunks(pi, file, &t, start + offset, out)?;
            }
        }
        Ok(len as usize)
    }

    /// Fills `out` with the uncompressed bytes of `table` from `offset`.
    fn read_chunks(
        &self,
        pi: usize,
        file: &[u8],
        table: &ChunkTable,
        offset: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let cs = u64::from(table.chunk_size);
        if cs == 0 {
            return Err(out_of_range(offset, out.len() as u64, 0));
        }
        let end = offset + out.len() as u64;
        let mut pos = offset;
        let mut filled = 0usize;
        while pos < end {
            let i = pos / cs;
            let chunk_start = i * cs;
            let chunk_len = table.chunk_len(i);
            let stop = end.min(chunk_start + chunk_len);
            if stop <= pos {
                return Err(out_of_range(
                    offset,
                    out.len() as u64,
                    table.uncompressed_size,
                ));
            }
            let (from, to) = ((pos - chunk_start) as usize, (stop - chunk_start) as usize);
            let dst = &mut out[filled..filled + (to - from)];
            let (at, stored) = table.chunk_location(i).ok_or(Error::BadChunk {
                chunk: i,
                stored_size: 0,
                uncompressed_size: chunk_len,
            })?;
            if stored == chunk_len {
                // Stored raw: copied straight from the file.
                let src = file
                    .get((at as usize).saturating_add(from)..(at as usize).saturating_add(to))
                    .ok_or(Error::OutOfFile {
                        what: "chunk",
                        offset: at,
                        size: stored,
                        file_len: file.len() as u64,
                    })?;
                dst.copy_from_slice(src);
            } else {
                let key = ChunkKey {
                    source: self.id,
                    part: pi as u16,
                    resource: table.data_start,
                    chunk: i,
                };
                let data = self.cache.get(key, |dec| {
                    let mut v = vec![0; chunk_len as usize];
                    dec.decode_into(file, table, i, &mut v)?;
                    Ok::<_, Error>(v)
                })?;
                dst.copy_from_slice(&data[from..to]);
            }
            filled += to - from;
            pos = stop;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
