//! HTTP to registries: schemes, retries, authentication and the token cache.
//!
//! This is plain `reqwest` rather than `oci_client::Client`, because the request budget and the
//! auth rules need control `oci-client` does not give: it pings `/v2/` before every first
//! operation (one more round trip), authenticates with a single credential chosen up front (no
//! fall-through along the keychain, no anonymous retry), has no `https`-then-`http` fallback
//! per host and no single-request `POST ?digest=` upload. `oci-client` still supplies the OCI
//! data model (manifest and descriptor types, media types).
//!
//! Flow of one request: the first request to a host goes out anonymous (or with what the host
//! accepted earlier in this process). A `401` carries the challenge; the keychain's candidates
//! are then tried in order (Basic: the credential itself; Bearer: a token fetched from the
//! realm for the request's scope), falling through on `401`/`403`. Tokens are cached per host
//! and scope until they expire, and the accepted credential is remembered per host, so later
//! scopes cost one token request and no challenge.

use crate::error::{RegistryMessage, StoreError, TimeLimit};
use crate::tls::{self, TlsFailure};
use base64::Engine as _;
use bytes::Bytes;
use pacto_auth::{Candidate, Credential, Keychain, Source};
use pacto_ref::SchemePolicy;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// HTTP/2 flow-control window of one stream (a blob download): 6 MiB.
const HTTP2_STREAM_WINDOW: u32 = 6 << 20;
/// HTTP/2 flow-control window of a connection: 12 MiB.
const HTTP2_CONNECTION_WINDOW: u32 = 12 << 20;
/// Request bodies of this many bytes or more (a blob upload's chunks) go over HTTP/1.1.
const HTTP1_BODY_FROM: usize = 1 << 20;

/// How requests are retried.
///
/// The struct is `#[non_exhaustive]`: start from [`RetryPolicy::default`] (3 retries, 200 ms
/// doubling to at most 10 s) or [`RetryPolicy::none`] and change what you need with the
/// `with_*` methods.
///
/// ```
/// use pacto_registry::RetryPolicy;
/// use std::time::Duration;
/// let quick = RetryPolicy::default()
///     .with_max_retries(1)
///     .with_base_delay(Duration::from_millis(10));
/// assert_eq!(quick.max_delay, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// First backoff; doubled on every retry, plus up to 100% jitter.
    pub base_delay: Duration,
    /// Upper bound for any single wait, including a registry's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is tried once.
    pub fn none() -> Self {
        RetryPolicy::default().with_max_retries(0)
    }

    /// This policy with at most `retries` retries after the first attempt.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// This policy with the first backoff set to `delay` (doubled on every retry).
    #[must_use]
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// This policy with no single wait, a registry's `Retry-After` included, over `delay`.
    #[must_use]
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }
}

/// The low-speed limit: a transfer that moves fewer than `bytes_per_second` on average over
/// `window` is aborted ([`StoreError::TimedOut`]), so a server that trickles or stalls cannot
/// hold a command (curl's `--speed-limit`/`--speed-time`).
///
/// The clock starts when a request is sent: its answer must begin within `window` (plus, for a
/// request with a body, the time that body takes at `bytes_per_second`); from then on every
/// `window` must bring `bytes_per_second * window` bytes of the answer's body. A request whose
/// answer does not begin in time is retried like a stalled one; a body that is too slow is not.
///
/// The struct is `#[non_exhaustive]`: make one with [`LowSpeedLimit::new`] (or
/// [`LowSpeedLimit::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LowSpeedLimit {
    /// The slowest acceptable average speed.
    pub bytes_per_second: u64,
    /// The span the average is taken over.
    pub window: Duration,
}

impl LowSpeedLimit {
    /// At least `bytes_per_second` on average over every `window`.
    pub const fn new(bytes_per_second: u64, window: Duration) -> Self {
        LowSpeedLimit {
            bytes_per_second,
            window,
        }
    }
}

impl Default for LowSpeedLimit {
    /// 1 KiB per second over 30 seconds.
    fn default() -> Self {
        LowSpeedLimit {
            bytes_per_second: 1024,
            window: Duration::from_secs(30),
        }
    }
}

/// Explicit credentials (flags, `PACTO_REGISTRY_*`) that a registry rejected, and what was
/// used instead: a wrong password must not be masked by a stored credential without a word.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialFallback {
    /// The registry (or the host whose token service refused them).
    pub registry: String,
    /// The explicit source whose credential was rejected (`env token` or `env user/pass`).
    pub rejected: Source,
    /// The source that was accepted instead; `None` when anonymous access was.
    pub used: Option<Source>,
}

