//! Writing resources: stored as is, chunked and compressed (chunks compressed in
//! parallel, one [`Compressor`] per worker, a bounded window of chunks in flight), or
//! solid (several blobs in one chunked stream with its own header).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use rayon::prelude::*;
use sha1::{Digest, Sha1};
use wim_compress::{Codec, Compressor};

use crate::blob_table::Sha1Hash;
use crate::chunks::{chunk_count, chunk_entry_size};
use crate::error::{Error, Result};
use crate::header::Compression;
use crate::resource::{ResourceFlags, ResourceHeader};
use crate::solid::{SolidHeader, SOLID_HEADER_SIZE, SOLID_RESOURCE_MAGIC};

/// Bytes of uncompressed chunks kept in flight at least (more with many threads or big
/// chunks: at least two chunks per thread). 4 MiB keeps two cores as busy as 16 MiB did.
const WINDOW_BYTES: usize = 4 << 20;
/// Chunks up to this size are compressed into a buffer kept with the compressor.
const SMALL_CHUNK_BUFFER: usize = 4 << 20;

/// Bytes buffered before a write to the file.
const OUT_BUFFER: usize = 1 << 20;

/// The output file, written sequentially with occasional seeks back (to fill in a
/// chunk table, or to drop a resource whose blob turned out to be a duplicate).
///
/// Buffered by hand rather than with `BufWriter`: nothing is ever written
/// implicitly on drop, so an abandoned in-place write can be cut off cleanly.
pub struct Out {
    file: File,
    buf: Vec<u8>,
    pos: u64,
    path: PathBuf,
}

