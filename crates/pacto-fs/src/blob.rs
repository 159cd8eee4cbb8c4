//! A content-addressed blob directory: written only when verified, read only when re-hashed.

use crate::atomic::{AtomicFile, Mode, create_dir_all, owned};
use crate::hash::{Sha256, sha256};
use pacto_ref::{Digest, DigestAlgorithm};
use std::fs::{self, File};
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};

/// Bytes hashed per read by [`BlobDir::check_sized`].
const CHECK_BUFFER: usize = 256 * 1024;

/// The largest step in which [`BlobDir::read_sized_observed`] and
/// [`BlobDir::write_expected_observed`] report bytes: a progress bar moves every MiB, and
/// a big blob costs a few dozen calls, not one per system call.
pub const OBSERVE_STEP: u64 = 1024 * 1024;

/// Why a blob could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// A file-system operation failed.
    #[error("cannot {action} {}", .path.display())]
    #[non_exhaustive]
    Io {
        /// What was being done (`"create"`, `"write"`, `"rename into place"`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The bytes do not hash to the digest they were written under.
    #[error("blob content does not match its digest: expected {expected}, got {actual}")]
    #[non_exhaustive]
    DigestMismatch {
        /// The digest the blob was meant to have.
        expected: Digest,
        /// The digest of the bytes.
        actual: Digest,
    },
    /// The blob does not have the size it was meant to have.
    #[error("blob {digest} has {actual} bytes, expected {expected}")]
    #[non_exhaustive]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// The size it was meant to have.
        expected: u64,
        /// The size it has.
        actual: u64,
    },
    /// Only sha256 blobs can be verified.
    #[error("cannot verify {digest}: only sha256 blobs are supported")]
    #[non_exhaustive]
    UnsupportedAlgorithm {
        /// The blob.
        digest: Digest,
    },
}

impl BlobError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        BlobError::Io {
            action,
            path: owned(path),
            source,
        }
    }
}

/// The outcome of reading a blob.
#[derive(Debug, PartialEq, Eq)]
pub enum BlobRead {
    /// The bytes hash to the blob's digest (and are within the size asked for).
    Intact(Vec<u8>),
    /// There is no such blob.
    Missing,
    /// The file does not hold the blob: it was removed (unless the directory was made with
    /// [`BlobDir::keep_corrupt`]).
    Corrupt(Mismatch),
}

impl BlobRead {
    /// The bytes, when intact.
    pub fn intact(self) -> Option<Vec<u8>> {
        match self {
            BlobRead::Intact(bytes) => Some(bytes),
            BlobRead::Missing | BlobRead::Corrupt(_) => None,
        }
    }
}

/// What [`BlobDir::check_sized`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobCheck {
    /// The blob is there, with the expected size and digest.
    Intact,
    /// No blob with this digest.
    Missing,
    /// The file does not hold what its name says (removed unless the directory keeps them).
    Corrupt(Mismatch),
}

/// How a blob file differs from the blob it is named after.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The file is not the size asked for, or is larger than the most asked for. Reading
    /// stops one byte past the limit, so `actual` is at most `expected + 1`.
    #[non_exhaustive]
    Size {
        /// The exact size, or the most, that was asked for.
        expected: u64,
        /// The bytes read.
        actual: u64,
    },
    /// The bytes hash to another digest.
    #[non_exhaustive]
    Digest {
        /// What they hash to.
        actual: Digest,
    },
}

/// A directory of blobs named by their digests: `<root>/<algorithm>/<hex>`.
///
/// Temporary files are written in the algorithm's directory itself (same file system, and a
/// reader never sees them: they start with `.tmp-`), or in [`BlobDir::with_temp_dir`].
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
    temp: Option<PathBuf>,
    mode: Mode,
    remove_corrupt: bool,
}

impl BlobDir {
    /// The blob directory at `root` (created on first write), writing files with `mode`.
    pub fn new(root: impl Into<PathBuf>, mode: Mode) -> Self {
        BlobDir {
            root: root.into(),
            temp: None,
            mode,
            remove_corrupt: true,
        }
    }

    /// Leaves a corrupt blob where it is when a read finds it (a directory its user owns,
    /// such as an OCI image layout: report the damage, do not repair it behind their back).
    /// A write of that blob still replaces it.
    pub fn keep_corrupt(mut self) -> Self {
        self.remove_corrupt = false;
        self
    }

    /// Writes temporary files in `dir` (on the same file system as the root) instead.
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp = Some(dir.into());
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Whether a blob file is present (with `size` bytes, when given), without hashing it.
    pub fn contains(&self, digest: &Digest, size: Option<u64>) -> bool {
        fs::metadata(self.path(digest))
            .is_ok_and(|m| m.is_file() && size.is_none_or(|size| m.len() == size))
    }

