//! The digest of a fixed bundle, so that any change to the layer format fails CI.
//!
//! If this test fails, the bytes `pack` writes have changed: every bundle would get a new
//! digest and pushes would stop being idempotent across versions. Only update the
//! constants for a deliberate format change, and say so in the changelog.

use crate::support::{bundle, gunzip};
use pacto_archive::{COMPRESSION_LEVEL, Limits, pack, pack_to_writer_with_progress, unpack_bytes};

const GOLDEN_DIGEST: &str =
    "sha256:2ea795bef317dcefeb49527ec1ac06052e8d8f2ff27327fd1cf5f3b3cc8ca523";
const GOLDEN_DIFF_ID: &str =
    "sha256:7f815a1644501239301849e63e7b9c5c3ca2d5b5fd8d202b9eef52cda47877da";
const GOLDEN_SIZE: u64 = 582;

#[tokio::test]
async fn golden_digest_of_the_example_bundle() {
    let long = format!("schemas/{}.json", "very-long-name".repeat(10));
    let b = bundle(&[
        (
            "api/openapi.yaml",
            b"openapi: 3.1.0\ninfo:\n  title: orders\n  version: 1.4.2\n",
        ),
        ("api.md", b"# Orders API\n"),
        ("docs/runbook.md", b"Restart with care.\n"),
        ("pacto.lock", b"{}\n"),
        (long.as_str(), b"{\"type\": \"object\"}\n"),
    ]);
    let packed = pack(&b, &Limits::default()).await.unwrap();
    assert_eq!(COMPRESSION_LEVEL, 1);
    assert_eq!(packed.diff_id, GOLDEN_DIFF_ID, "the tar layout changed");
    assert_eq!(packed.digest, GOLDEN_DIGEST, "the gzip bytes changed");
    assert_eq!(packed.size, GOLDEN_SIZE);
}

/// Incompressible and compressible bytes, a few MiB of each: deterministic (xorshift).
fn big_files() -> (Vec<u8>, Vec<u8>) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise = (0..3 * 1024 * 1024 + 12_345)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let text = (0..200_000)
        .flat_map(|i: u32| {
            format!("line {i}: {}\n", i.wrapping_mul(2_654_435_761) % 997).into_bytes()
        })
        .collect();
    (noise, text)
}

/// A bundle of several MiB, so several gzip members of a MiB of tar each: pinned so that a
/// change of block size, of member framing or of the compressor fails here, not only on
/// small bundles. The same bytes come again, with a progress observer too, and unpack to the
/// bundle.
#[tokio::test]
async fn golden_digest_of_a_bundle_of_several_mib() {
    let (noise, text) = big_files();
    let b = bundle(&[
        ("data/noise.bin", noise.as_slice()),
        ("data/text.txt", text.as_slice()),
    ]);
    assert_eq!(b.total_size(), 6_424_950);
    let packed = pack(&b, &Limits::default()).await.unwrap();
    assert_eq!(
        packed.diff_id,
        "sha256:2f6c12d6461fd47a037c0d30c1aa9efc7cc83b630c11e77df08f97b484b4e0c2"
    );
    assert_eq!(
        packed.digest,
        "sha256:c1b8ec5f7b77f50bb863687d24d0297fb95880a728fcb0a10bc33f11ea4154eb"
    );
    assert_eq!(packed.size, 4_733_580);

    // One member per MiB of tar (7 of them), each with the fixed header.
    let header = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 4, 0xff];
    let members = packed
        .bytes
        .windows(header.len())
        .filter(|w| *w == header)
        .count();
    assert_eq!(members, 7);
    assert!(packed.bytes.starts_with(&header));
    assert_eq!(gunzip(&packed.bytes).len(), 6_429_184);

    let again = pack(&b, &Limits::default()).await.unwrap();
    assert_eq!(again, packed);
    let mut observed = Vec::new();
    let mut reported = 0;
    let info = pack_to_writer_with_progress(&b, &mut observed, &Limits::default(), |n| {
        reported += n;
    })
    .await
    .unwrap();
    assert_eq!(observed, packed.bytes.as_ref());
    assert_eq!(info, packed.layer_info());
    assert_eq!(reported, b.total_size());
    assert_eq!(
        unpack_bytes(&packed.bytes, &Limits::default())
            .await
            .unwrap(),
        b
    );
}