/// Where a registry lives and how it may be spoken to.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) policy: SchemePolicy,
    /// Explicitly marked insecure (plain HTTP allowed for credentials and realms).
    pub(crate) insecure: bool,
    /// A mirror standing in for another registry: only credentials of its own are offered
    /// ([`Keychain::mirror_candidates`]).
    pub(crate) mirror: bool,
}

/// What a request needs access to: one repository, pull or push.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) repository: String,
    pub(crate) push: bool,
    /// The user's reference, for error messages.
    pub(crate) reference: String,
}

impl Scope {
    /// The token scope; empty for registry-level requests (`GET /v2/`, as `login` sends).
    fn token_scope(&self) -> String {
        if self.repository.is_empty() {
            return String::new();
        }
        let actions = if self.push { "pull,push" } else { "pull" };
        format!("repository:{}:{actions}", self.repository)
    }
}

/// The URL of a request: a path on the registry (`/v2/...`) or an absolute URL it gave us.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Path(String),
    Absolute(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) headers: Vec<(header::HeaderName, String)>,
    pub(crate) body: Option<Bytes>,
    /// Safe to send again after a failure (GET, HEAD, content-addressed PUT).
    pub(crate) idempotent: bool,
}

impl Request {
    pub(crate) fn new(method: Method, target: Target) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT);
        Request {
            method,
            target,
            headers: Vec::new(),
            body: None,
            idempotent,
        }
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Which credential a host accepted.
#[derive(Debug, Clone)]
enum Accepted {
    Anonymous,
    Credential(Candidate),
}

#[derive(Debug, Default)]
struct HostState {
    /// `https://host` or `http://host`, once a request got an answer.
    base: Option<String>,
    challenge: Option<Challenge>,
    accepted: Option<Accepted>,
    /// Whether `POST ...?digest=` with a body completes an upload (None: not tried yet).
    single_post_upload: Option<bool>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    value: String,
    expires: Instant,
}

/// Settings for [`Transport`].
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    pub(crate) keychain: Keychain,
    /// The TLS client configuration ([`tls::client_config`]).
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) low_speed: Option<LowSpeedLimit>,
}

/// At most 5 redirects, never from https to plain http; reqwest drops `Authorization` when
/// a redirect leaves the origin.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("more than 5 redirects");
        }
        let downgrade = attempt
            .previous()
            .last()
            .is_some_and(|p| p.scheme() == "https" && attempt.url().scheme() == "http");
        if downgrade {
            return attempt.error("refusing a redirect from https to plain http");
        }
        attempt.follow()
    })
}

#[derive(Debug)]
pub(crate) struct Transport {
    config: TransportConfig,
    http: reqwest::Client,
    /// For requests with a body of [`HTTP1_BODY_FROM`] bytes or more (uploads).
    http1: reqwest::Client,
    keychain: Keychain,
    retry: RetryPolicy,
    hosts: Mutex<HashMap<String, HostState>>,
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
    fallbacks: Mutex<Vec<CredentialFallback>>,
}

/// The outcome of one attempt to authorise with a candidate.
enum Attempt {
    Accepted(Response),
    Rejected,
}

impl Transport {
    /// The settings this transport was built with.
    pub(crate) fn config(&self) -> &TransportConfig {
        &self.config
    }

    pub(crate) fn new(config: TransportConfig) -> Result<Transport, StoreError> {
        // reqwest is built without a bundled crypto provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // HTTP/2 flow-control windows big enough for a bandwidth-delay product of a few MiB:
        // with hyper's defaults (2 MiB per stream) a 40 MiB pull through 20 ms each way took
        // 1.67 s, behind skopeo's 1.10 s; 6/12 MiB made it 985 ms (skopeo 1.07 s), with the
        // pull's peak memory still flat (14.0 MiB for 4 MiB, 19.5 MiB for 40 MiB; 8/16 MiB was
        // 1.01 s but 23.9 MiB, 4/8 MiB 1.10 s). HTTP/1.1 and hyper's adaptive window were no
        // faster than the defaults. Numbers in docs/architecture.md.
        let finish = |builder: reqwest::ClientBuilder, tls: rustls::ClientConfig| {
            builder
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .read_timeout(config.read_timeout)
                .redirect(redirect_policy())
                .tls_backend_preconfigured(tls)
                .build()
                .map_err(|e| StoreError::Unreachable {
                    reference: String::new(),
                    registry: String::new(),
                    transient: false,
                    detail: format!("cannot build the HTTP client: {e}"),
                })
        };
        let http = finish(
            reqwest::Client::builder()
                .http2_initial_stream_window_size(Some(HTTP2_STREAM_WINDOW))
                .http2_initial_connection_window_size(Some(HTTP2_CONNECTION_WINDOW)),
            rustls::ClientConfig::clone(&config.tls),
        )?;
        // Big request bodies go over HTTP/1.1: an upload's speed over HTTP/2 is the
        // registry's receive window per round trip (Go's server grants 1 MiB), so a 4 MiB
        // PATCH through 20 ms each way waited four round trips; HTTP/1.1 sends it as fast as
        // TCP goes. Numbers in docs/architecture.md.
        let mut tls1 = rustls::ClientConfig::clone(&config.tls);
        tls1.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http1 = finish(reqwest::Client::builder().http1_only(), tls1)?;
        Ok(Transport {
            http,
            http1,
            keychain: config.keychain.clone(),
            retry: config.retry,
            config,
            hosts: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            fallbacks: Mutex::new(Vec::new()),
        })
    }

