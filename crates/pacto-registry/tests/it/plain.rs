//! Push, pull, resolve and list against a plain-HTTP registry, with exact request counts.

use crate::common::{assert_kind, bundle, client, reference, runtime, summary, uploads_sorted};
use pacto_registry::{BundleStore, ErrorKind, PushOptions, PushStatus, StoreError};
use pacto_test_support::TestRegistry;

#[test]
fn push_then_pull_round_trips_with_exact_request_counts() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let client = client();
    let original = bundle("payments", "1.0.0");
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));

    registry.clear_requests();
    let pushed = rt
        .block_on(client.push(&target, &original, PushOptions::default()))
        .expect("push");
    assert_eq!(pushed.status, PushStatus::Pushed);
    // distribution 2.8 answers the single-request `POST ?digest=` with 202, so the config
    // and the layer each go up as POST + PUT, concurrently (their requests interleave, so
    // they are compared in order of their text). The last HEAD is the re-read that catches
    // a concurrent push to the same tag.
    assert_eq!(
        uploads_sorted(summary(&registry.requests())),
        vec![
            "HEAD /v2/team/payments/manifests/1.0.0 404",
            "POST /v2/team/payments/blobs/uploads/ 202",
            "POST /v2/team/payments/blobs/uploads/ 202",
            "PUT /v2/team/payments/blobs/uploads/<id> 201",
            "PUT /v2/team/payments/blobs/uploads/<id> 201",
            "PUT /v2/team/payments/manifests/1.0.0 201",
            "HEAD /v2/team/payments/manifests/1.0.0 200",
        ]
    );

    registry.clear_requests();
    let pulled = rt.block_on(client.pull_pinned(&target)).expect("pull");
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(
        pulled.bundle.files(),
        original.files(),
        "every file byte for byte"
    );
    assert_eq!(pulled.bundle.raw_yaml(), original.raw_yaml());
    assert_eq!(
        summary(&registry.requests()),
        vec![
            "GET /v2/team/payments/manifests/1.0.0 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200",
        ],
        "a pull of a tag is two requests"
    );

    registry.clear_requests();
    let digest = rt.block_on(client.resolve(&target)).expect("resolve");
    assert_eq!(digest, pushed.digest);
    assert_eq!(
        summary(&registry.requests()),
        vec!["HEAD /v2/team/payments/manifests/1.0.0 200"]
    );

    registry.clear_requests();
    let tags = rt.block_on(client.list_tags(&target)).expect("tags");
    assert_eq!(tags, vec!["1.0.0".to_owned()]);
    assert_eq!(
        summary(&registry.requests()),
        vec!["GET /v2/team/payments/tags/list 200"]
    );

    // The same bundle again: one HEAD, nothing uploaded.
    registry.clear_requests();
    let again = rt
        .block_on(client.push(&target, &original, PushOptions::default()))
        .expect("push again");
    assert_eq!(again.status, PushStatus::Unchanged);
    assert_eq!(again.digest, pushed.digest);
    assert_eq!(
        summary(&registry.requests()),
        vec!["HEAD /v2/team/payments/manifests/1.0.0 200"]
    );

    // By digest: pinned pulls verify the manifest bytes against the digest.
    let by_digest = reference(&format!(
        "{}/team/payments@{}",
        registry.host(),
        pushed.digest
    ));
    let pinned = rt
        .block_on(client.pull_pinned(&by_digest))
        .expect("pull by digest");
    assert_eq!(pinned.bundle.files(), original.files());
}

#[test]
fn second_push_on_a_known_host_uploads_each_blob_once() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let client = client();
    let first = reference(&format!("{}/team/a:1.0.0", registry.host()));
    rt.block_on(client.push(&first, &bundle("a", "1.0.0"), PushOptions::default()))
        .expect("first push");
    // The host is now known to answer 202: no body is sent with the POST any more.
    registry.clear_requests();
    let second = reference(&format!("{}/team/b:2.0.0", registry.host()));
    rt.block_on(client.push(&second, &bundle("b", "2.0.0"), PushOptions::default()))
        .expect("second push");
    assert_eq!(summary(&registry.requests()).len(), 7);
}

#[test]
fn untagged_push_uses_the_service_version_with_build_metadata_as_underscore() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let client = client();
    let target = reference(&format!("{}/team/payments", registry.host()));
    let outcome = rt
        .block_on(client.push(
            &target,
            &bundle("payments", "1.2.3+build.5"),
            PushOptions::default(),
        ))
        .expect("push");
    assert_eq!(outcome.reference.tag(), Some("1.2.3_build.5"));
    let tags = rt.block_on(client.list_tags(&target)).expect("tags");
    assert_eq!(tags, vec!["1.2.3_build.5".to_owned()]);
}

