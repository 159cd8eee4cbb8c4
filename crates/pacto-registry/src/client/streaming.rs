//! A push whose layer is uploaded while it is packed ([`BundleStore::push_packing`]).
//!
//! The tag is read first (its name comes from the contract, known before packing starts).
//! When it is new and the layer grows past one chunk, an upload session is opened and the
//! layer goes up [`MAX_UPLOAD_CHUNK`] by [`MAX_UPLOAD_CHUNK`] as the packer writes it, read
//! back from the packer's file (never held beyond the chunk being sent); the rest, then the
//! closing `PUT ?digest=`, wait for the packer's digest, and the config, which names the
//! layer's uncompressed digest, is uploaded beside it. The request count is the one a push of
//! the packed file makes. Anything else takes the packed file's path: a tag that exists (it
//! must be compared, which needs the manifest digest), a layer of one chunk or less (one
//! request, as today), and a streamed upload that failed (sent again from the file, once).
//!
//! [`BundleStore::push_packing`]: crate::BundleStore::push_packing

use super::{Chunks, Identifier, MAX_UPLOAD_CHUNK, RegistryClient, Repo};
use crate::packing;
use crate::progress::ProgressEvent;
use crate::{PackedLayerFile, PackingLayer, PushOptions, PushOutcome, PushStatus, StoreError};
use bytes::Bytes;
use pacto_ref::ArtifactRef;
use std::path::Path;
use tracing::{debug, info};

const CHUNK: u64 = MAX_UPLOAD_CHUNK as u64;

/// How far a layer's upload got while it was packed.
enum Streamed {
    /// The packer stopped within one chunk: nothing was sent.
    Small,
    /// The first `sent` bytes of the packer's file, read through `chunks`, went into the
    /// session at `location`; the rest goes once the layer is packed.
    Started {
        location: String,
        sent: u64,
        chunks: Chunks,
    },
    /// Sending failed with this error (its session, if any, deleted).
    Failed(StoreError),
}

impl RegistryClient {
    pub(super) async fn push_packing_now(
        &self,
        reference: &ArtifactRef,
        mut layer: PackingLayer,
        options: PushOptions,
    ) -> Result<(PushOutcome, PackedLayerFile), StoreError> {
        let tag = crate::push_tag(reference, layer.version())?;
        let tagged = reference.with_tag(&tag);
        let repo = self.repo(&tagged)?;
        // While the layer is packed, each network step is bounded by the client's deadline
        // on its own; once packed, the rest as a whole.
        let existing = self
            .bounded(
                &tagged,
                self.head_manifest(&repo, Identifier::Tag(&tag), true),
            )
            .await?;
        let streamed = match existing {
            // Compared with the manifest once packed: nothing goes up before.
            Some(_) => Streamed::Small,
            // The caller names where the layer may be mounted from: that needs its digest.
            None if options.mount_from.is_some() => Streamed::Small,
            None => self.stream_layer(&tagged, &repo, &mut layer).await,
        };
        let packed = match layer.packed(&repo.display).await {
            Ok(packed) => packed,
            Err(e) => {
                if let Streamed::Started { location, .. } = &streamed {
                    self.cancel_upload(&repo, location).await;
                }
                return Err(e);
            }
        };
        // The rest, as a whole, within the client's deadline: the time spent packing is not
        // counted (a slow disk is not a slow registry), each step before had its own bound.
        let outcome = self
            .bounded(
                reference,
                self.push_packed_now(&repo, &tagged, &tag, streamed, &packed, options, existing),
            )
            .await?;
        Ok((outcome, packed))
    }

