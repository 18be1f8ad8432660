//! Checking every blob of a WIM (DISM's `/ScanHealth`): decode each blob and compare its
//! SHA-1 with the blob table's, in parallel across blobs and across the chunks of large
//! resources, and name the files that use the damaged ones.
//!
//! Each worker thread keeps its own [`ChunkDecoder`] (a thread-local), so decompressors
//! are built once per thread and codec. A large resource is decoded a window of chunks
//! at a time, the chunks of a window in parallel, while the previous window is hashed in
//! order (the SHA-1 of a blob must see its bytes in order). In a solid resource the blobs
//! that lie inside one chunk are hashed by the task that decoded the chunk, in parallel;
//! only those that straddle chunks are hashed in the ordered pass.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use sha1::{Digest, Sha1};

use crate::blob_table::{Blob, BlobLocation, Sha1Hash};
use crate::chunks::{ChunkDecoder, ChunkTable};
use crate::error::{Error, Result};
use crate::read::check_hash;
use crate::read::{ResourceData, Wim};

thread_local! {
    static DECODER: RefCell<ChunkDecoder> = RefCell::new(ChunkDecoder::new());
}

/// Resources of at most this many chunks are decoded by one task, chunk after chunk.
const SERIAL_CHUNKS: u64 = 8;

/// Progress of a scan, handed to the callback after every blob or solid resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub blobs_done: u64,
    pub blobs_total: u64,
}

/// A blob that could not be read or whose data does not hash to its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedBlob {
    pub hash: Sha1Hash,
    /// Whether it is an image's metadata resource.
    pub is_metadata: bool,
    pub error: Error,
    /// (1-based image index, path) of every stream that uses the blob, `path:name` for
    /// a named stream; for a metadata resource, `(N, "image N metadata")`.
    pub used_by: Vec<(u32, String)>,
}

/// What [`scan_health`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Blobs read (metadata resources included).
    pub blobs_checked: u64,
    /// Uncompressed bytes hashed.
    pub bytes: u64,
    /// Damaged blobs, in blob-table order.
    pub damaged: Vec<DamagedBlob>,
}

impl ScanReport {
    pub fn is_healthy(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// One unit of work: a blob stored as its own resource, or a whole solid resource.
enum Task {
    Plain(usize),
    Solid { resource: usize, blobs: Vec<usize> },
}

struct Scan<'w, 'a> {
    wim: &'w Wim<'a>,
    window: usize,
    results: Mutex<Vec<(usize, Result<()>)>>,
    bytes_done: AtomicU64,
    blobs_done: AtomicU64,
    bytes_total: u64,
    blobs_total: u64,
    progress: &'w (dyn Fn(ScanProgress) + Sync),
}

/// Decodes and SHA-1-checks every blob of `wim` (metadata and data) on a pool of
/// `threads` threads (all cores when `None`; 1 uses one core), calling `progress` as it
/// goes. Damaged blobs are reported with the paths that use them; the scan itself fails
/// only if the thread pool cannot be built.
pub fn scan_health(
    wim: &Wim<'_>,
    threads: Option<usize>,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<ScanReport> {
    let pool = build_pool(threads)?;
    let n = pool.current_num_threads();
    let blobs = &wim.blob_table.blobs;
    let scan = Scan {
        wim,
        window: (2 * n).max(2),
        results: Mutex::new(Vec::with_capacity(blobs.len())),
        bytes_done: AtomicU64::new(0),
        blobs_done: AtomicU64::new(0),
        bytes_total: blobs.iter().map(|b| b.size).sum(),
        blobs_total: blobs.len() as u64,
        progress,
    };
    let mut tasks = plan(wim);
    // Largest first, so that a big resource does not start last and run alone.
    tasks.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    pool.install(|| {
        // One task per job: rayon's default splitting stops at a few leaves per thread,
        // and a thread whose leaf holds the largest tasks would then finish alone.
        tasks
            .par_iter()
            .with_max_len(1)
            .for_each(|(_, t)| scan.run(t));
    });
    let mut results = scan.results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut report = ScanReport {
        blobs_checked: blobs.len() as u64,
        bytes: scan.bytes_total,
        damaged: Vec::new(),
    };
    for (i, r) in results {
        if let Err(error) = r {
            let b = &blobs[i];
            report.damaged.push(DamagedBlob {
                hash: b.hash,
                is_metadata: b.is_metadata,
                error,
                used_by: Vec::new(),
            });
        }
    }
    if !report.damaged.is_empty() {
        attribute(wim, &mut report.damaged);
    }
    Ok(report)
}

fn build_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        b = b.num_threads(t.max(1));
    }
    b.build().map_err(|e| Error::Access {
        op: "start worker threads",
        kind: std::io::ErrorKind::Other,
        message: e.to_string(),
    })
}

/// The tasks, each with its uncompressed size.
fn plan(wim: &Wim<'_>) -> Vec<(u64, Task)> {
    let mut solid: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut tasks = Vec::new();
    for (i, b) in wim.blob_table.blobs.iter().enumerate() {
        match b.location {
            BlobLocation::Resource(_) => tasks.push((b.size, Task::Plain(i))),
            BlobLocation::Solid { resource, .. } => solid.entry(resource).or_default().push(i),
        }
    }
    for (resource, mut blobs) in solid {
        let offset = |i: &usize| match wim.blob_table.blobs[*i].location {
            BlobLocation::Solid { offset, .. } => offset,
            BlobLocation::Resource(_) => 0,
        };
        blobs.sort_by_key(offset);
        let size = wim
            .blob_table
            .solid_resources
            .get(resource)
            .map_or(0, |s| s.header.uncompressed_size);
        tasks.push((size, Task::Solid { resource, blobs }));
    }
    tasks
}

impl Scan<'_, '_> {
    fn blob(&self, i: usize) -> &Blob {
        &self.wim.blob_table.blobs[i]
    }

