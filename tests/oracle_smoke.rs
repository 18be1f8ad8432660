mod support;
use support::libwim::{CType, Libwim};

#[test]
fn libwim_round_trips_its_own_output() {
    let lib = Libwim::load();
    let data: Vec<u8> = (0..100_000u32)
        .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
        .collect();
    for (ct, bs) in [
        (CType::Xpress, 65536),
        (CType::Lzx, 32768),
        (CType::Lzms, 1 << 20),
    ] {
        let block = &data[..bs.min(data.len())];
        let c = lib
            .compressor(ct, bs, 50)
            .compress(block)
            .expect("compressible");
        let mut out = vec![0; block.len()];
        assert!(lib.decompressor(ct, bs).decompress(&c, &mut out));
        assert_eq!(out, block);
    }
}
