//! Test infrastructure for the pacto-oci workspace: real registries, a bearer-token issuer, a
//! fault proxy and raw pushes, all on loopback.
//!
//! This crate is only ever a dev-dependency and depends on no pacto crate.
//!
//! - [`TestRegistry`] starts the Debian `docker-registry` (distribution 2.8) on `127.0.0.1`
//!   with a free port and a temporary storage root, in three variants chosen with
//!   [`RegistryOptions`]: plain HTTP, TLS with htpasswd basic auth (certificates generated at
//!   test time), and bearer-token auth backed by a token issuer in this crate. Every request the
//!   registry served can be read back, exactly, from its access log ([`TestRegistry::requests`]).
//! - [`FaultProxy`] sits in front of a plain registry and injects latency, dropped connections,
//!   stalls, `429`/`503` answers with `Retry-After`, cross-origin redirects of blob
//!   downloads to a [`BlobOrigin`] that records the headers it received, and requests of its
//!   own between a client's request and its answer (races made deterministic).
//! - [`push_raw`] places arbitrary manifests and blobs in a registry, so tests can serve
//!   artifacts that pacto itself would never produce.
//! - [`FakeRegistry`] answers what no real registry does: tag lists whose `Link` headers
//!   loop or never end, very long listings, bodies that trickle one byte at a time or stall.
//!
//! Everything listens on and connects to loopback addresses only, every wait is bounded, and a
//! missing tool is a test failure that says how to install it, never a skipped test.
//!
//! The API is blocking and safe to call from inside an async test: it never enters or creates
//! an async runtime (servers run on plain threads, HTTP is spoken over `std::net` and rustls).
//! Functions that panic do so with a message that names what failed and what to do; their
//! `try_` twins return [`Error`] instead.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod digest;
mod error;
mod fake;
mod http;
mod origin;
mod pki;
mod proxy;
mod push;
mod registry;
mod token;
mod tool;

pub use digest::{digest, sha256_hex};
pub use error::Error;
pub use fake::{
    FakeArtifact, FakeOptions, FakeRegistry, SlowBody, SlowMode, SlowTarget, TagListing,
};
pub use origin::{BlobOrigin, OriginRequest};
pub use proxy::{ExtraRequest, Fault, FaultProxy, Outcome, ProxiedRequest, RequestMatch};
pub use push::{Endpoint, push_raw, try_push_raw};
pub use registry::{
    Access, Auth, Credentials, LoggedRequest, Operation, RegistryOptions, RequestMark,
    ServerCertificate, TestRegistry, TokenUser,
};
pub use token::TokenRequest;
pub use tool::{check_tool, free_port, install_crypto_provider, require_tool};
