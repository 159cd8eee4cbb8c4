//! The Pacto v1 contract model and the in-memory bundle.
//!
//! - [`parse`] turns the bytes of a `pacto.yaml` into a typed [`Contract`], with bounded
//!   YAML (alias bombs are refused), required fields reported by path, YAML errors with
//!   line and column, and unknown keys kept so that newer contracts still load.
//! - [`Bundle`] is a contract plus every file that ships with it, built from a directory
//!   ([`Bundle::from_dir`], honouring `.pactoignore`), from a file map
//!   ([`Bundle::from_files`]) or from paths already checked ([`BundleBuilder`]). Its fields
//!   are private, so its invariants hold for every value.
//! - [`Limits`] bound a bundle's file sizes, total size, entries and depth, one value for
//!   reading a directory, packing, pushing and pulling.
//! - [`BundlePath`] is the single rule for paths inside a bundle, checked once when a path
//!   is parsed (by a constructor, the archive reader, a directory walk) and never again.
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

pub use bundle::{
    Bundle, BundleBuilder, BundleError, CONTRACT_FILE, DEFAULT_IGNORES, DirListing, IGNORE_FILE,
    ListedFile,
};
pub use limits::{LimitError, Limits};
pub use model::{
    Configuration, Contract, Dependency, Extra, Health, Image, Interface, Lifecycle, Owner,
    Persistence, Runtime, Scaling, Service, State,
};
pub use parse::{ALIAS_REPLAY_BUDGET, ContractError, MAX_DEPTH, parse};
pub use path::{BundlePath, MAX_PATH_LEN, PathError};
pub use references::{FileReference, MissingFiles, check_references};
