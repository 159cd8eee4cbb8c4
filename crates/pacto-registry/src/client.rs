//! [`RegistryClient`]: the [`BundleStore`] for OCI distribution registries.
//!
//! Request budget on an anonymous registry (checked against the registry's access log in the
//! tests): pull of a tag = 2 (manifest GET, layer GET: the digest comes from the manifest
//! bytes, the config is not needed), resolve = 1 (HEAD), list tags = 1 per page, push to a new
//! tag = manifest HEAD + one upload per blob + manifest PUT + manifest HEAD (the re-read that
//! detects a concurrent push to the same tag), where an upload is a single
//! `POST ?digest=` when the registry completes it (201) and POST + PUT when it answers 202
//! (distribution 2.8 does; the host is remembered so only the first, small config blob is
//! ever sent twice).

use crate::artifact::{self, MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPE, MAX_MANIFEST_SIZE};
use crate::error::TimeLimit;
use crate::mirror::Mirrors;
use crate::packing::{Layer, Upload};
use crate::progress::{self, Direction, Progress, ProgressEvent};
use crate::scratch::Scratch;
use crate::sink::BlobSink;
use crate::tls;
use crate::transport::{
    CredentialFallback, Endpoint, LowSpeedLimit, Request, RetryPolicy, Scope, Target, Transport,
    TransportConfig, failure, next_chunk, read_limited, registry_message,
};
use crate::{
    BundleStore, FetchedLayer, PackedLayerFile, PackingLayer, Pulled, PushOptions, PushOutcome,
    PushStatus, StoreError, push_tag,
};
use async_trait::async_trait;
use bytes::Bytes;
use pacto_archive::Limits;
use pacto_artifact::Envelope;
use pacto_auth::Keychain;
use pacto_contract::Bundle;
use pacto_fs::BlobDir;
use pacto_ref::{ArtifactRef, Digest, DigestAlgorithm, Reference};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tracing::{debug, info};

mod streaming;

/// Page size for tag listing: ECR refuses more than 1000.
const TAG_PAGE_SIZE: usize = 1000;
/// Bound on tag pages followed (a registry whose `Link` headers never end cannot hold us).
const MAX_TAG_PAGES: usize = 1000;
/// Bound on the tags of one listing, all pages together.
pub(crate) const MAX_TAGS: usize = 100_000;
/// Bound on the bytes of one listing, all pages together.
pub(crate) const MAX_TAG_LIST_BYTES: u64 = 16 * 1024 * 1024;
/// Attempts at a blob download that breaks off mid-stream.
const BLOB_ATTEMPTS: usize = 3;
/// The largest request body a blob upload sends (4 MiB): GHCR answers 413 to bigger ones,
/// so a bigger blob is uploaded in chunks of this size.
pub const MAX_UPLOAD_CHUNK: usize = 4 * 1024 * 1024;

/// Builds a [`RegistryClient`].
#[derive(Debug, Clone)]
pub struct RegistryClientBuilder {
    keychain: Keychain,
    ca_files: Vec<PathBuf>,
    limits: Limits,
    retry: RetryPolicy,
    connect_timeout: Duration,
    read_timeout: Duration,
    low_speed: Option<LowSpeedLimit>,
    timeout: Option<Duration>,
    user_agent: String,
    mirrors: Vec<(String, pacto_ref::Registry)>,
    mirror_digests_only: bool,
    progress: Option<Progress>,
}

impl Default for RegistryClientBuilder {
    fn default() -> Self {
        RegistryClientBuilder {
            keychain: Keychain::anonymous(),
            ca_files: Vec::new(),
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            low_speed: Some(LowSpeedLimit::default()),
            timeout: None,
            user_agent: concat!("pacto-oci/", env!("CARGO_PKG_VERSION")).to_owned(),
            mirrors: Vec::new(),
            mirror_digests_only: false,
            progress: None,
        }
    }
}

impl RegistryClientBuilder {
    /// Credentials to offer, in order (default: none, anonymous only).
    pub fn keychain(mut self, keychain: Keychain) -> Self {
        self.keychain = keychain;
        self
    }

    /// Trust the certificates in this PEM file in addition to the system roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Archive limits applied to every pull (default: Go pacto's).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Retry policy for connection errors, 408, 429 and 5xx.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Time allowed to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest silence allowed while reading an answer (default 30 s): a stalled
    /// connection fails instead of hanging.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Aborts a transfer slower than `limit` ([`LowSpeedLimit`]; default 1 KiB/s over 30 s),
    /// so a server that trickles or stalls cannot hold an operation; `None` switches it off.
    pub fn low_speed_limit(mut self, limit: Option<LowSpeedLimit>) -> Self {
        self.low_speed = limit;
        self
    }

    /// Bounds every operation (push, pull, resolve, tag listing, credential check), retries
    /// included, by `timeout` in all (default: no bound beyond the low-speed limit and the
    /// retry policy). Past it the operation fails with [`StoreError::TimedOut`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header (default `pacto-oci/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Reads from `registry` (manifests, blobs, tag lists) go to `mirror` first, a
    /// pull-through cache with the same repository paths (distribution's proxy mode, a Harbor
    /// proxy cache, Zot); repeat for several mirrors, tried in the order given, then the
    /// registry itself. Writes never go to a mirror. Registry names are normalised as for
    /// login (`docker.io` = `index.docker.io`); `mirror`'s scheme follows its own rules (parse
    /// it with the insecure hosts in force). A mirror is offered only its own credentials.
    pub fn mirror(mut self, registry: impl Into<String>, mirror: pacto_ref::Registry) -> Self {
        self.mirrors.push((registry.into(), mirror));
        self
    }

    /// Resolve tags at the registry and take from mirrors only what is named by digest
    /// (manifests by digest, blobs), so that a mirror cannot map a tag (default: off; a mirror
    /// is trusted to map tags, as containerd trusts it).
    pub fn mirror_digests_only(mut self, digests_only: bool) -> Self {
        self.mirror_digests_only = digests_only;
        self
    }

    /// Tells `progress` about every blob downloaded or uploaded ([`ProgressEvent`]):
    /// its start, its bytes as they move, its end (default: no observer). No request is
    /// added or changed.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Builds the client; fails when a CA file cannot be read or parsed.
    pub fn build(self) -> Result<RegistryClient, StoreError> {
        let extra_roots = tls::read_ca_files(&self.ca_files)?;
        let transport = Transport::new(TransportConfig {
            keychain: self.keychain,
            tls: Arc::new(tls::client_config(extra_roots)?),
            user_agent: self.user_agent,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            retry: self.retry,
            low_speed: self.low_speed,
        })?;
        Ok(RegistryClient {
            transport: Arc::new(transport),
            limits: self.limits,
            timeout: self.timeout,
            mirrors: Arc::new(Mirrors::new(&self.mirrors, self.mirror_digests_only)),
            progress: self.progress,
        })
    }
}

