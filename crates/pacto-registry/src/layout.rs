//! [`LayoutStore`]: the [`BundleStore`] for local OCI image layouts (`oci-layout:PATH`).
//!
//! The directory follows OCI Image Layout 1.0: an `oci-layout` marker, `index.json` listing
//! the manifests with their tags as `org.opencontainers.image.ref.name` annotations, and
//! content-addressed `blobs/sha256/<hex>` files, exactly as `skopeo copy ... oci:PATH:TAG` and
//! `oras ... --oci-layout PATH:TAG` write them, so each reads what the others wrote.
//!
//! Writes are atomic ([`pacto_fs::write_atomic`], [`pacto_fs::BlobDir`]): every file is written
//! to a temporary name in its final directory, synced, then renamed; `index.json` is read,
//! changed and replaced while holding an exclusive lock on the layout directory, so concurrent
//! writers never lose each other's tags and a crash never leaves a half-written file under a
//! real name. Blobs are hashed on every read; a damaged one is reported, never deleted (the
//! layout is the user's), and the next push of it replaces it.
//!
//! Files are created as readable as the umask allows ([`Mode::Shared`]: 0644 under the usual
//! 022, directories 0755), as `skopeo` and ORAS create them: a layout is often shared or
//! served.

use crate::artifact::{self, MAX_MANIFEST_SIZE};
use crate::packing::{Layer, Upload};
use crate::scratch::Scratch;
use crate::{
    BundleStore, FetchedLayer, PackedLayerFile, Pulled, PushOptions, PushOutcome, PushStatus,
    StoreError, push_tag,
};
use crate::{Direction, Progress, ProgressEvent};
use async_trait::async_trait;
use bytes::Bytes;
use pacto_archive::Limits;
use pacto_contract::Bundle;
use pacto_fs::{BlobCheck, BlobDir, BlobError, BlobRead, Mismatch, Mode};
use pacto_ref::{ArtifactRef, Digest, LayoutReference};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// A [`BundleStore`] over OCI image layout directories.
#[derive(Debug, Clone, Default)]
pub struct LayoutStore {
    limits: Limits,
    /// Told about the layer and config blobs read and written (reads as downloads, writes
    /// as uploads), as the registry client tells about its transfers.
    progress: Option<Progress>,
}

impl LayoutStore {
    /// A layout store with Go pacto's archive limits.
    pub fn new() -> Self {
        LayoutStore::default()
    }

    /// A layout store applying `limits` to pulls.
    pub fn with_limits(limits: Limits) -> Self {
        LayoutStore {
            limits,
            progress: None,
        }
    }

    /// This store, telling `progress` about every layer and config blob it reads (pull,
    /// the read side of a copy: [`Direction::Download`]) or writes (push, the write side
    /// of a copy: [`Direction::Upload`]): [`ProgressEvent::BlobStarted`], a
    /// [`ProgressEvent::BlobBytes`] per MiB, [`ProgressEvent::BlobDone`]. Manifests are
    /// not reported, as the registry client does not report them.
    #[must_use]
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }
}

fn layout(reference: &ArtifactRef) -> Result<&LayoutReference, StoreError> {
    match reference {
        ArtifactRef::Layout(layout) => Ok(layout),
        other => Err(StoreError::InvalidReference {
            reference: other.to_string(),
            reason: "the layout store takes oci-layout:PATH references".into(),
        }),
    }
}

/// The layout's `blobs/` directory: written as the umask allows, damaged blobs reported and
/// left in place.
fn blobs(root: &Path) -> BlobDir {
    BlobDir::new(root.join("blobs"), Mode::Shared).keep_corrupt()
}

/// The store's error for a failed blob operation.
fn blob_error(error: BlobError) -> StoreError {
    match error {
        BlobError::Io {
            action,
            path,
            source,
            ..
        } => {
            let action = match action {
                "open" => "cannot open",
                "read" => "cannot read",
                "remove" => "cannot remove",
                "create" => "cannot create",
                "create a temporary file in" => "cannot create a temporary file in",
                "rename into place" => "cannot rename into place",
                _ => "cannot write",
            };
            StoreError::io(action, &path, source)
        }
        // Only digests this store computed are written, and only sha256 ones are read.
        other => StoreError::Io {
            action: "cannot store a blob",
            path: String::new(),
            source: std::io::Error::other(other),
        },
    }
}

