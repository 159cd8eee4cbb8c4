//! TLS: a server certificate that is itself in the CA file (self-signed, `CA:TRUE`, as
//! `openssl req -x509` makes it) is trusted after its name and dates are checked; every
//! refused certificate is reported as what it is, and plain http is not tried after it.

use crate::common::{assert_kind, bundle, reference, runtime};
use pacto_registry::{
    BundleStore, CertificateProblem, ErrorKind, PushOptions, RegistryClient, StoreError,
};
use pacto_test_support::{RegistryOptions, ServerCertificate, TestRegistry};

fn self_signed(names: &[&str], expired: bool) -> TestRegistry {
    TestRegistry::start(
        RegistryOptions::plain().with_certificate(ServerCertificate::SelfSigned {
            names: names.iter().map(|&n| n.to_owned()).collect(),
            expired,
        }),
    )
}

fn trusting(registry: &TestRegistry) -> RegistryClient {
    RegistryClient::builder()
        .ca_file(registry.ca_file().expect("the certificate"))
        .build()
        .expect("client")
}

/// The problem of a refused certificate, checking the rest of the error on the way.
fn refused(
    registry: &TestRegistry,
    result: Result<impl std::fmt::Debug, StoreError>,
) -> CertificateProblem {
    let error = assert_kind(result, ErrorKind::Unreachable);
    assert!(!error.is_transient(), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("registry {} unreachable for ", registry.host())),
        "{message}"
    );
    assert!(
        message.contains("its TLS certificate was refused: "),
        "{message}"
    );
    assert!(
        std::error::Error::source(&error).is_none(),
        "the message holds the cause"
    );
    error
        .certificate_problem()
        .cloned()
        .expect("a certificate problem")
}

#[test]
fn a_self_signed_ca_certificate_in_the_ca_file_is_trusted() {
    let registry = self_signed(&["127.0.0.1"], false);
    let rt = runtime();
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let client = trusting(&registry);
    let original = bundle("payments", "1.0.0");
    rt.block_on(client.push(&target, &original, PushOptions::default()))
        .expect("push over TLS with the self-signed certificate trusted");
    let pulled = rt.block_on(client.pull(&target)).expect("pull");
    assert_eq!(pulled.files(), original.files());
    // Everything went over TLS: distribution's TLS listener logs no plain-http request.
    assert!(registry.requests().iter().all(|r| r.status != 400));
}

#[test]
fn an_untrusted_self_signed_certificate_is_an_unknown_issuer_and_final() {
    let registry = self_signed(&["127.0.0.1"], false);
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let untrusting = RegistryClient::builder().build().expect("client");
    let problem = refused(&registry, runtime().block_on(untrusting.pull(&target)));
    assert_eq!(problem, CertificateProblem::UnknownIssuer);
    assert_eq!(problem.to_string(), "unknown issuer");
    // Before, the plain-http retry's "HTTP 400" hid the TLS error: nothing reached the API.
    assert!(registry.requests().is_empty(), "{:?}", registry.requests());
}

#[test]
fn a_trusted_certificate_for_another_name_is_refused() {
    let registry = self_signed(&["127.0.0.2", "registry.example"], false);
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let problem = refused(
        &registry,
        runtime().block_on(trusting(&registry).pull(&target)),
    );
    let CertificateProblem::NameMismatch {
        expected,
        presented,
        ..
    } = problem
    else {
        panic!("expected a name mismatch, got {problem:?}");
    };
    assert_eq!(expected, "127.0.0.1");
    assert_eq!(presented, ["127.0.0.2", "registry.example"]);
}

#[test]
fn a_trusted_but_expired_certificate_is_refused() {
    let registry = self_signed(&["127.0.0.1"], true);
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    let problem = refused(
        &registry,
        runtime().block_on(trusting(&registry).pull(&target)),
    );
    assert_eq!(problem, CertificateProblem::Expired);
}

#[test]
fn a_ca_signed_certificate_without_its_ca_is_an_unknown_issuer() {
    let registry = TestRegistry::start(RegistryOptions::tls());
    let target = reference(&format!("{}/team/payments", registry.host()));
    let untrusting = RegistryClient::builder().build().expect("client");
    let problem = refused(&registry, runtime().block_on(untrusting.list_tags(&target)));
    assert_eq!(problem, CertificateProblem::UnknownIssuer);
}

#[test]
fn when_neither_https_nor_plain_http_answers_the_error_says_both() {
    let host = format!("127.0.0.1:{}", pacto_test_support::free_port());
    let client = RegistryClient::builder()
        .retry(pacto_registry::RetryPolicy::none())
        .build()
        .expect("client");
    let error = assert_kind(
        runtime().block_on(client.list_tags(&reference(&format!("{host}/team/x")))),
        ErrorKind::Unreachable,
    );
    assert!(error.is_transient());
    let message = error.to_string();
    let https = message.find(": https: ").expect("the https attempt");
    let http = message
        .find("; plain http: ")
        .expect("the plain-http attempt");
    assert!(https < http, "{message}");
    assert_eq!(
        message.matches("Connection refused").count(),
        2,
        "{message}"
    );
}