/// A [`BundleStore`] over the OCI distribution API. Cheap to clone; clones share connections,
/// tokens and what each host accepted.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    transport: Arc<Transport>,
    limits: Limits,
    timeout: Option<Duration>,
    mirrors: Arc<Mirrors>,
    progress: Option<Progress>,
}

/// One registry repository, as the requests need it.
struct Repo<'a> {
    reference: &'a Reference,
    endpoint: Endpoint,
    display: String,
}

impl Repo<'_> {
    fn scope(&self, push: bool) -> Scope {
        Scope {
            repository: self.reference.repository().to_owned(),
            push,
            reference: self.display.clone(),
        }
    }

    fn path(&self, rest: &str) -> Target {
        Target::Path(format!("/v2/{}/{rest}", self.reference.repository()))
    }

    fn host(&self) -> &str {
        &self.endpoint.host
    }
}

impl RegistryClient {
    /// A builder with the defaults (anonymous, system roots, Go pacto's limits).
    pub fn builder() -> RegistryClientBuilder {
        RegistryClientBuilder::default()
    }

    /// The archive limits applied to pulls.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The progress observer, when the builder was given one ([`AnyStore::new`] hands it
    /// to the layout store too).
    ///
    /// [`AnyStore::new`]: crate::AnyStore::new
    pub(crate) fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    /// Every time explicit credentials (flags, `PACTO_REGISTRY_*`) were rejected by a registry
    /// and another source, or anonymous access, was used instead; shared by clones. Callers
    /// show these so a wrong password is not silently masked by a stored one.
    pub fn credential_fallbacks(&self) -> Vec<CredentialFallback> {
        self.transport.credential_fallbacks()
    }

