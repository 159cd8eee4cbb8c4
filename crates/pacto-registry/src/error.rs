//! The store error: one type for every `BundleStore` operation, matchable by kind.

use crate::duration::DisplayDuration;
use crate::transport::LowSpeedLimit;
use pacto_ref::Digest;
use std::fmt;
use std::time::Duration;

/// A boxed cause from a lower layer or a foreign crate.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The kind of a [`StoreError`]: the workspace's one kind enum, defined in `pacto-ref`.
pub use pacto_ref::ErrorKind;

/// The registry's own error code and message, as sent in its `{"errors":[...]}` body.
///
/// The struct is `#[non_exhaustive]`: make one with [`RegistryMessage::new`] and the
/// `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RegistryMessage {
    /// HTTP status of the answer.
    pub status: u16,
    /// The first error code (`MANIFEST_UNKNOWN`, `DENIED`, ...), if the body had one.
    pub code: Option<String>,
    /// The registry's message for that code, if any.
    pub message: Option<String>,
}

impl RegistryMessage {
    /// An answer with HTTP status `status` and no error code or message.
    pub fn new(status: u16) -> Self {
        RegistryMessage {
            status,
            code: None,
            message: None,
        }
    }

    /// This answer with the registry's error code (`MANIFEST_UNKNOWN`, `DENIED`, ...).
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// This answer with the registry's message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
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

/// What was wrong with the TLS certificate a registry (or its token service) presented.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// No trusted certificate authority issued it: a private CA or a self-signed certificate
    /// that is not among the trusted ones.
    UnknownIssuer,
    /// It is not valid for the name or address the registry was reached under.
    #[non_exhaustive]
    NameMismatch {
        /// The name or address asked for.
        expected: String,
        /// The names and addresses the certificate is valid for.
        presented: Vec<String>,
    },
    /// Its validity period has ended.
    Expired,
    /// Its validity period has not begun.
    NotYetValid,
    /// Its issuer revoked it.
    Revoked,
    /// It is not meant for TLS servers (extended key usage).
    InvalidPurpose,
    /// Any other certificate failure, as the TLS library words it.
    #[non_exhaustive]
    Other {
        /// The TLS library's description.
        description: String,
    },
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateProblem::UnknownIssuer => f.write_str("unknown issuer"),
            CertificateProblem::NameMismatch {
                expected,
                presented,
            } if presented.is_empty() => write!(f, "name mismatch: it is not valid for {expected}"),
            CertificateProblem::NameMismatch {
                expected,
                presented,
            } => write!(
                f,
                "name mismatch: it is valid for {}, not for {expected}",
                presented.join(", ")
            ),
            CertificateProblem::Expired => f.write_str("expired"),
            CertificateProblem::NotYetValid => f.write_str("not valid yet"),
            CertificateProblem::Revoked => f.write_str("revoked"),
            CertificateProblem::InvalidPurpose => {
                f.write_str("not valid for TLS servers (extended key usage)")
            }
            CertificateProblem::Other { description } => f.write_str(description),
        }
    }
}

/// A bound on how long a transfer may take, as reported by [`StoreError::TimedOut`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeLimit {
    /// The operation's deadline ([`RegistryClientBuilder::timeout`](crate::RegistryClientBuilder::timeout)).
    #[non_exhaustive]
    Deadline {
        /// The time the operation was given.
        timeout: Duration,
    },
    /// The low-speed limit ([`RegistryClientBuilder::low_speed_limit`](crate::RegistryClientBuilder::low_speed_limit)).
    LowSpeed(LowSpeedLimit),
}

impl TimeLimit {
    /// The deadline `timeout` given to a whole operation.
    pub fn deadline(timeout: Duration) -> Self {
        TimeLimit::Deadline { timeout }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeLimit::Deadline { timeout } => {
                write!(
                    f,
                    "the deadline of {} was reached",
                    DisplayDuration(*timeout)
                )
            }
            TimeLimit::LowSpeed(limit) => write!(
                f,
                "the transfer moved less than {} bytes per second over {}, and was aborted",
                limit.bytes_per_second,
                DisplayDuration(limit.window)
            ),
        }
    }
}

