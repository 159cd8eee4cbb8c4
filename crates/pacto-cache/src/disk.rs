//! The disk tier. Every function here is blocking; callers run them on blocking threads.
//!
//! Layout under the cache root (`LAYOUT` is the format version, so a future layout can live
//! beside this one):
//!
//! ```text
//! v1/blobs/sha256/<hex>            original manifest and layer blobs, content-addressed
//! v1/refs/<repository key>/<key>   JSON reference records, one per tag or digest reference
//! v1/tmp/<random>                  files being written (each locked by its writer)
//! ```
//!
//! The config blob is not stored: the pull path never needs it (the bundle is the layer, the
//! digest is the manifest's), so the manifest and the layer are all an entry holds.
//!
//! Blobs live in a [`BlobDir`] and records are written with [`AtomicFile`]: a temporary file
//! in `tmp/` (same file system), locked while it is written, synced and renamed into place;
//! blobs are written and their directory synced before the record that names them, so a
//! record never points at blobs that were not completely written. Every read re-hashes the
//! bytes: a file whose content does not match its name is removed and reported as a miss,
//! never served. Files are private to the user ([`Mode::Private`]).

use crate::error::CacheError;
use crate::key::{KeyKind, key};
use crate::{CacheEntry, PruneReport, VerifyReport};
use bytes::Bytes;
use pacto_artifact::{MAX_MANIFEST_SIZE, accept_manifest};
use pacto_fs::{AtomicFile, BlobCheck, BlobDir, BlobError, BlobRead, BlobWriter, Mode};
use pacto_ref::{Digest, DigestAlgorithm, Reference};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tracing::{debug, warn};

/// The layout version directory.
const LAYOUT: &str = "v1";
/// Format number written in every record.
const RECORD_FORMAT: u32 = 1;
/// Records are small; anything larger is not a record.
const MAX_RECORD_SIZE: u64 = 64 * 1024;
/// Blobs that no record names are left alone this long by `prune`: a writer in another
/// process may be about to write the record that names them.
const ORPHAN_GRACE: Duration = Duration::from_secs(600);

/// A reference record: which manifest a reference meant when it was cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) format: u32,
    /// The full reference (`registry/repository:tag` or `registry/repository@digest`).
    #[serde(rename = "ref")]
    pub(crate) reference: String,
    /// `registry/repository`.
    pub(crate) repository: String,
    /// The tag, for tag references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tag: Option<String>,
    /// The manifest digest.
    pub(crate) digest: Digest,
    /// The layer digest named by the manifest.
    pub(crate) layer_digest: Digest,
    /// Size of the manifest blob.
    pub(crate) manifest_size: u64,
    /// Size of the layer blob.
    pub(crate) layer_size: u64,
}

impl Record {
    /// Bytes of blobs this record names.
    fn for_layer(id: &RefId, entry: &LayerEntry) -> Record {
        Record {
            format: RECORD_FORMAT,
            reference: id.full(),
            repository: id.repository.clone(),
            tag: id.tag().map(str::to_owned),
            digest: entry.digest.clone(),
            layer_digest: entry.layer_digest.clone(),
            manifest_size: entry.manifest.len() as u64,
            layer_size: entry.layer_size,
        }
    }

    fn size(&self) -> u64 {
        self.manifest_size.saturating_add(self.layer_size)
    }

    /// The reference this record says it is for.
    fn id(&self) -> RefId {
        RefId {
            repository: self.repository.clone(),
            at: match &self.tag {
                Some(tag) => At::Tag(tag.clone()),
                None => At::Digest(self.digest.clone()),
            },
        }
    }

    /// Whether this record is a well-formed record of `id`.
    fn is_for(&self, id: &RefId) -> bool {
        self.format == RECORD_FORMAT
            && self.reference == id.full()
            && self.repository == id.repository
            && self.tag.as_deref() == id.tag()
            && id.digest().is_none_or(|d| *d == self.digest)
            && is_blob_digest(&self.digest)
            && is_blob_digest(&self.layer_digest)
            && self.manifest_size <= MAX_MANIFEST_SIZE
    }
}

