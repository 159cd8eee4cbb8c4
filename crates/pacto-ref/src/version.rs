//! Semantic versions, parsed the way Masterminds/semver v3.4.0 `NewVersion` parses them.
//!
//! The parser is lenient ("coercing"): a leading lowercase `v`, a missing minor or patch
//! (`1`, `1.2`) and leading zeros in the numeric parts (`01.2.3`) are accepted, exactly as
//! Go pacto accepts them when it reads registry tags. Everything else must be strict semver:
//! dot-separated, non-empty `[0-9A-Za-z-]` identifiers after `-` (pre-release) and `+`
//! (build metadata), and no leading zero in a numeric pre-release identifier.
//!
//! Precedence follows Masterminds `Compare`: major, minor, patch, then a release ranks above
//! any of its pre-releases, pre-releases compare identifier by identifier, and build metadata
//! is ignored. Two versions that differ only in spelling or metadata (`1`, `v1.0.0`,
//! `1.0.0+b`) are therefore *equal*.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A semantic version (Masterminds `*semver.Version`).
///
/// Equality, ordering and hashing use precedence only: build metadata and the original
/// spelling are ignored, so `Version::parse("1")` equals `Version::parse("v1.0.0+b")`.
/// [`Version::original`] keeps the text that was parsed; [`Display`](fmt::Display) prints
/// the normalised form (Masterminds `String()`).
#[derive(Clone, Debug)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

/// Why a string is not a [`Version`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidVersion {
    /// The text does not have the shape `[v]MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]`.
    #[error(
        "invalid version {input:?}: expected [v]MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], \
         e.g. \"1.2.3\" or \"v1.2.3-rc.1\""
    )]
    #[non_exhaustive]
    Malformed {
        /// The text that was parsed.
        input: String,
    },
    /// A major, minor or patch number does not fit in 64 bits.
    #[error("invalid version {input:?}: the number {segment} does not fit in 64 bits")]
    #[non_exhaustive]
    NumberTooLarge {
        /// The text that was parsed.
        input: String,
        /// The digits that overflowed.
        segment: String,
    },
    /// A numeric pre-release identifier starts with `0` (`1.2.3-01`).
    #[error(
        "invalid version {input:?}: numeric pre-release identifier {identifier:?} has a leading zero"
    )]
    #[non_exhaustive]
    LeadingZeroInPrerelease {
        /// The text that was parsed.
        input: String,
        /// The offending identifier.
        identifier: String,
    },
}

impl InvalidVersion {
    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        match self {
            Self::Malformed { input }
            | Self::NumberTooLarge { input, .. }
            | Self::LeadingZeroInPrerelease { input, .. } => input,
        }
    }

    /// The error text Masterminds/semver v3.4.0 `NewVersion` returns for this input.
    pub fn reason(&self) -> String {
        match self {
            Self::Malformed { .. } => "invalid semantic version".to_owned(),
            Self::NumberTooLarge { segment, .. } => format!(
                "error parsing version segment: strconv.ParseUint: parsing {segment:?}: value out of range"
            ),
            Self::LeadingZeroInPrerelease { .. } => "version segment starts with 0".to_owned(),
        }
    }
}

/// The comparable part of a version, borrowed: what precedence and constraints look at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key<'a> {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
    pub(crate) pre: &'a str,
}

/// A version parsed without allocating: slices of the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parts<'a> {
    pub(crate) key: Key<'a>,
    pub(crate) metadata: &'a str,
}

/// Why [`parse_parts`] failed, without the input (so tag scans need not allocate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawError {
    Malformed,
    /// Byte range of the digits that overflowed.
    NumberTooLarge(usize, usize),
    /// Byte range of the pre-release identifier with a leading zero.
    LeadingZero(usize, usize),
}

