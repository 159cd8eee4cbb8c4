//! [`Client`]: the layers wired together the way the CLI wires them.

use crate::env::Settings;
use crate::{Error, ErrorKind};
use pacto_archive::{Durability, LayerWatch, PackDirError};
use pacto_archive::{Output, WriteOptions, WrittenLayer};
use pacto_auth::{CredentialOptions, Keychain, KeychainConfig, PactoConfigFile, Secret};
use pacto_cache::{CacheConfig, CachedStore, ScratchDir};
use pacto_contract::{Bundle, Contract, DirListing, Limits};
use pacto_ref::{ArtifactRef, ParseOptions};
use pacto_registry::artifact::ManifestSummary;
use pacto_registry::{
    AnyStore, BundleStore, CopyOptions, CopyOutcome, CredentialFallback, LowSpeedLimit,
    PackedLayerFile, PackingLayer, Progress, PushOptions, PushOutcome, RegistryClient, RetryPolicy,
    StoreError, Tagged, TimeLimit,
};
use pacto_resolver::{FetchAll, Location, ResolveMode, Resolved, Resolver};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What [`Client::pull_to`] wrote.
#[derive(Debug)]
#[non_exhaustive]
pub struct PulledTo {
    /// The reference chosen (the tag picked for an untagged one).
    pub reference: ArtifactRef,
    /// The manifest digest.
    pub digest: pacto_ref::Digest,
    /// The directory written, its files and the contract read from it.
    pub written: WrittenLayer,
}

/// A bundle directory packed into a scratch file by [`Client::pack_dir`], ready for
/// [`Client::push_packed`]. The file (and its scratch directory) is removed when this value
/// is dropped.
#[derive(Debug)]
pub struct PackedBundle {
    layer: PackedLayerFile,
    files: usize,
    total_size: u64,
    /// Holds the layer file; removed on drop.
    _scratch: ScratchDir,
}

impl PackedBundle {
    /// The layer file, its digests and size, and the contract packed.
    pub fn layer(&self) -> &PackedLayerFile {
        &self.layer
    }

    /// The parsed `pacto.yaml`.
    pub fn contract(&self) -> &Contract {
        &self.layer.contract
    }

    /// `service.name` of the contract.
    pub fn name(&self) -> &str {
        &self.layer.contract.service.name
    }

    /// `service.version` of the contract.
    pub fn version(&self) -> &str {
        &self.layer.contract.service.version
    }

    /// How many files the bundle has, `pacto.yaml` included.
    pub fn files(&self) -> usize {
        self.files
    }

    /// Sum of the sizes of the bundle's files, in bytes.
    pub fn total_size(&self) -> u64 {
        self.total_size
    }
}

/// A bundle directory listed and checked by [`Client::open_dir`] (walked under the client's
/// limits, its contract's references present), nothing packed yet: what
/// [`Client::push_listed`] packs while it pushes.
#[derive(Debug)]
pub struct BundleDir {
    path: PathBuf,
    listing: DirListing,
}

impl BundleDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed `pacto.yaml`.
    pub fn contract(&self) -> &Contract {
        self.listing.contract()
    }

    /// `service.name` of the contract.
    pub fn name(&self) -> &str {
        &self.listing.contract().service.name
    }

    /// `service.version` of the contract.
    pub fn version(&self) -> &str {
        &self.listing.contract().service.version
    }

    /// How many files the bundle has, `pacto.yaml` included.
    pub fn files(&self) -> usize {
        self.listing.files().len()
    }

    /// Sum of the sizes of the bundle's files, in bytes.
    pub fn total_size(&self) -> u64 {
        self.listing.total_size()
    }
}

/// What [`Client::inspect`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inspected {
    /// The reference chosen, the manifest digest, the bundle and the manifest bytes.
    pub resolved: Resolved,
    /// What the manifest says: media types, config and layer descriptors, annotations.
    pub manifest: ManifestSummary,
}

