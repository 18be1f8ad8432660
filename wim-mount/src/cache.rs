//! A bounded, thread-safe LRU cache of decompressed chunks, shared by every reader of
//! one or more mounted images.
//!
//! A chunk is decompressed once however many threads want it at the same time: the
//! first to lock its slot decodes, the others wait on that slot and get the result.
//! Entries are keyed by the source (one per opened WIM), the part of a split set, the
//! file offset of the resource's first chunk and the chunk index, so resources of
//! different files never collide.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use wim_format::ChunkDecoder;

/// Default budget of decompressed bytes kept: enough for four 64 MiB LZMS solid
/// chunks, or eight thousand 32 KiB chunks.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Decoders (with their decompressors) kept for reuse.
const KEPT_DECODERS: usize = 8;

/// Identifies one chunk of one resource of one opened WIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkKey {
    /// Unique per opened WIM (see [`crate::source::WimSource`]).
    pub source: u64,
    pub part: u16,
    /// File offset of the resource's chunk data.
    pub resource: u64,
    pub chunk: u64,
}

/// Counters of a [`ChunkCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Chunks decompressed (a chunk evicted and needed again counts again).
    pub decodes: u64,
    /// Lookups served from the cache (waiting for another thread's decode included).
    pub hits: u64,
    /// Decompressed bytes held now.
    pub bytes: usize,
    /// Chunks held now.
    pub entries: usize,
}

#[derive(Default)]
struct Slot {
    data: Mutex<Option<Arc<[u8]>>>,
}

struct Entry {
    slot: Arc<Slot>,
    tick: u64,
    /// Bytes accounted for this entry (0 until decoded).
    size: usize,
}

#[derive(Default)]
struct State {
    map: HashMap<ChunkKey, Entry>,
    /// Entries by last use, oldest first.
    lru: BTreeMap<u64, ChunkKey>,
    tick: u64,
    bytes: usize,
}

impl State {
    fn touch(&mut self, key: ChunkKey) -> Arc<Slot> {
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.map.get_mut(&key) {
            self.lru.remove(&e.tick);
            e.tick = tick;
            self.lru.insert(tick, key);
            return e.slot.clone();
        }
        let slot = Arc::new(Slot::default());
        self.map.insert(
            key,
            Entry {
                slot: slot.clone(),
                tick,
                size: 0,
            },
        );
        self.lru.insert(tick, key);
        slot
    }

    /// Drops least recently used decoded entries until at most `max` bytes are held,
    /// always keeping `keep` (the entry just filled).
    fn evict(&mut self, max: usize, keep: ChunkKey) {
        let mut skipped = Vec::new();
        while self.bytes > max {
            let Some((tick, key)) = self.lru.pop_first() else {
                break;
            };
            let decoded = self.map.get(&key).is_some_and(|e| e.size > 0);
            if key == keep || !decoded {
                skipped.push((tick, key));
                continue;
            }
            if let Some(e) = self.map.remove(&key) {
                self.bytes -= e.size;
            }
        }
        for (tick, key) in skipped {
            self.lru.insert(tick, key);
        }
    }
}

/// Decompressed chunks, least recently used dropped first past a byte budget.
pub struct ChunkCache {
    max_bytes: usize,
    state: Mutex<State>,
    decoders: Mutex<Vec<ChunkDecoder>>,
    decodes: AtomicU64,
    hits: AtomicU64,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCache")
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves consistent data here (every update is
    // completed before anything that can panic), so a poisoned lock is used as is.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ChunkCache {
    /// A cache holding about `max_bytes` of decompressed data (one chunk larger than
    /// that is still kept until the next one is decoded).
    pub fn new(max_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            max_bytes,
            state: Mutex::new(State::default()),
            decoders: Mutex::new(Vec::new()),
            decodes: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        })
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub fn stats(&self) -> CacheStats {
        let st = lock(&self.state);
        CacheStats {
            decodes: self.decodes.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            bytes: st.bytes,
            entries: st.map.values().filter(|e| e.size > 0).count(),
        }
    }

    /// Drops every entry (the counters stay).
    pub fn clear(&self) {
        let mut st = lock(&self.state);
        st.map.clear();
        st.lru.clear();
        st.bytes = 0;
    }

    /// The chunk `key`, from the cache or decoded by `decode` (given a reusable
    /// decoder), which runs without the cache's lock held.
    pub(crate) fn get<E>(
        &self,
        key: ChunkKey,
        decode: impl FnOnce(&mut ChunkDecoder) -> Result<Vec<u8>, E>,
    ) -> Result<Arc<[u8]>, E> {
        let slot = lock(&self.state).touch(key);
        let mut data = lock(&slot.data);
        if let Some(d) = data.as_ref() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(d.clone());
        }
        let mut decoder = lock(&self.decoders).pop().unwrap_or_default();
        let r = decode(&mut decoder);
        {
            let mut pool = lock(&self.decoders);
            if pool.len() < KEPT_DECODERS {
                pool.push(decoder);
            }
        }
        let bytes: Arc<[u8]> = match r {
            Ok(b) => b.into(),
            Err(e) => {
                drop(data);
                let mut st = lock(&self.state);
                let stale = st
                    .map
                    .get(&key)
                    .is_some_and(|e| Arc::ptr_eq(&e.slot, &slot) && e.size == 0);
                if stale {
                    if let Some(e) = st.map.remove(&key) {
                        st.lru.remove(&e.tick);
                    }
                }
                return Err(e);
            }
        };
        self.decodes.fetch_add(1, Ordering::Relaxed);
        *data = Some(bytes.clone());
        drop(data);
        let mut st = lock(&self.state);
        if let Some(e) = st.map.get_mut(&key) {
            if Arc::ptr_eq(&e.slot, &slot) && e.size == 0 {
                e.size = bytes.len().max(1);
                st.bytes += e.size;
            }
        }
        st.evict(self.max_bytes, key);
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(chunk: u64) -> ChunkKey {
        ChunkKey {
            source: 1,
            part: 1,
            resource: 0,
            chunk,
        }
    }

    #[test]
    fn lru_and_budget() {
        let c = ChunkCache::new(3000);
        for i in 0..3 {
            let d = c.get(key(i), |_| Ok::<_, ()>(vec![i as u8; 1000])).unwrap();
            assert_eq!(d[0], i as u8);
        }
        assert_eq!(c.stats().decodes, 3);
        // Touch 0, then add 3: 1 is the oldest and goes.
        c.get(key(0), |_| Err(())).unwrap();
        c.get(key(3), |_| Ok::<_, ()>(vec![3; 1000])).unwrap();
        let s = c.stats();
        assert_eq!((s.decodes, s.hits, s.entries, s.bytes), (4, 1, 3, 3000));
        assert!(c.get(key(1), |_| Err(())).is_err());
        c.get(key(2), |_| Err(())).unwrap();
        // A chunk larger than the budget is kept alone.
        c.get(key(9), |_| Ok::<_, ()>(vec![0; 5000])).unwrap();
        assert_eq!(c.stats().entries, 1);
    }

    #[test]
    fn concurrent_single_decode() {
        let c = ChunkCache::new(1 << 20);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    c.get(key(7), |_| {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok::<_, ()>(vec![7; 100])
                    })
                    .unwrap();
                });
            }
        });
        let s = c.stats();
        assert_eq!((s.decodes, s.hits), (1, 7));
    }
}
