//! Bundles as layer files: the streaming side of the cache, for callers that unpack a layer
//! to disk and never hold it in memory ([`CachedStore::layer_file`]).

use crate::disk::{Disk, LayerEntry, RefId};
use crate::{CachedStore, blocking, needs_tag};
use bytes::Bytes;
use pacto_fs::{BlobDir, Mode, VerifyingReader};
use pacto_ref::{ArtifactRef, Digest};
use pacto_registry::{BundleStore, ErrorKind, FetchedLayer, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::{debug, warn};

/// A bundle's layer as a file whose size and digest were verified, with the manifest it came
/// from: in the cache's blob directory, or, for what is not cached (an `oci-layout:`
/// reference, a cache without a usable directory), in a scratch directory removed when the
/// last clone of this value is dropped.
///
/// Read it with [`LayerFile::open`], which checks size and digest again as the bytes go
/// through: whatever is made of them is to be kept only once the reader reached its end.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LayerFile {
    /// The manifest digest: what the reference meant when it was read.
    pub digest: Digest,
    /// The manifest bytes (verified against `digest`).
    pub manifest: Bytes,
    /// The layer's digest.
    pub layer_digest: Digest,
    /// The layer's size in bytes.
    pub layer_size: u64,
    path: PathBuf,
    /// The scratch directory holding an uncached layer.
    scratch: Option<Arc<ScratchDir>>,
    /// Where a freshly fetched layer goes once its bundle proved valid.
    pending: Option<Arc<Pending>>,
}

/// A fetched layer waiting in the cache's scratch space for [`LayerFile::commit`].
#[derive(Debug)]
struct Pending {
    disk: Disk,
    id: RefId,
}

impl LayerFile {
    fn new(entry: LayerEntry, blobs: &BlobDir, scratch: Option<Arc<ScratchDir>>) -> Self {
        LayerFile {
            path: blobs.path(&entry.layer_digest),
            digest: entry.digest,
            manifest: entry.manifest,
            layer_digest: entry.layer_digest,
            layer_size: entry.layer_size,
            scratch,
            pending: None,
        }
    }

    /// Whether this layer was served from the cache's blob directory (not just fetched).
    pub(crate) fn is_from_disk(&self) -> bool {
        self.scratch.is_none()
    }

