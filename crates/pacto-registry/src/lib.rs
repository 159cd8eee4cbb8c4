//! Push, pull, resolve and list Pacto bundles: the [`BundleStore`] trait and its stores.
//!
//! - [`RegistryClient`] speaks the OCI distribution API to registries (GHCR, ECR, Harbor,
//!   Docker Hub, distribution), with the keychain from `pacto-auth`, the fewest round trips
//!   the protocol allows, bounded retries, and digest checks on every byte read.
//! - [`LayoutStore`] reads and writes a local OCI image layout (`oci-layout:PATH`), the format
//!   `skopeo` (`oci:PATH:TAG`) and ORAS (`--oci-layout PATH:TAG`) use.
//! - [`AnyStore`] routes a reference to the store of its kind; it is what most callers want.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pacto_registry::StoreError> {
//! use pacto_registry::{AnyStore, BundleStore};
//! use pacto_ref::{ArtifactRef, ParseOptions};
//!
//! let store = AnyStore::new(pacto_registry::RegistryClient::builder().build()?);
//! let reference = ArtifactRef::parse("oci-layout:./bundles:1.0.0", &ParseOptions::untagged())
//!     .expect("valid reference");
//! let pulled = store.pull_pinned(&reference).await?;
//! println!("{} {}", pulled.bundle.name(), pulled.digest);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod duration;
mod error;
mod layout;
mod mirror;
mod packing;
mod progress;
mod scratch;
mod sink;
mod tls;
mod transfer;
mod transport;

pub use client::{MAX_UPLOAD_CHUNK, RegistryClient, RegistryClientBuilder};
pub use duration::{DisplayDuration, InvalidDuration, parse_duration};
pub use error::{BoxError, CertificateProblem, ErrorKind, RegistryMessage, StoreError, TimeLimit};
pub use layout::LayoutStore;
/// The artifact format: [`pacto_artifact`], re-exported.
pub use pacto_artifact as artifact;
pub use progress::{Direction, Progress, ProgressEvent};
pub use transfer::{BlobAction, CopiedBlob, CopyOptions, CopyOutcome, TagOutcome, Tagged};
pub use transport::{CredentialFallback, LowSpeedLimit, RetryPolicy};

/// The attribute [`BundleStore`] implementations use (`#[pacto_registry::async_trait]`),
/// re-exported so that implementing it needs no dependency of your own.
pub use async_trait::async_trait;

use bytes::Bytes;
use pacto_archive::{LayerInfo, Limits};
use pacto_contract::{Bundle, Contract};
/// The blob directory [`BundleStore::fetch_layer`] writes into, re-exported.
pub use pacto_fs::BlobDir;
use pacto_ref::{ArtifactRef, Digest};
use std::path::PathBuf;

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushStatus {
    /// The tag was absent (or the store empty): the artifact was uploaded.
    Pushed,
    /// The tag already held this very manifest: nothing was uploaded.
    Unchanged,
    /// The tag held a different artifact and the push was forced.
    Overwritten,
}

impl PushStatus {
    /// `pushed`, `unchanged` or `overwritten`, as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            PushStatus::Pushed => "pushed",
            PushStatus::Unchanged => "unchanged",
            PushStatus::Overwritten => "overwritten",
        }
    }
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushOutcome {
    /// The reference written, with the tag that was used.
    pub reference: ArtifactRef,
    /// The manifest digest.
    pub digest: Digest,
    /// What happened.
    pub status: PushStatus,
}

impl PushOutcome {
    /// What a push of `reference` (with the tag it used) did, `digest` being the manifest
    /// digest; for [`BundleStore`] implementations of your own.
    pub fn new(reference: ArtifactRef, digest: Digest, status: PushStatus) -> Self {
        PushOutcome {
            reference,
            digest,
            status,
        }
    }
}

/// Options for [`BundleStore::push`].
///
/// The struct is `#[non_exhaustive]`: start from [`PushOptions::default`] and change what
/// you need with the `with_*` methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushOptions {
    /// Overwrite a tag that holds a different artifact.
    pub force: bool,
    /// A repository of the same registry (its path, `team/other`) known to hold the layer:
    /// the registry client asks the registry to mount the layer from there
    /// (`POST ?mount=DIGEST&from=REPO`, as ORAS and skopeo do) instead of uploading it, and
    /// uploads it when the registry answers anything but `201 Created`. `pacto-cache` fills
    /// it from what it pulled or pushed. Other stores ignore it.
    pub mount_from: Option<String>,
}

