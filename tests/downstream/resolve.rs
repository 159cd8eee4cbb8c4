//! Go's `ResolveRef(ctx, ref, lister)` with the crates' own stores as the lister.

use pacto_oci::Bundle;
use pacto_oci::cache::{CacheConfig, CachedStore};
use pacto_oci::refs::{ArtifactRef, ErrorKind, ParseOptions, ResolveError, resolve_ref};
use pacto_oci::registry::{AnyStore, BundleStore, PushOptions, RegistryClient};

fn bundle(version: &str) -> Bundle {
    let yaml = format!("pactoVersion: \"1.0\"\nservice:\n  name: listed\n  version: {version}\n");
    Bundle::from_files([("pacto.yaml".to_owned(), yaml.into_bytes().into())].into())
        .expect("a valid bundle")
}

#[tokio::test]
async fn resolve_ref_lists_through_any_store_and_a_cached_store() {
    let temp = tempfile::tempdir().unwrap();
    let store = AnyStore::new(RegistryClient::builder().build().expect("a client"));
    let layout = format!("oci-layout:{}", temp.path().join("layout").display());
    let repository = ArtifactRef::parse(&layout, &ParseOptions::untagged()).unwrap();
    for version in ["1.0.0", "1.4.2", "2.0.0"] {
        BundleStore::push(
            &store,
            &repository,
            &bundle(version),
            PushOptions::default(),
        )
        .await
        .expect("push");
    }

    let chosen = resolve_ref(&store, &repository, "^1")
        .await
        .expect("resolved");
    assert_eq!(chosen.tag(), Some("1.4.2"));

    let cached = CachedStore::new(
        store,
        CacheConfig::default().with_dir(temp.path().join("c")),
    );
    let chosen = resolve_ref(&cached, &repository, "")
        .await
        .expect("resolved");
    assert_eq!(chosen.tag(), Some("2.0.0"));

    // The lister's own error comes back typed; a selection failure names the versions.
    let Err(ResolveError::Select(none)) = resolve_ref(&cached, &repository, "^3").await else {
        panic!("expected no matching version");
    };
    assert_eq!(none.kind(), ErrorKind::NoMatchingVersion);
    assert_eq!(none.available(), ["2.0.0", "1.4.2", "1.0.0"]);
    let missing = ArtifactRef::parse(
        &format!("oci-layout:{}", temp.path().join("nothing").display()),
        &ParseOptions::untagged(),
    )
    .unwrap();
    let Err(ResolveError::List(store_error)) = resolve_ref(&cached, &missing, "").await else {
        panic!("expected the store's error");
    };
    assert_eq!(store_error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn resolve_ref_lists_through_the_registry_client() {
    let registry = pacto_test_support::TestRegistry::plain();
    let client = RegistryClient::builder().build().expect("a client");
    let repository = ArtifactRef::parse(
        &format!("{}/team/listed", registry.host()),
        &ParseOptions::untagged(),
    )
    .unwrap();
    for version in ["0.9.0", "1.0.0"] {
        BundleStore::push(
            &client,
            &repository,
            &bundle(version),
            PushOptions::default(),
        )
        .await
        .expect("push");
    }
    let chosen = resolve_ref(&client, &repository, "<1")
        .await
        .expect("resolved");
    assert_eq!(chosen.tag(), Some("0.9.0"));
}
