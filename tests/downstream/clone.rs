//! A `Client` (and each stateful layer type) is cheap to clone and can be moved into tasks:
//! `Clone + Send + Sync + 'static`, with clones sharing connections, tokens and the cache.

use pacto_oci::cache::CachedStore;
use pacto_oci::registry::{AnyStore, LayoutStore, RegistryClient};
use pacto_oci::resolver::Resolver;
use pacto_oci::{Bundle, Client, ResolveMode};

/// Compiled, never called: a type missing one of the bounds fails to build this target.
const _: () = {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    #[allow(dead_code, reason = "the type check is the assertion")]
    fn every_stateful_type() {
        shareable::<Client>();
        shareable::<Resolver<AnyStore>>();
        shareable::<CachedStore<AnyStore>>();
        shareable::<RegistryClient>();
        shareable::<LayoutStore>();
        shareable::<AnyStore>();
    }
};

fn bundle(version: &str) -> Bundle {
    let yaml = format!("pactoVersion: \"1.0\"\nservice:\n  name: cloned\n  version: {version}\n");
    Bundle::from_files([("pacto.yaml".to_owned(), yaml.into_bytes().into())].into())
        .expect("a valid bundle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clones_of_a_client_work_at_once_and_share_the_cache() {
    let temp = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .cache_dir(temp.path().join("cache"))
        .build()
        .expect("a client");
    let layout = format!("oci-layout:{}", temp.path().join("layout").display());

    // Both clones push at once (different tags), one of them on a spawned task.
    let other = client.clone();
    let pushed = tokio::spawn({
        let layout = layout.clone();
        async move { other.push(&layout, &bundle("1.0.0"), false).await }
    });
    client
        .push(&layout, &bundle("2.0.0"), false)
        .await
        .expect("push from the first clone");
    pushed
        .await
        .expect("the task ran")
        .expect("push from the second clone");

    // Then both read at once: a fetch-all on a task, a constrained pull here.
    let other = client.clone();
    let fetched = tokio::spawn({
        let layout = layout.clone();
        async move { other.fetch_all(&layout).await }
    });
    let pulled = client
        .pull(&layout, "^1", ResolveMode::RemoteAllowed)
        .await
        .expect("pull");
    assert_eq!(pulled.bundle.version(), "1.0.0");
    let fetched = fetched.await.expect("the task ran").expect("fetch-all");
    assert_eq!(fetched.versions, ["2.0.0", "1.0.0"]);
    assert!(fetched.failed.is_empty());

    // The clones are one client: what one does to the cache, the other sees.
    let other = client.clone();
    assert_eq!(other.cache().cache_dir(), client.cache().cache_dir());
    assert!(client.cache().reads_disk());
    other.cache().disable_cache();
    assert!(
        !client.cache().reads_disk(),
        "disable_cache on a clone applies to every clone"
    );
}