impl RawError {
    fn with_input(self, input: &str) -> InvalidVersion {
        match self {
            Self::Malformed => InvalidVersion::Malformed {
                input: input.to_owned(),
            },
            Self::NumberTooLarge(start, end) => InvalidVersion::NumberTooLarge {
                input: input.to_owned(),
                segment: input.get(start..end).unwrap_or_default().to_owned(),
            },
            Self::LeadingZero(start, end) => InvalidVersion::LeadingZeroInPrerelease {
                input: input.to_owned(),
                identifier: input.get(start..end).unwrap_or_default().to_owned(),
            },
        }
    }
}

pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Index just past the run of ASCII digits starting at `i`.
fn digits_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Index just past a dot-separated list of non-empty `[0-9A-Za-z-]` identifiers starting at
/// `i`, or `None` when an identifier is empty.
pub(crate) fn identifiers_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let start = i;
        while i < b.len() && is_ident_byte(b[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
        } else {
            return Some(i);
        }
    }
}

/// Go `strconv.ParseUint(s, 10, 64)`: ASCII digits only, non-empty, no overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Masterminds `NewVersion` (coercing): the anchored regex
/// `v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-ids)?(\+ids)?`, then the numeric conversions, then the
/// pre-release leading-zero rule. With `underscore_is_plus`, `_` plays the role of `+`
/// (Helm's tag spelling of build metadata).
pub(crate) fn parse_parts(s: &str, underscore_is_plus: bool) -> Result<Parts<'_>, RawError> {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = usize::from(b.first() == Some(&b'v'));

    let major = (i, digits_end(b, i));
    if major.1 == major.0 {
        return Err(RawError::Malformed);
    }
    i = major.1;
    let mut numbers = [major, (0, 0), (0, 0)];
    for slot in numbers.iter_mut().skip(1) {
        if i < n && b[i] == b'.' {
            let end = digits_end(b, i + 1);
            if end == i + 1 {
                return Err(RawError::Malformed);
            }
            *slot = (i + 1, end);
            i = end;
        }
    }

    let mut pre = (i, i);
    if i < n && b[i] == b'-' {
        let end = identifiers_end(b, i + 1).ok_or(RawError::Malformed)?;
        pre = (i + 1, end);
        i = end;
    }
    let mut metadata = (i, i);
    if i < n && (b[i] == b'+' || (underscore_is_plus && b[i] == b'_')) {
        let end = identifiers_end(b, i + 1).ok_or(RawError::Malformed)?;
        metadata = (i + 1, end);
        i = end;
    }
    if i != n {
        return Err(RawError::Malformed);
    }

    let mut values = [0u64; 3];
    for (value, &(start, end)) in values.iter_mut().zip(numbers.iter()) {
        if end > start {
            *value = parse_u64(&s[start..end]).ok_or(RawError::NumberTooLarge(start, end))?;
        }
    }

    let pre_str = &s[pre.0..pre.1];
    let mut offset = pre.0;
    for id in pre_str.split('.') {
        if id.len() > 1 && id.starts_with('0') && id.bytes().all(|c| c.is_ascii_digit()) {
            return Err(RawError::LeadingZero(offset, offset + id.len()));
        }
        offset += id.len() + 1;
    }

    Ok(Parts {
        key: Key {
            major: values[0],
            minor: values[1],
            patch: values[2],
            pre: pre_str,
        },
        metadata: &s[metadata.0..metadata.1],
    })
}

/// Masterminds `comparePrePart`: numeric identifiers (those `ParseUint` accepts) compare
/// numerically and rank below alphanumeric ones, which compare bytewise; an absent
/// identifier ranks lowest.
fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (parse_u64(s), parse_u64(o)) {
        (None, None) => s.as_bytes().cmp(o.as_bytes()),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(a), Some(b)) => a.cmp(&b),
    }
}

/// Masterminds `comparePrerelease`: identifier by identifier, the shorter list padded with
/// empty identifiers.
pub(crate) fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (s, o) => {
                let d = compare_pre_part(s.unwrap_or(""), o.unwrap_or(""));
                if d != Ordering::Equal {
                    return d;
                }
            }
        }
    }
}

