//! One error for every facade operation, with a kind callers can match.

use pacto_registry::StoreError;
use pacto_resolver::{ResolveError, ResolveErrorKind};
use std::fmt;

/// What kind of failure an [`Error`] is: Go pacto's typed errors, plus the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The reference could not be parsed.
    InvalidReference,
    /// The version constraint could not be parsed.
    InvalidConstraint,
    /// The manifest, tag, repository or cache entry does not exist.
    NotFound,
    /// The registry rejected every credential offered.
    Authentication {
        /// Keychain sources tried, in order.
        tried: Vec<String>,
        /// Sources whose credentials were rejected.
        rejected: Vec<String>,
    },
    /// The registry could not be reached.
    Unreachable {
        /// True when trying again later may succeed.
        transient: bool,
    },
    /// The artifact is not a valid Pacto bundle.
    InvalidBundle,
    /// No version satisfies the constraint.
    NoMatchingVersion,
    /// A push would overwrite a different artifact.
    Conflict,
    /// Anything else (local I/O, unexpected registry answers).
    Other,
}

impl ErrorKind {
    /// The stable snake_case name (`invalid_reference`, `not_found`, `authentication`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::InvalidReference => "invalid_reference",
            ErrorKind::InvalidConstraint => "invalid_constraint",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Authentication { .. } => "authentication",
            ErrorKind::Unreachable { .. } => "unreachable",
            ErrorKind::InvalidBundle => "invalid_bundle",
            ErrorKind::NoMatchingVersion => "no_matching_version",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a facade operation: its [`ErrorKind`] and the typed error of the layer that
/// failed, as the [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Wraps `source` with an explicit kind.
    pub fn new(
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error {
            kind,
            source: source.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The message already is the layer's own; its cause comes next.
        self.source.source()
    }
}

fn store_kind(error: &StoreError) -> ErrorKind {
    match error {
        StoreError::Authentication {
            tried, rejected, ..
        } => ErrorKind::Authentication {
            tried: tried.clone(),
            rejected: rejected.clone(),
        },
        StoreError::Unreachable { transient, .. } => ErrorKind::Unreachable {
            transient: *transient,
        },
        other => match other.kind() {
            pacto_registry::ErrorKind::InvalidReference => ErrorKind::InvalidReference,
            pacto_registry::ErrorKind::NotFound => ErrorKind::NotFound,
            pacto_registry::ErrorKind::InvalidBundle => ErrorKind::InvalidBundle,
            pacto_registry::ErrorKind::Conflict => ErrorKind::Conflict,
            _ => ErrorKind::Other,
        },
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::new(store_kind(&error), error)
    }
}

impl From<ResolveError> for Error {
    fn from(error: ResolveError) -> Self {
        let kind = match (&error, error.kind()) {
            (ResolveError::Store(store), _) => store_kind(store),
            (_, ResolveErrorKind::InvalidReference) => ErrorKind::InvalidReference,
            (_, ResolveErrorKind::InvalidConstraint) => ErrorKind::InvalidConstraint,
            (_, ResolveErrorKind::NotFound) => ErrorKind::NotFound,
            (_, ResolveErrorKind::InvalidBundle) => ErrorKind::InvalidBundle,
            (_, ResolveErrorKind::NoMatchingVersion) => ErrorKind::NoMatchingVersion,
            (_, ResolveErrorKind::Conflict) => ErrorKind::Conflict,
            (_, ResolveErrorKind::Unreachable) => ErrorKind::Unreachable { transient: false },
            (_, ResolveErrorKind::Authentication) => ErrorKind::Authentication {
                tried: Vec::new(),
                rejected: Vec::new(),
            },
            _ => ErrorKind::Other,
        };
        Error::new(kind, error)
    }
}

impl From<pacto_contract::BundleError> for Error {
    fn from(error: pacto_contract::BundleError) -> Self {
        // A source directory that is not a bundle is the user's input: an invalid bundle.
        Error::new(ErrorKind::InvalidBundle, error)
    }
}

impl From<pacto_archive::UnpackError> for Error {
    fn from(error: pacto_archive::UnpackError) -> Self {
        let kind = if error.is_invalid_bundle() {
            ErrorKind::InvalidBundle
        } else {
            ErrorKind::Other
        };
        Error::new(kind, error)
    }
}

impl From<pacto_archive::ArchiveError> for Error {
    fn from(error: pacto_archive::ArchiveError) -> Self {
        let kind = if error.is_invalid_bundle() {
            ErrorKind::InvalidBundle
        } else {
            ErrorKind::Other
        };
        Error::new(kind, error)
    }
}

impl From<pacto_auth::ConfigError> for Error {
    fn from(error: pacto_auth::ConfigError) -> Self {
        Error::new(ErrorKind::Other, error)
    }
}

impl From<pacto_cache::CacheError> for Error {
    fn from(error: pacto_cache::CacheError) -> Self {
        Error::new(ErrorKind::Other, error)
    }
}

impl From<pacto_ref::InvalidReference> for Error {
    fn from(error: pacto_ref::InvalidReference) -> Self {
        Error::new(ErrorKind::InvalidReference, error)
    }
}