    /// Runs `operation` within the client's timeout, if it has one.
    async fn bounded<T>(
        &self,
        reference: &ArtifactRef,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(timeout) = self.timeout else {
            return operation.await;
        };
        match tokio::time::timeout(timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::TimedOut {
                reference: reference.to_string(),
                registry: match reference {
                    ArtifactRef::Remote(remote) => remote.registry().name().to_owned(),
                    other => other.to_string(),
                },
                limit: TimeLimit::Deadline { timeout },
            }),
        }
    }

    /// Checks `credential` against `registry` (`GET /v2/`, answering its challenge with this
    /// credential only), as `docker login` does: `Ok` when the registry accepts it, an
    /// [`ErrorKind::Authentication`](crate::ErrorKind::Authentication) error when it refuses,
    /// [`ErrorKind::Unreachable`](crate::ErrorKind::Unreachable) when it cannot be reached.
    /// Nothing is stored.
    pub async fn check_credentials(
        &self,
        registry: &pacto_ref::Registry,
        credential: pacto_auth::Credential,
    ) -> Result<(), StoreError> {
        let explicit = match credential {
            pacto_auth::Credential::Basic { username, password } => {
                pacto_auth::CredentialOptions::default()
                    .with_username(username)
                    .with_password(password)
            }
            pacto_auth::Credential::Bearer { token } => {
                pacto_auth::CredentialOptions::default().with_token(token)
            }
        };
        let keychain = Keychain::with_config(explicit, pacto_auth::KeychainConfig::explicit_only());
        let transport = Transport::new(TransportConfig {
            keychain,
            ..self.transport.config().clone()
        })?;
        let endpoint = Endpoint {
            host: registry.name().to_owned(),
            policy: registry.policy(),
            insecure: registry.is_insecure(),
            mirror: false,
        };
        let scope = Scope {
            repository: String::new(),
            push: true,
            reference: registry.name().to_owned(),
        };
        let request = Request::new(Method::GET, Target::Path("/v2/".into()));
        let send = transport.send(&endpoint, &scope, &request);
        let response =
            match self.timeout {
                None => send.await?,
                Some(timeout) => tokio::time::timeout(timeout, send).await.map_err(|_| {
                    StoreError::TimedOut {
                        reference: registry.name().to_owned(),
                        registry: registry.name().to_owned(),
                        limit: TimeLimit::Deadline { timeout },
                    }
                })??,
            };
        match response.status() {
            StatusCode::OK => Ok(()),
            status if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                Err(StoreError::Authentication {
                    reference: registry.name().to_owned(),
                    registry: registry.name().to_owned(),
                    tried: Vec::new(),
                    rejected: Vec::new(),
                    detail: registry_message(response).await.to_string(),
                })
            }
            _ => {
                let message = registry_message(response).await;
                Err(StoreError::Registry {
                    reference: registry.name().to_owned(),
                    registry_message: message,
                })
            }
        }
    }

    /// Tells the progress observer, if any, what `make` builds.
    fn emit(&self, make: impl FnOnce() -> ProgressEvent) {
        progress::emit(self.progress.as_ref(), make);
    }

    fn repo<'a>(&self, reference: &'a ArtifactRef) -> Result<Repo<'a>, StoreError> {
        let ArtifactRef::Remote(remote) = reference else {
            return Err(StoreError::InvalidReference {
                reference: reference.to_string(),
                reason: "the registry client takes registry references, not oci-layout paths"
                    .into(),
            });
        };
        // ggcr's weak validation (which pacto-ref follows) lets `..`, `.` and empty path
        // components through; in a URL they would be normalised away and steer the request
        // (credentials included) outside the registry's /v2/ API.
        let repository = remote.repository();
        if repository
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(StoreError::InvalidReference {
                reference: reference.to_string(),
                reason: format!(
                    "repository {repository:?} has an empty, '.' or '..' path component, \
                     which no registry accepts"
                ),
            });
        }
        let registry = remote.registry();
        Ok(Repo {
            reference: remote,
            endpoint: Endpoint {
                host: registry.name().to_owned(),
                policy: registry.policy(),
                insecure: registry.is_insecure(),
                mirror: false,
            },
            display: reference.to_string(),
        })
    }

    async fn send(
        &self,
        repo: &Repo<'_>,
        push: bool,
        request: Request,
    ) -> Result<Response, StoreError> {
        if !push
            && !self.mirrors.is_empty()
            && matches!(request.method, Method::GET | Method::HEAD)
            && let Target::Path(path) = &request.target
        {
            for mirror in self.mirrors.for_read(repo.host(), path) {
                if let Some(response) = self.send_to_mirror(repo, &mirror, &request).await {
                    return Ok(response);
                }
            }
        }
        self.transport
            .send(&repo.endpoint, &repo.scope(push), &request)
            .await
    }

    /// A read from `mirror`: its answer when it could serve it, `None` (noted, and the mirror
    /// dropped when it is unreachable) when the next mirror or the registry should.
    async fn send_to_mirror(
        &self,
        repo: &Repo<'_>,
        mirror: &pacto_ref::Registry,
        request: &Request,
    ) -> Option<Response> {
        let endpoint = Endpoint {
            host: mirror.name().to_owned(),
            policy: mirror.policy(),
            insecure: mirror.is_insecure(),
            mirror: true,
        };
        let why = match self
            .transport
            .send(&endpoint, &repo.scope(false), request)
            .await
        {
            Ok(response) if response.status().is_success() => {
                debug!(mirror = %mirror.name(), reference = %repo.display, "served by the mirror");
                return Some(response);
            }
            Ok(response) => format!("it answered HTTP {}", response.status().as_u16()),
            Err(error) => {
                if error.kind() == crate::ErrorKind::Unreachable {
                    // Not tried again: a fleet's mirror is either there or not.
                    self.mirrors.mark_dead(mirror.name());
                }
                error.to_string()
            }
        };
        if self.mirrors.first_note(mirror.name()) {
            info!(
                mirror = %mirror.name(),
                registry = %repo.host(),
                reference = %repo.display,
                "the mirror could not serve a read ({why}); using the next mirror or the registry"
            );
        } else {
            debug!(mirror = %mirror.name(), reference = %repo.display, "mirror fallback: {why}");
        }
        None
    }

    /// Turns an unexpected answer into the error of its kind.
    async fn failure(&self, repo: &Repo<'_>, what: &str, response: Response) -> StoreError {
        let status = response.status();
        let message = registry_message(response).await;
        match status {
            StatusCode::NOT_FOUND => StoreError::NotFound {
                reference: repo.display.clone(),
                detail: format!("{what}: {message}"),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => StoreError::Authentication {
                reference: repo.display.clone(),
                registry: repo.host().to_owned(),
                tried: Vec::new(),
                rejected: Vec::new(),
                detail: format!("{what}: {message}"),
            },
            s if s.is_server_error()
                || s == StatusCode::TOO_MANY_REQUESTS
                || s == StatusCode::REQUEST_TIMEOUT =>
            {
                StoreError::Unreachable {
                    reference: repo.display.clone(),
                    registry: repo.host().to_owned(),
                    transient: true,
                    detail: format!("{what}: {message} (after retries)"),
                }
            }
            _ => StoreError::Registry {
                reference: repo.display.clone(),
                registry_message: message,
            },
        }
    }

    /// GETs the manifest for `identifier` (tag or digest), its digest checked.
    async fn get_manifest(
        &self,
        repo: &Repo<'_>,
        identifier: Identifier<'_>,
    ) -> Result<FetchedManifest, StoreError> {
        let request = Request::new(Method::GET, repo.path(&format!("manifests/{identifier}")))
            .header(header::ACCEPT, MANIFEST_ACCEPT);
        let response = self.send(repo, false, request).await?;
        if response.status() != StatusCode::OK {
            return Err(self.failure(repo, "manifest", response).await);
        }
        let content_type = header_str(response.headers(), header::CONTENT_TYPE);
        let claimed = header_str(response.headers(), "docker-content-digest");
        if let Some(length) = response.content_length()
            && length > MAX_MANIFEST_SIZE
        {
            return Err(StoreError::invalid_bundle(
                &repo.display,
                format!("manifest is {length} bytes, over the {MAX_MANIFEST_SIZE}-byte limit"),
            ));
        }
        let body = read_limited(response, MAX_MANIFEST_SIZE)
            .await
            .map_err(|e| failure(repo.host(), &repo.display, "reading the manifest", e))?;
        if body.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(StoreError::invalid_bundle(
                &repo.display,
                format!("manifest is over the {MAX_MANIFEST_SIZE}-byte limit"),
            ));
        }
        let digest = pacto_fs::sha256(&body);
        // The digest asked for, else the one the registry claims when it names sha256 (a
        // malformed sha256 claim is a mismatch too; other algorithms cannot be checked).
        let expected = match identifier {
            Identifier::Digest(asked) => Some(asked.to_string()),
            Identifier::Tag(_) => claimed.filter(|c| {
                c.split_once(':')
                    .is_some_and(|(algorithm, _)| algorithm == DigestAlgorithm::Sha256.as_str())
            }),
        };
        if let Some(expected) = expected
            && expected != digest.as_str()
        {
            return Err(StoreError::invalid_bundle(
                &repo.display,
                format!(
                    "manifest digest mismatch: expected {expected}, the bytes hash to {digest}"
                ),
            ));
        }
        Ok(FetchedManifest {
            bytes: Bytes::from(body),
            digest,
            content_type,
        })
    }

    /// GETs a blob into what `sink` makes (a new sink per attempt), checking size and digest
    /// as the bytes arrive; retried when the stream breaks off. Returns the bytes of a memory
    /// sink.
    async fn get_blob(
        &self,
        repo: &Repo<'_>,
        digest: &Digest,
        size: u64,
        sink: impl Fn() -> BlobSink,
    ) -> Result<Option<Bytes>, StoreError> {
        let mut last_error = None;
        for attempt in 0..BLOB_ATTEMPTS {
            let request = Request::new(Method::GET, repo.path(&format!("blobs/{digest}")));
            let response = self.send(repo, false, request).await?;
            if response.status() != StatusCode::OK {
                return Err(self.failure(repo, "layer blob", response).await);
            }
            self.emit(|| ProgressEvent::BlobStarted {
                digest: digest.clone(),
                size,
                direction: Direction::Download,
            });
            match self.read_blob(repo, response, digest, size, sink()).await {
                Ok(bytes) => {
                    self.emit(|| ProgressEvent::BlobDone {
                        digest: digest.clone(),
                        direction: Direction::Download,
                    });
                    return Ok(bytes);
                }
                // A body that broke off is fetched again; one that was too slow is not.
                Err(
                    e @ StoreError::Unreachable {
                        transient: true, ..
                    },
                ) if attempt + 1 < BLOB_ATTEMPTS => {
                    debug!(reference = %repo.display, error = %e, "blob download broke off, retrying");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    async fn read_blob(
        &self,
        repo: &Repo<'_>,
        mut response: Response,
        digest: &Digest,
        size: u64,
        mut sink: BlobSink,
    ) -> Result<Option<Bytes>, StoreError> {
        let too_big = |got: u64| {
            StoreError::invalid_bundle(
                &repo.display,
                format!(
                    "layer {digest} is larger than its descriptor's {size} bytes (got {got} or more)"
                ),
            )
        };
        if let Some(length) = response.content_length()
            && length > size
        {
            return Err(too_big(length));
        }
        let mut received = 0u64;
        while let Some(chunk) = next_chunk(&mut response)
            .await
            .map_err(|e| failure(repo.host(), &repo.display, "reading the layer", e))?
        {
            let n = chunk.len() as u64;
            if received + n > size {
                return Err(too_big(received + n));
            }
            received += n;
            sink.put(chunk).await?;
            self.emit(|| ProgressEvent::BlobBytes {
                digest: digest.clone(),
                n,
                direction: Direction::Download,
            });
        }
        if received != size {
            return Err(StoreError::invalid_bundle(
                &repo.display,
                format!("layer {digest} is {received} bytes, its descriptor says {size}"),
            ));
        }
        sink.finish(&repo.display, digest).await
    }

    /// The digest of the manifest at `identifier`, by HEAD (GET when the registry omits the
    /// `Docker-Content-Digest` header). `None` when it does not exist.
    async fn head_manifest(
        &self,
        repo: &Repo<'_>,
        identifier: Identifier<'_>,
        push: bool,
    ) -> Result<Option<Digest>, StoreError> {
        let request = Request::new(Method::HEAD, repo.path(&format!("manifests/{identifier}")))
            .header(header::ACCEPT, MANIFEST_ACCEPT);
        let response = self.send(repo, push, request).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(self.failure(repo, "manifest", response).await),
        }
        if let Some(digest) = header_str(response.headers(), "docker-content-digest")
            .and_then(|d| artifact::parse_sha256(&d))
        {
            return Ok(Some(digest));
        }
        debug!(reference = %repo.display, "no Docker-Content-Digest on HEAD, falling back to GET");
        let fetched = self.get_manifest(repo, identifier).await?;
        Ok(Some(fetched.digest))
    }

    /// Uploads a blob the registry does not have: in one request when it is at most
    /// [`MAX_UPLOAD_CHUNK`] bytes (`POST ?digest=`, or `POST` then `PUT` where the registry
    /// wants that), else in chunks ([`RegistryClient::upload_chunked`]). A blob in a file
    /// is read a chunk at a time, never whole.
    async fn upload_blob(
        &self,
        repo: &Repo<'_>,
        digest: &Digest,
        blob: Blob,
    ) -> Result<(), StoreError> {
        self.upload_blob_into(repo, digest, blob, None).await
    }

    /// [`RegistryClient::upload_blob`], into the upload session at `session` when a mount
    /// answered with one (`202` and a `Location`: the spec lets the client upload there
    /// rather than leave it to expire), else into a new one.
    async fn upload_blob_into(
        &self,
        repo: &Repo<'_>,
        digest: &Digest,
        blob: Blob,
        session: Option<String>,
    ) -> Result<(), StoreError> {
        let size = blob.size();
        self.emit(|| ProgressEvent::BlobStarted {
            digest: digest.clone(),
            size,
            direction: Direction::Upload,
        });
        if size > MAX_UPLOAD_CHUNK as u64 {
            let location = match session {
                Some(location) => location,
                None => self.open_upload(repo).await?,
            };
            self.upload_chunked(repo, digest, blob.chunks().await?, location)
                .await?;
        } else {
            let data = blob.chunks().await?.next(MAX_UPLOAD_CHUNK).await?;
            match session {
                Some(location) => self.close_upload(repo, digest, &location, data).await?,
                None => self.upload_whole(repo, digest, data).await?,
            }
        }
        self.emit(|| ProgressEvent::BlobDone {
            digest: digest.clone(),
            direction: Direction::Upload,
        });
        Ok(())
    }

    /// Uploads a blob of at most [`MAX_UPLOAD_CHUNK`] bytes in one request body.
    async fn upload_whole(
        &self,
        repo: &Repo<'_>,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), StoreError> {
        let size = data.len() as u64;
        let single_post = self.transport.single_post_upload(repo.host()) != Some(false);
        let start = if single_post {
            Request::new(
                Method::POST,
                repo.path(&format!("blobs/uploads/?digest={digest}")),
            )
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(data.clone())
        } else {
            Request::new(Method::POST, repo.path("blobs/uploads/"))
        };
        let response = self.send(repo, true, start).await?;
        match response.status() {
            StatusCode::CREATED if single_post => {
                self.transport.set_single_post_upload(repo.host(), true);
                self.emit(|| ProgressEvent::BlobBytes {
                    digest: digest.clone(),
                    n: size,
                    direction: Direction::Upload,
                });
                return Ok(());
            }
            StatusCode::ACCEPTED => {
                if single_post {
                    debug!(registry = %repo.host(), "single-request upload answered 202: using POST + PUT");
                    self.transport.set_single_post_upload(repo.host(), false);
                }
            }
            _ => return Err(self.failure(repo, "blob upload", response).await),
        }
        let location = upload_location(repo, &response)?;
        self.close_upload(repo, digest, &location, data).await
    }

    /// Closes the upload session at `location` with its last bytes, `data` (possibly
    /// none): `PUT ?digest=`.
    async fn close_upload(
        &self,
        repo: &Repo<'_>,
        digest: &Digest,
        location: &str,
        data: Bytes,
    ) -> Result<(), StoreError> {
        let size = data.len() as u64;
        let mut put = Request::new(Method::PUT, upload_target(location, Some(digest)));
        if size > 0 {
            put = put
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(data);
        }
        let response = self.send(repo, true, put).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.failure(repo, "blob upload", response).await);
        }
        if size > 0 {
            self.emit(|| ProgressEvent::BlobBytes {
                digest: digest.clone(),
                n: size,
                direction: Direction::Upload,
            });
        }
        Ok(())
    }

    /// Opens an upload session (`POST`, answered `202` with a `Location`).
    async fn open_upload(&self, repo: &Repo<'_>) -> Result<String, StoreError> {
        let start = Request::new(Method::POST, repo.path("blobs/uploads/"));
        let response = self.send(repo, true, start).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.failure(repo, "blob upload", response).await);
        }
        upload_location(repo, &response)
    }

    /// Sends `chunk`, the bytes from `offset` on, into the upload session at `location`
    /// (`PATCH` with `Content-Range`), and returns where the session goes on. Not retried:
    /// the registry may have taken part of it.
    async fn patch_upload(
        &self,
        repo: &Repo<'_>,
        location: &str,
        offset: u64,
        chunk: Bytes,
    ) -> Result<String, StoreError> {
        let end = offset + chunk.len() as u64;
        let patch = Request::new(Method::PATCH, upload_target(location, None))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_RANGE, format!("{offset}-{}", end - 1))
            .body(chunk);
        let response = self.send(repo, true, patch).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.failure(repo, "blob upload", response).await);
        }
        upload_location(repo, &response)
    }

    /// The OCI chunked upload, as Go pacto and containerd do it, into the session at
    /// `location` (opened with `POST`): one `PATCH` per [`MAX_UPLOAD_CHUNK`] bytes
    /// (`Content-Range: START-END`, each to the `Location` the previous answer gave), then
    /// `PUT ?digest=` with no body. No request body is over the chunk size, so registries
    /// that refuse big bodies (GHCR answers 413 over 4 MiB) take any blob. A `PATCH` is not
    /// retried (the registry may have taken part of it); a failed upload leaves no tag, as
    /// the manifest is put last.
    async fn upload_chunked(
        &self,
        repo: &Repo<'_>,
        digest: &Digest,
        mut chunks: Chunks,
        mut location: String,
    ) -> Result<(), StoreError> {
        let size = chunks.size();
        self.patch_chunks(repo, &mut location, 0, size, &mut chunks, |n| {
            self.emit(|| ProgressEvent::BlobBytes {
                digest: digest.clone(),
                n,
                direction: Direction::Upload,
            });
        })
        .await?;
        debug!(reference = %repo.display, %digest, size, "uploaded in chunks");
        self.close_upload(repo, digest, &location, Bytes::new())
            .await
    }

    /// `PATCH`es the bytes of `chunks` from `offset` up to `end` into the upload session at
    /// `location`, at most [`MAX_UPLOAD_CHUNK`] a request, telling `sent` each chunk's size;
    /// `location` is kept where the session goes on (the last one the registry gave, also
    /// after a failure, so that the session can be deleted).
    async fn patch_chunks(
        &self,
        repo: &Repo<'_>,
        location: &mut String,
        mut offset: u64,
        end: u64,
        chunks: &mut Chunks,
        sent: impl Fn(u64),
    ) -> Result<(), StoreError> {
        while offset < end {
            let max = usize::try_from(end - offset)
                .map_or(MAX_UPLOAD_CHUNK, |left| left.min(MAX_UPLOAD_CHUNK));
            let chunk = chunks.next(max).await?;
            let n = chunk.len() as u64;
            *location = self.patch_upload(repo, location, offset, chunk).await?;
            sent(n);
            offset += n;
        }
        Ok(())
    }
}