/// Writes `data` to `path` atomically, as readable as the umask allows.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    pacto_fs::write_atomic(path, data, Mode::Shared)
        .map_err(|e| StoreError::io("cannot write", path, e))
}

/// Writes a blob unless an intact copy is already there.
fn write_blob(root: &Path, digest: &Digest, data: &[u8]) -> Result<(), StoreError> {
    blobs(root).write_expected(digest, data).map_err(blob_error)
}

/// [`write_blob`], telling `progress` (when there is one) about it as an upload.
fn write_blob_watched(
    root: &Path,
    digest: &Digest,
    data: &[u8],
    progress: Option<&Progress>,
) -> Result<(), StoreError> {
    let Some(progress) = progress else {
        return write_blob(root, digest, data);
    };
    let direction = Direction::Upload;
    progress.emit(&ProgressEvent::BlobStarted {
        digest: digest.clone(),
        size: data.len() as u64,
        direction,
    });
    blobs(root)
        .write_expected_observed(digest, data, |n| {
            progress.emit(&ProgressEvent::BlobBytes {
                digest: digest.clone(),
                n,
                direction,
            });
        })
        .map_err(blob_error)?;
    progress.emit(&ProgressEvent::BlobDone {
        digest: digest.clone(),
        direction,
    });
    Ok(())
}

/// An exclusive lock on the layout directory, released on drop.
struct DirLock(File);

impl DirLock {
    fn acquire(root: &Path) -> Result<DirLock, StoreError> {
        let file = File::open(root).map_err(|e| StoreError::io("cannot open", root, e))?;
        file.lock()
            .map_err(|e| StoreError::io("cannot lock", root, e))?;
        Ok(DirLock(file))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn read_index(root: &Path, display: &str) -> Result<Option<Value>, StoreError> {
    let path = root.join("index.json");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("cannot read", &path, e)),
    };
    let index: Value = serde_json::from_slice(&bytes).map_err(|e| {
        StoreError::invalid_bundle(display, format!("index.json is not valid JSON: {e}"))
    })?;
    if !index.get("manifests").is_some_and(Value::is_array) {
        return Err(StoreError::invalid_bundle(
            display,
            "index.json has no manifests array",
        ));
    }
    Ok(Some(index))
}

