//! A memory and disk cache in front of any [`BundleStore`]: [`CachedStore`].
//!
//! [`CachedStore`] is itself a [`BundleStore`], so it composes with everything that takes
//! one. It keeps two tiers:
//!
//! - **Memory**: pulled bundles by manifest digest under a byte budget
//!   ([`CacheConfig::memory_budget_bytes`]), evicted least recently used first; the digest
//!   each reference meant when this store last pulled or revalidated it; and tag lists, kept
//!   for the life of the store (errors are never cached).
//! - **Disk**, under [`CacheConfig::default_dir`] (`$XDG_CACHE_HOME/pacto/oci`, else
//!   `~/.cache/pacto/oci`) or a directory of your choice: the original manifest and layer
//!   blobs, content-addressed and re-hashed on every read (a corrupt file is removed and
//!   pulled again, never served), and one record per reference naming the manifest digest.
//!   The config blob is not stored: pulls never need it.
//!
//! How a pull of a remote reference is served:
//!
//! | reference | cached | network |
//! |---|---|---|
//! | digest | in memory or on disk | none |
//! | tag | pulled or revalidated by this store before | none |
//! | tag | on disk | one `HEAD`: same digest, served from disk; moved, the new manifest is pulled (or taken from disk when another reference cached it) |
//! | tag | on disk, registry unreachable | the `HEAD` fails; the disk copy is served with a warning |
//! | any | not cached | a pull, then written to disk |
//!
//! `oci-layout:` references are local already and go straight to the inner store, uncached.
//!
//! Disk writes are atomic (a temporary file in the cache's `tmp/` directory, synced, then
//! renamed), blobs are in place before the record that names them, and a writer killed at
//! any instant leaves at most an abandoned temporary file or unnamed blobs, which are never
//! served and which [`CachedStore::verify`], [`CachedStore::prune`] and
//! [`CachedStore::clear`] remove. Several processes can share one cache directory. A pull
//! whose future is dropped before its bundle unpacked caches nothing (a layer enters the
//! cache only once its bundle unpacked). Disk errors never fail a pull: they are logged and
//! the cache is bypassed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pacto_cache::{CacheConfig, CachedStore};
//! use pacto_registry::{AnyStore, BundleStore, RegistryClient};
//!
//! let store = CachedStore::new(AnyStore::new(RegistryClient::builder().build()?), CacheConfig::default());
//! let reference = "ghcr.io/acme/payments-pacto:1.0.0".parse()?;
//! let pulled = store.pull_pinned(&reference).await?; // cold: pulled and cached
//! let again = store.pull_pinned(&reference).await?; // warm: memory, no network
//! assert_eq!(pulled.digest, again.digest);
//! for entry in store.entries().await? {
//!     println!("{} {} {}", entry.reference, entry.digest, entry.size);
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod disk;
mod error;
mod key;
mod layer;
mod memory;

pub use error::{BoxError, CacheError};
pub use layer::{LayerFile, ScratchDir};

use async_trait::async_trait;
use disk::{Disk, Found, RefId};
use memory::Memory;
use pacto_archive::Limits;
use pacto_contract::Bundle;
use pacto_ref::{ArtifactRef, Digest};
use pacto_registry::{
    BlobDir, BundleStore, ErrorKind, FetchedLayer, PackedLayerFile, PackingLayer, Pulled,
    PushOptions, PushOutcome, PushStatus, StoreError,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;
use tracing::{debug, warn};

/// The default memory budget: 256 MiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 256 * 1024 * 1024;

/// How a [`CachedStore`] caches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The cache root; `None` means [`CacheConfig::default_dir`] (and memory only when no
    /// home directory can be found).
    pub dir: Option<PathBuf>,
    /// Bytes of bundles (manifest and unpacked files; the layer is not kept) held in memory.
    pub memory_budget_bytes: u64,
    /// Whether to use the disk tier at all.
    pub disk_enabled: bool,
    /// Archive limits applied when a cached layer is unpacked.
    pub limits: Limits,
}

impl Default for CacheConfig {
    /// The default directory, [`DEFAULT_MEMORY_BUDGET`], disk enabled, Go pacto's limits.
    fn default() -> Self {
        CacheConfig {
            dir: None,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET,
            disk_enabled: true,
            limits: Limits::default(),
        }
    }
}