    /// Every time explicit credentials were rejected and another source (or anonymous
    /// access) was used instead, once per registry and pair of sources.
    pub(crate) fn credential_fallbacks(&self) -> Vec<CredentialFallback> {
        self.fallbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record_fallback(&self, registry: &str, rejected: &[Source], used: Option<Source>) {
        let mut fallbacks = self.fallbacks.lock().unwrap_or_else(|p| p.into_inner());
        for &rejected in rejected
            .iter()
            .filter(|s| matches!(s, Source::EnvToken | Source::EnvUserPass))
        {
            let fallback = CredentialFallback {
                registry: registry.to_owned(),
                rejected,
                used,
            };
            if !fallbacks.contains(&fallback) {
                tracing::info!(
                    registry = %registry,
                    rejected = %rejected,
                    used = used.map_or("anonymous access", Source::name),
                    "explicit credentials were rejected; another source was accepted"
                );
                fallbacks.push(fallback);
            }
        }
    }

    fn with_host<T>(&self, host: &str, f: impl FnOnce(&mut HostState) -> T) -> T {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        f(hosts.entry(host.to_owned()).or_default())
    }

    /// Whether single-request uploads work on `host` (None: unknown yet).
    pub(crate) fn single_post_upload(&self, host: &str) -> Option<bool> {
        self.with_host(host, |h| h.single_post_upload)
    }

    pub(crate) fn set_single_post_upload(&self, host: &str, works: bool) {
        self.with_host(host, |h| h.single_post_upload = Some(works));
    }

    /// Sends `request`, authenticating as the registry demands.
    pub(crate) async fn send(
        &self,
        endpoint: &Endpoint,
        scope: &Scope,
        request: &Request,
    ) -> Result<Response, StoreError> {
        let proactive = self.proactive_authorization(endpoint, scope).await?;
        let response = self
            .execute(endpoint, scope, request, proactive.as_deref())
            .await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge =
            parse_challenge(response.headers()).ok_or_else(|| StoreError::Authentication {
                reference: scope.reference.clone(),
                registry: endpoint.host.clone(),
                tried: Vec::new(),
                rejected: Vec::new(),
                detail: "the registry answered 401 without a usable WWW-Authenticate challenge"
                    .into(),
            })?;
        let detail = describe(response).await;
        self.with_host(&endpoint.host, |h| h.challenge = Some(challenge.clone()));
        self.authenticate(endpoint, scope, request, &challenge, detail)
            .await
    }

    /// The `Authorization` value to send up front, from what this host accepted before.
    async fn proactive_authorization(
        &self,
        endpoint: &Endpoint,
        scope: &Scope,
    ) -> Result<Option<String>, StoreError> {
        let (challenge, accepted) = self.with_host(&endpoint.host, |h| {
            (h.challenge.clone(), h.accepted.clone())
        });
        let (Some(challenge), Some(accepted)) = (challenge, accepted) else {
            return Ok(None);
        };
        match (&challenge, accepted) {
            (Challenge::Basic, Accepted::Credential(candidate)) => {
                Ok(Some(basic_or_bearer(&candidate.credential)))
            }
            (Challenge::Basic, Accepted::Anonymous) => Ok(None),
            (Challenge::Bearer { .. }, accepted) => {
                if let Some(token) = self.cached_token(&endpoint.host, scope) {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let candidate = match &accepted {
                    Accepted::Credential(c) => Some(c),
                    Accepted::Anonymous => None,
                };
                if let Some(Candidate {
                    credential: Credential::Bearer { token },
                    ..
                }) = candidate
                {
                    return Ok(Some(format!("Bearer {}", token.expose())));
                }
                match self
                    .fetch_token(endpoint, scope, &challenge, candidate)
                    .await?
                {
                    Some(token) => Ok(Some(format!("Bearer {token}"))),
                    // Rejected now (revoked, or no push right): the full flow runs on the 401.
                    None => Ok(None),
                }
            }
        }
    }

    async fn authenticate(
        &self,
        endpoint: &Endpoint,
        scope: &Scope,
        request: &Request,
        challenge: &Challenge,
        mut detail: String,
    ) -> Result<Response, StoreError> {
        let candidates = if endpoint.mirror {
            self.keychain.mirror_candidates(&endpoint.host).await
        } else {
            self.keychain.candidates(&endpoint.host).await
        };
        let mut tried = Vec::new();
        let mut rejected = Vec::new();
        let mut rejected_sources = Vec::new();
        for candidate in &candidates {
            let name = candidate.source.name().to_owned();
            if let Credential::Basic { .. } = candidate.credential
                && !basic_allowed(endpoint, challenge)
            {
                warn!(
                    registry = %endpoint.host,
                    source = %name,
                    "not sending basic credentials over plain http to a non-loopback host; \
                     declare the registry insecure if that is intended"
                );
                continue;
            }
            tried.push(name.clone());
            match self
                .attempt(endpoint, scope, request, challenge, Some(candidate))
                .await?
            {
                Attempt::Accepted(response) => {
                    debug!(registry = %endpoint.host, source = %name, "credential accepted");
                    self.with_host(&endpoint.host, |h| {
                        h.accepted = Some(Accepted::Credential(candidate.clone()));
                    });
                    self.record_fallback(&endpoint.host, &rejected_sources, Some(candidate.source));
                    return Ok(response);
                }
                Attempt::Rejected => {
                    debug!(registry = %endpoint.host, source = %name, "credential rejected");
                    rejected.push(name);
                    rejected_sources.push(candidate.source);
                }
            }
        }
        // No credential at all, or every one rejected on a read: one anonymous attempt
        // (public repositories behind a stale credential). A Basic registry already refused
        // the anonymous request that brought the challenge.
        let anonymous_worth_it =
            matches!(challenge, Challenge::Bearer { .. }) && (candidates.is_empty() || !scope.push);
        if anonymous_worth_it {
            match self
                .attempt(endpoint, scope, request, challenge, None)
                .await?
            {
                Attempt::Accepted(response) => {
                    self.with_host(&endpoint.host, |h| h.accepted = Some(Accepted::Anonymous));
                    self.record_fallback(&endpoint.host, &rejected_sources, None);
                    return Ok(response);
                }
                Attempt::Rejected => {
                    detail = "anonymous access was refused too".into();
                }
            }
        }
        Err(StoreError::Authentication {
            reference: scope.reference.clone(),
            registry: endpoint.host.clone(),
            tried,
            rejected,
            detail,
        })
    }

    async fn attempt(
        &self,
        endpoint: &Endpoint,
        scope: &Scope,
        request: &Request,
        challenge: &Challenge,
        candidate: Option<&Candidate>,
    ) -> Result<Attempt, StoreError> {
        let authorization = match (challenge, candidate) {
            (Challenge::Basic, Some(c)) => basic_or_bearer(&c.credential),
            (Challenge::Basic, None) => return Ok(Attempt::Rejected),
            (
                Challenge::Bearer { .. },
                Some(Candidate {
                    credential: Credential::Bearer { token },
                    ..
                }),
            ) => format!("Bearer {}", token.expose()),
            (Challenge::Bearer { .. }, _) => {
                match self
                    .fetch_token(endpoint, scope, challenge, candidate)
                    .await?
                {
                    Some(token) => format!("Bearer {token}"),
                    None => return Ok(Attempt::Rejected),
                }
            }
        };
        let response = self
            .execute(endpoint, scope, request, Some(&authorization))
            .await?;
        if matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            self.forget_tokens(&endpoint.host, scope);
            return Ok(Attempt::Rejected);
        }
        Ok(Attempt::Accepted(response))
    }

    fn cached_token(&self, host: &str, scope: &Scope) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let wanted = scope.token_scope();
        // A push token also grants pull.
        let push_scope = format!("repository:{}:pull,push", scope.repository);
        [wanted, push_scope]
            .iter()
            .filter_map(|s| tokens.get(&(host.to_owned(), s.clone())))
            .find(|t| t.expires > now)
            .map(|t| t.value.clone())
    }