fn manifests(index: &Value) -> &[Value] {
    index["manifests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn ref_name(descriptor: &Value) -> Option<&str> {
    descriptor["annotations"][REF_NAME].as_str()
}

/// The manifest descriptor (digest as written, size) `reference` names in `index`.
fn find(index: &Value, reference: &LayoutReference) -> Option<(String, u64)> {
    let entry = manifests(index)
        .iter()
        .find(|d| match (reference.digest(), reference.tag()) {
            (Some(digest), _) => d["digest"].as_str() == Some(digest.as_str()),
            (None, Some(tag)) => ref_name(d) == Some(tag),
            (None, None) => false,
        })?;
    Some((
        entry["digest"].as_str()?.to_owned(),
        entry["size"].as_u64()?,
    ))
}

fn not_found(display: &str, detail: impl Into<String>) -> StoreError {
    StoreError::NotFound {
        reference: display.to_owned(),
        detail: detail.into(),
    }
}

/// A digest the layout's `index.json` names: one of its blobs, so sha256.
fn index_digest(display: &str, digest: &str, what: &str) -> Result<Digest, StoreError> {
    artifact::parse_sha256(digest).ok_or_else(|| {
        StoreError::invalid_bundle(
            display,
            format!("{what} digest {digest:?} is not sha256:<hex>"),
        )
    })
}

/// Reads a blob of a known digest and size, refusing anything else.
fn read_blob(
    root: &Path,
    display: &str,
    digest: &Digest,
    size: u64,
    what: &str,
) -> Result<Vec<u8>, StoreError> {
    read_blob_watched(root, display, digest, size, what, None)
}

/// [`read_blob`], telling `progress` (when there is one) about it as a download.
fn read_blob_watched(
    root: &Path,
    display: &str,
    digest: &Digest,
    size: u64,
    what: &str,
    progress: Option<&Progress>,
) -> Result<Vec<u8>, StoreError> {
    let direction = Direction::Download;
    let read = match progress {
        None => blobs(root).read_sized(digest, size),
        Some(progress) => {
            progress.emit(&ProgressEvent::BlobStarted {
                digest: digest.clone(),
                size,
                direction,
            });
            blobs(root).read_sized_observed(digest, size, |n| {
                progress.emit(&ProgressEvent::BlobBytes {
                    digest: digest.clone(),
                    n,
                    direction,
                });
            })
        }
    };
    let problem = match read.map_err(blob_error)? {
        BlobRead::Intact(data) => {
            if let Some(progress) = progress {
                progress.emit(&ProgressEvent::BlobDone {
                    digest: digest.clone(),
                    direction,
                });
            }
            return Ok(data);
        }
        BlobRead::Missing => format!("{what} blob {digest} is missing from the layout"),
        BlobRead::Corrupt(Mismatch::Size { actual, .. }) => format!(
            "{what} blob {digest} has {actual} bytes{}, its descriptor says {size}",
            if actual > size { " or more" } else { "" }
        ),
        BlobRead::Corrupt(Mismatch::Digest { actual, .. }) => {
            format!("{what} digest mismatch: expected {digest}, the bytes hash to {actual}")
        }
        BlobRead::Corrupt(_) => format!("{what} blob {digest} does not match its descriptor"),
    };
    Err(StoreError::invalid_bundle(display, problem))
}

fn push_blocking(
    reference: &LayoutReference,
    display: &str,
    tag: &str,
    upload: &Upload,
    force: bool,
    progress: Option<&Progress>,
) -> Result<PushStatus, StoreError> {
    let envelope = &upload.envelope;
    let root = reference.path();
    pacto_fs::create_dir_all(&root.join("blobs").join("sha256"), Mode::Shared)
        .map_err(|e| StoreError::io("cannot create", root, e))?;
    let _lock = DirLock::acquire(root)?;
    let marker = root.join("oci-layout");
    if !marker.exists() {
        write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    let mut index = read_index(root, display)?.unwrap_or_else(
        || json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}),
    );
    let existing = manifests(&index)
        .iter()
        .find(|d| ref_name(d) == Some(tag))
        .and_then(|d| d["digest"].as_str());
    let status = match existing {
        Some(digest) if digest == envelope.manifest_digest.as_str() => {
            // Re-written blobs are cheap and repair a layout someone damaged.
            write_layer(root, envelope, &upload.layer, None)?;
            write_blob(root, &envelope.config_digest, &envelope.config)?;
            write_blob(root, &envelope.manifest_digest, &envelope.manifest)?;
            return Ok(PushStatus::Unchanged);
        }
        Some(digest) if !force => {
            return Err(StoreError::Conflict {
                reference: display.to_owned(),
                existing: index_digest(display, digest, "manifest")?,
                pushing: envelope.manifest_digest.clone(),
            });
        }
        Some(_) => PushStatus::Overwritten,
        None => PushStatus::Pushed,
    };
    write_layer(root, envelope, &upload.layer, progress)?;
    write_blob_watched(root, &envelope.config_digest, &envelope.config, progress)?;
    write_blob(root, &envelope.manifest_digest, &envelope.manifest)?;
    let list = index["manifests"]
        .as_array_mut()
        .expect("checked by read_index");
    list.retain(|d| ref_name(d) != Some(tag));
    list.push(json!({
        "mediaType": artifact::MANIFEST_MEDIA_TYPE,
        "digest": envelope.manifest_digest,
        "size": envelope.manifest.len(),
        "annotations": { REF_NAME: tag },
    }));
    let bytes = serde_json::to_vec(&index).expect("index serialises");
    write_atomic(&root.join("index.json"), &bytes)?;
    Ok(status)
}

