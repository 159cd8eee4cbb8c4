//! Raw pushes: any manifest bytes and blobs, so tests can place artifacts that pacto itself
//! would never produce.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::digest::digest;
use crate::error::{Error, fail};
use crate::http::{self, Request, Response, Url};
use crate::proxy::FaultProxy;
use crate::registry::TestRegistry;

/// Where to send raw requests: a registry origin and the CA to trust for `https`.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("has_ca", &self.ca_pem.is_some())
            .finish()
    }
}

impl Endpoint {
    /// An endpoint from `http://HOST:PORT`, `https://HOST:PORT` or a bare `HOST:PORT`
    /// (plain HTTP). Other schemes are kept and refused when used.
    pub fn new(url_or_host: &str) -> Self {
        let trimmed = url_or_host.trim_end_matches('/');
        let url = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        Endpoint { url, ca_pem: None }
    }

    /// Trusts the CA certificates in `pem` for `https`.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Trusts the CA certificates in the PEM file `path` for `https`. Panics if it cannot be
    /// read.
    pub fn with_ca_file(self, path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(pem) => self.with_ca_pem(pem),
            Err(e) => fail(
                "could not configure the endpoint",
                &Error::io(format!("read the CA file {}", path.display()), e),
            ),
        }
    }

    /// The origin, e.g. `http://127.0.0.1:5000`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl From<&str> for Endpoint {
    fn from(url_or_host: &str) -> Self {
        Endpoint::new(url_or_host)
    }
}

impl From<String> for Endpoint {
    fn from(url_or_host: String) -> Self {
        Endpoint::new(&url_or_host)
    }
}

impl From<&TestRegistry> for Endpoint {
    fn from(registry: &TestRegistry) -> Self {
        let endpoint = Endpoint::new(&registry.url());
        match registry.ca_pem() {
            Some(pem) => endpoint.with_ca_pem(pem),
            None => endpoint,
        }
    }
}

impl From<&FaultProxy> for Endpoint {
    fn from(proxy: &FaultProxy) -> Self {
        Endpoint::new(&proxy.url())
    }
}

/// Pushes `blobs` (monolithic uploads: `POST` then `PUT ?digest=`) and then `manifest` as
/// `repository:reference` with `Content-Type: manifest_media_type`, and returns the manifest
/// digest (`sha256:...`).
///
/// `reference` is a tag or a digest. `auth` is a user name and password, sent as Basic auth,
/// or exchanged for a bearer token when the registry asks for one. Panics with the registry's
/// answer if the push fails; see [`try_push_raw`].
pub fn push_raw(
    endpoint: impl Into<Endpoint>,
    repository: &str,
    reference: &str,
    manifest_media_type: &str,
    manifest: &[u8],
    blobs: &[&[u8]],
    auth: Option<(&str, &str)>,
) -> String {
    try_push_raw(
        endpoint,
        repository,
        reference,
        manifest_media_type,
        manifest,
        blobs,
        auth,
    )
    .unwrap_or_else(|error| {
        fail(
            &format!("raw push to {repository}:{reference} failed"),
            &error,
        )
    })
}

/// Like [`push_raw`], returning the error instead of panicking.
pub fn try_push_raw(
    endpoint: impl Into<Endpoint>,
    repository: &str,
    reference: &str,
    manifest_media_type: &str,
    manifest: &[u8],
    blobs: &[&[u8]],
    auth: Option<(&str, &str)>,
) -> Result<String, Error> {
    let endpoint = endpoint.into();
    let base = Url::parse(&endpoint.url)?;
    let tls = endpoint
        .ca_pem
        .as_deref()
        .map(crate::pki::client_config)
        .transpose()?;
    let mut client = RawClient {
        tls,
        basic: auth.map(|(user, pass)| (user.to_owned(), pass.to_owned())),
        bearer: None,
    };
    for blob in blobs {
        let start = base.join(&format!("/v2/{repository}/blobs/uploads/"))?;
        let response = client.send("POST", &start, None, Vec::new())?;
        expect(&response, "POST", &start, 202)?;
        let location = response
            .headers
            .get("Location")
            .ok_or_else(|| Error::UnexpectedStatus {
                method: "POST".to_owned(),
                url: start.to_string(),
                status: response.status,
                expected: "202 with a Location header".to_owned(),
                body: response.body_excerpt(),
            })?;
        let mut put = start.join(location)?;
        let separator = if put.target.contains('?') { '&' } else { '?' };
        put.target = format!(
            "{}{separator}digest={}",
            put.target,
            http::percent_encode(&digest(blob))
        );
        let response = client.send("PUT", &put, Some("application/octet-stream"), blob.to_vec())?;
        expect(&response, "PUT", &put, 201)?;
    }
    let url = base.join(&format!("/v2/{repository}/manifests/{reference}"))?;
    let response = client.send("PUT", &url, Some(manifest_media_type), manifest.to_vec())?;
    expect(&response, "PUT", &url, 201)?;
    let expected = digest(manifest);
    match response.headers.get("Docker-Content-Digest") {
        Some(actual) if actual != expected => Err(Error::DigestMismatch {
            url: url.to_string(),
            expected,
            actual: actual.to_owned(),
        }),
        _ => Ok(expected),
    }
}

