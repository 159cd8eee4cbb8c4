//! The OCI image layout store.

use crate::common::{assert_kind, bundle, reference, runtime};
use pacto_registry::{BundleStore, ErrorKind, LayoutStore, PushOptions, PushStatus};
use std::sync::Arc;

fn layout_ref(dir: &std::path::Path, suffix: &str) -> pacto_ref::ArtifactRef {
    reference(&format!("oci-layout:{}{suffix}", dir.display()))
}

#[test]
fn push_pull_resolve_list_round_trip() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("bundles");
    let rt = runtime();
    let store = LayoutStore::new();
    let original = bundle("payments", "1.0.0");
    let pushed = rt
        .block_on(store.push(&layout_ref(&dir, ""), &original, PushOptions::default()))
        .expect("push creates the layout");
    assert_eq!(pushed.status, PushStatus::Pushed);
    assert_eq!(pushed.reference.tag(), Some("1.0.0"));
    for file in ["oci-layout", "index.json"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(marker["imageLayoutVersion"], "1.0.0");

    let tagged = layout_ref(&dir, ":1.0.0");
    let pulled = rt.block_on(store.pull_pinned(&tagged)).expect("pull");
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(pulled.bundle.files(), original.files());
    assert_eq!(
        rt.block_on(store.resolve(&tagged)).expect("resolve"),
        pushed.digest
    );
    let by_digest = layout_ref(&dir, &format!("@{}", pushed.digest));
    assert_eq!(
        rt.block_on(store.pull(&by_digest))
            .expect("pull by digest")
            .files(),
        original.files()
    );

    rt.block_on(store.push(
        &layout_ref(&dir, ":latest"),
        &original,
        PushOptions::default(),
    ))
    .expect("second tag");
    let tags = rt
        .block_on(store.list_tags(&layout_ref(&dir, "")))
        .expect("tags");
    assert_eq!(tags, vec!["1.0.0".to_owned(), "latest".to_owned()]);
}

#[test]
fn identical_conflicting_and_forced_pushes() {
    let temp = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let store = LayoutStore::new();
    let target = layout_ref(temp.path(), ":1.0.0");
    let first = rt
        .block_on(store.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        ))
        .expect("push");
    let index_before = std::fs::read(temp.path().join("index.json")).unwrap();
    let again = rt
        .block_on(store.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        ))
        .expect("same push");
    assert_eq!(again.status, PushStatus::Unchanged);
    assert_eq!(
        std::fs::read(temp.path().join("index.json")).unwrap(),
        index_before
    );

    let other = bundle("payments", "1.0.0-other");
    assert_kind(
        rt.block_on(store.push(&target, &other, PushOptions::default())),
        ErrorKind::Conflict,
    );
    assert_eq!(
        std::fs::read(temp.path().join("index.json")).unwrap(),
        index_before,
        "untouched"
    );
    let forced = rt
        .block_on(store.push(&target, &other, PushOptions::default().with_force(true)))
        .expect("forced");
    assert_eq!(forced.status, PushStatus::Overwritten);
    assert_ne!(forced.digest, first.digest);
    let tags = rt.block_on(store.list_tags(&target)).expect("tags");
    assert_eq!(
        tags,
        vec!["1.0.0".to_owned()],
        "the tag moved, it was not duplicated"
    );
}

#[test]
fn missing_layout_and_tag_are_not_found() {
    let temp = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let store = LayoutStore::new();
    let nowhere = layout_ref(&temp.path().join("absent"), ":1.0.0");
    assert_kind(rt.block_on(store.pull(&nowhere)), ErrorKind::NotFound);
    assert_kind(rt.block_on(store.list_tags(&nowhere)), ErrorKind::NotFound);
    rt.block_on(store.push(
        &layout_ref(temp.path(), ":1.0.0"),
        &bundle("p", "1.0.0"),
        PushOptions::default(),
    ))
    .expect("push");
    assert_kind(
        rt.block_on(store.resolve(&layout_ref(temp.path(), ":2.0.0"))),
        ErrorKind::NotFound,
    );
}

#[test]
fn corrupt_blobs_are_refused() {
    let temp = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let store = LayoutStore::new();
    let target = layout_ref(temp.path(), ":1.0.0");
    let pushed = rt
        .block_on(store.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        ))
        .expect("push");
    let pulled = rt.block_on(store.pull_pinned(&target)).expect("pull");
    let layer = temp
        .path()
        .join("blobs/sha256")
        .join(pulled.layer_digest.hex());
    let mut bytes = std::fs::read(&layer).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&layer, &bytes).unwrap();
    let error = assert_kind(rt.block_on(store.pull(&target)), ErrorKind::InvalidBundle);
    assert!(error.to_string().contains("digest mismatch"), "{error}");
    // The layout is the user's: a damaged blob is reported, not deleted.
    assert_eq!(std::fs::read(&layer).unwrap(), bytes);

    bytes.push(0);
    std::fs::write(&layer, &bytes).unwrap();
    let error = assert_kind(rt.block_on(store.pull(&target)), ErrorKind::InvalidBundle);
    assert!(error.to_string().contains("descriptor says"), "{error}");

    let manifest = temp.path().join("blobs/sha256").join(pushed.digest.hex());
    std::fs::write(&manifest, b"{}").unwrap();
    assert_kind(rt.block_on(store.pull(&target)), ErrorKind::InvalidBundle);

    // Pushing the same bundle again rewrites what is damaged.
    rt.block_on(store.push(
        &target,
        &bundle("payments", "1.0.0"),
        PushOptions::default(),
    ))
    .expect("push again");
    let repaired = rt.block_on(store.pull_pinned(&target)).expect("pull");
    assert_eq!(
        (repaired.layer_digest, repaired.bundle),
        (pulled.layer_digest, pulled.bundle)
    );
}

#[test]
fn concurrent_writers_keep_every_tag() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = Arc::new(temp.path().join("shared"));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let dir = Arc::clone(&dir);
            std::thread::spawn(move || {
                let rt = runtime();
                let store = LayoutStore::new();
                let version = format!("1.{i}.0");
                rt.block_on(store.push(
                    &layout_ref(&dir, &format!(":{version}")),
                    &bundle("payments", &version),
                    PushOptions::default(),
                ))
                .expect("concurrent push")
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    let rt = runtime();
    let store = LayoutStore::new();
    let mut tags = rt
        .block_on(store.list_tags(&layout_ref(&dir, "")))
        .expect("tags");
    tags.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("1.{i}.0")).collect();
    assert_eq!(tags, expected);
    for tag in &expected {
        let pulled = rt
            .block_on(store.pull(&layout_ref(&dir, &format!(":{tag}"))))
            .expect("every tag pulls");
        assert_eq!(pulled.version(), tag);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

#[test]
fn registry_references_are_refused_by_the_layout_store() {
    let rt = runtime();
    let store = LayoutStore::new();
    assert_kind(
        rt.block_on(store.pull(&reference("127.0.0.1:5000/team/x:1.0.0"))),
        ErrorKind::InvalidReference,
    );
}
