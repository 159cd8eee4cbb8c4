//! The access log gives exact, complete request lists at the moment of the call.

use pacto_test_support::{
    LoggedRequest, Operation, RegistryOptions, TestRegistry, digest, push_raw,
};

use crate::{Artifact, OCI_MANIFEST, client_for, send};

fn logged(method: &str, path: &str, status: u16) -> (String, String, u16) {
    (method.to_owned(), path.to_owned(), status)
}

/// Method, target and status of each request (the user agent is the test client's).
fn plain(requests: Vec<LoggedRequest>) -> Vec<(String, String, u16)> {
    requests
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect()
}

#[test]
fn one_request_is_logged_exactly_once_and_start_up_is_not() {
    let registry = TestRegistry::plain();
    assert_eq!(plain(registry.requests()), []);
    let client = client_for(&registry);
    let (status, _, _) = send(client.get(format!("{}/v2/", registry.url())));
    assert_eq!(status, 200);
    assert_eq!(plain(registry.requests()), [logged("GET", "/v2/", 200)]);
    // Reading the log sends no request that shows up.
    assert_eq!(plain(registry.requests()), [logged("GET", "/v2/", 200)]);
}

#[test]
fn a_known_sequence_is_logged_in_order_with_queries() {
    let registry = TestRegistry::plain();
    let client = client_for(&registry);
    let url = registry.url();
    send(client.head(format!("{url}/v2/team/app/manifests/1.0.0")));
    send(client.get(format!("{url}/v2/team/app/tags/list?n=10")));
    send(client.get(format!("{url}/v2/_catalog?n=5")));
    let requests = registry.requests();
    assert_eq!(
        plain(requests.clone()),
        [
            logged("HEAD", "/v2/team/app/manifests/1.0.0", 404),
            logged("GET", "/v2/team/app/tags/list?n=10", 404),
            logged("GET", "/v2/_catalog?n=5", 200),
        ]
    );
    assert_eq!(requests[1].repository(), Some("team/app"));
    assert_eq!(
        requests
            .iter()
            .map(LoggedRequest::operation)
            .collect::<Vec<_>>(),
        [
            Operation::ManifestHead,
            Operation::TagsList,
            Operation::Catalog
        ]
    );
}

#[test]
fn clear_and_marks_count_one_operation() {
    let registry = TestRegistry::plain();
    let client = client_for(&registry);
    let artifact = Artifact::new(b"layer for marks");
    push_raw(
        &registry,
        "a/b",
        "v1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        None,
    );
    assert_eq!(registry.requests().len(), 5);

    registry.clear_requests();
    assert_eq!(plain(registry.requests()), []);
    let mark = registry.mark();
    send(
        client
            .head(format!("{}/v2/a/b/manifests/v1", registry.url()))
            .header("Accept", OCI_MANIFEST),
    );
    assert_eq!(
        plain(registry.requests_since(mark)),
        [logged("HEAD", "/v2/a/b/manifests/v1", 200)]
    );
    let later = registry.mark();
    assert_eq!(plain(registry.requests_since(later)), []);
    send(
        client
            .get(format!("{}/v2/a/b/manifests/v1", registry.url()))
            .header("Accept", OCI_MANIFEST),
    );
    assert_eq!(
        plain(registry.requests_since(later)),
        [logged("GET", "/v2/a/b/manifests/v1", 200)]
    );
    assert_eq!(registry.requests().len(), 2);
}

#[test]
fn large_blob_downloads_are_logged_by_the_time_they_complete() {
    let registry = TestRegistry::plain();
    let client = client_for(&registry);
    let layer: Vec<u8> = (0..4 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let artifact = Artifact::new(&layer);
    push_raw(
        &registry,
        "big/blob",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        None,
    );
    registry.clear_requests();
    let url = format!("{}/v2/big/blob/blobs/{}", registry.url(), digest(&layer));
    for round in 1..=10 {
        let (status, _, body) = send(client.get(&url));
        assert_eq!((status, body.len()), (200, layer.len()));
        let requests = registry.requests();
        assert_eq!(requests.len(), round, "round {round}: {requests:?}");
        assert!(
            requests
                .iter()
                .all(|r| r.operation() == Operation::BlobGet && r.status == 200)
        );
    }
}

#[test]
fn tls_and_auth_registries_log_too() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("u", "p"));
    let client = client_for(&registry);
    send(client.get(format!("{}/v2/", registry.url())));
    send(
        client
            .get(format!("{}/v2/", registry.url()))
            .basic_auth("u", Some("p")),
    );
    let requests = registry.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!((requests[0].status, requests[1].status), (401, 200));
}
