//! The crates as a downstream project uses them: through the `pacto-oci` facade and its
//! re-exported layers, in a multi-threaded program.
//!
//! `send` is checked by the compiler: every public async function of every crate returns a
//! future that can be `tokio::spawn`ed (a future that is not `Send` fails to build this
//! target, naming the function).

mod clone;
mod errors;
mod resolve;
mod send;
mod spawn;
mod vocabulary;
