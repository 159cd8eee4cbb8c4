//! Store and retrieve Pacto contract bundles in OCI registries.
//!
//! This is the facade of the pacto-oci crates: it re-exports each layer as a module and, at
//! the root, the few things most programs need: a [`Client`] wired from the environment the
//! way the `pacto-oci` command-line tool wires it (keychain, registry client, layout store,
//! cache, resolver), and one [`Error`] whose [`ErrorKind`] a caller can `match`.
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`refs`] | `pacto-ref` | references, digests, versions, constraints, best-tag selection, [`ErrorKind`] |
//! | [`contract`] | `pacto-contract` | the `pacto.yaml` model and [`Bundle`] |
//! | [`fs`] | `pacto-fs` | atomic writes, the verified blob directory, blocking work |
//! | [`archive`] | `pacto-archive` | the canonical, bounded tar+gzip codec, confined bundle writing |
//! | [`auth`] | `pacto-auth` | the credential keychain and `pacto login` config |
//! | [`registry`] | `pacto-registry` | the store trait, registry client, OCI layout store |
//! | [`cache`] | `pacto-cache` | the memory and disk cache |
//! | [`resolver`] | `pacto-resolver` | resolution modes, constraints, fetch-all |
//!
//! # Quick start
//!
//! Push a bundle into a local OCI image layout (no server needed) and resolve the highest
//! version matching a constraint:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pacto_oci::Error> {
//! use pacto_oci::{Bundle, Client, ResolveMode};
//! # let temp = tempfile::tempdir().unwrap();
//! # let dir = temp.path();
//!
//! let client = Client::builder().cache_dir(dir.join("cache")).build()?;
//! let layout = format!("oci-layout:{}", dir.join("bundles").display());
//! for version in ["1.0.0", "1.4.2", "2.0.0"] {
//!     let yaml = format!("pactoVersion: \"1.0\"\nservice:\n  name: payments\n  version: {version}\n");
//!     let bundle = Bundle::from_files([("pacto.yaml".to_owned(), yaml.into())].into())?;
//!     client.push(&layout, &bundle, false).await?; // tagged with service.version
//! }
//! let resolved = client.pull(&layout, "^1", ResolveMode::RemoteAllowed).await?;
//! assert_eq!(resolved.bundle.version(), "1.4.2");
//! assert_eq!(client.versions(&layout).await?, ["2.0.0", "1.4.2", "1.0.0"]);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod env;
mod error;

pub use pacto_archive as archive;
pub use pacto_artifact as artifact;
pub use pacto_auth as auth;
pub use pacto_cache as cache;
pub use pacto_contract as contract;
pub use pacto_fs as fs;
pub use pacto_ref as refs;
pub use pacto_registry as registry;
pub use pacto_resolver as resolver;

pub use client::{BundleDir, Client, ClientBuilder, Inspected, PackedBundle, PulledTo};
pub use error::{Error, ErrorKind};
pub use pacto_auth::{CredentialOptions, Secret};
pub use pacto_contract::{Bundle, Contract, Limits};
pub use pacto_ref::ArtifactRef;
pub use pacto_registry::{
    CredentialFallback, LowSpeedLimit, Progress, ProgressEvent, PushOutcome, PushStatus,
    RetryPolicy,
};
pub use pacto_resolver::{FetchAll, Location, ResolveMode, Resolved};
