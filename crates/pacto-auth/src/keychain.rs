//! The keychain: every credential source, in order, for one registry.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::credential::{Candidate, Credential, Secret, Source};
use crate::docker::{self, DockerConfig, HelperResponse};
use crate::exec::{self, Finished, RunError};
use crate::options::CredentialOptions;
use crate::pacto_config::{self, PactoConfigFile};
use crate::registry::{docker_server_address, is_github_registry, normalize_registry};

/// How long `gh` or a docker credential helper may run before it is killed and
/// skipped.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(5);

/// The user name `gh` tokens are presented with.
const GH_USERNAME: &str = "x-access-token";

/// Where the keychain looks, for callers (and tests) that must not depend on the
/// process environment. Build it with `..KeychainConfig::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeychainConfig {
    /// Pacto's config file; `None` means [`pacto_config_path`](crate::pacto_config_path)
    /// (`$XDG_CONFIG_HOME/pacto/config.json`, else `~/.config/pacto/config.json`).
    pub pacto_config: Option<PathBuf>,
    /// The directory holding Docker's `config.json`; `None` means `$DOCKER_CONFIG`,
    /// else `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// How long `gh` and each docker credential helper may run before being killed
    /// and skipped with a warning.
    pub helper_timeout: Duration,
    /// The `PATH` searched for `gh` and `docker-credential-*` (and given to them);
    /// `None` means the process's `PATH`.
    pub path: Option<OsString>,
    /// Whether to read pacto's config file (source `"pacto login"`).
    pub enable_pacto_login: bool,
    /// Whether to ask `gh auth token` for GitHub's registries (source `"gh"`).
    pub enable_gh: bool,
    /// Whether to read Docker's config and run its helpers (source `"docker"`).
    pub enable_docker: bool,
}

impl Default for KeychainConfig {
    fn default() -> Self {
        Self {
            pacto_config: None,
            docker_config_dir: None,
            helper_timeout: DEFAULT_HELPER_TIMEOUT,
            path: None,
            enable_pacto_login: true,
            enable_gh: true,
            enable_docker: true,
        }
    }
}

/// What an external program answered, cached per keychain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Gh { registry: String },
    Helper { helper: String, server: String },
}

type Cache = Mutex<HashMap<CacheKey, Arc<OnceCell<Option<Credential>>>>>;

struct Inner {
    explicit: Option<Candidate>,
    /// The registries the explicit candidate is for (`None`: all), normalised.
    explicit_hosts: Option<Vec<String>>,
    pacto_config: Option<PactoConfigFile>,
    gh: bool,
    docker_config: Option<PathBuf>,
    helper_timeout: Duration,
    path: Option<OsString>,
    cache: Cache,
}

/// The ordered credential sources for registries.
///
/// For a registry, [`candidates`](Keychain::candidates) returns, in this order:
///
/// 1. `"env token"` or `"env user/pass"`: the explicit [`CredentialOptions`]
///    (for every registry, or only those of [`CredentialOptions::hosts`]);
/// 2. `"pacto login"`: pacto's config file;
/// 3. `"gh"`: `gh auth token`, for `ghcr.io` and `docker.pkg.github.com` only;
/// 4. `"docker"`: Docker's config (`auths`, `credsStore`, `credHelpers`).
///
/// Lookups never fail: a missing or broken file, a missing program or one that
/// fails, hangs or prints garbage gives no credential from that source (with a
/// debug log, or a warning naming a failing helper). What `gh` and docker
/// credential helpers answer (credentials and failures alike) is cached per
/// registry for the life of the keychain and its clones, so build one keychain per
/// process; the config files are re-read on each lookup.
///
/// Cloning is cheap (the state is shared). `Debug` shows paths and switches, never
/// a credential. Lookups run programs with Tokio, so they must be polled inside a
/// Tokio runtime with I/O and time enabled.
#[derive(Clone)]
pub struct Keychain {
    inner: Arc<Inner>,
}