impl PushOptions {
    /// These options with `force` set: overwrite a tag that holds a different artifact.
    #[must_use]
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// These options with [`PushOptions::mount_from`] set to `repository`.
    #[must_use]
    pub fn with_mount_from(mut self, repository: impl Into<String>) -> Self {
        self.mount_from = Some(repository.into());
        self
    }
}

/// A bundle's layer packed into a file (`pacto_archive::pack_dir_to_file`), ready for
/// [`BundleStore::push_layer_file`]: where the file is, its digests and size, the contract
/// it was packed from, and the limits it was packed within.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PackedLayerFile {
    /// The tar+gzip layer file.
    pub path: PathBuf,
    /// Its digest, uncompressed digest and size.
    pub layer: LayerInfo,
    /// The parsed `pacto.yaml` of the bundle in the layer.
    pub contract: Contract,
    /// The limits the layer was packed within (and is unpacked within, by the default
    /// [`BundleStore::push_layer_file`]).
    pub limits: Limits,
}

impl PackedLayerFile {
    /// The layer in the file at `path`, described by `layer`, packed within `limits` from a
    /// bundle whose `pacto.yaml` parses to `contract`. Callers vouch for the description
    /// (the registry checks the digest on upload, a layout when it stores the blob).
    pub fn new(path: PathBuf, layer: LayerInfo, contract: Contract, limits: Limits) -> Self {
        PackedLayerFile {
            path,
            layer,
            contract,
            limits,
        }
    }

    /// `service.version` of the contract: the tag of a push to an untagged reference.
    pub fn version(&self) -> &str {
        &self.contract.service.version
    }
}

/// A layer being packed while it is pushed ([`BundleStore::push_packing`]): its contract
/// (known before the first byte is packed: the tag of an untagged push), how far the packer
/// has written its file ([`pacto_archive::Written`]: the upload reads the layer from there,
/// never from memory), and, once it succeeded, the packed file. Made with
/// [`PackingLayer::channel`], whose [`LayerPacker`] end the packer holds.
#[derive(Debug)]
pub struct PackingLayer {
    contract: Contract,
    written: tokio::sync::watch::Receiver<pacto_archive::Written>,
    packed: tokio::sync::oneshot::Receiver<PackedLayerFile>,
}

/// The packer's end of a [`PackingLayer`]: [`LayerPacker::watch`] for
/// [`pacto_archive::pack_listing`], then [`LayerPacker::finish`] with the packed file.
/// Dropped without `finish`, it tells the push that the packing failed.
#[derive(Debug)]
pub struct LayerPacker {
    written: Option<tokio::sync::watch::Sender<pacto_archive::Written>>,
    packed: tokio::sync::oneshot::Sender<PackedLayerFile>,
}

impl PackingLayer {
    /// A layer about to be packed from a bundle whose `pacto.yaml` parses to `contract`,
    /// and the end its packer reports to.
    pub fn channel(contract: Contract) -> (PackingLayer, LayerPacker) {
        let (written_tx, written) = tokio::sync::watch::channel(pacto_archive::Written::default());
        let (packed_tx, packed) = tokio::sync::oneshot::channel();
        (
            PackingLayer {
                contract,
                written,
                packed,
            },
            LayerPacker {
                written: Some(written_tx),
                packed: packed_tx,
            },
        )
    }

    /// `service.version` of the contract: the tag of a push to an untagged reference.
    pub fn version(&self) -> &str {
        &self.contract.service.version
    }

    /// The parsed `pacto.yaml` of the bundle being packed.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Waits until the packer has written more than `bytes` bytes, and returns how far it
    /// got; `None` once it stopped writing (finished or failed: [`PackingLayer::packed`]
    /// tells which) without getting there.
    pub async fn written_past(&mut self, bytes: u64) -> Option<pacto_archive::Written> {
        loop {
            let written = self.written.borrow_and_update().clone();
            if written.bytes > bytes && written.file.is_some() {
                return Some(written);
            }
            if self.written.changed().await.is_err() {
                return None;
            }
        }
    }

