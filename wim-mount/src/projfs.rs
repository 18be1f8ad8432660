//! The ProjFS backend (Windows): a provider skeleton that projects any [`Vfs`] under
//! a virtualization root with the Projected File System (Windows 10 1809+, optional
//! feature `Client-ProjFS`).
//!
//! ProjFS asks the provider for directory listings, placeholder information (a
//! file's size, times and attributes, written when the file is first touched) and a
//! file's data (when it is first read, "hydrating" it). Those callbacks are mapped
//! onto the projection core here. Files that users then modify become ordinary local
//! files in the root, which ProjFS stops asking about.
//!
//! Not done yet: notifications (so modifications reach an [`crate::Overlay`] for
//! commit: for now they stay local files of the root), symlinks (skipped; they need
//! `PrjWritePlaceholderInfo2`), special files (skipped), security descriptors and
//! named streams.
//!
//! This is the crate's only module with `unsafe` code: calls into `projectedfslib`
//! and the callbacks it makes, each with its SAFETY note.

use std::collections::HashMap;
use std::ffi::c_void;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use windows_sys::core::{GUID, HRESULT, PCWSTR};
use windows_sys::Win32::Storage::ProjectedFileSystem::{
    PrjAllocateAlignedBuffer, PrjFileNameCompare, PrjFileNameMatch, PrjFillDirEntryBuffer,
    PrjFreeAlignedBuffer, PrjMarkDirectoryAsPlaceholder, PrjStartVirtualizing, PrjStopVirtualizing,
    PrjWriteFileData, PrjWritePlaceholderInfo, PRJ_CALLBACKS, PRJ_CALLBACK_DATA,
    PRJ_CB_DATA_FLAG_ENUM_RESTART_SCAN, PRJ_DIR_ENTRY_BUFFER_HANDLE, PRJ_FILE_BASIC_INFO,
    PRJ_NAMESPACE_VIRTUALIZATION_CONTEXT, PRJ_PLACEHOLDER_INFO, PRJ_STARTVIRTUALIZING_OPTIONS,
};

use crate::error::FsError;
use crate::types::{Attr, Ino, Kind, ROOT_INO};
use crate::vfs::Vfs;

const S_OK: HRESULT = 0;
const E_FAIL: HRESULT = 0x8000_4005_u32 as i32;
const E_OUTOFMEMORY: HRESULT = 0x8007_000E_u32 as i32;
const E_INVALIDARG: HRESULT = 0x8007_0057_u32 as i32;
/// HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND).
const HR_FILE_NOT_FOUND: HRESULT = 0x8007_0002_u32 as i32;
/// HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER).
const HR_INSUFFICIENT_BUFFER: HRESULT = 0x8007_007A_u32 as i32;
/// HRESULT_FROM_WIN32(ERROR_READ_FAULT).
const HR_READ_FAULT: HRESULT = 0x8007_001E_u32 as i32;

const FILE_ATTRIBUTE_READONLY: u32 = 0x1;
const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x10;
const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;

/// Bytes handed to ProjFS per `PrjWriteFileData` call.
const DATA_PIECE: u64 = 1 << 20;

/// How to start virtualizing.
#[derive(Debug, Clone, Default)]
pub struct ProjFsOptions {
    /// Threads ProjFS runs callbacks on (0: its default).
    pub threads: u32,
}

fn hresult(e: &FsError) -> HRESULT {
    match e {
        FsError::NotFound | FsError::NotDirectory => HR_FILE_NOT_FOUND,
        FsError::Invalid(_) => E_INVALIDARG,
        _ => HR_READ_FAULT,
    }
}