/// Masterminds `Compare`: precedence, metadata ignored.
pub(crate) fn compare(a: Key<'_>, b: Key<'_>) -> Ordering {
    a.major
        .cmp(&b.major)
        .then(a.minor.cmp(&b.minor))
        .then(a.patch.cmp(&b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(a.pre, b.pre),
        })
}

impl Version {
    /// Parses `s` as Masterminds `NewVersion` does (see the [module docs](self)).
    ///
    /// ```
    /// use pacto_ref::Version;
    /// let v = Version::parse("v1.2-beta.1").unwrap();
    /// assert_eq!(v.to_string(), "1.2.0-beta.1");
    /// assert_eq!(v.original(), "v1.2-beta.1");
    /// assert!(Version::parse("latest").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, InvalidVersion> {
        Self::parse_impl(s, false)
    }

    /// Parses an OCI tag as a version, reading `_` as `+` the way Helm does: OCI tags cannot
    /// hold `+`, so the tag `1.2.3_build.5` is the version `1.2.3+build.5`.
    /// [`original`](Self::original) is the tag as given.
    ///
    /// ```
    /// use pacto_ref::Version;
    /// let v = Version::parse_tag("1.2.3_build.5").unwrap();
    /// assert_eq!(v.metadata(), "build.5");
    /// assert_eq!(v.original(), "1.2.3_build.5");
    /// ```
    pub fn parse_tag(tag: &str) -> Result<Self, InvalidVersion> {
        Self::parse_impl(tag, true)
    }

    fn parse_impl(s: &str, underscore_is_plus: bool) -> Result<Self, InvalidVersion> {
        let parts = parse_parts(s, underscore_is_plus).map_err(|e| e.with_input(s))?;
        Ok(Self::from_parts(parts, s))
    }

    pub(crate) fn from_parts(parts: Parts<'_>, original: &str) -> Self {
        Self {
            major: parts.key.major,
            minor: parts.key.minor,
            patch: parts.key.patch,
            pre: parts.key.pre.to_owned(),
            metadata: parts.metadata.to_owned(),
            original: original.to_owned(),
        }
    }

    pub(crate) fn key(&self) -> Key<'_> {
        Key {
            major: self.major,
            minor: self.minor,
            patch: self.patch,
            pre: &self.pre,
        }
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number (0 when the text had none).
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number (0 when the text had none).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release identifiers without the leading `-`, or `""`.
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata without the leading `+`, or `""`.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The text this version was parsed from, unchanged (`v2.0.0` stays `v2.0.0`).
    pub fn original(&self) -> &str {
        &self.original
    }
}

impl fmt::Display for Version {
    /// Masterminds `String()`: `MAJOR.MINOR.PATCH[-PRE][+META]`, no `v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = InvalidVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.key(), other.key())
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Equal precedence implies identical numbers and pre-release text (numeric
        // identifiers cannot have leading zeros), so this agrees with `Eq`.
        (self.major, self.minor, self.patch, &self.pre).hash(state);
    }
}

