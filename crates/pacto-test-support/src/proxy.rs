//! A fault-injecting HTTP proxy on loopback, in front of a plain-HTTP registry.

use std::io::{self, BufReader};
use std::net::ToSocketAddrs as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, fail};
use crate::http::{self, Conn, Flow, Handler, Headers, Request, Response, Server, lock};
use crate::registry::TestRegistry;

/// The longest a [`Fault::Stall`] holds a connection before closing it.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Hop-by-hop header fields, never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Transfer-Encoding",
    "Upgrade",
    "Expect",
    "Content-Length",
];

/// A fault the proxy injects into the next matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with `code` (e.g. 429 or 503) and, if set, `Retry-After: SECONDS`, without
    /// contacting the registry.
    Status {
        /// The status to answer.
        code: u16,
        /// The `Retry-After` value in seconds.
        retry_after: Option<u32>,
        /// How many requests get this answer.
        times: usize,
    },
    /// Forward the request unchanged: lets the first `times` matching requests through, so
    /// that a fault injected after this one hits a later request (the middle of an upload).
    Pass {
        /// How many requests pass.
        times: usize,
    },
    /// Forward the request, then send the response head and half of its body and close the
    /// connection (a response without body: close before answering at all).
    Reset {
        /// How many requests are cut.
        times: usize,
    },
    /// Read the request and never answer: hold the connection until the client gives up, the
    /// proxy is dropped, or 60 s pass, then close it.
    Stall {
        /// How many requests stall.
        times: usize,
    },
    /// Forward the request, then send `request` to the registry on a connection of its own
    /// (as another client would), then relay the first answer: the registry sees `request`
    /// after the matching one and before its client hears back. A race, made deterministic:
    /// e.g. another push's manifest `PUT` landing between a push's `PUT` and its re-read.
    ThenSend {
        /// What the proxy sends; recorded with [`Outcome::SentByProxy`].
        request: ExtraRequest,
        /// How many matching requests are followed by it.
        times: usize,
    },
}

impl Fault {
    fn times(&self) -> usize {
        match self {
            Fault::Status { times, .. }
            | Fault::Pass { times }
            | Fault::Reset { times }
            | Fault::Stall { times }
            | Fault::ThenSend { times, .. } => *times,
        }
    }
}

/// A request the proxy sends to the registry by itself ([`Fault::ThenSend`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraRequest {
    /// The method.
    pub method: String,
    /// Path plus query (`/v2/REPO/manifests/TAG`).
    pub path: String,
    /// Header fields; `Host` is the registry's, and `Content-Length` is set from the body.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ExtraRequest {
    /// `PUT /v2/REPOSITORY/manifests/REFERENCE` with `manifest` as `media_type`.
    pub fn put_manifest(
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> Self {
        ExtraRequest {
            method: "PUT".to_owned(),
            path: format!("/v2/{repository}/manifests/{reference}"),
            headers: vec![("Content-Type".to_owned(), media_type.to_owned())],
            body: manifest.to_vec(),
        }
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMatch {
    /// The method (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// A fragment the request target (path plus query) must contain; `None` matches any.
    pub path_contains: Option<String>,
}

impl RequestMatch {
    /// Matches every request.
    pub fn any() -> Self {
        RequestMatch::default()
    }

    /// Matches requests with this method.
    pub fn method(method: &str) -> Self {
        RequestMatch {
            method: Some(method.to_owned()),
            path_contains: None,
        }
    }

    /// Also requires the target to contain `fragment` (e.g. `/blobs/` or `/manifests/`).
    pub fn with_path(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_owned());
        self
    }

    /// Whether a request matches.
    pub fn matches(&self, method: &str, target: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|fragment| target.contains(fragment))
    }
}

/// What the proxy did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded to the registry, whose status was relayed.
    Forwarded {
        /// The registry's status.
        status: u16,
    },
    /// Answered by an injected [`Fault::Status`].
    Injected {
        /// The injected status.
        status: u16,
    },
    /// Cut mid-response by [`Fault::Reset`].
    Reset,
    /// Held without answer by [`Fault::Stall`].
    Stalled,
    /// Answered `307` to the blob origin.
    Redirected {
        /// The `Location` sent.
        location: String,
    },
    /// The registry could not be reached: answered `502`.
    UpstreamUnreachable,
    /// Not a client's request: sent by the proxy itself ([`Fault::ThenSend`]); the
    /// registry's status (0 when it could not be reached).
    SentByProxy {
        /// The registry's status.
        status: u16,
    },
}

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// The method.
    pub method: String,
    /// Path plus query.
    pub path: String,
    /// Every header field as received, in order.
    pub headers: Vec<(String, String)>,
    /// What the proxy did with it.
    pub outcome: Outcome,
}