    fn finish(&self, items: Vec<(usize, Result<()>)>, bytes: u64) {
        let n = items.len() as u64;
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(items);
        let bytes_done = self.bytes_done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let blobs_done = self.blobs_done.fetch_add(n, Ordering::Relaxed) + n;
        (self.progress)(ScanProgress {
            bytes_done,
            bytes_total: self.bytes_total,
            blobs_done,
            blobs_total: self.blobs_total,
        });
    }

    fn run(&self, task: &Task) {
        match task {
            Task::Plain(i) => {
                let blob = self.blob(*i);
                let r = self.plain(blob);
                self.finish(vec![(*i, r)], blob.size);
            }
            Task::Solid { resource, blobs } => {
                let size = blobs.iter().map(|&i| self.blob(i).size).sum();
                let items = self.solid(*resource, blobs);
                self.finish(items, size);
            }
        }
    }

    fn plain(&self, blob: &Blob) -> Result<()> {
        let BlobLocation::Resource(res) = blob.location else {
            unreachable!("plain task of a solid blob");
        };
        let file = self.wim.part_file(blob.part_number)?;
        let header = self.wim.part_header(blob.part_number)?;
        let data = ResourceData::open(file, header, &res)?;
        if data.uncompressed_size() != blob.size {
            return Err(Error::BlobOutOfRange {
                offset: 0,
                size: blob.size,
                resource_size: data.uncompressed_size(),
            });
        }
        let table = match data {
            ResourceData::Stored(s) => return check_hash(blob, crate::digest::sha1(s)),
            ResourceData::Chunked(t) => t,
        };
        let mut h = Sha1::new();
        let n = table.num_chunks();
        if n <= SERIAL_CHUNKS || self.window <= 2 {
            DECODER.with(|d| -> Result<()> {
                let mut d = d.borrow_mut();
                for i in 0..n {
                    h.update(d.decode(file, &table, i)?);
                }
                Ok(())
            })?;
        } else {
            let mut err = None;
            pipeline(
                file,
                &table,
                0..n,
                self.window,
                &|_, _| Vec::new(),
                &mut |c| {
                    if err.is_some() {
                        return;
                    }
                    match &c.data {
                        Ok(d) => h.update(d),
                        Err(e) => err = Some(e.clone()),
                    }
                },
            );
            if let Some(e) = err {
                return Err(e);
            }
        }
        check_hash(blob, h.finalize().into())
    }