impl Keychain {
    /// A keychain over `options` and the default locations, read now from `HOME`,
    /// `XDG_CONFIG_HOME` and `DOCKER_CONFIG`.
    pub fn new(options: CredentialOptions) -> Self {
        Self::with_config(options, KeychainConfig::default())
    }

    /// A keychain over `options` and the locations in `config`.
    pub fn with_config(options: CredentialOptions, config: KeychainConfig) -> Self {
        let pacto_config = if config.enable_pacto_login {
            match config.pacto_config {
                Some(path) => Some(PactoConfigFile::at(path)),
                None => match PactoConfigFile::default_location() {
                    Ok(file) => Some(file),
                    Err(err) => {
                        tracing::debug!(error = %err, "no pacto config location; skipping the pacto login source");
                        None
                    }
                },
            }
        } else {
            None
        };
        let docker_config = if config.enable_docker {
            match config.docker_config_dir.or_else(default_docker_config_dir) {
                Some(dir) => Some(dir.join("config.json")),
                None => {
                    tracing::debug!(
                        "no docker config location (neither DOCKER_CONFIG nor a home directory); skipping the docker source"
                    );
                    None
                }
            }
        } else {
            None
        };
        Self {
            inner: Arc::new(Inner {
                explicit: options.candidate(),
                explicit_hosts: options
                    .hosts
                    .map(|hosts| hosts.iter().map(|h| normalize_registry(h)).collect()),
                pacto_config,
                gh: config.enable_gh,
                docker_config,
                helper_timeout: config.helper_timeout,
                path: config.path,
                cache: Mutex::default(),
            }),
        }
    }

    /// A keychain with no sources at all: every lookup is anonymous.
    pub fn anonymous() -> Self {
        Self {
            inner: Arc::new(Inner {
                explicit: None,
                explicit_hosts: None,
                pacto_config: None,
                gh: false,
                docker_config: None,
                helper_timeout: DEFAULT_HELPER_TIMEOUT,
                path: None,
                cache: Mutex::default(),
            }),
        }
    }

    /// The credentials to try against `mirror`, a pull-through cache standing in for other
    /// registries: [`Keychain::candidates`] for the mirror's own host, except that unscoped
    /// explicit credentials (meant for the registries being mirrored) are left out. A mirror
    /// gets explicit credentials only when they are scoped to it by name
    /// ([`CredentialOptions::for_hosts`](crate::CredentialOptions::for_hosts)).
    pub async fn mirror_candidates(&self, mirror: &str) -> Vec<Candidate> {
        let mut candidates = self.candidates(mirror).await;
        if self.inner.explicit_hosts.is_none() {
            candidates.retain(|c| !matches!(c.source, Source::EnvToken | Source::EnvUserPass));
        }
        candidates
    }

    /// The credentials to try against `registry`, in source order, each credential
    /// once (when two sources give the same one, the first keeps it).
    ///
    /// `registry` is normalised with [`normalize_registry`] first. An empty list
    /// means "try anonymously". Never fails.
    pub async fn candidates(&self, registry: &str) -> Vec<Candidate> {
        let host = normalize_registry(registry);
        let inner = &*self.inner;
        let mut found: Vec<Candidate> = Vec::with_capacity(4);
        let mut push = |source: Source, credential: Credential| {
            if found.iter().any(|c| c.credential == credential) {
                tracing::trace!(registry = %host, source = %source, "same credential as an earlier source; dropped");
            } else {
                found.push(Candidate { source, credential });
            }
        };
        if let Some(explicit) = &inner.explicit {
            match &inner.explicit_hosts {
                Some(hosts) if !hosts.contains(&host) => {
                    tracing::debug!(registry = %host, source = %explicit.source, "explicit credentials are for other registries; not offered");
                }
                _ => push(explicit.source, explicit.credential.clone()),
            }
        }
        if let Some(file) = &inner.pacto_config
            && let Some(credential) = pacto_login(file.path(), &host).await
        {
            push(Source::PactoLogin, credential);
        }
        if inner.gh && is_github_registry(&host) {
            let key = CacheKey::Gh {
                registry: host.clone(),
            };
            if let Some(credential) = self.cached(key, || self.gh_token()).await {
                push(Source::Gh, credential);
            }
        }
        if let Some(config) = &inner.docker_config
            && let Some(credential) = self.docker(config, &host).await
        {
            push(Source::Docker, credential);
        }
        let sources: Vec<&str> = found.iter().map(|c| c.source.name()).collect();
        tracing::debug!(registry = %host, sources = ?sources, "credential candidates");
        found
    }

