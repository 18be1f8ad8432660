//! Criterion benchmarks: decoding real chunks with our decoders and with wimlib's.
mod common;

use common::libwim::Libwim;
use common::{compress_chunks, ctype, machine_corpus, PLANS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wimkit::compress::Decompressor;

fn decode(c: &mut Criterion) {
    let lib = Libwim::load();
    let corpus = machine_corpus(16 << 20);
    for (codec, chunk_size, name) in PLANS {
        let set = compress_chunks(&lib, codec, chunk_size, &corpus);
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(set.uncompressed_bytes as u64));
        group.sample_size(10);
        let mut out = vec![0u8; chunk_size];
        let mut ours = Decompressor::new(codec, chunk_size).expect("decoder");
        group.bench_function("wimkit", |b| {
            b.iter(|| {
                for (chunk, len) in &set.chunks {
                    ours.decompress(chunk, &mut out[..*len]).expect("decodes");
                }
            })
        });
        let mut theirs = lib.decompressor(ctype(codec), chunk_size);
        group.bench_function("wimlib", |b| {
            b.iter(|| {
                for (chunk, len) in &set.chunks {
                    assert!(theirs.decompress(chunk, &mut out[..*len]));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
