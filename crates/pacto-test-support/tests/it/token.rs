//! The token issuer: tokens the real registry accepts, grants per user, exact counts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pacto_test_support::{
    Access, Error, Operation, RegistryOptions, TestRegistry, TokenRequest, TokenUser, push_raw,
    try_push_raw,
};

use crate::{Artifact, OCI_MANIFEST, bearer_token, client_for, form, header, send, with_query};

fn claims(token: &str) -> serde_json::Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("header b64"))
            .expect("header json");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["x5c"].as_array().map(Vec::len), Some(1));
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("claims b64"))
        .expect("claims json")
}

#[test]
fn tokens_are_signed_jwts_the_registry_accepts() {
    let registry = TestRegistry::start(RegistryOptions::token("bob", "builder"));
    let token = bearer_token(
        &registry,
        "repository:team/app:pull,push",
        Some(("bob", "builder")),
    );
    let claims = claims(&token);
    assert_eq!(claims["iss"], "pacto-test-support");
    assert_eq!(claims["aud"], "pacto-test-registry");
    assert_eq!(claims["sub"], "bob");
    assert_eq!(
        claims["access"],
        serde_json::json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
    );
    let client = client_for(&registry);
    let (status, _, _) = send(
        client
            .get(format!("{}/v2/", registry.url()))
            .bearer_auth(&token),
    );
    assert_eq!(status, 200);
    // The registry starts an upload with this token: push access is honoured.
    let (status, _, _) = send(
        client
            .post(format!("{}/v2/team/app/blobs/uploads/", registry.url()))
            .bearer_auth(&token),
    );
    assert_eq!(status, 202);
    // A tampered token is refused.
    let (signed, signature) = token.rsplit_once('.').expect("three parts");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    let (status, _, _) = send(
        client
            .get(format!("{}/v2/", registry.url()))
            .bearer_auth(tampered),
    );
    assert_eq!(status, 401);
}

#[test]
fn the_issuer_answers_the_documented_json() {
    let registry = TestRegistry::start(RegistryOptions::token("bob", "builder"));
    let client = client_for(&registry);
    let realm = registry.token_url().expect("realm");
    let (status, headers, body) = send(
        client
            .get(with_query(
                realm,
                &[
                    ("service", "pacto-test-registry"),
                    ("scope", "repository:a:pull"),
                ],
            ))
            .basic_auth("bob", Some("builder")),
    );
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["token"], json["access_token"]);
    assert_eq!(json["expires_in"], 300);
    let issued_at = json["issued_at"].as_str().expect("issued_at");
    assert!(
        issued_at.len() == 20 && issued_at.ends_with('Z'),
        "{issued_at}"
    );

    // OAuth2 password grant (POST form).
    let (status, _, body) = send(form(
        client.post(realm),
        &[
            ("grant_type", "password"),
            ("username", "bob"),
            ("password", "builder"),
            ("service", "pacto-test-registry"),
            ("scope", "repository:a:pull"),
            ("client_id", "pacto-tests"),
        ],
    ));
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(json["access_token"].as_str().is_some_and(|t| !t.is_empty()));

    // Refusals.
    let table: [(reqwest::blocking::RequestBuilder, u16); 4] = [
        (
            client
                .get(with_query(realm, &[("service", "pacto-test-registry")]))
                .basic_auth("bob", Some("wrong")),
            401,
        ),
        (
            client.get(with_query(realm, &[("service", "another-service")])),
            400,
        ),
        (client.get(with_query(realm, &[("scope", "nonsense")])), 400),
        (
            form(
                client.post(realm),
                &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            ),
            400,
        ),
    ];
    for (request, expected) in table {
        let (status, _, body) = send(request);
        assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
    }
    let log = registry.token_log();
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 401, 400, 400, 400]
    );
    assert_eq!(log[2].account.as_deref(), Some("bob"));
    assert_eq!(registry.token_requests(), 6);
}