fn guid_key(g: &GUID) -> u128 {
    (u128::from(g.data1) << 96)
        | (u128::from(g.data2) << 80)
        | (u128::from(g.data3) << 64)
        | u128::from(u64::from_be_bytes(g.data4))
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

fn wide_path(p: &Path) -> Vec<u16> {
    p.as_os_str().encode_wide().chain([0]).collect()
}

/// The NUL-terminated UTF-16 string at `p` (`None` for a null pointer).
///
/// # Safety
/// `p` is null or points to a NUL-terminated UTF-16 string that stays valid while the
/// returned vector is made.
unsafe fn read_wide(p: PCWSTR) -> Option<Vec<u16>> {
    if p.is_null() {
        return None;
    }
    let mut len = 0usize;
    // SAFETY: the string is NUL-terminated (caller's contract), so every index up to
    // and including the NUL is readable.
    unsafe {
        while *p.add(len) != 0 {
            len += 1;
        }
        Some(std::slice::from_raw_parts(p, len).to_vec())
    }
}

fn basic_info(a: &Attr) -> PRJ_FILE_BASIC_INFO {
    let dir = a.kind == Kind::Directory;
    let mut attrs = if dir {
        FILE_ATTRIBUTE_DIRECTORY
    } else {
        FILE_ATTRIBUTE_NORMAL
    };
    if !dir && a.perm & 0o222 == 0 {
        attrs = FILE_ATTRIBUTE_READONLY;
    }
    PRJ_FILE_BASIC_INFO {
        IsDirectory: dir,
        FileSize: if dir { 0 } else { a.size as i64 },
        CreationTime: a.times.creation as i64,
        LastAccessTime: a.times.access as i64,
        LastWriteTime: a.times.write as i64,
        ChangeTime: a.times.change as i64,
        FileAttributes: attrs,
    }
}

/// Whether ProjFS can show this kind (symlinks and special files are skipped).
fn shown(k: Kind) -> bool {
    matches!(k, Kind::Directory | Kind::File)
}

/// One directory enumeration in progress.
struct Enumeration {
    /// Names (UTF-16, NUL-terminated) in ProjFS's order, with their attributes.
    entries: Vec<(Vec<u16>, Attr)>,
    next: usize,
    /// The search expression of the first request (NUL-terminated), if any.
    search: Option<Vec<u16>>,
}

struct Provider {
    vfs: Arc<dyn Vfs>,
    enums: Mutex<HashMap<u128, Enumeration>>,
}

impl Provider {
    /// Names that equal `name` as ProjFS compares names (case-insensitively).
    fn find(&self, dir: Ino, name: &[u16]) -> Result<Ino, FsError> {
        let s = String::from_utf16(name).map_err(|_| FsError::NotFound)?;
        if let Ok(a) = self.vfs.lookup(dir, &s) {
            return Ok(a.ino);
        }
        let want = [name, &[0]].concat();
        for e in self.vfs.readdir(dir)? {
            let w = wide(&e.name);
            // SAFETY: both are NUL-terminated UTF-16 strings that outlive the call.
            if unsafe { PrjFileNameCompare(w.as_ptr(), want.as_ptr()) } == 0 {
                return Ok(e.ino);
            }
        }
        Err(FsError::NotFound)
    }

    /// The inode at `path` (relative to the root, `\`-separated).
    fn resolve(&self, path: &[u16]) -> Result<Ino, FsError> {
        let mut ino = ROOT_INO;
        for part in path.split(|&c| c == u16::from(b'\\')) {
            if !part.is_empty() {
                ino = self.find(ino, part)?;
            }
        }
        Ok(ino)
    }

    fn start_enum(&self, path: &[u16], id: u128) -> Result<(), FsError> {
        let dir = self.resolve(path)?;
        let mut entries = Vec::new();
        for e in self.vfs.readdir(dir)? {
            if !shown(e.kind) {
                continue;
            }
            let attr = self.vfs.getattr(e.ino)?;
            entries.push((wide(&e.name), attr));
        }
        // SAFETY: NUL-terminated strings owned by `entries`.
        entries.sort_by(|a, b| unsafe { PrjFileNameCompare(a.0.as_ptr(), b.0.as_ptr()) }.cmp(&0));
        self.enums.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            Enumeration {
                entries,
                next: 0,
                search: None,
            },
        );
        Ok(())
    }

    fn placeholder(&self, data: &PRJ_CALLBACK_DATA, path: &[u16]) -> HRESULT {
        let attr = match self.resolve(path).and_then(|i| self.vfs.getattr(i)) {
            Ok(a) if shown(a.kind) => a,
            Ok(_) => return HR_FILE_NOT_FOUND,
            Err(e) => return hresult(&e),
        };
        let mut info = PRJ_PLACEHOLDER_INFO {
            FileBasicInfo: basic_info(&attr),
            ..Default::default()
        };
        info.FileBasicInfo.FileSize = if attr.kind == Kind::File {
            attr.size as i64
        } else {
            0
        };
        // SAFETY: `info` is a valid placeholder info of the size given; the path is the
        // NUL-terminated name ProjFS passed to this callback.
        unsafe {
            PrjWritePlaceholderInfo(
                data.NamespaceVirtualizationContext,
                data.FilePathName,
                &info,
                std::mem::size_of::<PRJ_PLACEHOLDER_INFO>() as u32,
            )
        }
    }

    fn file_data(
        &self,
        data: &PRJ_CALLBACK_DATA,
        path: &[u16],
        offset: u64,
        length: u32,
    ) -> HRESULT {
        let ino = match self.resolve(path) {
            Ok(i) => i,
            Err(e) => return hresult(&e),
        };
        let ctx = data.NamespaceVirtualizationContext;
        let end = offset + u64::from(length);
        let mut at = offset;
        while at < end {
            let n = (end - at).min(DATA_PIECE) as usize;
            let bytes = match self.vfs.read(ino, at, n) {
                Ok(b) if b.len() == n => b,
                Ok(_) => return HR_READ_FAULT,
                Err(e) => return hresult(&e),
            };
            // SAFETY: a buffer ProjFS allocates for this instance, `n` bytes, freed
            // below on every path.
            let buf = unsafe { PrjAllocateAlignedBuffer(ctx, n) };
            if buf.is_null() {
                return E_OUTOFMEMORY;
            }
            // SAFETY: `buf` has room for `n` bytes and does not overlap `bytes`; the
            // stream id is the one of this callback.
            let hr = unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                let hr = PrjWriteFileData(ctx, &data.DataStreamId, buf, at, n as u32);
                PrjFreeAlignedBuffer(buf);
                hr
            };
            if hr != S_OK {
                return hr;
            }
            at += n as u64;
        }
        S_OK
    }
}

