//! Errors as a downstream crate handles them: match the kind, walk `source()` to the layer's
//! typed error and its fields, print a chain that never repeats itself.

use pacto_oci::registry::StoreError;
use pacto_oci::resolver::ResolveError;
use pacto_oci::{Bundle, Client, ErrorKind, ResolveMode};
use std::error::Error as _;

fn bundle(version: &str) -> Bundle {
    let yaml = format!("pactoVersion: \"1.0\"\nservice:\n  name: failing\n  version: {version}\n");
    Bundle::from_files([("pacto.yaml".to_owned(), yaml.into_bytes().into())].into())
        .expect("a valid bundle")
}

/// Every message of the chain, top first.
fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        messages.push(cause.to_string());
        source = cause.source();
    }
    messages
}

/// No message of the chain contains the next one: each says only its own part.
fn assert_no_repeats(error: &(dyn std::error::Error + 'static)) {
    let messages = chain(error);
    for pair in messages.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "{:?} repeats its source {:?}",
            pair[0],
            pair[1]
        );
    }
}

fn client(dir: &std::path::Path) -> Client {
    Client::builder()
        .cache_dir(dir.join("cache"))
        .build()
        .expect("a client")
}

#[tokio::test]
async fn the_source_chain_reaches_the_resolver_and_its_fields() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(temp.path());
    let layout = format!("oci-layout:{}", temp.path().join("layout").display());
    client.push(&layout, &bundle("1.0.0"), false).await.unwrap();
    client.push(&layout, &bundle("1.2.0"), false).await.unwrap();

    let error = client
        .pull(&layout, "^2", ResolveMode::RemoteAllowed)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NoMatchingVersion);
    let resolve = error
        .source()
        .and_then(|s| s.downcast_ref::<ResolveError>())
        .expect("the source is the resolver's error");
    assert_eq!(resolve.available(), ["1.2.0", "1.0.0"]);
    assert_eq!(
        error.resolve_error().map(ResolveError::available),
        Some(vec!["1.2.0".to_owned(), "1.0.0".to_owned()])
    );
    assert_no_repeats(&error);
}

#[tokio::test]
async fn the_source_chain_reaches_the_store_error_and_its_fields() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(temp.path());
    let layout = format!("oci-layout:{}", temp.path().join("layout").display());
    client.push(&layout, &bundle("1.0.0"), false).await.unwrap();

    // A tag holding something else: the conflict names both digests.
    let changed = Bundle::from_files({
        let mut files: std::collections::BTreeMap<String, _> = bundle("1.0.0")
            .files()
            .iter()
            .map(|(path, bytes)| (path.to_string(), bytes.clone()))
            .collect();
        files.insert("README.md".into(), "changed".into());
        files
    })
    .unwrap();
    let error = client.push(&layout, &changed, false).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict);
    let store = error
        .source()
        .and_then(|s| s.downcast_ref::<StoreError>())
        .expect("the source is the store's error");
    let StoreError::Conflict {
        existing, pushing, ..
    } = store
    else {
        panic!("expected a conflict, got {store:?}");
    };
    assert_ne!(existing, pushing);
    assert!(error.store_error().is_some());
    assert_no_repeats(&error);

    // Through the resolver, the store error is still reachable.
    let error = client
        .pull(&format!("{layout}:9.9.9"), "", ResolveMode::RemoteAllowed)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(matches!(
        error.store_error(),
        Some(StoreError::NotFound { .. })
    ));
    assert_no_repeats(&error);
}
#[tokio::test]
async fn an_unreachable_registry_is_transient_and_names_the_registry() {
    let registry = pacto_test_support::TestRegistry::plain();
    let host = registry.host();
    drop(registry);
    let temp = tempfile::tempdir().unwrap();
    let error = client(temp.path())
        .pull(
            &format!("{host}/team/x:1.0.0"),
            "",
            ResolveMode::RemoteAllowed,
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    assert!(error.is_transient());
    let Some(StoreError::Unreachable { registry, .. }) = error.store_error() else {
        panic!("expected an unreachable store error, got {error:?}");
    };
    assert_eq!(registry, &host);
    assert_no_repeats(&error);
}
