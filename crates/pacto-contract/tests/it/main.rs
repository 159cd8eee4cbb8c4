//! Integration tests of pacto-contract: one binary, one module per area.

mod bundle;
mod parse;
mod path;
mod references;