/// What a registry did with a mount request.
#[derive(Debug)]
pub(crate) enum Mount {
    /// `201`: the blob is in the repository.
    Mounted,
    /// `202`: not mounted, but an upload session is open at this `Location`.
    Session(String),
    /// Anything else: not mounted, no session.
    Refused,
}

/// A blob to upload: bytes in memory, or `size` bytes in a file.
#[derive(Debug)]
enum Blob {
    Memory(Bytes),
    File { path: PathBuf, size: u64 },
}

impl Blob {
    fn size(&self) -> u64 {
        match self {
            Blob::Memory(bytes) => bytes.len() as u64,
            Blob::File { size, .. } => *size,
        }
    }

    /// The blob, ready to be read from the start.
    async fn chunks(self) -> Result<Chunks, StoreError> {
        Ok(match self {
            Blob::Memory(bytes) => Chunks::Memory(bytes),
            Blob::File { path, size } => {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| StoreError::io("cannot open", &path, e))?;
                Chunks::File {
                    file,
                    path,
                    left: size,
                    size,
                }
            }
        })
    }
}

/// A blob read from its start, a chunk at a time.
#[derive(Debug)]
enum Chunks {
    /// The bytes not read yet.
    Memory(Bytes),
    File {
        file: tokio::fs::File,
        path: PathBuf,
        /// Bytes not read yet.
        left: u64,
        /// The blob's size.
        size: u64,
    },
}

