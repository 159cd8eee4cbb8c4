//! Integration tests of `CachedStore` against a real registry process (the Debian
//! `docker-registry` started by `pacto-test-support`), whose access log gives exact request
//! counts, and against in-memory stores where a registry cannot serve the case.

mod common;
mod integrity;
mod keys;
mod layers;
mod maintenance;
mod offline;
mod processes;
mod warm;