/// An error from a [`BundleStore`](crate::BundleStore) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The reference could not be parsed, or names a store of another kind.
    #[error("invalid OCI reference \"{reference}\": {reason}")]
    #[non_exhaustive]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it was refused.
        reason: String,
    },
    /// Nothing exists at the reference.
    #[error("{reference} not found: {detail}")]
    #[non_exhaustive]
    NotFound {
        /// The reference that was looked up.
        reference: String,
        /// What the registry or layout said.
        detail: String,
    },
    /// Every credential source was rejected, or none was accepted.
    #[error("{}", auth_message(.reference, .registry, .tried, .rejected, .detail))]
    #[non_exhaustive]
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
    #[non_exhaustive]
    Unreachable {
        /// The reference being accessed.
        reference: String,
        /// The registry host.
        registry: String,
        /// True when a later attempt may succeed (timeouts, resets, 429, 5xx).
        transient: bool,
        /// What went wrong, with the transport's whole cause chain.
        detail: String,
    },
    /// The registry (or its token service) presented a TLS certificate that is not trusted;
    /// kind [`ErrorKind::Unreachable`], not transient. Plain http is never tried after this.
    #[error(
        "registry {registry} unreachable for {reference}: its TLS certificate was refused: {problem}"
    )]
    #[non_exhaustive]
    Certificate {
        /// The reference being accessed.
        reference: String,
        /// The host whose certificate was refused (the registry, or its token service).
        registry: String,
        /// What is wrong with the certificate.
        problem: CertificateProblem,
    },
    /// A deadline or the low-speed limit ended the operation; kind
    /// [`ErrorKind::Unreachable`], transient.
    #[error("registry {registry} unreachable for {reference}: {limit}")]
    #[non_exhaustive]
    TimedOut {
        /// The reference being accessed.
        reference: String,
        /// The registry host.
        registry: String,
        /// Which bound was reached.
        limit: TimeLimit,
    },
    /// The registry answered with something no client could use (a tag listing that loops or
    /// exceeds the bounds); kind [`ErrorKind::Other`].
    #[error("registry {registry} sent an unusable answer for {reference}: {reason}")]
    #[non_exhaustive]
    InvalidResponse {
        /// The reference being accessed.
        reference: String,
        /// The registry host.
        registry: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The artifact is not a valid Pacto bundle (its manifest, config or index breaks a rule).
    #[error("artifact at {reference} is not a valid Pacto bundle: {reason}")]
    #[non_exhaustive]
    InvalidBundle {
        /// The reference pulled.
        reference: String,
        /// The rule that was broken.
        reason: String,
    },
    /// The artifact's layer is not a valid bundle archive: the archive's refusal is the
    /// source; kind [`ErrorKind::InvalidBundle`].
    #[error("artifact at {reference} is not a valid Pacto bundle")]
    #[non_exhaustive]
    Unpack {
        /// The reference pulled.
        reference: String,
        /// What the archive reader refused.
        #[source]
        source: pacto_archive::UnpackError,
    },
    /// The tag already holds a different artifact.
    #[error("{reference} already holds a different artifact ({existing}, pushing {pushing})")]
    #[non_exhaustive]
    Conflict {
        /// The tagged reference.
        reference: String,
        /// The digest the tag points to now.
        existing: Digest,
        /// The digest that was about to be pushed.
        pushing: Digest,
    },
    /// Another push changed the tag while this one ran: re-read right after this push's
    /// manifest upload, the tag no longer holds what was pushed. The distribution API has no
    /// compare-and-swap, so of two concurrent pushes to one tag the last manifest upload
    /// wins; this is how the loser learns of it.
    #[error("{}", race_message(.reference, .pushed, .now.as_ref()))]
    #[non_exhaustive]
    PushRace {
        /// The tagged reference.
        reference: String,
        /// The digest this push uploaded.
        pushed: Digest,
        /// The digest the tag holds now (`None`: the tag was deleted).
        now: Option<Digest>,
    },
    /// The registry answered in a way no rule above covers.
    #[error("registry error for {reference}: {registry_message}")]
    #[non_exhaustive]
    Registry {
        /// The reference being accessed.
        reference: String,
        /// The registry's answer.
        registry_message: RegistryMessage,
    },
    /// A local I/O failure (layout directory, temp files).
    #[error("{action} {path}")]
    #[non_exhaustive]
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
    #[non_exhaustive]
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
    message.push_str(&format!("): {detail}"));
    message
}

