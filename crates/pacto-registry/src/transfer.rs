//! Copying and tagging artifacts as bytes, between any two stores: [`AnyStore::copy`] and
//! [`AnyStore::tag`].
//!
//! Nothing is repacked: the manifest and its blobs are moved byte for byte, so the manifest
//! digest at the destination is the source's. Every byte read is checked against its digest
//! (as a pull checks it) before it is written.
//!
//! Request budget of a copy to a registry: manifest GET at the source, manifest HEAD at the
//! destination (the conflict check), per blob one HEAD at the destination; a blob missing
//! there is mounted (one POST, same registry, other repository) or read from the source and
//! uploaded; then the manifest PUT. A tag is one manifest GET, then per new tag a HEAD
//! (skipped with `force`) and a PUT.

use crate::artifact::{BlobDescriptor, ManifestSummary};
use crate::client::Mount;
use crate::{AnyStore, PushStatus, StoreError};
use bytes::Bytes;
use pacto_ref::{ArtifactRef, Digest};
use tracing::{debug, info};

/// Options for [`AnyStore::copy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Overwrite a destination tag that holds a different artifact.
    pub force: bool,
}

impl CopyOptions {
    /// Options with `force` set as given.
    pub fn force(force: bool) -> Self {
        CopyOptions { force }
    }
}

/// How a blob reached the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobAction {
    /// The destination held it already: nothing was sent.
    Present,
    /// The registry mounted it from the source repository: nothing was sent.
    Mounted,
    /// It was read from the source and written to the destination.
    Sent,
}

impl BlobAction {
    /// `present`, `mounted` or `sent`.
    pub fn as_str(self) -> &'static str {
        match self {
            BlobAction::Present => "present",
            BlobAction::Mounted => "mounted",
            BlobAction::Sent => "sent",
        }
    }
}

/// One blob of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopiedBlob {
    /// The blob as the manifest names it.
    pub descriptor: BlobDescriptor,
    /// What was done with it.
    pub action: BlobAction,
}

/// What [`AnyStore::copy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOutcome {
    /// The source, as read.
    pub source: ArtifactRef,
    /// The destination written, with its tag.
    pub destination: ArtifactRef,
    /// The manifest digest, the same at both ends.
    pub digest: Digest,
    /// `Pushed` (the tag was new), `Unchanged` (it held this manifest already: nothing was
    /// written) or `Overwritten` (forced).
    pub status: PushStatus,
    /// The config and the layer, in that order (empty when unchanged).
    pub blobs: Vec<CopiedBlob>,
}

/// One tag of [`AnyStore::tag`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagOutcome {
    /// The tagged reference.
    pub reference: ArtifactRef,
    /// `Pushed` (new tag), `Unchanged` (it held this manifest) or `Overwritten` (forced).
    pub status: PushStatus,
}

/// What [`AnyStore::tag`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tagged {
    /// The manifest digest the tags now hold.
    pub digest: Digest,
    /// Each new tag, in the order given.
    pub tags: Vec<TagOutcome>,
}

/// The OCI distribution tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
        })
}

impl AnyStore {
    /// The manifest `reference` (tag or digest) names, checked as a pull checks it: bytes,
    /// digest and what it says. Reads nothing else (no blob).
    pub async fn manifest(
        &self,
        reference: &ArtifactRef,
    ) -> Result<(Bytes, Digest, ManifestSummary), StoreError> {
        match reference {
            ArtifactRef::Layout(_) => self.layout.raw_manifest(reference).await,
            _ => {
                self.registry
                    .within_timeout(reference, self.registry.raw_manifest(reference))
                    .await
            }
        }
    }