/// How the cache names one remote reference with a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RefId {
    /// `registry/repository`.
    pub(crate) repository: String,
    /// The tag or digest within it.
    pub(crate) at: At,
}

/// What a cached reference names within its repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum At {
    /// A tag, which may move.
    Tag(String),
    /// A digest, which never does.
    Digest(Digest),
}

impl RefId {
    /// `None` for an untagged reference.
    pub(crate) fn new(reference: &Reference) -> Option<RefId> {
        let at = match (reference.digest(), reference.tag()) {
            (Some(digest), _) => At::Digest(digest.clone()),
            (None, Some(tag)) => At::Tag(tag.to_owned()),
            (None, None) => return None,
        };
        Some(RefId {
            repository: reference.repository_name(),
            at,
        })
    }

    /// The tag of a tag reference.
    pub(crate) fn tag(&self) -> Option<&str> {
        match &self.at {
            At::Tag(tag) => Some(tag),
            At::Digest(_) => None,
        }
    }

    /// The digest of a digest reference.
    pub(crate) fn digest(&self) -> Option<&Digest> {
        match &self.at {
            At::Tag(_) => None,
            At::Digest(digest) => Some(digest),
        }
    }

    /// The full reference text.
    pub(crate) fn full(&self) -> String {
        match &self.at {
            At::Digest(digest) => format!("{}@{digest}", self.repository),
            At::Tag(tag) => format!("{}:{tag}", self.repository),
        }
    }

    fn file_name(&self) -> String {
        match &self.at {
            At::Digest(digest) => key(KeyKind::Digest, digest.as_str()),
            At::Tag(tag) => key(KeyKind::Tag, tag),
        }
    }
}

/// A record file and what it holds (`Err` with the reason when it is not a valid record).
type Scanned = (PathBuf, Result<Found, BadRecord>);

/// Why a file in `refs/` is not a usable record.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadRecord {
    /// It was removed while being read.
    #[error("vanished")]
    Vanished,
    /// It could not be opened, inspected or read.
    #[error("cannot {action}: {source}")]
    Io {
        action: &'static str,
        source: io::Error,
    },
    /// A file where a repository directory of records belongs.
    #[error("not a repository directory")]
    NotADirectory,
    /// It is not a regular file of record size.
    #[error("not a record file")]
    NotAFile,
    /// It is not a record's JSON.
    #[error("not a record: {0}")]
    Json(serde_json::Error),
    /// It is a record of another format.
    #[error("record format {0} is not {RECORD_FORMAT}")]
    Format(u32),
    /// It is a record of another reference than its file name says.
    #[error("record does not match its location ({0})")]
    Misplaced(String),
}

/// A record as found on disk.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) record: Record,
    pub(crate) path: PathBuf,
    pub(crate) last_used: SystemTime,
}

/// A manifest whose layer is a verified file of the blob directory.
#[derive(Debug, Clone)]
pub(crate) struct LayerEntry {
    pub(crate) digest: Digest,
    pub(crate) manifest: Bytes,
    pub(crate) layer_digest: Digest,
    pub(crate) layer_size: u64,
}

/// The disk tier rooted at a cache directory.
#[derive(Debug, Clone)]
pub(crate) struct Disk {
    root: PathBuf,
    base: PathBuf,
    blobs: BlobDir,
}

fn io_context(action: &'static str, path: &Path, error: io::Error) -> CacheError {
    CacheError::io(action, path, error)
}

/// A blob-directory error as a cache error; `blob` is the blob's path, for the errors that
/// carry none (bytes that do not match their digest: the store that returned them verified
/// them, so this is not expected).
fn blob_error(error: BlobError, blob: &Path) -> CacheError {
    match error {
        BlobError::Io {
            action,
            path,
            source,
            ..
        } => CacheError::io(action, path, source),
        other => CacheError::io(
            "store",
            blob,
            io::Error::new(io::ErrorKind::InvalidData, other),
        ),
    }
}

