//! Cold and warm pulls, counted in the registry's access log.

use crate::common::{bundle, cached, client, push, reference, runtime, summary};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_registry::{BundleStore, ErrorKind, PackedLayerFile, PushOptions, PushStatus};
use pacto_test_support::TestRegistry;

#[test]
fn cold_then_warm_costs_two_requests_then_none_then_one_head() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle("payments", "1.0.0");
    let digest = push(&rt, &registry, "team/payments", "1.0.0", &original);
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let by_digest = reference(&format!("{}/team/payments@{digest}", registry.host()));

    // Cold: one pull.
    let store = cached(dir.path());
    registry.clear_requests();
    let cold = rt.block_on(store.pull_pinned(&tag)).expect("cold pull");
    assert_eq!(cold.digest, digest);
    assert_eq!(cold.bundle.files(), original.files());
    assert_eq!(
        summary(&registry.requests()),
        [
            "GET /v2/team/payments/manifests/1.0.0 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200"
        ]
    );

    // Warm, same store: memory, no request, also for resolve.
    registry.clear_requests();
    let warm = rt.block_on(store.pull_pinned(&tag)).expect("memory hit");
    assert_eq!(warm.digest, digest);
    assert_eq!(rt.block_on(store.resolve(&tag)).expect("resolve"), digest);
    assert_eq!(
        summary(&registry.requests()),
        Vec::<String>::new(),
        "memory hits cost nothing"
    );

    // Warm tag, new store over the same directory (a new process): one HEAD, no download.
    let store = cached(dir.path());
    registry.clear_requests();
    let disk = rt.block_on(store.pull_pinned(&tag)).expect("disk hit");
    assert_eq!(disk.digest, digest);
    assert_eq!(disk.bundle, original);
    assert_eq!(
        disk.manifest, cold.manifest,
        "the original manifest bytes are kept"
    );
    assert_eq!(
        (&disk.layer_digest, disk.layer_size),
        (&cold.layer_digest, cold.layer_size),
        "the original layer is kept"
    );
    assert_eq!(
        summary(&registry.requests()),
        ["HEAD /v2/team/payments/manifests/1.0.0 200"]
    );

    // Warm digest, new store: no request at all, even though only the tag was pulled
    // before (the blobs are content-addressed and re-hashed).
    let store = cached(dir.path());
    registry.clear_requests();
    let pinned = rt
        .block_on(store.pull_pinned(&by_digest))
        .expect("digest disk hit");
    assert_eq!(pinned.digest, digest);
    assert_eq!(pinned.bundle, original);
    assert_eq!(
        rt.block_on(store.resolve(&by_digest))
            .expect("resolve digest"),
        digest
    );
    assert_eq!(
        summary(&registry.requests()),
        Vec::<String>::new(),
        "a cached digest never needs the network"
    );

    // What is on disk.
    let entries = rt.block_on(store.entries()).expect("entries");
    let listed: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.reference.as_str(), e.digest.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                format!("{}/team/payments:1.0.0", registry.host()).as_str(),
                digest.as_str()
            ),
            (
                format!("{}/team/payments@{digest}", registry.host()).as_str(),
                digest.as_str()
            ),
        ]
    );
    assert_eq!(
        entries[0].size,
        cold.manifest.len() as u64 + cold.layer_size
    );
    assert_eq!(store.cache_dir(), Some(dir.path()));
}