    /// Copies the artifact `source` names (tag or digest) to `destination`, byte for byte:
    /// the destination's manifest digest is the source's. `destination` without a tag takes
    /// the source's tag. Blobs the destination holds are not sent; on one registry, a blob
    /// of another repository is mounted rather than sent.
    pub async fn copy(
        &self,
        source: &ArtifactRef,
        destination: &ArtifactRef,
        options: CopyOptions,
    ) -> Result<CopyOutcome, StoreError> {
        let destination = self.destination_tag(source, destination)?;
        let copy = self.copy_now(source, &destination, options);
        if source.as_layout().is_some() && destination.as_layout().is_some() {
            copy.await
        } else {
            let remote = if destination.as_layout().is_some() {
                source
            } else {
                &destination
            };
            self.registry.within_timeout(remote, copy).await
        }
    }

    fn destination_tag(
        &self,
        source: &ArtifactRef,
        destination: &ArtifactRef,
    ) -> Result<ArtifactRef, StoreError> {
        if destination.digest().is_some() {
            return Err(StoreError::InvalidReference {
                reference: destination.to_string(),
                reason: "a copy writes a tag: name one, not a digest".into(),
            });
        }
        let tag = match (destination.tag(), source.tag()) {
            (Some(tag), _) | (None, Some(tag)) => tag.to_owned(),
            (None, None) => {
                return Err(StoreError::InvalidReference {
                    reference: destination.to_string(),
                    reason: format!(
                        "the source {source} has no tag to keep: name the destination's tag"
                    ),
                });
            }
        };
        if !is_valid_tag(&tag) {
            return Err(StoreError::InvalidReference {
                reference: destination.to_string(),
                reason: format!("tag {tag:?} is not a valid OCI tag"),
            });
        }
        Ok(destination.with_tag(&tag))
    }

    async fn copy_now(
        &self,
        source: &ArtifactRef,
        destination: &ArtifactRef,
        options: CopyOptions,
    ) -> Result<CopyOutcome, StoreError> {
        let (manifest, digest, summary) = self.read_manifest(source).await?;
        let status = match self.tag_digest(destination).await? {
            Some(existing) if existing == digest => {
                info!(reference = %destination, %digest, "destination already holds this artifact");
                return Ok(CopyOutcome {
                    source: source.clone(),
                    destination: destination.clone(),
                    digest,
                    status: PushStatus::Unchanged,
                    blobs: Vec::new(),
                });
            }
            Some(existing) if !options.force => {
                return Err(StoreError::Conflict {
                    reference: destination.to_string(),
                    existing,
                    pushing: digest,
                });
            }
            Some(_) => PushStatus::Overwritten,
            None => PushStatus::Pushed,
        };
        let mut blobs = Vec::new();
        for descriptor in summary.blobs() {
            let action = self.copy_blob(source, destination, descriptor).await?;
            debug!(digest = %descriptor.digest, action = action.as_str(), "blob copied");
            blobs.push(CopiedBlob {
                descriptor: descriptor.clone(),
                action,
            });
        }
        self.put_manifest(destination, vec![], manifest, &summary.media_type)
            .await?;
        info!(source = %source, destination = %destination, %digest, "copied");
        Ok(CopyOutcome {
            source: source.clone(),
            destination: destination.clone(),
            digest,
            status,
            blobs,
        })
    }

    async fn copy_blob(
        &self,
        source: &ArtifactRef,
        destination: &ArtifactRef,
        blob: &BlobDescriptor,
    ) -> Result<BlobAction, StoreError> {
        if self.has_blob(destination, &blob.digest).await? {
            return Ok(BlobAction::Present);
        }
        let mut session = None;
        if let (ArtifactRef::Remote(from), ArtifactRef::Remote(to)) = (source, destination)
            && from.registry().name() == to.registry().name()
            && from.repository() != to.repository()
        {
            match self
                .registry
                .mount_blob(destination, from.repository(), &blob.digest)
                .await?
            {
                Mount::Mounted => return Ok(BlobAction::Mounted),
                Mount::Session(location) => session = Some(location),
                Mount::Refused => {}
            }
        }
        let bytes = match source {
            ArtifactRef::Layout(_) => {
                self.layout
                    .raw_blob(source, &blob.digest, blob.size)
                    .await?
            }
            _ => {
                self.registry
                    .raw_blob(source, &blob.digest, blob.size)
                    .await?
            }
        };
        match destination {
            ArtifactRef::Layout(_) => {
                self.layout
                    .put_blob(destination, &blob.digest, bytes)
                    .await?
            }
            _ => {
                self.registry
                    .put_blob(destination, &blob.digest, bytes, session)
                    .await?
            }
        }
        Ok(BlobAction::Sent)
    }

