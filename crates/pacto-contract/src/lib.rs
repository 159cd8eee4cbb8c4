//! The Pacto v1 contract model and the in-memory bundle.
//!
//! - [`parse`] turns the bytes of a `pacto.yaml` into a typed [`Contract`], with bounded
//!   YAML (alias bombs are refused), required fields reported by path, YAML errors with
//!   line and column, and unknown keys kept so that newer contracts still load.
//! - [`Bundle`] is a contract plus every file that ships with it, built from a directory
//!   ([`Bundle::from_dir`], honouring `.pactoignore`) or from a file map
//!   ([`Bundle::from_files`]).
//! - [`Limits`] bound a bundle's file sizes, total size, entries and depth, one value for
//!   reading a directory, packing, pushing and pulling.
//! - [`validate_path`] is the single rule for paths inside a bundle, shared with the
//!   archive reader.
//!
//! This crate does no I/O beyond reading a local directory, and knows nothing of tar,
//! gzip or registries.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bundle;
mod limits;
mod model;
mod parse;
mod path;
mod references;

pub use bundle::{Bundle, BundleError, CONTRACT_FILE, DEFAULT_IGNORES, IGNORE_FILE};
pub use limits::{LimitError, Limits};
pub use model::{
    Configuration, Contract, Dependency, Extra, Health, Image, Interface, Lifecycle, Owner,
    Persistence, Runtime, Scaling, Service, State,
};
pub use parse::{ALIAS_REPLAY_BUDGET, ContractError, MAX_DEPTH, parse};
pub use path::{MAX_PATH_LEN, PathError, path_depth, validate_path};
pub use references::{FileReference, MissingFiles, check_references};