/// Whether `digest` is one the cache can keep a blob under (sha256, the one it verifies).
fn is_blob_digest(digest: &Digest) -> bool {
    digest.algorithm() == DigestAlgorithm::Sha256
}

/// A temporary file on its way into the cache.
trait TempFile: Write {
    fn file(&self) -> &File;
    fn path(&self) -> &Path;
}

impl TempFile for BlobWriter {
    fn file(&self) -> &File {
        BlobWriter::file(self)
    }

    fn path(&self) -> &Path {
        BlobWriter::path(self)
    }
}

impl TempFile for AtomicFile {
    fn file(&self) -> &File {
        AtomicFile::file(self)
    }

    fn path(&self) -> &Path {
        AtomicFile::path(self)
    }
}

/// Writes `data` into `temp`, locked first: the lock tells maintenance in other processes
/// that the file is being written (it is released when the file is closed or the process
/// dies).
fn fill(temp: &mut impl TempFile, data: &[u8]) -> Result<(), CacheError> {
    let path = temp.path().to_owned();
    temp.file()
        .lock()
        .map_err(|e| io_context("lock", &path, e))?;
    temp.write_all(data)
        .and_then(|()| temp.file().set_modified(SystemTime::now()))
        .map_err(|e| io_context("write", &path, e))
}

impl Disk {
    pub(crate) fn new(root: PathBuf) -> Self {
        let base = root.join(LAYOUT);
        let blobs = BlobDir::new(base.join("blobs"), Mode::Private).with_temp_dir(base.join("tmp"));
        Disk { root, base, blobs }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.blobs.root().join("sha256")
    }

    fn refs_dir(&self) -> PathBuf {
        self.base.join("refs")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.base.join("tmp")
    }

    fn repository_dir(&self, repository: &str) -> PathBuf {
        self.refs_dir().join(key(KeyKind::Repository, repository))
    }

    fn record_path(&self, id: &RefId) -> PathBuf {
        self.repository_dir(&id.repository).join(id.file_name())
    }

    // ---- reads -------------------------------------------------------------------------

    /// The record for `id`, if one is there and is what it claims to be.
    pub(crate) fn find(&self, id: &RefId) -> Option<Found> {
        let path = self.record_path(id);
        let (record, last_used) = read_record(&path).ok()??;
        if !record.is_for(id) {
            debug!(path = %path.display(), found = record.reference, "cache record is not for this reference: ignored");
            return None;
        }
        Some(Found {
            record,
            path,
            last_used,
        })
    }

    /// The cached manifest `digest`, re-hashed, and the layer it describes; `None` when it
    /// is missing or corrupt, or no longer acceptable under `max_layer_size`.
    fn manifest(
        &self,
        digest: &Digest,
        reference: &str,
        max_layer_size: u64,
    ) -> Option<(Vec<u8>, pacto_artifact::LayerDescriptor)> {
        let manifest = self.read_blob(digest, MAX_MANIFEST_SIZE, None).intact()?;
        match accept_manifest(&manifest, None, max_layer_size) {
            Ok(layer) => Some((manifest, layer)),
            Err(e) => {
                debug!(reference, %digest, error = %e, "cached manifest not usable: miss");
                None
            }
        }
    }

    /// The manifest `digest` with its layer as a file, both re-hashed (the layer in bounded
    /// steps); `None` when either is missing or corrupt (removed), or the manifest is no
    /// longer acceptable under `max_layer_size`.
    pub(crate) fn layer(
        &self,
        digest: &Digest,
        reference: &str,
        max_layer_size: u64,
    ) -> Option<LayerEntry> {
        let (manifest, layer) = self.manifest(digest, reference, max_layer_size)?;
        match self.blobs.check_sized(&layer.digest, layer.size) {
            Ok(BlobCheck::Intact) => Some(LayerEntry {
                digest: digest.clone(),
                manifest: Bytes::from(manifest),
                layer_digest: layer.digest,
                layer_size: layer.size,
            }),
            Ok(_) => None,
            Err(e) => {
                warn!(error = %e, "cannot read a cached blob: miss");
                None
            }
        }
    }

