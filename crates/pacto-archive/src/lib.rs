//! The Pacto bundle layer codec: canonical tar+gzip out, bounded and hostile-input-safe
//! tar+gzip in.
//!
//! - [`pack`] (and [`pack_to_writer`], [`pack_to_file`], and their `_with_progress` forms
//!   for a progress bar) turn a [`Bundle`] into the single
//!   layer of a Pacto artifact ([`LAYER_MEDIA_TYPE`]): byte-reproducible, so the same
//!   bundle content always has the same digest, whatever the file times, modes, owners or
//!   listing order it came from. A bundle over its [`Limits`] is refused before a byte is
//!   written, so nothing is ever packed that [`unpack`] with the same limits would refuse.
//!   [`pack_dir_to_file`] packs a bundle directory into a file without reading it into a
//!   [`Bundle`]: the same walk, refusals and bytes, each file streamed from disk.
//! - [`unpack`] (and [`unpack_bytes`]) read a layer back into a [`Bundle`], streaming and
//!   within [`Limits`], refusing every archive trick listed in [`UnpackError`].
//! - [`write_bundle`] writes a [`Bundle`] into a directory, confined to it: staged beside it
//!   and renamed (or atomically exchanged) into place, never merged into what is there,
//!   following no symlink; [`default_output_name`] refuses a hostile service name as the
//!   default directory. [`write_layer`] does the same from a layer streamed off a reader,
//!   entry by entry, with the checks of [`unpack`] and memory that does not grow with the
//!   bundle. See [`write`](mod@write).
//! - Digests are [`pacto_ref::Digest`]s, computed with [`pacto_fs::sha256`].
//!
//! This crate does no network I/O and knows nothing of registries or manifests.
//!
//! [`Bundle`]: pacto_contract::Bundle
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod digest;
mod error;
mod gzip;
mod members;
mod pack;
mod tree;
mod unpack;
pub mod write;

pub use error::{ArchiveError, ExtensionProblem, NameExtension, PackDirError, UnpackError};
pub use pack::{
    COMPRESSION_LEVEL, Durability, LayerInfo, LayerWatch, PROGRESS_STEP, Packed, PackedDir,
    PackedFile, Written, list_dir, pack, pack_dir_to_file, pack_listing, pack_to_file,
    pack_to_file_with_progress, pack_to_writer, pack_to_writer_with_progress,
};
pub use pacto_contract::{LimitError, Limits};
pub use unpack::{MAX_EXTENSION_SIZE, MAX_TRAILING_PADDING, unpack, unpack_bytes};
pub use write::{
    Found, Output, UnsafeName, WriteError, WriteOptions, WrittenLayer, check_output,
    default_output_name, write_bundle, write_layer,
};

/// Media type of the bundle layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.pacto.bundle.layer.v1.tar+gzip";