/// The OCI tag for a version string: `+` (not allowed in tags) becomes `_`, as Helm does.
///
/// ```
/// assert_eq!(pacto_ref::version_to_tag("1.2.3+build.5"), "1.2.3_build.5");
/// ```
pub fn version_to_tag(version: &str) -> String {
    version.replace('+', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_reported_with_the_go_text() {
        let err = Version::parse("1.99999999999999999999").unwrap_err();
        assert_eq!(
            err,
            InvalidVersion::NumberTooLarge {
                input: "1.99999999999999999999".into(),
                segment: "99999999999999999999".into()
            }
        );
        assert_eq!(
            err.reason(),
            "error parsing version segment: strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            Version::parse("18446744073709551615").unwrap().major(),
            u64::MAX
        );
    }

    #[test]
    fn leading_zero_prerelease_is_rejected_but_metadata_and_alnum_allowed() {
        let err = Version::parse("1.2.3-alpha.01").unwrap_err();
        assert_eq!(
            err,
            InvalidVersion::LeadingZeroInPrerelease {
                input: "1.2.3-alpha.01".into(),
                identifier: "01".into()
            }
        );
        assert_eq!(err.reason(), "version segment starts with 0");
        assert!(Version::parse("1.2.3-01a").is_ok());
        assert!(Version::parse("1.2.3+01").is_ok());
        assert!(Version::parse("1.2.3-0").is_ok());
    }

    #[test]
    fn huge_numeric_prerelease_identifiers_compare_as_text_like_go() {
        // ParseUint fails on these, so Masterminds compares them bytewise.
        let a = Version::parse("1.0.0-100000000000000000000").unwrap();
        let b = Version::parse("1.0.0-99999999999999999999").unwrap();
        assert!(a < b);
        let small = Version::parse("1.0.0-5").unwrap();
        assert!(small < a);
    }

    #[test]
    fn tag_mode_reads_underscore_as_plus_only_in_tag_mode() {
        assert!(Version::parse("1.2.3_b").is_err());
        let v = Version::parse_tag("v1.2.3-rc.1_b.2").unwrap();
        assert_eq!((v.prerelease(), v.metadata()), ("rc.1", "b.2"));
        assert!(Version::parse_tag("1.2.3_a_b").is_err());
        assert!(Version::parse_tag("1.2.3+a_b").is_err());
    }
}

/// A [`Version`] that the `semver` crate's type cannot hold, or the reverse.
///
/// Masterminds and the `semver` crate agree on the grammar of a full `MAJOR.MINOR.PATCH`
/// version, so a conversion fails only where they part: a `semver::Version` whose
/// identifiers Masterminds reads differently, or a pacto [`Version`] whose pre-release or
/// build metadata the `semver` crate refuses.
#[derive(Debug, thiserror::Error)]
#[error("version {version} cannot be converted to {target}")]
pub struct VersionConversionError {
    version: String,
    target: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Into the `semver` crate's type, for crates that use the ecosystem's version.
///
/// The numbers, pre-release and build metadata carry over; [`Version::original`] (the
/// `v` prefix, a short `1.2`) does not. Ordering differs in one corner: `semver` compares
/// numeric pre-release identifiers beyond `u64` by length then text, Masterminds does not
/// treat them as numbers; and `semver`'s `Ord` includes build metadata, Masterminds
/// ignores it (two versions equal here may be unequal there).
///
/// ```
/// let v = pacto_ref::Version::parse("v1.2-rc.1+b5").unwrap();
/// let s = semver::Version::try_from(&v).unwrap();
/// assert_eq!(s.to_string(), "1.2.0-rc.1+b5");
/// ```
impl TryFrom<&Version> for semver::Version {
    type Error = VersionConversionError;

    fn try_from(version: &Version) -> Result<Self, Self::Error> {
        let fail = |source: semver::Error| VersionConversionError {
            version: version.to_string(),
            target: "semver::Version",
            source: Some(Box::new(source)),
        };
        Ok(semver::Version {
            major: version.major,
            minor: version.minor,
            patch: version.patch,
            pre: semver::Prerelease::new(&version.pre).map_err(fail)?,
            build: semver::BuildMetadata::new(&version.metadata).map_err(fail)?,
        })
    }
}

/// From the `semver` crate's type: parsed from its text with Masterminds' rules, so the
/// result orders exactly as every other pacto [`Version`].
///
/// ```
/// let s = semver::Version::parse("2.0.0-beta.2").unwrap();
/// let v = pacto_ref::Version::try_from(&s).unwrap();
/// assert_eq!(v.prerelease(), "beta.2");
/// ```
impl TryFrom<&semver::Version> for Version {
    type Error = VersionConversionError;

    fn try_from(version: &semver::Version) -> Result<Self, Self::Error> {
        let text = version.to_string();
        Version::parse(&text).map_err(|e| VersionConversionError {
            version: text,
            target: "pacto_ref::Version",
            source: Some(Box::new(e)),
        })
    }
}
