//! [`Client`]: the layers wired together the way the CLI wires them.

use crate::{Error, ErrorKind};
use pacto_auth::{CredentialOptions, Keychain, KeychainConfig, PactoConfigFile, Secret};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_contract::{Bundle, Limits};
use pacto_ref::{ArtifactRef, ParseOptions};
use pacto_registry::artifact::ManifestSummary;
use pacto_registry::{
    AnyStore, BundleStore, CopyOptions, CopyOutcome, CredentialFallback, LowSpeedLimit,
    PushOptions, PushOutcome, RegistryClient, StoreError, Tagged, TimeLimit,
};
use pacto_resolver::{FetchAll, ResolveMode, Resolved, Resolver};
use std::path::PathBuf;
use std::time::Duration;

/// What [`Client::inspect`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inspected {
    /// The reference chosen, the manifest digest, the bundle and the manifest bytes.
    pub resolved: Resolved,
    /// What the manifest says: media types, config and layer descriptors, annotations.
    pub manifest: ManifestSummary,
}

/// Configures a [`Client`]. [`ClientBuilder::from_env`] reads the `PACTO_*` variables the
/// CLI documents; setters override them.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    credentials: CredentialOptions,
    keychain: KeychainConfig,
    insecure_hosts: Vec<String>,
    ca_files: Vec<PathBuf>,
    cache_dir: Option<PathBuf>,
    no_cache: bool,
    concurrency: usize,
    timeout: Option<Duration>,
    low_speed: Option<LowSpeedLimit>,
    limits: Limits,
    mirrors: Vec<(String, String)>,
    mirror_digests_only: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            credentials: CredentialOptions::default(),
            keychain: KeychainConfig::default(),
            insecure_hosts: Vec::new(),
            ca_files: Vec::new(),
            cache_dir: None,
            no_cache: false,
            concurrency: pacto_resolver::DEFAULT_CONCURRENCY,
            timeout: None,
            low_speed: Some(LowSpeedLimit::default()),
            limits: Limits::default(),
            mirrors: Vec::new(),
            mirror_digests_only: false,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ClientBuilder {
    /// A builder from the environment: `PACTO_REGISTRY_USERNAME`, `PACTO_REGISTRY_PASSWORD`,
    /// `PACTO_REGISTRY_TOKEN`, `PACTO_REGISTRY_HOSTS` (comma list),
    /// `PACTO_INSECURE_REGISTRIES` (comma list), `PACTO_CA_FILE`, `PACTO_CACHE_DIR`,
    /// `PACTO_NO_CACHE` (`1`/`true`), `PACTO_CONCURRENCY`, `PACTO_TIMEOUT` (`30s`, `5m`, ...;
    /// an invalid value is ignored with a warning, the CLI refuses it).
    pub fn from_env() -> Self {
        let mut builder = ClientBuilder {
            credentials: CredentialOptions::from_env(),
            ..ClientBuilder::default()
        };
        if let Some(hosts) = env("PACTO_INSECURE_REGISTRIES") {
            builder.insecure_hosts = split_hosts(&hosts);
        }
        if let Some(file) = env("PACTO_CA_FILE") {
            builder.ca_files.push(file.into());
        }
        builder.cache_dir = env("PACTO_CACHE_DIR").map(PathBuf::from);
        builder.no_cache = env("PACTO_NO_CACHE").is_some_and(|v| {
            matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
        });
        if let Some(n) = env("PACTO_CONCURRENCY").and_then(|v| v.trim().parse().ok()) {
            builder.concurrency = n;
        }
        if let Some(text) = env("PACTO_TIMEOUT") {
            match pacto_registry::parse_duration(&text) {
                Ok(timeout) => builder.timeout = Some(timeout),
                Err(error) => tracing::warn!(%error, "ignoring PACTO_TIMEOUT"),
            }
        }
        if let Some(list) = env("PACTO_REGISTRY_MIRRORS") {
            for entry in split_hosts(&list) {
                match parse_mirror(&entry) {
                    Ok((registry, mirror)) => builder.mirrors.push((registry, mirror)),
                    Err(error) => {
                        tracing::warn!(%error, "ignoring an entry of PACTO_REGISTRY_MIRRORS")
                    }
                }
            }
        }
        builder.mirror_digests_only = env("PACTO_MIRROR_DIGESTS_ONLY").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        builder
    }

    /// Explicit credentials, tried before every other source (flags override the environment
    /// field by field).
    pub fn credentials(mut self, credentials: CredentialOptions) -> Self {
        self.credentials = credentials.or(self.credentials);
        self
    }

    /// Where the keychain looks (pacto config, docker config, `gh`); tests point it at
    /// temporary files.
    pub fn keychain_config(mut self, config: KeychainConfig) -> Self {
        self.keychain = config;
        self
    }

    /// Speak plain HTTP to `host` (as `oras --plain-http`).
    pub fn plain_http(mut self, host: impl Into<String>) -> Self {
        self.insecure_hosts.push(host.into());
        self
    }

    /// Trust the certificates in this PEM file too.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// The cache root (default `$XDG_CACHE_HOME/pacto/oci`, else `~/.cache/pacto/oci`).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Do not read the disk cache (writes continue), as Go pacto's `--no-cache`.
    pub fn no_cache(mut self, no_cache: bool) -> Self {
        self.no_cache = self.no_cache || no_cache;
        self
    }

    /// Parallel pulls for [`Client::fetch_all`] (default 8).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Bounds each operation of the client (a pull, with its tag listing; a push; a
    /// fetch-all; a login), its network work and retries included, by `timeout` in all
    /// (default: none; the low-speed limit still ends stalled transfers). Past it the
    /// operation fails as unreachable, saying the deadline was reached.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Aborts a transfer slower than `limit` (default 1 KiB/s over 30 s, see
    /// [`LowSpeedLimit`]); `None` switches it off.
    pub fn low_speed_limit(mut self, limit: Option<LowSpeedLimit>) -> Self {
        self.low_speed = limit;
        self
    }

    /// Reads from `registry` go to `mirror` first (a pull-through cache with the same
    /// repository paths); repeat for more mirrors, tried in order, then the registry. Writes
    /// (push, login) always go to the registry. `mirror` is a host (`mirror.corp:5000`) and
    /// may be listed in [`ClientBuilder::plain_http`] like any other. Also read from
    /// `PACTO_REGISTRY_MIRRORS` (`REGISTRY=MIRROR,...`) by [`ClientBuilder::from_env`].
    pub fn mirror(mut self, registry: impl Into<String>, mirror: impl Into<String>) -> Self {
        self.mirrors.push((registry.into(), mirror.into()));
        self
    }

    /// Resolve tags at the registry; take only content named by digest from mirrors (env
    /// `PACTO_MIRROR_DIGESTS_ONLY=1`).
    pub fn mirror_digests_only(mut self, digests_only: bool) -> Self {
        self.mirror_digests_only = digests_only;
        self
    }

    /// The bundle limits (default: Go pacto's, [`Limits::default`]), applied everywhere: a
    /// push refuses a bundle over them before uploading anything, and pulls from
    /// registries, layouts and the cache refuse artifacts over them. Raising them here
    /// raises them for every operation, so what this client pushes it can pull back.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Wires the keychain, registry client, layout store, cache and resolver.
    pub fn build(self) -> Result<Client, Error> {
        let keychain = Keychain::with_config(self.credentials, self.keychain.clone());
        let mut registry = RegistryClient::builder()
            .keychain(keychain)
            .limits(self.limits)
            .low_speed_limit(self.low_speed);
        if let Some(timeout) = self.timeout {
            registry = registry.timeout(timeout);
        }
        for file in &self.ca_files {
            registry = registry.ca_file(file);
        }
        let host_options = ParseOptions {
            insecure_hosts: self.insecure_hosts.clone(),
            ..ParseOptions::untagged()
        };
        for (of, mirror) in &self.mirrors {
            let mirror = pacto_ref::Registry::parse(mirror, &host_options)
                .map_err(|e| Error::from(e).with_context("invalid mirror"))?;
            registry = registry.mirror(of.clone(), mirror);
        }
        let registry = registry
            .mirror_digests_only(self.mirror_digests_only)
            .build()?;
        let mut cache = CacheConfig::default().with_limits(self.limits);
        if let Some(dir) = &self.cache_dir {
            cache = cache.with_dir(dir);
        }
        let cache = CachedStore::new(AnyStore::new(registry.clone()), cache);
        if self.no_cache {
            cache.disable_cache();
        }
        let parse_options = ParseOptions {
            insecure_hosts: self.insecure_hosts.clone(),
            ..ParseOptions::untagged()
        };
        let resolver = Resolver::new(cache)
            .with_concurrency(self.concurrency)
            .with_parse_options(parse_options);
        Ok(Client {
            resolver,
            registry,
            keychain: self.keychain,
            insecure_hosts: self.insecure_hosts,
            timeout: self.timeout,
            limits: self.limits,
        })
    }
}

