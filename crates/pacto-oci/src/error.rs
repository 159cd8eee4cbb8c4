//! One error for every facade operation: a kind callers can match, and the typed error of
//! the layer that failed as its source.

use pacto_registry::StoreError;
use pacto_resolver::ResolveError;
use std::fmt;

/// The workspace's one kind enum (defined in `pacto-ref`, the same type as
/// `pacto_registry::ErrorKind` and `pacto_resolver::ErrorKind`).
pub use pacto_ref::ErrorKind;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a facade operation.
///
/// [`Error::kind`] is Go pacto's typed error, for matching and exit codes. The
/// [`source`](std::error::Error::source) is the typed error of the layer that failed
/// (`StoreError`, `ResolveError`, `BundleError`, ...), reachable with a downcast or the
/// accessors ([`Error::store_error`], [`Error::resolve_error`]). The error's own message
/// says only what was being done ("cannot pull"); the layer error says what went wrong, so
/// a printed chain never repeats itself.
///
/// ```
/// # fn f(error: &pacto_oci::Error) {
/// use pacto_oci::ErrorKind;
/// match error.kind() {
///     ErrorKind::NoMatchingVersion => {
///         let available = error.resolve_error().map(|e| e.available()).unwrap_or_default();
///         eprintln!("try one of {available:?}");
///     }
///     ErrorKind::Unreachable if error.is_transient() => eprintln!("try again later"),
///     _ => eprintln!("{error}"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    context: Option<&'static str>,
    // Boxed: results stay small on the happy path.
    inner: Box<Inner>,
}

#[derive(Debug)]
enum Inner {
    /// A whole message with no cause (a caller's own check).
    Message(String),
    Store(StoreError),
    Resolve(ResolveError),
    Other(BoxError),
}

impl Error {
    /// An error of `kind` caused by `source` (any error: a layer's, an I/O error, ...).
    pub fn new(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        let inner = match source.downcast::<StoreError>() {
            Ok(store) => Inner::Store(*store),
            Err(source) => match source.downcast::<ResolveError>() {
                Ok(resolve) => Inner::Resolve(*resolve),
                Err(source) => Inner::Other(source),
            },
        };
        Error {
            kind,
            context: None,
            inner: Box::new(inner),
        }
    }

    /// An error of `kind` that is only a message: it has no source.
    pub fn message(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            context: None,
            inner: Box::new(Inner::Message(message.into())),
        }
    }

    /// The same error, saying what was being done (`"cannot pull"`); this is its message
    /// when it has a source.
    pub fn with_context(mut self, context: &'static str) -> Self {
        self.context = Some(context);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The store error (registry, layout or cache) behind this one, also when it reached
    /// the facade through the resolver.
    pub fn store_error(&self) -> Option<&StoreError> {
        match &*self.inner {
            Inner::Store(e) => Some(e),
            Inner::Resolve(e) => e.store_error(),
            _ => None,
        }
    }

    /// The bundle writer's error behind this one (a refused output path, say:
    /// [`WriteError::is_refusal`](pacto_archive::WriteError::is_refusal)).
    pub fn write_error(&self) -> Option<&pacto_archive::WriteError> {
        match &*self.inner {
            Inner::Other(e) => e.downcast_ref(),
            _ => None,
        }
    }

    /// The resolver's error behind this one (for [`ResolveError::available`], say).
    pub fn resolve_error(&self) -> Option<&ResolveError> {
        match &*self.inner {
            Inner::Resolve(e) => Some(e),
            _ => None,
        }
    }

    /// True when trying again later may succeed (a transient unreachable registry).
    pub fn is_transient(&self) -> bool {
        self.store_error().is_some_and(StoreError::is_transient)
    }

    /// For an authentication failure: the credential sources tried, in order, and those the
    /// registry rejected (`"env token"`, `"pacto login"`, `"gh"`, `"docker"`).
    pub fn credential_sources(&self) -> Option<(&[String], &[String])> {
        match self.store_error()? {
            StoreError::Authentication {
                tried, rejected, ..
            } => Some((tried, rejected)),
            _ => None,
        }
    }
}

/// What a failure of `kind` is called when no operation was named.
fn summary(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidReference => "invalid reference",
        ErrorKind::InvalidConstraint => "invalid constraint",
        ErrorKind::NotFound => "not found",
        ErrorKind::Authentication => "authentication failed",
        ErrorKind::Unreachable => "registry unreachable",
        ErrorKind::InvalidBundle => "invalid bundle",
        ErrorKind::NoMatchingVersion => "no matching version",
        ErrorKind::Conflict => "conflict",
        _ => "failed",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&*self.inner, self.context) {
            (Inner::Message(message), None) => f.write_str(message),
            (Inner::Message(message), Some(context)) => write!(f, "{context}: {message}"),
            (_, Some(context)) => f.write_str(context),
            (_, None) => f.write_str(summary(self.kind)),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Inner::Message(_) => None,
            Inner::Store(e) => Some(e),
            Inner::Resolve(e) => Some(e),
            Inner::Other(e) => Some(&**e),
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::new(error.kind(), error)
    }
}

impl From<ResolveError> for Error {
    fn from(error: ResolveError) -> Self {
        Error::new(error.kind(), error)
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

impl From<pacto_archive::WriteError> for Error {
    fn from(error: pacto_archive::WriteError) -> Self {
        let kind = match &error {
            pacto_archive::WriteError::Unpack { source } if source.is_invalid_bundle() => {
                ErrorKind::InvalidBundle
            }
            // The layer's bytes are not what its digest says (a damaged cache file).
            pacto_archive::WriteError::Unpack { source }
                if pacto_fs::VerifyingReader::<()>::mismatch(source).is_some() =>
            {
                ErrorKind::InvalidBundle
            }
            _ => ErrorKind::Other,
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

impl From<crate::env::InvalidSetting> for Error {
    fn from(error: crate::env::InvalidSetting) -> Self {
        Error::new(ErrorKind::Other, error)
    }
}
