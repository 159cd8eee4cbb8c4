//! The resolver's error and its kinds.

use pacto_registry::{ErrorKind, StoreError};
use std::fmt;

/// The kind of a [`ResolveError`], for matching and exit codes: the store's kinds plus the
/// resolver's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResolveErrorKind {
    /// The reference could not be parsed or is of the wrong kind for the store.
    InvalidReference,
    /// The version constraint could not be parsed.
    InvalidConstraint,
    /// Nothing exists at the reference, the repository has no semver tags, or (offline) the
    /// cache does not hold it.
    NotFound,
    /// Every credential was rejected.
    Authentication,
    /// The registry could not be reached.
    Unreachable,
    /// The artifact is not a valid Pacto bundle.
    InvalidBundle,
    /// Tags exist, but none satisfies the constraint.
    NoMatchingVersion,
    /// A push met a tag holding a different artifact.
    Conflict,
    /// Anything else (local I/O, unexpected registry answers).
    Other,
}

impl ResolveErrorKind {
    /// The stable snake_case name (`invalid_reference`, `invalid_constraint`, `not_found`,
    /// `authentication`, `unreachable`, `invalid_bundle`, `no_matching_version`, `conflict`,
    /// `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveErrorKind::InvalidReference => "invalid_reference",
            ResolveErrorKind::InvalidConstraint => "invalid_constraint",
            ResolveErrorKind::NotFound => "not_found",
            ResolveErrorKind::Authentication => "authentication",
            ResolveErrorKind::Unreachable => "unreachable",
            ResolveErrorKind::InvalidBundle => "invalid_bundle",
            ResolveErrorKind::NoMatchingVersion => "no_matching_version",
            ResolveErrorKind::Conflict => "conflict",
            ResolveErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ResolveErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ErrorKind> for ResolveErrorKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidReference => ResolveErrorKind::InvalidReference,
            ErrorKind::NotFound => ResolveErrorKind::NotFound,
            ErrorKind::Authentication => ResolveErrorKind::Authentication,
            ErrorKind::Unreachable => ResolveErrorKind::Unreachable,
            ErrorKind::InvalidBundle => ResolveErrorKind::InvalidBundle,
            ErrorKind::Conflict => ResolveErrorKind::Conflict,
            // ErrorKind::Other and kinds added later.
            _ => ResolveErrorKind::Other,
        }
    }
}

/// An error from a [`Resolver`](crate::Resolver) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The reference text could not be parsed.
    #[error("{source}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it does not parse.
        #[source]
        source: Box<pacto_ref::InvalidReference>,
    },
    /// The constraint could not be parsed.
    #[error("cannot resolve {reference}: {source}")]
    InvalidConstraint {
        /// The reference being resolved.
        reference: String,
        /// The constraint as given.
        constraint: String,
        /// Why it does not parse.
        #[source]
        source: Box<pacto_ref::InvalidConstraint>,
    },
    /// Semver tags exist, but none satisfies the constraint.
    #[error("no versions of {reference} match constraint {constraint:?}: {}", available_text(.available))]
    NoMatchingVersion {
        /// The reference being resolved.
        reference: String,
        /// The constraint as given.
        constraint: String,
        /// The semver tags that were considered, newest first.
        available: Vec<String>,
    },
    /// Nothing to resolve to: no (semver) tags, or, offline, nothing cached.
    #[error("{reference} not found: {detail}")]
    NotFound {
        /// The reference being resolved.
        reference: String,
        /// What was missing and what to do.
        detail: String,
    },
    /// The store failed; its error is passed through unchanged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn available_text(available: &[String]) -> String {
    const SHOWN: usize = 10;
    match available.len() {
        0 => "no semver tags".to_owned(),
        n if n <= SHOWN => format!("available versions are {}", available.join(", ")),
        n => format!(
            "available versions include {} (and {} more)",
            available[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

impl ResolveError {
    /// The kind of this error; a store error keeps its store kind.
    pub fn kind(&self) -> ResolveErrorKind {
        match self {
            ResolveError::InvalidReference { .. } => ResolveErrorKind::InvalidReference,
            ResolveError::InvalidConstraint { .. } => ResolveErrorKind::InvalidConstraint,
            ResolveError::NoMatchingVersion { .. } => ResolveErrorKind::NoMatchingVersion,
            ResolveError::NotFound { .. } => ResolveErrorKind::NotFound,
            ResolveError::Store(e) => e.kind().into(),
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
}
