//! Each registry variant starts, challenges correctly, and round-trips a raw push.

use pacto_test_support::{
    Access, Auth, Operation, RegistryOptions, ServerCertificate, TestRegistry, TokenUser, digest,
    push_raw,
};
use reqwest::blocking::RequestBuilder;

use crate::{Artifact, OCI_MANIFEST, bearer_token, client_for, header, send};

/// Adds the credentials this registry wants for pulling `repository`.
fn authorize(registry: &TestRegistry, request: RequestBuilder, repository: &str) -> RequestBuilder {
    match &registry.options().auth {
        Auth::None => request,
        Auth::Basic { users } => request.basic_auth(&users[0].username, Some(&users[0].password)),
        Auth::Token { .. } => {
            let scope = format!("repository:{repository}:pull");
            request.bearer_auth(bearer_token(registry, &scope, registry.credentials()))
        }
    }
}

fn check_variant(options: RegistryOptions) {
    let registry = TestRegistry::start(options);
    let client = client_for(&registry);
    let scheme = if registry.is_tls() { "https" } else { "http" };
    assert_eq!(registry.url(), format!("{scheme}://{}", registry.host()));
    assert_eq!(registry.ca_file().is_some(), registry.is_tls());

    // Unauthenticated version check: 200, or 401 with the right challenge.
    let (status, headers, _) = send(client.get(format!("{}/v2/", registry.url())));
    let challenge = header(&headers, "www-authenticate");
    match &registry.options().auth {
        Auth::None => assert_eq!((status, challenge.as_str()), (200, "")),
        Auth::Basic { .. } => {
            assert_eq!(
                (status, challenge.as_str()),
                (401, r#"Basic realm="pacto-test-registry""#)
            );
        }
        Auth::Token { .. } => {
            let realm = registry.token_url().expect("realm");
            assert!(
                realm.starts_with(&format!("{scheme}://127.0.0.1:")),
                "{realm}"
            );
            let expected = format!(r#"Bearer realm="{realm}",service="pacto-test-registry""#);
            assert_eq!((status, challenge), (401, expected));
        }
    }

    // Authenticated version check.
    let (status, _, _) = send(authorize(
        &registry,
        client.get(format!("{}/v2/", registry.url())),
        "team/app",
    ));
    assert_eq!(status, 200);

    // Raw push, then the manifest and the layer read back with an independent client.
    let artifact = Artifact::new(b"layer bytes of a variant test");
    let pushed = push_raw(
        &registry,
        "team/app",
        "1.0.0",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        registry.credentials(),
    );
    assert_eq!(pushed, artifact.digest());
    let manifest_url = format!("{}/v2/team/app/manifests/1.0.0", registry.url());
    let request = client.get(&manifest_url).header("Accept", OCI_MANIFEST);
    let (status, headers, body) = send(authorize(&registry, request, "team/app"));
    assert_eq!(status, 200);
    assert_eq!(body, artifact.manifest);
    assert_eq!(header(&headers, "docker-content-digest"), pushed);
    assert_eq!(header(&headers, "content-type"), OCI_MANIFEST);
    let blob_url = format!(
        "{}/v2/team/app/blobs/{}",
        registry.url(),
        digest(&artifact.layer)
    );
    let (status, _, body) = send(authorize(&registry, client.get(&blob_url), "team/app"));
    assert_eq!((status, body), (200, artifact.layer.clone()));

    // The registry saw exactly the pushes and pulls, in order (token requests go to the issuer).
    let operations: Vec<Operation> = registry.requests().iter().map(|r| r.operation()).collect();
    let push = [
        Operation::UploadStart,
        Operation::UploadComplete,
        Operation::UploadStart,
        Operation::UploadComplete,
        Operation::ManifestPut,
    ];
    // Two version checks (without, then with credentials).
    let mut expected = vec![Operation::Ping, Operation::Ping];
    if matches!(registry.options().auth, Auth::Token { .. }) {
        // The raw client is challenged once (401) on its first upload, then reuses its token;
        // basic credentials are sent up front.
        expected.push(Operation::UploadStart);
    }
    expected.extend(push);
    expected.extend([Operation::ManifestGet, Operation::BlobGet]);
    assert_eq!(operations, expected);
}

#[test]
fn plain_http_without_auth() {
    check_variant(RegistryOptions::plain());
}

#[test]
fn tls_without_auth() {
    check_variant(RegistryOptions::tls());
}

#[test]
fn basic_auth_over_plain_http() {
    check_variant(RegistryOptions::basic("alice", "wonderland"));
}

#[test]
fn tls_with_basic_auth() {
    check_variant(RegistryOptions::tls_basic("alice", "wonderland"));
}

#[test]
fn token_auth_over_plain_http() {
    check_variant(RegistryOptions::token("bob", "builder"));
}

#[test]
fn token_auth_over_tls() {
    check_variant(RegistryOptions::token("bob", "builder").with_tls(true));
}

#[test]
fn tls_certificate_covers_localhost() {
    let registry = TestRegistry::start(RegistryOptions::tls());
    let ca = std::fs::read_to_string(registry.ca_file().expect("ca file")).expect("read ca");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let client = client_for(&registry);
    let (status, _, _) = send(client.get(format!("https://localhost:{}/v2/", registry.port())));
    assert_eq!(status, 200);
    // Without the CA the certificate is not trusted.
    pacto_test_support::install_crypto_provider();
    let untrusting = reqwest::blocking::Client::builder()
        .no_proxy()
        .tls_certs_only([])
        .build()
        .expect("client");
    let error = untrusting
        .get(format!("{}/v2/", registry.url()))
        .send()
        .expect_err("an unknown CA must be refused");
    assert!(error.is_connect(), "{error:?}");
}

/// The self-signed variants start (their readiness probe accepts exactly their certificate),
/// and their "CA file" is the certificate itself, one PEM block.
#[test]
fn self_signed_variants_start_and_serve_their_certificate() {
    for certificate in [
        ServerCertificate::self_signed(),
        ServerCertificate::SelfSigned {
            names: vec!["127.0.0.2".into()],
            expired: false,
        },
        ServerCertificate::SelfSigned {
            names: vec!["127.0.0.1".into()],
            expired: true,
        },
    ] {
        let registry = TestRegistry::start(RegistryOptions::plain().with_certificate(certificate));
        assert!(registry.is_tls());
        let pem = registry.ca_pem().expect("the certificate");
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1, "{pem}");
        let served = std::fs::read_to_string(registry.ca_file().expect("file")).expect("read");
        assert_eq!(served, pem);
        assert!(registry.requests().is_empty());
    }
}

#[test]
fn basic_auth_rejects_a_wrong_password() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("alice", "wonderland"));
    let client = client_for(&registry);
    let (status, _, _) = send(
        client
            .get(format!("{}/v2/", registry.url()))
            .basic_auth("alice", Some("nope")),
    );
    assert_eq!(status, 401);
    assert_eq!(registry.users().len(), 1);
    assert_eq!(registry.credentials(), Some(("alice", "wonderland")));
}

#[test]
fn several_token_users_with_their_access() {
    let users = vec![
        TokenUser::new("writer", "w", Access::PullPush),
        TokenUser::new("reader", "r", Access::Pull),
    ];
    let registry = TestRegistry::start(RegistryOptions::token_users(users, Access::Pull));
    assert_eq!(
        registry
            .users()
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["writer", "reader"]
    );
    let artifact = Artifact::new(b"public layer");
    push_raw(
        &registry,
        "pub/app",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("writer", "w")),
    );
    // Anonymous pull works on a public-read registry.
    let client = client_for(&registry);
    let token = bearer_token(&registry, "repository:pub/app:pull", None);
    let (status, _, body) = send(
        client
            .get(format!("{}/v2/pub/app/manifests/1", registry.url()))
            .header("Accept", OCI_MANIFEST)
            .bearer_auth(token),
    );
    assert_eq!((status, body), (200, artifact.manifest));
}