/// `REGISTRY=MIRROR` (as `--mirror` and `PACTO_REGISTRY_MIRRORS` take it).
pub fn parse_mirror(entry: &str) -> Result<(String, String), Error> {
    match entry.split_once('=') {
        Some((registry, mirror)) if !registry.trim().is_empty() && !mirror.trim().is_empty() => {
            Ok((registry.trim().to_owned(), mirror.trim().to_owned()))
        }
        _ => Err(Error::message(
            ErrorKind::InvalidReference,
            format!(
                "invalid mirror {entry:?}: expected REGISTRY=MIRROR, e.g. docker.io=mirror.corp:5000"
            ),
        )),
    }
}

fn split_hosts(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Pushes, pulls and resolves Pacto bundles in registries and OCI layouts, through the cache.
#[derive(Debug)]
pub struct Client {
    resolver: Resolver<AnyStore>,
    registry: RegistryClient,
    keychain: KeychainConfig,
    insecure_hosts: Vec<String>,
    timeout: Option<Duration>,
    limits: Limits,
}

impl Client {
    /// A builder with defaults (no environment variables read).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment, as the CLI starts.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env().build()
    }

    /// Runs `operation` on `reference` within the client's timeout, if it has one.
    async fn bounded<T>(
        &self,
        reference: &str,
        operation: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(timeout) = self.timeout else {
            return operation.await;
        };
        match tokio::time::timeout(timeout, operation).await {
            Ok(result) => result,
            Err(_) => {
                let registry = match self.parse(reference) {
                    Ok(ArtifactRef::Remote(remote)) => remote.registry().name().to_owned(),
                    _ => reference.to_owned(),
                };
                Err(StoreError::TimedOut {
                    reference: reference.to_owned(),
                    registry,
                    limit: TimeLimit::Deadline { timeout },
                }
                .into())
            }
        }
    }

    /// Every time explicit credentials ([`ClientBuilder::credentials`], `PACTO_REGISTRY_*`)
    /// were rejected by a registry and a stored credential, or anonymous access, was used
    /// instead. Show them: a wrong password must not be silently masked.
    pub fn credential_fallbacks(&self) -> Vec<CredentialFallback> {
        self.registry.credential_fallbacks()
    }

    /// Parses a reference (`REGISTRY/REPO[:TAG|@DIGEST]`, `oci://...`, `oci-layout:PATH[:TAG]`);
    /// untagged references stay untagged.
    pub fn parse(&self, reference: &str) -> Result<ArtifactRef, Error> {
        Ok(self.resolver.parse(reference)?)
    }

    /// The bundle limits every operation of this client applies ([`ClientBuilder::limits`]);
    /// read bundle directories with them too ([`Bundle::from_dir_with_limits`]).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Pushes `bundle`; an untagged reference is tagged with `service.version`. A bundle
    /// over this client's limits is refused ([`ErrorKind::InvalidBundle`](crate::ErrorKind))
    /// before anything is uploaded or written.
    pub async fn push(
        &self,
        reference: &str,
        bundle: &Bundle,
        force: bool,
    ) -> Result<PushOutcome, Error> {
        let parsed = self
            .parse(reference)
            .map_err(|e| e.with_context("cannot push"))?;
        // What `validate` checks: a bundle whose contract names files it lacks is refused
        // before anything is uploaded (a pull would accept it; its users could not use it).
        bundle
            .check_references()
            .map_err(|e| Error::new(ErrorKind::InvalidBundle, e).with_context("cannot push"))?;
        self.bounded(reference, async {
            Ok(self
                .resolver
                .cache()
                .push(&parsed, bundle, PushOptions { force })
                .await?)
        })
        .await
        .map_err(|e| e.with_context("cannot push"))
    }

    /// The bundle `reference` names (its highest version matching `constraint` when it has
    /// no tag), with the reference chosen and the manifest digest.
    pub async fn pull(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Resolved, Error> {
        self.bounded(reference, async {
            Ok(self
                .resolver
                .resolve_pinned(reference, constraint, mode)
                .await?)
        })
        .await
        .map_err(|e| e.with_context("cannot pull"))
    }

    /// What `reference` is, without writing files: the bundle (through the cache, so a
    /// cached bundle costs no download; [`ResolveMode::LocalOnly`] never touches the
    /// network), the reference chosen, the manifest digest and what the manifest says.
    pub async fn inspect(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Inspected, Error> {
        let inspected = async {
            let resolved = self
                .resolver
                .resolve_pinned(reference, constraint, mode)
                .await?;
            let manifest = pacto_registry::artifact::summarize_manifest(
                &resolved.reference.to_string(),
                &resolved.manifest,
                None,
                u64::MAX,
            )?;
            Ok(Inspected { resolved, manifest })
        };
        self.bounded(reference, inspected)
            .await
            .map_err(|e| e.with_context("cannot inspect"))
    }

    /// Copies the artifact `source` names to `destination` byte for byte (the manifest
    /// digest is kept), between registries and layouts in any direction. An untagged
    /// `source` means its highest semver tag; an untagged `destination` takes the source's
    /// tag. Blobs the destination holds are not sent, and on one registry a blob is mounted
    /// from the source repository rather than sent. A destination tag holding another
    /// artifact is refused ([`ErrorKind::Conflict`]) unless `force`.
    pub async fn copy(
        &self,
        source: &str,
        destination: &str,
        force: bool,
    ) -> Result<CopyOutcome, Error> {
        let copied = async {
            let from = self.parse(source)?;
            let to = self.parse(destination)?;
            let from = if from.has_explicit_tag() {
                from
            } else {
                pacto_ref::resolve_ref(self.resolver.cache(), &from, "")
                    .await
                    .map_err(pacto_resolver::ResolveError::from)?
            };
            Ok(self
                .resolver
                .cache()
                .inner()
                .copy(&from, &to, CopyOptions::force(force))
                .await?)
        };
        self.bounded(source, copied)
            .await
            .map_err(|e| e.with_context("cannot copy"))
    }

    /// Adds `tags` to the manifest `reference` names (tag or digest), in the same repository
    /// or layout, without reading or sending a blob. A tag holding another manifest is
    /// refused ([`ErrorKind::Conflict`], nothing written) unless `force`.
    pub async fn tag(
        &self,
        reference: &str,
        tags: &[String],
        force: bool,
    ) -> Result<Tagged, Error> {
        let tagged = async {
            let parsed = self.parse(reference)?;
            if !parsed.has_explicit_tag() {
                return Err(Error::from(StoreError::InvalidReference {
                    reference: reference.to_owned(),
                    reason: "name the manifest to tag by its tag or digest".into(),
                }));
            }
            Ok(self
                .resolver
                .cache()
                .inner()
                .tag(&parsed, tags, force)
                .await?)
        };
        self.bounded(reference, tagged)
            .await
            .map_err(|e| e.with_context("cannot tag"))
    }

    /// The semver tags of `repository`, newest first.
    pub async fn versions(&self, repository: &str) -> Result<Vec<String>, Error> {
        self.bounded(repository, async {
            Ok(self.resolver.list_versions(repository).await?)
        })
        .await
        .map_err(|e| e.with_context("cannot list the versions"))
    }

    /// Every tag of `repository`, semver or not (`latest`, `main`), as the registry or
    /// layout lists them; any tag or digest in `repository` is ignored.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, Error> {
        let listed = async {
            let repository = self.parse(repository)?.repository();
            Ok(self.resolver.cache().list_tags(&repository).await?)
        };
        self.bounded(repository, listed)
            .await
            .map_err(|e| e.with_context("cannot list the tags"))
    }

    /// Pulls every semver version of `repository` into the cache, in parallel.
    pub async fn fetch_all(&self, repository: &str) -> Result<FetchAll, Error> {
        self.bounded(repository, async {
            Ok(self.resolver.fetch_all_versions(repository).await?)
        })
        .await
        .map_err(|e| e.with_context("cannot fetch the versions"))
    }

    /// Checks the credentials against `registry`, then stores them in pacto's config file
    /// (nothing is stored when the registry rejects them or cannot be reached).
    pub async fn login(
        &self,
        registry: &str,
        username: &str,
        password: &Secret,
    ) -> Result<(), Error> {
        self.login_checked(registry, username, password)
            .await
            .map_err(|e| e.with_context("cannot log in"))
    }

    async fn login_checked(
        &self,
        registry: &str,
        username: &str,
        password: &Secret,
    ) -> Result<(), Error> {
        let parsed = pacto_ref::Registry::parse(
            registry
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/'),
            &ParseOptions {
                insecure_hosts: self.insecure_hosts.clone(),
                ..ParseOptions::untagged()
            },
        )?;
        self.bounded(registry, async {
            Ok(self
                .registry
                .check_credentials(
                    &parsed,
                    pacto_auth::Credential::basic(username, password.clone()),
                )
                .await?)
        })
        .await?;
        self.config_file()?.login(registry, username, password)?;
        Ok(())
    }

    /// Removes the stored credentials for `registry`; `true` when there were some.
    pub fn logout(&self, registry: &str) -> Result<bool, Error> {
        let logout = || Ok(self.config_file()?.logout(registry)?);
        logout().map_err(|e: Error| e.with_context("cannot log out"))
    }

    fn config_file(&self) -> Result<PactoConfigFile, Error> {
        Ok(match &self.keychain.pacto_config {
            Some(path) => PactoConfigFile::at(path),
            None => PactoConfigFile::default_location()?,
        })
    }

    /// The cache (directory, entries, verify, prune, clear).
    pub fn cache(&self) -> &CachedStore<AnyStore> {
        self.resolver.cache()
    }

    /// The resolver, for everything else.
    pub fn resolver(&self) -> &Resolver<AnyStore> {
        &self.resolver
    }
}
