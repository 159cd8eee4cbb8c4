//! Stop, restart and drop.

use std::net::TcpStream;

use pacto_test_support::{Operation, RegistryOptions, TestRegistry, push_raw};

use crate::{Artifact, OCI_MANIFEST, client_for, send};

#[test]
fn stop_then_restart_keeps_port_storage_and_log() {
    let mut registry = TestRegistry::start(RegistryOptions::tls_basic("u", "p"));
    let host = registry.host();
    let artifact = Artifact::new(b"survives restarts");
    push_raw(
        &registry,
        "keep/me",
        "1.0.0",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("u", "p")),
    );
    let client = client_for(&registry);
    let manifest_url = format!("{}/v2/keep/me/manifests/1.0.0", registry.url());

    registry.stop();
    assert!(!registry.is_running());
    let error = client
        .get(&manifest_url)
        .basic_auth("u", Some("p"))
        .send()
        .expect_err("a stopped registry refuses connections");
    assert!(error.is_connect(), "{error:?}");
    // The log of a stopped registry can still be read; stopping twice is harmless.
    assert_eq!(registry.requests().len(), 5);
    registry.stop();

    registry.restart();
    assert!(registry.is_running());
    assert_eq!(registry.host(), host);
    let (status, _, body) = send(
        client
            .get(&manifest_url)
            .basic_auth("u", Some("p"))
            .header("Accept", OCI_MANIFEST),
    );
    assert_eq!((status, body), (200, artifact.manifest.clone()));
    let operations: Vec<Operation> = registry.requests().iter().map(|r| r.operation()).collect();
    assert_eq!(operations.len(), 6, "{operations:?}");
    assert_eq!(operations.last(), Some(&Operation::ManifestGet));

    // Restarting a running registry works too.
    registry.restart();
    let (status, _, _) = send(
        client
            .get(&manifest_url)
            .basic_auth("u", Some("p"))
            .header("Accept", OCI_MANIFEST),
    );
    assert_eq!(status, 200);
}

#[test]
fn drop_kills_the_process_and_removes_the_directory() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let storage = registry.storage_dir().to_owned();
    assert!(storage.is_dir());
    TcpStream::connect(&host).expect("the registry listens");
    drop(registry);
    assert!(!storage.exists(), "{} was not removed", storage.display());
    let refused = TcpStream::connect(&host);
    assert!(refused.is_err(), "something still listens on {host}");
}

#[test]
fn blob_and_tag_paths_follow_the_distribution_layout() {
    let registry = TestRegistry::plain();
    let artifact = Artifact::new(b"blob on disk");
    push_raw(
        &registry,
        "disk/app",
        "v1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        None,
    );
    let layer_digest = pacto_test_support::digest(&artifact.layer);
    let path = registry.blob_path(&layer_digest);
    let hex = layer_digest.trim_start_matches("sha256:");
    assert!(
        path.ends_with(format!(
            "docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        )),
        "{}",
        path.display()
    );
    assert_eq!(std::fs::read(&path).expect("blob file"), artifact.layer);
    let link = std::fs::read_to_string(registry.tag_link_path("disk/app", "v1")).expect("tag link");
    assert_eq!(link, artifact.digest());

    // Corrupting the file is served as is: that is what tests of digest checks need.
    std::fs::write(&path, b"corrupted!!!").expect("corrupt");
    let client = client_for(&registry);
    let (status, _, body) = send(client.get(format!(
        "{}/v2/disk/app/blobs/{layer_digest}",
        registry.url()
    )));
    assert_eq!(status, 200);
    assert_eq!(body, b"corrupted!!!");
}

#[test]
fn server_log_is_the_registry_json_log() {
    let registry = TestRegistry::plain();
    let log = registry.server_log();
    assert!(log.contains("listening on"), "{log}");
    assert!(log.lines().all(|line| line.starts_with('{')), "{log}");
}

#[test]
fn handles_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestRegistry>();
    assert_send_sync::<pacto_test_support::FaultProxy>();
    assert_send_sync::<pacto_test_support::BlobOrigin>();
    let registry = TestRegistry::plain();
    let client = client_for(&registry);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| send(client.get(format!("{}/v2/", registry.url()))));
        }
    });
    assert_eq!(registry.requests().len(), 4);
}