impl Out {
    /// Writes to `file` from `pos` on.
    pub fn new(mut file: File, pos: u64, path: &Path) -> Result<Self> {
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| Error::access("seek", &e).with_path(path))?;
        Ok(Self {
            file,
            buf: Vec::with_capacity(OUT_BUFFER),
            pos,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn err(&self, op: &'static str, e: &std::io::Error) -> Error {
        Error::access(op, e).with_path(&self.path)
    }

    pub fn write(&mut self, b: &[u8]) -> Result<()> {
        if self.buf.len() + b.len() > OUT_BUFFER {
            self.flush()?;
        }
        if b.len() >= OUT_BUFFER {
            if let Err(e) = self.file.write_all(b) {
                return Err(self.err("write", &e));
            }
        } else {
            self.buf.extend_from_slice(b);
        }
        self.pos += b.len() as u64;
        Ok(())
    }

    pub fn seek(&mut self, pos: u64) -> Result<()> {
        self.flush()?;
        if let Err(e) = self.file.seek(SeekFrom::Start(pos)) {
            return Err(self.err("seek", &e));
        }
        self.pos = pos;
        Ok(())
    }

    /// Writes `b` at `at` and comes back to the current position.
    pub fn write_at(&mut self, at: u64, b: &[u8]) -> Result<()> {
        let here = self.pos;
        self.seek(at)?;
        self.write(b)?;
        self.seek(here)
    }

    /// Flushes, cuts the file at the current position, and syncs it to disk.
    pub fn finish(&mut self) -> Result<()> {
        self.flush()?;
        if let Err(e) = self.file.set_len(self.pos) {
            return Err(self.err("truncate", &e));
        }
        if let Err(e) = self.file.sync_all() {
            return Err(self.err("sync", &e));
        }
        Ok(())
    }

    /// Writes out the buffer (without syncing).
    pub fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.file.write_all(&self.buf);
        self.buf.clear();
        if let Err(e) = r {
            return Err(self.err("write", &e));
        }
        Ok(())
    }

    /// Drops what is buffered and cuts the file back to `len` bytes: the end of
    /// an in-place write that failed part-way.
    pub fn abandon(&mut self, len: u64) {
        self.buf.clear();
        let _ = self.file.set_len(len);
    }

    /// The underlying file (flush first).
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Compressors for one codec and chunk size, shared by the workers (each takes one,
/// uses it for a chunk and puts it back: no more exist than run at once).
pub struct CompressorPool {
    codec: Codec,
    chunk_size: usize,
    level: u32,
    /// Idle compressors, each with its output buffer (kept, so that no chunk pays
    /// for zeroing a new one).
    free: Mutex<Vec<(Compressor, Vec<u8>)>>,
}

impl CompressorPool {
    pub fn new(codec: Codec, chunk_size: u32, level: u32) -> Result<Self> {
        // Check the settings once, so that later failures cannot happen.
        let c = Compressor::new(codec, chunk_size as usize, level).map_err(|_| {
            Error::ImplausibleSize {
                what: "chunk size for the compressor",
                size: u64::from(chunk_size),
            }
        })?;
        Ok(Self {
            codec,
            chunk_size: chunk_size as usize,
            level,
            free: Mutex::new(vec![(c, Vec::new())]),
        })
    }

    /// The compressed chunk, or `None` when it does not shrink (store it raw).
    pub fn compress(&self, input: &[u8]) -> Option<Vec<u8>> {
        self.with_compressor(input.len(), |c, out| c.compress(input, out))
    }

    /// [`compress`](Self::compress), the compressor working on `data` in place
    /// (its bytes are the same again on return).
    pub fn compress_in_place(&self, data: &mut [u8]) -> Option<Vec<u8>> {
        self.with_compressor(data.len(), |c, out| c.compress_in_place(data, out))
    }

    /// Runs `f` with a free compressor and an output buffer one byte shorter than
    /// the `len`-byte input.
    fn with_compressor(
        &self,
        len: usize,
        f: impl FnOnce(&mut Compressor, &mut [u8]) -> Option<usize>,
    ) -> Option<Vec<u8>> {
        if len < 2 {
            return None;
        }
        let taken = self.free.lock().map(|mut f| f.pop()).unwrap_or(None);
        let (mut c, mut out) = match taken {
            Some(t) => t,
            None => (
                Compressor::new(self.codec, self.chunk_size, self.level).ok()?,
                Vec::new(),
            ),
        };
        let result = if len - 1 > SMALL_CHUNK_BUFFER {
            // Large (solid) chunks: a fresh buffer, whose untouched pages cost
            // nothing, handed on as it is.
            let mut big = vec![0u8; len - 1];
            match f(&mut c, &mut big) {
                Some(n) if n > 0 && n < len => {
                    big.truncate(n);
                    Some(big)
                }
                _ => None,
            }
        } else {
            // Small ones: the compressor's buffer, so that no chunk pays for zeroing.
            if out.len() < len - 1 {
                out.resize(len - 1, 0);
            }
            match f(&mut c, &mut out[..len - 1]) {
                Some(n) if n > 0 && n < len => Some(out[..n].to_vec()),
                _ => None,
            }
        };
        if let Ok(mut f) = self.free.lock() {
            f.push((c, out));
        }
        result
    }
}

/// How chunks are compressed: the format, chunk size, compressors and thread pool.
pub struct ChunkCodec {
    pub compression: Compression,
    pub chunk_size: u32,
    pool: Option<Arc<CompressorPool>>,
    threads: rayon::ThreadPool,
    nthreads: usize,
}

impl ChunkCodec {
    pub fn new(
        compression: Compression,
        chunk_size: u32,
        level: u32,
        threads: usize,
    ) -> Result<Self> {
        let pool = match compression.codec() {
            Some(codec) => {
                compression.check_chunk_size(u64::from(chunk_size))?;
                Some(Arc::new(CompressorPool::new(codec, chunk_size, level)?))
            }
            None => None,
        };
        let nthreads = threads.max(1);
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(nthreads)
            .build()
            .map_err(|e| Error::Access {
                op: "start worker threads",
                kind: std::io::ErrorKind::Other,
                message: e.to_string(),
            })?;
        Ok(Self {
            compression,
            chunk_size,
            pool,
            threads,
            nthreads,
        })
    }

    pub fn is_compressed(&self) -> bool {
        self.pool.is_some()
    }

    /// Chunks compressed together at most: enough for every thread, and for small
    /// chunks a few per thread so that uneven chunks even out; chunks as large as the
    /// window (solid ones) one per thread, as each holds a compressor of several
    /// bytes per byte.
    pub fn window_chunks(&self) -> usize {
        let by_bytes = WINDOW_BYTES / self.chunk_size.max(1) as usize;
        let per_thread = if by_bytes == 0 { 1 } else { 2 };
        by_bytes.max(per_thread * self.nthreads).max(1)
    }

    /// Compresses every chunk, in parallel.
    pub fn compress_all(&self, chunks: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let Some(pool) = &self.pool else {
            return vec![None; chunks.len()];
        };
        if chunks.len() == 1 || self.nthreads == 1 {
            return chunks.iter().map(|c| pool.compress(c)).collect();
        }
        // One chunk per job, so that no thread is left with a run of slow chunks.
        self.threads.install(|| {
            chunks
                .par_iter()
                .with_max_len(1)
                .map(|c| pool.compress(c))
                .collect()
        })
    }

    /// Compresses `chunk` on a worker, the compressor working on it in place
    /// (which spares LZMS a copy), and sends `(index, result)` to `done` when
    /// finished. The chunk comes back only when it is to be stored raw.
    fn spawn_in_place(&self, index: usize, mut chunk: Vec<u8>, done: mpsc::Sender<Compressed>) {
        let pool = self.pool.clone();
        self.threads.spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                match pool.as_ref().and_then(|p| p.compress_in_place(&mut chunk)) {
                    Some(c) => Ok(c),
                    None => Err(chunk),
                }
            }));
            // The receiver is gone only when the resource was abandoned.
            let _ = done.send((index, result));
        });
    }

    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.threads.install(f)
    }
}