    /// Whether this layer was just fetched and is not in the cache yet: it enters the cache
    /// only through [`LayerFile::commit`].
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Puts a freshly fetched layer into the cache (renamed into the blob directory, the
    /// manifest and the record written) once the caller checked that it is a valid bundle
    /// (say, `pacto_archive::write_layer` succeeded): a bundle that is refused is never
    /// cached, as with [`BundleStore::pull_pinned`]. Does nothing for a layer served from
    /// the cache or one that is not to be cached. Call it after the last read through
    /// [`LayerFile::open`]: the file moves.
    ///
    /// # Errors
    ///
    /// When the cache directory cannot take it (the pull itself is not affected).
    pub async fn commit(self) -> Result<(), crate::CacheError> {
        let Some(pending) = self.pending.clone() else {
            return Ok(());
        };
        let entry = LayerEntry {
            digest: self.digest.clone(),
            manifest: self.manifest.clone(),
            layer_digest: self.layer_digest.clone(),
            layer_size: self.layer_size,
        };
        let source = self.path.clone();
        blocking("write", move || {
            pending.disk.promote(&pending.id, &entry, &source)
        })
        .await?
    }

    /// Where the layer is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layer, opened, its size and digest checked as it is read (see
    /// [`VerifyingReader`]).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened.
    pub async fn open(&self) -> std::io::Result<VerifyingReader<tokio::fs::File>> {
        let file = tokio::fs::File::open(&self.path).await?;
        Ok(VerifyingReader::new(
            file,
            self.layer_digest.clone(),
            self.layer_size,
        ))
    }
}

/// A scratch directory made by [`CachedStore::scratch_dir`]: removed, with everything in it,
/// when dropped. While it lives it holds an exclusive lock on itself (where the platform
/// allows one), so the cache's clean-up of abandoned temporary files leaves it alone.
#[derive(Debug)]
pub struct ScratchDir {
    /// Dropped first: the directory goes, then its lock.
    dir: tempfile::TempDir,
    _lock: Option<std::fs::File>,
}

impl ScratchDir {
    fn locked(dir: tempfile::TempDir) -> Self {
        // Best effort: without the lock the directory still works, it is just not
        // protected from a concurrent clean-up.
        let lock = std::fs::File::open(dir.path())
            .ok()
            .filter(|file| file.try_lock().is_ok());
        ScratchDir { dir, _lock: lock }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl From<FetchedLayer> for LayerEntry {
    fn from(fetched: FetchedLayer) -> Self {
        LayerEntry {
            digest: fetched.digest,
            manifest: fetched.manifest,
            layer_digest: fetched.layer_digest,
            layer_size: fetched.layer_size,
        }
    }
}

impl<S: BundleStore> CachedStore<S> {
    /// The layer of the bundle `reference` names, as a verified file, with the cache rules
    /// and request counts of every pull (a digest cached on disk costs nothing, a cached tag
    /// one `HEAD`, a miss the manifest and the layer) and nothing held in memory: a download
    /// streams into the cache's scratch space and enters its blob directory through
    /// [`LayerFile::commit`], a cached layer is re-hashed in bounded steps. The memory tier
    /// is not filled (it holds unpacked bundles). [`BundleStore::pull_pinned`] is this plus
    /// an unpack from the file and the commit.
    ///
    /// # Errors
    ///
    /// As [`BundleStore::pull_pinned`]; a remote reference needs a tag or digest.
    pub async fn layer_file(&self, reference: &ArtifactRef) -> Result<LayerFile, StoreError> {
        let Some(remote) = reference.as_remote() else {
            return self.fetch_scratch(reference).await;
        };
        let Some(id) = RefId::new(remote) else {
            return Err(needs_tag(reference));
        };
        let shown = reference.to_string();
        if let Some((digest, _)) = self.known(&id)
            && let Some(file) = self.disk_layer(&digest, &shown).await
        {
            return Ok(file);
        }
        if let Some(found) = self.find(&id).await {
            if id.digest().is_none() {
                return self.revalidate_layer(&id, reference, &found).await;
            }
            if let Some(file) = self.disk_layer(&found.record.digest, &shown).await {
                self.touch(&found);
                self.remember_digest(&id, &file.digest);
                return Ok(file);
            }
        } else if let Some(file) = self.layer_cached_under_a_tag(&id, &shown).await {
            return Ok(file);
        }
        self.fetch_and_record(&id, reference).await
    }

    /// [`CachedStore::layer_file`] without the network, as [`CachedStore::pull_local`]:
    /// `Ok(None)` is a miss; an `oci-layout:` reference is read from its layout.
    ///
    /// # Errors
    ///
    /// A remote reference without tag or digest, or a layout that cannot be read.
    pub async fn layer_file_local(
        &self,
        reference: &ArtifactRef,
    ) -> Result<Option<LayerFile>, StoreError> {
        let Some(remote) = reference.as_remote() else {
            return match self.fetch_scratch(reference).await {
                Ok(file) => Ok(Some(file)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            };
        };
        let Some(id) = RefId::new(remote) else {
            return Err(needs_tag(reference));
        };
        let shown = reference.to_string();
        if let Some((digest, _)) = self.known(&id)
            && let Some(file) = self.disk_layer(&digest, &shown).await
        {
            return Ok(Some(file));
        }
        let Some(found) = self.find(&id).await else {
            return Ok(self.layer_cached_under_a_tag(&id, &shown).await);
        };
        let file = self.disk_layer(&found.record.digest, &shown).await;
        if let Some(file) = &file {
            self.touch(&found);
            self.remember_digest(&id, &file.digest);
        }
        Ok(file)
    }

    /// The layer of manifest `digest` from disk (when disk reads are on), re-hashed.
    async fn disk_layer(&self, digest: &Digest, shown: &str) -> Option<LayerFile> {
        if !self.reads_disk() {
            return None;
        }
        let disk = self.shared.disk.clone()?;
        let (owned_digest, owned_shown, max) =
            (digest.clone(), shown.to_owned(), self.shared.max_layer_size);
        let found = blocking("read", {
            let disk = disk.clone();
            move || disk.layer(&owned_digest, &owned_shown, max)
        })
        .await
        .ok()??;
        Some(LayerFile::new(found, disk.blobs(), None))
    }

    /// A digest reference whose manifest is recorded under another reference of its
    /// repository, served from disk and recorded as itself.
    async fn layer_cached_under_a_tag(&self, id: &RefId, shown: &str) -> Option<LayerFile> {
        let digest = id.digest()?;
        if !self.digest_recorded_in_repository(id).await {
            return None;
        }
        let file = self.disk_layer(digest, shown).await?;
        self.record_layer(id, &file).await;
        self.remember_digest(id, &file.digest);
        Some(file)
    }

    /// A tag cached on disk: one `HEAD` decides whether the cached layer is current.
    async fn revalidate_layer(
        &self,
        id: &RefId,
        reference: &ArtifactRef,
        found: &crate::disk::Found,
    ) -> Result<LayerFile, StoreError> {
        let shown = reference.to_string();
        match self.shared.inner.resolve(reference).await {
            Ok(digest) => {
                if let Some(file) = self.disk_layer(&digest, &shown).await {
                    if digest == found.record.digest {
                        debug!(reference = shown, %digest, "tag unchanged: layer served from disk");
                        self.touch(found);
                    } else {
                        debug!(reference = shown, %digest, "tag moved to a manifest already on disk");
                        self.record_layer(id, &file).await;
                    }
                    self.remember_digest(id, &digest);
                    return Ok(file);
                }
                self.fetch_and_record(id, reference).await
            }
            Err(e) if e.kind() == ErrorKind::Unreachable => {
                let Some(file) = self.disk_layer(&found.record.digest, &shown).await else {
                    return Err(e);
                };
                warn!(
                    reference = shown,
                    digest = %file.digest,
                    error = %e,
                    "registry unreachable: serving the cached copy, which may be out of date"
                );
                self.touch(found);
                self.remember_digest(id, &file.digest);
                Ok(file)
            }
            Err(e) => Err(e),
        }
    }

    /// Fetches the layer into the cache's scratch space, pending: it enters the cache through
    /// [`LayerFile::commit`], once its bundle proved valid. A cache directory that cannot
    /// take it (full, unwritable) is no reason to fail the pull: the system's temporary
    /// directory takes it, uncached.
    pub(crate) async fn fetch_and_record(
        &self,
        id: &RefId,
        reference: &ArtifactRef,
    ) -> Result<LayerFile, StoreError> {
        let Some(disk) = self.shared.disk.clone() else {
            return Ok(self.fetch_scratch_in(reference, false).await?.0);
        };
        match self.fetch_scratch_in(reference, true).await {
            Ok((mut file, true)) => {
                file.pending = Some(Arc::new(Pending {
                    disk,
                    id: id.clone(),
                }));
                Ok(file)
            }
            Ok((file, false)) => {
                warn!("cannot write the disk cache; continuing without it");
                Ok(file)
            }
            Err(e @ StoreError::Io { .. }) => {
                warn!(error = %e, "cannot write the disk cache; continuing without it");
                Ok(self.fetch_scratch_in(reference, false).await?.0)
            }
            Err(e) => Err(e),
        }
    }

    /// Fetches the layer into a new scratch directory ([`CachedStore::scratch_dir`]).
    async fn fetch_scratch(&self, reference: &ArtifactRef) -> Result<LayerFile, StoreError> {
        Ok(self.fetch_scratch_in(reference, true).await?.0)
    }

    /// [`CachedStore::fetch_scratch`], in the system's temporary directory unless `in_cache`;
    /// says whether the scratch directory is in the cache's.
    async fn fetch_scratch_in(
        &self,
        reference: &ArtifactRef,
        in_cache: bool,
    ) -> Result<(LayerFile, bool), StoreError> {
        let (scratch, in_cache) = self.scratch_dir_in("layer-", in_cache).await?;
        let blobs = BlobDir::new(scratch.path(), Mode::Private);
        let fetched = self.shared.inner.fetch_layer(reference, &blobs).await?;
        let file = LayerFile::new(fetched.into(), &blobs, Some(Arc::new(scratch)));
        Ok((file, in_cache))
    }

    /// A new private scratch directory named `prefix` and a random suffix, removed when the
    /// value is dropped: in the cache directory's `v1/tmp` when there is a usable one (on the
    /// cache's file system, so what is made there can be renamed into the cache), else in
    /// the system's temporary directory (named `pacto-` + `prefix`...). For layers fetched
    /// but not cached, and for layers packed for a push. It is locked while it lives, as a
    /// temporary file being written is, so a `verify` or `prune` (of this process or
    /// another) keeps it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when neither place can hold a new directory.
    pub async fn scratch_dir(&self, prefix: &str) -> Result<ScratchDir, StoreError> {
        Ok(self.scratch_dir_in(prefix, true).await?.0)
    }

    /// [`CachedStore::scratch_dir`], in the system's temporary directory unless `in_cache`;
    /// says whether the directory is in the cache's.
    async fn scratch_dir_in(
        &self,
        prefix: &str,
        in_cache: bool,
    ) -> Result<(ScratchDir, bool), StoreError> {
        let parent = self
            .shared
            .disk
            .as_ref()
            .filter(|_| in_cache)
            .map(Disk::scratch_parent);
        let prefix = prefix.to_owned();
        let (dir, in_cache) = blocking("write", move || {
            if let Some(parent) = parent
                && pacto_fs::create_dir_all(&parent, Mode::Private).is_ok()
                && let Ok(dir) = tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent)
            {
                return Ok((dir, true));
            }
            tempfile::Builder::new()
                .prefix(&format!("pacto-{prefix}"))
                .tempdir()
                .map(|dir| (dir, false))
        })
        .await
        .map_err(|e| {
            StoreError::io(
                "cannot create a scratch directory in",
                &std::env::temp_dir(),
                std::io::Error::other(e),
            )
        })?
        .map_err(|e| {
            StoreError::io(
                "cannot create a scratch directory in",
                &std::env::temp_dir(),
                e,
            )
        })?;
        Ok((ScratchDir::locked(dir), in_cache))
    }

    /// Records `id` -> `file` on disk; logs and carries on when it cannot.
    async fn record_layer(&self, id: &RefId, file: &LayerFile) {
        let Some(disk) = self.shared.disk.clone() else {
            return;
        };
        let entry = LayerEntry {
            digest: file.digest.clone(),
            manifest: file.manifest.clone(),
            layer_digest: file.layer_digest.clone(),
            layer_size: file.layer_size,
        };
        let id = id.clone();
        match blocking("write", move || disk.record_layer(&id, &entry)).await {
            Ok(Ok(())) => debug!("layer recorded in the disk cache"),
            Ok(Err(e)) | Err(e) => {
                warn!(error = %e, "cannot write the disk cache; continuing without it")
            }
        }
    }
}
