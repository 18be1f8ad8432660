//! Test data shaped like what WIM chunks hold, for round-trip and differential tests.
#![allow(dead_code)]

use proptest::prelude::*;

/// The kinds of data the differential tests generate.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Random,
    Repetitive,
    Text,
    X86,
    Zeros,
    Ramp,
}

/// Deterministic data of `kind` and `len` from `seed` (xorshift: no external RNG needed).
pub fn make(kind: Kind, len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(len);
    match kind {
        Kind::Random => (0..len).for_each(|_| out.push(next() as u8)),
        Kind::Zeros => out.resize(len, 0),
        Kind::Repetitive => {
            let period = 1 + (next() % 300) as usize;
            let pattern: Vec<u8> = (0..period).map(|_| next() as u8).collect();
            while out.len() < len {
                // Mostly repeats of a short pattern, with occasional mutations.
                let mut p = pattern.clone();
                if next() % 4 == 0 {
                    let i = (next() as usize) % p.len();
                    p[i] = next() as u8;
                }
                out.extend_from_slice(&p);
            }
        }
        Kind::Text => {
            const WORDS: &[&str] = &[
                "the ",
                "image ",
                "Windows ",
                "file ",
                "of ",
                "and ",
                "resource ",
                "chunk ",
                "\r\n",
                "<DIR>",
                "system32",
                "compression ",
                "a ",
                "is ",
                "DISM ",
                "0x",
                "</",
                ">",
                "\t",
                ", ",
            ];
            while out.len() < len {
                let w = WORDS[(next() % WORDS.len() as u64) as usize];
                out.extend_from_slice(w.as_bytes());
                if next() % 9 == 0 {
                    out.extend_from_slice((next() % 100_000).to_string().as_bytes());
                }
            }
        }
        Kind::X86 => {
            // Instruction-like bytes with many relative calls and jumps (E8/E9), RIP-relative
            // loads (48 8B 05), indirect calls (FF 15) and padding, as in PE code sections.
            while out.len() < len {
                match next() % 8 {
                    0 | 1 => {
                        out.push(0xE8);
                        let target = (next() % 4096) as i32 - 2048 + (out.len() as i32 & !0xfff);
                        out.extend_from_slice(&(target - out.len() as i32).to_le_bytes());
                    }
                    2 => {
                        out.push(0xE9);
                        out.extend_from_slice(&((next() % 512) as i32 - 256).to_le_bytes());
                    }
                    3 => {
                        out.extend_from_slice(&[0x48, 0x8B, 0x05]);
                        out.extend_from_slice(&((next() % 65536) as u32).to_le_bytes());
                    }
                    4 => out.extend_from_slice(&[0xFF, 0x15, (next() % 256) as u8, 0x10, 0, 0]),
                    5 => out.extend_from_slice(&[0x48, 0x89, 0x5C, 0x24, 0x08, 0x57]),
                    6 => out.extend_from_slice(&[0xCC; 4]),
                    _ => (0..3).for_each(|_| out.push(next() as u8)),
                }
            }
        }
        Kind::Ramp => {
            // 16-bit samples of a slow ramp: LZMS delta matches fit these.
            let step = 1 + (next() % 7) as u16;
            let mut v = 0u16;
            while out.len() < len {
                out.extend_from_slice(&v.to_le_bytes());
                v = v.wrapping_add(step);
            }
        }
    }
    out.truncate(len);
    out
}

pub fn any_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Random),
        Just(Kind::Repetitive),
        Just(Kind::Text),
        Just(Kind::X86),
        Just(Kind::Zeros),
        Just(Kind::Ramp),
    ]
}

/// A length for a chunk of at most `chunk`: edges (0, 1, chunk - 1, chunk) and anything between.
pub fn chunk_len(chunk: usize) -> impl Strategy<Value = usize> {
    prop_oneof![Just(0), Just(1), Just(chunk - 1), Just(chunk), 2..chunk]
}

/// Some real files on this machine: binaries, libraries and text.
pub fn real_files(limit: usize) -> Vec<(String, Vec<u8>)> {
    let candidates = [
        "/usr/bin/bash",
        "/usr/bin/wimlib-imagex",
        "/usr/lib/x86_64-linux-gnu/libwim.so.15",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/share/common-licenses/GPL-3",
        "/etc/services",
        "/usr/share/dict/words",
    ];
    candidates
        .iter()
        .filter_map(|p| std::fs::read(p).ok().map(|d| (p.to_string(), d)))
        .map(|(p, mut d)| {
            d.truncate(limit);
            (p, d)
        })
        .collect()
}