    /// Adds `tags` to the manifest `reference` names, in its repository, without reading or
    /// sending any blob. A tag holding another manifest is refused (nothing is written)
    /// unless `force`.
    pub async fn tag(
        &self,
        reference: &ArtifactRef,
        tags: &[String],
        force: bool,
    ) -> Result<Tagged, StoreError> {
        for tag in tags {
            if !is_valid_tag(tag) {
                return Err(StoreError::InvalidReference {
                    reference: reference.with_tag(tag).to_string(),
                    reason: format!("tag {tag:?} is not a valid OCI tag"),
                });
            }
        }
        let work = async {
            let (manifest, digest, summary) = self.read_manifest(reference).await?;
            let mut outcomes = Vec::new();
            for tag in tags {
                let target = reference.with_tag(tag);
                let status = if force {
                    PushStatus::Overwritten
                } else {
                    match self.tag_digest(&target).await? {
                        Some(existing) if existing == digest => PushStatus::Unchanged,
                        Some(existing) => {
                            return Err(StoreError::Conflict {
                                reference: target.to_string(),
                                existing,
                                pushing: digest,
                            });
                        }
                        None => PushStatus::Pushed,
                    }
                };
                outcomes.push(TagOutcome {
                    reference: target,
                    status,
                });
            }
            let to_write: Vec<&TagOutcome> = outcomes
                .iter()
                .filter(|o| o.status != PushStatus::Unchanged)
                .collect();
            match reference {
                ArtifactRef::Layout(_) => {
                    let names = to_write
                        .iter()
                        .filter_map(|o| o.reference.tag().map(str::to_owned))
                        .collect();
                    self.layout
                        .put_manifest(reference, names, manifest, &summary.media_type)
                        .await?;
                }
                _ => {
                    for outcome in to_write {
                        self.registry
                            .put_manifest(&outcome.reference, manifest.clone(), &summary.media_type)
                            .await?;
                    }
                }
            }
            Ok(Tagged {
                digest,
                tags: outcomes,
            })
        };
        match reference {
            ArtifactRef::Layout(_) => work.await,
            _ => self.registry.within_timeout(reference, work).await,
        }
    }

    async fn read_manifest(
        &self,
        reference: &ArtifactRef,
    ) -> Result<(Bytes, Digest, ManifestSummary), StoreError> {
        match reference {
            ArtifactRef::Layout(_) => self.layout.raw_manifest(reference).await,
            _ => self.registry.raw_manifest(reference).await,
        }
    }

    async fn tag_digest(&self, reference: &ArtifactRef) -> Result<Option<Digest>, StoreError> {
        match reference {
            ArtifactRef::Layout(_) => self.layout.tag_digest(reference).await,
            _ => self.registry.tag_digest(reference).await,
        }
    }

    async fn has_blob(&self, reference: &ArtifactRef, digest: &Digest) -> Result<bool, StoreError> {
        match reference {
            ArtifactRef::Layout(_) => self.layout.has_blob(reference, digest).await,
            _ => self.registry.has_blob(reference, digest).await,
        }
    }

    async fn put_manifest(
        &self,
        destination: &ArtifactRef,
        mut tags: Vec<String>,
        manifest: Bytes,
        media_type: &str,
    ) -> Result<(), StoreError> {
        match destination {
            ArtifactRef::Layout(_) => {
                tags.extend(destination.tag().map(str::to_owned));
                self.layout
                    .put_manifest(destination, tags, manifest, media_type)
                    .await
            }
            _ => {
                self.registry
                    .put_manifest(destination, manifest, media_type)
                    .await
            }
        }
    }
}
