//! Choosing a tag: Go pacto's `BestTag`, `FilterSemverTags` and `ResolveRef`.
//!
//! Tags are read with [`Version::parse_tag`](crate::Version::parse_tag) (Masterminds
//! `NewVersion`, plus Helm's `_` for `+`); tags that are not versions (`latest`, `main`) are
//! ignored. Among versions of equal precedence (`1.0`, `v1.0.0`, `1.0.0+b`) the first one in
//! the input wins, and sorting is stable, so results never depend on Go's unstable sort.

use std::cmp::Ordering;

use crate::constraint::{Constraint, InvalidConstraint};
use crate::kind::ErrorKind;
use crate::reference::ArtifactRef;
use crate::version::{Key, compare, parse_parts};

/// Why no tag could be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// The constraint does not parse.
    #[error(transparent)]
    InvalidConstraint(#[from] InvalidConstraint),
    /// None of the tags is a semantic version.
    #[error("no semver tags to choose from (tags such as \"latest\" are ignored)")]
    NoSemverTags,
    /// Some tags are versions, but none satisfies the constraint.
    #[error("no semver tag matches constraint {constraint:?}")]
    #[non_exhaustive]
    NoMatchingVersion {
        /// The constraint as given.
        constraint: String,
    },
}

impl SelectError {
    /// [`ErrorKind::InvalidConstraint`], [`ErrorKind::NotFound`] (no semver tag) or
    /// [`ErrorKind::NoMatchingVersion`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            SelectError::InvalidConstraint(_) => ErrorKind::InvalidConstraint,
            SelectError::NoSemverTags => ErrorKind::NotFound,
            SelectError::NoMatchingVersion { .. } => ErrorKind::NoMatchingVersion,
        }
    }
}

/// The tag with the highest version among `tags` that satisfies `constraint`, in its
/// original spelling (Go pacto `BestTag`).
///
/// An empty `constraint` means no constraint: the highest semver tag, pre-releases
/// included. Any other text must parse as a [`Constraint`] (so a whitespace-only constraint
/// is an error, as in Masterminds). Among equal versions the first tag wins.
///
/// ```
/// use pacto_ref::best_tag;
/// let tags = ["v1.0.0", "v1.2.3", "v2.0.0-rc.1", "latest"];
/// assert_eq!(best_tag(&tags, "^1").unwrap(), "v1.2.3");
/// assert_eq!(best_tag(&tags, "").unwrap(), "v2.0.0-rc.1");
/// ```
pub fn best_tag<S: AsRef<str>>(tags: &[S], constraint: &str) -> Result<String, SelectError> {
    let constraint = if constraint.is_empty() {
        None
    } else {
        Some(Constraint::parse(constraint)?)
    };
    best_tag_matching(tags, constraint.as_ref())
}

/// [`best_tag`] with an already parsed constraint (`None` = no constraint).
pub fn best_tag_matching<S: AsRef<str>>(
    tags: &[S],
    constraint: Option<&Constraint>,
) -> Result<String, SelectError> {
    let mut any_semver = false;
    let mut best: Option<(&str, Key<'_>)> = None;
    for tag in tags {
        let tag = tag.as_ref();
        let Ok(parts) = parse_parts(tag, true) else {
            continue;
        };
        any_semver = true;
        if constraint.is_some_and(|c| !c.matches_key(parts.key)) {
            continue;
        }
        if best.is_none_or(|(_, b)| compare(parts.key, b) == Ordering::Greater) {
            best = Some((tag, parts.key));
        }
    }
    match (best, constraint) {
        (Some((tag, _)), _) => Ok(tag.to_owned()),
        (None, _) if !any_semver => Err(SelectError::NoSemverTags),
        (None, Some(c)) => Err(SelectError::NoMatchingVersion {
            constraint: c.as_str().to_owned(),
        }),
        (None, None) => Err(SelectError::NoSemverTags),
    }
}

/// The semver tags among `tags`, highest first, in their original spelling (Go pacto
/// `FilterSemverTags`). The sort is stable: equal versions keep their input order.
///
/// ```
/// let sorted = pacto_ref::filter_semver_tags(&["1.0.0-alpha", "latest", "1.0.0", "1.0.0-beta"]);
/// assert_eq!(sorted, ["1.0.0", "1.0.0-beta", "1.0.0-alpha"]);
/// ```
pub fn filter_semver_tags<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    let mut versions: Vec<(&str, Key<'_>)> = tags
        .iter()
        .filter_map(|t| {
            let t = t.as_ref();
            parse_parts(t, true).ok().map(|p| (t, p.key))
        })
        .collect();
    versions.sort_by(|a, b| compare(b.1, a.1));
    versions.into_iter().map(|(t, _)| t.to_owned()).collect()
}

/// Lists the tags of a repository (a registry client, a layout store, a cache, a test double).
#[async_trait::async_trait]
pub trait TagLister: Send + Sync {
    /// The lister's own error, passed through unchanged by [`resolve_ref`].
    type Error: std::error::Error + Send + Sync + 'static;

    /// All tags of `repository` (a reference with neither tag nor digest).
    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, Self::Error>;
}

/// Why [`resolve_ref`] failed: the selection, or the lister (exhaustive: resolution is
/// exactly these two steps).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError<E> {
    /// The constraint does not parse, or the tags were listed and none could be chosen.
    #[error(transparent)]
    Select(Unresolvable),
    /// The lister failed; its error is passed through.
    #[error(transparent)]
    List(E),
}

