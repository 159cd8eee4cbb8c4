//! [`ErrorKind`]: the one vocabulary of failure kinds, shared by every pacto-oci crate.

use std::fmt;

/// What kind of failure an error is: Go pacto's typed errors, plus the rest.
///
/// Defined once here, at the bottom of the stack, and re-exported by every layer above
/// (`pacto_registry::ErrorKind`, `pacto_resolver::ErrorKind`, `pacto_oci::ErrorKind` are this
/// type), so a caller matches one enum whichever layer the error came from. Data that a
/// kind implies (the credential sources tried, whether a failure is transient) lives on the
/// errors themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The reference could not be parsed or is of the wrong kind for the store.
    InvalidReference,
    /// The version constraint could not be parsed.
    InvalidConstraint,
    /// The manifest, tag, blob, repository or cache entry does not exist.
    NotFound,
    /// The registry rejected every credential offered (or none was accepted).
    Authentication,
    /// The registry could not be reached, timed out, or kept failing.
    Unreachable,
    /// The artifact or bundle is not a valid Pacto bundle (layout, limits, digests, contract).
    InvalidBundle,
    /// Tags exist, but none satisfies the constraint.
    NoMatchingVersion,
    /// A tag holds a different artifact than the one being written.
    Conflict,
    /// Anything else: local I/O, unexpected registry answers.
    Other,
}

impl ErrorKind {
    /// The stable snake_case name (`invalid_reference`, `invalid_constraint`, `not_found`,
    /// `authentication`, `unreachable`, `invalid_bundle`, `no_matching_version`, `conflict`,
    /// `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidReference => "invalid_reference",
            ErrorKind::InvalidConstraint => "invalid_constraint",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Unreachable => "unreachable",
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