    /// Reads blob `digest` (at most `max_size` bytes) and hashes it: a file that does not
    /// match, or is larger, is reported as [`BlobRead::Corrupt`] (and removed, unless
    /// [`BlobDir::keep_corrupt`]).
    pub fn read(&self, digest: &Digest, max_size: u64) -> Result<BlobRead, BlobError> {
        self.read_checked(digest, max_size, None, self.remove_corrupt, None)
    }

    /// [`BlobDir::read`] for a blob whose exact size is known.
    pub fn read_sized(&self, digest: &Digest, size: u64) -> Result<BlobRead, BlobError> {
        self.read_checked(digest, size, Some(size), self.remove_corrupt, None)
    }

    /// [`BlobDir::read_sized`], calling `observe` with the number of bytes read as they are
    /// read, at most [`OBSERVE_STEP`] at a time (for a progress bar). The bytes are hashed
    /// once all are read, so the calls say nothing about whether the blob is intact.
    pub fn read_sized_observed(
        &self,
        digest: &Digest,
        size: u64,
        mut observe: impl FnMut(u64),
    ) -> Result<BlobRead, BlobError> {
        self.read_checked(
            digest,
            size,
            Some(size),
            self.remove_corrupt,
            Some(&mut observe),
        )
    }

    /// Whether blob `digest` is there with exactly `size` bytes that hash to `digest`,
    /// hashed in bounded steps (memory stays constant whatever the size); a corrupt file is
    /// removed unless [`BlobDir::keep_corrupt`]. [`BlobDir::read_sized`] without the bytes.
    ///
    /// # Errors
    ///
    /// [`BlobError::UnsupportedAlgorithm`] for a digest that is not sha256,
    /// [`BlobError::Io`] when the file cannot be read or a corrupt one removed.
    pub fn check_sized(&self, digest: &Digest, size: u64) -> Result<BlobCheck, BlobError> {
        supported(digest)?;
        let path = self.path(digest);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BlobCheck::Missing),
            Err(e) => return Err(BlobError::io("open", &path, e)),
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; CHECK_BUFFER];
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(|e| BlobError::io("read", &path, e))?;
            if n == 0 || hasher.size() + n as u64 > size {
                hasher.update(&buffer[..n]);
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let (actual, read) = hasher.finish();
        let mismatch = if read != size {
            Mismatch::Size {
                expected: size,
                actual: read,
            }
        } else if actual != *digest {
            Mismatch::Digest { actual }
        } else {
            return Ok(BlobCheck::Intact);
        };
        if self.remove_corrupt {
            tracing::warn!(path = %path.display(), %digest, "blob is corrupt: removed");
            self.remove(digest)?;
        }
        Ok(BlobCheck::Corrupt(mismatch))
    }

    fn read_checked(
        &self,
        digest: &Digest,
        max_size: u64,
        exact: Option<u64>,
        remove_corrupt: bool,
        observe: Option<&mut dyn FnMut(u64)>,
    ) -> Result<BlobRead, BlobError> {
        supported(digest)?;
        let path = self.path(digest);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BlobRead::Missing),
            Err(e) => return Err(BlobError::io("open", &path, e)),
        };
        let mut bytes = Vec::new();
        let mut file = file.take(max_size.saturating_add(1));
        match observe {
            None => file.read_to_end(&mut bytes).map(drop),
            Some(observe) => read_observed(&mut file, &mut bytes, observe),
        }
        .map_err(|e| BlobError::io("read", &path, e))?;
        let size = bytes.len() as u64;
        let mismatch = if size > max_size || exact.is_some_and(|exact| size != exact) {
            Mismatch::Size {
                expected: exact.unwrap_or(max_size),
                actual: size,
            }
        } else {
            let actual = sha256(&bytes);
            if actual == *digest {
                return Ok(BlobRead::Intact(bytes));
            }
            Mismatch::Digest { actual }
        };
        if remove_corrupt {
            tracing::warn!(path = %path.display(), %digest, "blob is corrupt: removed");
            self.remove(digest)?;
        }
        Ok(BlobRead::Corrupt(mismatch))
    }

    /// Stores `bytes` under their sha256 digest (an intact blob already there is kept, a
    /// corrupt one replaced) and returns the digest.
    pub fn write(&self, bytes: &[u8]) -> Result<Digest, BlobError> {
        let digest = sha256(bytes);
        self.write_verified(&digest, bytes, None)?;
        Ok(digest)
    }

    /// Stores `bytes` as blob `digest`, refusing bytes that do not hash to it.
    pub fn write_expected(&self, digest: &Digest, bytes: &[u8]) -> Result<(), BlobError> {
        self.write_checked(digest, bytes, None)
    }

    /// [`BlobDir::write_expected`], calling `observe` with the number of bytes written as
    /// they are written, at most [`OBSERVE_STEP`] at a time (for a progress bar); when an
    /// intact copy is already there, nothing is written and `observe` is called once with
    /// the whole size. Either way the calls add up to `bytes.len()` when it succeeds.
    pub fn write_expected_observed(
        &self,
        digest: &Digest,
        bytes: &[u8],
        mut observe: impl FnMut(u64),
    ) -> Result<(), BlobError> {
        self.write_checked(digest, bytes, Some(&mut observe))
    }

    fn write_checked(
        &self,
        digest: &Digest,
        bytes: &[u8],
        observe: Option<&mut dyn FnMut(u64)>,
    ) -> Result<(), BlobError> {
        supported(digest)?;
        let actual = sha256(bytes);
        if actual != *digest {
            return Err(BlobError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        self.write_verified(digest, bytes, observe)
    }

    fn write_verified(
        &self,
        digest: &Digest,
        bytes: &[u8],
        mut observe: Option<&mut dyn FnMut(u64)>,
    ) -> Result<(), BlobError> {
        let size = bytes.len() as u64;
        // Hashing what is there costs less than writing and syncing it again, and finds a
        // damaged copy of the same size.
        if self.contains(digest, Some(size))
            && let BlobRead::Intact(_) = self.read_checked(digest, size, Some(size), false, None)?
        {
            if let Some(observe) = observe {
                observe(size);
            }
            return Ok(());
        }
        let mut writer = self.writer()?;
        let step = usize::try_from(OBSERVE_STEP).unwrap_or(usize::MAX);
        for chunk in bytes.chunks(step) {
            writer
                .write_all(chunk)
                .map_err(|e| BlobError::io("write", writer.file.path(), e))?;
            if let Some(observe) = observe.as_deref_mut() {
                observe(chunk.len() as u64);
            }
        }
        writer.finish(Some(digest), Some(bytes.len() as u64))?;
        Ok(())
    }

    /// A writer that hashes while it streams; [`BlobWriter::finish`] names the blob.
    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        let dir = self.root.join(DigestAlgorithm::Sha256.as_str());
        create_dir_all(&dir, self.mode).map_err(|e| BlobError::io("create", &dir, e))?;
        let temp_dir = self.temp.as_deref().unwrap_or(&dir);
        if self.temp.is_some() {
            create_dir_all(temp_dir, self.mode)
                .map_err(|e| BlobError::io("create", temp_dir, e))?;
        }
        let file = AtomicFile::create_in(temp_dir, self.mode)
            .map_err(|e| BlobError::io("create a temporary file in", temp_dir, e))?;
        Ok(BlobWriter {
            file,
            hasher: Sha256::new(),
            dir: self.clone(),
        })
    }

    /// Removes blob `digest`; a missing one is fine.
    pub fn remove(&self, digest: &Digest) -> Result<(), BlobError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::io("remove", &path, e)),
        }
    }
}

