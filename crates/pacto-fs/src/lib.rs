//! The file-system mechanisms of pacto-oci, each defined once and used by every crate that
//! writes or reads files: the OCI layout store, the disk cache, the bundle writer and
//! the login config.
//!
//! - [`AtomicFile`] and [`write_atomic`]: a file appears whole or not at all. It is written
//!   under a temporary name in the same directory (or a temporary directory on the same file
//!   system), synced, renamed into place, and the directory is synced: one durability
//!   policy for every writer. [`Mode`] says who may read it: [`Mode::Shared`] lets the
//!   process umask decide (0644 under 022, as skopeo and ORAS write layouts),
//!   [`Mode::Private`] is 0600 (credentials).
//! - [`BlobDir`]: a content-addressed blob directory (`<root>/sha256/<hex>`, the OCI image
//!   layout's `blobs/`): a blob is renamed into place only once its bytes hash to its
//!   digest, and read back only after being hashed again ([`BlobRead::Corrupt`] removes a
//!   damaged file). [`BlobWriter`] hashes while it streams, so nothing needs the whole blob
//!   in memory.
//! - [`blocking`]: file-system and CPU-bound work (hashing, gzip, tar) on tokio's blocking
//!   pool, so async functions never block an executor thread.
//!
//! ```
//! # fn demo() -> Result<(), pacto_fs::BlobError> {
//! let dir = tempfile::tempdir().unwrap();
//! let blobs = pacto_fs::BlobDir::new(dir.path().join("blobs"), pacto_fs::Mode::Shared);
//! let digest = blobs.write(b"hello")?;
//! assert_eq!(blobs.read(&digest, 1024)?, pacto_fs::BlobRead::Intact(b"hello".to_vec()));
//! # Ok(()) }
//! # demo().unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod atomic;
mod blob;
mod blocking;
mod hash;
mod verify;

pub use atomic::{AtomicFile, Mode, create_dir_all, sync_dir, write_atomic};
pub use blob::{BlobCheck, BlobDir, BlobError, BlobRead, BlobWriter, Mismatch, OBSERVE_STEP};
pub use blocking::blocking;
pub use hash::{Sha256, sha256};
pub use verify::VerifyingReader;
