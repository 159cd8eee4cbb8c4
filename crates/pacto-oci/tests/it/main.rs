//! The facade: its example against the real registry, and its error kinds.

mod builder;
mod progress;
mod push_dir;

use pacto_oci::{Bundle, Client, ErrorKind, ResolveMode};
use pacto_test_support::{RegistryOptions, TestRegistry};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/debug/examples/<name>`, built by `cargo test` next to this test binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe.parent().and_then(Path::parent).expect("target/debug");
    debug.join("examples").join(name)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_push_pull_example_runs_against_the_registry() {
    let registry = TestRegistry::plain();
    let temp = tempfile::tempdir().unwrap();
    // The bundle is written here, not read from the workspace's examples/: the test must run
    // from the published package too.
    let bundle_dir = temp.path().join("payments");
    std::fs::create_dir_all(bundle_dir.join("api")).unwrap();
    std::fs::write(
        bundle_dir.join("pacto.yaml"),
        "pactoVersion: \"1.0\"\nservice:\n  name: payments\n  version: 1.0.0\n\
         interfaces:\n  - name: api\n    type: http\n    port: 8080\n    contract: api/openapi.yaml\n",
    )
    .unwrap();
    std::fs::write(bundle_dir.join("api/openapi.yaml"), "openapi: 3.0.0\n").unwrap();
    let output = Command::new(example("push_pull"))
        .arg(&bundle_dir)
        .arg(format!("{}/demo/payments", registry.host()))
        .env("PACTO_CACHE_DIR", temp.path())
        .output()
        .expect("the example was built by cargo test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("pushed") && stdout.contains("(pushed)"),
        "{stdout}"
    );
    assert!(stdout.contains("versions: 1.0.0"), "{stdout}");
    assert!(stdout.contains(":1.0.0 sha256:"), "{stdout}");
}

#[test]
fn errors_carry_the_go_kinds() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("alice", "right"));
    let temp = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .credentials(
            pacto_oci::CredentialOptions::default()
                .with_username("alice")
                .with_password("wrong"),
        )
        .keychain_config(pacto_oci::auth::KeychainConfig::explicit_only())
        .ca_file(registry.ca_file().unwrap())
        .cache_dir(temp.path())
        .build()
        .unwrap();
    let rt = runtime();
    let error = rt
        .block_on(client.pull(
            &format!("{}/team/x:1.0.0", registry.host()),
            "",
            ResolveMode::RemoteAllowed,
        ))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Authentication);
    let tried = vec!["env user/pass".to_owned()];
    assert_eq!(
        error.credential_sources(),
        Some((tried.as_slice(), tried.as_slice()))
    );
    let error = rt.block_on(client.versions("Not A Ref!")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidReference);

    let layout = format!("oci-layout:{}", temp.path().join("layout").display());
    let yaml = "pactoVersion: \"1.0\"\nservice:\n  name: x\n  version: 1.0.0\n";
    let bundle = Bundle::from_files([("pacto.yaml".to_owned(), yaml.into())].into()).unwrap();
    rt.block_on(client.push(&layout, &bundle, false)).unwrap();
    let error = rt
        .block_on(client.pull(&layout, "^2", ResolveMode::RemoteAllowed))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NoMatchingVersion);
    let error = rt
        .block_on(client.pull(&format!("{layout}:9.0.0"), "", ResolveMode::LocalOnly))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

/// The transport's edges through the facade: a refused certificate and a deadline are
/// `Unreachable`, with their data reachable through `Error::store_error`.
#[test]
fn certificate_and_deadline_failures_are_unreachable_with_their_data() {
    use pacto_oci::registry::{CertificateProblem, TimeLimit};
    use pacto_test_support::{
        FakeArtifact, FakeOptions, FakeRegistry, ServerCertificate, SlowBody, SlowMode, SlowTarget,
    };
    use std::time::Duration;

    let temp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let registry = TestRegistry::start(
        RegistryOptions::plain().with_certificate(ServerCertificate::self_signed()),
    );
    let client = Client::builder().cache_dir(temp.path()).build().unwrap();
    let error = rt
        .block_on(client.versions(&format!("{}/team/x", registry.host())))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    assert!(!error.is_transient());
    assert_eq!(
        error.store_error().and_then(|e| e.certificate_problem()),
        Some(&CertificateProblem::UnknownIssuer)
    );

    let fake = FakeRegistry::start(FakeOptions {
        artifact: Some(FakeArtifact {
            tag: "1.0.0".into(),
            manifest: b"{}".to_vec(),
            blobs: Vec::new(),
        }),
        slow: Some(SlowBody {
            target: SlowTarget::Manifest,
            mode: SlowMode::StallAfterHeaders,
        }),
        ..FakeOptions::default()
    });
    let client = Client::builder()
        .cache_dir(temp.path())
        .plain_http(fake.host())
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let error = rt
        .block_on(client.pull(
            &format!("{}/team/x:1.0.0", fake.host()),
            "",
            ResolveMode::RemoteAllowed,
        ))
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    assert!(error.is_transient());
    assert_eq!(
        error.store_error().and_then(|e| e.time_limit()),
        Some(TimeLimit::deadline(Duration::from_secs(1)))
    );
    assert_eq!(error.to_string(), "cannot pull");
    let store = error
        .store_error()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        store.ends_with(": the deadline of 1s was reached"),
        "{store}"
    );
    assert!(client.credential_fallbacks().is_empty());
}

/// A client built with raised limits pushes and pulls an 11 MiB file, to a registry and to a
/// layout; a client with the default limits refuses to push it (before any request) and to
/// pull what the other pushed. One `Limits` value governs every direction.
#[test]
fn raised_limits_on_the_builder_apply_to_push_and_pull() {
    use pacto_oci::Limits;
    let registry = TestRegistry::plain();
    let temp = tempfile::tempdir().unwrap();
    let yaml = "pactoVersion: \"1.0\"\nservice:\n  name: big\n  version: 1.0.0\n";
    // Incompressible, so the layer is as large as the file.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let big: Vec<u8> = (0..11 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let bundle = Bundle::from_files(
        [
            ("pacto.yaml".to_owned(), yaml.into()),
            ("data/big.bin".to_owned(), big.clone().into()),
        ]
        .into(),
    )
    .unwrap();
    let client = |limits: Limits, cache: &str| {
        Client::builder()
            .limits(limits)
            .cache_dir(temp.path().join(cache))
            .build()
            .unwrap()
    };
    let raised = Limits::default().with_max_file_size(12 * 1024 * 1024);
    let (strict, relaxed) = (
        client(Limits::default(), "strict"),
        client(raised, "relaxed"),
    );
    assert_eq!(relaxed.limits(), &raised);
    let rt = runtime();
    let remote = format!("{}/limits/big", registry.host());
    let layout = format!("oci-layout:{}", temp.path().join("layout").display());
    for target in [&remote, &layout] {
        registry.clear_requests();
        let error = rt
            .block_on(strict.push(target, &bundle, false))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidBundle, "{target}: {error}");
        let message = error.to_string() + &source_chain(&error);
        assert!(
            message.contains("\"data/big.bin\"")
                && message.contains("10485760-byte per-file limit"),
            "{target}: {message}"
        );
        assert_eq!(
            registry.requests(),
            [],
            "{target}: a refused push sent requests"
        );
        assert!(
            !temp.path().join("layout").exists(),
            "a refused push wrote the layout"
        );

        let pushed = rt.block_on(relaxed.push(target, &bundle, false)).unwrap();
        assert_eq!(pushed.status, pacto_oci::PushStatus::Pushed, "{target}");
        let pulled = rt
            .block_on(relaxed.pull(&format!("{target}:1.0.0"), "", ResolveMode::RemoteAllowed))
            .unwrap();
        assert_eq!(pulled.digest, pushed.digest, "{target}");
        assert_eq!(pulled.bundle.files()["data/big.bin"], big, "{target}");

        let error = rt
            .block_on(strict.pull(&format!("{target}:1.0.0"), "", ResolveMode::RemoteAllowed))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidBundle, "{target}: {error}");
    }
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