/// The provider of a callback.
///
/// # Safety
/// `data` is the callback data ProjFS passes, whose instance context is the
/// `Provider` given to `PrjStartVirtualizing`, alive until `PrjStopVirtualizing`
/// returns.
unsafe fn provider<'a>(
    data: *const PRJ_CALLBACK_DATA,
) -> Option<(&'a Provider, &'a PRJ_CALLBACK_DATA)> {
    // SAFETY: per the function's contract.
    unsafe {
        let data = data.as_ref()?;
        let p = data
            .InstanceContext
            .cast::<Provider>()
            .cast_const()
            .as_ref()?;
        Some((p, data))
    }
}

/// Runs `f`, turning a panic into `E_FAIL` (a panic must not unwind into ProjFS).
fn guarded(f: impl FnOnce() -> HRESULT) -> HRESULT {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(E_FAIL)
}

unsafe extern "system" fn start_enumeration(
    data: *const PRJ_CALLBACK_DATA,
    id: *const GUID,
) -> HRESULT {
    guarded(|| {
        // SAFETY: ProjFS passes valid callback data and enumeration id.
        let Some((p, d)) = (unsafe { provider(data) }) else {
            return E_INVALIDARG;
        };
        // SAFETY: as above; the path is NUL-terminated.
        let (path, id) = unsafe {
            (
                read_wide(d.FilePathName).unwrap_or_default(),
                guid_key(&*id),
            )
        };
        match p.start_enum(&path, id) {
            Ok(()) => S_OK,
            Err(e) => hresult(&e),
        }
    })
}

