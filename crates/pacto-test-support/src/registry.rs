//! A real `docker-registry` (distribution 2.8) process on `127.0.0.1`, in a temporary directory.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, fail};
use crate::http::{self, Request, Url, lock};
use crate::pki::Pki;
use crate::token::{self, TokenIssuer, TokenRequest};
use crate::tool::{check_tool, try_free_port};

/// The executable and the Debian package that provides it.
const REGISTRY_TOOL: &str = "docker-registry";
const REGISTRY_PACKAGE: &str = "docker-registry";
/// Paths under this prefix are test support's own requests (readiness, log sync); they are
/// never reported by [`TestRegistry::requests`].
const INTERNAL_PREFIX: &str = "/__pacto_test_support__/";
/// Bound on start-up (process up and serving) and on a restart's wait for its port.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on stopping the process before it is killed outright.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on waiting for a sync request to appear in the access log, and for requests the
/// registry has started to be logged as completed.
const LOG_SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// The registry's debug message at the start of every request routed to its API handlers.
const REQUEST_START: &str = "\"msg\":\"authorizing request\"";
/// Ports tried when another process takes the free port first.
const START_TRIES: usize = 5;
/// Interval when polling a file or a process for a state change.
const POLL: Duration = Duration::from_millis(5);
/// bcrypt cost of htpasswd entries: the minimum, so basic auth costs the registry ~1 ms.
const BCRYPT_COST: u32 = 4;
/// The htpasswd realm announced in `WWW-Authenticate: Basic realm=...`.
pub(crate) const BASIC_REALM: &str = "pacto-test-registry";

/// Runs the registry under `/bin/sh` so it dies with the test process, however that ends:
/// a watcher reads the shell's stdin (a pipe from the test process) and kills the registry at
/// end of file, which happens when [`TestRegistry`] is stopped or dropped, and also when the
/// test process exits without dropping it (a `static`, an abort, a kill).
/// `$1` is the registry binary, `$2` its configuration.
const SUPERVISOR: &str = r#"exec 3<&0
"$1" serve "$2" </dev/null 3<&- &
registry=$!
( cat <&3 >/dev/null; kill -KILL "$registry" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$registry"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password (redacted in `Debug`).
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What the token issuer grants a user on repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: every token has an empty access list.
    None,
    /// `pull` only; a push is then refused by the registry (401 `insufficient_scope`).
    Pull,
    /// `pull`, `push` and `delete` on every repository, and the catalog.
    PullPush,
}

/// A user of the token issuer and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    /// The user's credentials, checked by the issuer.
    pub credentials: Credentials,
    /// What the user's tokens grant.
    pub access: Access,
}

impl TokenUser {
    /// A user with the given access.
    pub fn new(username: impl Into<String>, password: impl Into<String>, access: Access) -> Self {
        TokenUser {
            credentials: Credentials::new(username, password),
            access,
        }
    }
}

/// How the registry authenticates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No authentication: every request is allowed.
    None,
    /// htpasswd (bcrypt) basic auth: `401` with `WWW-Authenticate: Basic realm="..."`, every
    /// listed user may pull and push (distribution has no per-user permissions here).
    Basic {
        /// The accepted users.
        users: Vec<Credentials>,
    },
    /// Bearer tokens from the test token issuer: `401` with
    /// `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`.
    Token {
        /// The issuer's users and their access.
        users: Vec<TokenUser>,
        /// What a token requested without credentials grants.
        anonymous: Access,
    },
}

/// Which certificate a TLS registry presents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCertificate {
    /// Valid for `127.0.0.1`, `localhost` and `::1`, issued by a CA generated for the registry;
    /// [`TestRegistry::ca_file`] is that CA.
    #[default]
    CaSigned,
    /// Self-signed and marked `CA:TRUE`, as
    /// `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1`
    /// makes one; [`TestRegistry::ca_file`] is the certificate itself. Test support's own
    /// requests accept exactly this certificate, so a registry serving a mismatched or expired
    /// one still starts.
    SelfSigned {
        /// The subject alternative names (IP addresses or DNS names).
        names: Vec<String>,
        /// Valid from 2020-01-01 to 2021-01-01 instead of around now.
        expired: bool,
    },
}

impl ServerCertificate {
    /// Self-signed for `127.0.0.1`, valid now: what the `openssl` command above makes.
    pub fn self_signed() -> Self {
        ServerCertificate::SelfSigned {
            names: vec!["127.0.0.1".to_owned()],
            expired: false,
        }
    }
}

/// How to start a [`TestRegistry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Client authentication.
    pub auth: Auth,
    /// Serve HTTPS with [`RegistryOptions::certificate`]. With token auth, the issuer then
    /// serves HTTPS too, with a certificate signed by the generated CA.
    pub tls: bool,
    /// The certificate served with `tls` (default: signed by a generated CA).
    pub certificate: ServerCertificate,
    /// Run as a pull-through cache of the registry at this URL (distribution's proxy
    /// mode, `proxy: remoteurl:`), e.g. `http://127.0.0.1:PORT` of another test registry.
    pub proxy: Option<String>,
}

