//! The error of pacto config operations (`login`, `logout`, reading the file).

use std::io;
use std::path::PathBuf;

/// Why a pacto config operation failed.
///
/// Every variant that concerns the file names its path; no variant ever carries a
/// password, token or the file's contents. `login` and `logout` fail closed: when
/// they return an error, the file on disk is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither `XDG_CONFIG_HOME` nor a home directory is available.
    #[error(
        "cannot determine where pacto's config file lives: set HOME or XDG_CONFIG_HOME (an absolute path)"
    )]
    NoConfigPath,

    /// The registry name is empty once normalised.
    #[error(
        "registry name {registry:?} is not valid: give a registry host such as ghcr.io or localhost:5000"
    )]
    #[non_exhaustive]
    InvalidRegistry {
        /// The name as given.
        registry: String,
    },

    /// The user name is empty or contains `:` (which basic credentials cannot carry).
    #[error("the user name for {registry} must be non-empty and must not contain ':'")]
    #[non_exhaustive]
    InvalidUsername {
        /// The normalised registry.
        registry: String,
    },

    /// The password is empty.
    #[error("the password for {registry} is empty: give a password or access token")]
    #[non_exhaustive]
    EmptyPassword {
        /// The normalised registry.
        registry: String,
    },

    /// The file exists but cannot be read (permissions, a directory in its place,
    /// a symlink loop, an I/O error).
    #[error("cannot read pacto config {}: fix its permissions or move it away, then retry", path.display())]
    #[non_exhaustive]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The file is not JSON.
    #[error(
        "pacto config {} is not valid JSON (line {line}, column {column}): fix or remove the file, then retry",
        path.display()
    )]
    #[non_exhaustive]
    Parse {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// The JSON parser's error (which never quotes the file's contents).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The file is JSON but not shaped like `{"auths":{"<registry>":{"auth":"<base64>"}}}`.
    #[error(
        "pacto config {} is not in the expected format ({reason}): fix or remove the file, then retry",
        path.display()
    )]
    #[non_exhaustive]
    Format {
        /// The config file.
        path: PathBuf,
        /// What is wrong, naming the offending key but never a value.
        reason: String,
    },

    /// The directory that should hold the file cannot be created.
    #[error("cannot create the pacto config directory {}: check its parent's permissions", path.display())]
    #[non_exhaustive]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The new file cannot be written or moved into place; the old one is unchanged.
    #[error(
        "cannot write pacto config {}: make sure its directory is writable (the existing file is unchanged)",
        path.display()
    )]
    #[non_exhaustive]
    Write {
        /// The file being replaced (the symlink's target when the config is a symlink).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}