unsafe extern "system" fn end_enumeration(
    data: *const PRJ_CALLBACK_DATA,
    id: *const GUID,
) -> HRESULT {
    guarded(|| {
        // SAFETY: ProjFS passes valid callback data and enumeration id.
        let Some((p, _)) = (unsafe { provider(data) }) else {
            return E_INVALIDARG;
        };
        // SAFETY: as above.
        let id = unsafe { guid_key(&*id) };
        p.enums
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        S_OK
    })
}

unsafe extern "system" fn get_enumeration(
    data: *const PRJ_CALLBACK_DATA,
    id: *const GUID,
    search: PCWSTR,
    buffer: PRJ_DIR_ENTRY_BUFFER_HANDLE,
) -> HRESULT {
    guarded(|| {
        // SAFETY: ProjFS passes valid callback data and enumeration id.
        let Some((p, d)) = (unsafe { provider(data) }) else {
            return E_INVALIDARG;
        };
        // SAFETY: as above.
        let id = unsafe { guid_key(&*id) };
        let mut enums = p.enums.lock().unwrap_or_else(|e| e.into_inner());
        let Some(en) = enums.get_mut(&id) else {
            return E_INVALIDARG;
        };
        // SAFETY: the search expression is null or NUL-terminated.
        let expr = unsafe { read_wide(search) };
        if d.Flags & PRJ_CB_DATA_FLAG_ENUM_RESTART_SCAN != 0 {
            en.next = 0;
            en.search = None;
        }
        if en.search.is_none() {
            en.search = Some(
                expr.map(|mut e| {
                    e.push(0);
                    e
                })
                .unwrap_or_else(|| vec![u16::from(b'*'), 0]),
            );
        }
        let pattern = en.search.clone().unwrap_or_default();
        let mut added = 0;
        while let Some((name, attr)) = en.entries.get(en.next) {
            // SAFETY: both strings are NUL-terminated and outlive the call.
            if !unsafe { PrjFileNameMatch(name.as_ptr(), pattern.as_ptr()) } {
                en.next += 1;
                continue;
            }
            let info = basic_info(attr);
            // SAFETY: the name is NUL-terminated, `info` valid, `buffer` the handle of
            // this callback.
            let hr = unsafe { PrjFillDirEntryBuffer(name.as_ptr(), &info, buffer) };
            if hr == HR_INSUFFICIENT_BUFFER {
                // Full: the rest comes in the next call; one entry at least is needed.
                return if added == 0 { hr } else { S_OK };
            }
            if hr != S_OK {
                return hr;
            }
            added += 1;
            en.next += 1;
        }
        S_OK
    })
}

unsafe extern "system" fn get_placeholder_info(data: *const PRJ_CALLBACK_DATA) -> HRESULT {
    guarded(|| {
        // SAFETY: ProjFS passes valid callback data.
        let Some((p, d)) = (unsafe { provider(data) }) else {
            return E_INVALIDARG;
        };
        // SAFETY: the path is NUL-terminated.
        let path = unsafe { read_wide(d.FilePathName).unwrap_or_default() };
        p.placeholder(d, &path)
    })
}

unsafe extern "system" fn get_file_data(
    data: *const PRJ_CALLBACK_DATA,
    offset: u64,
    length: u32,
) -> HRESULT {
    guarded(|| {
        // SAFETY: ProjFS passes valid callback data.
        let Some((p, d)) = (unsafe { provider(data) }) else {
            return E_INVALIDARG;
        };
        // SAFETY: the path is NUL-terminated.
        let path = unsafe { read_wide(d.FilePathName).unwrap_or_default() };
        p.file_data(d, &path, offset, length)
    })
}

