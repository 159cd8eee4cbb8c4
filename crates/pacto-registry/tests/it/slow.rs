//! Servers that trickle or stall cannot hold an operation: the low-speed limit ends a body
//! that moves too slowly, the operation deadline ends everything, and neither is retried.

use crate::common::{assert_kind, bundle, runtime};
use pacto_ref::{ArtifactRef, ParseOptions};
use pacto_registry::{
    BundleStore, ErrorKind, LowSpeedLimit, RegistryClient, RegistryClientBuilder, StoreError,
    TimeLimit,
};
use pacto_test_support::{
    FakeArtifact, FakeOptions, FakeRegistry, SlowBody, SlowMode, SlowTarget, digest,
};
use std::time::{Duration, Instant};

/// A low-speed window short enough for tests.
const WINDOW: Duration = Duration::from_secs(2);

fn limit() -> LowSpeedLimit {
    LowSpeedLimit::new(1024, WINDOW)
}

/// A fake registry serving a real bundle under `1.0.0`, with `slow` applied.
fn fake(slow: Option<SlowBody>) -> (FakeRegistry, Vec<u8>) {
    let bundle = bundle("payments", "1.0.0");
    let packed = runtime()
        .block_on(pacto_archive::pack(
            &bundle,
            &pacto_archive::Limits::default(),
        ))
        .expect("pack");
    let artifact = pacto_registry::artifact::build(&bundle, &packed);
    let fake = FakeRegistry::start(FakeOptions {
        artifact: Some(FakeArtifact {
            tag: "1.0.0".into(),
            manifest: artifact.manifest.to_vec(),
            blobs: vec![artifact.config.to_vec(), artifact.layer.to_vec()],
        }),
        slow,
        ..FakeOptions::default()
    });
    (fake, artifact.layer.to_vec())
}

fn reference(fake: &FakeRegistry) -> ArtifactRef {
    let options = ParseOptions::untagged().with_insecure_hosts([fake.host()]);
    ArtifactRef::parse(&format!("{}/team/payments:1.0.0", fake.host()), &options)
        .expect("reference")
}

/// Pulls from `fake` with `builder`; the error and how long it took.
fn failed_pull(fake: &FakeRegistry, builder: RegistryClientBuilder) -> (StoreError, Duration) {
    let client = builder.build().expect("client");
    let started = Instant::now();
    let error = assert_kind(
        runtime().block_on(client.pull(&reference(fake))),
        ErrorKind::Unreachable,
    );
    (error, started.elapsed())
}

fn gets(fake: &FakeRegistry, fragment: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains(fragment))
        .count()
}

#[test]
fn a_fast_pull_is_untouched_by_a_short_window() {
    let (fake, _) = fake(None);
    let client = RegistryClient::builder()
        .low_speed_limit(Some(limit()))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let pulled = runtime()
        .block_on(client.pull(&reference(&fake)))
        .expect("pull");
    assert_eq!(pulled.name(), "payments");
    assert_eq!(fake.requests().len(), 2, "manifest and layer");
}

#[test]
fn a_manifest_trickling_one_byte_per_100ms_is_aborted_after_one_window() {
    let (fake, _) = fake(Some(SlowBody {
        target: SlowTarget::Manifest,
        mode: SlowMode::Trickle {
            interval: Duration::from_millis(100),
        },
    }));
    let (error, elapsed) = failed_pull(
        &fake,
        RegistryClient::builder().low_speed_limit(Some(limit())),
    );
    assert_eq!(error.time_limit(), Some(TimeLimit::LowSpeed(limit())));
    assert!(error.is_transient());
    assert_eq!(
        error.to_string(),
        format!(
            "registry {host} unreachable for {host}/team/payments:1.0.0: the transfer moved \
             less than 1024 bytes per second over 2s, and was aborted",
            host = fake.host()
        )
    );
    assert!(
        elapsed >= WINDOW && elapsed < WINDOW * 3,
        "aborted after one window: {elapsed:?}"
    );
    assert_eq!(gets(&fake, "/manifests/"), 1, "not retried");
}

#[test]
fn a_layer_stalling_after_its_headers_is_aborted_and_not_retried() {
    let (fake, layer) = fake(Some(SlowBody {
        target: SlowTarget::Blob,
        mode: SlowMode::StallAfterHeaders,
    }));
    let (error, elapsed) = failed_pull(
        &fake,
        RegistryClient::builder().low_speed_limit(Some(limit())),
    );
    assert_eq!(
        error.time_limit(),
        Some(TimeLimit::LowSpeed(limit())),
        "{error}"
    );
    assert!(elapsed < WINDOW * 3, "{elapsed:?}");
    assert_eq!(
        gets(&fake, &format!("/blobs/{}", digest(&layer))),
        1,
        "not retried"
    );
}

#[test]
fn the_operation_deadline_ends_a_stall_the_low_speed_limit_would_allow() {
    let (fake, _) = fake(Some(SlowBody {
        target: SlowTarget::Blob,
        mode: SlowMode::StallAfterHeaders,
    }));
    let (error, elapsed) = failed_pull(
        &fake,
        RegistryClient::builder()
            .low_speed_limit(None)
            .timeout(Duration::from_millis(1500)),
    );
    assert_eq!(
        error.time_limit(),
        Some(TimeLimit::deadline(Duration::from_millis(1500)))
    );
    assert!(
        error
            .to_string()
            .ends_with(": the deadline of 1500ms was reached"),
        "{error}"
    );
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}
