//! Fuzz `pacto_artifact::accept_manifest`, the gate every pulled manifest passes
//! (registry, layout and cache alike): no panic on any bytes, and whatever it accepts is
//! within its limits and names a well-formed layer digest.
//!
//! Input: the first byte picks the `Content-Type` the registry announced (none, OCI
//! manifest, Docker manifest, OCI index); the rest is the manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pacto_archive::Limits;
use pacto_artifact::{
    DOCKER_MANIFEST_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, MAX_MANIFEST_SIZE, OCI_INDEX_MEDIA_TYPE,
    accept_manifest, max_layer_size, parse_sha256,
};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, manifest)) = input.split_first() else {
        return;
    };
    let content_type = match selector % 4 {
        0 => None,
        1 => Some(MANIFEST_MEDIA_TYPE),
        2 => Some(DOCKER_MANIFEST_MEDIA_TYPE),
        _ => Some(OCI_INDEX_MEDIA_TYPE),
    };
    let limit = max_layer_size(&Limits::default());
    match accept_manifest(manifest, content_type, limit) {
        Ok(layer) => {
            assert!(manifest.len() as u64 <= MAX_MANIFEST_SIZE);
            assert_eq!(
                parse_sha256(layer.digest.as_str()).as_ref(),
                Some(&layer.digest)
            );
            assert!(layer.size <= limit);
            // The same bytes are accepted the same way whatever else is tried.
            let again = accept_manifest(manifest, content_type, limit).expect("accepted twice");
            assert_eq!(again, layer);
        }
        Err(error) => {
            assert!(!error.reason.is_empty(), "a refusal says why");
        }
    }
});