    /// The blob directory, where [`Disk::record_layer`] expects the layer.
    pub(crate) fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// A directory for downloads that are not cached, beside the blobs (same file system).
    pub(crate) fn scratch_parent(&self) -> PathBuf {
        self.tmp_dir()
    }

    /// Reads blob `digest` (exactly `exact_size` bytes when given, else at most `max_size`)
    /// and hashes it; a corrupt file is removed. A blob that cannot be read is a miss.
    fn read_blob(&self, digest: &Digest, max_size: u64, exact_size: Option<u64>) -> BlobRead {
        let read = match exact_size {
            Some(size) => self.blobs.read_sized(digest, size),
            None => self.blobs.read(digest, max_size),
        };
        read.unwrap_or_else(|e| {
            warn!(error = %e, "cannot read a cached blob: miss");
            BlobRead::Missing
        })
    }

    /// Whether both blobs of `record` are present with their recorded sizes (no hashing).
    fn looks_complete(&self, record: &Record) -> bool {
        let present = |digest: &Digest, size: u64| self.blobs.contains(digest, Some(size));
        present(&record.digest, record.manifest_size)
            && present(&record.layer_digest, record.layer_size)
    }

    /// Tags of `repository` with a record whose blobs are present.
    pub(crate) fn tags(&self, repository: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.repository_dir(repository)) else {
            return Vec::new();
        };
        let mut tags: Vec<String> = entries
            .flatten()
            .filter_map(|entry| self.check_record_file(&entry.path()).ok())
            .filter(|found| {
                found.record.repository == repository && self.looks_complete(&found.record)
            })
            .filter_map(|found| found.record.tag)
            .collect();
        tags.sort();
        tags
    }

    /// Marks the record at `path` as used now (its mtime orders `prune`).
    pub(crate) fn touch(&self, path: &Path) {
        let result = File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(SystemTime::now()));
        if let Err(e) = result {
            debug!(path = %path.display(), error = %e, "cannot mark a cache record as used");
        }
    }

    // ---- writes ------------------------------------------------------------------------

    /// Stores the manifest of `entry` and the record for `id`; the layer is in the blob
    /// directory already (written there verified).
    pub(crate) fn record_layer(&self, id: &RefId, entry: &LayerEntry) -> Result<(), CacheError> {
        let dest = self.blobs.path(&entry.digest);
        self.blobs
            .write_expected(&entry.digest, &entry.manifest)
            .map_err(|e| blob_error(e, &dest))?;
        self.write_record(id, &Record::for_layer(id, entry))
    }

    /// Moves the verified layer file `source` (on the cache's file system) into the blob
    /// directory, then stores the manifest and the record for `id`.
    pub(crate) fn promote(
        &self,
        id: &RefId,
        entry: &LayerEntry,
        source: &Path,
    ) -> Result<(), CacheError> {
        let dest = self.blobs.path(&entry.layer_digest);
        let dir = self.blobs_dir();
        pacto_fs::create_dir_all(&dir, Mode::Private).map_err(|e| io_context("create", &dir, e))?;
        match fs::rename(source, &dest) {
            Ok(()) => pacto_fs::sync_dir(&dir),
            // Committed already (through a clone of the same layer file).
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && self
                        .blobs
                        .contains(&entry.layer_digest, Some(entry.layer_size)) => {}
            Err(e) => return Err(io_context("rename into place", &dest, e)),
        }
        self.record_layer(id, entry)
    }

    fn write_record(&self, id: &RefId, record: &Record) -> Result<(), CacheError> {
        let tmp = self.tmp_dir();
        let dir = self.repository_dir(&id.repository);
        for dir in [&tmp, &dir] {
            pacto_fs::create_dir_all(dir, Mode::Private)
                .map_err(|e| io_context("create", dir, e))?;
        }
        let path = self.record_path(id);
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| io_context("serialise the record", &path, io::Error::other(e)))?;
        let mut temp = AtomicFile::create_in(&tmp, Mode::Private)
            .map_err(|e| io_context("create a temporary file in", &tmp, e))?;
        fill(&mut temp, &json)?;
        temp.commit(&path)
            .map_err(|e| io_context("rename into place", &path, e))
    }

    /// Removes the record for `id` (its blobs stay until `prune`).
    pub(crate) fn forget(&self, id: &RefId) {
        let path = self.record_path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => warn!(path = %path.display(), error = %e, "cannot remove a cache record"),
        }
    }

    // ---- maintenance -------------------------------------------------------------------

    /// Every record file with what it holds (`Err` for an unreadable or inconsistent one).
    fn scan(&self) -> Result<Vec<Scanned>, CacheError> {
        let refs = self.refs_dir();
        let repositories = match fs::read_dir(&refs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_context("list", &refs, e)),
        };
        let mut found = Vec::new();
        for repository in repositories {
            let repository = repository.map_err(|e| io_context("list", &refs, e))?;
            let dir = repository.path();
            if !repository
                .file_type()
                .map_err(|e| io_context("inspect", &dir, e))?
                .is_dir()
            {
                found.push((dir, Err(BadRecord::NotADirectory)));
                continue;
            }
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_context("list", &dir, e)),
            };
            for entry in entries {
                let path = entry.map_err(|e| io_context("list", &dir, e))?.path();
                let checked = self.check_record_file(&path);
                found.push((path, checked));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    /// The record at `path`, if it is a valid record stored where its reference belongs.
    fn check_record_file(&self, path: &Path) -> Result<Found, BadRecord> {
        let (record, last_used) = read_record(path)?.ok_or(BadRecord::Vanished)?;
        let id = record.id();
        if !record.is_for(&id) || self.record_path(&id) != path {
            return Err(BadRecord::Misplaced(record.reference));
        }
        Ok(Found {
            record,
            path: path.to_owned(),
            last_used,
        })
    }

    /// The repositories (full names, `registry/path`) with a record whose layer is
    /// `layer_digest` and present on disk, sorted: where that blob was pulled or pushed.
    pub(crate) fn repositories_with_layer(
        &self,
        layer_digest: &Digest,
    ) -> Result<Vec<String>, CacheError> {
        self.repositories_where(|record| record.layer_digest == *layer_digest)
    }

    /// The repositories (full names, `registry/path`) with a record of the tag `tag` whose
    /// manifest names the service `name` (its `org.opencontainers.image.title`) and whose
    /// layer is present on disk, sorted: where that service's bundle of that version was
    /// pulled or pushed.
    pub(crate) fn repositories_with_bundle(
        &self,
        tag: &str,
        name: &str,
    ) -> Result<Vec<String>, CacheError> {
        self.repositories_where(|record| {
            record.tag.as_deref() == Some(tag)
                && self
                    .read_blob(&record.digest, MAX_MANIFEST_SIZE, None)
                    .intact()
                    .and_then(|manifest| {
                        pacto_artifact::summarize_manifest(&manifest, None, u64::MAX).ok()
                    })
                    .is_some_and(|summary| {
                        summary
                            .annotations
                            .get("org.opencontainers.image.title")
                            .is_some_and(|title| title == name)
                    })
        })
    }

    /// The repositories with a record for which `wanted` holds and whose layer is on disk.
    fn repositories_where(
        &self,
        wanted: impl Fn(&Record) -> bool,
    ) -> Result<Vec<String>, CacheError> {
        let mut repositories: Vec<String> = self
            .scan()?
            .into_iter()
            .filter_map(|(_, found)| found.ok())
            .filter(|found| wanted(&found.record))
            .filter(|found| self.looks_complete(&found.record))
            .map(|found| found.record.repository)
            .collect();
        repositories.sort();
        repositories.dedup();
        Ok(repositories)
    }

    /// Records `entry` for `id` with its layer linked from `source`, a file this process
    /// made and hashed itself (a pushed layer): a hard link into the blob directory (same
    /// file system, no copy), or nothing when the blob is already there.
    pub(crate) fn record_pushed(
        &self,
        id: &RefId,
        entry: &LayerEntry,
        source: &Path,
    ) -> Result<(), CacheError> {
        let dest = self.blobs.path(&entry.layer_digest);
        if !self
            .blobs
            .contains(&entry.layer_digest, Some(entry.layer_size))
        {
            let dir = self.blobs_dir();
            pacto_fs::create_dir_all(&dir, Mode::Private)
                .map_err(|e| io_context("create", &dir, e))?;
            match fs::hard_link(source, &dest) {
                Ok(()) => pacto_fs::sync_dir(&dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_context("link into place", &dest, e)),
            }
        }
        self.record_layer(id, entry)
    }

    /// Every valid entry, sorted by reference.
    pub(crate) fn entries(&self) -> Result<Vec<CacheEntry>, CacheError> {
        let mut entries: Vec<CacheEntry> = self
            .scan()?
            .into_iter()
            .filter_map(|(_, found)| found.ok())
            .map(|found| CacheEntry {
                size: found.record.size(),
                reference: found.record.reference,
                digest: found.record.digest,
                last_used: found.last_used,
            })
            .collect();
        entries.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(entries)
    }

    /// Re-hashes every blob, removes corrupt blobs, records whose blobs are missing or
    /// corrupt, unreadable records and abandoned temporary files.
    pub(crate) fn verify(&self, max_layer_size: u64) -> Result<VerifyReport, CacheError> {
        let mut report = VerifyReport {
            removed_temp_files: self.remove_abandoned_temp_files()?,
            ..VerifyReport::default()
        };
        // Layer digest -> intact, so a layer shared by several records is hashed once.
        let mut layers: HashMap<Digest, bool> = HashMap::new();
        let mut corrupt_blobs: BTreeSet<String> = BTreeSet::new();
        for (path, found) in self.scan()? {
            let found = match found {
                Ok(found) => found,
                Err(reason) => {
                    warn!(path = %path.display(), %reason, "invalid cache record: removed");
                    remove_path(&path)?;
                    report.corrupt.push(path.display().to_string());
                    continue;
                }
            };
            let record = &found.record;
            let manifest = match self.read_blob(
                &record.digest,
                MAX_MANIFEST_SIZE,
                Some(record.manifest_size),
            ) {
                BlobRead::Intact(bytes) => Some(bytes),
                BlobRead::Missing => None,
                BlobRead::Corrupt(_) => {
                    corrupt_blobs.insert(record.digest.to_string());
                    None
                }
            };
            let names_layer = manifest
                .and_then(|m| accept_manifest(&m, None, max_layer_size).ok())
                .is_some_and(|layer| {
                    layer.digest == record.layer_digest && layer.size == record.layer_size
                });
            let intact = names_layer
                && *layers
                    .entry(record.layer_digest.clone())
                    .or_insert_with(|| {
                        match self.read_blob(
                            &record.layer_digest,
                            record.layer_size,
                            Some(record.layer_size),
                        ) {
                            BlobRead::Intact(_) => true,
                            BlobRead::Missing => false,
                            BlobRead::Corrupt(_) => {
                                corrupt_blobs.insert(record.layer_digest.to_string());
                                false
                            }
                        }
                    });
            if intact {
                report.ok += 1;
            } else {
                warn!(
                    reference = record.reference,
                    "cache entry is corrupt or incomplete: removed"
                );
                remove_path(&path)?;
                report.corrupt.push(record.reference.clone());
            }
        }
        // Blobs no record led to: hash them too.
        for (digest, path) in self.blob_files()? {
            match digest {
                Some(digest) if layers.contains_key(&digest) => {}
                Some(digest) => {
                    if let BlobRead::Corrupt(_) = self.read_blob(&digest, u64::MAX, None) {
                        corrupt_blobs.insert(digest.to_string());
                    }
                }
                None => {
                    remove_path(&path)?;
                    corrupt_blobs.insert(path.display().to_string());
                }
            }
        }
        report.corrupt_blobs = corrupt_blobs.into_iter().collect();
        Ok(report)
    }

    /// Blob files with their digest (`None` for a file whose name is not a digest).
    fn blob_files(&self) -> Result<Vec<(Option<Digest>, PathBuf)>, CacheError> {
        let dir = self.blobs_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_context("list", &dir, e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_context("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let digest = Digest::parse(&format!("{}:{name}", DigestAlgorithm::Sha256)).ok();
            files.push((digest, entry.path()));
        }
        files.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(files)
    }

    /// Removes records, least recently used first, until the blobs the remaining records
    /// name take at most `max_bytes`; then removes blobs no record names (those younger than
    /// a grace period only when a removed record named them) and abandoned temporary files.
    pub(crate) fn prune(&self, max_bytes: u64) -> Result<PruneReport, CacheError> {
        self.remove_abandoned_temp_files()?;
        let mut records = Vec::new();
        for (path, found) in self.scan()? {
            match found {
                Ok(found) => records.push(found),
                Err(_) => remove_path(&path)?,
            }
        }
        let blob_files = self.blob_files()?;
        let mut sizes: HashMap<Digest, u64> = HashMap::new();
        let mut unnamed: Vec<PathBuf> = Vec::new();
        for (digest, path) in &blob_files {
            match digest {
                Some(digest) => {
                    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    sizes.insert(digest.clone(), size);
                }
                None => unnamed.push(path.clone()),
            }
        }
        // How many kept records name each blob.
        let mut users: HashMap<Digest, usize> = HashMap::new();
        for found in &records {
            for digest in [&found.record.digest, &found.record.layer_digest] {
                *users.entry(digest.clone()).or_default() += 1;
            }
        }
        let mut used: u64 = users.keys().filter_map(|d| sizes.get(d)).sum();
        // Oldest first; ties broken by reference for a stable order.
        records.sort_by(|a, b| {
            a.last_used
                .cmp(&b.last_used)
                .then_with(|| a.record.reference.cmp(&b.record.reference))
        });
        let mut report = PruneReport::default();
        let mut released: HashSet<Digest> = HashSet::new();
        for found in &records {
            if used <= max_bytes {
                break;
            }
            remove_path(&found.path)?;
            if let Some(dir) = found.path.parent() {
                // Only succeeds when the repository has no record left.
                let _ = fs::remove_dir(dir);
            }
            report.removed.push(found.record.reference.clone());
            for digest in [&found.record.digest, &found.record.layer_digest] {
                if let Some(count) = users.get_mut(digest) {
                    *count -= 1;
                    if *count == 0 {
                        users.remove(digest);
                        used = used.saturating_sub(sizes.get(digest).copied().unwrap_or(0));
                        released.insert(digest.clone());
                    }
                }
            }
        }
        let now = SystemTime::now();
        for (digest, path) in &blob_files {
            let Some(digest) = digest else { continue };
            if users.contains_key(digest) {
                continue;
            }
            let old_enough = fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| {
                    now.duration_since(modified)
                        .is_ok_and(|age| age >= ORPHAN_GRACE)
                });
            if released.contains(digest) || old_enough {
                remove_path(path)?;
                report.freed_bytes += sizes.get(digest).copied().unwrap_or(0);
            }
        }
        for path in unnamed {
            remove_path(&path)?;
        }
        report.remaining_bytes = used;
        Ok(report)
    }

    /// Removes the whole cache layout.
    pub(crate) fn clear(&self) -> Result<(), CacheError> {
        match fs::remove_dir_all(&self.base) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_context("remove", &self.base, e)),
        }
    }

    /// Removes temporary files whose writer is gone (its lock was released when it exited
    /// or was killed); files still locked by a live writer are kept.
    pub(crate) fn remove_abandoned_temp_files(&self) -> Result<usize, CacheError> {
        let dir = self.tmp_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_context("list", &dir, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| io_context("list", &dir, e))?;
            let path = entry.path();
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_context("open", &path, e)),
            };
            match file.try_lock() {
                Ok(()) => {
                    remove_path(&path)?;
                    removed += 1;
                }
                Err(fs::TryLockError::WouldBlock) => {
                    debug!(path = %path.display(), "temporary file still being written: kept");
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_context("lock", &path, e)),
            }
        }
        Ok(removed)
    }
}

