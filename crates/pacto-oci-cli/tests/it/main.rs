//! End-to-end tests of the `pacto-oci` binary against a local OCI layout and the real
//! registry process, checking the contract in docs/cli.md: commands, JSON keys, exit codes.

mod common;
mod docs;
mod layout;
mod registry;
