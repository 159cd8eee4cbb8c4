//! The credential keychain of pacto's OCI layer.
//!
//! A [`Keychain`] answers one question: which credentials should the transport try
//! against a registry, and in what order? It consults, in this order, each source
//! under a stable [`Source`] name used in errors and logs:
//!
//! 1. explicit [`CredentialOptions`] (flags, or `PACTO_REGISTRY_TOKEN`, or
//!    `PACTO_REGISTRY_USERNAME` with `PACTO_REGISTRY_PASSWORD`): a token wins
//!    (`"env token"`), a user name and password count only together
//!    (`"env user/pass"`); with `PACTO_REGISTRY_HOSTS` (or
//!    [`CredentialOptions::with_hosts`]) only for the registries listed;
//! 2. pacto's own config, written by `pacto login` (`"pacto login"`,
//!    [`PactoConfigFile`]);
//! 3. the GitHub CLI, `gh auth token`, for `ghcr.io` and `docker.pkg.github.com`
//!    only (`"gh"`);
//! 4. Docker's config and credential helpers (`"docker"`).
//!
//! The keychain returns the ordered list of [`Candidate`]s; the transport tries
//! them in turn. Reading fails open (a broken source gives no credential, never an
//! error); [`PactoConfigFile::login`] and [`PactoConfigFile::logout`] fail closed.
//!
//! Beyond Go pacto:
//!
//! - registry names are normalised on read and write ([`normalize_registry`]), so
//!   `docker.io`, `index.docker.io`, `registry-1.docker.io` and
//!   `https://index.docker.io/v1/` are one registry;
//! - a failing or hanging credential helper is killed after a timeout and skipped
//!   with a warning naming it, never fatal;
//! - what `gh` and helpers answer is cached per keychain and registry;
//! - passwords and tokens are [`Secret`]s, which print as `<redacted>`; none
//!   reaches a log line or an error message.
//!
//! Not supported: Docker identity tokens (OAuth2 refresh tokens, in an
//! `identitytoken` entry or a helper answer with user `<token>`) are skipped with a
//! debug log, as the transport has no refresh-token exchange; the cloud
//! auto-detection of go-containerregistry's default keychain is absent (use a
//! docker credential helper instead).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pacto_auth::ConfigError> {
//! use pacto_auth::{CredentialOptions, Keychain, PactoConfigFile, Secret};
//!
//! PactoConfigFile::default_location()?.login("ghcr.io", "alice", &Secret::new("ghp_example"))?;
//! let keychain = Keychain::new(CredentialOptions::from_env());
//! for candidate in keychain.candidates("ghcr.io").await {
//!     println!("{}: {}", candidate.source, candidate.credential);
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod basic;
mod credential;
mod docker;
mod error;
mod exec;
mod keychain;
mod options;
mod pacto_config;
mod registry;

pub use credential::{Candidate, Credential, Secret, Source};
pub use error::ConfigError;
pub use keychain::{DEFAULT_HELPER_TIMEOUT, Keychain, KeychainConfig};
pub use options::{CredentialOptions, ENV_HOSTS, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME};
pub use pacto_config::{
    PactoAuth, PactoConfig, PactoConfigFile, pacto_config_dir, pacto_config_path,
};
pub use registry::{DOCKER_HUB, normalize_registry};