    /// Waits for the packed file. A packer dropped without [`LayerPacker::finish`] is a
    /// [`StoreError::Pack`] for `reference` (the packer has the real cause).
    pub async fn packed(self, reference: &str) -> Result<PackedLayerFile, StoreError> {
        self.packed.await.map_err(|_| StoreError::Pack {
            reference: reference.to_owned(),
            source: pacto_archive::ArchiveError::writer(std::io::Error::other(
                "the layer's packing stopped before it ended",
            )),
        })
    }
}

impl LayerPacker {
    /// Where the packer reports how far it has written ([`pacto_archive::pack_listing`]'s
    /// `watch`); the first call takes the channel, later ones report nowhere.
    pub fn watch(&mut self) -> pacto_archive::LayerWatch {
        match self.written.take() {
            Some(sender) => pacto_archive::LayerWatch::to(sender),
            None => pacto_archive::LayerWatch::none(),
        }
    }

    /// Reports `written`, for a packer of your own: its file holds the layer's first
    /// `written.bytes` bytes (a no-op after [`LayerPacker::watch`]).
    pub fn report(&self, written: pacto_archive::Written) {
        if let Some(sender) = &self.written {
            let _ = sender.send(written);
        }
    }

    /// The layer is packed, in `packed`: the push may close its upload.
    pub fn finish(self, packed: PackedLayerFile) {
        // A push that already failed dropped its end: nobody waits for the file.
        let _ = self.packed.send(packed);
    }
}

/// A pulled bundle with the manifest it came from.
///
/// The layer is not kept: a pull writes it to a file as it arrives and unpacks the bundle
/// from there, so the bundle's files are the only copy of its bytes in memory (a caller that
/// wants the layer itself asks for it with [`BundleStore::fetch_layer`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pulled {
    /// The unpacked, validated bundle.
    pub bundle: Bundle,
    /// The digest of [`Pulled::manifest`]: what the reference meant when it was read.
    pub digest: Digest,
    /// The manifest bytes as read (already verified against `digest`).
    pub manifest: Bytes,
    /// The layer's digest.
    pub layer_digest: Digest,
    /// The layer's size in bytes.
    pub layer_size: u64,
}

impl Pulled {
    /// A pulled `bundle` with the manifest it came from: `manifest`, whose digest is `digest`
    /// (what the reference meant), naming a layer of `layer_size` bytes whose digest is
    /// `layer_digest`. Callers vouch that the manifest was verified against `digest` and
    /// that `bundle` is that layer unpacked.
    pub fn new(
        bundle: Bundle,
        digest: Digest,
        manifest: Bytes,
        layer_digest: Digest,
        layer_size: u64,
    ) -> Self {
        Pulled {
            bundle,
            digest,
            manifest,
            layer_digest,
            layer_size,
        }
    }
}

/// A bundle's manifest, fetched, with its layer written into a blob directory
/// ([`BundleStore::fetch_layer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchedLayer {
    /// The digest of [`FetchedLayer::manifest`]: what the reference meant when it was read.
    pub digest: Digest,
    /// The manifest bytes as read (already verified against `digest`).
    pub manifest: Bytes,
    /// The layer's digest: the blob's name in the directory it was written to.
    pub layer_digest: Digest,
    /// The layer's size in bytes.
    pub layer_size: u64,
}

impl FetchedLayer {
    /// The manifest `manifest` (whose digest is `digest`) of a layer `layer_digest` of
    /// `layer_size` bytes; for [`BundleStore`] implementations of your own.
    pub fn new(digest: Digest, manifest: Bytes, layer_digest: Digest, layer_size: u64) -> Self {
        FetchedLayer {
            digest,
            manifest,
            layer_digest,
            layer_size,
        }
    }
}

