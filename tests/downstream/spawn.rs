//! Facade futures run on spawned tasks of a multi-threaded runtime.

use pacto_oci::{Bundle, Client, ResolveMode};
use std::sync::Arc;

fn bundle(version: &str) -> Bundle {
    let yaml = format!("pactoVersion: \"1.0\"\nservice:\n  name: spawned\n  version: {version}\n");
    Bundle::from_files([("pacto.yaml".to_owned(), yaml.into_bytes().into())].into())
        .expect("a valid bundle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_all_and_pull_run_on_spawned_tasks() {
    let temp = tempfile::tempdir().unwrap();
    let client = Arc::new(
        Client::builder()
            .cache_dir(temp.path().join("cache"))
            .build()
            .expect("a client"),
    );
    let layout = format!("oci-layout:{}", temp.path().join("layout").display());
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        client
            .push(&layout, &bundle(version), false)
            .await
            .expect("push into the layout");
    }

    let fetch = tokio::spawn({
        let client = Arc::clone(&client);
        let layout = layout.clone();
        async move { client.fetch_all(&layout).await }
    });
    let pull = tokio::spawn({
        let client = Arc::clone(&client);
        let layout = layout.clone();
        async move { client.pull(&layout, "^1", ResolveMode::RemoteAllowed).await }
    });

    let fetched = fetch.await.expect("the task ran").expect("fetch-all");
    assert_eq!(fetched.versions, ["2.0.0", "1.1.0", "1.0.0"]);
    assert!(fetched.failed.is_empty());
    let pulled = pull.await.expect("the task ran").expect("pull");
    assert_eq!(pulled.bundle.version(), "1.1.0");
    assert_eq!(pulled.reference.tag(), Some("1.1.0"));
}
