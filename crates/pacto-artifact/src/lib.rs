//! The Pacto bundle as an OCI artifact: what push writes, what pull accepts.
//!
//! Push writes an OCI image manifest with one layer (the canonical archive) and an OCI image
//! config whose labels name the service; both are serialised deterministically, so the same
//! bundle always has the same manifest digest. Pull accepts any OCI or Docker v2 image
//! manifest with exactly one layer and any config media type (Go pacto writes a Docker config).
//!
//! This crate is the one place the artifact format lives: the registry client, the OCI
//! image-layout store and the disk cache all build and accept manifests through it. It does
//! no I/O.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use bytes::Bytes;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use pacto_archive::{LAYER_MEDIA_TYPE, LayerInfo, Limits, Packed};
use pacto_contract::{Bundle, Contract};
use pacto_fs::sha256;
use pacto_ref::{Digest, DigestAlgorithm};
use serde::Serialize;
use std::collections::BTreeMap;

/// Media type of the manifests push writes.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the config push writes.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Docker v2 image manifest, accepted on pull.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image index: refused on pull (a bundle is never multi-platform).
pub const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list: refused on pull.
pub const DOCKER_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The `Accept` header for manifest requests: every type we can read or must recognise to refuse.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";
/// Manifests larger than this are refused (as distribution and containerd do).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;
/// Configs larger than this are refused.
pub const MAX_CONFIG_SIZE: u64 = 4 * 1024 * 1024;

/// Label keys carried in the config.
pub const LABEL_NAME: &str = "io.pacto.name";
/// Label with the service version.
pub const LABEL_VERSION: &str = "io.pacto.version";
/// Label with the contract's `pactoVersion`.
pub const LABEL_PACTO_VERSION: &str = "io.pacto.pactoVersion";

/// Everything a push uploads, built deterministically from a bundle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Artifact {
    /// The manifest bytes, exactly as uploaded.
    pub manifest: Bytes,
    /// The digest of [`Artifact::manifest`].
    pub manifest_digest: Digest,
    /// The config blob.
    pub config: Bytes,
    /// The digest of the config.
    pub config_digest: Digest,
    /// The layer (canonical tar+gzip of the bundle).
    pub layer: Bytes,
    /// The digest of the layer.
    pub layer_digest: Digest,
}

#[derive(Serialize)]
struct Config<'a> {
    architecture: &'a str,
    config: ConfigLabels<'a>,
    os: &'a str,
    rootfs: RootFs<'a>,
}

#[derive(Serialize)]
struct ConfigLabels<'a> {
    #[serde(rename = "Labels")]
    labels: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
struct RootFs<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    diff_ids: [&'a str; 1],
}

/// The config and manifest of an artifact, built from its contract and its layer's digests
/// ([`envelope`]): everything a push uploads but the layer, which may be in memory
/// ([`build`]) or in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The manifest bytes, exactly as uploaded.
    pub manifest: Bytes,
    /// The digest of [`Envelope::manifest`].
    pub manifest_digest: Digest,
    /// The config blob.
    pub config: Bytes,
    /// The digest of the config.
    pub config_digest: Digest,
    /// The digest of the layer the manifest names.
    pub layer_digest: Digest,
    /// The size of that layer in bytes.
    pub layer_size: u64,
}

/// Builds the config, layer and manifest for `bundle`, given its packed archive: the
/// [`envelope`] of its contract and layer, with the layer's bytes.
pub fn build(bundle: &Bundle, packed: &Packed) -> Artifact {
    let envelope = envelope(bundle.contract(), &packed.layer_info());
    Artifact {
        manifest: envelope.manifest,
        manifest_digest: envelope.manifest_digest,
        config: envelope.config,
        config_digest: envelope.config_digest,
        layer: packed.bytes.clone(),
        layer_digest: envelope.layer_digest,
    }
}

