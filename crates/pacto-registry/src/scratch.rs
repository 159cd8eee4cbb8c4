//! The in-memory pull of the stores: the layer goes to a scratch file as it arrives
//! ([`BundleStore::fetch_layer`](crate::BundleStore::fetch_layer)) and the bundle is unpacked
//! from that file, so no copy of the layer stays in memory beside the bundle's files.

use crate::{FetchedLayer, Pulled, StoreError};
use pacto_archive::Limits;
use pacto_fs::{BlobDir, Mode, VerifyingReader};

/// A private blob directory in the system's temporary directory, removed with everything in
/// it when dropped.
pub(crate) struct Scratch {
    blobs: BlobDir,
    /// Dropped last: the directory goes with it.
    _dir: tempfile::TempDir,
}

impl Scratch {
    /// A new scratch directory (`pacto-layer-` and a random suffix).
    pub(crate) async fn new() -> Result<Scratch, StoreError> {
        let failed = |e| {
            StoreError::io(
                "cannot create a scratch directory in",
                &std::env::temp_dir(),
                e,
            )
        };
        let dir = pacto_fs::blocking(|| tempfile::Builder::new().prefix("pacto-layer-").tempdir())
            .await
            .map_err(|e| failed(std::io::Error::other(e)))?
            .map_err(failed)?;
        Ok(Scratch {
            blobs: BlobDir::new(dir.path(), Mode::Private),
            _dir: dir,
        })
    }

    /// Where [`BundleStore::fetch_layer`](crate::BundleStore::fetch_layer) writes the layer.
    pub(crate) fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// The bundle in the layer `fetched` wrote here, unpacked within `limits` from the file
    /// through a [`VerifyingReader`] (the file is checked again as it is read); `reference`
    /// names the pull in a refusal.
    pub(crate) async fn unpack(
        &self,
        fetched: FetchedLayer,
        reference: &str,
        limits: &Limits,
    ) -> Result<Pulled, StoreError> {
        let path = self.blobs.path(&fetched.layer_digest);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StoreError::io("cannot open", &path, e))?;
        let reader = VerifyingReader::new(file, fetched.layer_digest.clone(), fetched.layer_size);
        let bundle = pacto_archive::unpack(reader, limits)
            .await
            .map_err(|source| StoreError::unpack(reference, source))?;
        Ok(Pulled::new(
            bundle,
            fetched.digest,
            fetched.manifest,
            fetched.layer_digest,
            fetched.layer_size,
        ))
    }
}