/// A virtualization root being served; stops on [`ProjFsHandle::stop`] or drop.
pub struct ProjFsHandle {
    context: PRJ_NAMESPACE_VIRTUALIZATION_CONTEXT,
    provider: *mut Provider,
    root: PathBuf,
}

// SAFETY: the context handle may be used from any thread; the provider is Sync.
unsafe impl Send for ProjFsHandle {}

impl std::fmt::Debug for ProjFsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjFsHandle")
            .field("root", &self.root)
            .finish()
    }
}

impl ProjFsHandle {
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stops virtualizing (files already hydrated stay in the root).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for ProjFsHandle {
    fn drop(&mut self) {
        // SAFETY: the context came from PrjStartVirtualizing; after PrjStopVirtualizing
        // returns no callback runs, so the provider can be freed.
        unsafe {
            PrjStopVirtualizing(self.context);
            drop(Box::from_raw(self.provider));
        }
    }
}

fn instance_id() -> GUID {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let pid = std::process::id();
    GUID {
        data1: pid,
        data2: (t >> 48) as u16,
        data3: ((t >> 32) as u16 & 0x0FFF) | 0x4000,
        data4: ((t as u64) | 0x8000_0000_0000_0000).to_be_bytes(),
    }
}

fn check(hr: HRESULT, what: &str) -> io::Result<()> {
    if hr == S_OK {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what}: HRESULT {:#010x}",
            hr as u32
        )))
    }
}

/// Projects `fs` under the directory `root` (created if missing) until the handle is
/// stopped.
pub fn start<V: Vfs>(
    fs: Arc<V>,
    root: impl AsRef<Path>,
    options: &ProjFsOptions,
) -> io::Result<ProjFsHandle> {
    let root = root.as_ref();
    std::fs::create_dir_all(root)?;
    let wroot = wide_path(root);
    let id = instance_id();
    // SAFETY: `wroot` is a NUL-terminated path; null target and version are allowed
    // when marking a virtualization root.
    let hr = unsafe {
        PrjMarkDirectoryAsPlaceholder(wroot.as_ptr(), std::ptr::null(), std::ptr::null(), &id)
    };
    check(hr, "mark the virtualization root")?;
    let vfs: Arc<dyn Vfs> = fs;
    let provider = Box::into_raw(Box::new(Provider {
        vfs,
        enums: Mutex::new(HashMap::new()),
    }));
    let callbacks = PRJ_CALLBACKS {
        StartDirectoryEnumerationCallback: Some(start_enumeration),
        EndDirectoryEnumerationCallback: Some(end_enumeration),
        GetDirectoryEnumerationCallback: Some(get_enumeration),
        GetPlaceholderInfoCallback: Some(get_placeholder_info),
        GetFileDataCallback: Some(get_file_data),
        QueryFileNameCallback: None,
        NotificationCallback: None,
        CancelCommandCallback: None,
    };
    let opts = PRJ_STARTVIRTUALIZING_OPTIONS {
        PoolThreadCount: options.threads,
        ConcurrentThreadCount: options.threads,
        ..Default::default()
    };
    let mut context: PRJ_NAMESPACE_VIRTUALIZATION_CONTEXT = std::ptr::null_mut();
    // (Callbacks take the context from their callback data, so they may run before
    // this call returns.)
    // SAFETY: all pointers are valid for the call; the provider lives until drop.
    let hr = unsafe {
        PrjStartVirtualizing(
            wroot.as_ptr(),
            &callbacks,
            provider.cast::<c_void>().cast_const(),
            &opts,
            &mut context,
        )
    };
    if let Err(e) = check(hr, "start virtualizing") {
        // SAFETY: not started: no callback can hold the provider.
        drop(unsafe { Box::from_raw(provider) });
        return Err(e);
    }
    Ok(ProjFsHandle {
        context,
        provider,
        root: root.to_path_buf(),
    })
}
