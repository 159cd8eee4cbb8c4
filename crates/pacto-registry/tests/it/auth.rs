//! Authentication: Basic over TLS, bearer tokens, keychain fall-through, anonymous retry.

use crate::common::{assert_kind, bundle, reference, runtime, summary};
use pacto_auth::{CredentialOptions, Keychain, KeychainConfig, PactoConfigFile, Secret, Source};
use pacto_registry::{BundleStore, ErrorKind, PushOptions, RegistryClient, StoreError};
use pacto_test_support::{Access, RegistryOptions, TestRegistry, TokenUser};
use std::path::Path;

/// A keychain that reads only what the test gives it: explicit options, and optionally a
/// pacto config file and a docker config directory.
fn keychain(options: CredentialOptions, pacto: Option<&Path>, docker: Option<&Path>) -> Keychain {
    let mut config = KeychainConfig::explicit_only().with_path("");
    if let Some(pacto) = pacto {
        config = config.with_pacto_config(pacto).with_pacto_login(true);
    }
    if let Some(docker) = docker {
        config = config.with_docker_config_dir(docker).with_docker(true);
    }
    Keychain::with_config(options, config)
}

fn user_pass(user: &str, pass: &str) -> CredentialOptions {
    CredentialOptions::default()
        .with_username(user)
        .with_password(pass)
}

fn client_for(registry: &TestRegistry, keychain: Keychain) -> RegistryClient {
    let mut builder = RegistryClient::builder().keychain(keychain);
    if let Some(ca) = registry.ca_file() {
        builder = builder.ca_file(ca);
    }
    builder.build().expect("client")
}

fn auth_error(error: StoreError) -> (Vec<String>, Vec<String>, String) {
    let message = error.to_string();
    match error {
        StoreError::Authentication {
            tried, rejected, ..
        } => (tried, rejected, message),
        other => panic!("expected an authentication error, got {other}"),
    }
}

#[test]
fn basic_auth_over_tls_round_trip_and_request_counts() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("alice", "s3cret-pass"));
    let rt = runtime();
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let original = bundle("payments", "1.0.0");
    let pusher = client_for(
        &registry,
        keychain(user_pass("alice", "s3cret-pass"), None, None),
    );
    registry.clear_requests();
    rt.block_on(pusher.push(&target, &original, PushOptions::default()))
        .expect("push over TLS with basic auth");
    let pushed = summary(&registry.requests());
    assert_eq!(
        pushed.len(),
        8,
        "the 401 challenge is the only extra request: {pushed:#?}"
    );
    assert_eq!(pushed[0], "HEAD /v2/team/payments/manifests/1.0.0 401");
    assert_eq!(pushed[1], "HEAD /v2/team/payments/manifests/1.0.0 404");

    let puller = client_for(
        &registry,
        keychain(user_pass("alice", "s3cret-pass"), None, None),
    );
    registry.clear_requests();
    let pulled = rt.block_on(puller.pull(&target)).expect("pull");
    assert_eq!(pulled.files(), original.files());
    assert_eq!(
        summary(&registry.requests()),
        vec![
            "GET /v2/team/payments/manifests/1.0.0 401",
            "GET /v2/team/payments/manifests/1.0.0 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200",
        ]
    );
}

#[test]
fn wrong_password_names_the_source_tried_and_rejected() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("alice", "right"));
    let rt = runtime();
    let client = client_for(&registry, keychain(user_pass("alice", "wrong"), None, None));
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let error = assert_kind(rt.block_on(client.pull(&target)), ErrorKind::Authentication);
    let (tried, rejected, message) = auth_error(error);
    assert_eq!(tried, vec!["env user/pass"]);
    assert_eq!(rejected, vec!["env user/pass"]);
    // The library carries the data; only the CLI names its own commands.
    assert!(!message.contains("pacto-oci login"), "{message}");
    assert!(
        message.contains("(tried: env user/pass; rejected: env user/pass)"),
        "{message}"
    );
    assert!(
        !message.contains("wrong"),
        "no secret in the message: {message}"
    );
}

#[test]
fn no_credentials_at_all_is_an_authentication_error() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("alice", "right"));
    let rt = runtime();
    let client = client_for(&registry, Keychain::anonymous());
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let (tried, rejected, _) = auth_error(assert_kind(
        rt.block_on(client.resolve(&target)),
        ErrorKind::Authentication,
    ));
    assert!(tried.is_empty() && rejected.is_empty());
}

