//! Damaged cache files are never served: they are misses, pulled again and replaced.

use crate::common::{blob_path, bundle, cached, files_under, push, reference, runtime, summary};
use pacto_registry::BundleStore;
use pacto_test_support::TestRegistry;
use std::fs;
use std::path::Path;

/// How a test damages a file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Same length, different bytes.
    Corrupt,
    /// Cut in half.
    Truncate,
    /// Gone.
    Delete,
}

fn damage(path: &Path, how: Damage) {
    let bytes = fs::read(path).expect("read cached file");
    match how {
        Damage::Corrupt => {
            let mut bad = bytes.clone();
            for b in bad.iter_mut().take(64) {
                *b = !*b;
            }
            fs::write(path, bad).expect("corrupt");
        }
        Damage::Truncate => fs::write(path, &bytes[..bytes.len() / 2]).expect("truncate"),
        Damage::Delete => fs::remove_file(path).expect("delete"),
    }
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Manifest,
    Layer,
    Record,
}

#[test]
fn damaged_files_are_misses_that_are_pulled_again_and_replaced() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle("payments", "1.0.0");
    let digest = push(&rt, &registry, "team/payments", "1.0.0", &original);
    let tag = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let head = "HEAD /v2/team/payments/manifests/1.0.0 200";
    let get_manifest = "GET /v2/team/payments/manifests/1.0.0 200";
    let get_blob = "GET /v2/team/payments/blobs/sha256:<d> 200";

    // (what, how, requests of the next pull of the tag)
    let cases: &[(Target, Damage, &[&str])] = &[
        (
            Target::Layer,
            Damage::Corrupt,
            &[head, get_manifest, get_blob],
        ),
        (
            Target::Layer,
            Damage::Truncate,
            &[head, get_manifest, get_blob],
        ),
        (
            Target::Layer,
            Damage::Delete,
            &[head, get_manifest, get_blob],
        ),
        (
            Target::Manifest,
            Damage::Corrupt,
            &[head, get_manifest, get_blob],
        ),
        (
            Target::Manifest,
            Damage::Truncate,
            &[head, get_manifest, get_blob],
        ),
        // An unreadable record is no record: a plain pull, no HEAD.
        (Target::Record, Damage::Corrupt, &[get_manifest, get_blob]),
        (Target::Record, Damage::Truncate, &[get_manifest, get_blob]),
    ];
    for &(target, how, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let pulled = rt
            .block_on(cached(dir.path()).pull_pinned(&tag))
            .expect("warm");
        let record = files_under(dir.path())
            .into_iter()
            .find(|f| f.starts_with("v1/refs"))
            .expect("a record");
        let path = match target {
            Target::Manifest => blob_path(dir.path(), &digest),
            Target::Layer => blob_path(dir.path(), &pulled.layer_digest),
            Target::Record => dir.path().join(record),
        };
        let intact = fs::read(&path).expect("read");
        damage(&path, how);

        // Local-only never serves it.
        let local = rt
            .block_on(cached(dir.path()).pull_local(&tag))
            .expect("local read");
        assert!(
            local.is_none(),
            "{target:?} {how:?}: a damaged entry is a miss"
        );

        registry.clear_requests();
        let again = rt
            .block_on(cached(dir.path()).pull_pinned(&tag))
            .expect("pulled again");
        assert_eq!(again.digest, digest, "{target:?} {how:?}");
        assert_eq!(again.bundle, original, "{target:?} {how:?}");
        assert_eq!(
            summary(&registry.requests()),
            expected,
            "{target:?} {how:?}"
        );
        if !matches!(target, Target::Record) {
            assert_eq!(
                fs::read(&path).expect("replaced"),
                intact,
                "{target:?} {how:?}: the file was replaced"
            );
        }
        // Healthy again: a new store revalidates with one HEAD only.
        registry.clear_requests();
        rt.block_on(cached(dir.path()).pull_pinned(&tag))
            .expect("warm again");
        assert_eq!(summary(&registry.requests()), [head], "{target:?} {how:?}");
        let report = rt.block_on(cached(dir.path()).verify()).expect("verify");
        assert_eq!(
            (report.ok, report.corrupt.len()),
            (1, 0),
            "{target:?} {how:?}"
        );
    }
}

#[test]
fn a_corrupt_digest_entry_is_pulled_again_and_verify_removes_what_is_damaged() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle("payments", "2.0.0");
    let digest = push(&rt, &registry, "team/payments", "2.0.0", &original);
    let by_digest = reference(&format!("{}/team/payments@{digest}", registry.host()));
    let tag = reference(&format!("{}/team/payments:2.0.0", registry.host()));
    let dir = tempfile::tempdir().expect("tempdir");
    let pulled = rt
        .block_on(cached(dir.path()).pull_pinned(&by_digest))
        .expect("warm");
    rt.block_on(cached(dir.path()).pull_pinned(&tag))
        .expect("warm tag");

    damage(
        &blob_path(dir.path(), &pulled.layer_digest),
        Damage::Corrupt,
    );
    registry.clear_requests();
    let again = rt
        .block_on(cached(dir.path()).pull_pinned(&by_digest))
        .expect("pulled again");
    assert_eq!(again.bundle, original);
    assert_eq!(
        summary(&registry.requests()),
        [
            "GET /v2/team/payments/manifests/sha256:<d> 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200",
        ]
    );

    // Verify: both entries share the blobs; corrupt the layer again and both go.
    damage(
        &blob_path(dir.path(), &pulled.layer_digest),
        Damage::Corrupt,
    );
    // A stray file with a non-digest name in the blob directory goes too.
    fs::write(dir.path().join("v1/blobs/sha256/not-a-digest"), b"x").expect("stray");
    let store = cached(dir.path());
    let report = rt.block_on(store.verify()).expect("verify");
    assert_eq!(report.ok, 0);
    let mut corrupt = report.corrupt.clone();
    corrupt.sort();
    assert_eq!(corrupt, [tag.to_string(), by_digest.to_string()]);
    assert_eq!(
        report.corrupt_blobs.len(),
        2,
        "the layer and the stray file: {:?}",
        report.corrupt_blobs
    );
    assert!(
        report
            .corrupt_blobs
            .contains(&pulled.layer_digest.to_string())
    );
    assert!(rt.block_on(store.entries()).expect("entries").is_empty());
    let left: Vec<_> = files_under(dir.path());
    assert_eq!(
        left,
        [Path::new("v1/blobs/sha256").join(digest.hex())],
        "only the intact manifest is left"
    );
    let clean = rt.block_on(store.verify()).expect("verify again");
    assert_eq!(
        (clean.ok, clean.corrupt.len(), clean.corrupt_blobs.len()),
        (0, 0, 0)
    );
}
