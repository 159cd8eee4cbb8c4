//! A scripted registry on loopback, for the answers a real registry never gives: tag lists
//! whose `Link` headers never end or loop, very long listings, and bodies that trickle or stall.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::digest::digest;
use crate::error::{Error, fail};
use crate::http::{self, Conn, Flow, Handler, Request, Response, Server, lock};
use crate::origin::OriginRequest;

/// The longest a trickle or a stall holds a connection before the server closes it.
const SLOW_LIMIT: Duration = Duration::from_secs(120);

/// How `GET /v2/NAME/tags/list` is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagListing {
    /// The tags `1.0.0` to `1.0.{count - 1}`, `page` per answer, each page but the last with a
    /// `Link: <...?last=...>; rel="next"` header, as ECR and GHCR paginate.
    Paginated {
        /// How many tags in all.
        count: usize,
        /// Tags per page.
        page: usize,
    },
    /// Pages of at least `page_bytes` bytes of tags (about 1 KB each), every one with a `Link` to a
    /// next page: the same URL every time when `repeat` is set (a loop), a new one otherwise
    /// (a chain that never ends).
    Endless {
        /// Bytes of tags per page.
        page_bytes: usize,
        /// Whether every `Link` names the same URL.
        repeat: bool,
    },
}

/// An artifact the fake registry serves: a manifest under a tag and its digest, and blobs
/// under their digests (in any repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeArtifact {
    /// The tag the manifest is served under.
    pub tag: String,
    /// The manifest bytes (served as an OCI image manifest).
    pub manifest: Vec<u8>,
    /// The blobs (config, layers), served under their sha256 digests.
    pub blobs: Vec<Vec<u8>>,
}

/// Which body is served slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowTarget {
    /// The body of `GET .../manifests/...`.
    Manifest,
    /// The body of `GET .../blobs/...`.
    Blob,
}

/// How a body is served slowly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowMode {
    /// One byte, then a pause of `interval`, and so on (after a normal head with the full
    /// `Content-Length`).
    Trickle {
        /// The pause between bytes.
        interval: Duration,
    },
    /// The head (with the full `Content-Length`), then nothing, until the client gives up.
    StallAfterHeaders,
}

/// A slow body: which one and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowBody {
    /// Which body.
    pub target: SlowTarget,
    /// How.
    pub mode: SlowMode,
}

/// What a [`FakeRegistry`] serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeOptions {
    /// How tag lists are answered (`None`: `404`).
    pub tags: Option<TagListing>,
    /// The artifact served (`None`: every manifest and blob is `404`).
    pub artifact: Option<FakeArtifact>,
    /// A body served slowly.
    pub slow: Option<SlowBody>,
}

struct FakeState {
    options: FakeOptions,
    log: Mutex<Vec<OriginRequest>>,
    /// Pages of an endless listing served so far (each names the next).
    pages: AtomicU64,
}

/// A plain-HTTP registry on `127.0.0.1` answering from [`FakeOptions`], anonymous, in any
/// repository. Every request is recorded (headers included) before it is answered. Slow
/// bodies end when the client goes away, the server is dropped, or after 120 s. Stopped on
/// drop.
pub struct FakeRegistry {
    state: Arc<FakeState>,
    server: Server,
}

impl std::fmt::Debug for FakeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRegistry")
            .field("host", &self.host())
            .field("tags", &self.state.options.tags)
            .field("slow", &self.state.options.slow)
            .finish_non_exhaustive()
    }
}

impl FakeRegistry {
    /// Starts serving `options`. Panics if it cannot bind a loopback port.
    pub fn start(options: FakeOptions) -> FakeRegistry {
        FakeRegistry::try_start(options)
            .unwrap_or_else(|error| fail("could not start the fake registry", &error))
    }

    /// Like [`FakeRegistry::start`], returning the error instead of panicking.
    pub fn try_start(options: FakeOptions) -> Result<FakeRegistry, Error> {
        let state = Arc::new(FakeState {
            options,
            log: Mutex::new(Vec::new()),
            pages: AtomicU64::new(0),
        });
        let handler: Arc<dyn Handler> = Arc::new(FakeHandler(Arc::clone(&state)));
        let server = Server::start("fake registry", handler, None)?;
        Ok(FakeRegistry { state, server })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<OriginRequest> {
        lock(&self.state.log).clone()
    }
}

struct FakeHandler(Arc<FakeState>);

/// `/v2/NAME/KIND/REST` split into `(NAME, KIND, REST)` for the kinds served.
fn route(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some((name, "tags", ""));
    }
    for kind in ["manifests", "blobs"] {
        if let Some((name, reference)) = rest.rsplit_once(&format!("/{kind}/")) {
            return Some((name, kind, reference));
        }
    }
    None
}