impl Chunks {
    /// The layer a packer is writing, read from its start through `file` (a handle of its
    /// own): the caller reads only what the packer reported written.
    fn growing(file: tokio::fs::File) -> Chunks {
        Chunks::File {
            file,
            path: PathBuf::from("the layer being packed"),
            left: u64::MAX,
            size: u64::MAX,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Chunks::Memory(bytes) => bytes.len() as u64,
            Chunks::File { size, .. } => *size,
        }
    }

    /// The next `max` bytes (fewer at the end of the blob); a file that ends early is an
    /// error (the registry checks the digest of what it was sent).
    async fn next(&mut self, max: usize) -> Result<Bytes, StoreError> {
        match self {
            Chunks::Memory(bytes) => Ok(bytes.split_to(max.min(bytes.len()))),
            Chunks::File {
                file, path, left, ..
            } => {
                let want = usize::try_from(*left).unwrap_or(usize::MAX).min(max);
                let mut chunk = vec![0u8; want];
                file.read_exact(&mut chunk)
                    .await
                    .map_err(|e| StoreError::io("cannot read", path, e))?;
                *left -= want as u64;
                Ok(Bytes::from(chunk))
            }
        }
    }
}

/// The `Location` of an upload session answer (`202 Accepted`).
fn upload_location(repo: &Repo<'_>, response: &Response) -> Result<String, StoreError> {
    header_str(response.headers(), header::LOCATION).ok_or_else(|| StoreError::Registry {
        reference: repo.display.clone(),
        registry_message: crate::RegistryMessage {
            status: response.status().as_u16(),
            code: None,
            message: Some("upload session answered without a Location header".into()),
        },
    })
}

/// Where the next request of an upload session goes: its `Location` (a path on the
/// registry or an absolute URL), with `digest=` added for the closing `PUT`.
fn upload_target(location: &str, digest: Option<&Digest>) -> Target {
    let url = match digest {
        Some(digest) => {
            let separator = if location.contains('?') { '&' } else { '?' };
            format!("{location}{separator}digest={digest}")
        }
        None => location.to_owned(),
    };
    if url.starts_with('/') {
        Target::Path(url)
    } else {
        Target::Absolute(url)
    }
}

/// A manifest as a registry returned it.
#[derive(Debug)]
struct FetchedManifest {
    /// The bytes, exactly as received.
    bytes: Bytes,
    /// Their digest (checked against the one asked for or claimed).
    digest: Digest,
    /// The `Content-Type` the registry announced.
    content_type: Option<String>,
}

/// What a manifest request names: a tag or a digest.
#[derive(Debug, Clone, Copy)]
enum Identifier<'a> {
    Tag(&'a str),
    Digest(&'a Digest),
}

impl std::fmt::Display for Identifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identifier::Tag(tag) => f.write_str(tag),
            Identifier::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

/// The tag or digest a pull of `reference` asks for.
fn pull_identifier<'r>(
    reference: &'r ArtifactRef,
    repo: &Repo<'_>,
) -> Result<Identifier<'r>, StoreError> {
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => Ok(Identifier::Digest(digest)),
        (None, Some(tag)) => Ok(Identifier::Tag(tag)),
        (None, None) => Err(StoreError::InvalidReference {
            reference: repo.display.clone(),
            reason: "a pull needs a tag or digest (resolve an untagged reference first)".into(),
        }),
    }
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The operations, unbounded; [`BundleStore`] runs each within the client's timeout.
impl RegistryClient {
    async fn push_now(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let tag = push_tag(reference, bundle.version())?;
        let tagged = reference.with_tag(&tag);
        let repo = self.repo(&tagged)?;
        let upload = crate::packing::pack(bundle, &repo.display, &self.limits).await?;
        self.push_upload(&repo, &tagged, &tag, upload, options)
            .await
    }

    async fn push_layer_file_now(
        &self,
        reference: &ArtifactRef,
        layer: &PackedLayerFile,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let tag = push_tag(reference, layer.version())?;
        let tagged = reference.with_tag(&tag);
        let repo = self.repo(&tagged)?;
        let upload = crate::packing::from_file(layer);
        self.push_upload(&repo, &tagged, &tag, upload, options)
            .await
    }

    /// A push, once packed: `HEAD` the tag (unchanged, conflict, or overwrite with
    /// `force`), upload the config and the layer concurrently, `PUT` the manifest, and
    /// re-read the tag to catch a concurrent push.
    async fn push_upload(
        &self,
        repo: &Repo<'_>,
        tagged: &ArtifactRef,
        tag: &str,
        upload: Upload,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let existing = self.head_manifest(repo, Identifier::Tag(tag), true).await?;
        self.push_upload_over(repo, tagged, tag, upload, options, existing)
            .await
    }