/// Stores the layer of a push: from memory as any blob, from a file by copying it into
/// the blob directory a step at a time (verified against its digest and size before it
/// appears), unless an intact copy is there already. `progress`, when given, hears about
/// it as an upload.
fn write_layer(
    root: &Path,
    envelope: &artifact::Envelope,
    layer: &Layer,
    progress: Option<&Progress>,
) -> Result<(), StoreError> {
    let source = match layer {
        Layer::Memory(bytes) => {
            return write_blob_watched(root, &envelope.layer_digest, bytes, progress);
        }
        Layer::File(path) => path,
    };
    let (digest, size) = (&envelope.layer_digest, envelope.layer_size);
    let direction = Direction::Upload;
    let emit = |event: ProgressEvent| {
        if let Some(progress) = progress {
            progress.emit(&event);
        }
    };
    emit(ProgressEvent::BlobStarted {
        digest: digest.clone(),
        size,
        direction,
    });
    let blobs = blobs(root);
    if blobs.check_sized(digest, size).map_err(blob_error)? == BlobCheck::Intact {
        emit(ProgressEvent::BlobBytes {
            digest: digest.clone(),
            n: size,
            direction,
        });
    } else {
        let mut file = File::open(source).map_err(|e| StoreError::io("cannot open", source, e))?;
        let mut writer = blobs.writer().map_err(blob_error)?;
        let mut limited = std::io::Read::take(&mut file, size.saturating_add(1));
        let mut buffer = vec![0u8; usize::try_from(pacto_fs::OBSERVE_STEP).unwrap_or(1 << 20)];
        loop {
            let n = std::io::Read::read(&mut limited, &mut buffer)
                .map_err(|e| StoreError::io("cannot read", source, e))?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut writer, &buffer[..n])
                .map_err(|e| StoreError::io("cannot write", writer.path(), e))?;
            emit(ProgressEvent::BlobBytes {
                digest: digest.clone(),
                n: n as u64,
                direction,
            });
        }
        writer
            .finish(Some(digest), Some(size))
            .map_err(|e| match e {
                BlobError::DigestMismatch { .. } | BlobError::SizeMismatch { .. } => {
                    StoreError::Io {
                        action: "cannot store the layer packed in",
                        path: source.display().to_string(),
                        source: std::io::Error::other(e),
                    }
                }
                other => blob_error(other),
            })?;
    }
    emit(ProgressEvent::BlobDone {
        digest: digest.clone(),
        direction,
    });
    Ok(())
}

/// The manifest `reference` names, its digest, and the layer it describes (accepted).
fn manifest_blocking(
    reference: &LayoutReference,
    display: &str,
    limits: &Limits,
) -> Result<(Digest, Vec<u8>, artifact::LayerDescriptor), StoreError> {
    let root = reference.path();
    let index = read_index(root, display)?.ok_or_else(|| {
        not_found(
            display,
            format!("no OCI image layout at {}", root.display()),
        )
    })?;
    let (digest, size) = match find(&index, reference) {
        // Checked after the size, as the manifest blob itself would be.
        Some((digest, size)) => (Err(digest), size),
        None => match reference.digest() {
            // A digest not in the index may still be a manifest blob of the layout.
            Some(digest) => {
                let size = std::fs::metadata(blobs(root).path(digest))
                    .map_err(|_| not_found(display, "manifest unknown"))?
                    .len();
                (Ok(digest.clone()), size.min(MAX_MANIFEST_SIZE + 1))
            }
            None => return Err(not_found(display, "tag not in the layout's index.json")),
        },
    };
    if size > MAX_MANIFEST_SIZE {
        return Err(StoreError::invalid_bundle(
            display,
            format!("manifest is over the {MAX_MANIFEST_SIZE}-byte limit"),
        ));
    }
    let digest = match digest {
        Ok(digest) => digest,
        Err(text) => index_digest(display, &text, "manifest")?,
    };
    let manifest = read_blob(root, display, &digest, size, "manifest")?;
    let layer = crate::packing::accept(display, &manifest, None, artifact::max_layer_size(limits))?;
    Ok((digest, manifest, layer))
}