impl RegistryOptions {
    /// Plain HTTP, no authentication.
    pub fn plain() -> Self {
        RegistryOptions {
            auth: Auth::None,
            tls: false,
            certificate: ServerCertificate::CaSigned,
            proxy: None,
        }
    }

    /// HTTPS, no authentication.
    pub fn tls() -> Self {
        RegistryOptions::plain().with_tls(true)
    }

    /// Plain HTTP with htpasswd basic auth for one user.
    pub fn basic(username: &str, password: &str) -> Self {
        RegistryOptions {
            auth: Auth::Basic {
                users: vec![Credentials::new(username, password)],
            },
            tls: false,
            certificate: ServerCertificate::CaSigned,
            proxy: None,
        }
    }

    /// HTTPS with htpasswd basic auth for one user.
    pub fn tls_basic(username: &str, password: &str) -> Self {
        RegistryOptions::basic(username, password).with_tls(true)
    }

    /// Plain HTTP with bearer-token auth: one user with pull and push, anonymous tokens grant
    /// nothing.
    pub fn token(username: &str, password: &str) -> Self {
        RegistryOptions::token_users(
            vec![TokenUser::new(username, password, Access::PullPush)],
            Access::None,
        )
    }

    /// Plain HTTP with bearer-token auth for these users; `anonymous` is what a token asked
    /// for without credentials grants (use [`Access::Pull`] for a public-read registry).
    pub fn token_users(users: Vec<TokenUser>, anonymous: Access) -> Self {
        RegistryOptions {
            auth: Auth::Token { users, anonymous },
            tls: false,
            certificate: ServerCertificate::CaSigned,
            proxy: None,
        }
    }

    /// The same options with TLS switched on or off.
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// A plain-HTTP, anonymous pull-through cache (mirror) of the registry at `upstream`
    /// (`http://127.0.0.1:PORT`): distribution's proxy mode, as a fleet's mirror runs it.
    pub fn mirror_of(upstream: impl Into<String>) -> Self {
        RegistryOptions {
            proxy: Some(upstream.into()),
            ..RegistryOptions::plain()
        }
    }

    /// The same options with TLS on, serving `certificate`.
    pub fn with_certificate(mut self, certificate: ServerCertificate) -> Self {
        self.tls = true;
        self.certificate = certificate;
        self
    }
}

/// One request the registry served, from its access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent: path plus query, e.g. `/v2/a/blobs/uploads/?digest=...`.
    pub path: String,
    /// The status the registry answered.
    pub status: u16,
    /// The client's `User-Agent` (`pacto-oci/...`, a mirror's own for requests it forwards).
    pub user_agent: String,
}

/// What a registry request did, for counting requests per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /v2/` (or HEAD): the API version check, also used to discover authentication.
    Ping,
    /// `GET /v2/NAME/manifests/REF`.
    ManifestGet,
    /// `HEAD /v2/NAME/manifests/REF`.
    ManifestHead,
    /// `PUT /v2/NAME/manifests/REF`.
    ManifestPut,
    /// `DELETE /v2/NAME/manifests/REF`.
    ManifestDelete,
    /// `GET /v2/NAME/blobs/DIGEST`.
    BlobGet,
    /// `HEAD /v2/NAME/blobs/DIGEST`.
    BlobHead,
    /// `DELETE /v2/NAME/blobs/DIGEST`.
    BlobDelete,
    /// `POST /v2/NAME/blobs/uploads/` (starts an upload, or mounts a blob).
    UploadStart,
    /// `PATCH` on an upload URL (a chunk).
    UploadChunk,
    /// `PUT` on an upload URL (completes it).
    UploadComplete,
    /// `GET` on an upload URL (its status).
    UploadStatus,
    /// `DELETE` on an upload URL (cancels it).
    UploadCancel,
    /// `GET /v2/NAME/tags/list`.
    TagsList,
    /// `GET /v2/_catalog`.
    Catalog,
    /// Anything else.
    Other,
}

impl LoggedRequest {
    /// Classifies the request by method and path.
    pub fn operation(&self) -> Operation {
        classify(&self.method, &self.path)
    }

    /// The repository named in the path (`/v2/NAME/...`), if any.
    pub fn repository(&self) -> Option<&str> {
        repository_of(&self.path)
    }
}