    /// [`RegistryClient::push_upload`] once the tag's `HEAD` answered `existing`.
    async fn push_upload_over(
        &self,
        repo: &Repo<'_>,
        tagged: &ArtifactRef,
        tag: &str,
        upload: Upload,
        options: PushOptions,
        existing: Option<Digest>,
    ) -> Result<PushOutcome, StoreError> {
        let Upload { envelope, layer } = upload;
        let status = match existing {
            Some(existing) if existing == envelope.manifest_digest => {
                info!(reference = %repo.display, digest = %existing, "tag already holds this bundle");
                return Ok(PushOutcome {
                    reference: tagged.clone(),
                    digest: existing,
                    status: PushStatus::Unchanged,
                });
            }
            Some(existing) if !options.force => {
                return Err(StoreError::Conflict {
                    reference: repo.display.clone(),
                    existing,
                    pushing: envelope.manifest_digest,
                });
            }
            Some(_) => PushStatus::Overwritten,
            None => PushStatus::Pushed,
        };
        let layer = match layer {
            Layer::Memory(bytes) => Blob::Memory(bytes),
            Layer::File(path) => Blob::File {
                path,
                size: envelope.layer_size,
            },
        };
        let from = options
            .mount_from
            .as_deref()
            .filter(|from| *from != repo.reference.repository());
        let layer_upload = async {
            let session = match from {
                Some(from) => {
                    match self
                        .mount_into(repo, from, &envelope.layer_digest, envelope.layer_size)
                        .await?
                    {
                        Mount::Mounted => return Ok(()),
                        Mount::Session(location) => Some(location),
                        Mount::Refused => None,
                    }
                }
                None => None,
            };
            self.upload_blob_into(repo, &envelope.layer_digest, layer, session)
                .await
        };
        self.put_artifact(repo, tagged, tag, &envelope, status, layer_upload)
            .await
    }

    /// The end of every push: the config uploaded while `layer_upload` runs (two
    /// independent blobs: neither waits for the other), then the manifest `PUT` under `tag`
    /// and the re-read of the tag.
    async fn put_artifact(
        &self,
        repo: &Repo<'_>,
        tagged: &ArtifactRef,
        tag: &str,
        envelope: &Envelope,
        status: PushStatus,
        layer_upload: impl Future<Output = Result<(), StoreError>>,
    ) -> Result<PushOutcome, StoreError> {
        tokio::try_join!(
            self.upload_blob(
                repo,
                &envelope.config_digest,
                Blob::Memory(envelope.config.clone())
            ),
            layer_upload,
        )?;
        let request = Request::new(Method::PUT, repo.path(&format!("manifests/{tag}")))
            .header(header::CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
            .body(envelope.manifest.clone());
        let response = self.send(repo, true, request).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.failure(repo, "manifest upload", response).await);
        }
        // No compare-and-swap in the distribution API: another push may have moved the tag
        // between our HEAD and our PUT, or right after the PUT. One re-read tells the loser.
        let now = self.head_manifest(repo, Identifier::Tag(tag), true).await?;
        if now.as_ref() != Some(&envelope.manifest_digest) {
            return Err(StoreError::PushRace {
                reference: repo.display.clone(),
                pushed: envelope.manifest_digest.clone(),
                now,
            });
        }
        info!(reference = %repo.display, digest = %envelope.manifest_digest, status = status.as_str(), "pushed");
        Ok(PushOutcome {
            reference: tagged.clone(),
            digest: envelope.manifest_digest.clone(),
            status,
        })
    }

    /// The manifest a pull of `reference` reads (its bytes and digest) and the layer it
    /// describes, accepted under this client's limits.
    async fn pull_manifest(
        &self,
        repo: &Repo<'_>,
        reference: &ArtifactRef,
    ) -> Result<(Bytes, Digest, artifact::LayerDescriptor), StoreError> {
        let identifier = pull_identifier(reference, repo)?;
        let FetchedManifest {
            bytes,
            digest,
            content_type,
        } = self.get_manifest(repo, identifier).await?;
        let layer = crate::packing::accept(
            &repo.display,
            &bytes,
            content_type.as_deref(),
            artifact::max_layer_size(&self.limits),
        )?;
        Ok((bytes, digest, layer))
    }

    /// The layer into a scratch file, then the bundle unpacked from it: the bundle's files
    /// are the only copy of the layer's bytes in memory.
    async fn pull_pinned_now(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        let display = self.repo(reference)?.display;
        let scratch = Scratch::new().await?;
        let fetched = self.fetch_layer_now(reference, scratch.blobs()).await?;
        scratch.unpack(fetched, &display, &self.limits).await
    }

    async fn fetch_layer_now(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        let repo = self.repo(reference)?;
        let (manifest, digest, layer) = self.pull_manifest(&repo, reference).await?;
        self.get_blob(&repo, &layer.digest, layer.size, || {
            BlobSink::file(&repo.display, blobs, &layer.digest, layer.size)
        })
        .await?;
        Ok(FetchedLayer {
            digest,
            manifest,
            layer_digest: layer.digest,
            layer_size: layer.size,
        })
    }

    async fn resolve_now(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        let repo = self.repo(reference)?;
        if let Some(digest) = reference.digest() {
            // Still one HEAD: resolving a digest answers whether it exists.
            return match self
                .head_manifest(&repo, Identifier::Digest(digest), false)
                .await?
            {
                Some(_) => Ok(digest.clone()),
                None => Err(StoreError::NotFound {
                    reference: repo.display.clone(),
                    detail: "manifest unknown".into(),
                }),
            };
        }
        let Some(tag) = reference.tag() else {
            return Err(StoreError::InvalidReference {
                reference: repo.display.clone(),
                reason: "resolving needs a tag or digest".into(),
            });
        };
        self.head_manifest(&repo, Identifier::Tag(tag), false)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                reference: repo.display.clone(),
                detail: "manifest unknown".into(),
            })
    }

    async fn list_tags_now(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        let bare = repository.repository();
        let repo = self.repo(&bare)?;
        let invalid = |reason: String| StoreError::InvalidResponse {
            reference: repo.display.clone(),
            registry: repo.host().to_owned(),
            reason,
        };
        let mut tags = Vec::new();
        let mut fetched = HashSet::new();
        let mut bytes_left = MAX_TAG_LIST_BYTES;
        let mut next = Some(format!(
            "/v2/{}/tags/list?n={TAG_PAGE_SIZE}",
            repo.reference.repository()
        ));
        while let Some(target) = next.take() {
            if !fetched.insert(target.clone()) {
                return Err(invalid(format!(
                    "its tag list loops: the Link header leads back to {target}, a page already read"
                )));
            }
            if fetched.len() > MAX_TAG_PAGES {
                return Err(invalid(format!(
                    "its tag list did not end after {MAX_TAG_PAGES} pages"
                )));
            }
            let response = self
                .send(
                    &repo,
                    false,
                    Request::new(Method::GET, Target::Path(target)),
                )
                .await?;
            if response.status() != StatusCode::OK {
                return Err(self.failure(&repo, "tag list", response).await);
            }
            // Pages continue where this one came from (a mirror or the registry).
            next = next_page(response.headers(), &authority(response.url()));
            let body = read_limited(response, bytes_left)
                .await
                .map_err(|e| failure(repo.host(), &repo.display, "reading the tag list", e))?;
            bytes_left = bytes_left.checked_sub(body.len() as u64).ok_or_else(|| {
                invalid(format!(
                    "its tag list is over {} MiB in all",
                    MAX_TAG_LIST_BYTES / (1024 * 1024)
                ))
            })?;
            let page = parse_tag_page(&body, MAX_TAGS - tags.len()).map_err(|e| match e {
                TagPageError::TooMany => {
                    invalid(format!("its tag list has more than {MAX_TAGS} tags"))
                }
                TagPageError::Unreadable(e) => invalid(format!("unreadable tag list: {e}")),
            })?;
            tags.extend(page);
        }
        Ok(tags)
    }
}

