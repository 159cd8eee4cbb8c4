//! Integration tests of `pacto-auth`: real files and real (fake) executables in a
//! private temporary directory per test, nothing read from or written to the
//! process environment (see `environment` for how the defaults are tested).

#![cfg(unix)]

mod config_file;
mod environment;
mod programs;
mod redaction;
mod sources;
mod support;