/// Builds the config and manifest of the artifact whose layer is `layer` and whose
/// `pacto.yaml` parses to `contract`: the very bytes [`build`] gives for a bundle with that
/// contract packed into that layer, so a layer packed to a file
/// (`pacto_archive::pack_dir_to_file`) pushes with the manifest digest of the same bundle
/// packed in memory.
pub fn envelope(contract: &Contract, layer: &LayerInfo) -> Envelope {
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_NAME, contract.service.name.as_str());
    labels.insert(LABEL_VERSION, contract.service.version.as_str());
    labels.insert(LABEL_PACTO_VERSION, contract.pacto_version.as_str());
    let config = Config {
        architecture: "",
        config: ConfigLabels { labels },
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: [layer.diff_id.as_str()],
        },
    };
    let config = Bytes::from(serde_json::to_vec(&config).expect("config serialises"));
    let config_digest = sha256(&config);
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.title".to_owned(),
        contract.service.name.clone(),
    );
    annotations.insert(
        "org.opencontainers.image.version".to_owned(),
        contract.service.version.clone(),
    );
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
        config: descriptor(CONFIG_MEDIA_TYPE, &config_digest, config.len() as u64),
        layers: vec![descriptor(LAYER_MEDIA_TYPE, &layer.digest, layer.size)],
        subject: None,
        artifact_type: None,
        annotations: Some(annotations),
    };
    let manifest = Bytes::from(serde_json::to_vec(&manifest).expect("manifest serialises"));
    Envelope {
        manifest_digest: sha256(&manifest),
        manifest,
        config,
        config_digest,
        layer_digest: layer.digest.clone(),
        layer_size: layer.size,
    }
}

fn descriptor(media_type: &str, digest: &Digest, size: u64) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: digest.to_string(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        urls: None,
        annotations: None,
        artifact_type: None,
    }
}

/// The one layer of an accepted manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerDescriptor {
    /// The layer's digest (sha256: the one algorithm pulls verify).
    pub digest: Digest,
    /// Size in bytes, as the descriptor claims.
    pub size: u64,
}

/// Why a manifest is not one of a Pacto bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
#[non_exhaustive]
pub struct InvalidManifest {
    /// What is wrong, e.g. `manifest has 2 layers, expected exactly one`.
    pub reason: String,
}

/// Checks that `manifest` (raw bytes, `content_type` from the response if any) describes a
/// Pacto bundle and returns its layer.
pub fn accept_manifest(
    manifest: &[u8],
    content_type: Option<&str>,
    max_layer_size: u64,
) -> Result<LayerDescriptor, InvalidManifest> {
    let invalid = |reason: String| InvalidManifest { reason };
    if manifest.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(invalid(format!(
            "manifest is {} bytes, over the {MAX_MANIFEST_SIZE}-byte limit",
            manifest.len()
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .map_err(|e| invalid(format!("manifest is not JSON: {e}")))?;
    let media_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()))
        .unwrap_or_default();
    if media_type == OCI_INDEX_MEDIA_TYPE
        || media_type == DOCKER_LIST_MEDIA_TYPE
        || value.get("manifests").is_some()
    {
        return Err(invalid(
            "it is an image index (multi-platform manifest), not an image manifest".into(),
        ));
    }
    if !media_type.is_empty()
        && media_type != MANIFEST_MEDIA_TYPE
        && media_type != DOCKER_MANIFEST_MEDIA_TYPE
    {
        return Err(invalid(format!(
            "unsupported manifest media type {media_type:?}"
        )));
    }
    let parsed: OciImageManifest = serde_json::from_value(value)
        .map_err(|e| invalid(format!("manifest is not an image manifest: {e}")))?;
    if parsed.schema_version != 2 {
        return Err(invalid(format!(
            "manifest schemaVersion is {}, expected 2",
            parsed.schema_version
        )));
    }
    // Pulls never fetch the config, so its descriptor is the only thing to check: a config
    // over the limit is refused like a manifest over it.
    let config_size = u64::try_from(parsed.config.size).unwrap_or(u64::MAX);
    if config_size > MAX_CONFIG_SIZE {
        return Err(invalid(format!(
            "config is {} bytes, over the {MAX_CONFIG_SIZE}-byte limit",
            parsed.config.size
        )));
    }
    let layer = match parsed.layers.as_slice() {
        [layer] => layer,
        [] => {
            return Err(invalid(
                "manifest has no layers, expected exactly one".into(),
            ));
        }
        many => {
            return Err(invalid(format!(
                "manifest has {} layers, expected exactly one",
                many.len()
            )));
        }
    };
    let digest = parse_sha256(&layer.digest).ok_or_else(|| {
        invalid(format!(
            "layer digest {:?} is not sha256:<hex>",
            layer.digest
        ))
    })?;
    let size = u64::try_from(layer.size)
        .map_err(|_| invalid(format!("layer size {} is negative", layer.size)))?;
    if size > max_layer_size {
        return Err(invalid(format!(
            "layer is {size} bytes, over the {max_layer_size}-byte limit"
        )));
    }
    Ok(LayerDescriptor { digest, size })
}

/// `digest` as a [`Digest`] when it is `sha256:` followed by 64 lowercase hex digits: the
/// digests of content pacto-oci verifies (registries may name other algorithms; those
/// cannot be checked, so they are refused).
pub fn parse_sha256(digest: &str) -> Option<Digest> {
    Digest::parse(digest)
        .ok()
        .filter(|d| d.algorithm() == DigestAlgorithm::Sha256)
}

/// A blob a manifest names: media type, digest, size.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobDescriptor {
    /// The media type the manifest gives it.
    pub media_type: String,
    /// `sha256:<hex>`, validated.
    pub digest: Digest,
    /// Size in bytes, as the manifest claims.
    pub size: u64,
}

