//! The error of cache maintenance (list, verify, prune, clear).
//!
//! Pulls never fail because of the cache: a disk error there is logged and treated as a miss
//! (reads) or skipped (writes). Only the maintenance operations report disk errors.

use std::path::PathBuf;

/// A boxed cause from a lower layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a cache maintenance operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A file or directory of the cache could not be read, written or removed.
    #[error("cannot {action} {} in the cache directory", path.display())]
    #[non_exhaustive]
    Io {
        /// What was being done (`"read"`, `"remove"`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The background task doing the disk work was cancelled (the runtime shut down).
    #[error("cache {operation} did not finish")]
    #[non_exhaustive]
    Interrupted {
        /// The operation (`"verify"`, `"prune"`, ...).
        operation: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl CacheError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        CacheError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