    /// The cached answer for `key`, computed once (concurrent lookups wait for the
    /// first).
    async fn cached<F, Fut>(&self, key: CacheKey, compute: F) -> Option<Credential>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Credential>>,
    {
        let cell = {
            let mut cache = self
                .inner
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(cache.entry(key).or_default())
        };
        cell.get_or_init(compute).await.clone()
    }

    /// `gh auth token`, as basic credentials for `x-access-token`.
    async fn gh_token(&self) -> Option<Credential> {
        let inner = &*self.inner;
        let search = exec::search_path(inner.path.as_deref());
        let Some(program) = exec::find_executable("gh", search.as_deref()) else {
            tracing::debug!("gh is not on PATH; no gh credential");
            return None;
        };
        let outcome = exec::run(
            &program,
            &["auth", "token"],
            b"",
            inner.path.as_deref(),
            inner.helper_timeout,
        )
        .await;
        match outcome {
            Ok(Finished {
                status,
                stdout: Some(stdout),
            }) if status.success() => {
                let Ok(text) = String::from_utf8(stdout) else {
                    tracing::debug!(
                        "gh auth token printed something that is not UTF-8; no gh credential"
                    );
                    return None;
                };
                let text = Secret::new(text);
                let token = text.expose().trim();
                if token.is_empty() || token.contains(char::is_whitespace) {
                    tracing::debug!("gh auth token printed no token; no gh credential");
                    return None;
                }
                tracing::trace!("gh auth token gave a token");
                Some(Credential::basic(GH_USERNAME, token))
            }
            Ok(Finished { status, .. }) => {
                tracing::debug!(%status, "gh auth token failed (not logged in?); no gh credential");
                None
            }
            Err(RunError::TimedOut(timeout)) => {
                tracing::warn!(
                    timeout_ms = timeout.as_millis(),
                    "gh auth token did not finish in time; killed it and skipping gh"
                );
                None
            }
            Err(RunError::Spawn(err) | RunError::Io(err)) => {
                tracing::debug!(error = %err, "cannot run gh auth token; no gh credential");
                None
            }
        }
    }