/// The manifest `reference` names, with its layer copied into `into` in bounded steps,
/// verified as it is written (it appears there only when size and digest match).
fn fetch_blocking(
    reference: &LayoutReference,
    display: &str,
    limits: &Limits,
    into: &BlobDir,
    progress: Option<&Progress>,
) -> Result<FetchedLayer, StoreError> {
    let (digest, manifest, layer) = manifest_blocking(reference, display, limits)?;
    let source = blobs(reference.path()).path(&layer.digest);
    let mut file = File::open(&source).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::invalid_bundle(
            display,
            format!("layer blob {} is missing from the layout", layer.digest),
        ),
        _ => StoreError::io("cannot open", &source, e),
    })?;
    let mut writer = into.writer().map_err(blob_error)?;
    let direction = Direction::Download;
    let emit = |event: ProgressEvent| {
        if let Some(progress) = progress {
            progress.emit(&event);
        }
    };
    emit(ProgressEvent::BlobStarted {
        digest: layer.digest.clone(),
        size: layer.size,
        direction,
    });
    // One byte more than the descriptor says is enough to tell a blob that is too big.
    let mut limited = std::io::Read::take(&mut file, layer.size.saturating_add(1));
    let mut buffer = vec![0u8; usize::try_from(pacto_fs::OBSERVE_STEP).unwrap_or(1 << 20)];
    let mut copied = 0u64;
    loop {
        let n = std::io::Read::read(&mut limited, &mut buffer)
            .map_err(|e| StoreError::io("cannot read", &source, e))?;
        if n == 0 {
            break;
        }
        copied += n as u64;
        std::io::Write::write_all(&mut writer, &buffer[..n])
            .map_err(|e| StoreError::io("cannot write", writer.path(), e))?;
        emit(ProgressEvent::BlobBytes {
            digest: layer.digest.clone(),
            n: n as u64,
            direction,
        });
    }
    let wrong_size = |actual: u64| {
        StoreError::invalid_bundle(
            display,
            format!(
                "layer blob {} has {actual} bytes{}, its descriptor says {}",
                layer.digest,
                if actual > layer.size { " or more" } else { "" },
                layer.size
            ),
        )
    };
    // A size that differs says more than the digest it cannot match: checked first (the
    // writer, dropped, removes its temporary file).
    if copied != layer.size {
        return Err(wrong_size(copied));
    }
    let finished = writer.finish(Some(&layer.digest), Some(layer.size));
    if finished.is_ok() {
        emit(ProgressEvent::BlobDone {
            digest: layer.digest.clone(),
            direction,
        });
    }
    match finished {
        Ok(_) => {}
        Err(BlobError::DigestMismatch { actual, .. }) => {
            return Err(StoreError::invalid_bundle(
                display,
                format!(
                    "layer digest mismatch: expected {}, the bytes hash to {actual}",
                    layer.digest
                ),
            ));
        }
        Err(BlobError::SizeMismatch { actual, .. }) => return Err(wrong_size(actual)),
        Err(e) => return Err(blob_error(e)),
    }
    Ok(FetchedLayer {
        digest,
        manifest: Bytes::from(manifest),
        layer_digest: layer.digest,
        layer_size: layer.size,
    })
}

/// Creates the layout's directories and `oci-layout` marker when missing.
fn init_layout(root: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(root.join("blobs").join("sha256"))
        .map_err(|e| StoreError::io("cannot create", root, e))?;
    let marker = root.join("oci-layout");
    if !marker.exists() {
        write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    Ok(())
}

/// Points each of `tags` at the manifest `digest` (already written as a blob), under the
/// layout's lock.
fn set_tags(
    root: &Path,
    display: &str,
    tags: &[String],
    digest: &Digest,
    size: usize,
    media_type: &str,
) -> Result<(), StoreError> {
    init_layout(root)?;
    let _lock = DirLock::acquire(root)?;
    let mut index = read_index(root, display)?.unwrap_or_else(
        || json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}),
    );
    let list = index["manifests"]
        .as_array_mut()
        .expect("checked by read_index");
    list.retain(|d| !ref_name(d).is_some_and(|name| tags.iter().any(|t| t == name)));
    for tag in tags {
        list.push(json!({
            "mediaType": media_type,
            "digest": digest.as_str(),
            "size": size,
            "annotations": { REF_NAME: tag },
        }));
    }
    let bytes = serde_json::to_vec(&index).expect("index serialises");
    write_atomic(&root.join("index.json"), &bytes)?;
    if let Ok(dir) = File::open(root) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The pieces `copy` and `tag` are made of (see `transfer.rs`), over a layout directory.