impl ProxiedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Rule {
    matcher: RequestMatch,
    fault: Fault,
    remaining: usize,
}

struct ProxyState {
    upstream: String,
    latency: Mutex<Duration>,
    rules: Mutex<Vec<Rule>>,
    redirect: Mutex<Option<String>>,
    max_body: Mutex<Option<usize>>,
    log: Mutex<Vec<ProxiedRequest>>,
}

/// A plain-HTTP proxy on `127.0.0.1` in front of a plain-HTTP registry, injecting faults.
///
/// Clients talk to it as if it were the registry (`Host` is passed through, so the registry's
/// upload `Location`s point back at the proxy). Every request is recorded, with its outcome,
/// before it is answered, so [`FaultProxy::requests`] is exact. Stopped on drop.
pub struct FaultProxy {
    state: Arc<ProxyState>,
    server: Server,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("url", &self.url())
            .field("upstream", &self.state.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (`127.0.0.1:PORT` or `http://127.0.0.1:PORT`,
    /// a loopback address). Panics if it cannot.
    pub fn start(upstream: &str) -> FaultProxy {
        FaultProxy::try_start(upstream)
            .unwrap_or_else(|error| fail("could not start the fault proxy", &error))
    }

    /// Starts a proxy in front of `registry`, which must be a plain-HTTP registry.
    pub fn in_front_of(registry: &TestRegistry) -> FaultProxy {
        if registry.is_tls() {
            fail(
                "could not start the fault proxy",
                &Error::Unsupported {
                    reason: format!(
                        "the fault proxy speaks plain HTTP and {} is a TLS registry: start it without TLS",
                        registry.url()
                    ),
                },
            )
        }
        FaultProxy::start(&registry.host())
    }

    /// Like [`FaultProxy::start`], returning the error instead of panicking.
    pub fn try_start(upstream: &str) -> Result<FaultProxy, Error> {
        let authority = if upstream.starts_with("https://") {
            return Err(Error::Unsupported {
                reason: format!("the fault proxy speaks plain HTTP, not to {upstream}"),
            });
        } else if upstream.starts_with("http://") {
            http::Url::parse(upstream)?.authority
        } else {
            upstream.to_owned()
        };
        let addrs: Vec<_> = authority
            .to_socket_addrs()
            .map_err(|e| Error::io(format!("resolve the proxy upstream {authority}"), e))?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(Error::NotLoopback { host: authority });
        }
        let state = Arc::new(ProxyState {
            upstream: authority,
            latency: Mutex::new(Duration::ZERO),
            rules: Mutex::new(Vec::new()),
            redirect: Mutex::new(None),
            max_body: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        });
        let handler: Arc<dyn Handler> = Arc::new(ProxyHandler(Arc::clone(&state)));
        let server = Server::start("fault proxy", handler, None)?;
        Ok(FaultProxy { state, server })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// Delays every request by `latency` before it is handled and again before its response
    /// is sent (so a round trip takes at least twice `latency`). Zero switches it off.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.state.latency) = latency;
    }

    /// Injects `fault` into the next requests (any method and path).
    pub fn inject(&self, fault: Fault) {
        self.inject_matching(RequestMatch::any(), fault);
    }

    /// Injects `fault` into the next requests that match `matcher`. Faults apply in the order
    /// they were injected; each request consumes at most one.
    pub fn inject_matching(&self, matcher: RequestMatch, fault: Fault) {
        let remaining = fault.times();
        if remaining > 0 {
            lock(&self.state.rules).push(Rule {
                matcher,
                fault,
                remaining,
            });
        }
    }

    /// How many injected fault occurrences are still waiting for a request.
    pub fn pending_faults(&self) -> usize {
        lock(&self.state.rules).iter().map(|r| r.remaining).sum()
    }

    /// Drops every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.state.rules).clear();
    }

    /// Answers every `GET .../blobs/sha256:...` with `307 Temporary Redirect` to the same path
    /// on `origin` (e.g. a [`BlobOrigin`](crate::BlobOrigin)'s `url()`), a different origin.
    pub fn redirect_blobs_to(&self, origin: &str) {
        *lock(&self.state.redirect) = Some(origin.trim_end_matches('/').to_owned());
    }

    /// Stops redirecting blob downloads.
    pub fn clear_redirect(&self) {
        *lock(&self.state.redirect) = None;
    }

    /// Answers `413 Payload Too Large` to every request whose body is over `limit` bytes,
    /// without forwarding it, as GHCR does for bodies over 4 MiB (`None`: no limit). Recorded
    /// as [`Outcome::Injected`] with status 413.
    pub fn set_max_body(&self, limit: Option<usize>) {
        *lock(&self.state.max_body) = limit;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.state.log).clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.state.log).clear();
    }
}

struct ProxyHandler(Arc<ProxyState>);