#[test]
fn anonymous_and_read_only_users_get_reduced_access() {
    let users = vec![
        TokenUser::new("writer", "w", Access::PullPush),
        TokenUser::new("reader", "r", Access::Pull),
    ];
    let registry = TestRegistry::start(RegistryOptions::token_users(users, Access::None));
    let artifact = Artifact::new(b"private layer");
    push_raw(
        &registry,
        "priv/app",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("writer", "w")),
    );
    let client = client_for(&registry);
    let manifest_url = format!("{}/v2/priv/app/manifests/1", registry.url());

    // Anonymous: a token with no access, which the registry refuses for a pull.
    let anonymous = bearer_token(&registry, "repository:priv/app:pull", None);
    assert_eq!(
        claims(&anonymous)["access"],
        serde_json::json!([{"type": "repository", "name": "priv/app", "actions": []}])
    );
    let (status, headers, _) = send(
        client
            .get(&manifest_url)
            .header("Accept", OCI_MANIFEST)
            .bearer_auth(&anonymous),
    );
    assert_eq!(status, 401);
    assert!(header(&headers, "www-authenticate").contains(r#"error="insufficient_scope""#));

    // Read-only: pull works, push is refused.
    let reader = bearer_token(
        &registry,
        "repository:priv/app:pull,push",
        Some(("reader", "r")),
    );
    let (status, _, body) = send(
        client
            .get(&manifest_url)
            .header("Accept", OCI_MANIFEST)
            .bearer_auth(&reader),
    );
    assert_eq!((status, body), (200, artifact.manifest.clone()));
    let (status, _, _) = send(
        client
            .post(format!("{}/v2/priv/app/blobs/uploads/", registry.url()))
            .bearer_auth(&reader),
    );
    assert_eq!(status, 401);
    let error = try_push_raw(
        &registry,
        "priv/app",
        "2",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("reader", "r")),
    )
    .expect_err("a read-only user cannot push");
    assert!(
        matches!(error, Error::UnexpectedStatus { status: 401, .. }),
        "{error}"
    );

    let granted: Vec<Vec<String>> = registry
        .token_log()
        .iter()
        .map(|r| r.granted.clone())
        .collect();
    assert_eq!(granted[1], ["repository:priv/app:"]);
    assert_eq!(granted[2], ["repository:priv/app:pull"]);
}

#[test]
fn token_requests_are_counted_exactly_per_operation() {
    let registry = TestRegistry::start(RegistryOptions::token("bob", "builder"));
    let artifact = Artifact::new(b"counted");
    let mark = registry.mark();
    push_raw(
        &registry,
        "c/app",
        "1",
        OCI_MANIFEST,
        &artifact.manifest,
        &artifact.blobs(),
        Some(("bob", "builder")),
    );
    assert_eq!(registry.token_requests_since(mark), 1);
    // The registry lists the actions of its challenge in no fixed order.
    let sorted = |scopes: &[String]| -> Vec<String> {
        scopes
            .iter()
            .map(|scope| {
                let (resource, actions) = scope.rsplit_once(':').expect("type:name:actions");
                let mut actions: Vec<&str> = actions.split(',').collect();
                actions.sort_unstable();
                format!("{resource}:{}", actions.join(","))
            })
            .collect()
    };
    let log: Vec<TokenRequest> = registry
        .token_log()
        .into_iter()
        .map(|r| TokenRequest {
            scopes: sorted(&r.scopes),
            granted: sorted(&r.granted),
            ..r
        })
        .collect();
    assert_eq!(
        log,
        [TokenRequest {
            account: Some("bob".to_owned()),
            scopes: vec!["repository:c/app:pull,push".to_owned()],
            granted: vec!["repository:c/app:pull,push".to_owned()],
            status: 200,
        }]
    );
    let operations: Vec<(Operation, u16)> = registry
        .requests_since(mark)
        .iter()
        .map(|r| (r.operation(), r.status))
        .collect();
    assert_eq!(
        operations,
        [
            (Operation::UploadStart, 401),
            (Operation::UploadStart, 202),
            (Operation::UploadComplete, 201),
            (Operation::UploadStart, 202),
            (Operation::UploadComplete, 201),
            (Operation::ManifestPut, 201),
        ]
    );
    registry.clear_requests();
    assert_eq!(registry.token_requests(), 0);
    assert_eq!(registry.token_log(), []);
}