#[test]
fn keychain_sources_fall_through_in_order() {
    let registry = TestRegistry::start(RegistryOptions::token_users(
        vec![TokenUser::new("alice", "right", Access::PullPush)],
        Access::None,
    ));
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let pacto_config = temp.path().join("pacto/config.json");
    PactoConfigFile::at(&pacto_config)
        .login(&registry.host(), "alice", &Secret::new("stale"))
        .expect("pacto login");
    let docker_dir = temp.path().join("docker");
    std::fs::create_dir_all(&docker_dir).unwrap();
    let write_docker = |password: &str| {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"));
        std::fs::write(
            docker_dir.join("config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
                registry.host()
            ),
        )
        .unwrap();
    };
    let options = CredentialOptions::default().with_token("not-a-valid-token");
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));

    // Every source wrong: the error lists them all, in order.
    write_docker("also-wrong");
    let client = client_for(
        &registry,
        keychain(options.clone(), Some(&pacto_config), Some(&docker_dir)),
    );
    let (tried, rejected, _) = auth_error(assert_kind(
        rt.block_on(client.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        )),
        ErrorKind::Authentication,
    ));
    assert_eq!(tried, vec!["env token", "pacto login", "docker"]);
    assert_eq!(rejected, tried);

    // The last source right: the push goes through after two rejections.
    write_docker("right");
    let client = client_for(
        &registry,
        keychain(options, Some(&pacto_config), Some(&docker_dir)),
    );
    rt.block_on(client.push(
        &target,
        &bundle("payments", "1.0.0"),
        PushOptions::default(),
    ))
    .expect("docker credentials accepted");
    // The rejected explicit token is reported, once, with the source used instead.
    let fallbacks = client.credential_fallbacks();
    assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");
    assert_eq!(
        (
            fallbacks[0].registry.as_str(),
            fallbacks[0].rejected,
            fallbacks[0].used
        ),
        (
            registry.host().as_str(),
            Source::EnvToken,
            Some(Source::Docker)
        )
    );
}

#[test]
fn explicit_credentials_go_only_to_their_hosts() {
    let registry = TestRegistry::start(RegistryOptions::basic("alice", "right"));
    let rt = runtime();
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let elsewhere = user_pass("alice", "right").with_hosts(["127.0.0.1:1", "docker.io"]);
    let client = client_for(&registry, keychain(elsewhere, None, None));
    let (tried, _, message) = auth_error(assert_kind(
        rt.block_on(client.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        )),
        ErrorKind::Authentication,
    ));
    assert!(tried.is_empty(), "not offered: {tried:?}");
    assert!(message.contains("no credentials found"), "{message}");

    let here = user_pass("alice", "right").with_hosts([registry.host()]);
    let client = client_for(&registry, keychain(here, None, None));
    rt.block_on(client.push(
        &target,
        &bundle("payments", "1.0.0"),
        PushOptions::default(),
    ))
    .expect("offered to the listed registry");
    assert!(client.credential_fallbacks().is_empty());
}

#[test]
fn bearer_tokens_are_fetched_once_per_scope_and_cached() {
    let registry = TestRegistry::start(RegistryOptions::token("alice", "right"));
    let rt = runtime();
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let client = client_for(&registry, keychain(user_pass("alice", "right"), None, None));
    rt.block_on(client.push(
        &target,
        &bundle("payments", "1.0.0"),
        PushOptions::default(),
    ))
    .expect("push with a token");

    let puller = client_for(&registry, keychain(user_pass("alice", "right"), None, None));
    let mark = registry.mark();
    rt.block_on(puller.pull(&target)).expect("first pull");
    assert_eq!(
        summary(&registry.requests_since(mark)),
        vec![
            "GET /v2/team/payments/manifests/1.0.0 401",
            "GET /v2/team/payments/manifests/1.0.0 200",
            "GET /v2/team/payments/blobs/sha256:<d> 200",
        ]
    );
    assert_eq!(registry.token_requests_since(mark), 1);

    let mark = registry.mark();
    rt.block_on(puller.pull(&target)).expect("second pull");
    assert_eq!(
        registry.requests_since(mark).len(),
        2,
        "no challenge the second time"
    );
    assert_eq!(
        registry.token_requests_since(mark),
        0,
        "the token is cached"
    );
}

#[test]
fn rejected_credentials_on_a_public_pull_fall_back_to_anonymous() {
    let registry = TestRegistry::start(RegistryOptions::token_users(
        vec![TokenUser::new("alice", "right", Access::PullPush)],
        Access::Pull,
    ));
    let rt = runtime();
    let target = reference(&format!("{}/public/payments:1.0.0", registry.host()));
    let owner = client_for(&registry, keychain(user_pass("alice", "right"), None, None));
    let original = bundle("payments", "1.0.0");
    rt.block_on(owner.push(&target, &original, PushOptions::default()))
        .expect("push");

    let stale = client_for(
        &registry,
        keychain(user_pass("alice", "revoked"), None, None),
    );
    let pulled = rt
        .block_on(stale.pull(&target))
        .expect("anonymous pull after the stale credential is rejected");
    assert_eq!(pulled.files(), original.files());
    let fallbacks = stale.credential_fallbacks();
    assert_eq!(
        fallbacks
            .iter()
            .map(|f| (f.rejected, f.used))
            .collect::<Vec<_>>(),
        vec![(Source::EnvUserPass, None)],
        "the rejected password is reported, anonymous access used instead"
    );

    // A push does not fall back to anonymous.
    let (tried, rejected, _) = auth_error(assert_kind(
        rt.block_on(stale.push(
            &target.with_tag("2.0.0"),
            &bundle("payments", "2.0.0"),
            PushOptions::default(),
        )),
        ErrorKind::Authentication,
    ));
    assert_eq!(tried, vec!["env user/pass"]);
    assert_eq!(rejected, vec!["env user/pass"]);
}

#[test]
fn pull_only_user_cannot_push() {
    let registry = TestRegistry::start(RegistryOptions::token_users(
        vec![TokenUser::new("reader", "pw", Access::Pull)],
        Access::None,
    ));
    let rt = runtime();
    let client = client_for(&registry, keychain(user_pass("reader", "pw"), None, None));
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    assert_kind(
        rt.block_on(client.push(
            &target,
            &bundle("payments", "1.0.0"),
            PushOptions::default(),
        )),
        ErrorKind::Authentication,
    );
}