fn is_blob_download(request: &Request) -> bool {
    request.method == "GET"
        && request
            .path()
            .rsplit_once("/blobs/")
            .is_some_and(|(_, digest)| digest.starts_with("sha256:"))
}

fn pause(latency: Duration) {
    if !latency.is_zero() {
        // Injected latency, the point of the proxy: not a synchronisation.
        std::thread::sleep(latency);
    }
}

impl ProxyState {
    fn take_fault(&self, request: &Request) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let index = rules
            .iter()
            .position(|rule| rule.matcher.matches(&request.method, &request.target))?;
        let rule = &mut rules[index];
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        if rule.remaining == 0 {
            rules.remove(index);
        }
        Some(fault)
    }

    fn record(&self, request: &Request, outcome: Outcome) {
        lock(&self.log).push(ProxiedRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.to_vec(),
            outcome,
        });
    }

    /// Sends a request of the proxy's own to the registry and records it.
    fn send_extra(&self, extra: &ExtraRequest) {
        let mut request = Request::new(&extra.method, extra.path.clone());
        request.headers.push("Host", self.upstream.clone());
        for (name, value) in &extra.headers {
            request.headers.push(name.clone(), value.clone());
        }
        request.body = extra.body.clone();
        let status = self.forward(&request).map_or(0, |response| response.status);
        self.record(&request, Outcome::SentByProxy { status });
    }

    /// Sends the request to the registry on a fresh connection and reads the whole response.
    fn forward(&self, request: &Request) -> Result<Response, Error> {
        let stream = http::connect_tcp(&self.upstream)?;
        let mut headers = Headers::default();
        for (name, value) in request.headers.iter() {
            if !HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                headers.push(name, value);
            }
        }
        headers.push("Connection", "close");
        let upstream_request = Request {
            method: request.method.clone(),
            target: request.target.clone(),
            headers,
            body: request.body.clone(),
        };
        let transport = |source| Error::Http {
            method: request.method.clone(),
            url: format!("http://{}{}", self.upstream, request.target),
            source,
        };
        let mut writer = stream.try_clone().map_err(&transport)?;
        http::write_request(&mut writer, &upstream_request).map_err(&transport)?;
        let mut reader = BufReader::new(stream);
        let mut response = http::read_response(&mut reader, &request.method).map_err(&transport)?;
        for name in ["Connection", "Keep-Alive", "Transfer-Encoding"] {
            response.headers.remove(name);
        }
        Ok(response)
    }
}

fn registry_error(code: u16) -> serde_json::Value {
    let (error, message) = match code {
        429 => (
            "TOOMANYREQUESTS",
            "too many requests (injected by the fault proxy)",
        ),
        503 => (
            "UNAVAILABLE",
            "service unavailable (injected by the fault proxy)",
        ),
        _ => ("UNKNOWN", "error injected by the fault proxy"),
    };
    serde_json::json!({"errors": [{"code": error, "message": message, "detail": null}]})
}

