//! The fault proxy: injected statuses, latency, resets, stalls, redirects, a dead upstream.

use std::time::{Duration, Instant};

use pacto_test_support::{
    BlobOrigin, Error, Fault, FaultProxy, Operation, Outcome, RegistryOptions, RequestMatch,
    TestRegistry, digest, push_raw,
};

use crate::{Artifact, OCI_MANIFEST, header, plain_client, send};

#[test]
fn injects_503_with_retry_after_then_passes_through() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject(Fault::Status {
        code: 503,
        retry_after: Some(2),
        times: 1,
    });
    assert_eq!(proxy.pending_faults(), 1);
    let client = plain_client();
    let url = format!("{}/v2/", proxy.url());
    let (status, headers, body) = send(client.get(&url));
    assert_eq!(
        (status, header(&headers, "retry-after")),
        (503, "2".to_owned())
    );
    let json: serde_json::Value = serde_json::from_slice(&body).expect("registry-style error");
    assert_eq!(json["errors"][0]["code"], "UNAVAILABLE");
    let (status, headers, _) = send(client.get(&url));
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(proxy.pending_faults(), 0);
    let outcomes: Vec<Outcome> = proxy.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Injected { status: 503 },
            Outcome::Forwarded { status: 200 }
        ]
    );
    // Only the forwarded request reached the registry.
    assert_eq!(registry.requests().len(), 1);
}

#[test]
fn matching_faults_hit_only_their_requests() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/manifests/"),
        Fault::Status {
            code: 429,
            retry_after: None,
            times: 2,
        },
    );
    let client = plain_client();
    let manifest = format!("{}/v2/a/manifests/1", proxy.url());
    let statuses: Vec<u16> = [
        client.get(format!("{}/v2/", proxy.url())),
        client.head(&manifest),
        client.get(&manifest),
        client.get(&manifest),
        client.get(&manifest),
    ]
    .into_iter()
    .map(|request| send(request).0)
    .collect();
    assert_eq!(statuses, [200, 404, 429, 429, 404]);
    let retry_after = proxy
        .requests()
        .iter()
        .filter(|r| r.outcome == Outcome::Injected { status: 429 })
        .count();
    assert_eq!(retry_after, 2);
    proxy.clear_requests();
    assert_eq!(proxy.requests(), []);
    proxy.inject(Fault::Reset { times: 3 });
    proxy.clear_faults();
    assert_eq!(proxy.pending_faults(), 0);
}

#[test]
fn latency_is_applied_each_way() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let client = plain_client();
    let url = format!("{}/v2/", proxy.url());
    proxy.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(send(client.get(&url)).0, 200);
    let slow = started.elapsed();
    assert!(
        slow >= Duration::from_millis(300),
        "round trip took {slow:?}"
    );
    proxy.set_latency(Duration::ZERO);
    assert_eq!(send(client.get(&url)).0, 200);
}

#[test]
fn reset_cuts_a_blob_download_and_the_next_one_works() {
    let registry = TestRegistry::plain();
    let artifact = Artifact::new(&[7u8; 64 * 1024]);
    push_raw(
        &registry,
        "r/app",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        None,
    );
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject(Fault::Reset { times: 1 });
    let client = plain_client();
    let url = format!("{}/v2/r/app/blobs/{}", proxy.url(), digest(&artifact.layer));
    let response = client.get(&url).send().expect("the head arrives");
    assert_eq!(response.status().as_u16(), 200);
    let error = response.bytes().expect_err("the body is cut");
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
    let (status, _, body) = send(client.get(&url));
    assert_eq!((status, body), (200, artifact.layer.clone()));
    let outcomes: Vec<Outcome> = proxy.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Reset, Outcome::Forwarded { status: 200 }]
    );
}

#[test]
fn stall_holds_the_request_until_the_client_gives_up() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject(Fault::Stall { times: 1 });
    pacto_test_support::install_crypto_provider();
    let impatient = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let error = impatient
        .get(format!("{}/v2/", proxy.url()))
        .send()
        .expect_err("a stalled request times out");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(proxy.requests()[0].outcome, Outcome::Stalled);
    assert_eq!(send(impatient.get(format!("{}/v2/", proxy.url()))).0, 200);
    assert_eq!(registry.requests().len(), 1);
}

