//! sha256 into a [`Digest`].

use pacto_ref::Digest;
use sha2::Digest as _;

/// The sha256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::from_sha256(sha2::Sha256::digest(bytes).into())
}

/// An incremental sha256 that also counts the bytes it saw.
#[derive(Debug, Clone, Default)]
pub struct Sha256 {
    hasher: sha2::Sha256,
    size: u64,
}

impl Sha256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// The bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest and size of everything fed.
    pub fn finish(self) -> (Digest, u64) {
        (
            Digest::from_sha256(self.hasher.finalize().into()),
            self.size,
        )
    }
}
