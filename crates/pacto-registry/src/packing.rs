//! The artifact format ([`pacto_artifact`]) as the stores use it: packing a bundle for a
//! push, and refusing a manifest with the store's error.

use crate::StoreError;
use pacto_archive::Limits;
use pacto_artifact::{Artifact, LayerDescriptor, accept_manifest, build};
use pacto_contract::Bundle;

/// Packs `bundle` within `limits` and builds what a push of it to `reference` uploads. A
/// bundle over the limits (which a pull with the same limits would refuse) fails here,
/// before any byte is uploaded or written.
pub(crate) async fn pack(
    bundle: &Bundle,
    reference: &str,
    limits: &Limits,
) -> Result<Artifact, StoreError> {
    let packed = pacto_archive::pack(bundle, limits)
        .await
        .map_err(|source| StoreError::Pack {
            reference: reference.to_owned(),
            source,
        })?;
    Ok(build(bundle, &packed))
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