#[test]
fn conflicting_push_is_refused_unless_forced() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let client = client();
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let first = rt
        .block_on(client.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        ))
        .expect("push");
    let other = bundle("payments-renamed", "1.0.0");
    registry.clear_requests();
    let error = assert_kind(
        rt.block_on(client.push(&target, &other, PushOptions::default())),
        ErrorKind::Conflict,
    );
    let StoreError::Conflict {
        existing, pushing, ..
    } = &error
    else {
        panic!("expected a conflict, got {error:?}");
    };
    assert_ne!(existing, pushing);
    assert!(
        !error.to_string().contains("--force"),
        "no CLI flag in a library message"
    );
    assert_eq!(
        registry.requests().len(),
        1,
        "the conflict is found by one HEAD"
    );
    assert_eq!(
        rt.block_on(client.resolve(&target)).expect("resolve"),
        first.digest
    );

    let forced = rt
        .block_on(client.push(&target, &other, PushOptions::default().with_force(true)))
        .expect("forced push");
    assert_eq!(forced.status, PushStatus::Overwritten);
    assert_ne!(forced.digest, first.digest);
    assert_eq!(
        rt.block_on(client.resolve(&target)).expect("resolve"),
        forced.digest
    );
}

#[test]
fn missing_things_are_not_found() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let client = client();
    let missing = reference(&format!("{}/team/nothing:1.0.0", registry.host()));
    assert_kind(rt.block_on(client.pull(&missing)), ErrorKind::NotFound);
    assert_kind(rt.block_on(client.resolve(&missing)), ErrorKind::NotFound);
    let error = assert_kind(rt.block_on(client.list_tags(&missing)), ErrorKind::NotFound);
    assert!(
        error.to_string().contains("NAME_UNKNOWN"),
        "registry code kept: {error}"
    );
}

#[test]
fn registry_down_is_unreachable() {
    let mut registry = TestRegistry::plain();
    let host = registry.host();
    registry.stop();
    let rt = runtime();
    let client = pacto_registry::RegistryClient::builder()
        .retry(
            pacto_registry::RetryPolicy::default()
                .with_max_retries(1)
                .with_base_delay(std::time::Duration::from_millis(10))
                .with_max_delay(std::time::Duration::from_millis(50)),
        )
        .build()
        .expect("client");
    let target = reference(&format!("{host}/team/payments:1.0.0"));
    let error = assert_kind(rt.block_on(client.pull(&target)), ErrorKind::Unreachable);
    assert!(
        error.is_transient(),
        "connection refused is worth retrying later"
    );
}

#[test]
fn tag_listing_on_distribution_returns_every_tag_in_one_request() {
    // distribution 2.8 ignores `n` on tag lists: 1,051 tags come back in one answer, and the
    // client asks only once (`Link` pagination is exercised in `pagination.rs`).
    let registry = TestRegistry::plain();
    let rt = runtime();
    let client = client();
    let repo = reference(&format!("{}/team/many:0.0.0", registry.host()));
    let pushed = rt
        .block_on(client.push(&repo, &bundle("many", "0.0.0"), PushOptions::default()))
        .expect("push");
    // 1,050 more tags on the same manifest, placed with raw manifest PUTs (its blobs exist).
    let manifest = rt
        .block_on(client.pull_pinned(&repo))
        .expect("pull")
        .manifest;
    assert_eq!(pacto_fs::sha256(&manifest), pushed.digest);
    for i in 1..=1050 {
        pacto_test_support::push_raw(
            registry.url().as_str(),
            "team/many",
            &format!("1.0.{i}"),
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
            &[],
            None,
        );
    }
    registry.clear_requests();
    let tags = rt.block_on(client.list_tags(&repo)).expect("tags");
    assert_eq!(tags.len(), 1051);
    assert!(tags.contains(&"1.0.1050".to_owned()) && tags.contains(&"0.0.0".to_owned()));
    let requests = registry.requests();
    assert_eq!(summary(&requests), vec!["GET /v2/team/many/tags/list 200"]);
    assert!(
        requests[0].path.ends_with("?n=1000"),
        "page size within ECR's limit: {}",
        requests[0].path
    );
}
