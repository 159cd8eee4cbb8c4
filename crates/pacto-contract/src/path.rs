//! [`BundlePath`]: the one rule for file paths inside a bundle, checked once when a path is
//! made and true of every `BundlePath` from then on.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// Longest bundle path accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

/// Why a path cannot name a file inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty (or only `./`).
    #[error("bundle path is empty")]
    Empty,
    /// The path starts with `/`.
    #[error("bundle path {path:?} is absolute; bundle paths are relative to the bundle root")]
    #[non_exhaustive]
    Absolute {
        /// The path as given.
        path: String,
    },
    /// The path contains a backslash, which is a separator on Windows.
    #[error("bundle path {path:?} contains a backslash; use '/' as the separator")]
    #[non_exhaustive]
    Backslash {
        /// The path as given.
        path: String,
    },
    /// A component is `..`.
    #[error("bundle path {path:?} has a '..' component, which would leave the bundle")]
    #[non_exhaustive]
    ParentComponent {
        /// The path as given.
        path: String,
    },
    /// A component other than a leading one is `.`.
    #[error("bundle path {path:?} has a '.' component; write the path without it")]
    #[non_exhaustive]
    CurrentComponent {
        /// The path as given.
        path: String,
    },
    /// Two separators in a row, or a trailing separator.
    #[error("bundle path {path:?} has an empty component ('//' or a trailing '/')")]
    #[non_exhaustive]
    EmptyComponent {
        /// The path as given.
        path: String,
    },
    /// The path contains a NUL byte.
    #[error("bundle path {path:?} contains a NUL byte")]
    #[non_exhaustive]
    Nul {
        /// The path as given.
        path: String,
    },
    /// The path is longer than [`MAX_PATH_LEN`].
    #[error("bundle path of {len} bytes is longer than the {limit}-byte limit")]
    #[non_exhaustive]
    TooLong {
        /// Length of the path in bytes.
        len: usize,
        /// The limit, [`MAX_PATH_LEN`].
        limit: usize,
    },
}

/// The path of a file (or directory) inside a bundle, relative to the bundle root: valid by
/// construction.
///
/// A `BundlePath` is `/`-separated and relative, has no `.`, `..` or empty component, no
/// backslash and no NUL byte, and is at most [`MAX_PATH_LEN`] bytes long. Parsing drops
/// leading `./` (tar tools write `./pacto.yaml`); every other irregularity is refused rather
/// than rewritten, so that two different spellings can never name the same file. Names that
/// merely contain dots (`my..file.yaml`, `..hidden.txt`, `.github/x`) are fine.
///
/// It orders, compares and hashes as its text (bytewise), and borrows as `str`, so a map keyed
/// by bundle paths is looked up with a `&str`.
///
/// ```
/// use pacto_contract::{BundlePath, PathError};
/// let path: BundlePath = "./api/openapi.yaml".parse().unwrap();
/// assert_eq!(path, "api/openapi.yaml");
/// assert_eq!(path.components().collect::<Vec<_>>(), ["api", "openapi.yaml"]);
/// assert_eq!(path.depth(), 2);
/// assert!("my..file.yaml".parse::<BundlePath>().is_ok());
/// assert!(matches!(
///     BundlePath::parse("a/../../b"),
///     Err(PathError::ParentComponent { .. })
/// ));
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundlePath(String);

impl BundlePath {
    /// Checks `path` and returns it in its normal form (leading `./` dropped); see the type's
    /// documentation for the rules.
    pub fn parse(path: &str) -> Result<BundlePath, PathError> {
        if path.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong {
                len: path.len(),
                limit: MAX_PATH_LEN,
            });
        }
        let owned = || path.to_owned();
        if path.contains('\0') {
            return Err(PathError::Nul { path: owned() });
        }
        if path.contains('\\') {
            return Err(PathError::Backslash { path: owned() });
        }
        if path.starts_with('/') {
            return Err(PathError::Absolute { path: owned() });
        }
        let mut rest = path;
        while let Some(stripped) = rest.strip_prefix("./") {
            rest = stripped;
        }
        if rest.is_empty() || rest == "." {
            return Err(PathError::Empty);
        }
        // `..` is checked on every component before the others, so that `a//../b` is
        // reported as the traversal it is.
        if rest.split('/').any(|c| c == "..") {
            return Err(PathError::ParentComponent { path: owned() });
        }
        for component in rest.split('/') {
            match component {
                "" => return Err(PathError::EmptyComponent { path: owned() }),
                "." => return Err(PathError::CurrentComponent { path: owned() }),
                _ => {}
            }
        }
        Ok(BundlePath(rest.to_owned()))
    }

    /// The path as text, `/`-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, root first: `a/b/c.txt` gives `a`, `b`, `c.txt`. None is empty, `.` or
    /// `..`.
    pub fn components(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// The number of components: `a/b/c.txt` is 3 deep, `pacto.yaml` 1; what
    /// [`crate::Limits::max_depth`] bounds.
    pub fn depth(&self) -> u64 {
        self.0.bytes().filter(|b| *b == b'/').count() as u64 + 1
    }

    /// The directories this path is inside, longest first: `a/b/c.txt` gives `a/b`, then `a`.
    pub fn parents(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.rmatch_indices('/').map(|(end, _)| &self.0[..end])
    }
}

impl fmt::Display for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl FromStr for BundlePath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BundlePath::parse(s)
    }
}

impl TryFrom<&str> for BundlePath {
    type Error = PathError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        BundlePath::parse(s)
    }
}

impl TryFrom<String> for BundlePath {
    type Error = PathError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        BundlePath::parse(&s)
    }
}

impl AsRef<str> for BundlePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Consistent with `Eq`, `Ord` and `Hash`, which are the text's.
impl Borrow<str> for BundlePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for BundlePath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for BundlePath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<BundlePath> for String {
    fn from(path: BundlePath) -> String {
        path.0
    }
}

impl serde::Serialize for BundlePath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for BundlePath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BundlePath::parse(&text).map_err(serde::de::Error::custom)
    }
}
