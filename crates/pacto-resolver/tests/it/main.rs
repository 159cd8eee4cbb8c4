//! Integration tests of `Resolver` against a real registry process (the Debian
//! `docker-registry` started by `pacto-test-support`) and against stores that prove what is
//! and is not called.

mod common;
mod fetch_all;
mod local;
mod remote;
