//! `fetch_all_versions`: every semver version into the cache, in parallel, failures reported.

use crate::common::{
    FixedStore, bundle, expect_kind, pulled_for, push, resolver, runtime, summary,
};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_resolver::{DEFAULT_CONCURRENCY, ErrorKind, ResolveError, ResolveMode, Resolver};
use pacto_test_support::TestRegistry;

#[test]
fn fetches_every_version_newest_first_and_reports_the_ones_that_fail() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let tags = ["1.0.0", "1.1.0", "1.2.0-beta.1", "2.0.0", "v2.1.0"];
    let mut broken_layer = String::new();
    for tag in tags {
        let version = tag.trim_start_matches('v');
        let bundle = bundle("fetch", version);
        push(&rt, &registry, "team/fetch", tag, &bundle);
        if tag == "2.0.0" {
            broken_layer = rt.block_on(pulled_for(&bundle)).layer_digest.to_string();
        }
    }
    push(
        &rt,
        &registry,
        "team/fetch",
        "latest",
        &bundle("fetch", "9.9.9"),
    );
    // The registry now serves bytes that do not match 2.0.0's layer digest.
    std::fs::write(registry.blob_path(&broken_layer), b"not the layer").expect("corrupt");

    let dir = tempfile::tempdir().expect("tempdir");
    let resolver = resolver(dir.path());
    let repo = format!("{}/team/fetch", registry.host());
    let fetched = rt
        .block_on(resolver.fetch_all_versions(&repo))
        .expect("listing works");
    assert_eq!(
        fetched.versions,
        ["v2.1.0", "1.2.0-beta.1", "1.1.0", "1.0.0"]
    );
    assert_eq!(fetched.failed.len(), 1);
    assert_eq!(fetched.failed[0].tag, "2.0.0");
    assert_eq!(fetched.failed[0].error.kind(), ErrorKind::InvalidBundle);
    assert!(matches!(fetched.failed[0].error, ResolveError::Store(_)));

    // Everything fetched is in the cache, and offline resolution sees it.
    let cached: Vec<String> = rt
        .block_on(resolver.cache().entries())
        .expect("entries")
        .into_iter()
        .map(|e| e.reference)
        .collect();
    assert_eq!(cached.len(), 4, "{cached:?}");
    let offline = Resolver::new(CachedStore::new(
        crate::common::NoNetwork::default(),
        CacheConfig::default().with_dir(dir.path()),
    ));
    let best = rt
        .block_on(offline.resolve_pinned(&repo, "^2", ResolveMode::LocalOnly))
        .expect("offline");
    assert_eq!(best.reference.tag(), Some("v2.1.0"));

    // Again from a new process: one HEAD per cached version, the broken one retried.
    let again = crate::common::resolver(dir.path());
    registry.clear_requests();
    let fetched = rt.block_on(again.fetch_all_versions(&repo)).expect("again");
    assert_eq!(fetched.versions.len(), 4);
    assert_eq!(fetched.failed.len(), 1);
    let mut requests = summary(&registry.requests());
    requests.sort();
    assert_eq!(
        requests,
        [
            "GET /v2/team/fetch/blobs/sha256:<d> 200",
            "GET /v2/team/fetch/manifests/2.0.0 200",
            "GET /v2/team/fetch/tags/list 200",
            "HEAD /v2/team/fetch/manifests/1.0.0 200",
            "HEAD /v2/team/fetch/manifests/1.1.0 200",
            "HEAD /v2/team/fetch/manifests/1.2.0-beta.1 200",
            "HEAD /v2/team/fetch/manifests/v2.1.0 200",
        ]
    );

    // A listing failure is an error.
    expect_kind(
        rt.block_on(resolver.fetch_all_versions(&format!("{}/team/none", registry.host()))),
        ErrorKind::NotFound,
    );
}

#[test]
fn at_most_the_configured_number_of_pulls_run_at_once() {
    let rt = runtime();
    let repo = "registry.example/team/many";
    let pulled = rt.block_on(pulled_for(&bundle("many", "1.0.0")));
    // (concurrency setting, expected maximum in flight)
    let cases = [
        (None, DEFAULT_CONCURRENCY),
        (Some(3), 3),
        (Some(1), 1),
        (Some(0), 1),
    ];
    for (setting, expected) in cases {
        // Held until `expected` pulls are in flight: what the cache does before it calls the
        // store (a scratch directory on the blocking pool) takes its own time per pull.
        let store = FixedStore::holding(expected);
        for i in 0..20 {
            store.insert(&format!("{repo}:1.{i}.0"), pulled.clone());
        }
        let cache = CachedStore::new(store, CacheConfig::default().memory_only());
        let mut resolver = Resolver::new(cache);
        if let Some(n) = setting {
            resolver = resolver.with_concurrency(n);
        }
        assert_eq!(resolver.concurrency(), expected);
        let fetched = rt
            .block_on(resolver.fetch_all_versions(repo))
            .expect("fetch");
        assert_eq!(fetched.versions.len(), 20);
        assert_eq!(fetched.versions[0], "1.19.0", "newest first");
        assert!(fetched.failed.is_empty());
        assert_eq!(
            resolver.cache().inner().max_in_flight(),
            expected,
            "concurrency {setting:?}"
        );
    }
}

#[test]
fn a_progress_observer_sees_the_total_then_each_version() {
    use pacto_registry::{Progress, ProgressEvent};
    use std::sync::{Arc, Mutex};
    let rt = runtime();
    let repo = "registry.example/team/watched";
    let pulled = rt.block_on(pulled_for(&bundle("watched", "1.0.0")));
    let store = FixedStore::default();
    for i in 0..5 {
        store.insert(&format!("{repo}:1.{i}.0"), pulled.clone());
    }
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let resolver = Resolver::new(CachedStore::new(
        store,
        CacheConfig::default().memory_only(),
    ))
    .with_concurrency(2)
    .with_progress(Progress::new(move |event| {
        sink.lock().unwrap().push(event.clone());
    }));
    let fetched = rt
        .block_on(resolver.fetch_all_versions(repo))
        .expect("fetch");
    assert_eq!(fetched.versions.len(), 5);
    let events = events.lock().unwrap();
    assert_eq!(events[0], ProgressEvent::VersionsStarted { total: 5 });
    let mut done: Vec<String> = events[1..]
        .iter()
        .map(|event| match event {
            ProgressEvent::VersionDone { tag, ok: true } => tag.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    done.sort();
    assert_eq!(done, ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]);
}