impl LayoutStore {
    /// The manifest `reference` (tag or digest) names, checked as a pull checks it.
    pub(crate) async fn raw_manifest(
        &self,
        reference: &ArtifactRef,
    ) -> Result<(Bytes, Digest, artifact::ManifestSummary), StoreError> {
        let layout_ref = layout(reference)?.clone();
        let display = reference.to_string();
        let max_layer = artifact::max_layer_size(&self.limits);
        blocking(move || {
            let root = layout_ref.path();
            let index = read_index(root, &display)?.ok_or_else(|| {
                not_found(
                    &display,
                    format!("no OCI image layout at {}", root.display()),
                )
            })?;
            let (digest, size) = find(&index, &layout_ref)
                .ok_or_else(|| not_found(&display, "not in the layout's index.json"))?;
            if size > MAX_MANIFEST_SIZE {
                return Err(StoreError::invalid_bundle(
                    &display,
                    format!("manifest is over the {MAX_MANIFEST_SIZE}-byte limit"),
                ));
            }
            let digest = index_digest(&display, &digest, "manifest")?;
            let manifest = read_blob(root, &display, &digest, size, "manifest")?;
            let summary = artifact::summarize_manifest(&manifest, None, max_layer)
                .map_err(|e| StoreError::invalid_bundle(&display, e.reason))?;
            Ok((Bytes::from(manifest), digest, summary))
        })
        .await
    }

    /// The digest the tag of `reference` holds; `None` when the tag (or the layout) does
    /// not exist.
    pub(crate) async fn tag_digest(
        &self,
        reference: &ArtifactRef,
    ) -> Result<Option<Digest>, StoreError> {
        let layout_ref = layout(reference)?.clone();
        let display = reference.to_string();
        blocking(move || {
            let Some(index) = read_index(layout_ref.path(), &display)? else {
                return Ok(None);
            };
            find(&index, &layout_ref)
                .map(|(digest, _)| index_digest(&display, &digest, "manifest"))
                .transpose()
        })
        .await
    }

    /// Whether the layout holds an intact copy of the blob `digest`.
    pub(crate) async fn has_blob(
        &self,
        reference: &ArtifactRef,
        digest: &Digest,
    ) -> Result<bool, StoreError> {
        let root = layout(reference)?.path().to_owned();
        let digest = digest.clone();
        blocking(move || {
            // Intact: present and hashing to its name (a damaged copy is not "present").
            Ok(matches!(
                blobs(&root).read(&digest, u64::MAX),
                Ok(BlobRead::Intact(_))
            ))
        })
        .await
    }

    /// The blob `digest` of `size` bytes, checked.
    pub(crate) async fn raw_blob(
        &self,
        reference: &ArtifactRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Bytes, StoreError> {
        let root = layout(reference)?.path().to_owned();
        let display = reference.to_string();
        let digest = digest.clone();
        let progress = self.progress.clone();
        blocking(move || {
            read_blob_watched(&root, &display, &digest, size, "blob", progress.as_ref())
                .map(Bytes::from)
        })
        .await
    }

    /// Writes the blob `digest` (whose bytes the caller checked) into the layout.
    pub(crate) async fn put_blob(
        &self,
        reference: &ArtifactRef,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), StoreError> {
        let root = layout(reference)?.path().to_owned();
        let digest = digest.clone();
        let progress = self.progress.clone();
        blocking(move || {
            init_layout(&root)?;
            write_blob_watched(&root, &digest, &data, progress.as_ref())
        })
        .await
    }

    /// Writes `manifest` and points each of `tags` at it.
    pub(crate) async fn put_manifest(
        &self,
        reference: &ArtifactRef,
        tags: Vec<String>,
        manifest: Bytes,
        media_type: &str,
    ) -> Result<(), StoreError> {
        let root = layout(reference)?.path().to_owned();
        let display = reference.to_string();
        let media_type = media_type.to_owned();
        blocking(move || {
            init_layout(&root)?;
            let digest = pacto_fs::sha256(&manifest);
            write_blob(&root, &digest, &manifest)?;
            set_tags(&root, &display, &tags, &digest, manifest.len(), &media_type)
        })
        .await
    }
}

/// The layout reference of a pull: it needs a tag or digest.
fn pull_reference(reference: &ArtifactRef) -> Result<LayoutReference, StoreError> {
    let layout_ref = layout(reference)?.clone();
    if layout_ref.tag().is_none() && layout_ref.digest().is_none() {
        return Err(StoreError::InvalidReference {
            reference: reference.to_string(),
            reason: "a pull needs a tag or digest (resolve an untagged reference first)".into(),
        });
    }
    Ok(layout_ref)
}

/// Runs the layout's file work off the executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    pacto_fs::blocking(f)
        .await
        .map_err(|source| StoreError::Io {
            action: "layout task failed",
            path: String::new(),
            source,
        })?
}

