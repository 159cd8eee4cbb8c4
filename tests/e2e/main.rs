//! End-to-end suites of pacto-oci, through the real `pacto-oci` binary and real registries
//! on loopback (issue #9):
//!
//! - `hostile`: artifacts built byte by byte and pushed by raw HTTP, each refused with exit 6,
//!   nothing written and nothing cached;
//! - `faults`: a registry that stops, restarts, throttles, stalls or resets; a killed writer;
//!   16 processes on one cache; a full disk;
//! - `security`: secrets in outputs, basic credentials over plain HTTP, `Authorization` on
//!   cross-origin redirects, `config.json` modes, paths steered outside their roots;
//! - `transport_edges` (issue 12): refused certificates named and final, `--ca-file` with a
//!   self-signed certificate, explicit credentials scoped to their registries and a warning
//!   when they are rejected, looping and oversized tag listings, trickling and stalling
//!   servers.
//!
//! Every run of the binary is bounded in time and its output is searched for the suite's
//! secrets (`common`).

mod common;
mod faults;
mod hostile;
mod security;
mod transport_edges;
