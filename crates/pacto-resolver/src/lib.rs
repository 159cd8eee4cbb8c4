//! Resolve pacto references to bundles over a [`CachedStore`]: [`Resolver`].
//!
//! - References are text (`oci://` prefix accepted, `oci-layout:PATH[:TAG]` too), parsed with
//!   the [`ParseOptions`] given to [`Resolver::with_parse_options`].
//! - A reference without tag or digest is resolved by semver (Go pacto `ResolveRef`): the
//!   highest tag satisfying the constraint, and with an empty constraint the highest tag,
//!   pre-releases included. A reference with a tag or digest is used as is and the
//!   constraint is ignored.
//! - [`ResolveMode::LocalOnly`] never touches the network, not even for a `HEAD`: it reads
//!   the cache only ([`CachedStore::pull_local`], [`CachedStore::local_tags`]), and a miss is
//!   [`ErrorKind::NotFound`]. [`ResolveMode::RemoteAllowed`] goes through the cache to
//!   the registry on a miss (and revalidates cached tags with one `HEAD`).
//! - Errors from the store pass through unchanged ([`ResolveError::Store`]); every error has
//!   an [`ErrorKind`] (the workspace's one kind enum).
//! - [`Resolver::fetch_all_versions`] pulls every semver version of a repository into the
//!   cache in parallel, [`Resolver::concurrency`] at a time (Go pacto pulls one at a time).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pacto_cache::{CacheConfig, CachedStore};
//! use pacto_registry::{AnyStore, RegistryClient};
//! use pacto_resolver::{ResolveMode, Resolver};
//!
//! let store = AnyStore::new(RegistryClient::builder().build()?);
//! let resolver = Resolver::new(CachedStore::new(store, CacheConfig::default()));
//! let resolved = resolver
//!     .resolve_pinned("oci://ghcr.io/acme/payments-pacto", "^1.2", ResolveMode::RemoteAllowed)
//!     .await?;
//! println!("{} {}", resolved.reference, resolved.digest);
//! let fetched = resolver.fetch_all_versions("ghcr.io/acme/payments-pacto").await?;
//! println!("{} cached, {} failed", fetched.versions.len(), fetched.failed.len());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;

pub use error::{NotCached, ResolveError};
pub use pacto_ref::ErrorKind;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt as _};
use pacto_cache::{CachedStore, LayerFile};
use pacto_contract::Bundle;
use pacto_ref::async_trait;
use pacto_ref::{ArtifactRef, Digest, ParseOptions, SelectError, filter_semver_tags};
use pacto_registry::{BundleStore, Progress, ProgressEvent, Pulled, StoreError};
use std::sync::Arc;
use tracing::{debug, warn};

/// Pulls [`Resolver::fetch_all_versions`] runs at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Whether resolving may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolveMode {
    /// The cache only: no network I/O at all; a miss is not-found (`--offline`).
    LocalOnly,
    /// The cache, then the registry on a miss or to revalidate a cached tag.
    RemoteAllowed,
}

/// A resolved reference: what was chosen and the bundle it holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolved {
    /// The reference used, with the tag chosen for an untagged one.
    pub reference: ArtifactRef,
    /// The digest of the manifest the bundle was read from.
    pub digest: Digest,
    /// The bundle.
    pub bundle: Bundle,
    /// The manifest bytes the bundle was read from (their digest is [`Resolved::digest`]).
    pub manifest: Bytes,
}

/// A resolved reference with its bundle's layer as a verified file: what
/// [`Resolver::resolve_layer`] answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedLayer {
    /// The reference used, with the tag chosen for an untagged one.
    pub reference: ArtifactRef,
    /// The layer, with the manifest it came from ([`LayerFile::digest`] is the manifest
    /// digest).
    pub layer: LayerFile,
}

/// Where a reference points now, without the bundle: what [`Resolver::locate`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The reference used, with the tag chosen for an untagged one.
    pub reference: ArtifactRef,
    /// The digest of the manifest it names.
    pub digest: Digest,
}

/// What [`Resolver::fetch_all_versions`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct FetchAll {
    /// The versions now cached, newest first.
    pub versions: Vec<String>,
    /// The versions that could not be pulled, newest first, each with its error.
    pub failed: Vec<FetchFailure>,
}

/// One version [`Resolver::fetch_all_versions`] could not pull.
#[derive(Debug)]
#[non_exhaustive]
pub struct FetchFailure {
    /// The tag.
    pub tag: String,
    /// Why it failed.
    pub error: ResolveError,
}