fn not_found(code: &str) -> Response {
    Response::json(404, &serde_json::json!({"errors": [{"code": code}]}))
}

fn tag_page(name: &str, tags: &[String], next: Option<String>) -> Response {
    let mut response = Response::json(200, &serde_json::json!({"name": name, "tags": tags}));
    if let Some(next) = next {
        response
            .headers
            .push("Link", format!("<{next}>; rel=\"next\""));
    }
    response
}

impl FakeHandler {
    fn tags(&self, name: &str, request: &Request) -> Response {
        let Some(listing) = &self.0.options.tags else {
            return not_found("NAME_UNKNOWN");
        };
        match *listing {
            TagListing::Paginated { count, page } => {
                let last = http::parse_query(request.query(), false)
                    .into_iter()
                    .find(|(key, _)| key == "last")
                    .and_then(|(_, value)| value.strip_prefix("1.0.")?.parse::<usize>().ok());
                let start = last.map_or(0, |i| i + 1).min(count);
                let end = (start + page.max(1)).min(count);
                let tags: Vec<String> = (start..end).map(|i| format!("1.0.{i}")).collect();
                let next = (end < count)
                    .then(|| format!("/v2/{name}/tags/list?last=1.0.{}&n={page}", end - 1));
                tag_page(name, &tags, next)
            }
            TagListing::Endless { page_bytes, repeat } => {
                let served = self.0.pages.fetch_add(1, Ordering::SeqCst);
                let filler = "x".repeat(1000);
                let tags: Vec<String> = (0..page_bytes.div_ceil(1000).max(1))
                    .map(|i| format!("p{served}-{i}-{filler}"))
                    .collect();
                let next = if repeat {
                    format!("/v2/{name}/tags/list?last=again&n=1000")
                } else {
                    format!("/v2/{name}/tags/list?last=p{served}&n=1000")
                };
                tag_page(name, &tags, Some(next))
            }
        }
    }

    /// The body for a manifest or blob request, with its head; `None` when unknown.
    fn content(&self, kind: &str, reference: &str) -> Option<Response> {
        let artifact = self.0.options.artifact.as_ref()?;
        let body = match kind {
            "manifests" => {
                let manifest_digest = digest(&artifact.manifest);
                (reference == artifact.tag || reference == manifest_digest)
                    .then(|| artifact.manifest.clone())?
            }
            _ => artifact
                .blobs
                .iter()
                .find(|blob| digest(blob) == reference)?
                .clone(),
        };
        let content_type = if kind == "manifests" {
            "application/vnd.oci.image.manifest.v1+json"
        } else {
            "application/octet-stream"
        };
        let mut response = Response::new(200)
            .with_header("Content-Type", content_type)
            .with_header("Docker-Content-Digest", digest(&body))
            .with_header("Content-Length", body.len().to_string());
        response.body = body;
        Some(response)
    }

    /// Sends `response`'s head with its full length, then its body as `mode` says.
    fn serve_slowly(response: &Response, mode: SlowMode, conn: &mut Conn<'_>) -> io::Result<Flow> {
        conn.stream
            .write_all(http::response_head(response, true).as_bytes())?;
        conn.stream.flush()?;
        let started = Instant::now();
        match mode {
            SlowMode::Trickle { interval } => {
                for byte in &response.body {
                    if started.elapsed() > SLOW_LIMIT {
                        break;
                    }
                    conn.stream.write_all(std::slice::from_ref(byte))?;
                    conn.stream.flush()?;
                    // The pause is the behaviour under test, not a synchronisation.
                    std::thread::sleep(interval);
                }
            }
            SlowMode::StallAfterHeaders => {
                conn.socket.set_read_timeout(Some(SLOW_LIMIT))?;
                let mut sink = [0u8; 1024];
                // Until the client closes, the server is dropped (which shuts the socket
                // down) or the limit passes.
                while matches!(conn.stream.read(&mut sink), Ok(n) if n > 0) {}
            }
        }
        Ok(Flow::Close)
    }
}

