//! Integration tests of pacto-archive: one binary, one module per area.

mod accept;
mod determinism;
mod golden;
mod layer;
mod limits;
mod pack_dir;
mod refuse;
mod roundtrip;
mod support;
mod write;
