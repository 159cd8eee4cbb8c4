//! [`ArtifactRef`]: what stores and the resolver take, remote or layout.

use crate::Digest;
use std::fmt;
use std::str::FromStr;

use super::{
    InvalidReference, LAYOUT_PREFIX, LayoutReference, OCI_PREFIX, ParseOptions, Reference,
};

/// A reference to an artifact in a registry or in a local OCI image layout.
///
/// ```
/// use pacto_ref::{ArtifactRef, ParseOptions};
/// let remote: ArtifactRef = "ghcr.io/acme/svc".parse().unwrap();
/// assert!(!remote.has_explicit_tag());
/// assert_eq!(remote.with_tag("1.0.0").to_string(), "ghcr.io/acme/svc:1.0.0");
/// let local = ArtifactRef::parse("oci-layout:/srv/pacto@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &ParseOptions::untagged()).unwrap();
/// assert!(local.has_explicit_tag());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArtifactRef {
    /// A repository in an OCI registry.
    Remote(Reference),
    /// A local OCI image layout directory.
    Layout(LayoutReference),
}

impl ArtifactRef {
    /// `oci-layout:...` is a [`LayoutReference`]; anything else is a remote [`Reference`]
    /// (an `oci://` prefix is stripped) parsed with `opts`. Pass
    /// [`ParseOptions::untagged`] so that an untagged reference stays untagged and can be
    /// resolved by semver.
    pub fn parse(s: &str, opts: &ParseOptions) -> Result<Self, InvalidReference> {
        if s.starts_with(LAYOUT_PREFIX) {
            LayoutReference::parse(s).map(Self::Layout)
        } else {
            Reference::parse_with(s, opts).map(Self::Remote)
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Self::Remote(r) => r.tag(),
            Self::Layout(l) => l.tag(),
        }
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Self::Remote(r) => r.digest(),
            Self::Layout(l) => l.digest(),
        }
    }

    /// Whether a tag or a digest is present (then the reference is used as is, without
    /// semver resolution).
    pub fn has_explicit_tag(&self) -> bool {
        self.tag().is_some() || self.digest().is_some()
    }

    /// The same repository or layout at `tag`; any digest is dropped.
    pub fn with_tag(&self, tag: &str) -> Self {
        match self {
            Self::Remote(r) => Self::Remote(r.with_tag(tag)),
            Self::Layout(l) => Self::Layout(l.with_tag(tag)),
        }
    }

    /// The same repository or layout at `digest`; any tag is dropped.
    pub fn with_digest(&self, digest: &Digest) -> Self {
        match self {
            Self::Remote(r) => Self::Remote(r.with_digest(digest)),
            Self::Layout(l) => Self::Layout(l.with_digest(digest)),
        }
    }

    /// The same repository or layout with neither tag nor digest.
    pub fn repository(&self) -> Self {
        match self {
            Self::Remote(r) => Self::Remote(r.untagged()),
            Self::Layout(l) => Self::Layout(l.untagged()),
        }
    }

    /// The remote reference, when this is one.
    pub fn as_remote(&self) -> Option<&Reference> {
        match self {
            Self::Remote(r) => Some(r),
            Self::Layout(_) => None,
        }
    }

    /// The layout reference, when this is one.
    pub fn as_layout(&self) -> Option<&LayoutReference> {
        match self {
            Self::Remote(_) => None,
            Self::Layout(l) => Some(l),
        }
    }
}

impl fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A remote reference that would print as a layout one (ggcr accepts the registry
            // name `oci-layout:x:` after an `oci://` prefix) keeps that prefix.
            Self::Remote(r) if r.registry().name().starts_with(LAYOUT_PREFIX) => {
                write!(f, "{OCI_PREFIX}{r}")
            }
            Self::Remote(r) => r.fmt(f),
            Self::Layout(l) => l.fmt(f),
        }
    }
}

impl FromStr for ArtifactRef {
    type Err = InvalidReference;

    /// [`ArtifactRef::parse`] with [`ParseOptions::untagged`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, &ParseOptions::untagged())
    }
}

impl From<Reference> for ArtifactRef {
    fn from(r: Reference) -> Self {
        Self::Remote(r)
    }
}

impl From<LayoutReference> for ArtifactRef {
    fn from(l: LayoutReference) -> Self {
        Self::Layout(l)
    }
}
