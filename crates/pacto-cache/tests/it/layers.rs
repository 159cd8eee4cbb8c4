//! Layers as files ([`CachedStore::layer_file`]): the streaming side of the cache keeps the
//! same rules and request counts as `pull_pinned`, shares its disk entries, re-hashes what
//! it serves, and leaves no scratch file behind. Counted in the registry's access log.

use crate::common::{blob_path, bundle_with, cached, client, push, reference, runtime, summary};
use pacto_cache::{CacheConfig, CachedStore, LayerFile};
use pacto_contract::Bundle;
use pacto_registry::{AnyStore, BundleStore, ErrorKind, LayoutStore, RegistryClient};
use pacto_test_support::TestRegistry;

/// The bundle `layer` unpacks to, read through its verifying reader.
fn unpacked(rt: &tokio::runtime::Runtime, layer: &LayerFile) -> Bundle {
    assert_eq!(
        std::fs::metadata(layer.path()).expect("layer file").len(),
        layer.layer_size
    );
    rt.block_on(async {
        let reader = layer.open().await.expect("open the layer");
        pacto_archive::unpack(reader, &pacto_archive::Limits::default())
            .await
            .expect("the layer unpacks")
    })
}

/// The layer file for `reference`, checked to unpack to a valid bundle, then committed (a
/// fresh one enters the cache) as a caller that unpacked it does; returns a handle that
/// still points at the layer (the committed one may have moved).
fn layer_file(
    rt: &tokio::runtime::Runtime,
    store: &CachedStore<RegistryClient>,
    reference: &pacto_ref::ArtifactRef,
) -> LayerFile {
    let layer = rt
        .block_on(store.layer_file(reference))
        .expect("layer file");
    if !layer.is_pending() {
        return layer;
    }
    unpacked(rt, &layer);
    rt.block_on(layer.clone().commit()).expect("commit");
    if !store.reads_disk() {
        // The handle's file moved into the cache, which this store does not read.
        return layer;
    }
    rt.block_on(store.layer_file_local(reference))
        .expect("local")
        .expect("committed: cached")
}

#[test]
fn layer_files_follow_the_cache_rules_and_counts_of_pulls() {
    let mut registry = TestRegistry::plain();
    let rt = runtime();
    // Over one 256 KiB hashing step, so the re-hash of a cached layer takes several.
    let original = bundle_with("layers", "1.0.0", 600 * 1024);
    let digest = push(&rt, &registry, "team/layers", "1.0.0", &original);
    let host = registry.host();
    let tag = reference(&format!("{host}/team/layers:1.0.0"));
    let by_digest = reference(&format!("{host}/team/layers@{digest}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let get = [
        "GET /v2/team/layers/manifests/1.0.0 200",
        "GET /v2/team/layers/blobs/sha256:<d> 200",
    ];
    let head = ["HEAD /v2/team/layers/manifests/1.0.0 200"];
    let none: [&str; 0] = [];

    // (what, store over the cache directory, reference, requests expected)
    let steps: [(&str, CachedStore<RegistryClient>, &_, &[&str]); 4] = [
        (
            "cold tag: manifest and layer",
            cached(dir.path()),
            &tag,
            &get,
        ),
        (
            "warm tag, new store: one HEAD",
            cached(dir.path()),
            &tag,
            &head,
        ),
        (
            "digest cached under the tag: nothing",
            cached(dir.path()),
            &by_digest,
            &none,
        ),
        (
            "digest, again: nothing",
            cached(dir.path()),
            &by_digest,
            &none,
        ),
    ];
    // Fetched, not committed (its bundle was refused, say): nothing enters the cache.
    let uncommitted = rt
        .block_on(cached(dir.path()).layer_file(&tag))
        .expect("layer file");
    assert!(uncommitted.is_pending());
    assert_eq!(unpacked(&rt, &uncommitted), original);
    drop(uncommitted);
    let left: Vec<_> = crate::common::files_under(dir.path())
        .into_iter()
        .filter(|path| !path.starts_with("v1/tmp"))
        .collect();
    assert_eq!(left, Vec::<std::path::PathBuf>::new(), "nothing cached");
    assert_eq!(
        crate::common::files_under(&dir.path().join("v1/tmp")),
        Vec::<std::path::PathBuf>::new(),
        "the scratch directory went with the handle"
    );

    let mut first_path = None;
    for (what, store, reference, expected) in steps {
        registry.clear_requests();
        let layer = layer_file(&rt, &store, reference);
        assert_eq!(summary(&registry.requests()), expected, "{what}");
        assert_eq!(layer.digest, digest, "{what}");
        assert_eq!(unpacked(&rt, &layer), original, "{what}");
        assert!(layer.path().starts_with(dir.path()), "{what}: in the cache");
        first_path.get_or_insert_with(|| layer.path().to_owned());
        assert_eq!(Some(layer.path()), first_path.as_deref(), "{what}");
    }

    // What the streaming side cached, the in-memory side serves: one HEAD, no download.
    let store = cached(dir.path());
    registry.clear_requests();
    let pulled = rt.block_on(store.pull_pinned(&tag)).expect("pull");
    assert_eq!(pulled.bundle, original);
    assert_eq!(summary(&registry.requests()), head);

    // A damaged cached layer is a miss: removed, fetched again, served.
    let layer_path = blob_path(dir.path(), &pulled.layer_digest);
    let mut bytes = std::fs::read(&layer_path).expect("cached layer");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&layer_path, bytes).expect("damage it");
    let store = cached(dir.path());
    registry.clear_requests();
    let layer = layer_file(&rt, &store, &tag);
    assert_eq!(
        summary(&registry.requests()),
        ["HEAD /v2/team/layers/manifests/1.0.0 200", get[0], get[1]]
    );
    assert_eq!(unpacked(&rt, &layer), original);

    // Offline: served from disk without a request; a miss is `None`.
    registry.stop();
    let store = cached(dir.path());
    let local = rt
        .block_on(store.layer_file_local(&tag))
        .expect("local")
        .expect("cached");
    assert_eq!(unpacked(&rt, &local), original);
    let missing = reference(&format!("{host}/team/layers:9.9.9"));
    assert!(
        rt.block_on(store.layer_file_local(&missing))
            .expect("local")
            .is_none()
    );
    let cold = CachedStore::new(client(), CacheConfig::default().memory_only());
    let error = rt.block_on(cold.layer_file(&tag)).expect_err("stopped");
    assert_eq!(error.kind(), ErrorKind::Unreachable);
}

