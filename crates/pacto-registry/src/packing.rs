//! The artifact format ([`pacto_artifact`]) as the stores use it: packing a bundle for a
//! push, describing a layer packed to a file, and refusing a manifest with the store's error.

use crate::{PackedLayerFile, StoreError};
use bytes::Bytes;
use pacto_archive::Limits;
use pacto_artifact::{Envelope, LayerDescriptor, accept_manifest, envelope};
use pacto_contract::Bundle;
use std::path::PathBuf;

/// Where the layer of a push is.
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// Packed in memory.
    Memory(Bytes),
    /// Packed into a file, read as it is uploaded or copied.
    File(PathBuf),
}

/// What a push uploads: the config and manifest, and the layer.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) envelope: Envelope,
    pub(crate) layer: Layer,
}

/// Packs `bundle` within `limits` and builds what a push of it to `reference` uploads. A
/// bundle over the limits (which a pull with the same limits would refuse) fails here,
/// before any byte is uploaded or written.
pub(crate) async fn pack(
    bundle: &Bundle,
    reference: &str,
    limits: &Limits,
) -> Result<Upload, StoreError> {
    let packed = pacto_archive::pack(bundle, limits)
        .await
        .map_err(|source| StoreError::Pack {
            reference: reference.to_owned(),
            source,
        })?;
    Ok(Upload {
        envelope: envelope(bundle.contract(), &packed.layer_info()),
        layer: Layer::Memory(packed.bytes),
    })
}

/// What a push of the layer packed in `file` uploads.
pub(crate) fn from_file(file: &PackedLayerFile) -> Upload {
    Upload {
        envelope: envelope(&file.contract, &file.layer),
        layer: Layer::File(file.path.clone()),
    }
}

/// [`accept_manifest`](pacto_artifact::accept_manifest), refusing with the store's invalid-bundle error for `reference`.
pub(crate) fn accept(
    reference: &str,
    manifest: &[u8],
    content_type: Option<&str>,
    max_layer_size: u64,
) -> Result<LayerDescriptor, StoreError> {
    accept_manifest(manifest, content_type, max_layer_size)
        .map_err(|e| StoreError::invalid_bundle(reference, e.reason))
}