/// The pieces `copy` and `tag` are made of (see `transfer.rs`): manifests and blobs as bytes,
/// never repacked. Each runs unbounded; the caller bounds the whole operation.
impl RegistryClient {
    /// The manifest `reference` (tag or digest) names, checked as a pull checks it: its
    /// bytes, digest and summary.
    pub(crate) async fn raw_manifest(
        &self,
        reference: &ArtifactRef,
    ) -> Result<(Bytes, Digest, artifact::ManifestSummary), StoreError> {
        let repo = self.repo(reference)?;
        let identifier = match (reference.digest(), reference.tag()) {
            (Some(digest), _) => Identifier::Digest(digest),
            (None, Some(tag)) => Identifier::Tag(tag),
            (None, None) => {
                return Err(StoreError::InvalidReference {
                    reference: repo.display.clone(),
                    reason: "needs a tag or digest".into(),
                });
            }
        };
        let fetched = self.get_manifest(&repo, identifier).await?;
        let summary = artifact::summarize_manifest(
            &fetched.bytes,
            fetched.content_type.as_deref(),
            artifact::max_layer_size(&self.limits),
        )
        .map_err(|e| StoreError::invalid_bundle(&repo.display, e.reason))?;
        Ok((fetched.bytes, fetched.digest, summary))
    }

    /// The digest the tag of `reference` holds, asked with push access (it is about to be
    /// written); `None` when the tag does not exist.
    pub(crate) async fn tag_digest(
        &self,
        reference: &ArtifactRef,
    ) -> Result<Option<Digest>, StoreError> {
        let repo = self.repo(reference)?;
        let tag = reference.tag().unwrap_or_default();
        self.head_manifest(&repo, Identifier::Tag(tag), true).await
    }

    /// Whether the repository of `reference` holds the blob `digest` (one HEAD, with push
    /// access).
    pub(crate) async fn has_blob(
        &self,
        reference: &ArtifactRef,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        let repo = self.repo(reference)?;
        let request = Request::new(Method::HEAD, repo.path(&format!("blobs/{digest}")));
        let response = self.send(&repo, true, request).await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failure(&repo, "blob", response).await),
        }
    }

    /// Asks the registry to mount the blob `digest` from repository `from` into the
    /// repository of `reference` (cross-repository mount): [`Mount::Mounted`] when it did
    /// (201); a registry that does not may have opened an upload session instead (202),
    /// which [`RegistryClient::put_blob`] then sends the blob into.
    pub(crate) async fn mount_blob(
        &self,
        reference: &ArtifactRef,
        from: &str,
        digest: &Digest,
    ) -> Result<Mount, StoreError> {
        let repo = self.repo(reference)?;
        self.mount(&repo, from, digest).await
    }

    /// Asks the registry to mount blob `digest` from repository `from` into `repo`
    /// ([`Mount::Mounted`] on `201`). Any other answer means the blob is to be sent
    /// instead: into the session a `202` opened ([`Mount::Session`]), or a new one (a
    /// refusal: the token may not cover `from`; a real failure shows on that upload).
    async fn mount(
        &self,
        repo: &Repo<'_>,
        from: &str,
        digest: &Digest,
    ) -> Result<Mount, StoreError> {
        let request = Request::new(
            Method::POST,
            repo.path(&format!("blobs/uploads/?mount={digest}&from={from}")),
        );
        let response = self.send(repo, true, request).await?;
        let status = response.status();
        debug!(reference = %repo.display, %digest, %from, status = status.as_u16(), "mount answered");
        Ok(match status {
            StatusCode::CREATED => Mount::Mounted,
            // Not mounted; the session it opened takes the upload instead.
            StatusCode::ACCEPTED => match header_str(response.headers(), header::LOCATION) {
                Some(location) => Mount::Session(location),
                None => Mount::Refused,
            },
            _ => Mount::Refused,
        })
    }

    /// [`RegistryClient::mount`] for a push: a mounted blob is reported to the progress
    /// observer as an upload that completed at once.
    async fn mount_into(
        &self,
        repo: &Repo<'_>,
        from: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<Mount, StoreError> {
        let mount = self.mount(repo, from, digest).await?;
        if !matches!(mount, Mount::Mounted) {
            return Ok(mount);
        }
        info!(reference = %repo.display, %digest, %from, "layer mounted from another repository");
        let direction = Direction::Upload;
        self.emit(|| ProgressEvent::BlobStarted {
            digest: digest.clone(),
            size,
            direction,
        });
        self.emit(|| ProgressEvent::BlobBytes {
            digest: digest.clone(),
            n: size,
            direction,
        });
        self.emit(|| ProgressEvent::BlobDone {
            digest: digest.clone(),
            direction,
        });
        Ok(Mount::Mounted)
    }

    /// The blob `digest` of `size` bytes, checked as it arrives.
    pub(crate) async fn raw_blob(
        &self,
        reference: &ArtifactRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Bytes, StoreError> {
        let repo = self.repo(reference)?;
        let bytes = self
            .get_blob(&repo, digest, size, || BlobSink::memory(size))
            .await?;
        Ok(bytes.unwrap_or_default())
    }

    /// Uploads the blob `digest` into the repository of `reference`.
    pub(crate) async fn put_blob(
        &self,
        reference: &ArtifactRef,
        digest: &Digest,
        data: Bytes,
        session: Option<String>,
    ) -> Result<(), StoreError> {
        let repo = self.repo(reference)?;
        self.upload_blob_into(&repo, digest, Blob::Memory(data), session)
            .await
    }

    /// Writes `manifest` (of `media_type`) under the tag of `reference`.
    pub(crate) async fn put_manifest(
        &self,
        reference: &ArtifactRef,
        manifest: Bytes,
        media_type: &str,
    ) -> Result<(), StoreError> {
        let repo = self.repo(reference)?;
        let tag = reference.tag().unwrap_or_default();
        let request = Request::new(Method::PUT, repo.path(&format!("manifests/{tag}")))
            .header(header::CONTENT_TYPE, media_type)
            .body(manifest);
        let response = self.send(&repo, true, request).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.failure(&repo, "manifest upload", response).await);
        }
        Ok(())
    }

    /// Runs `operation` within this client's timeout, naming `reference` when it is reached.
    pub(crate) async fn within_timeout<T>(
        &self,
        reference: &ArtifactRef,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.bounded(reference, operation).await
    }
}

