//! `LocalOnly`: the cache and nothing else, proven with a store that fails (and counts) any
//! network call and with the registry process stopped.

use crate::common::{
    FixedStore, NoNetwork, bundle, expect_kind, pulled_for, push, resolver, runtime,
};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_resolver::{ErrorKind, ResolveError, ResolveMode, Resolver};
use pacto_test_support::TestRegistry;

const LOCAL: ResolveMode = ResolveMode::LocalOnly;
const REMOTE: ResolveMode = ResolveMode::RemoteAllowed;

#[test]
fn local_only_resolves_from_the_cache_without_any_network_call() {
    let mut registry = TestRegistry::plain();
    let rt = runtime();
    let mut digests = std::collections::HashMap::new();
    for tag in ["1.0.0", "1.1.0", "2.0.0-rc.1", "3.0.0"] {
        digests.insert(
            tag,
            push(&rt, &registry, "team/offline", tag, &bundle("offline", tag)),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = format!("{}/team/offline", registry.host());
    {
        // Warm everything but 3.0.0, plus one digest reference.
        let warm = resolver(dir.path());
        for tag in ["1.0.0", "1.1.0", "2.0.0-rc.1"] {
            rt.block_on(warm.resolve(&format!("{repo}:{tag}"), REMOTE))
                .expect("warm");
        }
        rt.block_on(warm.resolve(&format!("{repo}@{}", digests["1.0.0"]), REMOTE))
            .expect("warm digest");
    }

    let offline = Resolver::new(CachedStore::new(
        NoNetwork::default(),
        CacheConfig::default().with_dir(dir.path()),
    ));
    // (reference, constraint, chosen tag)
    let cases = [
        (repo.clone(), "", "2.0.0-rc.1"),
        (format!("oci://{repo}"), "^1", "1.1.0"),
        (repo.clone(), "<1.1", "1.0.0"),
        (format!("{repo}:1.0.0"), "^9", "1.0.0"),
    ];
    for (reference, constraint, tag) in &cases {
        let resolved = rt
            .block_on(offline.resolve_pinned(reference, constraint, LOCAL))
            .unwrap_or_else(|e| panic!("{reference} {constraint:?}: {e}"));
        assert_eq!(resolved.reference.tag(), Some(*tag));
        assert_eq!(resolved.digest, digests[tag]);
        assert_eq!(resolved.bundle.version(), *tag);
    }
    let pinned = rt
        .block_on(offline.resolve_pinned(&format!("{repo}@{}", digests["1.0.0"]), "", LOCAL))
        .expect("cached digest");
    assert_eq!(pinned.bundle.version(), "1.0.0");

    // Misses are not-found; selection errors keep their kinds.
    let miss = expect_kind(
        rt.block_on(offline.resolve(&format!("{repo}:3.0.0"), LOCAL)),
        ErrorKind::NotFound,
    );
    assert!(matches!(miss, ResolveError::NotFound { .. }), "{miss:?}");
    expect_kind(
        rt.block_on(offline.resolve(&format!("{repo}@{}", digests["3.0.0"]), LOCAL)),
        ErrorKind::NotFound,
    );
    expect_kind(
        rt.block_on(offline.resolve(&format!("{}/team/never", registry.host()), LOCAL)),
        ErrorKind::NotFound,
    );
    let no_match = expect_kind(
        rt.block_on(offline.resolve_pinned(&repo, "^3", LOCAL)),
        ErrorKind::NoMatchingVersion,
    );
    assert!(
        no_match.available() == ["2.0.0-rc.1", "1.1.0", "1.0.0"],
        "only cached versions are offered: {no_match:?}"
    );
    expect_kind(
        rt.block_on(offline.resolve_pinned(&repo, "=>>1", LOCAL)),
        ErrorKind::InvalidConstraint,
    );
    assert_eq!(
        offline.cache().inner().calls(),
        0,
        "LocalOnly made no network call"
    );

    // The same with the registry process stopped and a real client.
    registry.stop();
    let stopped = resolver(dir.path());
    let resolved = rt
        .block_on(stopped.resolve_pinned(&repo, "", LOCAL))
        .expect("offline with the registry stopped");
    assert_eq!(resolved.reference.tag(), Some("2.0.0-rc.1"));
    expect_kind(
        rt.block_on(stopped.resolve(&format!("{repo}:3.0.0"), LOCAL)),
        ErrorKind::NotFound,
    );
    // RemoteAllowed with the registry stopped: untagged needs the tag list, so unreachable.
    expect_kind(
        rt.block_on(stopped.resolve(&repo, REMOTE)),
        ErrorKind::Unreachable,
    );
}

#[test]
fn local_only_skips_a_corrupt_best_version_for_the_next_best() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = "registry.example/team/skip";
    let source = FixedStore::default();
    let mut layers = Vec::new();
    for tag in ["1.0.0", "1.1.0"] {
        let pulled = rt.block_on(pulled_for(&bundle("skip", tag)));
        layers.push((pulled.layer_digest.clone(), pulled.layer_size));
        source.insert(&format!("{repo}:{tag}"), pulled);
    }
    let filler = Resolver::new(CachedStore::new(
        source,
        CacheConfig::default().with_dir(dir.path()),
    ));
    let fetched = rt
        .block_on(filler.fetch_all_versions(repo))
        .expect("fill the cache");
    assert_eq!(fetched.versions, ["1.1.0", "1.0.0"]);

    // Damage 1.1.0's layer, keeping its size so that a listing still sees it complete.
    let (layer_digest, layer_size) = &layers[1];
    let layer = dir.path().join("v1/blobs/sha256").join(layer_digest.hex());
    let damage = || {
        std::fs::write(
            &layer,
            vec![0u8; usize::try_from(*layer_size).expect("small")],
        )
        .expect("corrupt")
    };
    damage();
    let offline = Resolver::new(CachedStore::new(
        NoNetwork::default(),
        CacheConfig::default().with_dir(dir.path()),
    ));
    let resolved = rt
        .block_on(offline.resolve_pinned(repo, "", LOCAL))
        .expect("next best");
    assert_eq!(resolved.reference.tag(), Some("1.0.0"));
    // The read removed the corrupt layer, so 1.1.0 is no longer offered at all.
    let gone = expect_kind(
        rt.block_on(offline.resolve_pinned(repo, "^1.1", LOCAL)),
        ErrorKind::NoMatchingVersion,
    );
    assert!(gone.available() == ["1.0.0"], "{gone:?}");
    // Damage it again: listed, unreadable, so not found, naming it.
    damage();
    let error = expect_kind(
        rt.block_on(offline.resolve_pinned(repo, "^1.1", LOCAL)),
        ErrorKind::NotFound,
    );
    assert!(error.to_string().contains("1.1.0"), "{error}");
    assert_eq!(offline.cache().inner().calls(), 0);
}