    /// The docker source: the configured helper's answer, else the file's entry.
    async fn docker(&self, config_path: &Path, host: &str) -> Option<Credential> {
        let mut bytes = match tokio::fs::read(config_path).await {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                tracing::trace!(path = %config_path.display(), "no docker config");
                return None;
            }
            Err(err) => {
                tracing::debug!(path = %config_path.display(), error = %err, "cannot read docker config; skipping it");
                return None;
            }
        };
        let parsed = DockerConfig::parse(&bytes);
        bytes.iter_mut().for_each(|b| *b = 0);
        let config = match parsed {
            Ok(config) => config,
            Err(reason) => {
                tracing::debug!(path = %config_path.display(), %reason, "ignoring docker config");
                return None;
            }
        };
        if let Some(helper) = config.helper_for(host) {
            let helper = helper.to_owned();
            let server = docker_server_address(host).to_owned();
            let key = CacheKey::Helper {
                helper: helper.clone(),
                server: server.clone(),
            };
            let answer = self
                .cached(key, || self.ask_helper(&helper, &server, host))
                .await;
            if answer.is_some() {
                return answer;
            }
        }
        config.file_credential(host)
    }

    /// `docker-credential-<helper> get` with `server` on standard input.
    async fn ask_helper(&self, helper: &str, server: &str, host: &str) -> Option<Credential> {
        let inner = &*self.inner;
        let program_name = format!("docker-credential-{helper}");
        if helper.contains(['/', '\\', '\0']) || helper.starts_with('.') {
            tracing::warn!(helper = %helper, registry = %host, "docker credential helper name is not a plain name; skipping it");
            return None;
        }
        let search = exec::search_path(inner.path.as_deref());
        let Some(program) = exec::find_executable(&program_name, search.as_deref()) else {
            tracing::warn!(helper = %program_name, registry = %host, "docker credential helper is not on PATH; skipping it");
            return None;
        };
        let outcome = exec::run(
            &program,
            &["get"],
            server.as_bytes(),
            inner.path.as_deref(),
            inner.helper_timeout,
        )
        .await;
        let finished = match outcome {
            Ok(finished) => finished,
            Err(RunError::TimedOut(timeout)) => {
                tracing::warn!(
                    helper = %program_name,
                    registry = %host,
                    timeout_ms = timeout.as_millis(),
                    "docker credential helper did not answer in time; killed it and skipping it"
                );
                return None;
            }
            Err(RunError::Spawn(err) | RunError::Io(err)) => {
                tracing::warn!(helper = %program_name, registry = %host, error = %err, "cannot run docker credential helper; skipping it");
                return None;
            }
        };
        let Some(mut stdout) = finished.stdout else {
            tracing::warn!(helper = %program_name, registry = %host, "docker credential helper printed too much output; skipping it");
            return None;
        };
        let answer = if !finished.status.success() {
            if docker::is_not_found(&stdout) {
                tracing::debug!(helper = %program_name, registry = %host, "docker credential helper has no credential for this registry");
            } else {
                tracing::warn!(helper = %program_name, registry = %host, status = %finished.status, "docker credential helper failed; skipping it");
            }
            None
        } else {
            match docker::parse_helper_response(&stdout) {
                HelperResponse::Credential(credential) => {
                    tracing::trace!(helper = %program_name, registry = %host, "docker credential helper gave a credential");
                    Some(credential)
                }
                HelperResponse::IdentityToken => {
                    tracing::debug!(helper = %program_name, registry = %host, "docker credential helper gave an identity token, which pacto cannot exchange; skipping it");
                    None
                }
                HelperResponse::Empty => {
                    tracing::debug!(helper = %program_name, registry = %host, "docker credential helper gave an empty secret");
                    None
                }
                HelperResponse::Garbage => {
                    tracing::warn!(helper = %program_name, registry = %host, "docker credential helper printed something that is not credential JSON; skipping it");
                    None
                }
            }
        };
        stdout.iter_mut().for_each(|b| *b = 0);
        answer
    }
}

/// The pacto login source: fail open, with a debug log.
async fn pacto_login(path: &Path, host: &str) -> Option<Credential> {
    let mut bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            tracing::trace!(path = %path.display(), "no pacto config");
            return None;
        }
        Err(err) => {
            tracing::debug!(path = %path.display(), error = %err, "cannot read pacto config; skipping it");
            return None;
        }
    };
    let found = pacto_config::PactoConfig::parse(path, &bytes).map(|c| c.credential(host));
    bytes.iter_mut().for_each(|b| *b = 0);
    match found {
        Ok(credential) => credential,
        Err(err) => {
            tracing::debug!(error = %err, "ignoring pacto config");
            None
        }
    }
}

/// `$DOCKER_CONFIG`, else `~/.docker`.
fn default_docker_config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".docker")))
}

impl fmt::Debug for Keychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let cached = inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Keychain")
            .field("explicit", &inner.explicit.as_ref().map(|c| c.source))
            .field("explicit_hosts", &inner.explicit_hosts)
            .field(
                "pacto_config",
                &inner.pacto_config.as_ref().map(PactoConfigFile::path),
            )
            .field("gh", &inner.gh)
            .field("docker_config", &inner.docker_config)
            .field("helper_timeout", &inner.helper_timeout)
            .field("path", &inner.path)
            .field("cached_lookups", &cached)
            .finish()
    }
}
