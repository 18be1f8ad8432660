//! Chunks of solid resources shared between workers: each chunk is decompressed once
//! (by whichever worker needs it first; others needing it wait for it), kept while
//! blobs still need it, and dropped after its last use. Solid chunks are large (wimlib
//! uses 64 MiB for LZMS), so decompressing one twice where a worker's range of blobs
//! ends inside it would cost as much as a file of that size.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::blob_table::{Blob, BlobLocation};
use crate::chunks::{ChunkDecoder, ChunkTable};
use crate::error::{Error, Result};
use crate::read::Wim;

/// Largest chunk size whose decoders (and their buffers) are reused.
const KEEP_DECODER_CHUNK: u32 = 1 << 20;

struct Slot {
    data: Mutex<Option<Arc<Vec<u8>>>>,
    /// Blobs that still need the chunk.
    uses: AtomicUsize,
}

struct Resource {
    table: ChunkTable,
    slots: Vec<Slot>,
}

/// The solid resources of one apply.
pub(crate) struct SolidChunks<'w, 'a> {
    wim: &'w Wim<'a>,
    resources: Vec<Option<Resource>>,
    decoders: Mutex<Vec<ChunkDecoder>>,
}

fn chunk_range(offset: u64, size: u64, chunk_size: u64) -> std::ops::Range<u64> {
    if size == 0 {
        return 0..0;
    }
    offset / chunk_size..(offset + size - 1) / chunk_size + 1
}

impl<'w, 'a> SolidChunks<'w, 'a> {
    /// Prepares the resources of `blobs` (those that are solid), counting how many of
    /// them need each chunk.
    pub fn new<'b>(wim: &'w Wim<'a>, blobs: impl Iterator<Item = &'b Blob>) -> Result<Self> {
        let mut resources: Vec<Option<Resource>> = (0..wim.blob_table.solid_resources.len())
            .map(|_| None)
            .collect();
        for b in blobs {
            let BlobLocation::Solid { resource, offset } = b.location else {
                continue;
            };
            let out_of_range = Error::SolidBlobOutOfRange {
                offset,
                size: b.size,
            };
            let slot = resources.get_mut(resource).ok_or(out_of_range.clone())?;
            if slot.is_none() {
                let table = wim.blob_table.solid_resources[resource].chunk_table(wim.file)?;
                let n = usize::try_from(table.num_chunks()).map_err(|_| Error::TooLarge(0))?;
                let slots = (0..n)
                    .map(|_| Slot {
                        data: Mutex::new(None),
                        uses: AtomicUsize::new(0),
                    })
                    .collect();
                *slot = Some(Resource { table, slots });
            }
            let Some(r) = slot.as_ref() else {
                continue;
            };
            let end = offset.checked_add(b.size).ok_or(out_of_range.clone())?;
            if end > r.table.uncompressed_size {
                return Err(out_of_range);
            }
            for i in chunk_range(offset, b.size, u64::from(r.table.chunk_size)) {
                r.slots[i as usize].uses.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(Self {
            wim,
            resources,
            decoders: Mutex::new(Vec::new()),
        })
    }

    fn chunk(&self, r: &Resource, i: u64) -> Result<Arc<Vec<u8>>> {
        let slot = &r.slots[i as usize];
        let mut data = slot.data.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = &*data {
            return Ok(d.clone());
        }
        let mut dec = self
            .decoders
            .lock()
            .ok()
            .and_then(|mut d| d.pop())
            .unwrap_or_default();
        let decoded = dec.decode(self.wim.file, &r.table, i).map(<[u8]>::to_vec);
        // A decoder keeps a buffer of the chunk size: worth keeping for small chunks
        // only (the chunk was copied out).
        if r.table.chunk_size <= KEEP_DECODER_CHUNK {
            if let Ok(mut pool) = self.decoders.lock() {
                pool.push(dec);
            }
        }
        let d = Arc::new(decoded?);
        if d.len() as u64 != r.table.chunk_len(i) {
            return Err(Error::BadChunk {
                chunk: i,
                stored_size: 0,
                uncompressed_size: r.table.chunk_len(i),
            });
        }
        *data = Some(d.clone());
        Ok(d)
    }

    fn release(r: &Resource, i: u64) {
        let slot = &r.slots[i as usize];
        if slot.uses.fetch_sub(1, Ordering::AcqRel) == 1 {
            *slot.data.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// Hands `f` the bytes of the solid blob `blob` in order, a chunk at a time.
    /// Every blob given to [`SolidChunks::new`] is to be visited once (its chunks are
    /// dropped after their last visit).
    pub fn visit(&self, blob: &Blob, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let BlobLocation::Solid { resource, offset } = blob.location else {
            return Err(Error::SolidBlobOutOfRange {
                offset: 0,
                size: blob.size,
            });
        };
        let r = self
            .resources
            .get(resource)
            .and_then(Option::as_ref)
            .ok_or(Error::SolidBlobOutOfRange {
                offset,
                size: blob.size,
            })?;
        let cs = u64::from(r.table.chunk_size);
        let end = offset.saturating_add(blob.size);
        let range = chunk_range(offset, blob.size, cs);
        let mut result = Ok(());
        for i in range.clone() {
            if result.is_ok() {
                result = self.chunk(r, i).and_then(|d| {
                    let start = i * cs;
                    let from = offset.max(start) - start;
                    let to = end.min(start + d.len() as u64) - start;
                    f(&d[from as usize..to as usize])
                });
            }
            Self::release(r, i);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_range;

    #[test]
    fn ranges() {
        assert_eq!(chunk_range(0, 10, 10), 0..1);
        assert_eq!(chunk_range(5, 10, 10), 0..2);
        assert_eq!(chunk_range(10, 1, 10), 1..2);
        assert_eq!(chunk_range(3, 0, 10), 0..0);
    }
}
