//! The resolver's error.

use pacto_ref::{ErrorKind, Unresolvable};
use pacto_registry::StoreError;

/// An error from a [`Resolver`](crate::Resolver) operation.
///
/// Each variant either prints its whole story or passes a lower error through unchanged
/// (`#[error(transparent)]`): no message repeats its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The reference text could not be parsed.
    #[error(transparent)]
    InvalidReference(pacto_ref::InvalidReference),
    /// The constraint does not parse, or no tag of the repository could be chosen (no semver
    /// tag, none matching the constraint): [`pacto_ref::resolve_ref`]'s own failure, with
    /// the versions that were available.
    #[error(transparent)]
    Unresolvable(Box<Unresolvable>),
    /// Offline, the cache does not hold what was asked for.
    #[error("{reference} not found: {detail}")]
    #[non_exhaustive]
    NotFound {
        /// The reference being resolved.
        reference: String,
        /// What was missing.
        detail: NotCached,
    },
    /// The store failed; its error is passed through unchanged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an offline resolution could not find in the cache.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotCached {
    /// The reference itself is not cached.
    #[error("it is not in the local cache; resolve it once with network access")]
    Reference,
    /// No version of the repository is cached.
    #[error("no version of it is in the local cache; resolve it once with network access")]
    Repository,
    /// Cached versions match, but none of them could be read.
    #[error(
        "the cached versions that match ({}) could not be read; resolve it with network access",
        .unreadable.join(", ")
    )]
    #[non_exhaustive]
    Unreadable {
        /// The matching tags whose cached copies are unusable, best first.
        unreadable: Vec<String>,
    },
}

impl ResolveError {
    /// The kind of this error; a store error keeps its store kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ResolveError::InvalidReference(_) => ErrorKind::InvalidReference,
            ResolveError::Unresolvable(e) => e.kind(),
            ResolveError::NotFound { .. } => ErrorKind::NotFound,
            ResolveError::Store(e) => e.kind(),
        }
    }

    /// True when retrying later may succeed (a transient store failure).
    pub fn is_transient(&self) -> bool {
        matches!(self, ResolveError::Store(e) if e.is_transient())
    }

    /// The store error, when that is what this is.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            ResolveError::Store(e) => Some(e),
            _ => None,
        }
    }

    /// The semver versions that were available when no version matched the constraint,
    /// newest first; empty for every other failure.
    pub fn available(&self) -> Vec<String> {
        match self {
            ResolveError::Unresolvable(e) if e.kind() == ErrorKind::NoMatchingVersion => {
                e.available()
            }
            _ => Vec::new(),
        }
    }
}

impl From<pacto_ref::ResolveError<StoreError>> for ResolveError {
    fn from(error: pacto_ref::ResolveError<StoreError>) -> Self {
        match error {
            pacto_ref::ResolveError::Select(e) => ResolveError::Unresolvable(Box::new(e)),
            pacto_ref::ResolveError::List(e) => ResolveError::Store(e),
        }
    }
}
