//! Retries, timeouts and redirects through the fault proxy (loopback only, bounded).

use crate::common::{assert_kind, bundle, client, reference, runtime};
use pacto_registry::{BundleStore, ErrorKind, PushOptions, RegistryClient, RetryPolicy};
use pacto_test_support::{
    BlobOrigin, Fault, FaultProxy, Outcome, RegistryOptions, RequestMatch, TestRegistry,
};
use std::time::{Duration, Instant};

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(3)
        .with_base_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_secs(2))
}

fn seeded(registry: &TestRegistry, repository: &str) -> pacto_contract::Bundle {
    let original = bundle("payments", "1.0.0");
    runtime()
        .block_on(client().push(
            &reference(&format!("{}/{repository}:1.0.0", registry.host())),
            &original,
            PushOptions::default(),
        ))
        .expect("seed push");
    original
}

#[test]
fn retries_429_and_503_honouring_retry_after() {
    let registry = TestRegistry::plain();
    let original = seeded(&registry, "team/payments");
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject(Fault::Status {
        code: 503,
        retry_after: Some(1),
        times: 1,
    });
    proxy.inject(Fault::Status {
        code: 429,
        retry_after: Some(1),
        times: 1,
    });
    let client = RegistryClient::builder()
        .retry(quick_retries())
        .build()
        .unwrap();
    let started = Instant::now();
    let pulled = runtime()
        .block_on(client.pull(&reference(&format!("{}/team/payments:1.0.0", proxy.host()))))
        .expect("retried until it succeeds");
    assert_eq!(pulled.files(), original.files());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was honoured"
    );
    let outcomes: Vec<Outcome> = proxy.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    assert_eq!(outcomes[0], Outcome::Injected { status: 503 });
    assert_eq!(outcomes[1], Outcome::Injected { status: 429 });
}

#[test]
fn persistent_503_gives_up_after_three_retries_as_transient_unreachable() {
    let registry = TestRegistry::plain();
    seeded(&registry, "team/payments");
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject(Fault::Status {
        code: 503,
        retry_after: None,
        times: 100,
    });
    let client = RegistryClient::builder()
        .retry(quick_retries())
        .build()
        .unwrap();
    let error = assert_kind(
        runtime()
            .block_on(client.pull(&reference(&format!("{}/team/payments:1.0.0", proxy.host())))),
        ErrorKind::Unreachable,
    );
    assert!(error.is_transient());
    assert_eq!(
        proxy.requests().len(),
        4,
        "one attempt and three retries, no more"
    );
}

#[test]
fn a_blob_cut_mid_stream_is_downloaded_again() {
    let registry = TestRegistry::plain();
    let original = seeded(&registry, "team/payments");
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/blobs/"),
        Fault::Reset { times: 1 },
    );
    let client = RegistryClient::builder()
        .retry(quick_retries())
        .build()
        .unwrap();
    let pulled = runtime()
        .block_on(client.pull(&reference(&format!("{}/team/payments:1.0.0", proxy.host()))))
        .expect("the second download succeeds");
    assert_eq!(pulled.files(), original.files());
    assert!(proxy.requests().iter().any(|r| r.outcome == Outcome::Reset));
}