#[test]
fn a_moved_tag_is_pulled_again_and_a_push_through_the_cache_invalidates_it() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let first = bundle("payments", "1.0.0");
    let second = bundle("payments", "1.0.1");
    let first_digest = push(&rt, &registry, "team/payments", "stable", &first);
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = reference(&format!("{}/team/payments:stable", registry.host()));

    let early = cached(dir.path());
    assert_eq!(
        rt.block_on(early.pull_pinned(&tag)).expect("pull").digest,
        first_digest
    );

    // The tag moves behind the cache's back.
    let second_digest = push(&rt, &registry, "team/payments", "stable", &second);
    assert_ne!(first_digest, second_digest);

    // A new store revalidates: HEAD sees the new digest, the new artifact is pulled.
    let store = cached(dir.path());
    registry.clear_requests();
    let moved = rt
        .block_on(store.pull_pinned(&tag))
        .expect("pull moved tag");
    assert_eq!(moved.digest, second_digest);
    assert_eq!(moved.bundle, second);
    assert_eq!(
        summary(&registry.requests()),
        [
            "HEAD /v2/team/payments/manifests/stable 200",
            "GET /v2/team/payments/manifests/stable 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200",
        ]
    );
    let entries = rt.block_on(store.entries()).expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].digest, second_digest,
        "the record follows the tag"
    );

    // The early store revalidated this tag once in its lifetime and keeps its answer.
    registry.clear_requests();
    assert_eq!(
        rt.block_on(early.pull_pinned(&tag)).expect("memory").digest,
        first_digest
    );
    assert!(registry.requests().is_empty());

    // Moving the tag back to a manifest the disk already holds costs the HEAD only.
    let other_tag = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    push(&rt, &registry, "team/payments", "1.0.0", &first);
    rt.block_on(cached(dir.path()).pull_pinned(&other_tag))
        .expect("cache 1.0.0");
    push(&rt, &registry, "team/payments", "stable", &first);
    let store = cached(dir.path());
    registry.clear_requests();
    let back = rt.block_on(store.pull_pinned(&tag)).expect("pull");
    assert_eq!(back.digest, first_digest);
    assert_eq!(
        summary(&registry.requests()),
        ["HEAD /v2/team/payments/manifests/stable 200"]
    );

    // A push through the cache makes it forget the tag (and the tag list).
    assert_eq!(rt.block_on(store.list_tags(&tag)).expect("tags").len(), 2);
    let pushed = rt
        .block_on(store.push(&tag, &second, PushOptions::default().with_force(true)))
        .expect("push through the cache");
    assert_eq!(pushed.status, PushStatus::Overwritten);
    registry.clear_requests();
    let after = rt
        .block_on(store.pull_pinned(&tag))
        .expect("pull after push");
    assert_eq!(after.digest, second_digest);
    assert_eq!(
        summary(&registry.requests()),
        [
            "GET /v2/team/payments/manifests/stable 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200",
        ],
        "the pushed tag's record was dropped, so this is a plain pull"
    );
}

/// A layer file pushed through the cache ([`BundleStore::push_layer_file`]) makes it forget
/// the tag and the tag list, as a push of the bundle does.
#[test]
fn a_layer_file_pushed_through_the_cache_is_recorded_as_the_tag_and_drops_the_tag_list() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let first = bundle("payments", "1.0.0");
    let second = bundle("payments", "1.0.1");
    let first_digest = push(&rt, &registry, "team/layered", "stable", &first);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = cached(dir.path());
    let tag = reference(&format!("{}/team/layered:stable", registry.host()));
    let pulled = rt.block_on(store.pull_pinned(&tag)).expect("pull");
    assert_eq!(pulled.digest, first_digest);
    assert_eq!(
        rt.block_on(store.list_tags(&tag)).expect("tags"),
        ["stable"]
    );

    let limits = pacto_archive::Limits::default();
    let path = dir.path().join("layer.tar.gz");
    let info = rt
        .block_on(pacto_archive::pack_to_file(&second, &path, &limits))
        .expect("pack");
    let file = PackedLayerFile::new(path, info, second.contract().clone(), limits);
    let versioned = reference(&format!("{}/team/layered", registry.host()));
    rt.block_on(store.push_layer_file(&versioned, &file, PushOptions::default()))
        .expect("push the version");
    let pushed = rt
        .block_on(store.push_layer_file(&tag, &file, PushOptions::default().with_force(true)))
        .expect("push through the cache");
    assert_eq!(pushed.status, PushStatus::Overwritten);
    registry.clear_requests();
    let after = rt
        .block_on(store.pull_pinned(&tag))
        .expect("pull after push");
    assert_eq!(after.digest, pushed.digest);
    assert_eq!(after.bundle, second);
    assert_eq!(
        summary(&registry.requests()),
        ["HEAD /v2/team/layered/manifests/stable 200"],
        "the pushed tag was recorded with its layer: a pull of it is one HEAD"
    );
    let mut tags = rt.block_on(store.list_tags(&tag)).expect("tags");
    tags.sort();
    assert_eq!(tags, ["1.0.1", "stable"], "the tag list was dropped too");
}