/// Resolves references to bundles over a [`CachedStore`]; see the [crate documentation](crate).
///
/// Cheap to clone: clones share the cache (and so the store behind it).
#[derive(Debug)]
pub struct Resolver<S> {
    cache: CachedStore<S>,
    concurrency: usize,
    parse_options: Arc<ParseOptions>,
    progress: Option<Progress>,
}

impl<S> Clone for Resolver<S> {
    fn clone(&self) -> Self {
        Resolver {
            cache: self.cache.clone(),
            concurrency: self.concurrency,
            parse_options: Arc::clone(&self.parse_options),
            progress: self.progress.clone(),
        }
    }
}

impl<S: BundleStore> Resolver<S> {
    /// A resolver over `cache`, with [`DEFAULT_CONCURRENCY`] and [`ParseOptions::untagged`].
    pub fn new(cache: CachedStore<S>) -> Self {
        Resolver {
            cache,
            concurrency: DEFAULT_CONCURRENCY,
            parse_options: Arc::new(ParseOptions::untagged()),
            progress: None,
        }
    }

    /// Tells `progress` how [`Resolver::fetch_all_versions`] goes: how many versions it
    /// pulls ([`ProgressEvent::VersionsStarted`]), then each that ends
    /// ([`ProgressEvent::VersionDone`]). The bytes of each pull are the store's to report
    /// ([`RegistryClientBuilder::progress`](pacto_registry::RegistryClientBuilder::progress)).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Pulls at most `concurrency` versions at once in [`Resolver::fetch_all_versions`]
    /// (0 counts as 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Parses references with `options` (e.g. the hosts to speak plain HTTP to). Keep
    /// `default_tag` at `None` so that untagged references are resolved by semver.
    pub fn with_parse_options(mut self, options: ParseOptions) -> Self {
        self.parse_options = Arc::new(options);
        self
    }

    /// The cache (for `cache_dir`, `entries`, `verify`, `prune`, `clear`, `disable_cache`).
    pub fn cache(&self) -> &CachedStore<S> {
        &self.cache
    }

    /// The bound on parallel pulls.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Parses `reference` as this resolver does.
    pub fn parse(&self, reference: &str) -> Result<ArtifactRef, ResolveError> {
        ArtifactRef::parse(reference, &self.parse_options).map_err(ResolveError::InvalidReference)
    }

    /// The bundle `reference` names; an untagged reference means its highest semver tag.
    pub async fn resolve(
        &self,
        reference: &str,
        mode: ResolveMode,
    ) -> Result<Bundle, ResolveError> {
        Ok(self.resolve_pinned(reference, "", mode).await?.bundle)
    }