#[test]
fn blob_downloads_redirect_to_an_origin_that_records_headers() {
    let registry = TestRegistry::plain();
    let artifact = Artifact::new(b"redirected layer");
    push_raw(
        &registry,
        "x/app",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        None,
    );
    let origin = BlobOrigin::for_registry(&registry);
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.redirect_blobs_to(&origin.url());
    let layer_digest = digest(&artifact.layer);
    let path = format!("/v2/x/app/blobs/{layer_digest}");

    // The proxy answers 307 to the other origin.
    let (status, headers, _) = send(
        plain_client()
            .get(format!("{}{path}", proxy.url()))
            .bearer_auth("secret"),
    );
    assert_eq!(status, 307);
    assert_eq!(
        header(&headers, "location"),
        format!("{}{path}", origin.url())
    );

    // A client that follows redirects gets the blob from the origin, which records what it
    // received: reqwest drops Authorization on a cross-origin redirect.
    pacto_test_support::install_crypto_provider();
    let following = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let (status, _, body) = send(
        following
            .get(format!("{}{path}", proxy.url()))
            .bearer_auth("secret"),
    );
    assert_eq!((status, body), (200, artifact.layer.clone()));
    let received = origin.requests();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, path);
    assert_eq!(received[0].header("authorization"), None);
    assert!(
        received[0]
            .header("host")
            .is_some_and(|h| h == origin.host())
    );

    // The origin records whatever it is sent, and 404s what it does not hold.
    let (status, _, _) = send(
        plain_client()
            .get(format!(
                "{}/v2/x/app/blobs/{}",
                origin.url(),
                digest(b"absent")
            ))
            .header("X-Probe", "1"),
    );
    assert_eq!(status, 404);
    assert_eq!(origin.requests()[1].header("x-probe"), Some("1"));

    // Manifests and blob HEADs are not redirected; redirects can be switched off.
    let (status, _, _) = send(plain_client().head(format!("{}{path}", proxy.url())));
    assert_eq!(status, 200);
    proxy.clear_redirect();
    let (status, _, body) = send(plain_client().get(format!("{}{path}", proxy.url())));
    assert_eq!((status, body), (200, artifact.layer.clone()));
    let redirected = proxy
        .requests()
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Redirected { .. }))
        .count();
    assert_eq!(redirected, 2);
    let blob_gets = registry
        .requests()
        .iter()
        .filter(|r| r.operation() == Operation::BlobGet)
        .count();
    assert_eq!(blob_gets, 1);
}

#[test]
fn a_stopped_registry_behind_the_proxy_is_a_502() {
    let mut registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    registry.stop();
    let (status, _, _) = send(plain_client().get(format!("{}/v2/", proxy.url())));
    assert_eq!(status, 502);
    assert_eq!(proxy.requests()[0].outcome, Outcome::UpstreamUnreachable);
}

#[test]
fn pushes_through_the_proxy_land_in_the_registry() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let artifact = Artifact::new(b"via proxy");
    let pushed = push_raw(
        &proxy,
        "p/app",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        None,
    );
    assert_eq!(pushed, artifact.digest());
    // Upload locations pointed back at the proxy: all five requests went through it.
    assert_eq!(proxy.requests().len(), 5);
    assert_eq!(registry.requests().len(), 5);
}

#[test]
fn refuses_tls_and_non_loopback_upstreams() {
    let error = FaultProxy::try_start("https://127.0.0.1:1").expect_err("tls upstream");
    assert!(matches!(error, Error::Unsupported { .. }), "{error}");
    let error = FaultProxy::try_start("192.0.2.1:80").expect_err("remote upstream");
    assert!(matches!(error, Error::NotLoopback { .. }), "{error}");
    let registry = TestRegistry::start(RegistryOptions::tls());
    assert!(registry.is_tls());
}
