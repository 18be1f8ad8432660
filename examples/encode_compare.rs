//! Compares our compressor with wimlib's on one or more plans; every chunk we
//! write is first checked to decode (ours and wimlib's decoder) to its input.
//!
//! cargo run --release --example encode_compare -- --codec lzx --level 50 [--level 20]
//!     [--mb 32] [--chunk 32768] [--rounds 3]
#[path = "../benches/common/mod.rs"]
mod common;

use common::encode::{compare_all, corpus, parse_codec};
use common::libwim::Libwim;
use wimkit::compress::Codec;

fn main() {
    let mut codecs = Vec::new();
    let mut levels = Vec::new();
    let (mut mb, mut chunk, mut rounds) = (32usize, None, 3usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--codec" => codecs.push(parse_codec(&value()).expect("codec: xpress, lzx or lzms")),
            "--level" => levels.push(value().parse().expect("level")),
            "--mb" => mb = value().parse().expect("--mb N"),
            "--chunk" => chunk = Some(value().parse::<usize>().expect("--chunk BYTES")),
            "--rounds" => rounds = value().parse().expect("--rounds N"),
            _ => {
                eprintln!("usage: encode_compare --codec xpress|lzx|lzms [--level N]... [--mb N] [--chunk BYTES] [--rounds N]");
                std::process::exit(2);
            }
        }
    }
    if codecs.is_empty() {
        codecs = vec![Codec::Xpress, Codec::Lzx, Codec::Lzms];
    }
    if levels.is_empty() {
        levels.push(50);
    }
    let lib = Libwim::load();
    let data = corpus(mb);
    let plans: Vec<(Codec, usize)> = codecs
        .into_iter()
        .map(|codec| {
            let default = if codec == Codec::Lzms {
                128 << 10
            } else {
                32 << 10
            };
            (codec, chunk.unwrap_or(default))
        })
        .collect();
    compare_all(&lib, &data, &plans, &levels, rounds);
}