fn classify(method: &str, target: &str) -> Operation {
    let path = target.split('?').next().unwrap_or("");
    let method = method.to_ascii_uppercase();
    if path == "/v2/" || path == "/v2" {
        return if matches!(method.as_str(), "GET" | "HEAD") {
            Operation::Ping
        } else {
            Operation::Other
        };
    }
    if path == "/v2/_catalog" {
        return Operation::Catalog;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Operation::Other;
    };
    if rest.ends_with("/tags/list") {
        return Operation::TagsList;
    }
    if let Some(i) = rest.rfind("/blobs/uploads") {
        let tail = &rest[i + "/blobs/uploads".len()..];
        return match (method.as_str(), tail.trim_start_matches('/').is_empty()) {
            ("POST", true) => Operation::UploadStart,
            ("PATCH", false) => Operation::UploadChunk,
            ("PUT", false) => Operation::UploadComplete,
            ("GET", false) => Operation::UploadStatus,
            ("DELETE", false) => Operation::UploadCancel,
            _ => Operation::Other,
        };
    }
    if rest.rfind("/blobs/").is_some() {
        return match method.as_str() {
            "GET" => Operation::BlobGet,
            "HEAD" => Operation::BlobHead,
            "DELETE" => Operation::BlobDelete,
            _ => Operation::Other,
        };
    }
    if rest.rfind("/manifests/").is_some() {
        return match method.as_str() {
            "GET" => Operation::ManifestGet,
            "HEAD" => Operation::ManifestHead,
            "PUT" => Operation::ManifestPut,
            "DELETE" => Operation::ManifestDelete,
            _ => Operation::Other,
        };
    }
    Operation::Other
}

fn repository_of(target: &str) -> Option<&str> {
    let path = target.split('?').next()?;
    let rest = path.strip_prefix("/v2/")?;
    let end = ["/manifests/", "/blobs/", "/tags/list"]
        .iter()
        .filter_map(|marker| rest.rfind(marker))
        .min()?;
    (end > 0).then(|| &rest[..end])
}

/// Parses a combined-log-format line:
/// `127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "referer" "agent"`.
fn parse_access_line(line: &str) -> Option<LoggedRequest> {
    let start = line.find("] \"")? + 3;
    let rest = &line[start..];
    let end = rest.find("\" ")?;
    let mut request = rest[..end].split(' ');
    let (Some(method), Some(path), Some(_proto), None) = (
        request.next(),
        request.next(),
        request.next(),
        request.next(),
    ) else {
        return None;
    };
    let after = &rest[end + 2..];
    let status = after.split(' ').next()?.parse().ok()?;
    // `... STATUS SIZE "referer" "agent"`: the agent is the last quoted field.
    let user_agent = after
        .trim_end()
        .strip_suffix('"')
        .and_then(|s| s.rfind('"').map(|i| s[i + 1..].to_owned()))
        .unwrap_or_default();
    Some(LoggedRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        user_agent,
    })
}

/// The whole lines of a log file (a line being written is left for the next read).
fn complete_lines(path: &Path) -> Result<String, Error> {
    let mut bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(complete);
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Counts the requests a registry log shows as started, by method and request target.
fn started_requests(log: &str) -> HashMap<(String, String), usize> {
    let mut started = HashMap::new();
    for line in log.lines().filter(|line| line.contains(REQUEST_START)) {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |name: &str| entry.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        if let (Some(method), Some(uri)) = (field("http.request.method"), field("http.request.uri"))
        {
            *started.entry((method, uri)).or_default() += 1;
        }
    }
    started
}

/// A point in a registry's request history; see [`TestRegistry::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestMark {
    /// Byte offset in the access log.
    offset: u64,
    /// Token requests served so far.
    tokens: usize,
}

/// The shell supervising one registry process.
struct Supervised {
    child: Child,
    /// Closing this pipe makes the supervisor kill the registry.
    stdin: Option<ChildStdin>,
    /// This run's registry log (the process's stderr).
    log: PathBuf,
    /// Length of the access log when this run started: its requests are logged after it.
    access_offset: u64,
}

