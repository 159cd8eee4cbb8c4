//! Fuzz `pacto_archive::unpack`: no panic, no unbounded allocation, and every archive it
//! accepts packs and unpacks back to the same bundle.
//!
//! Input: the first byte picks the mode. Even: the rest is a tar stream, wrapped here in a
//! stored (uncompressed) gzip member so the fuzzer explores the tar reader. Odd: the rest
//! is used as-is, exploring the gzip reader too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pacto_archive::{ArchiveError, LimitError, Limits, pack, unpack_bytes};
use std::sync::LazyLock;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
});

/// Small limits keep every run fast; the code paths are the same as with the defaults.
const LIMITS: Limits = Limits::GO_PACTO
    .with_max_file_size(1 << 20)
    .with_max_total_size(4 << 20)
    .with_max_entries(2_000)
    .with_max_depth(64);

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A single gzip member holding `data` in stored deflate blocks.
fn stored_gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let layer = if mode % 2 == 0 {
        stored_gzip(rest)
    } else {
        rest.to_vec()
    };
    RUNTIME.block_on(async {
        let Ok(bundle) = unpack_bytes(&layer, &LIMITS).await else {
            return;
        };
        assert!(bundle.total_size() <= LIMITS.max_total_size);
        // One set of limits in both directions: what unpacks under them is within them as a
        // bundle, packs under them (unless the PAX records of its long paths outgrow the
        // shorter GNU long names the original used: pack refuses what unpack would), and the
        // canonical archive (an entry per file and per parent directory, which unpack counts
        // whether listed or implied) unpacks under them again.
        assert_eq!(bundle.check_limits(&LIMITS), Ok(()));
        let packed = match pack(&bundle, &LIMITS).await {
            Ok(packed) => packed,
            Err(ArchiveError::OverLimit(LimitError::TotalTooLarge { .. })) => return,
            Err(error) => panic!("an unpacked bundle packs within the same limits: {error}"),
        };
        let again = unpack_bytes(&packed.bytes, &LIMITS)
            .await
            .expect("a packed bundle unpacks within the same limits");
        assert_eq!(again, bundle);
    });
});
