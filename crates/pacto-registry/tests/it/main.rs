//! Integration tests of the registry client and the layout store against real processes:
//! the Debian `docker-registry` (distribution 2.8) started by `pacto-test-support`, and `skopeo`.

mod auth;
mod common;
mod faults;
mod goshaped;
mod interop;
mod layer_file;
mod layout;
mod pagination;
mod plain;
mod push_packing;
mod slow;
mod tls;