    /// Checks the blobs (sorted by offset) of solid resource `resource`.
    fn solid(&self, resource: usize, blobs: &[usize]) -> Vec<(usize, Result<()>)> {
        let all_fail = |e: Error| blobs.iter().map(|&i| (i, Err(e.clone()))).collect();
        let Some(first) = blobs.first() else {
            return Vec::new();
        };
        let part = self.blob(*first).part_number;
        let Some(solid) = self.wim.blob_table.solid_resources.get(resource) else {
            return all_fail(Error::SolidBlobOutOfRange { offset: 0, size: 0 });
        };
        let file = match self.wim.part_file(part) {
            Ok(f) => f,
            Err(e) => return all_fail(e),
        };
        let table = match solid.chunk_table(file) {
            Ok(t) => t,
            Err(e) => return all_fail(e),
        };
        let cs = u64::from(table.chunk_size);
        // (blob index, start, end) in the resource's uncompressed data.
        let spans: Vec<(usize, u64, u64)> = blobs
            .iter()
            .filter_map(|&i| {
                let b = self.blob(i);
                match b.location {
                    BlobLocation::Solid { offset, .. } => Some((i, offset, offset + b.size)),
                    BlobLocation::Resource(_) => None,
                }
            })
            .collect();
        let chunk_of = |pos: u64| pos / cs;
        // Blobs inside one chunk, by chunk; the others in offset order.
        let mut inside: HashMap<u64, Vec<(usize, u64, u64)>> = HashMap::new();
        let mut straddling: Vec<(usize, u64, u64)> = Vec::new();
        for &(i, s, e) in &spans {
            if chunk_of(s) == chunk_of(e - 1) {
                inside.entry(chunk_of(s)).or_default().push((i, s, e));
            } else {
                straddling.push((i, s, e));
            }
        }
        // Only chunks that some blob touches need decoding.
        let mut needed = vec![false; table.num_chunks() as usize];
        for &(_, s, e) in &spans {
            for c in chunk_of(s)..=chunk_of(e - 1) {
                if let Some(x) = needed.get_mut(c as usize) {
                    *x = true;
                }
            }
        }
        let mut out: Vec<(usize, Result<()>)> = Vec::with_capacity(spans.len());
        let inside_hash = |c: u64, data: &[u8]| -> Vec<(usize, Result<()>)> {
            let base = c * cs;
            inside.get(&c).map_or_else(Vec::new, |v| {
                v.iter()
                    .map(|&(i, s, e)| {
                        let bytes = &data[(s - base) as usize..(e - base) as usize];
                        (i, check_hash(self.blob(i), crate::digest::sha1(bytes)))
                    })
                    .collect()
            })
        };
        // The ordered pass: straddling blobs, fed chunk by chunk.
        let mut open: Vec<(usize, u64, u64, Sha1, Option<Error>)> = Vec::new();
        let mut next_straddler = 0;
        let mut consume = |c: &Decoded| {
            out.extend(c.inner.iter().map(|(i, r)| (*i, r.clone())));
            if let Err(e) = &c.data {
                for &(i, _, _) in inside.get(&c.index).into_iter().flatten() {
                    out.push((i, Err(e.clone())));
                }
            }
            let (start, end) = (c.index * cs, c.index * cs + table.chunk_len(c.index));
            while next_straddler < straddling.len() && straddling[next_straddler].1 < end {
                let (i, s, e) = straddling[next_straddler];
                open.push((i, s, e, Sha1::new(), None));
                next_straddler += 1;
            }
            for (_, s, e, h, err) in open.iter_mut() {
                let (a, b) = ((*s).max(start), (*e).min(end));
                if a >= b || err.is_some() {
                    continue;
                }
                match &c.data {
                    Ok(d) => h.update(&d[(a - start) as usize..(b - start) as usize]),
                    Err(x) => *err = Some(x.clone()),
                }
            }
            let mut k = 0;
            while k < open.len() {
                if open[k].2 <= end {
                    let (i, _, _, h, err) = open.swap_remove(k);
                    let r = match err {
                        Some(e) => Err(e),
                        None => check_hash(self.blob(i), h.finalize().into()),
                    };
                    out.push((i, r));
                } else {
                    k += 1;
                }
            }
        };
        // Runs of needed chunks.
        let mut c = 0u64;
        let n = table.num_chunks();
        while c < n {
            if !needed[c as usize] {
                c += 1;
                continue;
            }
            let start = c;
            while c < n && needed[c as usize] {
                c += 1;
            }
            pipeline(
                file,
                &table,
                start..c,
                self.window.div_ceil(2).max(1),
                &inside_hash,
                &mut consume,
            );
        }
        // Blobs past the resource's end (the blob table has checked this; defensive).
        let seen: HashSet<usize> = out.iter().map(|(i, _)| *i).collect();
        for &(i, s, e) in &spans {
            if !seen.contains(&i) {
                out.push((
                    i,
                    Err(Error::BlobOutOfRange {
                        offset: s,
                        size: e - s,
                        resource_size: table.uncompressed_size,
                    }),
                ));
            }
        }
        out
    }
}

/// Work done on each decoded chunk by the task that decoded it: (blob, result) pairs.
type PerChunk<'f> = dyn Fn(u64, &[u8]) -> Vec<(usize, Result<()>)> + Sync + 'f;

/// One decoded chunk and what its task found.
struct Decoded {
    index: u64,
    data: Result<Vec<u8>>,
    inner: Vec<(usize, Result<()>)>,
}

/// Decodes chunk `i` into `buf` (a recycled buffer, or a new one) with this thread's
/// decoder.
fn decode_owned(file: &[u8], table: &ChunkTable, i: u64, mut buf: Vec<u8>) -> Result<Vec<u8>> {
    let len = crate::bytes::to_usize(table.chunk_len(i))?;
    buf.resize(len, 0);
    DECODER.with(|d| d.borrow_mut().decode_into(file, table, i, &mut buf))?;
    Ok(buf)
}

/// Decodes the chunks `range` of `table`, `window` at a time in parallel, running
/// `per_chunk` on each decoded chunk in the decoding task, and hands every chunk to
/// `consume` in order; the consumption of one window overlaps the decoding of the next.
fn pipeline(
    file: &[u8],
    table: &ChunkTable,
    range: Range<u64>,
    window: usize,
    per_chunk: &PerChunk<'_>,
    consume: &mut (dyn FnMut(&Decoded) + Send),
) {
    // Buffers of consumed chunks, reused (large solid chunks cost page faults when new).
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let take = || {
        spare
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    };
    let decode_window = |w: Range<u64>| -> Vec<Decoded> {
        w.into_par_iter()
            .map(|i| {
                let data = decode_owned(file, table, i, take());
                let inner = match &data {
                    Ok(d) => per_chunk(i, d),
                    Err(_) => Vec::new(),
                };
                Decoded {
                    index: i,
                    data,
                    inner,
                }
            })
            .collect()
    };
    let w = window.max(1) as u64;
    let mut pending: Vec<Decoded> = Vec::new();
    let mut next = range.start;
    while next < range.end || !pending.is_empty() {
        let end = (next + w).min(range.end);
        let this = next..end;
        let prev = std::mem::take(&mut pending);
        let (decoded, ()) = rayon::join(
            || {
                if this.is_empty() {
                    Vec::new()
                } else {
                    decode_window(this.clone())
                }
            },
            || {
                for c in &prev {
                    consume(c);
                }
                if let Ok(mut v) = spare.lock() {
                    v.extend(prev.into_iter().filter_map(|c| c.data.ok()));
                }
            },
        );
        pending = decoded;
        next = end;
    }
}

/// Fills in `used_by` of every damaged blob by walking every image's tree.
fn attribute(wim: &Wim<'_>, damaged: &mut [DamagedBlob]) {
    let wanted: HashMap<Sha1Hash, usize> = damaged
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_metadata)
        .map(|(k, d)| (d.hash, k))
        .collect();
    let meta: Vec<Sha1Hash> = wim.blob_table.metadata_blobs().map(|b| b.hash).collect();
    for d in damaged.iter_mut().filter(|d| d.is_metadata) {
        for (n, h) in meta.iter().enumerate() {
            if *h == d.hash {
                let n = n as u32 + 1;
                d.used_by.push((n, format!("image {n} metadata")));
            }
        }
    }
    if wanted.is_empty() {
        return;
    }
    for index in 1..=wim.image_count() {
        let Ok(image) = wim.image(index) else {
            continue;
        };
        for (path, id) in image.walk() {
            let node = image.node(id);
            for s in &node.streams {
                if let Some(&k) = wanted.get(&s.hash) {
                    let p = match &s.name {
                        Some(name) => format!("{path}:{name}"),
                        None => path.clone(),
                    };
                    if !damaged[k].used_by.contains(&(index, p.clone())) {
                        damaged[k].used_by.push((index, p));
                    }
                }
            }
        }
    }
}