impl CacheConfig {
    /// `$XDG_CACHE_HOME/pacto/oci`, else `~/.cache/pacto/oci`; `None` without a home
    /// directory.
    pub fn default_dir() -> Option<PathBuf> {
        xdg::BaseDirectories::with_prefix("pacto")
            .get_cache_home()
            .map(|dir| dir.join("oci"))
    }

    /// Caches under `dir` instead of the default directory.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Keeps at most `bytes` of bundles in memory.
    pub fn with_memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget_bytes = bytes;
        self
    }

    /// Memory only: nothing is read from or written to disk.
    pub fn memory_only(mut self) -> Self {
        self.disk_enabled = false;
        self
    }

    /// Applies `limits` when unpacking cached layers.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// One reference cached on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEntry {
    /// The reference (`registry/repository:tag` or `registry/repository@digest`).
    pub reference: String,
    /// The manifest digest it meant when it was cached.
    pub digest: Digest,
    /// Bytes of the blobs it names (manifest and layer; blobs shared with other entries are
    /// counted in each).
    pub size: u64,
    /// When it was last written or served.
    pub last_used: SystemTime,
}

/// What [`CachedStore::verify`] found and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Entries whose blobs are intact.
    pub ok: usize,
    /// Entries removed because a blob was missing or corrupt, or the record was unreadable
    /// (by reference, or by path when the record could not be read).
    pub corrupt: Vec<String>,
    /// Blobs removed because their content did not match their digest.
    pub corrupt_blobs: Vec<String>,
    /// Temporary files left by writers that died, removed.
    pub removed_temp_files: usize,
}

/// What [`CachedStore::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneReport {
    /// Entries removed, least recently used first.
    pub removed: Vec<String>,
    /// Bytes of blobs deleted.
    pub freed_bytes: u64,
    /// Bytes of blobs the remaining entries name.
    pub remaining_bytes: u64,
}

