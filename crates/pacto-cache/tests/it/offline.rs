//! The registry stopped, and the local-only entry points that never reach it.

use crate::common::{MapStore, bundle, cached, pulled_for, push, reference, runtime};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_registry::{BundleStore, ErrorKind};
use pacto_test_support::TestRegistry;
use std::time::Duration;

#[test]
fn with_the_registry_stopped_cached_entries_are_served_and_cold_reads_fail_unreachable() {
    let mut registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle("payments", "1.2.0");
    let digest = push(&rt, &registry, "team/payments", "1.2.0", &original);
    push(
        &rt,
        &registry,
        "team/payments",
        "1.3.0",
        &bundle("payments", "1.3.0"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = reference(&format!("{}/team/payments:1.2.0", registry.host()));
    let by_digest = reference(&format!("{}/team/payments@{digest}", registry.host()));
    let uncached = reference(&format!("{}/team/payments:1.3.0", registry.host()));
    let warm = cached(dir.path());
    rt.block_on(warm.pull_pinned(&tag)).expect("warm the tag");
    rt.block_on(warm.pull_pinned(&by_digest))
        .expect("warm the digest");

    registry.stop();

    // A tag: the HEAD fails, the disk copy is served (with a warning).
    let store = cached(dir.path());
    let served = rt
        .block_on(store.pull_pinned(&tag))
        .expect("served from disk");
    assert_eq!(served.digest, digest);
    assert_eq!(served.bundle, original);
    assert_eq!(
        rt.block_on(cached(dir.path()).resolve(&tag))
            .expect("resolve from disk"),
        digest
    );
    // A digest: no network needed at all.
    let pinned = rt
        .block_on(cached(dir.path()).pull_pinned(&by_digest))
        .expect("digest");
    assert_eq!(pinned.bundle, original);
    // Local-only reads.
    let local = cached(dir.path());
    assert_eq!(
        rt.block_on(local.pull_local(&tag))
            .expect("local")
            .map(|p| p.digest),
        Some(digest.clone())
    );
    assert_eq!(
        rt.block_on(local.local_tags(&tag.repository()))
            .expect("local tags"),
        ["1.2.0"],
        "only what is cached"
    );
    assert!(
        rt.block_on(local.pull_local(&uncached))
            .expect("local miss")
            .is_none()
    );

    // Not cached: unreachable.
    let error = rt
        .block_on(cached(dir.path()).pull_pinned(&uncached))
        .expect_err("not cached");
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    // Go's --no-cache: the disk is not read, so even the cached tag is unreachable.
    let cold = cached(dir.path());
    cold.disable_cache();
    let error = rt.block_on(cold.pull_pinned(&tag)).expect_err("cold read");
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    assert!(
        rt.block_on(cold.pull_local(&tag)).expect("local").is_none(),
        "disk reads are off"
    );
    assert!(
        rt.block_on(cold.local_tags(&tag.repository()))
            .expect("tags")
            .is_empty()
    );

    // Back up: revalidation resumes.
    registry.restart();
    registry.clear_requests();
    assert_eq!(
        rt.block_on(cached(dir.path()).pull_pinned(&tag))
            .expect("pull")
            .digest,
        digest
    );
    assert_eq!(registry.requests().len(), 1, "one HEAD");
}

#[test]
fn local_entry_points_never_call_the_inner_store() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = reference("registry.example/team/svc:2.0.0");
    let digest_ref;
    {
        // Fill the cache through a store that has the artifact.
        let source = MapStore::default();
        let pulled = rt.block_on(pulled_for(&bundle("svc", "2.0.0")));
        digest_ref = tag.with_digest(&pulled.digest);
        source.insert(&tag, pulled.clone());
        source.insert(&digest_ref, pulled);
        let filler = CachedStore::new(source, CacheConfig::default().with_dir(dir.path()));
        rt.block_on(filler.pull_pinned(&tag)).expect("fill tag");
        rt.block_on(filler.pull_pinned(&digest_ref))
            .expect("fill digest");
    }
    let empty = MapStore::default();
    let store = CachedStore::new(empty, CacheConfig::default().with_dir(dir.path()));
    let hit = rt
        .block_on(store.pull_local(&tag))
        .expect("local")
        .expect("hit");
    assert_eq!(hit.bundle.version(), "2.0.0");
    assert!(
        rt.block_on(store.pull_local(&digest_ref))
            .expect("local")
            .is_some()
    );
    assert!(
        rt.block_on(store.pull_local(&tag.with_tag("9.9.9")))
            .expect("local")
            .is_none()
    );
    assert_eq!(
        rt.block_on(store.local_tags(&tag)).expect("tags"),
        ["2.0.0"]
    );
    assert_eq!(
        rt.block_on(store.resolve(&digest_ref))
            .expect("digest resolve"),
        hit.digest
    );
    assert_eq!(
        rt.block_on(store.pull_pinned(&digest_ref))
            .expect("digest pull")
            .digest,
        hit.digest
    );
    let untagged = rt
        .block_on(store.pull_local(&tag.repository()))
        .expect_err("untagged");
    assert_eq!(untagged.kind(), ErrorKind::InvalidReference);
    assert_eq!(store.inner().calls(), 0, "nothing reached the inner store");
}

#[test]
fn a_cancelled_pull_caches_nothing() {
    let registry = TestRegistry::plain();
    let proxy = pacto_test_support::FaultProxy::in_front_of(&registry);
    let rt = runtime();
    push(
        &rt,
        &registry,
        "team/slow",
        "1.0.0",
        &bundle("slow", "1.0.0"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = reference(&format!("{}/team/slow:1.0.0", proxy.host()));
    let store = cached(dir.path());
    // The layer download never answers; the caller gives up (drops the pull).
    proxy.inject_matching(
        pacto_test_support::RequestMatch::method("GET").with_path("/blobs/"),
        pacto_test_support::Fault::Stall { times: 1 },
    );
    let outcome = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(300), store.pull_pinned(&tag)).await
    });
    assert!(outcome.is_err(), "the pull was cancelled by the timeout");
    assert!(rt.block_on(store.entries()).expect("entries").is_empty());
    assert!(
        crate::common::files_under(dir.path())
            .iter()
            .all(|f| !f.starts_with("v1/refs")),
        "no record"
    );
    assert!(
        rt.block_on(store.pull_local(&tag))
            .expect("local")
            .is_none()
    );
    // And the next pull works and caches.
    proxy.clear_faults();
    rt.block_on(store.pull_pinned(&tag)).expect("pull");
    assert_eq!(rt.block_on(store.entries()).expect("entries").len(), 1);
}