/// A place bundles are pushed to and pulled from.
///
/// Every method takes a parsed [`ArtifactRef`]; a store refuses references of another kind
/// with [`ErrorKind::InvalidReference`].
#[async_trait]
pub trait BundleStore: Send + Sync + std::fmt::Debug {
    /// Pushes `bundle`. An untagged reference is tagged with the bundle's `service.version`
    /// (`+` written as `_`). Returns the manifest digest and whether anything was written.
    async fn push(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError>;

    /// Pushes the bundle whose layer is packed in a file, exactly as [`BundleStore::push`]
    /// pushes that bundle (same tag, manifest digest, statuses and errors). The registry
    /// client and the layout store stream the file: memory stays constant whatever the
    /// layer's size.
    ///
    /// The default unpacks the file (within [`PackedLayerFile::limits`]) into a [`Bundle`]
    /// and pushes it with [`BundleStore::push`].
    async fn push_layer_file(
        &self,
        reference: &ArtifactRef,
        layer: &PackedLayerFile,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        let file = tokio::fs::File::open(&layer.path)
            .await
            .map_err(|e| StoreError::io("cannot open", &layer.path, e))?;
        let bundle = pacto_archive::unpack(file, &layer.limits)
            .await
            .map_err(|source| StoreError::Unpack {
                reference: reference.to_string(),
                source,
            })?;
        self.push(reference, &bundle, options).await
    }

    /// Pushes a layer while it is packed, as [`BundleStore::push_layer_file`] pushes it once
    /// packed (same tag, manifest digest, statuses and errors), and returns the packed file
    /// with the outcome. The registry client uploads the layer while it is packed when the
    /// tag is new and the layer is bigger than one chunk ([`MAX_UPLOAD_CHUNK`]): its digest
    /// is known only at the end, so it cannot first ask whether the registry has it, nor
    /// mount it; a failed streamed upload is retried from the packed file.
    ///
    /// The default waits for the packed file, then calls [`BundleStore::push_layer_file`].
    async fn push_packing(
        &self,
        reference: &ArtifactRef,
        layer: PackingLayer,
        options: PushOptions,
    ) -> Result<(PushOutcome, PackedLayerFile), StoreError> {
        let packed = layer.packed(&reference.to_string()).await?;
        let outcome = self.push_layer_file(reference, &packed, options).await?;
        Ok((outcome, packed))
    }

    /// Pulls the bundle with the digest of the very manifest bytes it was built from.
    ///
    /// The registry client and the layout store fetch the layer into a scratch file of the
    /// system's temporary directory ([`BundleStore::fetch_layer`]) and unpack the bundle from
    /// it, so the bundle's files are held once; `pacto-cache` does the same through its own
    /// directory.
    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError>;

    /// Pulls the bundle.
    async fn pull(&self, reference: &ArtifactRef) -> Result<Bundle, StoreError> {
        Ok(self.pull_pinned(reference).await?.bundle)
    }

    /// Fetches the manifest `reference` names and writes its layer into `blobs`, where it
    /// appears under its digest only once its size and digest are verified: memory stays
    /// constant whatever the layer's size (the registry client and the layout store stream
    /// it). The layer is always fetched, even when `blobs` holds it already (a caller that
    /// trusts `blobs` checks first). Nothing is unpacked: the caller reads the blob (e.g.
    /// with `pacto_archive::write_layer`, or `pacto_archive::unpack` through a
    /// `pacto_fs::VerifyingReader`).
    ///
    /// Every store implements it: it is the one way a layer's bytes leave a store, and
    /// what `pacto-cache` pulls through.
    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError>;

    /// The manifest digest `reference` points to now.
    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError>;

    /// Every tag in the repository of `repository` (its tag or digest is ignored).
    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError>;
}

/// Forwards every method to the store behind a pointer, so `Arc<S>`, `Box<S>` and `&S` (and
/// `Box<dyn BundleStore>`) are stores too.
macro_rules! forward_bundle_store {
    ($($pointer:ty),+) => {$(
        #[async_trait]
        impl<S: BundleStore + ?Sized> BundleStore for $pointer {
            async fn push(
                &self,
                reference: &ArtifactRef,
                bundle: &Bundle,
                options: PushOptions,
            ) -> Result<PushOutcome, StoreError> {
                (**self).push(reference, bundle, options).await
            }

            async fn push_layer_file(
                &self,
                reference: &ArtifactRef,
                layer: &PackedLayerFile,
                options: PushOptions,
            ) -> Result<PushOutcome, StoreError> {
                (**self).push_layer_file(reference, layer, options).await
            }

            async fn push_packing(
                &self,
                reference: &ArtifactRef,
                layer: PackingLayer,
                options: PushOptions,
            ) -> Result<(PushOutcome, PackedLayerFile), StoreError> {
                (**self).push_packing(reference, layer, options).await
            }

            async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
                (**self).pull_pinned(reference).await
            }

            async fn pull(&self, reference: &ArtifactRef) -> Result<Bundle, StoreError> {
                (**self).pull(reference).await
            }

            async fn fetch_layer(
                &self,
                reference: &ArtifactRef,
                blobs: &BlobDir,
            ) -> Result<FetchedLayer, StoreError> {
                (**self).fetch_layer(reference, blobs).await
            }

            async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
                (**self).resolve(reference).await
            }

            async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
                (**self).list_tags(repository).await
            }
        }
    )+};
}