#[async_trait]
impl BundleStore for RegistryClient {
    async fn push(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        self.bounded(reference, self.push_now(reference, bundle, options))
            .await
    }

    async fn push_layer_file(
        &self,
        reference: &ArtifactRef,
        layer: &PackedLayerFile,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        self.bounded(
            reference,
            self.push_layer_file_now(reference, layer, options),
        )
        .await
    }

    async fn push_packing(
        &self,
        reference: &ArtifactRef,
        layer: PackingLayer,
        options: PushOptions,
    ) -> Result<(PushOutcome, PackedLayerFile), StoreError> {
        // Bounded inside, once the layer is packed (packing is not network work).
        self.push_packing_now(reference, layer, options).await
    }

    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.bounded(reference, self.pull_pinned_now(reference))
            .await
    }

    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        self.bounded(reference, self.fetch_layer_now(reference, blobs))
            .await
    }

    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        self.bounded(reference, self.resolve_now(reference)).await
    }

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        self.bounded(repository, self.list_tags_now(repository))
            .await
    }
}

#[derive(Debug)]
enum TagPageError {
    /// More tags than the listing has room for.
    TooMany,
    Unreadable(serde_json::Error),
}

/// The tags of one page (`{"tags": [...]}`, `null` or absent meaning none), refusing a page
/// with more than `room` tags while reading it, before they are all in memory.
fn parse_tag_page(body: &[u8], room: usize) -> Result<Vec<String>, TagPageError> {
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;
    use std::fmt;

    struct Page<'a> {
        room: usize,
        overflow: &'a Cell<bool>,
    }
    impl<'de> DeserializeSeed<'de> for Page<'_> {
        type Value = Vec<String>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Page<'_> {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a tag list object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut tags = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == "tags" {
                    tags = map.next_value_seed(Tags {
                        room: self.room,
                        overflow: self.overflow,
                    })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(tags)
        }
    }
    struct Tags<'a> {
        room: usize,
        overflow: &'a Cell<bool>,
    }
    impl<'de> DeserializeSeed<'de> for Tags<'_> {
        type Value = Vec<String>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_option(self)
        }
    }
    impl<'de> Visitor<'de> for Tags<'_> {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of tags or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut tags = Vec::new();
            while let Some(tag) = seq.next_element::<String>()? {
                if tags.len() == self.room {
                    self.overflow.set(true);
                    return Err(de::Error::custom("too many tags"));
                }
                tags.push(tag);
            }
            Ok(tags)
        }
    }

    let overflow = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let result = Page {
        room,
        overflow: &overflow,
    }
    .deserialize(&mut deserializer)
    .and_then(|tags| deserializer.end().map(|()| tags));
    match result {
        Ok(tags) => Ok(tags),
        Err(_) if overflow.get() => Err(TagPageError::TooMany),
        Err(e) => Err(TagPageError::Unreadable(e)),
    }
}

/// The next page (path and query) from a `Link: <...>; rel="next"` header, kept on the same
/// registry.
/// `host[:port]` of `url`.
fn authority(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => String::new(),
    }
}

fn next_page(headers: &HeaderMap, host: &str) -> Option<String> {
    for value in headers.get_all(header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let url = parts
                .next()?
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>');
            let is_next = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if !is_next {
                continue;
            }
            if url.starts_with('/') {
                return Some(url.to_owned());
            }
            let parsed = reqwest::Url::parse(url).ok()?;
            let authority = match parsed.port() {
                Some(port) => format!("{}:{port}", parsed.host_str()?),
                None => parsed.host_str()?.to_owned(),
            };
            if authority != host {
                return None;
            }
            let mut path = parsed.path().to_owned();
            if let Some(query) = parsed.query() {
                path.push('?');
                path.push_str(query);
            }
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// Regression (e2e security suite): `127.0.0.1:5000/../etc:1.0.0` parses (as in ggcr),
    /// and its request URL `/v2/../etc/manifests/1.0.0` was normalised to
    /// `/etc/manifests/1.0.0`, outside the registry API.
    #[test]
    fn repositories_with_dot_segments_are_refused() {
        let client = RegistryClient::builder().build().expect("a client");
        let options = pacto_ref::ParseOptions::default();
        for reference in [
            "127.0.0.1:5000/../etc:1.0.0",
            "127.0.0.1:5000/a/../../v2:1",
            "r.example/a/./b:1",
            "r.example/a//b:1",
            "r.example/a/..:1",
        ] {
            let parsed = ArtifactRef::parse(reference, &options).expect("ggcr accepts it");
            match client.repo(&parsed) {
                Err(StoreError::InvalidReference { reason, .. }) => {
                    assert!(reason.contains("path component"), "{reference}: {reason}");
                }
                Err(other) => panic!("{reference}: {other}"),
                Ok(_) => panic!("{reference} was accepted"),
            }
        }
        for reference in ["r.example/a.b/c_d/e--f:1", "r.example/a..b:1"] {
            let parsed = ArtifactRef::parse(reference, &options).expect("parses");
            assert!(client.repo(&parsed).is_ok(), "{reference}");
        }
    }

    #[test]
    fn tag_pages_are_read_within_their_room() {
        let page = br#"{"name":"a/b","tags":["1.0.0","1.1.0"],"extra":{"x":[1,2]}}"#;
        assert_eq!(
            parse_tag_page(page, 2).expect("fits"),
            vec!["1.0.0", "1.1.0"]
        );
        assert!(matches!(
            parse_tag_page(page, 1),
            Err(TagPageError::TooMany)
        ));
        for empty in [&br#"{"name":"a/b","tags":null}"#[..], br#"{"name":"a/b"}"#] {
            assert_eq!(
                parse_tag_page(empty, 0).expect("no tags"),
                Vec::<String>::new()
            );
        }
        for bad in [
            &b"[1,2]"[..],
            br#"{"tags":[1]}"#,
            br#"{"tags":[]} trailing"#,
            b"",
        ] {
            assert!(
                matches!(parse_tag_page(bad, 10), Err(TagPageError::Unreadable(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn link_header_next_page() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LINK,
            HeaderValue::from_static(r#"</v2/a/b/tags/list?last=x&n=1000>; rel="next""#),
        );
        assert_eq!(
            next_page(&headers, "r.example").as_deref(),
            Some("/v2/a/b/tags/list?last=x&n=1000")
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LINK,
            HeaderValue::from_static(
                r#"<https://elsewhere.example/v2/a/tags/list?last=x>; rel="next""#,
            ),
        );
        assert!(
            next_page(&headers, "r.example").is_none(),
            "never leaves the registry"
        );
        assert!(next_page(&HeaderMap::new(), "r.example").is_none());
    }
}