impl Handler for FakeHandler {
    fn handle(&self, request: Request, conn: &mut Conn<'_>) -> io::Result<Flow> {
        lock(&self.0.log).push(OriginRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.to_vec(),
        });
        let head = request.method == "HEAD";
        let readable = head || request.method == "GET";
        let response = match route(request.path()) {
            _ if !readable => Response::json(
                405,
                &serde_json::json!({"errors": [{"code": "UNSUPPORTED"}]}),
            ),
            None if request.path() == "/v2/" || request.path() == "/v2" => {
                Response::json(200, &serde_json::json!({}))
            }
            None => not_found("NOT_FOUND"),
            Some((name, "tags", _)) => self.tags(name, &request),
            Some((_, kind, reference)) => match self.content(kind, reference) {
                None if kind == "manifests" => not_found("MANIFEST_UNKNOWN"),
                None => not_found("BLOB_UNKNOWN"),
                Some(response) => {
                    let target = if kind == "manifests" {
                        SlowTarget::Manifest
                    } else {
                        SlowTarget::Blob
                    };
                    match self.0.options.slow {
                        Some(slow) if slow.target == target && !head => {
                            return FakeHandler::serve_slowly(&response, slow.mode, conn);
                        }
                        _ => response,
                    }
                }
            },
        };
        http::write_response(conn.stream, &response, head)?;
        Ok(Flow::KeepAlive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(fake: &FakeRegistry, target: &str) -> Response {
        let url = http::Url::parse(&format!("http://{}{target}", fake.host())).expect("url");
        http::exchange(&url, None, Request::new("GET", "")).expect("exchange")
    }

    #[test]
    fn paginates_tags_with_link_headers() {
        let fake = FakeRegistry::start(FakeOptions {
            tags: Some(TagListing::Paginated { count: 5, page: 2 }),
            ..FakeOptions::default()
        });
        let mut target = "/v2/a/b/tags/list?n=2".to_owned();
        let mut all = Vec::new();
        for _ in 0..10 {
            let response = get(&fake, &target);
            let page: serde_json::Value = serde_json::from_slice(&response.body).expect("json");
            all.extend(
                page["tags"]
                    .as_array()
                    .expect("tags")
                    .iter()
                    .map(|t| t.as_str().expect("str").to_owned()),
            );
            let Some(link) = response.headers.get("Link") else {
                break;
            };
            target = link
                .trim_start_matches('<')
                .split('>')
                .next()
                .expect("url")
                .to_owned();
        }
        assert_eq!(all, ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"]);
        assert_eq!(fake.requests().len(), 3);
    }

    #[test]
    fn endless_listings_link_onwards_or_back() {
        for repeat in [false, true] {
            let fake = FakeRegistry::start(FakeOptions {
                tags: Some(TagListing::Endless {
                    page_bytes: 8 * 1024,
                    repeat,
                }),
                ..FakeOptions::default()
            });
            let first = get(&fake, "/v2/r/tags/list");
            let second = get(&fake, "/v2/r/tags/list");
            assert!(first.body.len() >= 8 * 1024, "{}", first.body.len());
            assert_eq!(
                first.headers.get("Link") == second.headers.get("Link"),
                repeat
            );
        }
    }

    #[test]
    fn serves_an_artifact_and_routes() {
        let manifest = br#"{"schemaVersion":2}"#.to_vec();
        let blob = b"layer bytes".to_vec();
        let fake = FakeRegistry::start(FakeOptions {
            artifact: Some(FakeArtifact {
                tag: "1.0.0".into(),
                manifest: manifest.clone(),
                blobs: vec![blob.clone()],
            }),
            ..FakeOptions::default()
        });
        assert_eq!(get(&fake, "/v2/x/manifests/1.0.0").body, manifest);
        assert_eq!(
            get(&fake, &format!("/v2/x/manifests/{}", digest(&manifest))).body,
            manifest
        );
        assert_eq!(
            get(&fake, &format!("/v2/x/blobs/{}", digest(&blob))).body,
            blob
        );
        assert_eq!(get(&fake, "/v2/x/manifests/2.0.0").status, 404);
        assert_eq!(get(&fake, "/v2/x/tags/list").status, 404);
        assert_eq!(get(&fake, "/v2/").status, 200);
        assert_eq!(
            route("/v2/a/b/blobs/sha256:x"),
            Some(("a/b", "blobs", "sha256:x"))
        );
        assert_eq!(route("/other"), None);
    }

    #[test]
    fn trickles_one_byte_at_a_time() {
        let blob = b"0123456789".to_vec();
        let fake = FakeRegistry::start(FakeOptions {
            artifact: Some(FakeArtifact {
                tag: "1".into(),
                manifest: b"{}".to_vec(),
                blobs: vec![blob.clone()],
            }),
            slow: Some(SlowBody {
                target: SlowTarget::Blob,
                mode: SlowMode::Trickle {
                    interval: Duration::from_millis(20),
                },
            }),
            ..FakeOptions::default()
        });
        let started = Instant::now();
        let response = get(&fake, &format!("/v2/x/blobs/{}", digest(&blob)));
        assert_eq!(response.body, blob);
        assert!(
            started.elapsed() >= Duration::from_millis(180),
            "{:?}",
            started.elapsed()
        );
        // The manifest is not slowed down.
        assert_eq!(get(&fake, "/v2/x/manifests/1").body, b"{}");
    }
}