forward_bundle_store!(std::sync::Arc<S>, Box<S>, &S);

/// Implements [`pacto_ref::TagLister`] for stores, so that [`pacto_ref::resolve_ref`] (Go's
/// `ResolveRef(ctx, ref, lister)`) works with them directly. The trait is foreign and a
/// blanket impl over every `BundleStore` is not allowed, so each store type opts in.
macro_rules! impl_tag_lister {
    ($($store:ty),+) => {$(
        #[async_trait]
        impl pacto_ref::TagLister for $store {
            type Error = StoreError;

            async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
                <Self as BundleStore>::list_tags(self, repository).await
            }
        }
    )+};
}

impl_tag_lister!(RegistryClient, LayoutStore, AnyStore);

/// Routes each reference to the store of its kind: registries to a [`RegistryClient`],
/// `oci-layout:` references to a [`LayoutStore`].
#[derive(Debug, Clone)]
pub struct AnyStore {
    registry: RegistryClient,
    layout: LayoutStore,
}

impl AnyStore {
    /// Routes remote references to `registry` and layouts to a [`LayoutStore`] with the
    /// same limits and the same progress observer
    /// ([`RegistryClientBuilder::progress`]).
    pub fn new(registry: RegistryClient) -> Self {
        let mut layout = LayoutStore::with_limits(*registry.limits());
        if let Some(progress) = registry.progress() {
            layout = layout.with_progress(progress.clone());
        }
        AnyStore { registry, layout }
    }

    /// The registry client.
    pub fn registry(&self) -> &RegistryClient {
        &self.registry
    }

    fn store(&self, reference: &ArtifactRef) -> &dyn BundleStore {
        match reference {
            ArtifactRef::Layout(_) => &self.layout,
            _ => &self.registry,
        }
    }
}

#[async_trait]
impl BundleStore for AnyStore {
    async fn push(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        self.store(reference).push(reference, bundle, options).await
    }

    async fn push_layer_file(
        &self,
        reference: &ArtifactRef,
        layer: &PackedLayerFile,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        self.store(reference)
            .push_layer_file(reference, layer, options)
            .await
    }

    async fn push_packing(
        &self,
        reference: &ArtifactRef,
        layer: PackingLayer,
        options: PushOptions,
    ) -> Result<(PushOutcome, PackedLayerFile), StoreError> {
        self.store(reference)
            .push_packing(reference, layer, options)
            .await
    }

    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.store(reference).pull_pinned(reference).await
    }

    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        self.store(reference).fetch_layer(reference, blobs).await
    }

    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        self.store(reference).resolve(reference).await
    }

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        self.store(repository).list_tags(repository).await
    }
}

/// The tag a push of a bundle whose `service.version` is `version` to `reference` writes:
/// the reference's own, else the version with `+` as `_`. A digest reference, or a tag that
/// is not a valid OCI tag, is [`ErrorKind::InvalidReference`].
pub fn push_tag(reference: &ArtifactRef, version: &str) -> Result<String, StoreError> {
    if reference.digest().is_some() {
        return Err(StoreError::InvalidReference {
            reference: reference.to_string(),
            reason: "a push needs a tag, not a digest".into(),
        });
    }
    let tag = match reference.tag() {
        Some(tag) => tag.to_owned(),
        None => pacto_ref::version_to_tag(version),
    };
    let valid = transfer::is_valid_tag(&tag);
    if !valid {
        return Err(StoreError::InvalidReference {
            reference: reference.to_string(),
            reason: format!(
                "{tag:?} is not a valid OCI tag (from service.version {version:?}); give the reference an explicit tag"
            ),
        });
    }
    Ok(tag)
}