/// Reads and parses a record; `Ok(None)` when the file does not exist.
fn read_record(path: &Path) -> Result<Option<(Record, SystemTime)>, BadRecord> {
    let io = |action| move |source| BadRecord::Io { action, source };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open")(e)),
    };
    let meta = file.metadata().map_err(io("inspect"))?;
    if !meta.is_file() || meta.len() > MAX_RECORD_SIZE {
        return Err(BadRecord::NotAFile);
    }
    let last_used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_SIZE)
        .read_to_end(&mut bytes)
        .map_err(io("read"))?;
    let record: Record = serde_json::from_slice(&bytes).map_err(BadRecord::Json)?;
    if record.format != RECORD_FORMAT {
        return Err(BadRecord::Format(record.format));
    }
    Ok(Some((record, last_used)))
}

fn remove_path(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::IsADirectory || path.is_dir() => {
            fs::remove_dir_all(path)
                .or_else(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| io_context("remove", path, e))
        }
        Err(e) => Err(io_context("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacto_fs::sha256;

    fn fixture() -> (tempfile::TempDir, Disk, RefId, LayerEntry) {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = Disk::new(dir.path().to_owned());
        let id = RefId {
            repository: "registry.example/team/a".to_owned(),
            at: At::Tag("1.0.0".to_owned()),
        };
        let manifest = Bytes::from_static(b"{\"schemaVersion\":2}");
        let layer = b"layer bytes";
        let entry = LayerEntry {
            digest: sha256(&manifest),
            manifest,
            layer_digest: sha256(layer),
            layer_size: layer.len() as u64,
        };
        disk.blobs
            .write_expected(&entry.layer_digest, layer)
            .expect("layer blob");
        (dir, disk, id, entry)
    }

    #[test]
    fn a_stored_record_names_its_reference_and_blobs() {
        let (_dir, disk, id, entry) = fixture();
        disk.record_layer(&id, &entry).expect("store");
        let digest = entry.digest.clone();
        let found = disk.find(&id).expect("found");
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(&found.path).expect("read")).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "format": 1,
                "ref": "registry.example/team/a:1.0.0",
                "repository": "registry.example/team/a",
                "tag": "1.0.0",
                "digest": digest,
                "layer_digest": entry.layer_digest,
                "manifest_size": entry.manifest.len(),
                "layer_size": entry.layer_size,
            })
        );
        assert!(
            found
                .path
                .ends_with("v1/refs/r-registry%2Eexample%2Fteam%2Fa/t-1%2E0%2E0")
        );
        // A digest reference of the same repository is another record.
        let by_digest = RefId {
            at: At::Digest(digest.clone()),
            ..id.clone()
        };
        assert!(disk.find(&by_digest).is_none());
        assert_eq!(disk.tags("registry.example/team/a"), ["1.0.0"]);
    }
}