impl LayoutStore {
    /// A push, once packed: written under the layout's lock (see [`push_blocking`]).
    async fn push_upload(
        &self,
        reference: &ArtifactRef,
        tag: String,
        upload: Upload,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let tagged = reference.with_tag(&tag);
        let display = tagged.to_string();
        let layout_ref = layout(&tagged)?.clone();
        let digest = upload.envelope.manifest_digest.clone();
        let shown = display.clone();
        let progress = self.progress.clone();
        let status = blocking(move || {
            push_blocking(
                &layout_ref,
                &shown,
                &tag,
                &upload,
                options.force,
                progress.as_ref(),
            )
        })
        .await?;
        Ok(PushOutcome {
            reference: tagged,
            digest,
            status,
        })
    }
}

#[async_trait]
impl BundleStore for LayoutStore {
    async fn push(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let tag = push_tag(reference, bundle.version())?;
        let display = reference.with_tag(&tag).to_string();
        let upload = crate::packing::pack(bundle, &display, &self.limits).await?;
        self.push_upload(reference, tag, upload, options).await
    }

    async fn push_layer_file(
        &self,
        reference: &ArtifactRef,
        layer: &PackedLayerFile,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let tag = push_tag(reference, layer.version())?;
        let upload = crate::packing::from_file(layer);
        self.push_upload(reference, tag, upload, options).await
    }

    /// The layer copied into a scratch file (verified as it is written), then the bundle
    /// unpacked from it: the bundle's files are the only copy of the layer's bytes in memory.
    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        let scratch = Scratch::new().await?;
        let fetched = self.fetch_layer(reference, scratch.blobs()).await?;
        scratch
            .unpack(fetched, &reference.to_string(), &self.limits)
            .await
    }

    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        let layout_ref = pull_reference(reference)?;
        let (display, limits, into) = (reference.to_string(), self.limits, blobs.clone());
        let progress = self.progress.clone();
        blocking(move || fetch_blocking(&layout_ref, &display, &limits, &into, progress.as_ref()))
            .await
    }

    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        let layout_ref = layout(reference)?.clone();
        let display = reference.to_string();
        blocking(move || {
            let index = read_index(layout_ref.path(), &display)?.ok_or_else(|| {
                not_found(
                    &display,
                    format!("no OCI image layout at {}", layout_ref.path().display()),
                )
            })?;
            let (digest, _) = find(&index, &layout_ref)
                .ok_or_else(|| not_found(&display, "not in the layout's index.json"))?;
            index_digest(&display, &digest, "manifest")
        })
        .await
    }

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        let layout_ref = layout(repository)?.clone();
        let display = repository.repository().to_string();
        blocking(move || {
            let index = read_index(layout_ref.path(), &display)?.ok_or_else(|| {
                not_found(
                    &display,
                    format!("no OCI image layout at {}", layout_ref.path().display()),
                )
            })?;
            // First occurrence order, one hash lookup per entry: a linear scan per entry
            // made 100,000 tags take seconds.
            let mut seen = HashSet::new();
            let tags = manifests(&index)
                .iter()
                .filter_map(ref_name)
                .filter(|tag| seen.insert(*tag))
                .map(str::to_owned)
                .collect();
            Ok(tags)
        })
        .await
    }
}
