//! Where the bytes of a downloaded blob go: memory, or a file of a blob directory written
//! on the blocking pool while the network keeps streaming.

use crate::StoreError;
use bytes::Bytes;
use pacto_fs::{BlobDir, BlobError, Sha256};
use pacto_ref::Digest;
use std::io::Write as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks in flight between the network and the file writer: the memory a file download
/// holds is at most this many chunks, whatever the blob's size.
const CHUNKS_IN_FLIGHT: usize = 16;

/// A message to the file writer.
pub(crate) enum ToWriter {
    Chunk(Bytes),
    /// Every byte was sent: verify and rename into place. Without it, the temporary file is
    /// dropped (removed).
    Commit,
}

/// The destination of one download attempt; a broken attempt drops its sink (nothing of it
/// stays) and the next attempt starts a new one.
pub(crate) enum BlobSink {
    Memory {
        hasher: Sha256,
        body: Vec<u8>,
    },
    File {
        sender: mpsc::Sender<ToWriter>,
        writer: JoinHandle<Result<(), StoreError>>,
    },
}

impl BlobSink {
    /// Collects the blob in memory (room for `size` bytes, up to 64 MiB reserved up front).
    pub(crate) fn memory(size: u64) -> Self {
        let room = usize::try_from(size.min(64 * 1024 * 1024)).unwrap_or(0);
        BlobSink::Memory {
            hasher: Sha256::new(),
            body: Vec::with_capacity(room),
        }
    }

    /// Streams the blob into `blobs`, where it appears under `digest` only once all `size`
    /// bytes arrived and hash to it.
    pub(crate) fn file(display: &str, blobs: &BlobDir, digest: &Digest, size: u64) -> Self {
        let (sender, mut receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let (blobs, digest, display) = (blobs.clone(), digest.clone(), display.to_owned());
        let writer = tokio::task::spawn_blocking(move || {
            let mut file = blobs.writer().map_err(blob_failure)?;
            while let Some(message) = receiver.blocking_recv() {
                match message {
                    ToWriter::Chunk(chunk) => file
                        .write_all(&chunk)
                        .map_err(|e| StoreError::io("cannot write", file.path(), e))?,
                    ToWriter::Commit => {
                        return match file.finish(Some(&digest), Some(size)) {
                            Ok(_) => Ok(()),
                            Err(BlobError::DigestMismatch { actual, .. }) => {
                                Err(mismatch(&display, &digest, &actual))
                            }
                            Err(e) => Err(blob_failure(e)),
                        };
                    }
                }
            }
            // The download was abandoned: the temporary file goes with `file`.
            Err(interrupted())
        });
        BlobSink::File { sender, writer }
    }

    /// Takes the next chunk.
    pub(crate) async fn put(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        match self {
            BlobSink::Memory { hasher, body } => {
                hasher.update(&chunk);
                body.extend_from_slice(&chunk);
                Ok(())
            }
            BlobSink::File { sender, .. } => {
                if sender.send(ToWriter::Chunk(chunk)).await.is_ok() {
                    return Ok(());
                }
                // The writer stopped: its error says why.
                Err(self.writer_failure().await)
            }
        }
    }

    /// Every byte arrived (the caller counted exactly the expected size): checks the digest
    /// and returns the bytes of a memory sink; a file sink's blob is in place when this
    /// returns `Ok`.
    pub(crate) async fn finish(
        self,
        display: &str,
        digest: &Digest,
    ) -> Result<Option<Bytes>, StoreError> {
        match self {
            BlobSink::Memory { hasher, body } => {
                let (actual, _) = hasher.finish();
                if actual != *digest {
                    return Err(mismatch(display, digest, &actual));
                }
                Ok(Some(Bytes::from(body)))
            }
            BlobSink::File { sender, writer } => {
                let sent = sender.send(ToWriter::Commit).await;
                drop(sender);
                match writer.await {
                    Ok(Ok(())) if sent.is_ok() => Ok(None),
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(())) | Err(_) => Err(interrupted()),
                }
            }
        }
    }

    /// Why the file writer stopped before the download ended.
    async fn writer_failure(&mut self) -> StoreError {
        let BlobSink::File { writer, .. } = self else {
            return interrupted();
        };
        match writer.await {
            Ok(Err(e)) => e,
            Ok(Ok(())) | Err(_) => interrupted(),
        }
    }
}

fn mismatch(display: &str, expected: &Digest, actual: &Digest) -> StoreError {
    StoreError::invalid_bundle(
        display,
        format!("layer digest mismatch: expected {expected}, the bytes hash to {actual}"),
    )
}

fn interrupted() -> StoreError {
    StoreError::Io {
        action: "cannot write the downloaded layer",
        path: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::Interrupted, "the writer task stopped"),
    }
}

/// A blob directory failure while storing a download.
pub(crate) fn blob_failure(error: BlobError) -> StoreError {
    match error {
        BlobError::Io { path, source, .. } => {
            StoreError::io("cannot write the downloaded layer to", &path, source)
        }
        other => StoreError::Io {
            action: "cannot store the downloaded layer",
            path: String::new(),
            source: std::io::Error::other(other),
        },
    }
}
