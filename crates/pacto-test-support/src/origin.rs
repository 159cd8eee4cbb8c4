//! A second loopback origin serving a registry's blobs straight from its storage, recording
//! every request's headers: the target of [`FaultProxy::redirect_blobs_to`](crate::FaultProxy).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, fail};
use crate::http::{self, Conn, Flow, Handler, Request, Response, Server, lock};
use crate::registry::TestRegistry;

/// One request a [`BlobOrigin`] or a [`FakeRegistry`](crate::FakeRegistry) received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRequest {
    /// The method.
    pub method: String,
    /// Path plus query.
    pub path: String,
    /// Every header field as received, in order.
    pub headers: Vec<(String, String)>,
}

impl OriginRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct OriginState {
    storage: PathBuf,
    log: Mutex<Vec<OriginRequest>>,
}

/// A plain-HTTP server on `127.0.0.1` that answers `GET`/`HEAD .../blobs/sha256:HEX` from a
/// registry's storage and records each request (headers included) before answering it.
///
/// It has no authentication: like a storage backend behind a pre-signed redirect, it serves
/// anyone, so a test can assert that no `Authorization` header reached it. Stopped on drop.
pub struct BlobOrigin {
    state: Arc<OriginState>,
    server: Server,
}

impl std::fmt::Debug for BlobOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobOrigin")
            .field("url", &self.url())
            .field("storage", &self.state.storage)
            .finish_non_exhaustive()
    }
}

impl BlobOrigin {
    /// Serves the blobs of the distribution storage root `storage_dir`. Panics if it cannot
    /// bind a loopback port.
    pub fn start(storage_dir: &Path) -> BlobOrigin {
        BlobOrigin::try_start(storage_dir)
            .unwrap_or_else(|error| fail("could not start the blob origin", &error))
    }

    /// Serves the blobs of `registry`.
    pub fn for_registry(registry: &TestRegistry) -> BlobOrigin {
        BlobOrigin::start(registry.storage_dir())
    }

    /// Like [`BlobOrigin::start`], returning the error instead of panicking.
    pub fn try_start(storage_dir: &Path) -> Result<BlobOrigin, Error> {
        let state = Arc::new(OriginState {
            storage: storage_dir.to_owned(),
            log: Mutex::new(Vec::new()),
        });
        let handler: Arc<dyn Handler> = Arc::new(OriginHandler(Arc::clone(&state)));
        let server = Server::start("blob origin", handler, None)?;
        Ok(BlobOrigin { state, server })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<OriginRequest> {
        lock(&self.state.log).clone()
    }
}

struct OriginHandler(Arc<OriginState>);

/// The hex digest named by a `.../blobs/sha256:HEX` path, if it is one.
fn blob_hex(path: &str) -> Option<&str> {
    let (_, reference) = path.rsplit_once("/blobs/")?;
    let hex = reference.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

impl Handler for OriginHandler {
    fn handle(&self, request: Request, conn: &mut Conn<'_>) -> io::Result<Flow> {
        lock(&self.0.log).push(OriginRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.to_vec(),
        });
        let head = request.method == "HEAD";
        let blob = blob_hex(request.path()).filter(|_| head || request.method == "GET");
        let response = match blob {
            None => Response::json(404, &serde_json::json!({"errors": [{"code": "NOT_FOUND"}]})),
            Some(hex) => {
                let file = self
                    .0
                    .storage
                    .join("docker/registry/v2/blobs/sha256")
                    .join(&hex[..2])
                    .join(hex)
                    .join("data");
                match std::fs::read(file) {
                    Ok(body) => {
                        let mut response = Response::new(200)
                            .with_header("Content-Type", "application/octet-stream")
                            .with_header("Docker-Content-Digest", format!("sha256:{hex}"));
                        if head {
                            response =
                                response.with_header("Content-Length", body.len().to_string());
                        }
                        response.body = body;
                        response
                    }
                    Err(_) => Response::json(
                        404,
                        &serde_json::json!({"errors": [{"code": "BLOB_UNKNOWN"}]}),
                    ),
                }
            }
        };
        http::write_response(conn.stream, &response, head)?;
        Ok(Flow::KeepAlive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_blob_paths() {
        let hex = "a".repeat(64);
        let path = format!("/v2/team/app/blobs/sha256:{hex}");
        assert_eq!(blob_hex(&path), Some(hex.as_str()));
        for bad in [
            "/v2/a/blobs/uploads/".to_owned(),
            format!("/v2/a/blobs/sha512:{hex}"),
            format!("/v2/a/blobs/sha256:{}", "A".repeat(64)),
            "/v2/a/blobs/sha256:abc".to_owned(),
            format!("/v2/a/manifests/sha256:{hex}"),
        ] {
            assert_eq!(blob_hex(&bad), None, "{bad}");
        }
    }
}
