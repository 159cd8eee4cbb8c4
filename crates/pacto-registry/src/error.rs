//! The store error: one type for every `BundleStore` operation, matchable by kind.

use std::fmt;

/// A boxed cause from a lower layer or a foreign crate.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The kind of a [`StoreError`], mirroring Go pacto's typed errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The reference could not be parsed or is of the wrong kind for this store.
    InvalidReference,
    /// The manifest, tag, blob or repository does not exist.
    NotFound,
    /// Every credential was rejected (or none was accepted).
    Authentication,
    /// The registry could not be reached, timed out, or kept failing.
    Unreachable,
    /// The artifact is not a valid Pacto bundle (layout, limits, digests, contract).
    InvalidBundle,
    /// The tag holds a different artifact and the push was not forced, or another push
    /// changed it while this one ran.
    Conflict,
    /// Anything else: local I/O, unexpected registry answers.
    Other,
}

impl ErrorKind {
    /// The stable snake_case name used in JSON output (`invalid_reference`, `not_found`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidReference => "invalid_reference",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::InvalidBundle => "invalid_bundle",
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

/// The registry's own error code and message, as sent in its `{"errors":[...]}` body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryMessage {
    /// HTTP status of the answer.
    pub status: u16,
    /// The first error code (`MANIFEST_UNKNOWN`, `DENIED`, ...), if the body had one.
    pub code: Option<String>,
    /// The registry's message for that code, if any.
    pub message: Option<String>,
}

impl fmt::Display for RegistryMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => write!(f, " {code}: {message}"),
            (Some(code), None) => write!(f, " {code}"),
            (None, Some(message)) => write!(f, ": {message}"),
            (None, None) => Ok(()),
        }
    }
}

/// An error from a [`BundleStore`](crate::BundleStore) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The reference could not be parsed, or names a store of another kind.
    #[error("invalid OCI reference \"{reference}\": {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it was refused.
        reason: String,
    },
    /// Nothing exists at the reference.
    #[error("{reference} not found: {detail}")]
    NotFound {
        /// The reference that was looked up.
        reference: String,
        /// What the registry or layout said.
        detail: String,
    },
    /// Every credential source was rejected, or none was accepted.
    #[error("{}", auth_message(.reference, .registry, .tried, .rejected, .detail))]
    Authentication {
        /// The reference being accessed.
        reference: String,
        /// The registry host.
        registry: String,
        /// The keychain sources tried, in order (`"env token"`, `"pacto login"`, ...).
        tried: Vec<String>,
        /// The sources whose credentials the registry rejected.
        rejected: Vec<String>,
        /// The registry's last answer.
        detail: String,
    },
    /// The registry could not be reached or kept failing.
    #[error("registry {registry} unreachable for {reference}: {detail}")]
    Unreachable {
        /// The reference being accessed.
        reference: String,
        /// The registry host.
        registry: String,
        /// True when a later attempt may succeed (timeouts, resets, 429, 5xx).
        transient: bool,
        /// What went wrong.
        detail: String,
        /// The underlying cause.
        #[source]
        source: Option<BoxError>,
    },
    /// The artifact is not a valid Pacto bundle.
    #[error("artifact at {reference} is not a valid Pacto bundle: {reason}")]
    InvalidBundle {
        /// The reference pulled.
        reference: String,
        /// The rule that was broken.
        reason: String,
        /// The underlying cause (archive, contract or digest error).
        #[source]
        source: Option<BoxError>,
    },
    /// The tag already holds a different artifact.
    #[error(
        "{reference} already holds a different artifact ({existing}, pushing {pushing}); \
         push with --force to overwrite it or choose another tag"
    )]
    Conflict {
        /// The tagged reference.
        reference: String,
        /// The digest the tag points to now.
        existing: String,
        /// The digest that was about to be pushed.
        pushing: String,
    },
    /// Another push changed the tag while this one ran: re-read right after this push's
    /// manifest upload, the tag no longer holds what was pushed. The distribution API has no
    /// compare-and-swap, so of two concurrent pushes to one tag the last manifest upload
    /// wins; this is how the loser learns of it.
    #[error("{}", race_message(.reference, .pushed, .now.as_deref()))]
    PushRace {
        /// The tagged reference.
        reference: String,
        /// The digest this push uploaded.
        pushed: String,
        /// The digest the tag holds now (`None`: the tag was deleted).
        now: Option<String>,
    },
    /// The registry answered in a way no rule above covers.
    #[error("registry error for {reference}: {registry_message}")]
    Registry {
        /// The reference being accessed.
        reference: String,
        /// The registry's answer.
        registry_message: RegistryMessage,
    },
    /// A local I/O failure (layout directory, temp files).
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`"cannot write"`, ...).
        action: &'static str,
        /// The path involved.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bundle could not be packed for a push: nothing was uploaded or written. An
    /// invalid bundle (a limit, a path) when [`pacto_archive::ArchiveError::is_invalid_bundle`].
    #[error("cannot pack the bundle for {reference}")]
    Pack {
        /// The reference being pushed.
        reference: String,
        /// The cause, which names the file and the rule or limit.
        source: pacto_archive::ArchiveError,
    },
}

fn auth_message(
    reference: &str,
    registry: &str,
    tried: &[String],
    rejected: &[String],
    detail: &str,
) -> String {
    let mut message = format!("authentication to {registry} failed for {reference}");
    if tried.is_empty() {
        message.push_str(" (no credentials found");
    } else {
        message.push_str(&format!(" (tried: {}", tried.join(", ")));
        if !rejected.is_empty() {
            message.push_str(&format!("; rejected: {}", rejected.join(", ")));
        }
    }
    message.push_str(&format!(
        "): {detail}; run `pacto-oci login {registry}`, set PACTO_REGISTRY_TOKEN, \
         or `pacto-oci logout {registry}` to drop a stale credential"
    ));
    message
}

fn race_message(reference: &str, pushed: &str, now: Option<&str>) -> String {
    let now = match now {
        Some(digest) => format!("now holds {digest}"),
        None => "no longer exists".to_owned(),
    };
    format!(
        "another push changed {reference} while this one ran: the tag {now}, not the \
         {pushed} just pushed; check which bundle it should hold before pushing again"
    )
}

impl StoreError {
    /// The kind of this error, for matching and for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::InvalidReference { .. } => ErrorKind::InvalidReference,
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::Authentication { .. } => ErrorKind::Authentication,
            StoreError::Unreachable { .. } => ErrorKind::Unreachable,
            StoreError::InvalidBundle { .. } => ErrorKind::InvalidBundle,
            StoreError::Conflict { .. } | StoreError::PushRace { .. } => ErrorKind::Conflict,
            StoreError::Pack { source, .. } if source.is_invalid_bundle() => {
                ErrorKind::InvalidBundle
            }
            StoreError::Registry { .. } | StoreError::Io { .. } | StoreError::Pack { .. } => {
                ErrorKind::Other
            }
        }
    }

    /// True when retrying later may succeed (only for [`ErrorKind::Unreachable`]).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable {
                transient: true,
                ..
            }
        )
    }

    pub(crate) fn invalid_bundle(reference: impl fmt::Display, reason: impl Into<String>) -> Self {
        StoreError::InvalidBundle {
            reference: reference.to_string(),
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}