#[test]
fn tag_lists_are_cached_for_the_store_lifetime_and_errors_are_not() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = cached(dir.path());
    let repository = reference(&format!("{}/team/lister", registry.host()));

    registry.clear_requests();
    let missing = rt
        .block_on(store.list_tags(&repository))
        .expect_err("no such repository");
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    push(
        &rt,
        &registry,
        "team/lister",
        "1.0.0",
        &bundle("lister", "1.0.0"),
    );
    push(
        &rt,
        &registry,
        "team/lister",
        "latest",
        &bundle("lister", "1.0.0"),
    );
    registry.clear_requests();
    let mut tags = rt
        .block_on(store.list_tags(&repository))
        .expect("listed once the error is forgotten");
    tags.sort();
    assert_eq!(tags, ["1.0.0", "latest"]);
    let again = rt
        .block_on(store.list_tags(&repository.with_tag("whatever")))
        .expect("cached");
    assert_eq!(again.len(), 2);
    assert_eq!(
        summary(&registry.requests()),
        ["GET /v2/team/lister/tags/list 200"]
    );
}

#[test]
fn memory_only_and_disable_cache() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let digest = push(&rt, &registry, "team/mem", "1.0.0", &bundle("mem", "1.0.0"));
    let tag = reference(&format!("{}/team/mem:1.0.0", registry.host()));

    // Memory only: no directory, second pull free.
    let memory = CachedStore::new(client(), CacheConfig::default().memory_only());
    assert_eq!(memory.cache_dir(), None);
    assert!(!memory.reads_disk());
    registry.clear_requests();
    rt.block_on(memory.pull_pinned(&tag)).expect("pull");
    rt.block_on(memory.pull_pinned(&tag)).expect("pull again");
    assert_eq!(registry.requests().len(), 2, "one pull, then memory");
    assert!(rt.block_on(memory.entries()).expect("entries").is_empty());

    // A zero memory budget keeps nothing in memory; the disk still serves.
    let dir = tempfile::tempdir().expect("tempdir");
    let no_memory = CachedStore::new(
        client(),
        CacheConfig::default()
            .with_dir(dir.path())
            .with_memory_budget(0),
    );
    rt.block_on(no_memory.pull_pinned(&tag)).expect("pull");
    registry.clear_requests();
    rt.block_on(no_memory.pull_pinned(&tag))
        .expect("pull again");
    assert_eq!(
        summary(&registry.requests()),
        Vec::<String>::new(),
        "known tag, served from disk by digest"
    );

    // Disable cache (Go --no-cache): the warm disk is not read, but it is written.
    let store = cached(dir.path());
    store.disable_cache();
    assert!(!store.reads_disk());
    registry.clear_requests();
    let cold = rt
        .block_on(store.pull_pinned(&tag))
        .expect("pull without reading the disk");
    assert_eq!(cold.digest, digest);
    assert_eq!(
        summary(&registry.requests()),
        [
            "GET /v2/team/mem/manifests/1.0.0 200",
            "GET /v2/team/mem/blobs/sha256:<d> 200"
        ],
        "no HEAD: the disk record was not even read"
    );
    assert_eq!(
        rt.block_on(store.pull_local(&tag))
            .expect("local")
            .map(|p| p.digest),
        Some(digest.clone()),
        "memory still works"
    );
    // Writes continued: a normal store finds the entry.
    let later = cached(dir.path());
    registry.clear_requests();
    assert_eq!(
        rt.block_on(later.pull_local(&tag))
            .expect("local")
            .map(|p| p.digest),
        Some(digest)
    );
    assert!(registry.requests().is_empty());
}