#[test]
fn uncached_layers_live_in_scratch_directories_that_go_with_the_last_handle() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle_with("scratch", "1.0.0", 64 * 1024);
    push(&rt, &registry, "team/scratch", "1.0.0", &original);
    let tag = reference(&format!("{}/team/scratch:1.0.0", registry.host()));

    // No cache directory: a scratch directory in the system's temporary directory.
    let memory = CachedStore::new(client(), CacheConfig::default().memory_only());
    let layer = layer_file(&rt, &memory, &tag);
    let clone = layer.clone();
    drop(layer);
    assert!(
        clone.path().is_file(),
        "a clone keeps the scratch directory"
    );
    assert_eq!(unpacked(&rt, &clone), original);
    let scratch = clone.path().parent().expect("scratch dir").to_owned();
    drop(clone);
    assert!(!scratch.exists(), "removed with the last handle");

    // Disabled disk reads (--no-cache): fetched again although the disk holds it, and
    // written: a normal store then serves it with one HEAD.
    let dir = tempfile::tempdir().expect("tempdir");
    layer_file(&rt, &cached(dir.path()), &tag);
    let store = cached(dir.path());
    store.disable_cache();
    registry.clear_requests();
    layer_file(&rt, &store, &tag);
    assert_eq!(
        summary(&registry.requests()),
        [
            "GET /v2/team/scratch/manifests/1.0.0 200",
            "GET /v2/team/scratch/blobs/sha256:<d> 200"
        ]
    );
    registry.clear_requests();
    layer_file(&rt, &cached(dir.path()), &tag);
    assert_eq!(summary(&registry.requests()).len(), 1, "one HEAD");

    // A layout reference is never cached: a scratch copy under the cache's tmp directory.
    let layout = tempfile::tempdir().expect("layout");
    let layout_ref = reference(&format!("oci-layout:{}:1.0.0", layout.path().display()));
    rt.block_on(LayoutStore::new().push(&layout_ref, &original, Default::default()))
        .expect("layout push");
    let store = CachedStore::new(
        AnyStore::new(client()),
        CacheConfig::default().with_dir(dir.path()),
    );
    let layer = rt
        .block_on(store.layer_file(&layout_ref))
        .expect("layer file");
    assert!(layer.path().starts_with(dir.path().join("v1/tmp")));
    assert_eq!(unpacked(&rt, &layer), original);
    let scratch = layer.path().parent().expect("scratch").to_owned();
    drop(layer);
    assert!(!scratch.exists());
}
