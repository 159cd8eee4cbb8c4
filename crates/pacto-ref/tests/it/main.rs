//! Integration tests for pacto-ref: the Go oracle vectors, behaviour beyond Go pacto,
//! resolution through a fake tag lister, and property tests.

mod conformance;
mod props;
mod refs;
mod resolve;
mod semver;
