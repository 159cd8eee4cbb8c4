//! References and semantic versions for pacto-oci, the bottom layer of the workspace.
//!
//! * [`reference`](mod@reference): remote OCI references parsed exactly as go-containerregistry v0.21.9
//!   `pkg/name` parses them ([`Reference`], [`Registry`], their scheme rules), local layout
//!   references (`oci-layout:PATH[:TAG|@DIGEST]`, [`LayoutReference`]) and [`ArtifactRef`],
//!   which is either.
//! * [`version`] and [`constraint`]: Masterminds/semver v3.4.0 `NewVersion`,
//!   `NewConstraint` and `Check`, reproduced bit for bit (the conformance vectors in
//!   `tests/data/`, outputs of the Go libraries, are the oracle).
//! * [`select`]: Go pacto's tag selection (`BestTag`, `FilterSemverTags`, `ResolveRef`),
//!   with a defined order among equal versions.
//!
//! Beyond Go pacto: OCI tags cannot hold `+`, so a tag `1.2.3_build.5` is read as version
//! `1.2.3+build.5` and [`version_to_tag`] writes `_` (as Helm does).
//!
//! This crate does no I/O; [`resolve_ref`] reaches a registry only through the
//! [`TagLister`] it is given.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod constraint;
mod digest;
mod kind;
pub mod reference;
pub mod select;
pub mod version;

pub use constraint::{Constraint, InvalidConstraint};
pub use digest::{Digest, DigestAlgorithm, InvalidDigest};
pub use kind::ErrorKind;
pub use reference::{
    ArtifactRef, InvalidReference, LayoutReference, ParseOptions, Reference, Registry, Scheme,
    SchemePolicy, has_explicit_tag, new_repository, strip_oci_prefix,
};
pub use select::{
    ResolveError, SelectError, TagLister, Unresolvable, best_tag, best_tag_matching,
    filter_semver_tags, resolve_ref,
};

/// The attribute [`TagLister`] implementations use (`#[pacto_ref::async_trait]`), re-exported
/// so that implementing it needs no dependency of your own.
pub use async_trait::async_trait;
pub use version::{InvalidVersion, Version, VersionConversionError, version_to_tag};
