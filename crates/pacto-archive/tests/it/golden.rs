//! The digest of a fixed bundle, so that any change to the layer format fails CI.
//!
//! If this test fails, the bytes `pack` writes have changed: every bundle would get a new
//! digest and pushes would stop being idempotent across versions. Only update the
//! constants for a deliberate format change, and say so in the changelog.

use crate::support::bundle;
use pacto_archive::{COMPRESSION_LEVEL, Limits, pack};

const GOLDEN_DIGEST: &str =
    "sha256:a8aaae16089b7434f0167a5309d159be924919439443cb34704c5d21e36b8717";
const GOLDEN_DIFF_ID: &str =
    "sha256:7f815a1644501239301849e63e7b9c5c3ca2d5b5fd8d202b9eef52cda47877da";
const GOLDEN_SIZE: u64 = 547;

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
