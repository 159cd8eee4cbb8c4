//! The one rule for file paths inside a bundle, shared by every constructor and by the
//! archive reader.

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

/// Checks a bundle-relative file path and returns its normalised form.
///
/// Normalising only drops leading `./` (tar tools write `./pacto.yaml`); every other
/// irregularity is refused rather than rewritten, so that two different spellings can
/// never name the same file: an empty path, a leading `/`, a backslash, a `..` or inner
/// `.` component, an empty component (`a//b`, `a/`), a NUL byte, or more than
/// [`MAX_PATH_LEN`] bytes. Names that merely contain dots (`my..file.yaml`,
/// `..hidden.txt`, `.github/x`) are fine.
///
/// ```
/// use pacto_contract::{validate_path, PathError};
/// assert_eq!(validate_path("./api/openapi.yaml").unwrap(), "api/openapi.yaml");
/// assert_eq!(validate_path("my..file.yaml").unwrap(), "my..file.yaml");
/// assert!(matches!(validate_path("a/../../b"), Err(PathError::ParentComponent { .. })));
/// ```
pub fn validate_path(path: &str) -> Result<String, PathError> {
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
    Ok(rest.to_owned())
}

/// The number of components of a bundle path: `a/b/c.txt` is 3 deep, `pacto.yaml` 1; what
/// [`crate::Limits::max_depth`] bounds.
pub fn path_depth(path: &str) -> u64 {
    path.bytes().filter(|b| *b == b'/').count() as u64 + 1
}