#[test]
fn a_stalled_connection_times_out_instead_of_hanging() {
    let registry = TestRegistry::plain();
    seeded(&registry, "team/payments");
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject(Fault::Stall { times: 10 });
    let client = RegistryClient::builder()
        .read_timeout(Duration::from_millis(500))
        .retry(quick_retries().with_max_retries(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = assert_kind(
        runtime()
            .block_on(client.resolve(&reference(&format!("{}/team/payments:1.0.0", proxy.host())))),
        ErrorKind::Unreachable,
    );
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[test]
fn authorization_is_not_forwarded_on_a_cross_origin_blob_redirect() {
    let registry = TestRegistry::start(RegistryOptions::basic("alice", "right"));
    let rt = runtime();
    let keychain = pacto_auth::Keychain::with_config(
        pacto_auth::CredentialOptions::default()
            .with_username("alice")
            .with_password("right"),
        pacto_auth::KeychainConfig::explicit_only(),
    );
    let client = RegistryClient::builder()
        .keychain(keychain)
        .build()
        .unwrap();
    let original = bundle("payments", "1.0.0");
    rt.block_on(client.push(
        &reference(&format!("{}/team/payments:1.0.0", registry.host())),
        &original,
        PushOptions::default(),
    ))
    .expect("push");

    let proxy = FaultProxy::in_front_of(&registry);
    let origin = BlobOrigin::for_registry(&registry);
    proxy.redirect_blobs_to(&origin.url());
    let pulled = rt
        .block_on(client.pull(&reference(&format!("{}/team/payments:1.0.0", proxy.host()))))
        .expect("pull through the redirect");
    assert_eq!(pulled.files(), original.files());
    let manifest_request = proxy
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/manifests/") && r.header("authorization").is_some())
        .expect("the registry itself got the credentials");
    assert!(
        manifest_request
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    let at_origin = origin.requests();
    assert_eq!(at_origin.len(), 1, "the blob came from the other origin");
    assert_eq!(
        at_origin[0].header("authorization"),
        None,
        "credentials stayed home"
    );
}

/// Two pushes of different bundles to one tag, made deterministic: the proxy lets another
/// push's manifest `PUT` land right after ours. The re-read after our `PUT` sees the other
/// digest, and the push fails as a conflict naming it, instead of reporting `pushed`.
#[test]
fn a_concurrent_push_to_the_same_tag_is_reported() {
    use pacto_registry::StoreError;
    use pacto_test_support::ExtraRequest;
    let registry = TestRegistry::plain();
    let rt = runtime();
    // The other push's blobs are in the repository already; its manifest is what races.
    let theirs = bundle("payments", "1.0.0-theirs");
    let packed = rt
        .block_on(pacto_archive::pack(
            &theirs,
            &pacto_archive::Limits::default(),
        ))
        .unwrap();
    let their_artifact = pacto_registry::artifact::build(&theirs, &packed);
    rt.block_on(client().push(
        &reference(&format!("{}/team/race:staging", registry.host())),
        &theirs,
        PushOptions::default(),
    ))
    .expect("seed their blobs");
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject_matching(
        RequestMatch::method("PUT").with_path("/manifests/1.0.0"),
        Fault::ThenSend {
            request: ExtraRequest::put_manifest(
                "team/race",
                "1.0.0",
                pacto_registry::artifact::MANIFEST_MEDIA_TYPE,
                &their_artifact.manifest,
            ),
            times: 1,
        },
    );
    let ours = bundle("payments", "1.0.0");
    let target = reference(&format!("{}/team/race:1.0.0", proxy.host()));
    let error = assert_kind(
        rt.block_on(client().push(&target, &ours, PushOptions::default())),
        ErrorKind::Conflict,
    );
    let message = error.to_string();
    let StoreError::PushRace { pushed, now, .. } = error else {
        panic!("expected a push race, got {message}");
    };
    assert_eq!(now.as_ref(), Some(&their_artifact.manifest_digest));
    assert_ne!(pushed, their_artifact.manifest_digest);
    assert!(
        message.contains(their_artifact.manifest_digest.as_str())
            && message.contains(pushed.as_str()),
        "{message}"
    );
    let seen: Vec<(String, Outcome)> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/manifests/"))
        .map(|r| (r.method, r.outcome))
        .collect();
    assert_eq!(
        seen,
        [
            ("HEAD".to_owned(), Outcome::Forwarded { status: 404 }),
            ("PUT".to_owned(), Outcome::Forwarded { status: 201 }),
            ("PUT".to_owned(), Outcome::SentByProxy { status: 201 }),
            ("HEAD".to_owned(), Outcome::Forwarded { status: 200 }),
        ]
    );
}
