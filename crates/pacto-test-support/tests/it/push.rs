//! Raw pushes: any bytes, typed failures.

use pacto_test_support::{
    Endpoint, Error, RegistryOptions, TestRegistry, digest, push_raw, try_push_raw,
};

use crate::{Artifact, OCI_MANIFEST, client_for, send};

#[test]
fn pushes_manifests_our_code_would_never_produce() {
    let registry = TestRegistry::plain();
    let client = client_for(&registry);
    // An index (multi-platform) manifest with no blobs, and a Docker v2 manifest with two layers.
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let pushed = push_raw(
        registry.host().as_str(),
        "odd/app",
        "index",
        "application/vnd.oci.image.index.v1+json",
        index,
        &[],
        None,
    );
    assert_eq!(pushed, digest(index));
    let (config, one, two) = (b"{}".as_slice(), b"one".as_slice(), b"two".as_slice());
    let docker = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest(config), "size": 2},
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest(one), "size": 3},
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest(two), "size": 3},
        ],
    })
    .to_string();
    let pushed = push_raw(
        &registry,
        "odd/app",
        "two-layers",
        "application/vnd.docker.distribution.manifest.v2+json",
        docker.as_bytes(),
        &[config, one, two],
        None,
    );
    // Pushing by digest works as well.
    let by_digest = push_raw(
        Endpoint::new(&registry.url()),
        "odd/app",
        &pushed,
        "application/vnd.docker.distribution.manifest.v2+json",
        docker.as_bytes(),
        &[],
        None,
    );
    assert_eq!(by_digest, pushed);
    let (status, _, body) = send(
        client
            .get(format!(
                "{}/v2/odd/app/manifests/two-layers",
                registry.url()
            ))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
    );
    assert_eq!((status, body), (200, docker.into_bytes()));
}

#[test]
fn failures_are_typed_with_the_registry_answer() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("u", "p"));
    let artifact = Artifact::new(b"layer");
    // Wrong password.
    let error = try_push_raw(
        &registry,
        "a/b",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("u", "wrong")),
    )
    .expect_err("wrong password");
    assert!(
        matches!(&error, Error::UnexpectedStatus { status: 401, method, .. } if method == "POST"),
        "{error}"
    );
    // A manifest whose blobs were never pushed.
    let error = try_push_raw(
        &registry,
        "a/b",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &[],
        Some(("u", "p")),
    )
    .expect_err("missing blobs");
    match &error {
        Error::UnexpectedStatus { status, body, .. } => {
            assert_eq!(*status, 400);
            assert!(body.contains("MANIFEST_BLOB_UNKNOWN"), "{body}");
        }
        other => panic!("unexpected error {other}"),
    }
    // TLS without the CA.
    let error = try_push_raw(
        registry.url().as_str(),
        "a/b",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &[],
        Some(("u", "p")),
    )
    .expect_err("no CA");
    assert!(matches!(error, Error::Unsupported { .. }), "{error}");
    // With the CA file it works.
    let endpoint = Endpoint::new(&registry.url()).with_ca_file(registry.ca_file().expect("ca"));
    let pushed = try_push_raw(
        endpoint,
        "a/b",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("u", "p")),
    );
    assert_eq!(pushed.expect("push with the CA file"), artifact.digest());
    // Not a usable URL, not loopback.
    let error = try_push_raw(
        "ftp://127.0.0.1:1",
        "a/b",
        "1",
        OCI_MANIFEST,
        b"{}",
        &[],
        None,
    )
    .expect_err("bad url");
    assert!(matches!(error, Error::InvalidUrl { .. }), "{error}");
    let error = try_push_raw("192.0.2.1:5000", "a/b", "1", OCI_MANIFEST, b"{}", &[], None)
        .expect_err("remote");
    assert!(matches!(error, Error::NotLoopback { .. }), "{error}");
}