impl Supervised {
    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the registry (via the supervisor) and waits until it is gone, bounded.
    fn terminate(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Why one launch attempt failed.
enum LaunchError {
    /// Another process holds the port: try another one.
    PortTaken,
    Failed(Error),
}

impl From<Error> for LaunchError {
    fn from(error: Error) -> Self {
        LaunchError::Failed(error)
    }
}

/// A running `docker-registry` on `127.0.0.1` with temporary storage.
///
/// Dropping it kills the process and removes its directory (also when a test panics). The
/// process also dies when the test process exits without dropping it.
pub struct TestRegistry {
    dir: tempfile::TempDir,
    binary: PathBuf,
    storage: PathBuf,
    access_log: PathBuf,
    config: PathBuf,
    port: u16,
    options: RegistryOptions,
    users: Vec<Credentials>,
    ca_file: Option<PathBuf>,
    client_tls: Option<Arc<rustls::ClientConfig>>,
    issuer: Option<TokenIssuer>,
    process: Mutex<Option<Supervised>>,
    runs: u32,
    baseline: Mutex<RequestMark>,
    markers: AtomicU64,
}

impl std::fmt::Debug for TestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRegistry")
            .field("url", &self.url())
            .field("auth", &self.options.auth)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TestRegistry {
    /// Starts a registry and waits until it serves requests.
    ///
    /// Panics with a clear message if it cannot, in particular when `docker-registry` is not
    /// installed ("install it with `apt-get install -y docker-registry`").
    pub fn start(options: RegistryOptions) -> TestRegistry {
        TestRegistry::try_start(options)
            .unwrap_or_else(|error| fail("could not start the test registry", &error))
    }

    /// A plain-HTTP registry without authentication.
    pub fn plain() -> TestRegistry {
        TestRegistry::start(RegistryOptions::plain())
    }

    /// Like [`TestRegistry::start`], returning the error instead of panicking.
    pub fn try_start(options: RegistryOptions) -> Result<TestRegistry, Error> {
        let binary = check_tool(REGISTRY_TOOL, REGISTRY_PACKAGE)?;
        let dir = tempfile::Builder::new()
            .prefix("pacto-test-registry-")
            .tempdir()
            .map_err(|e| Error::io("create a temporary directory for the registry", e))?;
        let root = dir.path().to_owned();
        let write = |name: &str, contents: &[u8]| -> Result<PathBuf, Error> {
            let path = root.join(name);
            fs::write(&path, contents)
                .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
            Ok(path)
        };
        let storage = root.join("storage");
        fs::create_dir(&storage)
            .map_err(|e| Error::io(format!("create {}", storage.display()), e))?;

        let needs_pki = options.tls || matches!(options.auth, Auth::Token { .. });
        let pki = if needs_pki {
            Some(Arc::new(Pki::generate()?))
        } else {
            None
        };
        let mut ca_file = None;
        let mut client_tls = None;
        if let Some(pki) = &pki {
            let ca = write("ca.pem", pki.ca_pem.as_bytes())?;
            match &options.certificate {
                _ if !options.tls => {}
                ServerCertificate::CaSigned => {
                    write("server.pem", pki.server_cert_pem.as_bytes())?;
                    write("server-key.pem", pki.server_key_pem.as_bytes())?;
                    client_tls = Some(crate::pki::client_config(pki.ca_pem.as_bytes())?);
                    ca_file = Some(ca);
                }
                ServerCertificate::SelfSigned { names, expired } => {
                    let cert = crate::pki::SelfSigned::generate(names, *expired)?;
                    let server = write("server.pem", cert.cert_pem.as_bytes())?;
                    write("server-key.pem", cert.key_pem.as_bytes())?;
                    client_tls = Some(crate::pki::pinned_client_config(cert.cert_der)?);
                    ca_file = Some(server);
                }
            }
        }
        let (users, issuer) = match (&options.auth, &pki) {
            (Auth::None, _) => (Vec::new(), None),
            (Auth::Basic { users }, _) => {
                let mut htpasswd = String::new();
                for user in users {
                    let hash = bcrypt::hash(&user.password, BCRYPT_COST)
                        .map_err(|e| Error::crypto("hash an htpasswd password", e))?;
                    htpasswd.push_str(&format!("{}:{hash}\n", user.username));
                }
                write("htpasswd", htpasswd.as_bytes())?;
                (users.clone(), None)
            }
            (Auth::Token { users, anonymous }, Some(pki)) => {
                let issuer =
                    TokenIssuer::start(users.clone(), *anonymous, Arc::clone(pki), options.tls)?;
                let credentials = users.iter().map(|u| u.credentials.clone()).collect();
                (credentials, Some(issuer))
            }
            (Auth::Token { .. }, None) => {
                return Err(Error::crypto(
                    "start the token issuer",
                    "no PKI was generated for token auth",
                ));
            }
        };

        let mut registry = TestRegistry {
            access_log: root.join("access.log"),
            config: root.join("config.yml"),
            dir,
            binary,
            storage,
            port: 0,
            options,
            users,
            ca_file,
            client_tls,
            issuer,
            process: Mutex::new(None),
            runs: 0,
            baseline: Mutex::new(RequestMark {
                offset: 0,
                tokens: 0,
            }),
            markers: AtomicU64::new(0),
        };
        let mut port = 0;
        for _ in 0..START_TRIES {
            port = try_free_port()?;
            match registry.launch(port) {
                Ok(()) => return Ok(registry),
                Err(LaunchError::PortTaken) => {}
                Err(LaunchError::Failed(error)) => return Err(error),
            }
        }
        Err(Error::PortUnavailable {
            port,
            tries: START_TRIES,
        })
    }

    /// Writes the configuration for `port`, starts the process and waits until it serves.
    fn launch(&mut self, port: u16) -> Result<(), LaunchError> {
        self.port = port;
        fs::write(&self.config, self.config_json().to_string())
            .map_err(|e| Error::io(format!("write {}", self.config.display()), e))?;
        self.runs += 1;
        let mut process = self.spawn()?;
        self.wait_ready(&mut process)?;
        *lock(&self.process) = Some(process);
        Ok(())
    }

    /// The distribution configuration, as JSON (which YAML accepts, and which quotes paths
    /// correctly).
    fn config_json(&self) -> serde_json::Value {
        let root = self.dir.path();
        let mut http = serde_json::json!({
            "addr": self.host(),
            "secret": "pacto-test-support",
        });
        if self.options.tls {
            http["tls"] = serde_json::json!({
                "certificate": root.join("server.pem"),
                "key": root.join("server-key.pem"),
            });
        }
        let mut config = serde_json::json!({
            "version": "0.1",
            "log": {
                "level": "debug",
                "formatter": "json",
                "accesslog": {"disabled": false},
            },
            "storage": {
                "filesystem": {"rootdirectory": self.storage},
                "delete": {"enabled": true},
                "maintenance": {"uploadpurging": {"enabled": false}},
            },
            "http": http,
        });
        if let Some(upstream) = &self.options.proxy {
            config["proxy"] = serde_json::json!({"remoteurl": upstream});
        }
        match (&self.options.auth, &self.issuer) {
            (Auth::Basic { .. }, _) => {
                config["auth"] = serde_json::json!({
                    "htpasswd": {"realm": BASIC_REALM, "path": root.join("htpasswd")},
                });
            }
            (Auth::Token { .. }, Some(issuer)) => {
                config["auth"] = serde_json::json!({
                    "token": {
                        "realm": issuer.url(),
                        "service": token::SERVICE,
                        "issuer": token::ISSUER,
                        "rootcertbundle": root.join("ca.pem"),
                    },
                });
            }
            _ => {}
        }
        config
    }

    fn spawn(&self) -> Result<Supervised, Error> {
        let log = self.dir.path().join(format!("registry-{}.log", self.runs));
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.access_log)
            .map_err(|e| Error::io(format!("open {}", self.access_log.display()), e))?;
        let access_offset = stdout
            .metadata()
            .map_err(|e| Error::io(format!("read the size of {}", self.access_log.display()), e))?
            .len();
        let stderr =
            File::create(&log).map_err(|e| Error::io(format!("create {}", log.display()), e))?;
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("pacto-test-registry")
            .arg(&self.binary)
            .arg(&self.config)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr);
        // The registry reads REGISTRY_* variables as configuration overrides: keep the
        // environment of the test process from changing it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("REGISTRY_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .spawn()
            .map_err(|e| Error::io(format!("run {}", self.binary.display()), e))?;
        let stdin = child.stdin.take();
        Ok(Supervised {
            child,
            stdin,
            log,
            access_offset,
        })
    }