fn race_message(reference: &str, pushed: &Digest, now: Option<&Digest>) -> String {
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
            StoreError::Unreachable { .. }
            | StoreError::Certificate { .. }
            | StoreError::TimedOut { .. } => ErrorKind::Unreachable,
            StoreError::InvalidBundle { .. } | StoreError::Unpack { .. } => {
                ErrorKind::InvalidBundle
            }
            StoreError::Conflict { .. } | StoreError::PushRace { .. } => ErrorKind::Conflict,
            StoreError::Pack { source, .. } if source.is_invalid_bundle() => {
                ErrorKind::InvalidBundle
            }
            StoreError::Registry { .. }
            | StoreError::InvalidResponse { .. }
            | StoreError::Io { .. }
            | StoreError::Pack { .. } => ErrorKind::Other,
        }
    }

    /// True when retrying later may succeed (only for [`ErrorKind::Unreachable`]).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable {
                transient: true,
                ..
            } | StoreError::TimedOut { .. }
        )
    }

    /// The certificate problem, when this error is a refused TLS certificate.
    pub fn certificate_problem(&self) -> Option<&CertificateProblem> {
        match self {
            StoreError::Certificate { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The bound that was reached, when this error is a timeout.
    pub fn time_limit(&self) -> Option<TimeLimit> {
        match self {
            StoreError::TimedOut { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    // Constructors, for `BundleStore` implementations and wrappers outside this crate (the
    // struct variants are `#[non_exhaustive]`, so they cannot be written as literals there).

    /// [`StoreError::InvalidReference`]: `reference` was refused for `reason`.
    pub fn invalid_reference(reference: impl fmt::Display, reason: impl Into<String>) -> Self {
        StoreError::InvalidReference {
            reference: reference.to_string(),
            reason: reason.into(),
        }
    }

    /// [`StoreError::NotFound`]: nothing exists at `reference`; `detail` says what the store
    /// answered.
    pub fn not_found(reference: impl fmt::Display, detail: impl Into<String>) -> Self {
        StoreError::NotFound {
            reference: reference.to_string(),
            detail: detail.into(),
        }
    }

    /// [`StoreError::Unreachable`]: `registry` could not be reached for `reference`;
    /// `transient` when a later attempt may succeed.
    pub fn unreachable(
        reference: impl fmt::Display,
        registry: impl Into<String>,
        transient: bool,
        detail: impl Into<String>,
    ) -> Self {
        StoreError::Unreachable {
            reference: reference.to_string(),
            registry: registry.into(),
            transient,
            detail: detail.into(),
        }
    }

    /// [`StoreError::TimedOut`]: `limit` ended the operation on `reference` at `registry`.
    pub fn timed_out(
        reference: impl fmt::Display,
        registry: impl Into<String>,
        limit: TimeLimit,
    ) -> Self {
        StoreError::TimedOut {
            reference: reference.to_string(),
            registry: registry.into(),
            limit,
        }
    }

    /// [`StoreError::InvalidResponse`]: `registry` answered something unusable for
    /// `reference`, for `reason`.
    pub fn invalid_response(
        reference: impl fmt::Display,
        registry: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        StoreError::InvalidResponse {
            reference: reference.to_string(),
            registry: registry.into(),
            reason: reason.into(),
        }
    }

    /// [`StoreError::InvalidBundle`]: the artifact at `reference` breaks `reason`.
    pub fn invalid_bundle(reference: impl fmt::Display, reason: impl Into<String>) -> Self {
        StoreError::InvalidBundle {
            reference: reference.to_string(),
            reason: reason.into(),
        }
    }

    /// [`StoreError::Unpack`]: the layer of `reference` is not a bundle that unpacks under
    /// the limits (`source` says why).
    pub fn unpack(reference: impl fmt::Display, source: pacto_archive::UnpackError) -> Self {
        StoreError::Unpack {
            reference: reference.to_string(),
            source,
        }
    }

    /// [`StoreError::Conflict`]: the tag of `reference` holds `existing`, not `pushing`.
    pub fn conflict(reference: impl fmt::Display, existing: Digest, pushing: Digest) -> Self {
        StoreError::Conflict {
            reference: reference.to_string(),
            existing,
            pushing,
        }
    }

    /// [`StoreError::Io`]: `action` (`"cannot write"`, ...) on `path` failed with `source`.
    pub fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}