fn expect(response: &Response, method: &str, url: &Url, status: u16) -> Result<(), Error> {
    if response.status == status {
        return Ok(());
    }
    Err(Error::UnexpectedStatus {
        method: method.to_owned(),
        url: url.to_string(),
        status: response.status,
        expected: status.to_string(),
        body: response.body_excerpt(),
    })
}

/// One-request-per-connection client that answers Basic and Bearer challenges.
struct RawClient {
    tls: Option<Arc<rustls::ClientConfig>>,
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

impl RawClient {
    fn send(
        &mut self,
        method: &str,
        url: &Url,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, Error> {
        let response = self.attempt(method, url, content_type, body.clone())?;
        if response.status != 401 {
            return Ok(response);
        }
        let Some(challenge) = response.headers.get("WWW-Authenticate") else {
            return Ok(response);
        };
        let Some(params) = bearer_params(challenge) else {
            return Ok(response);
        };
        self.bearer = Some(self.fetch_token(&params)?);
        self.attempt(method, url, content_type, body)
    }

    fn attempt(
        &self,
        method: &str,
        url: &Url,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, Error> {
        let mut request = Request::new(method, "");
        if let Some(token) = &self.bearer {
            request
                .headers
                .push("Authorization", format!("Bearer {token}"));
        } else if let Some(basic) = self.basic_header() {
            request.headers.push("Authorization", basic);
        }
        if let Some(content_type) = content_type {
            request.headers.push("Content-Type", content_type);
        }
        request.body = body;
        http::exchange(url, self.tls.as_ref(), request)
    }

    fn basic_header(&self) -> Option<String> {
        self.basic
            .as_ref()
            .map(|(user, pass)| format!("Basic {}", STANDARD.encode(format!("{user}:{pass}"))))
    }

    fn fetch_token(&self, params: &[(String, String)]) -> Result<String, Error> {
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let realm = get("realm").ok_or_else(|| Error::InvalidUrl {
            url: "(Bearer challenge without realm)".to_owned(),
        })?;
        let mut url = Url::parse(realm)?;
        let mut query = Vec::new();
        if let Some(service) = get("service") {
            query.push(format!("service={}", http::percent_encode(service)));
        }
        for scope in get("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            query.push(format!("scope={}", http::percent_encode(scope)));
        }
        if !query.is_empty() {
            let separator = if url.target.contains('?') { '&' } else { '?' };
            url.target = format!("{}{separator}{}", url.target, query.join("&"));
        }
        let mut request = Request::new("GET", "");
        if let Some(basic) = self.basic_header() {
            request.headers.push("Authorization", basic);
        }
        let response = http::exchange(&url, self.tls.as_ref(), request)?;
        expect(&response, "GET", &url, 200)?;
        let json: serde_json::Value =
            serde_json::from_slice(&response.body).map_err(|_| Error::TokenResponse {
                url: url.to_string(),
                body: response.body_excerpt(),
            })?;
        ["token", "access_token"]
            .iter()
            .find_map(|key| json.get(key).and_then(|v| v.as_str()))
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Error::TokenResponse {
                url: url.to_string(),
                body: response.body_excerpt(),
            })
    }
}

/// The `key="value"` parameters of a `Bearer` challenge, or `None` for another scheme.
pub(crate) fn bearer_params(challenge: &str) -> Option<Vec<(String, String)>> {
    let challenge = challenge.trim();
    let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return Some(params);
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
            value = value.trim().to_owned();
        }
        params.push((key.trim().to_owned(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_hosts_and_urls() {
        assert_eq!(
            Endpoint::new("127.0.0.1:5000").url(),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            Endpoint::new("https://127.0.0.1:5000/").url(),
            "https://127.0.0.1:5000"
        );
        assert_eq!(
            Endpoint::from("http://localhost:1").url(),
            "http://localhost:1"
        );
    }

    #[test]
    fn parses_bearer_challenges() {
        let params = bearer_params(
            r#"Bearer realm="http://127.0.0.1:1/token",service="svc",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        )
        .expect("bearer");
        assert_eq!(
            params,
            vec![
                ("realm".into(), "http://127.0.0.1:1/token".into()),
                ("service".into(), "svc".into()),
                ("scope".into(), "repository:a/b:pull,push".into()),
                ("error".into(), "insufficient_scope".into()),
            ]
        );
        assert_eq!(
            bearer_params("bearer realm=http://x/t, service=s").expect("unquoted"),
            vec![
                ("realm".into(), "http://x/t".into()),
                ("service".into(), "s".into())
            ]
        );
        assert_eq!(bearer_params(r#"Basic realm="r""#), None);
    }
}