/// Writes `data` as one resource: stored when `raw` or the codec is none or
/// compression does not make it smaller, else chunked.
pub fn write_buffer(
    out: &mut Out,
    codec: &ChunkCodec,
    data: &[u8],
    raw: bool,
) -> Result<ResourceHeader> {
    Ok(write_buffers(out, codec, &[data], raw)?.remove(0))
}

/// [`write_buffer`] for several buffers, their chunks compressed together.
pub fn write_buffers(
    out: &mut Out,
    codec: &ChunkCodec,
    datas: &[&[u8]],
    raw: bool,
) -> Result<Vec<ResourceHeader>> {
    let compressed = if raw {
        Vec::new()
    } else {
        compress_buffers(codec, datas)
    };
    write_compressed(out, codec, datas, &compressed)
}

/// The compressed chunks of `datas` (`None`: that chunk stays raw), for
/// [`write_compressed`]; empty when the codec stores everything.
pub fn compress_buffers(codec: &ChunkCodec, datas: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    if !codec.is_compressed() {
        return Vec::new();
    }
    let cs = codec.chunk_size as usize;
    let chunks: Vec<&[u8]> = datas.iter().flat_map(|d| d.chunks(cs)).collect();
    codec.compress_all(&chunks)
}

/// Writes each of `datas` as a resource from its chunks `compressed` (as
/// [`compress_buffers`] gave them; empty: stored as is), stored whole when
/// compression does not make it smaller.
pub fn write_compressed(
    out: &mut Out,
    codec: &ChunkCodec,
    datas: &[&[u8]],
    compressed: &[Option<Vec<u8>>],
) -> Result<Vec<ResourceHeader>> {
    if compressed.is_empty() {
        let mut v = Vec::with_capacity(datas.len());
        for d in datas {
            v.push(write_stored(out, d)?);
        }
        return Ok(v);
    }
    let cs = codec.chunk_size as usize;
    let mut at = 0;
    let mut v = Vec::with_capacity(datas.len());
    for d in datas {
        let n = d.len().div_ceil(cs);
        let parts: Vec<&[u8]> = d
            .chunks(cs)
            .enumerate()
            .map(|(k, raw)| {
                compressed
                    .get(at + k)
                    .and_then(Option::as_deref)
                    .unwrap_or(raw)
            })
            .collect();
        at += n;
        let entry = chunk_entry_size(d.len() as u64) as usize;
        let stored: usize =
            parts.iter().map(|p| p.len()).sum::<usize>() + n.saturating_sub(1) * entry;
        if stored >= d.len() {
            v.push(write_stored(out, d)?);
            continue;
        }
        let offset = out.pos();
        let mut table = Vec::with_capacity(n.saturating_sub(1) * entry);
        let mut rel = 0u64;
        for p in &parts[..n.saturating_sub(1)] {
            rel += p.len() as u64;
            push_entry(&mut table, rel, entry);
        }
        out.write(&table)?;
        for p in &parts {
            out.write(p)?;
        }
        v.push(ResourceHeader {
            stored_size: stored as u64,
            flags: ResourceFlags::COMPRESSED,
            offset,
            uncompressed_size: d.len() as u64,
        });
    }
    Ok(v)
}

fn push_entry(table: &mut Vec<u8>, v: u64, entry: usize) {
    if entry == 4 {
        table.extend_from_slice(&(v as u32).to_le_bytes());
    } else {
        table.extend_from_slice(&v.to_le_bytes());
    }
}

/// Writes `data` stored as is.
pub fn write_stored(out: &mut Out, data: &[u8]) -> Result<ResourceHeader> {
    let offset = out.pos();
    out.write(data)?;
    Ok(ResourceHeader {
        stored_size: data.len() as u64,
        flags: ResourceFlags::empty(),
        offset,
        uncompressed_size: data.len() as u64,
    })
}