/// Configures a [`Client`]: every layer option a program needs, or a prebuilt
/// [`Keychain`]. [`ClientBuilder::from_env`] reads the `PACTO_*` variables the CLI
/// documents ([`crate::env`]); setters called after it override them.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    credentials: CredentialOptions,
    keychain_config: KeychainConfig,
    keychain: Option<Keychain>,
    insecure_hosts: Vec<String>,
    ca_files: Vec<PathBuf>,
    cache_dir: Option<PathBuf>,
    memory_budget: u64,
    no_cache: bool,
    concurrency: usize,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    user_agent: Option<String>,
    low_speed: Option<LowSpeedLimit>,
    limits: Limits,
    mirrors: Vec<(String, String)>,
    mirror_digests_only: bool,
    progress: Option<Progress>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            credentials: CredentialOptions::default(),
            keychain_config: KeychainConfig::default(),
            keychain: None,
            insecure_hosts: Vec::new(),
            ca_files: Vec::new(),
            cache_dir: None,
            memory_budget: pacto_cache::DEFAULT_MEMORY_BUDGET,
            no_cache: false,
            concurrency: pacto_resolver::DEFAULT_CONCURRENCY,
            timeout: None,
            connect_timeout: None,
            read_timeout: None,
            retry: None,
            user_agent: None,
            low_speed: Some(LowSpeedLimit::default()),
            limits: Limits::default(),
            mirrors: Vec::new(),
            mirror_digests_only: false,
            progress: None,
        }
    }
}

impl ClientBuilder {
    /// A builder from the environment, as the CLI starts: the explicit credentials of
    /// [`CredentialOptions::from_env`] (`PACTO_REGISTRY_USERNAME`, `PACTO_REGISTRY_PASSWORD`,
    /// `PACTO_REGISTRY_TOKEN`, `PACTO_REGISTRY_HOSTS`) and the [`Settings`] of
    /// [`Settings::from_env`] (`PACTO_INSECURE_REGISTRIES`, `PACTO_CA_FILE`,
    /// `PACTO_CACHE_DIR`, `PACTO_NO_CACHE`, `PACTO_CONCURRENCY`, `PACTO_TIMEOUT`,
    /// `PACTO_REGISTRY_MIRRORS`, `PACTO_MIRROR_DIGESTS_ONLY`). A variable set to a value
    /// that cannot be used is an error (kind [`ErrorKind::Other`], source
    /// [`InvalidSetting`](crate::env::InvalidSetting)), as it is for the CLI.
    pub fn from_env() -> Result<Self, Error> {
        Ok(ClientBuilder::default()
            .credentials(CredentialOptions::from_env())
            .settings(Settings::from_env()?))
    }

    /// Applies what `settings` sets (from [`Settings::from_env`], or built by hand); what
    /// it leaves unset keeps its current value. Hosts, CA files and mirrors are added.
    pub fn settings(mut self, settings: Settings) -> Self {
        if let Some(no_cache) = settings.no_cache {
            self.no_cache = no_cache;
        }
        if let Some(dir) = settings.cache_dir {
            self.cache_dir = Some(dir);
        }
        self.insecure_hosts.extend(settings.insecure_hosts);
        self.ca_files.extend(settings.ca_file);
        if let Some(concurrency) = settings.concurrency {
            self.concurrency = concurrency;
        }
        if let Some(timeout) = settings.timeout {
            self.timeout = Some(timeout);
        }
        self.mirrors.extend(settings.mirrors);
        if let Some(digests_only) = settings.mirror_digests_only {
            self.mirror_digests_only = digests_only;
        }
        self
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
        self.keychain_config = config;
        self
    }