/// Reads the blobs `blobs` of `wim` in parallel on a pool of `threads` threads (all
/// cores when `None`), handing `f` each blob's index in `blobs` and its data, checked
/// against its SHA-1 (or the error that stopped it). Blobs of one solid resource are
/// read in offset order by one task, so each solid chunk is decoded once per call.
/// `f` runs on the worker threads, in no particular order.
pub fn for_each_blob_parallel(
    wim: &Wim<'_>,
    blobs: &[&Blob],
    threads: Option<usize>,
    f: &(dyn Fn(usize, Result<Vec<u8>>) + Sync),
) -> Result<()> {
    let pool = build_pool(threads)?;
    let mut groups: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    let mut plain = Vec::new();
    for (k, b) in blobs.iter().enumerate() {
        match b.location {
            BlobLocation::Solid { resource, .. } => {
                groups.entry(Some(resource)).or_default().push(k)
            }
            BlobLocation::Resource(_) => plain.push(k),
        }
    }
    let mut work: Vec<Vec<usize>> = plain.into_iter().map(|k| vec![k]).collect();
    for (_, mut g) in groups {
        g.sort_by_key(|&k| match blobs[k].location {
            BlobLocation::Solid { offset, .. } => offset,
            BlobLocation::Resource(_) => 0,
        });
        work.push(g);
    }
    pool.install(|| {
        work.par_iter().with_max_len(1).for_each(|g| {
            let mut reader = wim.reader();
            for &k in g {
                f(k, reader.read_blob(blobs[k]));
            }
        });
    });
    Ok(())
}