    fn forget_tokens(&self, host: &str, scope: &Scope) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.remove(&(host.to_owned(), scope.token_scope()));
    }

    /// Fetches a token for `scope` from the challenge's realm. `Ok(None)`: the realm refused.
    async fn fetch_token(
        &self,
        endpoint: &Endpoint,
        scope: &Scope,
        challenge: &Challenge,
        candidate: Option<&Candidate>,
    ) -> Result<Option<String>, StoreError> {
        let Challenge::Bearer { realm, service } = challenge else {
            return Ok(None);
        };
        let realm_url = reqwest::Url::parse(realm).map_err(|e| StoreError::Authentication {
            reference: scope.reference.clone(),
            registry: endpoint.host.clone(),
            tried: Vec::new(),
            rejected: Vec::new(),
            detail: format!("the token realm {realm:?} is not a URL: {e}"),
        })?;
        if realm_url.scheme() != "https"
            && !endpoint.insecure
            && !is_loopback(realm_url.host_str().unwrap_or_default())
        {
            return Err(StoreError::Authentication {
                reference: scope.reference.clone(),
                registry: endpoint.host.clone(),
                tried: Vec::new(),
                rejected: Vec::new(),
                detail: format!(
                    "refusing the plain-http token realm {realm}; \
                     declare the registry insecure if that is intended"
                ),
            });
        }
        let token_scope = scope.token_scope();
        let mut query: Vec<(&str, &str)> = Vec::new();
        if !token_scope.is_empty() {
            query.push(("scope", &token_scope));
        }
        if let Some(service) = service {
            query.push(("service", service));
        }
        let mut builder = self.http.get(realm_url.clone()).query(&query);
        if let Some(Candidate {
            credential: Credential::Basic { username, password },
            ..
        }) = candidate
        {
            builder = builder.basic_auth(username, Some(password.expose()));
        }
        // Failures of the token service name its host, not the registry's.
        let realm_host = match realm_url.port() {
            Some(port) => format!("{}:{port}", realm_url.host_str().unwrap_or_default()),
            None => realm_url.host_str().unwrap_or_default().to_owned(),
        };
        let response = self
            .send_with_retries(&realm_host, &scope.reference, true, 0, || {
                builder
                    .try_clone()
                    .expect("token requests have no streaming body")
            })
            .await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => return Ok(None),
            status => {
                return Err(StoreError::Authentication {
                    reference: scope.reference.clone(),
                    registry: endpoint.host.clone(),
                    tried: Vec::new(),
                    rejected: Vec::new(),
                    detail: format!("the token service answered HTTP {}", status.as_u16()),
                });
            }
        }
        #[derive(serde::Deserialize)]
        struct TokenBody {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let body = read_limited(response, 1024 * 1024)
            .await
            .map_err(|e| failure(&realm_host, &scope.reference, "reading the token", e))?;
        let parsed: TokenBody =
            serde_json::from_slice(&body).map_err(|e| StoreError::Authentication {
                reference: scope.reference.clone(),
                registry: endpoint.host.clone(),
                tried: Vec::new(),
                rejected: Vec::new(),
                detail: format!("the token service sent an unreadable answer: {e}"),
            })?;
        let Some(token) = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        // The spec's default lifetime is 60 s; keep a margin for the request in flight.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(10) - 5);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (endpoint.host.clone(), token_scope),
                CachedToken {
                    value: token.clone(),
                    expires: Instant::now() + lifetime,
                },
            );
        Ok(Some(token))
    }

    /// Sends one request (with retries), choosing the scheme for the host on first contact.
    ///
    /// A host the scheme rules allow plain http for is tried with https first, once; plain
    /// http follows only when that attempt shows no TLS server (bytes that are not TLS, a
    /// closed or refused connection, no answer). A refused certificate, or any other failed
    /// handshake with a TLS server, is final: a plain-http answer from a TLS port would only
    /// hide it. When both attempts fail, the error says what each one met.
    async fn execute(
        &self,
        endpoint: &Endpoint,
        scope: &Scope,
        request: &Request,
        authorization: Option<&str>,
    ) -> Result<Response, StoreError> {
        let body_len = request.body.as_ref().map_or(0, |b| b.len() as u64);
        let path = match &request.target {
            Target::Absolute(url) => {
                let same_origin = self.origin_matches(endpoint, url);
                return self
                    .send_with_retries(
                        &endpoint.host,
                        &scope.reference,
                        request.idempotent,
                        body_len,
                        || self.build(request, url, authorization.filter(|_| same_origin)),
                    )
                    .await;
            }
            Target::Path(path) => path,
        };
        let known = self.with_host(&endpoint.host, |h| h.base.clone());
        let bases: Vec<String> = match known {
            Some(base) => vec![base],
            None => match endpoint.policy {
                SchemePolicy::HttpsOnly => vec![format!("https://{}", endpoint.host)],
                SchemePolicy::HttpOnly => vec![format!("http://{}", endpoint.host)],
                SchemePolicy::HttpsThenHttp => vec![
                    format!("https://{}", endpoint.host),
                    format!("http://{}", endpoint.host),
                ],
            },
        };
        let mut https_failure: Option<String> = None;
        for (i, base) in bases.iter().enumerate() {
            let url = format!("{base}{path}");
            if i + 1 < bases.len() {
                // The https probe: once, without retries.
                match self
                    .send_paced(body_len, self.build(request, &url, authorization))
                    .await
                {
                    Ok(response) => {
                        self.with_host(&endpoint.host, |h| h.base = Some(base.clone()));
                        return Ok(response);
                    }
                    Err(Failure::Http(e)) if tls::classify(&e) != TlsFailure::NotTls => {
                        return Err(unreachable(&endpoint.host, &scope.reference, "https", e));
                    }
                    Err(e) => {
                        let text = e.to_string();
                        debug!(registry = %endpoint.host, error = %text, "no TLS server there, trying plain http");
                        https_failure = Some(text);
                        continue;
                    }
                }
            }
            let result = self
                .send_with_retries(
                    &endpoint.host,
                    &scope.reference,
                    request.idempotent,
                    body_len,
                    || self.build(request, &url, authorization),
                )
                .await;
            return match (result, https_failure.take()) {
                (Ok(response), _) => {
                    self.with_host(&endpoint.host, |h| h.base = Some(base.clone()));
                    Ok(response)
                }
                (
                    Err(StoreError::Unreachable {
                        reference,
                        registry,
                        transient,
                        detail,
                    }),
                    Some(https),
                ) => Err(StoreError::Unreachable {
                    reference,
                    registry,
                    transient,
                    detail: format!("https: {https}; plain http: {detail}"),
                }),
                (Err(e), _) => Err(e),
            };
        }
        unreachable!("at least one base URL")
    }

    fn origin_matches(&self, endpoint: &Endpoint, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else {
            return false;
        };
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        authority == endpoint.host
    }

    fn build(
        &self,
        request: &Request,
        url: &str,
        authorization: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let big_body = request
            .body
            .as_ref()
            .is_some_and(|body| body.len() >= HTTP1_BODY_FROM);
        let client = if big_body { &self.http1 } else { &self.http };
        let mut builder = client.request(request.method.clone(), url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(authorization) = authorization {
            let mut value = HeaderValue::from_str(authorization)
                .unwrap_or_else(|_| HeaderValue::from_static(""));
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        match &request.body {
            Some(body) => builder
                .header(header::CONTENT_LENGTH, body.len())
                .body(body.clone()),
            None if request.method == Method::POST || request.method == Method::PUT => {
                builder.header(header::CONTENT_LENGTH, 0)
            }
            None => builder,
        }
    }

    /// Sends one request under the low-speed limit: its answer must begin before the
    /// limit's first window ends (see [`LowSpeedLimit`]); the answer carries the pace on to
    /// [`next_chunk`].
    ///
    /// Every request is logged at debug level once its answer begins (or it fails): method,
    /// URL without credentials, query or fragment (upload locations and token requests carry
    /// state there), status, time to the answer, bytes sent and announced back. Never a
    /// header.
    async fn send_paced(
        &self,
        body_len: u64,
        builder: reqwest::RequestBuilder,
    ) -> Result<Response, Failure> {
        let (client, request) = builder.build_split();
        let request = request.map_err(Failure::Http)?;
        let method = request.method().clone();
        let url = loggable_url(request.url());
        let started = Instant::now();
        let result = self.send_paced_built(body_len, &client, request).await;
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(response) => debug!(
                %method,
                %url,
                status = response.status().as_u16(),
                ms,
                sent = body_len,
                received = %response
                    .content_length()
                    .map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
                "http request"
            ),
            Err(error) => debug!(%method, %url, ms, sent = body_len, %error, "http request failed"),
        }
        result
    }

    async fn send_paced_built(
        &self,
        body_len: u64,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<Response, Failure> {
        let Some(limit) = self.config.low_speed else {
            return client.execute(request).await.map_err(Failure::Http);
        };
        let pace = Pace::start(limit, body_len);
        match tokio::time::timeout_at(pace.deadline(), client.execute(request)).await {
            Err(_) => Err(Failure::Slow(limit)),
            Ok(Err(e)) => Err(Failure::Http(e)),
            Ok(Ok(mut response)) => {
                response.extensions_mut().insert(pace);
                Ok(response)
            }
        }
    }

    /// Sends with bounded retries on connection errors, 408, 429 and 5xx (idempotent only).
    /// A refused certificate or a failed TLS handshake is never retried.
    async fn send_with_retries(
        &self,
        host: &str,
        reference: &str,
        idempotent: bool,
        body_len: u64,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Response, StoreError> {
        let mut attempt = 0;
        loop {
            let retries_left = idempotent && attempt < self.retry.max_retries;
            match self.send_paced(body_len, build()).await {
                Ok(response) if retries_left && retryable(response.status()) => {
                    let wait = retry_after(response.headers())
                        .unwrap_or_else(|| self.backoff(attempt))
                        .min(self.retry.max_delay);
                    debug!(
                        registry = %host,
                        status = response.status().as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    drop(response);
                    tokio::time::sleep(wait).await;
                }
                Ok(response) => return Ok(response),
                Err(Failure::Http(e))
                    if retries_left
                        && (e.is_connect() || e.is_timeout() || e.is_request())
                        && tls::classify(&e) == TlsFailure::NotTls =>
                {
                    let wait = self.backoff(attempt);
                    debug!(registry = %host, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(Failure::Slow(_)) if retries_left => {
                    let wait = self.backoff(attempt);
                    debug!(registry = %host, wait_ms = wait.as_millis() as u64, "no answer under the low-speed limit, retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(failure(host, reference, "sending the request", e)),
            }
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .retry
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt));
        base.saturating_add(base.mul_f64(jitter()))
            .min(self.retry.max_delay)
    }
}

/// A number in [0, 1) that differs between calls, for backoff jitter (not cryptographic).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `url` as a log may show it: scheme, host, port and path; no user, password, query or
/// fragment.
fn loggable_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn basic_or_bearer(credential: &Credential) -> String {
    match credential {
        Credential::Basic { username, password } => {
            let raw = format!("{username}:{}", password.expose());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        }
        Credential::Bearer { token } => format!("Bearer {}", token.expose()),
    }
}

/// Basic credentials go over plain http only to loopback or explicitly insecure hosts.
fn basic_allowed(endpoint: &Endpoint, challenge: &Challenge) -> bool {
    if endpoint.insecure || is_loopback(&endpoint.host) {
        return true;
    }
    match challenge {
        // For Bearer the credential goes to the realm, which `fetch_token` checks.
        Challenge::Bearer { .. } => true,
        Challenge::Basic => endpoint.policy == SchemePolicy::HttpsOnly,
    }
}

/// `host` (with or without port) is a loopback name or address.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or_default()
    } else {
        host
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn parse_challenge(headers: &HeaderMap) -> Option<Challenge> {
    let mut found = None;
    for value in headers.get_all(header::WWW_AUTHENTICATE) {
        let Ok(value) = value.to_str() else { continue };
        let Ok(challenges) = http_auth::parse_challenges(value) else {
            continue;
        };
        for challenge in challenges {
            let param = |name: &str| {
                challenge
                    .params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            if challenge.scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = param("realm") {
                    return Some(Challenge::Bearer {
                        realm,
                        service: param("service"),
                    });
                }
            } else if challenge.scheme.eq_ignore_ascii_case("basic") {
                found = Some(Challenge::Basic);
            }
        }
    }
    found
}

pub(crate) fn unreachable(
    host: &str,
    reference: &str,
    action: &str,
    error: reqwest::Error,
) -> StoreError {
    if let TlsFailure::Certificate(problem) = tls::classify(&error) {
        return StoreError::Certificate {
            reference: reference.to_owned(),
            registry: host.to_owned(),
            problem,
        };
    }
    // A body that breaks off mid-stream surfaces as a decode error wrapping a body error.
    let transient = error.is_timeout()
        || error.is_connect()
        || error.is_request()
        || error.is_body()
        || error.is_decode();
    StoreError::Unreachable {
        reference: reference.to_owned(),
        registry: host.to_owned(),
        transient,
        detail: format!("{action}: {}", error_chain(&error)),
    }
}

/// Why a request or the reading of its answer failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The HTTP stack failed (connection, TLS, protocol, read timeout).
    Http(reqwest::Error),
    /// The low-speed limit was crossed.
    Slow(LowSpeedLimit),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Http(e) => f.write_str(&error_chain(e)),
            Failure::Slow(limit) => std::fmt::Display::fmt(&TimeLimit::LowSpeed(*limit), f),
        }
    }
}

/// The store error for a failure while `action`.
pub(crate) fn failure(host: &str, reference: &str, action: &str, failure: Failure) -> StoreError {
    match failure {
        Failure::Http(e) => unreachable(host, reference, action, e),
        Failure::Slow(limit) => StoreError::TimedOut {
            reference: reference.to_owned(),
            registry: host.to_owned(),
            limit: TimeLimit::LowSpeed(limit),
        },
    }
}

/// `error` and its causes on one line (reqwest's own message is terse).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The progress of one answer against the low-speed limit, carried in its extensions.
#[derive(Debug, Clone, Copy)]
struct Pace {
    limit: LowSpeedLimit,
    /// Start of the current window.
    checkpoint: tokio::time::Instant,
    /// Bytes received since `checkpoint`.
    bytes: u64,
}

/// The longest a request body may extend the first window (a month: no upload is refused
/// for its size, and no deadline overflows).
const MAX_BODY_CREDIT: Duration = Duration::from_secs(30 * 24 * 3600);

impl Pace {
    /// A pace starting now; a request body of `body_len` bytes extends the first window by the
    /// time it takes at the limit's speed.
    fn start(limit: LowSpeedLimit, body_len: u64) -> Pace {
        let credit =
            Duration::from_secs(body_len / limit.bytes_per_second.max(1)).min(MAX_BODY_CREDIT);
        Pace {
            limit,
            checkpoint: tokio::time::Instant::now() + credit,
            bytes: 0,
        }
    }

    /// When the current window ends.
    fn deadline(&self) -> tokio::time::Instant {
        self.checkpoint + self.limit.window
    }

    /// Counts `n` received bytes; a window that reached its quota starts a new one.
    fn record(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
        let quota = u128::from(self.limit.bytes_per_second) * self.limit.window.as_millis() / 1000;
        if u128::from(self.bytes) >= quota {
            self.checkpoint = self.checkpoint.max(tokio::time::Instant::now());
            self.bytes = 0;
        }
    }
}

/// The next piece of an answer's body, under the low-speed limit it was sent with.
pub(crate) async fn next_chunk(response: &mut Response) -> Result<Option<Bytes>, Failure> {
    let Some(mut pace) = response.extensions().get::<Pace>().copied() else {
        return response.chunk().await.map_err(Failure::Http);
    };
    match tokio::time::timeout_at(pace.deadline(), response.chunk()).await {
        Err(_) => Err(Failure::Slow(pace.limit)),
        Ok(Err(e)) => Err(Failure::Http(e)),
        Ok(Ok(chunk)) => {
            if let Some(chunk) = &chunk {
                pace.record(chunk.len());
                response.extensions_mut().insert(pace);
            }
            Ok(chunk)
        }
    }
}

/// Reads at most `limit` bytes of a body; more is an error of its own kind for the caller.
pub(crate) async fn read_limited(mut response: Response, limit: u64) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(&mut response).await? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            break;
        }
    }
    Ok(body)
}