/// Reads `reader` to its end into `bytes`, telling `observe` about every [`OBSERVE_STEP`]
/// (or the last, shorter part).
fn read_observed(
    reader: &mut impl io::Read,
    bytes: &mut Vec<u8>,
    observe: &mut dyn FnMut(u64),
) -> io::Result<()> {
    loop {
        let n = reader.by_ref().take(OBSERVE_STEP).read_to_end(bytes)?;
        if n == 0 {
            return Ok(());
        }
        observe(n as u64);
    }
}

fn supported(digest: &Digest) -> Result<(), BlobError> {
    if digest.algorithm() == DigestAlgorithm::Sha256 {
        Ok(())
    } else {
        Err(BlobError::UnsupportedAlgorithm {
            digest: digest.clone(),
        })
    }
}

/// A blob being written: every byte is hashed on its way to a temporary file; the blob
/// appears under its digest only through [`BlobWriter::finish`]. Dropped unfinished, it
/// leaves nothing behind.
#[derive(Debug)]
pub struct BlobWriter {
    file: AtomicFile,
    hasher: Sha256,
    dir: BlobDir,
}

impl BlobWriter {
    /// The bytes written so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// The temporary file (to lock it while it is written, say).
    pub fn file(&self) -> &File {
        self.file.file()
    }

    /// The temporary path (for messages; it disappears at [`BlobWriter::finish`]).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Checks the bytes against `expected` digest and size (when given) and renames the
    /// file into place under its digest; returns the digest.
    pub fn finish(
        self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<Digest, BlobError> {
        let (digest, size) = self.hasher.finish();
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(BlobError::DigestMismatch {
                expected: expected.clone(),
                actual: digest,
            });
        }
        if let Some(expected) = expected_size
            && expected != size
        {
            return Err(BlobError::SizeMismatch {
                digest,
                expected,
                actual: size,
            });
        }
        let dest = self.dir.path(&digest);
        let temp = self.file.path().to_owned();
        // Synced, renamed, and the blob's directory synced: the one durability policy.
        self.file
            .commit(&dest)
            .map_err(|e| BlobError::io("rename into place", &temp, e))?;
        Ok(digest)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