impl<E> ResolveError<E> {
    /// The selection failure, when that is what happened.
    pub fn select_error(&self) -> Option<&SelectError> {
        match self {
            Self::Select(unresolvable) => Some(unresolvable.reason()),
            Self::List(_) => None,
        }
    }

    /// The lister's error mapped with `f`; a selection failure is kept.
    pub fn map_list<F>(self, f: impl FnOnce(E) -> F) -> ResolveError<F> {
        match self {
            Self::Select(unresolvable) => ResolveError::Select(unresolvable),
            Self::List(e) => ResolveError::List(f(e)),
        }
    }
}

/// No tag of a repository could be chosen for a reference: the constraint does not parse,
/// the repository has no semver tag, or none matches the constraint.
///
/// The message is complete on its own (it names the reference, the constraint and, when
/// nothing matches, the versions there are); the structured reason is [`Unresolvable::reason`],
/// not a `source`, so an error chain never says the same thing twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Unresolvable {
    reference: String,
    constraint: String,
    listed: Option<Vec<String>>,
    reason: SelectError,
}

impl Unresolvable {
    /// A selection failure for `reference`; `listed` holds the tags that were listed (`None`
    /// when the constraint failed before any listing).
    pub fn new(
        reference: impl Into<String>,
        constraint: impl Into<String>,
        listed: Option<Vec<String>>,
        reason: SelectError,
    ) -> Self {
        Unresolvable {
            reference: reference.into(),
            constraint: constraint.into(),
            listed,
            reason,
        }
    }

    /// The reference being resolved.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The constraint as given (empty: none).
    pub fn constraint(&self) -> &str {
        &self.constraint
    }

    /// Why no tag was chosen.
    pub fn reason(&self) -> &SelectError {
        &self.reason
    }

    /// [`ErrorKind::InvalidConstraint`], [`ErrorKind::NotFound`] (no semver tag) or
    /// [`ErrorKind::NoMatchingVersion`].
    pub fn kind(&self) -> ErrorKind {
        self.reason.kind()
    }

    /// Every tag that was listed (empty when the constraint failed before listing).
    pub fn listed(&self) -> &[String] {
        self.listed.as_deref().unwrap_or_default()
    }

    /// The semver tags that were considered, newest first.
    pub fn available(&self) -> Vec<String> {
        filter_semver_tags(self.listed())
    }

    fn message(&self) -> String {
        let reference = &self.reference;
        match &self.reason {
            SelectError::InvalidConstraint(e) => format!("cannot resolve {reference}: {e}"),
            SelectError::NoSemverTags if self.listed().is_empty() => {
                format!("{reference} not found: the repository has no tags")
            }
            SelectError::NoSemverTags => format!(
                "{reference} not found: no semver tags among {} tags; name a tag explicitly",
                self.listed().len()
            ),
            SelectError::NoMatchingVersion { constraint } => format!(
                "no versions of {reference} match constraint {constraint:?}: {}",
                available_text(&self.available())
            ),
        }
    }
}

/// `available versions are 1.1.0, 1.0.0`, shortened after ten.
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

/// Resolves a reference that may lack a tag (Go pacto `ResolveRef`).
///
/// A reference with a tag or digest is returned unchanged and the constraint is ignored.
/// Otherwise the constraint is parsed (before any listing, so a typo costs no network
/// round trip), the repository's tags are listed, and [`best_tag`] picks the tag.
pub async fn resolve_ref<L: TagLister + ?Sized>(
    lister: &L,
    reference: &ArtifactRef,
    constraint: &str,
) -> Result<ArtifactRef, ResolveError<L::Error>> {
    if reference.has_explicit_tag() {
        return Ok(reference.clone());
    }
    let parsed = if constraint.is_empty() {
        None
    } else {
        Some(Constraint::parse(constraint).map_err(|e| {
            ResolveError::Select(Unresolvable::new(
                reference.to_string(),
                constraint,
                None,
                e.into(),
            ))
        })?)
    };
    let repository = reference.repository();
    let tags = lister
        .list_tags(&repository)
        .await
        .map_err(ResolveError::List)?;
    match best_tag_matching(&tags, parsed.as_ref()) {
        Ok(best) => Ok(reference.with_tag(&best)),
        Err(reason) => Err(ResolveError::Select(Unresolvable::new(
            reference.to_string(),
            constraint,
            Some(tags),
            reason,
        ))),
    }
}