    /// A prebuilt keychain, used as is instead of one made from
    /// [`credentials`](Self::credentials) and [`keychain_config`](Self::keychain_config);
    /// [`Client::login`] writes the pacto config file it reads
    /// ([`Keychain::pacto_config_path`]).
    pub fn keychain(mut self, keychain: Keychain) -> Self {
        self.keychain = Some(keychain);
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

    /// Keep at most `bytes` of bundles in the memory cache (default
    /// [`DEFAULT_MEMORY_BUDGET`](pacto_cache::DEFAULT_MEMORY_BUDGET), 256 MiB).
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// `true`: do not read the disk cache (writes continue), as Go pacto's `--no-cache`;
    /// `false` (the default): read it, whatever `PACTO_NO_CACHE` said before.
    pub fn no_cache(mut self, no_cache: bool) -> Self {
        self.no_cache = no_cache;
        self
    }

    /// Parallel pulls for [`Client::fetch_all`] (default 8; 0 counts as 1).
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

    /// Time allowed to establish a connection (default 10 s,
    /// [`RegistryClientBuilder::connect_timeout`](pacto_registry::RegistryClientBuilder::connect_timeout)).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Longest silence allowed while reading an answer (default 30 s,
    /// [`RegistryClientBuilder::read_timeout`](pacto_registry::RegistryClientBuilder::read_timeout)).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// How requests are retried (default [`RetryPolicy::default`]: 3 retries, backing off
    /// from 200 ms).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The `User-Agent` header (default `pacto-oci/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
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

    /// Tells `progress` how transfers go (default: nobody): each blob pushed, pulled or
    /// copied to or from a registry or an OCI layout ([`ProgressEvent::BlobStarted`](crate::ProgressEvent::BlobStarted), then
    /// [`ProgressEvent::BlobBytes`](crate::ProgressEvent::BlobBytes) as its bytes move, then [`ProgressEvent::BlobDone`](crate::ProgressEvent::BlobDone),
    /// each with its [`Direction`](crate::registry::Direction): a copy moves a digest both ways),
    /// and the versions of [`Client::fetch_all`] ([`ProgressEvent::VersionsStarted`](crate::ProgressEvent::VersionsStarted), one
    /// [`ProgressEvent::VersionDone`](crate::ProgressEvent::VersionDone) each). A pull the cache serves moves no blob
    /// and reports none. No request is added or changed.
    ///
    /// ```
    /// use pacto_oci::{Progress, ProgressEvent};
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let moved = Arc::new(AtomicU64::new(0));
    /// let counter = Arc::clone(&moved);
    /// let client = pacto_oci::Client::builder()
    ///     .progress(Progress::new(move |event| {
    ///         if let ProgressEvent::BlobBytes { n, .. } = event {
    ///             counter.fetch_add(*n, Ordering::Relaxed);
    ///         }
    ///     }))
    ///     .build()?;
    /// # Ok::<(), pacto_oci::Error>(())
    /// ```
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Wires the keychain, registry client, layout store, cache and resolver.
    pub fn build(self) -> Result<Client, Error> {
        let (keychain, pacto_config) = match self.keychain {
            Some(keychain) => {
                let path = keychain.pacto_config_path().map(Arc::from);
                (keychain, path)
            }
            None => (
                Keychain::with_config(self.credentials, self.keychain_config.clone()),
                self.keychain_config.pacto_config.as_deref().map(Arc::from),
            ),
        };
        let mut registry = RegistryClient::builder()
            .keychain(keychain)
            .limits(self.limits)
            .low_speed_limit(self.low_speed);
        if let Some(timeout) = self.timeout {
            registry = registry.timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            registry = registry.connect_timeout(timeout);
        }
        if let Some(timeout) = self.read_timeout {
            registry = registry.read_timeout(timeout);
        }
        if let Some(retry) = self.retry {
            registry = registry.retry(retry);
        }
        if let Some(user_agent) = self.user_agent {
            registry = registry.user_agent(user_agent);
        }
        for file in &self.ca_files {
            registry = registry.ca_file(file);
        }
        let parse_options = ParseOptions::untagged().with_insecure_hosts(&self.insecure_hosts);
        for (of, mirror) in &self.mirrors {
            let mirror = pacto_ref::Registry::parse(mirror, &parse_options)
                .map_err(|e| Error::from(e).with_context("invalid mirror"))?;
            registry = registry.mirror(of.clone(), mirror);
        }
        if let Some(progress) = &self.progress {
            registry = registry.progress(progress.clone());
        }
        let registry = registry
            .mirror_digests_only(self.mirror_digests_only)
            .build()?;
        let mut cache = CacheConfig::default()
            .with_limits(self.limits)
            .with_memory_budget(self.memory_budget);
        if let Some(dir) = &self.cache_dir {
            cache = cache.with_dir(dir);
        }
        let cache = CachedStore::new(AnyStore::new(registry.clone()), cache);
        if self.no_cache {
            cache.disable_cache();
        }
        let mut resolver = Resolver::new(cache)
            .with_concurrency(self.concurrency)
            .with_parse_options(parse_options.clone());
        if let Some(progress) = self.progress {
            resolver = resolver.with_progress(progress);
        }
        Ok(Client {
            resolver,
            registry,
            pacto_config,
            parse_options: Arc::new(parse_options),
            timeout: self.timeout,
            limits: self.limits,
        })
    }
}

/// Pushes, pulls and resolves Pacto bundles in registries and OCI layouts, through the cache.
///
/// Cheap to clone, `Send + Sync + 'static`: clones share connections, tokens, the cache and
/// the credential-fallback record, so one client built at start-up serves every task.
#[derive(Debug, Clone)]
pub struct Client {
    resolver: Resolver<AnyStore>,
    registry: RegistryClient,
    /// The pacto config file `login` and `logout` write (`None`: the default location).
    pacto_config: Option<Arc<Path>>,
    parse_options: Arc<ParseOptions>,
    timeout: Option<Duration>,
    limits: Limits,
}

impl Client {
    /// A builder with defaults (no environment variables read).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment, as the CLI starts
    /// ([`ClientBuilder::from_env`]).
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
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
                Err(StoreError::timed_out(reference, registry, TimeLimit::deadline(timeout)).into())
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
                .push(&parsed, bundle, PushOptions::default().with_force(force))
                .await?)
        })
        .await
        .map_err(|e| e.with_context("cannot push"))
    }

    /// Pushes the bundle directory `dir` with memory that does not grow with the bundle:
    /// [`Client::open_dir`], then [`Client::push_listed`]. Same refusals, tag, manifest
    /// digest, statuses and request counts as reading the directory into a [`Bundle`]
    /// ([`Bundle::from_dir_with_limits`] with [`Client::limits`]) and [`Client::push`]ing it.
    pub async fn push_dir(
        &self,
        dir: &Path,
        reference: &str,
        force: bool,
    ) -> Result<PushOutcome, Error> {
        let listed = self.open_dir(dir).await?;
        self.push_listed(&listed, reference, force, |_| {}).await
    }

    /// Lists the bundle directory `dir` as [`Bundle::from_dir_with_limits`] reads it under
    /// [`Client::limits`] and refuses a contract that names files the directory lacks, as
    /// [`Client::push`] does; nothing is read beyond `pacto.yaml` and the file sizes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidBundle`] for a directory that is not a valid bundle (the
    /// [`pacto_contract::BundleError`] is the source, as from
    /// [`Bundle::from_dir_with_limits`]); [`ErrorKind::Other`] when it cannot be read.
    pub async fn open_dir(&self, dir: &Path) -> Result<BundleDir, Error> {
        let listing = pacto_archive::list_dir(dir, &self.limits)
            .await
            .map_err(pack_dir_error)?;
        Ok(BundleDir {
            path: dir.to_owned(),
            listing,
        })
    }

    /// Pushes a directory [`Client::open_dir`] listed, packing it while it is uploaded: a
    /// bundle of up to one upload chunk ([`pacto_registry::MAX_UPLOAD_CHUNK`]) is packed
    /// first, then pushed as [`Client::push_packed`] pushes it (a layer the cache knows in
    /// another repository is mounted); a bigger one goes up as it is packed when its tag is
    /// new ([`BundleStore::push_packing`](pacto_registry::BundleStore::push_packing): its
    /// digest is known only at the end, so it is not mounted). `progress` is called with
    /// the file bytes packed, as [`Client::pack_dir`] calls it. The result is the one
    /// [`Client::push_dir`] gives.
    ///
    /// # Errors
    ///
    /// As [`Client::pack_dir`] and [`Client::push_packed`]; a pack that fails (a file
    /// changed while packed) is reported as such, whatever the upload did, and leaves no tag.
    pub async fn push_listed(
        &self,
        dir: &BundleDir,
        reference: &str,
        force: bool,
        progress: impl FnMut(u64) + Send,
    ) -> Result<PushOutcome, Error> {
        let parsed = self
            .parse(reference)
            .map_err(|e| e.with_context("cannot push"))?;
        if dir.total_size() <= pacto_registry::MAX_UPLOAD_CHUNK as u64 {
            let packed = self.pack_listed(dir, progress, LayerWatch::none()).await?;
            return self.push_packed(reference, &packed, force).await;
        }
        let (layer, mut packer) = PackingLayer::channel(dir.contract().clone());
        let watch = packer.watch();
        let pack = async {
            let packed = self.pack_listed(dir, progress, watch).await?;
            packer.finish(packed.layer.clone());
            Ok::<_, Error>(packed)
        };
        // Not bounded here: the registry bounds each network step while the layer is packed,
        // and the rest as a whole once it is, so the time spent packing is not a timeout.
        let push = async {
            Ok::<_, Error>(
                self.resolver
                    .cache()
                    .push_packing(&parsed, layer, PushOptions::default().with_force(force))
                    .await?,
            )
        };
        let (mut pack, mut push) = (std::pin::pin!(pack), std::pin::pin!(push));
        // The first to fail decides; a pack that fails is the error (the push then only saw
        // its packer stop, and is awaited so that it deletes the upload session it opened);
        // a push that fails drops the pack.
        let (packed, pushed) = tokio::select! {
            packed = &mut pack => match packed {
                Ok(packed) => (packed, push.await),
                Err(e) => {
                    let _ = push.await;
                    return Err(e);
                }
            },
            pushed = &mut push => {
                let pushed = pushed.map_err(|e| e.with_context("cannot push"))?;
                (pack.await?, Ok(pushed))
            }
        };
        drop(packed);
        let (outcome, _) = pushed.map_err(|e| e.with_context("cannot push"))?;
        Ok(outcome)
    }

    /// Packs the bundle directory `dir` into a scratch file (in the disk cache's `v1/tmp`
    /// when the client has a disk cache, else the system's temporary directory), reading it
    /// as [`Bundle::from_dir_with_limits`] does under [`Client::limits`] and refusing a
    /// contract that names files the directory lacks, as [`Client::push`] does; each file
    /// is streamed from disk ([`pacto_archive::pack_dir_to_file`], whose `progress` calls
    /// add up to the files' total size). Nothing is uploaded.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidBundle`] for a directory that is not a valid bundle (the
    /// [`pacto_contract::BundleError`] is the source, as from
    /// [`Bundle::from_dir_with_limits`]); [`ErrorKind::Other`] when a file cannot be read,
    /// changes while it is packed, or the scratch file cannot be written.
    pub async fn pack_dir(
        &self,
        dir: &Path,
        progress: impl FnMut(u64) + Send,
    ) -> Result<PackedBundle, Error> {
        let listed = self.open_dir(dir).await?;
        self.pack_listed(&listed, progress, LayerWatch::none())
            .await
    }

    /// Packs a listed directory into a scratch file (not synced: it lives as long as the
    /// returned value), reporting how far it got to `watch`.
    async fn pack_listed(
        &self,
        dir: &BundleDir,
        progress: impl FnMut(u64) + Send,
        watch: LayerWatch,
    ) -> Result<PackedBundle, Error> {
        let scratch = self.resolver.cache().scratch_dir("push-").await?;
        let path = scratch.path().join("layer.tar.gz");
        let packed = pacto_archive::pack_listing(
            &dir.listing,
            &path,
            &self.limits,
            progress,
            watch,
            Durability::Scratch,
        )
        .await
        .map_err(pack_dir_error)?;
        Ok(PackedBundle {
            layer: PackedLayerFile::new(path, packed.layer, packed.contract, self.limits),
            files: packed.files,
            total_size: packed.total_size,
            _scratch: scratch,
        })
    }

    /// Pushes a bundle packed by [`Client::pack_dir`], streaming its layer from the file,
    /// through the cache, as [`Client::push`] pushes the bundle: an untagged reference is
    /// tagged with `service.version`. On a registry, a layer the cache knows in another
    /// repository of that registry is mounted from it rather than uploaded, and the tag
    /// written is recorded in the cache (pulling it back costs one `HEAD`).
    pub async fn push_packed(
        &self,
        reference: &str,
        packed: &PackedBundle,
        force: bool,
    ) -> Result<PushOutcome, Error> {
        let parsed = self
            .parse(reference)
            .map_err(|e| e.with_context("cannot push"))?;
        self.bounded(reference, async {
            Ok(self
                .resolver
                .cache()
                .push_layer_file(
                    &parsed,
                    &packed.layer,
                    PushOptions::default().with_force(force),
                )
                .await?)
        })
        .await
        .map_err(|e| e.with_context("cannot push"))
    }

    /// The bundle `reference` names (its highest version matching `constraint` when it has
    /// no tag), with the reference chosen and the manifest digest.
    ///
    /// The bundle's files are in memory, each byte once: the layer goes through a file
    /// (the cache's, else the system's temporary directory) and is unpacked from there.
    /// For a bundle written to a directory in constant memory, see [`Client::pull_to`].
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

    /// Pulls the bundle `reference` names (its highest version matching `constraint` when
    /// it has no tag) into a directory, streaming: the layer goes through the cache to a
    /// verified file and is unpacked from it entry by entry under the client's limits, so
    /// memory stays constant whatever the bundle's size (the CLI's `pull`). `output` and
    /// `options` say where and what may be replaced ([`pacto_archive::write_layer`]: staged
    /// beside the directory and renamed in, never merged into what was there). Same cache
    /// rules and request counts as [`Client::pull`].
    ///
    /// # Errors
    ///
    /// As [`Client::pull`]; a refused output path carries its
    /// [`WriteError`](pacto_archive::WriteError) ([`Error::write_error`]).
    pub async fn pull_to(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
        output: Output,
        options: WriteOptions,
    ) -> Result<PulledTo, Error> {
        self.bounded(reference, async {
            let resolved = self
                .resolver
                .resolve_layer(reference, constraint, mode)
                .await?;
            let layer = resolved.layer;
            let reader = layer.open().await.map_err(|e| {
                Error::new(
                    ErrorKind::Other,
                    StoreError::io("cannot open", layer.path(), e),
                )
            })?;
            let written =
                pacto_archive::write_layer(reader, output, options, self.limits()).await?;
            let digest = layer.digest.clone();
            // Valid: a freshly fetched layer enters the cache now (a refused one never does).
            if let Err(e) = layer.commit().await {
                tracing::warn!(error = %e, "cannot write the disk cache; continuing without it");
            }
            Ok(PulledTo {
                reference: resolved.reference,
                digest,
                written,
            })
        })
        .await
        .map_err(|e| e.with_context("cannot pull"))
    }

    /// Which reference and manifest digest `reference` names now (its highest version
    /// matching `constraint` when it has no tag), without downloading the bundle: one
    /// `HEAD` for a tag, the tag list plus one `HEAD` for an untagged reference. Go's
    /// `Resolver.Resolve`, which returns the bundle, is [`Client::pull`].
    pub async fn resolve(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Location, Error> {
        self.bounded(reference, async {
            Ok(self.resolver.locate(reference, constraint, mode).await?)
        })
        .await
        .map_err(|e| e.with_context("cannot resolve"))
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
            let manifest =
                pacto_registry::artifact::summarize_manifest(&resolved.manifest, None, u64::MAX)
                    .map_err(|e| {
                        Error::from(StoreError::invalid_bundle(
                            resolved.reference.to_string(),
                            e.reason,
                        ))
                    })?;
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
                return Err(Error::from(StoreError::invalid_reference(
                    reference,
                    "name the manifest to tag by its tag or digest",
                )));
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
            &self.parse_options,
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
        Ok(match &self.pacto_config {
            Some(path) => PactoConfigFile::at(&**path),
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

/// A [`PackDirError`] as the client reports it.
fn pack_dir_error(e: PackDirError) -> Error {
    match e {
        PackDirError::Bundle(e) => Error::from(e),
        PackDirError::MissingReferences(e) => {
            Error::new(ErrorKind::InvalidBundle, e).with_context("cannot push")
        }
        PackDirError::Archive(e) => Error::from(e).with_context("cannot push"),
        other => Error::new(ErrorKind::Other, other).with_context("cannot push"),
    }
}