    /// The rest of [`RegistryClient::push_packing_now`] once the layer is packed.
    #[allow(
        clippy::too_many_arguments,
        reason = "the push's state, passed on once"
    )]
    async fn push_packed_now(
        &self,
        repo: &Repo<'_>,
        tagged: &ArtifactRef,
        tag: &str,
        streamed: Streamed,
        packed: &PackedLayerFile,
        options: PushOptions,
        existing: Option<pacto_ref::Digest>,
    ) -> Result<PushOutcome, StoreError> {
        let upload = packing::from_file(packed);
        let streamed = match streamed {
            Streamed::Started {
                location,
                sent,
                chunks,
            } => {
                match self
                    .send_rest(repo, location, sent, chunks, packed.layer.size)
                    .await
                {
                    Ok(location) => Some(location),
                    Err(e) => {
                        info!(reference = %repo.display, error = %e, "the upload while packing failed: sending the packed layer again");
                        None
                    }
                }
            }
            Streamed::Failed(e) => {
                info!(reference = %repo.display, error = %e, "the upload while packing failed: sending the packed layer again");
                None
            }
            Streamed::Small => {
                return self
                    .push_upload_over(repo, tagged, tag, upload, options, existing)
                    .await;
            }
        };
        match streamed {
            Some(location) => {
                let envelope = upload.envelope;
                let close = async {
                    self.close_upload(repo, &envelope.layer_digest, &location, Bytes::new())
                        .await?;
                    debug!(reference = %repo.display, digest = %envelope.layer_digest, size = envelope.layer_size, "uploaded while packed");
                    Ok(())
                };
                self.put_artifact(repo, tagged, tag, &envelope, PushStatus::Pushed, close)
                    .await
            }
            // The tag was new: the upload starts again, from the packed file.
            None => {
                self.push_upload_over(repo, tagged, tag, upload, options, None)
                    .await
            }
        }
    }

    /// Sends the layer into a new upload session as the packer writes it, once it is
    /// bigger than one chunk: a `PATCH` of exactly [`MAX_UPLOAD_CHUNK`] bytes, read from
    /// the packer's file, whenever that many more are written.
    async fn stream_layer(
        &self,
        tagged: &ArtifactRef,
        repo: &Repo<'_>,
        layer: &mut PackingLayer,
    ) -> Streamed {
        // A layer of at most one chunk goes up in one request, once packed.
        let Some(written) = layer.written_past(CHUNK).await else {
            return Streamed::Small;
        };
        let mut chunks = match written.file.as_deref().map(std::fs::File::try_clone) {
            Some(Ok(file)) => Chunks::growing(tokio::fs::File::from_std(file)),
            Some(Err(e)) => {
                return Streamed::Failed(StoreError::io(
                    "cannot read",
                    Path::new("the layer being packed"),
                    e,
                ));
            }
            None => return Streamed::Small,
        };
        let mut location = match self.bounded(tagged, self.open_upload(repo)).await {
            Ok(location) => location,
            Err(e) => return Streamed::Failed(e),
        };
        let mut sent = 0u64;
        while layer.written_past(sent + CHUNK - 1).await.is_some() {
            let chunk =
                self.patch_chunks(repo, &mut location, sent, sent + CHUNK, &mut chunks, |n| {
                    self.emit(|| ProgressEvent::StreamedBytes { n });
                });
            if let Err(e) = self.bounded(tagged, chunk).await {
                self.cancel_upload(repo, &location).await;
                return Streamed::Failed(e);
            }
            sent += CHUNK;
        }
        Streamed::Started {
            location,
            sent,
            chunks,
        }
    }

    /// Sends the bytes of the packed layer (`size` in all) from `sent` on, a chunk at a
    /// time, into the session at `location`; returns where the session goes on. A failure
    /// deletes the session.
    async fn send_rest(
        &self,
        repo: &Repo<'_>,
        mut location: String,
        sent: u64,
        mut chunks: Chunks,
        size: u64,
    ) -> Result<String, StoreError> {
        let rest = self.patch_chunks(repo, &mut location, sent, size, &mut chunks, |n| {
            self.emit(|| ProgressEvent::StreamedBytes { n });
        });
        if let Err(e) = rest.await {
            self.cancel_upload(repo, &location).await;
            return Err(e);
        }
        Ok(location)
    }

    /// Ends the upload session at `location` (`DELETE`) rather than leave it to expire;
    /// best effort: a registry that refuses is only logged.
    async fn cancel_upload(&self, repo: &Repo<'_>, location: &str) {
        let request = super::Request::new(
            reqwest::Method::DELETE,
            super::upload_target(location, None),
        );
        let send = self.send(repo, true, request);
        let sent = match self.timeout {
            Some(timeout) => match tokio::time::timeout(timeout, send).await {
                Ok(sent) => sent,
                Err(_) => {
                    debug!(reference = %repo.display, "cannot cancel the upload session: timed out");
                    return;
                }
            },
            None => send.await,
        };
        match sent {
            Ok(response) => {
                debug!(reference = %repo.display, status = response.status().as_u16(), "upload session cancelled");
            }
            Err(error) => {
                debug!(reference = %repo.display, %error, "cannot cancel the upload session")
            }
        }
    }
}