    /// The bundle `reference` names; an untagged reference means its highest semver tag
    /// that satisfies `constraint` (empty: no constraint). The constraint is ignored when
    /// the reference has a tag or digest.
    pub async fn resolve_constrained(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Bundle, ResolveError> {
        Ok(self
            .resolve_pinned(reference, constraint, mode)
            .await?
            .bundle)
    }

    /// Like [`Resolver::resolve_constrained`], also saying which reference was chosen and the
    /// digest of the very manifest the bundle was read from.
    pub async fn resolve_pinned(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Resolved, ResolveError> {
        let parsed = self.parse(reference)?;
        self.resolve_ref(&parsed, constraint, mode).await
    }

    /// [`Resolver::resolve_pinned`] for a reference already parsed.
    pub async fn resolve_ref(
        &self,
        reference: &ArtifactRef,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Resolved, ResolveError> {
        let (chosen, pulled) = self.choose(&AsBundle, reference, constraint, mode).await?;
        Ok(resolved(chosen, pulled))
    }

    /// Like [`Resolver::resolve_pinned`], with the bundle's layer as a verified file rather
    /// than the bundle in memory ([`CachedStore::layer_file`]): what a caller that unpacks
    /// to disk wants (`pacto_archive::write_layer`), its memory constant whatever the
    /// bundle's size. The same resolution, cache rules and request counts. A freshly
    /// fetched layer enters the cache only through [`LayerFile::commit`], which the caller
    /// calls once the bundle proved valid.
    pub async fn resolve_layer(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<ResolvedLayer, ResolveError> {
        let parsed = self.parse(reference)?;
        let (reference, layer) = self.choose(&AsLayerFile, &parsed, constraint, mode).await?;
        Ok(ResolvedLayer { reference, layer })
    }

    /// The reference `reference` resolves to under `constraint`, with what `fetch` gets for
    /// it.
    async fn choose<F: Fetch<S>>(
        &self,
        fetch: &F,
        reference: &ArtifactRef,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<(ArtifactRef, F::Out), ResolveError> {
        match mode {
            ResolveMode::RemoteAllowed => {
                // One resolution path for every caller: Go's ResolveRef over the cache.
                let chosen = pacto_ref::resolve_ref(&self.cache, reference, constraint).await?;
                if chosen != *reference {
                    debug!(reference = %reference, chosen = %chosen, "resolved by semver");
                }
                let got = self.fetch(fetch, &chosen, mode).await?;
                Ok((chosen, got))
            }
            ResolveMode::LocalOnly => {
                // The same resolution over the cached tags, best first; a cached tag that
                // turns out unusable (say, corrupt) gives way to the next best.
                let mut cached = LocalTags {
                    cache: &self.cache,
                    unusable: Vec::new(),
                };
                loop {
                    let chosen = match pacto_ref::resolve_ref(&cached, reference, constraint).await
                    {
                        Ok(chosen) => chosen,
                        Err(pacto_ref::ResolveError::Select(e))
                            if matches!(e.reason(), SelectError::InvalidConstraint(_)) =>
                        {
                            return Err(ResolveError::Unresolvable(Box::new(e)));
                        }
                        Err(pacto_ref::ResolveError::Select(_)) if !cached.unusable.is_empty() => {
                            return Err(ResolveError::NotFound {
                                reference: reference.to_string(),
                                detail: NotCached::Unreadable {
                                    unreadable: cached.unusable,
                                },
                            });
                        }
                        Err(pacto_ref::ResolveError::Select(e)) if e.listed().is_empty() => {
                            return Err(ResolveError::NotFound {
                                reference: reference.to_string(),
                                detail: NotCached::Repository,
                            });
                        }
                        Err(e) => return Err(e.into()),
                    };
                    if reference.has_explicit_tag() {
                        let got = self.fetch(fetch, &chosen, mode).await?;
                        return Ok((chosen, got));
                    }
                    if let Some(got) = fetch.local(&self.cache, &chosen).await? {
                        return Ok((chosen, got));
                    }
                    debug!(reference = %chosen, "cached tag not usable: trying the next best");
                    cached
                        .unusable
                        .push(chosen.tag().unwrap_or_default().to_owned());
                }
            }
        }
    }

    /// Which reference and manifest digest `reference` names now (its highest version
    /// matching `constraint` when it has no tag), without reading the bundle: a tag costs
    /// one `HEAD` (a GET when the registry omits `Docker-Content-Digest`), an untagged
    /// reference the tag list plus one `HEAD`, a digest known to the cache nothing. It
    /// answers "which digest", not "is it a valid bundle": nothing is downloaded or checked,
    /// and the cache is not filled. [`ResolveMode::LocalOnly`] answers from the cache alone,
    /// as [`Resolver::resolve_ref`] does.
    pub async fn locate(
        &self,
        reference: &str,
        constraint: &str,
        mode: ResolveMode,
    ) -> Result<Location, ResolveError> {
        let parsed = self.parse(reference)?;
        if mode == ResolveMode::LocalOnly {
            let resolved = self.resolve_ref(&parsed, constraint, mode).await?;
            return Ok(Location {
                reference: resolved.reference,
                digest: resolved.digest,
            });
        }
        let chosen = pacto_ref::resolve_ref(&self.cache, &parsed, constraint).await?;
        let digest = self.cache.resolve(&chosen).await?;
        Ok(Location {
            reference: chosen,
            digest,
        })
    }

    /// The semver tags of `repository`, newest first (Go pacto `ListVersions`); any tag or
    /// digest in `repository` is ignored. Non-semver tags (`latest`) are left out.
    pub async fn list_versions(&self, repository: &str) -> Result<Vec<String>, ResolveError> {
        let repository = self.parse(repository)?.repository();
        let tags = self.cache.list_tags(&repository).await?;
        Ok(filter_semver_tags(&tags))
    }

    /// Pulls every semver version of `repository` into the cache, [`Resolver::concurrency`]
    /// at a time. A failure to list the tags is an error; a failure to pull one version is
    /// reported in [`FetchAll::failed`] and the others carry on.
    pub async fn fetch_all_versions(&self, repository: &str) -> Result<FetchAll, ResolveError> {
        let repository = self.parse(repository)?.repository();
        let tags = self.cache.list_tags(&repository).await?;
        let versions = filter_semver_tags(&tags);
        let progress = self.progress.as_ref();
        if let Some(progress) = progress {
            progress.emit(&ProgressEvent::VersionsStarted {
                total: versions.len(),
            });
        }
        // The futures are built before they are streamed: a `map` closure over borrowed
        // items makes the future's type higher-ranked, and such a future is not `Send`
        // ("implementation of `FnOnce` is not general enough"), so callers could not
        // `tokio::spawn` this one.
        let pulls: Vec<_> = versions
            .iter()
            .enumerate()
            .map(|(index, tag)| {
                let reference = repository.with_tag(tag);
                async move {
                    let result = self
                        .cache
                        .pull_pinned(&reference)
                        .await
                        .map(drop)
                        .map_err(ResolveError::from);
                    if let Some(progress) = progress {
                        progress.emit(&ProgressEvent::VersionDone {
                            tag: tag.clone(),
                            ok: result.is_ok(),
                        });
                    }
                    (index, result)
                }
            })
            .collect();
        let mut results: Vec<(usize, Result<(), ResolveError>)> = stream::iter(pulls)
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.sort_by_key(|(index, _)| *index);
        let mut fetched = FetchAll {
            versions: Vec::with_capacity(versions.len()),
            failed: Vec::new(),
        };
        for ((_, result), tag) in results.into_iter().zip(versions) {
            match result {
                Ok(()) => fetched.versions.push(tag),
                Err(error) => {
                    warn!(repository = %repository, tag, error = %error, "could not fetch a version");
                    fetched.failed.push(FetchFailure { tag, error });
                }
            }
        }
        Ok(fetched)
    }

    async fn fetch<F: Fetch<S>>(
        &self,
        fetch: &F,
        reference: &ArtifactRef,
        mode: ResolveMode,
    ) -> Result<F::Out, ResolveError> {
        match mode {
            ResolveMode::RemoteAllowed => Ok(fetch.remote(&self.cache, reference).await?),
            ResolveMode::LocalOnly => {
                fetch
                    .local(&self.cache, reference)
                    .await?
                    .ok_or_else(|| ResolveError::NotFound {
                        reference: reference.to_string(),
                        detail: NotCached::Reference,
                    })
            }
        }
    }
}

/// What a resolution gets from the cache for the reference it chose.
#[async_trait]
trait Fetch<S: BundleStore>: Sync {
    type Out: Send;

    /// Through the cache, the network allowed.
    async fn remote(
        &self,
        cache: &CachedStore<S>,
        reference: &ArtifactRef,
    ) -> Result<Self::Out, StoreError>;

    /// From the cache alone; `None` is a miss.
    async fn local(
        &self,
        cache: &CachedStore<S>,
        reference: &ArtifactRef,
    ) -> Result<Option<Self::Out>, StoreError>;
}

/// The bundle, in memory.
struct AsBundle;

#[async_trait]
impl<S: BundleStore> Fetch<S> for AsBundle {
    type Out = Pulled;

    async fn remote(
        &self,
        cache: &CachedStore<S>,
        reference: &ArtifactRef,
    ) -> Result<Pulled, StoreError> {
        cache.pull_pinned(reference).await
    }

    async fn local(
        &self,
        cache: &CachedStore<S>,
        reference: &ArtifactRef,
    ) -> Result<Option<Pulled>, StoreError> {
        cache.pull_local(reference).await
    }
}

/// The bundle's layer, as a verified file.
struct AsLayerFile;

#[async_trait]
impl<S: BundleStore> Fetch<S> for AsLayerFile {
    type Out = LayerFile;

    async fn remote(
        &self,
        cache: &CachedStore<S>,
        reference: &ArtifactRef,
    ) -> Result<LayerFile, StoreError> {
        cache.layer_file(reference).await
    }

    async fn local(
        &self,
        cache: &CachedStore<S>,
        reference: &ArtifactRef,
    ) -> Result<Option<LayerFile>, StoreError> {
        cache.layer_file_local(reference).await
    }
}

fn resolved(reference: ArtifactRef, pulled: Pulled) -> Resolved {
    Resolved {
        reference,
        digest: pulled.digest,
        bundle: pulled.bundle,
        manifest: pulled.manifest,
    }
}

/// The cached tags of a repository, without those found unusable: the lister of an offline
/// resolution.
struct LocalTags<'a, S> {
    cache: &'a CachedStore<S>,
    unusable: Vec<String>,
}

#[pacto_ref::async_trait]
impl<S: BundleStore> pacto_ref::TagLister for LocalTags<'_, S> {
    type Error = StoreError;

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        let mut tags = self.cache.local_tags(repository).await?;
        tags.retain(|tag| !self.unusable.contains(tag));
        Ok(tags)
    }
}