    fn wait_ready(&self, process: &mut Supervised) -> Result<(), LaunchError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let not_ready = |process: &Supervised| Error::RegistryNotReady {
            url: self.url(),
            waited: READY_TIMEOUT,
            log_tail: process.log_tail(),
        };
        // The registry logs "listening on ADDR" once its socket is bound: from then on this
        // port is ours, not another process's that raced us for it.
        loop {
            match process.child.try_wait() {
                Ok(Some(status)) => {
                    if process.log_text().contains("address already in use") {
                        return Err(LaunchError::PortTaken);
                    }
                    return Err(LaunchError::Failed(Error::RegistryExited {
                        url: self.url(),
                        status: status.to_string(),
                        log_tail: process.log_tail(),
                    }));
                }
                Ok(None) => {}
                Err(e) => return Err(Error::io("poll the registry process", e).into()),
            }
            if process.log_text().contains("listening on") {
                break;
            }
            if Instant::now() >= deadline {
                return Err(not_ready(process).into());
            }
            std::thread::sleep(POLL);
        }
        // Then one request through the real stack (TLS included).
        loop {
            match self.internal_get("ready") {
                Ok(_) => return Ok(()),
                Err(_) if Instant::now() < deadline && process.is_running() => {
                    std::thread::sleep(POLL);
                }
                Err(_) => return Err(not_ready(process).into()),
            }
        }
    }

    /// A request outside the registry API (404), used for readiness and log syncs.
    fn internal_get(&self, what: &str) -> Result<http::Response, Error> {
        let url = Url::parse(&format!("{}{INTERNAL_PREFIX}{what}", self.url()))?;
        http::exchange(&url, self.client_tls.as_ref(), Request::new("GET", ""))
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, or `https://...` for a TLS registry.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// Whether the registry serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.options.tls
    }

    /// The options it was started with.
    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// The PEM file to trust for the registry's certificate (TLS registries only): the CA that
    /// signed it (valid for `127.0.0.1`, `localhost` and `::1`), or, for
    /// [`ServerCertificate::SelfSigned`], the certificate itself.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The PEM text of [`TestRegistry::ca_file`].
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_file
            .as_deref()
            .and_then(|path| fs::read_to_string(path).ok())
    }

    /// The users the registry (or its token issuer) accepts.
    pub fn users(&self) -> &[Credentials] {
        &self.users
    }

    /// The first configured user, as `(username, password)`, for the common one-user case.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.users
            .first()
            .map(|c| (c.username.as_str(), c.password.as_str()))
    }

    /// The token issuer's realm URL (token-auth registries only).
    pub fn token_url(&self) -> Option<&str> {
        self.issuer.as_ref().map(TokenIssuer::url)
    }

    /// The filesystem storage root (distribution layout under `docker/registry/v2`).
    pub fn storage_dir(&self) -> &Path {
        &self.storage
    }

    /// Where the registry keeps the blob `digest` (`sha256:HEX` or bare `HEX`):
    /// `docker/registry/v2/blobs/sha256/HE/HEX/data`. Overwrite it to corrupt the blob.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
        let prefix = hex.get(..2).unwrap_or(hex);
        self.storage
            .join("docker/registry/v2/blobs")
            .join(algorithm)
            .join(prefix)
            .join(hex)
            .join("data")
    }

    /// The file recording which manifest `tag` of `repository` points to.
    pub fn tag_link_path(&self, repository: &str, tag: &str) -> PathBuf {
        self.storage
            .join("docker/registry/v2/repositories")
            .join(repository)
            .join("_manifests/tags")
            .join(tag)
            .join("current/link")
    }

    /// The registry's own log (stderr) of the current run: JSON lines.
    pub fn server_log(&self) -> String {
        lock(&self.process)
            .as_ref()
            .map(Supervised::log_text)
            .unwrap_or_default()
    }

    /// Whether the registry process is running.
    pub fn is_running(&self) -> bool {
        lock(&self.process)
            .as_mut()
            .is_some_and(Supervised::is_running)
    }

    /// Every request the registry served since it started or since the last
    /// [`TestRegistry::clear_requests`], in log order, excluding test support's own.
    ///
    /// Exact at the moment of the call: every request whose response a client has received
    /// is included. The registry logs a request when its handler returns, which for a large
    /// body can be after the client has it all, so this call waits (bounded) until every
    /// request the registry has started is logged, and until a sync request of its own is.
    /// A request still being served 10 s later is in flight, not served, and left out.
    /// Requests from before a [`TestRegistry::restart`] are kept.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let from = *lock(&self.baseline);
        self.requests_since(from)
    }

    /// Every request the registry served after `mark`; see [`TestRegistry::requests`].
    pub fn requests_since(&self, mark: RequestMark) -> Vec<LoggedRequest> {
        self.try_requests_since(mark)
            .unwrap_or_else(|error| fail("could not read the registry access log", &error))
    }

    /// Like [`TestRegistry::requests_since`], returning the error instead of panicking.
    pub fn try_requests_since(&self, mark: RequestMark) -> Result<Vec<LoggedRequest>, Error> {
        self.sync_log(mark.offset)?;
        Ok(self.read_log(mark.offset)?.0)
    }

    /// The current point in the request history, to count the requests of one operation with
    /// [`TestRegistry::requests_since`] and [`TestRegistry::token_requests_since`].
    pub fn mark(&self) -> RequestMark {
        self.try_mark()
            .unwrap_or_else(|error| fail("could not read the registry access log", &error))
    }

    fn try_mark(&self) -> Result<RequestMark, Error> {
        let from = lock(&self.baseline).offset;
        self.sync_log(from)?;
        let (_, offset) = self.read_log(from)?;
        let tokens = self.issuer.as_ref().map_or(0, TokenIssuer::count);
        Ok(RequestMark { offset, tokens })
    }

    /// Forgets the requests (and token requests) so far: later calls to
    /// [`TestRegistry::requests`] and [`TestRegistry::token_requests`] start from here.
    pub fn clear_requests(&self) {
        let mark = self.mark();
        *lock(&self.baseline) = mark;
    }

    /// Waits until every request the registry has answered so far is in the access log.
    ///
    /// The registry writes a request's access-log line when its handler returns, which for a
    /// large body can be after the client received the last byte. Two checks close that gap:
    /// a sync request of test support's own is sent and waited for, and every request the
    /// registry started (its debug log has one line per request before any response byte is
    /// sent) is waited for until its access-log line is there. Requests still being served
    /// after [`LOG_SYNC_TIMEOUT`] are in flight, not answered, and are left out.
    fn sync_log(&self, from: u64) -> Result<(), Error> {
        let (log, access_offset) = {
            let mut guard = lock(&self.process);
            let Some(process) = guard.as_mut() else {
                return Ok(());
            };
            if !process.is_running() {
                // A stopped registry's log is complete.
                return Ok(());
            }
            (process.log.clone(), process.access_offset)
        };
        let id = self.markers.fetch_add(1, Ordering::Relaxed);
        let what = format!("sync/{id}");
        if let Err(error) = self.internal_get(&what) {
            return if self.is_running() {
                Err(error)
            } else {
                Ok(())
            };
        }
        let needle = format!("\"GET {INTERNAL_PREFIX}{what} HTTP/");
        let deadline = Instant::now() + LOG_SYNC_TIMEOUT;
        loop {
            let text = self.read_log_text(from)?;
            if text.contains(&needle) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::AccessLogStalled {
                    url: self.url(),
                    marker: format!("{INTERNAL_PREFIX}{what}"),
                    log: self.access_log.clone(),
                    waited: LOG_SYNC_TIMEOUT,
                });
            }
            std::thread::sleep(POLL);
        }
        loop {
            let started = started_requests(&complete_lines(&log)?);
            let mut completed: HashMap<(String, String), usize> = HashMap::new();
            for line in self.read_log_text(access_offset)?.lines() {
                if let Some(request) = parse_access_line(line) {
                    *completed.entry((request.method, request.path)).or_default() += 1;
                }
            }
            let pending = started
                .iter()
                .any(|(key, count)| completed.get(key).copied().unwrap_or(0) < *count);
            if !pending || Instant::now() >= deadline {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }

    fn read_log_text(&self, from: u64) -> Result<String, Error> {
        let action = || format!("read {}", self.access_log.display());
        let mut file = match File::open(&self.access_log) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(Error::io(action(), e)),
        };
        file.seek(SeekFrom::Start(from))
            .map_err(|e| Error::io(action(), e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(action(), e))?;
        // Only whole lines: a line being written right now is read next time.
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(complete);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The requests logged after byte `from`, and the offset just past them.
    fn read_log(&self, from: u64) -> Result<(Vec<LoggedRequest>, u64), Error> {
        let text = self.read_log_text(from)?;
        let end = from + text.len() as u64;
        let mut requests = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let request = parse_access_line(line).ok_or_else(|| Error::AccessLogLine {
                log: self.access_log.clone(),
                line: line.to_owned(),
            })?;
            if !request.path.starts_with(INTERNAL_PREFIX) {
                requests.push(request);
            }
        }
        Ok((requests, end))
    }

    /// How many token requests the issuer answered since start or the last
    /// [`TestRegistry::clear_requests`] (0 without token auth). The issuer records a request
    /// before answering it, so the count is exact.
    pub fn token_requests(&self) -> usize {
        self.token_log().len()
    }

    /// How many token requests the issuer answered after `mark`.
    pub fn token_requests_since(&self, mark: RequestMark) -> usize {
        self.issuer
            .as_ref()
            .map_or(0, |issuer| issuer.count().saturating_sub(mark.tokens))
    }

    /// The token requests since start or the last [`TestRegistry::clear_requests`], with who
    /// asked for what and what was granted.
    pub fn token_log(&self) -> Vec<TokenRequest> {
        let from = lock(&self.baseline).tokens;
        self.issuer
            .as_ref()
            .map(|issuer| issuer.log().into_iter().skip(from).collect())
            .unwrap_or_default()
    }

    /// Stops the registry process (kill and wait); the port then refuses connections. Storage,
    /// the request log and the token issuer are kept. Does nothing if it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut process) = lock(&self.process).take() {
            process.terminate();
        }
    }

    /// Stops the registry if it runs, then starts it again on the same port with the same
    /// storage, and waits until it serves. Panics if it cannot.
    pub fn restart(&mut self) {
        if let Err(error) = self.try_restart() {
            fail("could not restart the test registry", &error)
        }
    }

    /// Like [`TestRegistry::restart`], returning the error instead of panicking.
    pub fn try_restart(&mut self) -> Result<(), Error> {
        self.stop();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.launch(self.port) {
                Ok(()) => return Ok(()),
                Err(LaunchError::Failed(error)) => return Err(error),
                Err(LaunchError::PortTaken) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(LaunchError::PortTaken) => {
                    return Err(Error::PortUnavailable {
                        port: self.port,
                        tries: 1,
                    });
                }
            }
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_access_log_lines() {
        let cases = [
            (
                r#"127.0.0.1 - - [27/Nov/2026:20:42:59 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1""#,
                Some(("GET", "/v2/", 200)),
            ),
            (
                r#"127.0.0.1 - - [27/Nov/2026:20:42:59 +0000] "PUT /v2/a/b/blobs/uploads/u?_state=x&digest=sha256%3Aab HTTP/2.0" 201 0 "" "x y""#,
                Some((
                    "PUT",
                    "/v2/a/b/blobs/uploads/u?_state=x&digest=sha256%3Aab",
                    201,
                )),
            ),
            (r#"garbage"#, None),
            (r#"127.0.0.1 - - [date] "GET /v2/" 200 2 "" """#, None),
        ];
        let agent = parse_access_line(cases[0].0).map(|r| r.user_agent);
        assert_eq!(agent.as_deref(), Some("curl/7.88.1"));
        for (line, expected) in cases {
            let parsed = parse_access_line(line);
            assert_eq!(
                parsed
                    .as_ref()
                    .map(|r| (r.method.as_str(), r.path.as_str(), r.status)),
                expected,
                "{line}"
            );
        }
    }

    #[test]
    fn counts_started_requests_from_the_debug_log() {
        let log = concat!(
            r#"{"http.request.method":"GET","http.request.uri":"/v2/","level":"debug","msg":"authorizing request"}"#,
            "\n",
            r#"{"http.request.method":"GET","http.request.uri":"/v2/","level":"info","msg":"response completed"}"#,
            "\n",
            r#"{"http.request.method":"GET","http.request.uri":"/v2/","level":"debug","msg":"authorizing request"}"#,
            "\n",
            r#"{"http.request.method":"PUT","http.request.uri":"/v2/a/manifests/1?x=y","msg":"authorizing request"}"#,
            "\n",
            r#"not json "msg":"authorizing request""#,
            "\n",
        );
        let started = started_requests(log);
        assert_eq!(started.len(), 2);
        assert_eq!(started[&("GET".to_owned(), "/v2/".to_owned())], 2);
        assert_eq!(
            started[&("PUT".to_owned(), "/v2/a/manifests/1?x=y".to_owned())],
            1
        );
    }

    #[test]
    fn classifies_operations() {
        let table = [
            ("GET", "/v2/", Operation::Ping),
            ("HEAD", "/v2/", Operation::Ping),
            ("GET", "/v2/_catalog?n=10", Operation::Catalog),
            ("GET", "/v2/a/b/manifests/1.0.0", Operation::ManifestGet),
            ("HEAD", "/v2/a/manifests/sha256:ab", Operation::ManifestHead),
            ("PUT", "/v2/a/manifests/v1", Operation::ManifestPut),
            (
                "DELETE",
                "/v2/a/manifests/sha256:ab",
                Operation::ManifestDelete,
            ),
            ("GET", "/v2/a/blobs/sha256:ab", Operation::BlobGet),
            ("HEAD", "/v2/a/blobs/sha256:ab", Operation::BlobHead),
            ("DELETE", "/v2/a/blobs/sha256:ab", Operation::BlobDelete),
            ("POST", "/v2/a/blobs/uploads/", Operation::UploadStart),
            (
                "POST",
                "/v2/a/blobs/uploads/?mount=sha256:ab&from=b",
                Operation::UploadStart,
            ),
            (
                "PATCH",
                "/v2/a/blobs/uploads/uuid?_state=s",
                Operation::UploadChunk,
            ),
            (
                "PUT",
                "/v2/a/blobs/uploads/uuid?digest=sha256:ab",
                Operation::UploadComplete,
            ),
            ("GET", "/v2/a/blobs/uploads/uuid", Operation::UploadStatus),
            (
                "DELETE",
                "/v2/a/blobs/uploads/uuid",
                Operation::UploadCancel,
            ),
            ("GET", "/v2/a/b/tags/list?n=5", Operation::TagsList),
            ("GET", "/v2/manifests/x", Operation::Other),
            ("GET", "/other", Operation::Other),
            ("POST", "/v2/", Operation::Other),
        ];
        for (method, path, operation) in table {
            assert_eq!(classify(method, path), operation, "{method} {path}");
        }
    }

    #[test]
    fn extracts_repositories() {
        let table = [
            ("/v2/a/b/manifests/1.0.0", Some("a/b")),
            ("/v2/team/app/blobs/uploads/", Some("team/app")),
            ("/v2/x/tags/list?n=1", Some("x")),
            ("/v2/", None),
            ("/v2/_catalog", None),
            ("/v2/manifests/x", None),
        ];
        for (path, repository) in table {
            assert_eq!(repository_of(path), repository, "{path}");
        }
    }

    #[test]
    fn credentials_debug_redacts_the_password() {
        let text = format!("{:?}", Credentials::new("alice", "s3cret"));
        assert!(text.contains("alice") && !text.contains("s3cret"), "{text}");
    }

    #[test]
    fn options_constructors() {
        assert_eq!(RegistryOptions::plain().auth, Auth::None);
        assert!(RegistryOptions::tls().tls);
        let basic = RegistryOptions::tls_basic("u", "p");
        assert!(basic.tls);
        assert_eq!(
            basic.auth,
            Auth::Basic {
                users: vec![Credentials::new("u", "p")]
            }
        );
        let token = RegistryOptions::token("u", "p");
        assert!(!token.tls);
        assert_eq!(
            token.auth,
            Auth::Token {
                users: vec![TokenUser::new("u", "p", Access::PullPush)],
                anonymous: Access::None
            }
        );
    }
}