/// A resource written as its bytes arrive: the SHA-1 is computed on the way, chunks are
/// compressed a window at a time. The total size must be known at the start.
pub struct StreamWriter<'c> {
    codec: &'c ChunkCodec,
    solid: bool,
    raw: bool,
    size: u64,
    received: u64,
    start: u64,
    data_start: u64,
    hasher: Sha1,
    cur: Vec<u8>,
    /// Chunks handed to the workers, as they fill, up to a window of them; each is
    /// written when it and all before it are done, so that a slow chunk holds back
    /// the writing but not the other workers.
    running: usize,
    submitted: usize,
    done: BTreeMap<usize, ChunkResult>,
    done_tx: mpsc::Sender<Compressed>,
    done_rx: mpsc::Receiver<Compressed>,
    /// Stored size of each chunk written.
    sizes: Vec<u64>,
}

/// A compressed chunk, or the chunk itself when it is stored raw.
type ChunkResult = std::result::Result<Vec<u8>, Vec<u8>>;
/// A chunk's index and result, or the panic of its compressor.
type Compressed = (usize, std::thread::Result<ChunkResult>);

impl<'c> StreamWriter<'c> {
    /// Starts a resource of `size` bytes at the current position of `out` (a solid one
    /// if `solid`; stored as is if `raw` or the codec is none).
    pub fn begin(
        out: &mut Out,
        codec: &'c ChunkCodec,
        size: u64,
        solid: bool,
        raw: bool,
    ) -> Result<Self> {
        let raw = (raw || !codec.is_compressed()) && !solid;
        let start = out.pos();
        let n = chunk_count(size, codec.chunk_size);
        let reserved = if raw {
            0
        } else if solid {
            SOLID_HEADER_SIZE as u64 + 4 * n
        } else {
            n.saturating_sub(1) * chunk_entry_size(size)
        };
        // Reserve the header and table, filled in by `finish`.
        let zeros = vec![0u8; 1 << 16];
        let mut left = reserved;
        while left > 0 {
            let k = left.min(zeros.len() as u64) as usize;
            out.write(&zeros[..k])?;
            left -= k as u64;
        }
        let (done_tx, done_rx) = mpsc::channel();
        Ok(Self {
            codec,
            solid,
            raw,
            size,
            received: 0,
            start,
            data_start: start + reserved,
            hasher: Sha1::new(),
            cur: Vec::new(),
            running: 0,
            submitted: 0,
            done: BTreeMap::new(),
            done_tx,
            done_rx,
            sizes: Vec::new(),
        })
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether the data is stored as is (then only [`push`](Self::push) adds data).
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Adds whole chunks (each of the chunk size but the resource's last) to a
    /// non-solid compressed resource: hashes and compresses them on the workers while
    /// `also` runs beside them (the caller reads the next chunks there), writes them,
    /// and returns what `also` returned. Not to be mixed with [`push`](Self::push).
    pub fn push_chunks<R: Send>(
        &mut self,
        out: &mut Out,
        chunks: Vec<Vec<u8>>,
        also: impl FnOnce() -> R + Send,
    ) -> Result<R> {
        debug_assert!(!self.raw && !self.solid && self.cur.is_empty() && self.submitted == 0);
        let bytes: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        if self.received + bytes > self.size {
            return Err(Error::ImplausibleSize {
                what: "data beyond the size announced for a resource",
                size: self.received + bytes,
            });
        }
        self.received += bytes;
        let codec = self.codec;
        let hasher = &mut self.hasher;
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let ((), (compressed, r)) = codec.install(|| {
            rayon::join(
                || refs.iter().for_each(|c| hasher.update(c)),
                || rayon::join(|| codec.compress_all(&refs), also),
            )
        });
        for (c, raw) in compressed.iter().zip(&refs) {
            let bytes = c.as_deref().unwrap_or(raw);
            out.write(bytes)?;
            self.sizes.push(bytes.len() as u64);
        }
        Ok(r)
    }

    /// Hashes the bytes of the blob being added (solid streams: every blob is hashed by
    /// its own [`Sha1`] outside; this hashes the whole stream).
    pub fn push(&mut self, out: &mut Out, mut data: &[u8]) -> Result<()> {
        if self.received + data.len() as u64 > self.size {
            return Err(Error::ImplausibleSize {
                what: "data beyond the size announced for a resource",
                size: self.received + data.len() as u64,
            });
        }
        self.received += data.len() as u64;
        // A solid resource's own hash is never used; its blobs are hashed outside.
        if !self.solid {
            self.hasher.update(data);
        }
        if self.raw {
            return out.write(data);
        }
        let cs = self.codec.chunk_size as usize;
        while !data.is_empty() {
            if self.cur.capacity() == 0 {
                // A new chunk is filled only once a worker is free for it: no more
                // chunks are held than are compressed.
                self.wait_for_worker(out)?;
                self.cur.reserve_exact(cs.min(self.size as usize));
            }
            let k = (cs - self.cur.len()).min(data.len());
            self.cur.extend_from_slice(&data[..k]);
            data = &data[k..];
            if self.cur.len() == cs {
                let chunk = std::mem::take(&mut self.cur);
                self.submit(chunk);
            }
        }
        Ok(())
    }

    /// Hands a chunk to the workers (one is free: it waited before being filled).
    fn submit(&mut self, chunk: Vec<u8>) {
        debug_assert!(self.running < self.codec.window_chunks());
        self.codec
            .spawn_in_place(self.submitted, chunk, self.done_tx.clone());
        self.submitted += 1;
        self.running += 1;
    }

    fn wait_for_worker(&mut self, out: &mut Out) -> Result<()> {
        while self.running >= self.codec.window_chunks() {
            self.wait_one(out)?;
        }
        Ok(())
    }

    /// Waits for a running chunk, then writes every finished chunk that is next.
    fn wait_one(&mut self, out: &mut Out) -> Result<()> {
        // The sender kept in `self` means this cannot fail while chunks are running.
        let Ok((index, result)) = self.done_rx.recv() else {
            return Ok(());
        };
        self.running -= 1;
        let result = result.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        self.done.insert(index, result);
        while let Some(entry) = self.done.first_entry() {
            if *entry.key() != self.sizes.len() {
                break;
            }
            let bytes = entry.remove();
            let bytes = bytes.as_deref().unwrap_or_else(|raw| raw);
            out.write(bytes)?;
            self.sizes.push(bytes.len() as u64);
        }
        Ok(())
    }

    /// Completes the resource: fills in its table (and solid header). Returns where it
    /// is and the SHA-1 of its data (zeros for a solid resource, which is not hashed).
    /// Fails if fewer bytes came than announced.
    pub fn finish(mut self, out: &mut Out) -> Result<(ResourceHeader, Sha1Hash)> {
        if self.received != self.size {
            return Err(Error::ImplausibleSize {
                what: "data shorter than the size announced for a resource",
                size: self.received,
            });
        }
        let hash: Sha1Hash = self.hasher.clone().finalize().into();
        if self.raw {
            return Ok((
                ResourceHeader {
                    stored_size: self.size,
                    flags: ResourceFlags::empty(),
                    offset: self.start,
                    uncompressed_size: self.size,
                },
                hash,
            ));
        }
        if !self.cur.is_empty() {
            let chunk = std::mem::take(&mut self.cur);
            self.submit(chunk);
        }
        while self.running > 0 {
            self.wait_one(out)?;
        }
        let end = out.pos();
        let mut table = Vec::new();
        if self.solid {
            let h = SolidHeader {
                uncompressed_size: self.size,
                chunk_size: self.codec.chunk_size,
                compression: self.codec.compression,
            };
            table.extend_from_slice(&h.to_bytes());
            for s in &self.sizes {
                table.extend_from_slice(&(*s as u32).to_le_bytes());
            }
        } else {
            let entry = chunk_entry_size(self.size) as usize;
            let mut rel = 0;
            for s in &self.sizes[..self.sizes.len().saturating_sub(1)] {
                rel += s;
                push_entry(&mut table, rel, entry);
            }
        }
        debug_assert_eq!(self.start + table.len() as u64, self.data_start);
        out.write_at(self.start, &table)?;
        let flags = if self.solid {
            ResourceFlags::SOLID
        } else {
            ResourceFlags::COMPRESSED
        };
        Ok((
            ResourceHeader {
                stored_size: end - self.start,
                flags,
                offset: self.start,
                uncompressed_size: if self.solid {
                    SOLID_RESOURCE_MAGIC
                } else {
                    self.size
                },
            },
            hash,
        ))
    }
}

/// Reads `size` bytes from `r` into `w` a piece at a time.
pub fn pump(
    r: &mut dyn std::io::Read,
    size: u64,
    mut f: impl FnMut(&[u8]) -> Result<()>,
    on_err: impl Fn(&std::io::Error) -> Error,
) -> Result<()> {
    let mut buf = vec![0u8; (1 << 20).min(size.max(1) as usize)];
    let mut left = size;
    while left > 0 {
        let k = left.min(buf.len() as u64) as usize;
        match r.read(&mut buf[..k]) {
            Ok(0) => {
                return Err(on_err(&std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was read",
                )))
            }
            Ok(n) => {
                f(&buf[..n])?;
                left -= n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(on_err(&e)),
        }
    }
    Ok(())
}
