//! Cache keys: distinct references never share an entry, and nothing escapes the root.

use crate::common::{MapStore, bundle, files_under, pulled_for, reference, runtime};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_ref::ArtifactRef;
use pacto_registry::BundleStore;
use std::collections::BTreeSet;

#[test]
fn go_collision_cases_and_hostile_tags_stay_distinct_and_inside_the_root() {
    let rt = runtime();
    let base = reference("localhost:5000/xx:1");
    let long_tag = "v".repeat(300);
    // References that Go pacto's cache keys once collided on, plus tags no registry would
    // accept but a constructed reference can carry.
    let references: Vec<ArtifactRef> = vec![
        base.clone(),
        reference("localhost/5000/xx:1"),
        reference("localhost:5000/xx/1:latest"),
        reference("localhost:5000/xx:1.0"),
        reference("localhost:5000/xx1:1"),
        base.with_tag("%3A"),
        base.with_tag(":"),
        base.with_tag("%00"),
        base.with_tag("a\0b"),
        base.with_tag(".."),
        base.with_tag("."),
        base.with_tag("../../../../../../tmp/escape"),
        base.with_tag("a/b"),
        base.with_tag("a\\b"),
        base.with_tag("@sha256"),
        base.with_tag("V1"),
        base.with_tag("v1"),
        base.with_tag(&long_tag),
        base.with_tag(&format!("{long_tag}x")),
    ];
    let parent = tempfile::tempdir().expect("tempdir");
    let root = parent.path().join("cache");
    let source = MapStore::default();
    // Each reference gets its own bundle, so a shared entry would serve the wrong one.
    let mut expected = Vec::new();
    for (i, r) in references.iter().enumerate() {
        let pulled = rt.block_on(pulled_for(&bundle("svc", &format!("1.0.{i}"))));
        expected.push(pulled.digest.clone());
        source.insert(r, pulled);
    }
    let store = CachedStore::new(source, CacheConfig::default().with_dir(&root));
    for r in &references {
        rt.block_on(store.pull_pinned(r)).expect("pull");
    }

    // One entry per reference.
    let entries = rt.block_on(store.entries()).expect("entries");
    assert_eq!(entries.len(), references.len());
    let listed: BTreeSet<&str> = entries.iter().map(|e| e.reference.as_str()).collect();
    let wanted: BTreeSet<String> = references.iter().map(ToString::to_string).collect();
    assert_eq!(listed, wanted.iter().map(String::as_str).collect());

    // Each served (from disk, by a new store) with its own bundle.
    let fresh = CachedStore::new(MapStore::default(), CacheConfig::default().with_dir(&root));
    for (r, digest) in references.iter().zip(&expected) {
        let local = rt
            .block_on(fresh.pull_local(r))
            .expect("local")
            .expect("hit");
        assert_eq!(&local.digest, digest, "{r:?}");
    }
    assert_eq!(fresh.inner().calls(), 0);

    // Nothing outside the root, every name a single safe component.
    let parent_entries: Vec<_> = std::fs::read_dir(parent.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(parent_entries, ["cache"]);
    assert!(!std::path::Path::new("/tmp/escape").exists());
    let files = files_under(&root);
    for file in &files {
        for component in file.components() {
            let name = component.as_os_str().to_string_lossy();
            assert!(
                !name.starts_with('.') && name.len() <= 255 && !name.contains('\0'),
                "unsafe name {name:?} in {}",
                file.display()
            );
        }
    }
    // Case-insensitive file systems: no two names differ by case only.
    let folded: BTreeSet<String> = files
        .iter()
        .map(|f| f.display().to_string().to_lowercase())
        .collect();
    assert_eq!(folded.len(), files.len());

    // Tags as the local listing sees them.
    let mut tags = rt.block_on(fresh.local_tags(&base)).expect("tags");
    tags.sort();
    let mut want: Vec<String> = references
        .iter()
        .filter(|r| {
            r.as_remote()
                .is_some_and(|x| x.repository_name() == "localhost:5000/xx")
        })
        .filter_map(|r| r.tag().map(str::to_owned))
        .collect();
    want.sort();
    assert_eq!(tags, want);
    let report = rt.block_on(fresh.verify()).expect("verify");
    assert_eq!((report.ok, report.corrupt.len()), (references.len(), 0));
}

#[test]
fn a_record_moved_to_another_key_is_not_served() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = reference("registry.example/team/a:1.0.0");
    let b = reference("registry.example/team/b:1.0.0");
    let source = MapStore::default();
    source.insert(&a, rt.block_on(pulled_for(&bundle("a", "1.0.0"))));
    let store = CachedStore::new(source, CacheConfig::default().with_dir(dir.path()));
    rt.block_on(store.pull_pinned(&a)).expect("pull a");
    // Copy a's record to where b's would live: its content names a, so it is not b's.
    let records: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.starts_with("v1/refs"))
        .collect();
    assert_eq!(records.len(), 1);
    let record = dir.path().join(&records[0]);
    let b_dir = record
        .parent()
        .and_then(|p| p.parent())
        .expect("refs dir")
        .join("r-registry%2Eexample%2Fteam%2Fb");
    std::fs::create_dir_all(&b_dir).expect("mkdir");
    std::fs::copy(&record, b_dir.join(record.file_name().expect("name"))).expect("copy");
    let fresh = CachedStore::new(
        MapStore::default(),
        CacheConfig::default().with_dir(dir.path()),
    );
    assert!(rt.block_on(fresh.pull_local(&b)).expect("local").is_none());
    assert!(rt.block_on(fresh.local_tags(&b)).expect("tags").is_empty());
    let report = rt.block_on(fresh.verify()).expect("verify");
    assert_eq!(report.ok, 1);
    assert_eq!(
        report.corrupt.len(),
        1,
        "the misplaced record is removed: {:?}",
        report.corrupt
    );
}
