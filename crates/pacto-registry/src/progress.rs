//! [`Progress`]: an observer of transfers, for a program that shows them (a progress bar).
//!
//! Unset, it costs one `Option` check per blob and per chunk.

use pacto_ref::Digest;
use std::fmt;
use std::sync::Arc;

/// Which way a blob goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Downloaded from a registry or read from an OCI layout (pull, the read side of copy).
    Download,
    /// Uploaded to a registry or written into an OCI layout (push, the write side of copy).
    Upload,
}

/// What a transfer did, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A blob of `size` bytes starts to move. Sent again for the same digest when a
    /// download that broke off is retried: its count starts again from zero.
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size in bytes (the descriptor's).
        size: u64,
        /// Download or upload.
        direction: Direction,
    },
    /// `n` more bytes of the blob moved: a received chunk of a download, an accepted
    /// request body of an upload, at most a MiB read from or written to a layout.
    BlobBytes {
        /// The blob.
        digest: Digest,
        /// Bytes moved since the previous event of this blob in this direction.
        n: u64,
        /// Download or upload, as in its `BlobStarted`: a copy moves the same digest both
        /// ways, first down from the source, then up to the destination.
        direction: Direction,
    },
    /// The blob moved entirely and was checked.
    BlobDone {
        /// The blob.
        digest: Digest,
        /// Download or upload, as in its `BlobStarted`.
        direction: Direction,
    },
    /// `n` more bytes of a layer uploaded while it is packed (a directory pushed to a new
    /// tag of a registry, [`crate::BundleStore::push_packing`]): its digest and size are
    /// known only once it is packed, so it has no `BlobStarted`, `BlobBytes` nor
    /// `BlobDone`. The first one says that bytes go up.
    StreamedBytes {
        /// Bytes accepted by the registry since the previous event.
        n: u64,
    },
    /// A fetch of several versions starts: `total` versions to pull.
    VersionsStarted {
        /// The number of versions.
        total: usize,
    },
    /// One version of a fetch of several ended.
    VersionDone {
        /// Its tag.
        tag: String,
        /// Whether it was pulled (false: it failed, and the fetch carries on).
        ok: bool,
    },
}

/// An observer of [`ProgressEvent`]s, called on the task doing the transfer (keep it quick:
/// update a counter or a progress bar). Cheap to clone.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl Progress {
    /// An observer calling `observer` with each event.
    pub fn new(observer: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(observer))
    }

    /// Sends `event` to the observer.
    pub fn emit(&self, event: &ProgressEvent) {
        (self.0)(event);
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Sends the event `make` builds, when there is an observer (the event is not built
/// otherwise).
pub(crate) fn emit(progress: Option<&Progress>, make: impl FnOnce() -> ProgressEvent) {
    if let Some(progress) = progress {
        progress.emit(&make());
    }
}