/// The registry's `{"errors":[{"code","message"}]}` answer, as a message.
pub(crate) async fn registry_message(response: Response) -> RegistryMessage {
    let status = response.status().as_u16();
    let body = read_limited(response, 64 * 1024).await.unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    let first = serde_json::from_slice::<Errors>(&body)
        .ok()
        .and_then(|e| e.errors.into_iter().next());
    RegistryMessage {
        status,
        code: first.as_ref().and_then(|e| e.code.clone()),
        message: first.and_then(|e| e.message),
    }
}

async fn describe(response: Response) -> String {
    registry_message(response).await.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:443",
            "::1",
            "127.9.9.9",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1:5000",
            "example.com",
            "localhost.example.com",
            "[::2]:5000",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn basic_over_plain_http_only_to_loopback_or_insecure() {
        let endpoint = |host: &str, policy, insecure| Endpoint {
            host: host.into(),
            policy,
            insecure,
            mirror: false,
        };
        let basic = Challenge::Basic;
        assert!(basic_allowed(
            &endpoint("registry.example.com", SchemePolicy::HttpsOnly, false),
            &basic
        ));
        assert!(!basic_allowed(
            &endpoint("192.168.1.5:5000", SchemePolicy::HttpsThenHttp, false),
            &basic
        ));
        assert!(basic_allowed(
            &endpoint("192.168.1.5:5000", SchemePolicy::HttpOnly, true),
            &basic
        ));
        assert!(basic_allowed(
            &endpoint("127.0.0.1:5000", SchemePolicy::HttpsThenHttp, false),
            &basic
        ));
    }

    #[test]
    fn challenges_are_parsed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull""#,
            ),
        );
        assert_eq!(
            parse_challenge(&headers),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
            })
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="Registry Realm""#),
        );
        assert_eq!(parse_challenge(&headers), Some(Challenge::Basic));
        assert_eq!(parse_challenge(&HeaderMap::new()), None);
    }

    #[test]
    fn logged_urls_carry_no_credentials_or_query() {
        let url = reqwest::Url::parse(
            "https://user:secret@auth.example:8443/token?scope=repository:a:pull&service=x#f",
        )
        .unwrap();
        assert_eq!(loggable_url(&url), "https://auth.example:8443/token");
        let upload =
            reqwest::Url::parse("http://127.0.0.1:5000/v2/r/blobs/uploads/u?_state=abc").unwrap();
        assert_eq!(
            loggable_url(&upload),
            "http://127.0.0.1:5000/v2/r/blobs/uploads/u"
        );
    }

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
