//! End-to-end suites of pacto-oci, through the real `pacto-oci` binary and real registries
//! on loopback (issue #9):
//!
//! - `hostile`: artifacts built byte by byte and pushed by raw HTTP, each refused with exit 6,
//!   nothing written and nothing cached;
//! - `faults`: a registry that stops, restarts, throttles, stalls or resets; a killed writer;
//!   16 processes on one cache; a full disk;
//! - `security`: secrets in outputs, basic credentials over plain HTTP, `Authorization` on
//!   cross-origin redirects, `config.json` modes, paths steered outside their roots;
//! - `edges` (issue 12): where `pull` and `pack` write: hostile default directory names
//!   (`.git`), existing outputs, `--force`, umask, killed pulls, `pack -o -` and special
//!   files, arguments that are not UTF-8.
//! - `transport_edges` (issue 12): refused certificates named and final, `--ca-file` with a
//!   self-signed certificate, explicit credentials scoped to their registries and a warning
//!   when they are rejected, looping and oversized tag listings, trickling and stalling
//!   servers.
//! - `limits` (issue #12): push and pack refuse what pull would, before any request or
//!   write; layout file modes; `tags` of 100,000 tags; hanging credential helpers killed
//!   with their children; two pushes racing for one tag.
//! - `memory` (issue 14): the peak resident memory of `pull` (registry and layout) does
//!   not grow with the bundle: a 40 MiB one adds less than 24 MiB to a tiny one's.
//! - `mirrors` (issue 16): reads through a pull-through cache registry with fallback, writes to
//!   the registry, `--mirror-digests-only`, proven from both registries' access logs.
//! - `resolve` (issue 14): one `HEAD` for a tag, the tag list plus one `HEAD` untagged, no
//!   request for a digest the cache holds; counted from the registry's access log.
//! - `uploads` (issue 14): a 40 MiB bundle through a proxy that answers 413 to bodies over
//!   4 MiB (chunked upload), an upload cut mid-way leaves no tag.
//! - `validate` (issue 15): `validate`, `pack` and `push` refuse a bundle whose contract names
//!   files it lacks, with one message.
//!
//! - `cli_ux` (issue 15): inspect, copy, tag, completions and man pages, `tags --all`, helm's
//!   habits, push warnings, the login prompt in a pseudo-terminal, usage errors, cache
//!   output, one message per failure, log levels, help.
//!
//! Every run of the binary is bounded in time and its output is searched for the suite's
//! secrets (`common`).

mod cli_ux;
mod common;
mod edges;
mod faults;
mod hostile;
mod limits;
mod memory;
mod mirrors;
mod resolve;
mod security;
mod settings;
mod transport_edges;
mod uploads;
mod validate;