/// What an accepted manifest says: the manifest's media type, its config and its one layer,
/// and its annotations (`org.opencontainers.image.created`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestSummary {
    /// The manifest's media type (from its `mediaType`, else the response's content type,
    /// else the OCI image manifest's).
    pub media_type: String,
    /// The config blob.
    pub config: BlobDescriptor,
    /// The one layer.
    pub layer: BlobDescriptor,
    /// The manifest's annotations, sorted by key.
    pub annotations: BTreeMap<String, String>,
}

impl ManifestSummary {
    /// The config, then the layer: every blob the manifest names.
    pub fn blobs(&self) -> [&BlobDescriptor; 2] {
        [&self.config, &self.layer]
    }
}

/// Checks `manifest` as [`accept_manifest`] does, and also its config digest, and returns
/// what it says.
pub fn summarize_manifest(
    manifest: &[u8],
    content_type: Option<&str>,
    max_layer_size: u64,
) -> Result<ManifestSummary, InvalidManifest> {
    let layer = accept_manifest(manifest, content_type, max_layer_size)?;
    let invalid = |reason: String| InvalidManifest { reason };
    let parsed: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| invalid(format!("manifest is not an image manifest: {e}")))?;
    let config_digest = parse_sha256(&parsed.config.digest).ok_or_else(|| {
        invalid(format!(
            "config digest {:?} is not sha256:<hex>",
            parsed.config.digest
        ))
    })?;
    let media_type = parsed
        .media_type
        .clone()
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_owned()))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_owned());
    Ok(ManifestSummary {
        media_type,
        config: BlobDescriptor {
            media_type: parsed.config.media_type.clone(),
            digest: config_digest,
            // Checked by accept_manifest: not negative, within MAX_CONFIG_SIZE.
            size: u64::try_from(parsed.config.size).unwrap_or(0),
        },
        layer: BlobDescriptor {
            media_type: parsed.layers[0].media_type.clone(),
            digest: layer.digest,
            size: layer.size,
        },
        annotations: parsed.annotations.unwrap_or_default().into_iter().collect(),
    })
}

/// The largest compressed layer worth downloading under `limits`: the uncompressed total plus
/// gzip's worst-case overhead (stored blocks) and the tar headers of every allowed entry.
pub fn max_layer_size(limits: &Limits) -> u64 {
    let headers = limits.max_entries.saturating_mul(1024);
    limits
        .max_total_size
        .saturating_add(limits.max_total_size / 100)
        .saturating_add(headers)
        .saturating_add(64 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_with_config_size(size: i64) -> Vec<u8> {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_MEDIA_TYPE}","config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"sha256:{zeros}","size":{size}}},"layers":[{{"mediaType":"{LAYER_MEDIA_TYPE}","digest":"sha256:{zeros}","size":10}}]}}"#,
            zeros = "0".repeat(64)
        )
        .into_bytes()
    }

    /// Regression (e2e hostile suite): a config descriptor over 4 MiB was accepted, because
    /// pulls never fetch the config and nothing else looked at its size.
    #[test]
    fn config_over_the_limit_is_an_invalid_bundle() {
        let limit = i64::try_from(MAX_CONFIG_SIZE).unwrap_or(i64::MAX);
        for (size, accepted) in [(100, true), (limit, true), (limit + 1, false), (-1, false)] {
            let result = accept_manifest(&manifest_with_config_size(size), None, u64::MAX);
            match result {
                Ok(layer) => assert!(accepted, "config size {size} accepted: {layer:?}"),
                Err(error) => {
                    assert!(!accepted, "config size {size} refused: {error}");
                    assert!(error.to_string().contains("config is"), "{error}");
                }
            }
        }
    }
}
