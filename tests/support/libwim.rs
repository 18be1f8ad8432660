//! The reference implementation, `libwim.so.15` (Debian package libwim15),
//! loaded at run time as an oracle for differential tests and comparisons.
//!
//! A missing library is a hard failure: the README's test command installs it,
//! so a test that cannot find it must not pass by skipping its checks.
#![allow(dead_code)]

use std::ffi::c_void;
use std::os::raw::{c_int, c_uint};

use libloading::{Library, Symbol};

/// wimlib's `enum wimlib_compression_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CType {
    Xpress = 1,
    Lzx = 2,
    Lzms = 3,
}

type CreateCompressor = unsafe extern "C" fn(c_int, usize, c_uint, *mut *mut c_void) -> c_int;
type Compress =
    unsafe extern "C" fn(*const c_void, usize, *mut c_void, usize, *mut c_void) -> usize;
type FreeCompressor = unsafe extern "C" fn(*mut c_void);
type CreateDecompressor = unsafe extern "C" fn(c_int, usize, *mut *mut c_void) -> c_int;
type Decompress =
    unsafe extern "C" fn(*const c_void, usize, *mut c_void, usize, *mut c_void) -> c_int;
type FreeDecompressor = unsafe extern "C" fn(*mut c_void);

pub struct Libwim {
    lib: Library,
}

impl Libwim {
    pub fn load() -> Libwim {
        // SAFETY: loading a shared library runs its initialisers; libwim's are benign.
        let lib = unsafe { Library::new("libwim.so.15") }.unwrap_or_else(|e| {
            panic!("libwim.so.15 is required for this test (apt-get install libwim15): {e}")
        });
        Libwim { lib }
    }

    fn sym<T>(&self, name: &[u8]) -> Symbol<'_, T> {
        // SAFETY: each name is paired with its C prototype from wimlib.h.
        unsafe { self.lib.get(name) }.expect("libwim symbol")
    }

    /// A wimlib compressor for blocks of at most `max_block` bytes at `level` (0 = default).
    pub fn compressor(&self, ctype: CType, max_block: usize, level: u32) -> Compressor<'_> {
        let create: Symbol<CreateCompressor> = self.sym(b"wimlib_create_compressor\0");
        let mut ptr = std::ptr::null_mut();
        // SAFETY: valid out-pointer; wimlib validates the other arguments.
        let rc = unsafe { create(ctype as c_int, max_block, level, &mut ptr) };
        assert_eq!(
            rc, 0,
            "wimlib_create_compressor({ctype:?}, {max_block}, {level}) failed: {rc}"
        );
        Compressor { lib: self, ptr }
    }

    pub fn decompressor(&self, ctype: CType, max_block: usize) -> Decompressor<'_> {
        let create: Symbol<CreateDecompressor> = self.sym(b"wimlib_create_decompressor\0");
        let mut ptr = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        let rc = unsafe { create(ctype as c_int, max_block, &mut ptr) };
        assert_eq!(
            rc, 0,
            "wimlib_create_decompressor({ctype:?}, {max_block}) failed: {rc}"
        );
        Decompressor { lib: self, ptr }
    }
}

pub struct Compressor<'a> {
    lib: &'a Libwim,
    ptr: *mut c_void,
}

impl Compressor<'_> {
    /// Compresses one block into `out`, returning the compressed length (0 when
    /// it does not fit), without allocating.
    pub fn compress_into(&mut self, data: &[u8], out: &mut [u8]) -> usize {
        let f: Symbol<Compress> = self.lib.sym(b"wimlib_compress\0");
        if out.is_empty() {
            return 0;
        }
        // SAFETY: both buffers are valid for the lengths passed.
        unsafe {
            f(
                data.as_ptr().cast(),
                data.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                self.ptr,
            )
        }
    }

    /// Compresses one block; `None` when wimlib finds it does not shrink.
    pub fn compress(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let f: Symbol<Compress> = self.lib.sym(b"wimlib_compress\0");
        let mut out = vec![0u8; data.len().saturating_sub(1)];
        if out.is_empty() {
            return None;
        }
        // SAFETY: both buffers are valid for the lengths passed.
        let n = unsafe {
            f(
                data.as_ptr().cast(),
                data.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                self.ptr,
            )
        };
        if n == 0 {
            return None;
        }
        out.truncate(n);
        Some(out)
    }
}

impl Drop for Compressor<'_> {
    fn drop(&mut self) {
        let f: Symbol<FreeCompressor> = self.lib.sym(b"wimlib_free_compressor\0");
        // SAFETY: created by wimlib_create_compressor and freed once.
        unsafe { f(self.ptr) }
    }
}

pub struct Decompressor<'a> {
    lib: &'a Libwim,
    ptr: *mut c_void,
}

impl Decompressor<'_> {
    /// Decompresses one block into `out` (its length is the uncompressed size).
    pub fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> bool {
        let f: Symbol<Decompress> = self.lib.sym(b"wimlib_decompress\0");
        // SAFETY: both buffers are valid for the lengths passed.
        let rc = unsafe {
            f(
                data.as_ptr().cast(),
                data.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                self.ptr,
            )
        };
        rc == 0
    }
}

impl Drop for Decompressor<'_> {
    fn drop(&mut self) {
        let f: Symbol<FreeDecompressor> = self.lib.sym(b"wimlib_free_decompressor\0");
        // SAFETY: created by wimlib_create_decompressor and freed once.
        unsafe { f(self.ptr) }
    }
}
