//! Listing, pruning to a byte budget (least recently used first) and clearing.

use crate::common::{blob_path, bundle_with, cached, files_under, push, reference, runtime};
use pacto_registry::BundleStore;
use pacto_test_support::TestRegistry;

#[test]
fn prune_removes_least_recently_used_entries_down_to_the_budget() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let versions = ["1.0.0", "2.0.0", "3.0.0"];
    let mut pulled = Vec::new();
    for version in versions {
        push(
            &rt,
            &registry,
            "team/prune",
            version,
            &bundle_with("prune", version, 64 * 1024),
        );
        let tag = reference(&format!("{}/team/prune:{version}", registry.host()));
        pulled.push(
            rt.block_on(cached(dir.path()).pull_pinned(&tag))
                .expect("pull"),
        );
    }
    let size = |i: usize| pulled[i].manifest.len() as u64 + pulled[i].layer_size;
    let store = cached(dir.path());
    let entries = rt.block_on(store.entries()).expect("entries");
    assert_eq!(
        entries.iter().map(|e| e.size).collect::<Vec<_>>(),
        [size(0), size(1), size(2)]
    );

    // Use 1.0.0 again: 2.0.0 is now the least recently used.
    let first = reference(&format!("{}/team/prune:1.0.0", registry.host()));
    rt.block_on(cached(dir.path()).pull_local(&first))
        .expect("local")
        .expect("hit");
    let entries = rt.block_on(store.entries()).expect("entries");
    assert!(
        entries[0].last_used > entries[2].last_used,
        "the hit refreshed 1.0.0"
    );

    // A budget that holds everything removes nothing.
    let total = size(0) + size(1) + size(2);
    let report = rt.block_on(store.prune(total)).expect("prune");
    assert!(report.removed.is_empty());
    assert_eq!((report.freed_bytes, report.remaining_bytes), (0, total));

    // One byte less: the least recently used entry (2.0.0) goes, with its blobs.
    let report = rt.block_on(store.prune(total - 1)).expect("prune");
    assert_eq!(
        report.removed,
        [format!("{}/team/prune:2.0.0", registry.host())]
    );
    assert_eq!(report.freed_bytes, size(1));
    assert_eq!(report.remaining_bytes, size(0) + size(2));
    assert!(!blob_path(dir.path(), &pulled[1].digest).exists());
    assert!(!blob_path(dir.path(), &pulled[1].layer_digest).exists());
    let left: Vec<String> = rt
        .block_on(store.entries())
        .expect("entries")
        .into_iter()
        .map(|e| e.reference)
        .collect();
    assert_eq!(
        left,
        [
            format!("{}/team/prune:1.0.0", registry.host()),
            format!("{}/team/prune:3.0.0", registry.host())
        ]
    );

    // A blob shared by two entries is kept while one of them remains.
    let alias = reference(&format!(
        "{}/team/prune@{}",
        registry.host(),
        pulled[2].digest
    ));
    rt.block_on(cached(dir.path()).pull_pinned(&alias))
        .expect("digest alias of 3.0.0");
    let report = rt.block_on(store.prune(size(2))).expect("prune");
    assert_eq!(
        report.removed,
        [
            format!("{}/team/prune:3.0.0", registry.host()),
            format!("{}/team/prune:1.0.0", registry.host())
        ],
        "3.0.0 is the oldest but its blobs stay for the alias, so 1.0.0 must go too"
    );
    assert_eq!(report.remaining_bytes, size(2));
    assert!(blob_path(dir.path(), &pulled[2].layer_digest).exists());
    assert!(
        rt.block_on(cached(dir.path()).pull_local(&alias))
            .expect("local")
            .is_some()
    );

    // prune(0) empties the cache; clear removes the layout.
    let report = rt.block_on(store.prune(0)).expect("prune");
    assert_eq!(report.remaining_bytes, 0);
    assert!(
        files_under(dir.path()).is_empty(),
        "{:?}",
        files_under(dir.path())
    );
    rt.block_on(cached(dir.path()).pull_pinned(&first))
        .expect("pull again");
    assert!(!files_under(dir.path()).is_empty());
    rt.block_on(store.clear()).expect("clear");
    assert!(!dir.path().join("v1").exists());
    assert!(rt.block_on(store.entries()).expect("entries").is_empty());
    let verify = rt
        .block_on(store.verify())
        .expect("verify of an empty cache");
    assert_eq!((verify.ok, verify.corrupt.len()), (0, 0));
}

/// A scratch directory (a layer packed for a push, one fetched but not cached) lives in
/// `v1/tmp` and is locked while it lives: `verify` and `prune` keep it, as they keep a
/// temporary file still being written, and remove it once abandoned; drop removes it.
#[test]
fn a_live_scratch_directory_survives_verify_and_prune() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = cached(dir.path());
    let scratch = rt.block_on(store.scratch_dir("push-")).expect("scratch");
    let tmp = dir.path().join("v1").join("tmp");
    assert!(
        scratch.path().starts_with(&tmp),
        "{}",
        scratch.path().display()
    );
    std::fs::write(scratch.path().join("layer.tar.gz"), b"packed").expect("write");

    let report = rt.block_on(store.verify()).expect("verify");
    assert_eq!(report.removed_temp_files, 0);
    rt.block_on(store.prune(0)).expect("prune");
    assert!(
        scratch.path().join("layer.tar.gz").is_file(),
        "a live scratch was removed"
    );

    // An abandoned one (nobody holds its lock) is cleaned up.
    let abandoned = tmp.join("push-abandoned");
    std::fs::create_dir_all(&abandoned).expect("mkdir");
    std::fs::write(abandoned.join("layer.tar.gz"), b"left").expect("write");
    let report = rt.block_on(store.verify()).expect("verify");
    assert_eq!(report.removed_temp_files, 1);
    assert!(!abandoned.exists());

    let path = scratch.path().to_owned();
    drop(scratch);
    assert!(!path.exists(), "dropped, the scratch directory goes");
}
