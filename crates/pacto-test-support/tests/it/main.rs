//! Integration tests of the test support: real registries, the token issuer, the fault proxy.
//!
//! Every test starts its own registry (free port, temporary storage), so they run in parallel.
//! reqwest (blocking) is the independent client that checks what test support set up.

mod lifecycle;
mod proxy;
mod push;
mod requests;
mod token;
mod variants;

use std::time::Duration;

use pacto_test_support::{TestRegistry, digest};
use reqwest::blocking::{Client, RequestBuilder, Response};

/// OCI image manifest media type.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A manifest with one config blob and one layer blob.
pub(crate) struct Artifact {
    pub(crate) manifest: Vec<u8>,
    pub(crate) config: Vec<u8>,
    pub(crate) layer: Vec<u8>,
}

impl Artifact {
    pub(crate) fn new(layer: &[u8]) -> Artifact {
        let config = br#"{"config":{"Labels":{"io.pacto.name":"svc"}}}"#.to_vec();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(&config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.pacto.bundle.layer.v1.tar+gzip",
                "digest": digest(layer),
                "size": layer.len(),
            }],
        })
        .to_string()
        .into_bytes();
        Artifact {
            manifest,
            config,
            layer: layer.to_vec(),
        }
    }

    pub(crate) fn blobs(&self) -> [&[u8]; 2] {
        [&self.config, &self.layer]
    }

    pub(crate) fn digest(&self) -> String {
        digest(&self.manifest)
    }
}

/// A reqwest client that trusts the registry's CA (if any), never follows redirects and
/// ignores proxy settings from the environment.
pub(crate) fn client_for(registry: &TestRegistry) -> Client {
    builder_for(registry).build().expect("reqwest client")
}

pub(crate) fn builder_for(registry: &TestRegistry) -> reqwest::blocking::ClientBuilder {
    pacto_test_support::install_crypto_provider();
    let builder = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    match registry.ca_pem() {
        Some(pem) => builder.tls_certs_only([
            reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA certificate")
        ]),
        None => builder,
    }
}

/// A plain client (for proxies and origins on plain HTTP).
pub(crate) fn plain_client() -> Client {
    pacto_test_support::install_crypto_provider();
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// Sends and reads the whole body.
pub(crate) fn send(request: RequestBuilder) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response: Response = request.send().expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().expect("body").to_vec();
    (status, headers, body)
}

/// A header as text ("" when absent).
pub(crate) fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Fetches a bearer token from the registry's issuer.
pub(crate) fn bearer_token(
    registry: &TestRegistry,
    scope: &str,
    credentials: Option<(&str, &str)>,
) -> String {
    let client = client_for(registry);
    let realm = registry.token_url().expect("token registry");
    let mut request = client.get(with_query(
        realm,
        &[("service", "pacto-test-registry"), ("scope", scope)],
    ));
    if let Some((user, pass)) = credentials {
        request = request.basic_auth(user, Some(pass));
    }
    let (status, _, body) = send(request);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("token json");
    json["token"].as_str().expect("token field").to_owned()
}

/// `key=value&...` with every byte but RFC 3986 unreserved characters percent-encoded.
pub(crate) fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `url?encoded pairs`.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    format!("{url}?{}", encode_pairs(pairs))
}

/// A form-encoded POST body.
pub(crate) fn form(request: RequestBuilder, pairs: &[(&str, &str)]) -> RequestBuilder {
    request
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode_pairs(pairs))
}