impl Handler for ProxyHandler {
    fn handle(&self, request: Request, conn: &mut Conn<'_>) -> io::Result<Flow> {
        let state = &self.0;
        let latency = *lock(&state.latency);
        let head = request.method == "HEAD";
        let max_body = *lock(&state.max_body);
        if let Some(limit) = max_body
            && request.body.len() > limit
        {
            pause(latency);
            let body = serde_json::json!({"errors": [{
                "code": "SIZE_INVALID",
                "message": format!("request body of {} bytes is over the {limit}-byte limit (fault proxy)", request.body.len()),
                "detail": null,
            }]});
            state.record(&request, Outcome::Injected { status: 413 });
            pause(latency);
            http::write_response(conn.stream, &Response::json(413, &body), head)?;
            return Ok(Flow::KeepAlive);
        }
        let fault = state.take_fault(&request);
        pause(latency);
        match fault {
            Some(Fault::Status {
                code, retry_after, ..
            }) => {
                let mut response = Response::json(code, &registry_error(code));
                if let Some(seconds) = retry_after {
                    response.headers.push("Retry-After", seconds.to_string());
                }
                state.record(&request, Outcome::Injected { status: code });
                pause(latency);
                http::write_response(conn.stream, &response, head)?;
                Ok(Flow::KeepAlive)
            }
            Some(Fault::Stall { .. }) => {
                state.record(&request, Outcome::Stalled);
                conn.socket.set_read_timeout(Some(STALL_LIMIT))?;
                let mut sink = [0u8; 1024];
                // Until the client closes, the proxy is dropped (which shuts the socket
                // down) or the limit passes.
                while matches!(conn.stream.read(&mut sink), Ok(n) if n > 0) {}
                Ok(Flow::Close)
            }
            Some(Fault::ThenSend { request: extra, .. }) => {
                let response = state.forward(&request);
                let outcome = match &response {
                    Ok(response) => Outcome::Forwarded {
                        status: response.status,
                    },
                    Err(_) => Outcome::UpstreamUnreachable,
                };
                state.record(&request, outcome);
                state.send_extra(&extra);
                pause(latency);
                match response {
                    Ok(response) => {
                        http::write_response(conn.stream, &response, head)?;
                        Ok(Flow::KeepAlive)
                    }
                    Err(_) => Ok(Flow::Close),
                }
            }
            Some(Fault::Reset { .. }) => {
                let response = state.forward(&request);
                state.record(&request, Outcome::Reset);
                pause(latency);
                if let Ok(response) = response
                    && !head
                    && response.body.len() >= 2
                {
                    let head_text = http::response_head(&response, false);
                    conn.stream.write_all(head_text.as_bytes())?;
                    conn.stream
                        .write_all(&response.body[..response.body.len() / 2])?;
                    conn.stream.flush()?;
                }
                Ok(Flow::Close)
            }
            Some(Fault::Pass { .. }) | None => {
                let redirect = lock(&state.redirect).clone();
                if let Some(origin) = redirect.filter(|_| is_blob_download(&request)) {
                    let location = format!("{origin}{}", request.target);
                    state.record(
                        &request,
                        Outcome::Redirected {
                            location: location.clone(),
                        },
                    );
                    let response = Response::new(307).with_header("Location", location);
                    pause(latency);
                    http::write_response(conn.stream, &response, head)?;
                    return Ok(Flow::KeepAlive);
                }
                match state.forward(&request) {
                    Ok(response) => {
                        state.record(
                            &request,
                            Outcome::Forwarded {
                                status: response.status,
                            },
                        );
                        pause(latency);
                        http::write_response(conn.stream, &response, head)?;
                        Ok(Flow::KeepAlive)
                    }
                    Err(error) => {
                        state.record(&request, Outcome::UpstreamUnreachable);
                        let mut response = Response::json(
                            502,
                            &serde_json::json!({"errors": [{"code": "UNAVAILABLE", "message": error.to_string()}]}),
                        );
                        response.headers.push("Connection", "close");
                        http::write_response(conn.stream, &response, head)?;
                        Ok(Flow::Close)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_requests() {
        let table = [
            (RequestMatch::any(), "GET", "/v2/", true),
            (RequestMatch::method("get"), "GET", "/v2/", true),
            (RequestMatch::method("HEAD"), "GET", "/v2/", false),
            (
                RequestMatch::any().with_path("/blobs/"),
                "GET",
                "/v2/a/blobs/sha256:x",
                true,
            ),
            (
                RequestMatch::method("GET").with_path("/manifests/"),
                "GET",
                "/v2/a/blobs/sha256:x",
                false,
            ),
        ];
        for (matcher, method, target, expected) in table {
            assert_eq!(
                matcher.matches(method, target),
                expected,
                "{matcher:?} {method} {target}"
            );
        }
    }

    #[test]
    fn faults_are_consumed_in_order_and_by_count() {
        let state = ProxyState {
            upstream: "127.0.0.1:1".to_owned(),
            latency: Mutex::new(Duration::ZERO),
            rules: Mutex::new(Vec::new()),
            redirect: Mutex::new(None),
            max_body: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        };
        let status = Fault::Status {
            code: 503,
            retry_after: Some(1),
            times: 2,
        };
        lock(&state.rules).push(Rule {
            matcher: RequestMatch::any().with_path("/manifests/"),
            fault: status.clone(),
            remaining: 2,
        });
        lock(&state.rules).push(Rule {
            matcher: RequestMatch::any(),
            fault: Fault::Reset { times: 1 },
            remaining: 1,
        });
        let manifest = Request::new("GET", "/v2/a/manifests/1");
        let ping = Request::new("GET", "/v2/");
        assert_eq!(state.take_fault(&ping), Some(Fault::Reset { times: 1 }));
        assert_eq!(state.take_fault(&ping), None);
        assert_eq!(state.take_fault(&manifest), Some(status.clone()));
        assert_eq!(state.take_fault(&manifest), Some(status));
        assert_eq!(state.take_fault(&manifest), None);
        assert!(lock(&state.rules).is_empty());
    }

    #[test]
    fn recognises_blob_downloads() {
        assert!(is_blob_download(&Request::new(
            "GET",
            "/v2/a/blobs/sha256:ab"
        )));
        assert!(!is_blob_download(&Request::new(
            "HEAD",
            "/v2/a/blobs/sha256:ab"
        )));
        assert!(!is_blob_download(&Request::new(
            "GET",
            "/v2/a/blobs/uploads/x"
        )));
        assert!(!is_blob_download(&Request::new(
            "GET",
            "/v2/a/manifests/sha256:ab"
        )));
    }
}