/// A [`BundleStore`] that caches another one in memory and on disk; see the
/// [crate documentation](crate).
///
/// Cheap to clone (its state is behind an [`Arc`]); clones share the inner store, the memory
/// tier, the disk tier and [`CachedStore::disable_cache`].
#[derive(Debug)]
pub struct CachedStore<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for CachedStore<S> {
    fn clone(&self) -> Self {
        CachedStore {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What every clone of a [`CachedStore`] shares.
#[derive(Debug)]
struct Shared<S> {
    inner: S,
    disk: Option<Disk>,
    read_disk: AtomicBool,
    memory: Mutex<Memory>,
    limits: Limits,
    max_layer_size: u64,
}

/// Runs blocking disk work off the async threads ([`pacto_fs::blocking`]).
async fn blocking<T, F>(operation: &'static str, work: F) -> Result<T, CacheError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    pacto_fs::blocking(work)
        .await
        .map_err(|e| CacheError::Interrupted {
            operation,
            source: Box::new(e),
        })
}

impl<S: BundleStore> CachedStore<S> {
    /// Caches `inner` as `config` says. Never fails: without a usable directory the store
    /// caches in memory only. Directories are created on the first write.
    pub fn new(inner: S, config: CacheConfig) -> Self {
        let dir = if config.disk_enabled {
            config.dir.clone().or_else(CacheConfig::default_dir)
        } else {
            None
        };
        if config.disk_enabled && dir.is_none() {
            debug!("no cache directory (no home directory): caching in memory only");
        }
        CachedStore {
            shared: Arc::new(Shared {
                inner,
                disk: dir.map(Disk::new),
                read_disk: AtomicBool::new(true),
                memory: Mutex::new(Memory::new(config.memory_budget_bytes)),
                max_layer_size: pacto_artifact::max_layer_size(&config.limits),
                limits: config.limits,
            }),
        }
    }

    /// The store being cached.
    pub fn inner(&self) -> &S {
        &self.shared.inner
    }

    /// The cache root on disk (e.g. `~/.cache/pacto/oci`), `None` when caching in memory
    /// only. The layout lives in a versioned subdirectory (`v1/`).
    pub fn cache_dir(&self) -> Option<&Path> {
        self.shared.disk.as_ref().map(Disk::root)
    }

    /// Go pacto's `DisableCache` (`--no-cache`): stop reading the disk cache (a cold start),
    /// keep writing it, and forget everything held in memory. Later pulls are cached in
    /// memory again.
    pub fn disable_cache(&self) {
        self.shared.read_disk.store(false, Ordering::SeqCst);
        self.memory().clear();
    }

    /// Whether the disk cache is read (false after [`CachedStore::disable_cache`] or without
    /// a disk tier).
    pub fn reads_disk(&self) -> bool {
        self.shared.disk.is_some() && self.shared.read_disk.load(Ordering::SeqCst)
    }

    /// The cached bundle for `reference`, never touching the inner store for a remote
    /// reference (no network, not even a `HEAD`): memory first, then disk (unless
    /// [`CachedStore::disable_cache`] was called). `Ok(None)` is a miss.
    ///
    /// An `oci-layout:` reference is read from its layout directory (local by nature); a
    /// missing tag there is a miss too. A remote reference without tag or digest is an
    /// [`ErrorKind::InvalidReference`] error: resolve it first (e.g. against
    /// [`CachedStore::local_tags`]).
    pub async fn pull_local(&self, reference: &ArtifactRef) -> Result<Option<Pulled>, StoreError> {
        let remote = match reference {
            ArtifactRef::Layout(_) => {
                return match self.shared.inner.pull_pinned(reference).await {
                    Ok(pulled) => Ok(Some(pulled)),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                };
            }
            ArtifactRef::Remote(remote) => remote,
        };
        let Some(id) = RefId::new(remote) else {
            return Err(needs_tag(reference));
        };
        if let Some((_, Some(pulled))) = self.known(&id) {
            return Ok(Some(pulled));
        }
        let Some(file) = self.layer_file_local(reference).await? else {
            return Ok(None);
        };
        let shown = reference.to_string();
        match self.unpack(&file, &shown).await {
            Ok(pulled) => {
                self.remember(&id, &pulled);
                Ok(Some(pulled))
            }
            Err(e) => {
                debug!(reference = shown, digest = %file.digest, error = %e, "cached layer does not unpack under the current limits: miss");
                Ok(None)
            }
        }
    }

    /// The tags of `repository` that [`CachedStore::pull_local`] can serve, sorted, without
    /// touching the inner store for a remote repository: tags this store pulled, plus tags
    /// recorded on disk with their blobs present (unless [`CachedStore::disable_cache`] was
    /// called). An `oci-layout:` repository lists its layout's tags.
    pub async fn local_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        let remote = match repository {
            ArtifactRef::Layout(_) => return self.shared.inner.list_tags(repository).await,
            ArtifactRef::Remote(remote) => remote,
        };
        let name = remote.repository_name();
        let mut tags: Vec<String> = self
            .memory()
            .refs
            .keys()
            .filter(|id| id.repository == name)
            .filter_map(|id| id.tag().map(str::to_owned))
            .collect();
        if let (Some(disk), true) = (self.shared.disk.clone(), self.reads_disk()) {
            let on_disk = blocking("listing", move || disk.tags(&name)).await;
            match on_disk {
                Ok(on_disk) => tags.extend(on_disk),
                Err(e) => warn!(error = %e, "cannot list cached tags"),
            }
        }
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    /// Every reference cached on disk, sorted by reference (empty without a disk tier).
    pub async fn entries(&self) -> Result<Vec<CacheEntry>, CacheError> {
        let Some(disk) = self.shared.disk.clone() else {
            return Ok(Vec::new());
        };
        blocking("listing", move || disk.entries()).await?
    }

    /// Re-hashes every blob on disk and removes what is corrupt: blobs whose content does
    /// not match their digest, entries whose blobs are missing or corrupt, unreadable
    /// records, and temporary files left by writers that died (files still being written
    /// by a live process are kept).
    pub async fn verify(&self) -> Result<VerifyReport, CacheError> {
        let Some(disk) = self.shared.disk.clone() else {
            return Ok(VerifyReport::default());
        };
        let max_layer_size = self.shared.max_layer_size;
        blocking("verify", move || disk.verify(max_layer_size)).await?
    }

    /// Removes entries, least recently used first, until the blobs of the remaining ones
    /// take at most `max_bytes`; also removes blobs no entry names (recent ones only when
    /// this prune released them, as another process may be about to name them) and
    /// temporary files left by writers that died. `prune(0)` empties the disk cache.
    pub async fn prune(&self, max_bytes: u64) -> Result<PruneReport, CacheError> {
        let Some(disk) = self.shared.disk.clone() else {
            return Ok(PruneReport::default());
        };
        blocking("prune", move || disk.prune(max_bytes)).await?
    }

    /// Empties the memory tier and removes the whole disk layout.
    pub async fn clear(&self) -> Result<(), CacheError> {
        self.memory().clear();
        let Some(disk) = self.shared.disk.clone() else {
            return Ok(());
        };
        blocking("clear", move || disk.clear()).await?
    }

    // ---- internals -------------------------------------------------------------------

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.shared
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The digest this store already knows `id` by, and the bundle when memory still has it.
    fn known(&self, id: &RefId) -> Option<(Digest, Option<Pulled>)> {
        let mut memory = self.memory();
        let digest = memory.refs.get(id)?.clone();
        let pulled = memory.bundles.get(&digest).map(|p| Pulled::clone(&p));
        Some((digest, pulled))
    }

    /// Whether a disk record of `id`'s repository (under any tag or digest) names `id`'s
    /// digest.
    async fn digest_recorded_in_repository(&self, id: &RefId) -> bool {
        let Some(digest) = id.digest() else {
            return false;
        };
        if !self.reads_disk() {
            return false;
        }
        let Ok(entries) = self.entries().await else {
            return false;
        };
        let tagged = format!("{}:", id.repository);
        let pinned = format!("{}@", id.repository);
        entries.iter().any(|e| {
            e.digest == *digest
                && (e.reference.starts_with(&tagged) || e.reference.starts_with(&pinned))
        })
    }

    /// Remembers which manifest `id` named, without the bundle.
    fn remember_digest(&self, id: &RefId, digest: &Digest) {
        self.memory().refs.insert(id.clone(), digest.clone());
    }

    fn remember(&self, id: &RefId, pulled: &Pulled) {
        let mut memory = self.memory();
        memory.refs.insert(id.clone(), pulled.digest.clone());
        memory.bundles.insert(Arc::new(pulled.clone()));
    }

    /// The disk record for `id`, if disk reads are on.
    async fn find(&self, id: &RefId) -> Option<Found> {
        if !self.reads_disk() {
            return None;
        }
        let disk = self.shared.disk.clone()?;
        let id = id.clone();
        blocking("lookup", move || disk.find(&id)).await.ok()?
    }

    fn touch(&self, found: &Found) {
        if let Some(disk) = &self.shared.disk {
            disk.touch(&found.path);
        }
    }

    /// The bundle in `file`, unpacked within the cache's limits as it is read from the file
    /// (checked against its digest again on the way): the bundle's files are the only copy
    /// of the layer's bytes in memory.
    async fn unpack(&self, file: &LayerFile, shown: &str) -> Result<Pulled, StoreError> {
        let reader = file
            .open()
            .await
            .map_err(|e| StoreError::io("cannot open", file.path(), e))?;
        let bundle = pacto_archive::unpack(reader, &self.shared.limits)
            .await
            .map_err(|source| StoreError::unpack(shown, source))?;
        Ok(Pulled::new(
            bundle,
            file.digest.clone(),
            file.manifest.clone(),
            file.layer_digest.clone(),
            file.layer_size,
        ))
    }

    /// Another repository of `reference`'s registry whose record names a layer `digest`
    /// that is on disk (its path, without the registry), if disk reads are on.
    async fn mount_source(&self, reference: &ArtifactRef, digest: &Digest) -> Option<String> {
        let owned = digest.clone();
        let from = self
            .other_repository(reference, move |disk| disk.repositories_with_layer(&owned))
            .await?;
        debug!(reference = %reference, %digest, from, "layer known in another repository: mounting");
        Some(from)
    }

    /// Another repository of `reference`'s registry with a record of the tag `tag` for the
    /// service `name` (that service's same version was pulled or pushed there), if disk
    /// reads are on.
    async fn bundle_elsewhere(
        &self,
        reference: &ArtifactRef,
        tag: &str,
        name: &str,
    ) -> Option<String> {
        let (tag, name) = (tag.to_owned(), name.to_owned());
        self.other_repository(reference, move |disk| {
            disk.repositories_with_bundle(&tag, &name)
        })
        .await
    }

    /// The first of the repositories `lookup` finds on disk that is in `reference`'s
    /// registry and is not its repository (its path, without the registry).
    async fn other_repository(
        &self,
        reference: &ArtifactRef,
        lookup: impl FnOnce(&Disk) -> Result<Vec<String>, CacheError> + Send + 'static,
    ) -> Option<String> {
        let remote = reference.as_remote()?;
        if !self.reads_disk() {
            return None;
        }
        let disk = self.shared.disk.clone()?;
        let repositories = blocking("lookup", move || lookup(&disk)).await.ok()?.ok()?;
        let registry = format!("{}/", remote.registry().name());
        let target = remote.repository_name();
        repositories
            .into_iter()
            .filter(|repository| *repository != target)
            .find_map(|repository| repository.strip_prefix(&registry).map(str::to_owned))
    }

    /// Records the tag a push wrote, with the pushed layer file linked into the cache;
    /// logs and carries on when it cannot.
    async fn record_push(&self, outcome: &PushOutcome, layer: &PackedLayerFile) {
        let (Some(disk), Some(id)) = (
            self.shared.disk.clone(),
            outcome.reference.as_remote().and_then(RefId::new),
        ) else {
            return;
        };
        let envelope = pacto_artifact::envelope(&layer.contract, &layer.layer);
        if envelope.manifest_digest != outcome.digest {
            return;
        }
        let entry = disk::LayerEntry {
            digest: envelope.manifest_digest,
            manifest: envelope.manifest,
            layer_digest: layer.layer.digest.clone(),
            layer_size: layer.layer.size,
        };
        let source = layer.path.clone();
        match blocking("write", move || disk.record_pushed(&id, &entry, &source)).await {
            Ok(Ok(())) => {
                debug!(reference = %outcome.reference, "pushed tag recorded in the cache")
            }
            Ok(Err(e)) | Err(e) => {
                debug!(error = %e, "cannot record the pushed tag in the cache");
            }
        }
    }

    /// Forgets what a push made stale: the pushed tag and the repository's tag list.
    async fn invalidate(&self, reference: &ArtifactRef) {
        let Some(id) = reference.as_remote().and_then(RefId::new) else {
            return;
        };
        {
            let mut memory = self.memory();
            memory.refs.remove(&id);
            memory.tags.remove(&id.repository);
        }
        if let Some(disk) = self.shared.disk.clone()
            && let Err(e) = blocking("write", move || disk.forget(&id)).await
        {
            warn!(error = %e, "cannot drop a stale cache record");
        }
    }
}

fn needs_tag(reference: &ArtifactRef) -> StoreError {
    StoreError::invalid_reference(
        reference,
        "the cache is looked up by tag or digest; resolve an untagged reference first",
    )
}

#[async_trait]
impl<S: BundleStore> BundleStore for CachedStore<S> {
    /// Pushes through the inner store, then forgets the pushed tag and the repository's tag
    /// list, which the push made stale.
    async fn push(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let outcome = self.shared.inner.push(reference, bundle, options).await?;
        if outcome.status != PushStatus::Unchanged {
            self.invalidate(&outcome.reference).await;
        }
        Ok(outcome)
    }

    /// Pushes the packed layer through the inner store, then forgets what
    /// [`CachedStore::push`] forgets.
    ///
    /// On a registry, a layer this cache knows in another repository of the same registry
    /// (pulled or pushed there) is mounted from it rather than uploaded
    /// ([`PushOptions::mount_from`], unless the caller set it), and the pushed tag is
    /// recorded with the layer file linked into the cache, so a pull of what was just
    /// pushed costs one `HEAD`.
    async fn push_layer_file(
        &self,
        reference: &ArtifactRef,
        layer: &PackedLayerFile,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let options = match options.mount_from {
            Some(_) => options,
            None => match self.mount_source(reference, &layer.layer.digest).await {
                Some(from) => options.with_mount_from(from),
                None => options,
            },
        };
        let outcome = self
            .shared
            .inner
            .push_layer_file(reference, layer, options)
            .await?;
        if outcome.status != PushStatus::Unchanged {
            self.invalidate(&outcome.reference).await;
        }
        self.record_push(&outcome, layer).await;
        Ok(outcome)
    }

    /// Pushes the layer while it is packed through the inner store, then forgets what
    /// [`CachedStore::push`] forgets and records the pushed tag as
    /// [`CachedStore::push_layer_file`] does.
    ///
    /// Whether a layer can be mounted depends on its digest, known only once it is packed;
    /// so when this cache knows the tag being pushed, for the same service, in another
    /// repository of the same registry (that version pulled or pushed there: a bundle
    /// promoted from one repository to another), the layer is packed first and pushed as
    /// [`CachedStore::push_layer_file`] pushes it, mounted when the digest matches.
    async fn push_packing(
        &self,
        reference: &ArtifactRef,
        layer: PackingLayer,
        options: PushOptions,
    ) -> Result<(PushOutcome, PackedLayerFile), StoreError> {
        if options.mount_from.is_none()
            && let Ok(tag) = pacto_registry::push_tag(reference, layer.version())
            && let Some(from) = self
                .bundle_elsewhere(reference, &tag, &layer.contract().service.name)
                .await
        {
            debug!(reference = %reference, from, "tag known in another repository: packing before pushing");
            let packed = layer.packed(&reference.to_string()).await?;
            let outcome = self.push_layer_file(reference, &packed, options).await?;
            return Ok((outcome, packed));
        }
        let (outcome, packed) = self
            .shared
            .inner
            .push_packing(reference, layer, options)
            .await?;
        if outcome.status != PushStatus::Unchanged {
            self.invalidate(&outcome.reference).await;
        }
        self.record_push(&outcome, &packed).await;
        Ok((outcome, packed))
    }

    /// Serves from memory or disk where it can (see the [crate documentation](crate)),
    /// otherwise pulls through the inner store and caches the result.
    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        let ArtifactRef::Remote(remote) = reference else {
            return self.shared.inner.pull_pinned(reference).await;
        };
        let Some(id) = RefId::new(remote) else {
            return self.shared.inner.pull_pinned(reference).await;
        };
        if let Some((_, Some(pulled))) = self.known(&id) {
            return Ok(pulled);
        }
        let shown = reference.to_string();
        let file = self.layer_file(reference).await?;
        let (file, pulled) = match self.unpack(&file, &shown).await {
            Ok(pulled) => (file, pulled),
            // Fetched just now: refused, and never cached (the scratch file goes with it).
            Err(e) if !file.is_from_disk() => return Err(e),
            Err(e) => {
                debug!(reference = shown, digest = %file.digest, error = %e, "cached layer does not unpack under the current limits: miss");
                let fetched = self.fetch_and_record(&id, reference).await?;
                let pulled = self.unpack(&fetched, &shown).await?;
                (fetched, pulled)
            }
        };
        // Valid: a freshly fetched layer enters the disk cache now.
        if let Err(e) = file.commit().await {
            warn!(reference = shown, error = %e, "cannot write the disk cache; continuing without it");
        }
        self.remember(&id, &pulled);
        Ok(pulled)
    }

    /// Forwards to the inner store: nothing is cached, as a layer enters the cache only once
    /// its bundle unpacked (for the cached file, see [`CachedStore::layer_file`]).
    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        self.shared.inner.fetch_layer(reference, blobs).await
    }

    /// A digest reference with a cached entry (or recorded under a tag of its repository),
    /// and a reference this store already pulled, are answered without the network; otherwise the inner store answers (one `HEAD`), and
    /// when it is unreachable a tag cached on disk answers with a warning.
    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        let Some(id) = reference.as_remote().and_then(RefId::new) else {
            return self.shared.inner.resolve(reference).await;
        };
        if let Some((digest, _)) = self.known(&id) {
            return Ok(digest);
        }
        if id.digest().is_some() {
            if let Some(found) = self.find(&id).await {
                return Ok(found.record.digest);
            }
            if let Some(digest) = id.digest()
                && self.digest_recorded_in_repository(&id).await
            {
                return Ok(digest.clone());
            }
            return self.shared.inner.resolve(reference).await;
        }
        match self.shared.inner.resolve(reference).await {
            Err(e) if e.kind() == ErrorKind::Unreachable => match self.find(&id).await {
                Some(found) => {
                    warn!(
                        reference = %reference,
                        digest = %found.record.digest,
                        error = %e,
                        "registry unreachable: answering from the cache, which may be out of date"
                    );
                    Ok(found.record.digest)
                }
                None => Err(e),
            },
            other => other,
        }
    }

    /// Lists through the inner store once per repository for the life of this store;
    /// errors are not cached.
    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        let Some(remote) = repository.as_remote() else {
            return self.shared.inner.list_tags(repository).await;
        };
        let name = remote.repository_name();
        if let Some(tags) = self.memory().tags.get(&name) {
            return Ok(tags.clone());
        }
        let tags = self.shared.inner.list_tags(repository).await?;
        self.memory().tags.insert(name, tags.clone());
        Ok(tags)
    }
}

/// [`pacto_ref::resolve_ref`] works over a cached store: tags are listed through the cache
/// (once per repository for the store's life).
#[async_trait]
impl<S: BundleStore> pacto_ref::TagLister for CachedStore<S> {
    type Error = StoreError;

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        <Self as BundleStore>::list_tags(self, repository).await
    }
}
