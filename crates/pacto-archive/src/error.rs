//! Errors of packing and unpacking.

use pacto_contract::{BundleError, ContractError, LimitError, MissingFiles, PathError};
use std::io;
use std::path::PathBuf;

/// Errors from [`crate::pack`], [`crate::pack_to_writer`] and [`crate::pack_to_file`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A file is too large for a ustar size field (8 GiB).
    #[error("cannot pack {path:?}: {size} bytes is more than a tar header can describe")]
    #[non_exhaustive]
    FileTooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The bundle is over the [`crate::Limits`] the pack was given: an archive of it would
    /// be refused by [`crate::unpack`] with the same limits.
    #[error(transparent)]
    OverLimit(#[from] LimitError),
    /// Reading a bundle file from disk failed ([`crate::pack_dir_to_file`]).
    #[error("cannot read {}", path.display())]
    #[non_exhaustive]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// A bundle file's size changed between the directory's listing and its read
    /// ([`crate::pack_dir_to_file`]): the archive would not match the listing.
    #[error(
        "{} changed while it was packed ({listed} bytes when listed, {read} read{}); pack \
         again once nothing writes to the bundle",
        path.display(),
        if read > listed { " or more" } else { "" }
    )]
    #[non_exhaustive]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Its size when listed (the size its tar header announces).
        listed: u64,
        /// How many bytes were read (one more than listed when it grew).
        read: u64,
    },
    /// Writing the archive failed (the destination file or writer).
    #[error("cannot write the archive to {}", path.as_ref().map_or_else(|| "the writer".to_owned(), |p| p.display().to_string()))]
    #[non_exhaustive]
    Io {
        /// The destination file, if writing to a file.
        path: Option<PathBuf>,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
}

impl ArchiveError {
    /// A failure to write the archive to a writer (not a file) of the caller's.
    pub fn writer(source: io::Error) -> Self {
        ArchiveError::Io { path: None, source }
    }

    /// True when the bundle itself cannot be packed (a limit, a file too large for tar);
    /// false for a failure of the destination ([`ArchiveError::Io`]) or of a file read
    /// from disk ([`ArchiveError::Read`], [`ArchiveError::FileChanged`]).
    pub fn is_invalid_bundle(&self) -> bool {
        !matches!(
            self,
            ArchiveError::Io { .. } | ArchiveError::Read { .. } | ArchiveError::FileChanged { .. }
        )
    }
}

/// Errors from [`crate::pack_dir_to_file`]: the directory's, as
/// [`pacto_contract::Bundle::from_dir_with_limits`] reports them, its references, or the
/// pack's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackDirError {
    /// The directory is not a valid bundle, or could not be read: exactly what
    /// [`pacto_contract::Bundle::from_dir_with_limits`] says of it.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The contract references files the directory does not hold.
    #[error(transparent)]
    MissingReferences(#[from] MissingFiles),
    /// Packing failed: a limit, a file too large for tar, a file read or changed, the
    /// destination.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl PackDirError {
    /// True when the directory is not a valid bundle (as opposed to a failure to read it,
    /// a file changing under the pack, or the destination failing).
    pub fn is_invalid_bundle(&self) -> bool {
        match self {
            PackDirError::Bundle(e) => !matches!(e, BundleError::Io { .. }),
            PackDirError::MissingReferences(_) => true,
            PackDirError::Archive(e) => e.is_invalid_bundle(),
        }
    }
}

/// Which extension carried a name that disagrees with the tar header's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameExtension {
    /// A PAX `path` record.
    PaxPath,
    /// A GNU long-name (`L`) entry.
    GnuLongName,
}

/// What is wrong with a PAX or GNU extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionProblem {
    /// The extension is larger than any legitimate one.
    #[non_exhaustive]
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Extension headers add up to more than [`crate::Limits::max_total_size`].
    #[non_exhaustive]
    TooMuchInTotal {
        /// The limit in bytes.
        limit: u64,
    },
    /// Two PAX headers, or two GNU long names, for one entry.
    Repeated,
    /// Both a PAX `path` and a GNU long name for one entry.
    PaxAndGnuName,
    /// PAX records that do not parse, a repeated or empty `path`/`size`, or a `size` that
    /// is not a decimal number.
    Malformed,
    /// The archive ends after the extension, with no entry for it to describe.
    NotFollowedByEntry,
}

impl std::fmt::Display for ExtensionProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExtensionProblem::TooLarge { size, limit } => {
                write!(f, "it is {size} bytes, over the {limit}-byte limit")
            }
            ExtensionProblem::TooMuchInTotal { limit } => {
                write!(f, "extension headers add up to more than {limit} bytes")
            }
            ExtensionProblem::Repeated => f.write_str("a second one describes the same entry"),
            ExtensionProblem::PaxAndGnuName => {
                f.write_str("a PAX path and a GNU long name describe the same entry")
            }
            ExtensionProblem::Malformed => f.write_str("its records are malformed"),
            ExtensionProblem::NotFollowedByEntry => {
                f.write_str("the archive ends before the entry it describes")
            }
        }
    }
}

/// Why an archive is not a valid Pacto bundle layer (or, for [`UnpackError::Read`], could
/// not be read).
///
/// Every variant but [`UnpackError::Read`] is the artifact's fault:
/// [`UnpackError::is_invalid_bundle`] tells them apart. Entry names are shown as found in
/// the archive (lossily, if not UTF-8).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// A path with a `..` component.
    #[error("archive entry {entry:?} has a '..' path component, which would leave the bundle")]
    #[non_exhaustive]
    PathTraversal {
        /// The entry's path.
        entry: String,
    },
    /// An absolute path.
    #[error("archive entry {entry:?} has an absolute path")]
    #[non_exhaustive]
    AbsolutePath {
        /// The entry's path.
        entry: String,
    },
    /// A backslash in a path.
    #[error("archive entry {entry:?} has a backslash in its path")]
    #[non_exhaustive]
    Backslash {
        /// The entry's path.
        entry: String,
    },
    /// Another path rule: empty, `.` or empty component, NUL byte, or too long.
    #[error("archive entry {entry:?} has an invalid path")]
    #[non_exhaustive]
    InvalidPath {
        /// The entry's path.
        entry: String,
        /// Which rule it breaks.
        #[source]
        source: PathError,
    },
    /// A path that is not UTF-8.
    #[error("archive entry {entry_lossy:?} has a path that is not UTF-8")]
    #[non_exhaustive]
    NonUtf8Name {
        /// The path with invalid bytes replaced by U+FFFD.
        entry_lossy: String,
    },
    /// An entry that is neither a regular file nor a directory.
    #[error("archive entry {entry:?} is a {kind}; bundles hold regular files and directories only")]
    #[non_exhaustive]
    UnsupportedEntryType {
        /// The entry's path.
        entry: String,
        /// What it is (`symlink`, `hard link`, `fifo`, ...).
        kind: String,
    },
    /// A file over [`crate::Limits::max_file_size`].
    #[error("archive entry {entry:?} is {size} bytes, over the {limit}-byte file limit")]
    #[non_exhaustive]
    FileTooLarge {
        /// The entry's path.
        entry: String,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Files adding up to more than [`crate::Limits::max_total_size`].
    #[error("archive entry {entry:?} takes the bundle over its {limit}-byte total size limit")]
    #[non_exhaustive]
    TotalTooLarge {
        /// The entry that crossed the limit.
        entry: String,
        /// The limit.
        limit: u64,
    },
    /// More entries than [`crate::Limits::max_entries`]: files plus distinct directories
    /// (listed or only implied by paths), plus a `./` root entry and global headers.
    #[error("archive has more than {limit} entries (files and directories)")]
    #[non_exhaustive]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// A path with more components than [`crate::Limits::max_depth`].
    #[error("archive entry {entry:?} is {depth} levels deep, over the {limit}-level depth limit")]
    #[non_exhaustive]
    TooDeep {
        /// The entry's path.
        entry: String,
        /// Its number of path components.
        depth: u64,
        /// The limit.
        limit: u64,
    },
    /// Two entries with the same path.
    #[error("archive has two entries for {entry:?}")]
    #[non_exhaustive]
    DuplicatePath {
        /// The path given twice.
        entry: String,
    },
    /// An entry below a path that is a regular file.
    #[error("archive entry {entry:?} is below {file:?}, which is a regular file")]
    #[non_exhaustive]
    PathConflict {
        /// The entry.
        entry: String,
        /// The file used as a directory.
        file: String,
    },
    /// A PAX `size` that differs from the header's size (TARmageddon, RUSTSEC-2025-0111):
    /// readers that honour one or the other would see different entries.
    #[error(
        "archive entry {entry:?} has a PAX size of {pax_size} bytes but a header size of \
         {header_size} bytes"
    )]
    #[non_exhaustive]
    PaxSizeMismatch {
        /// The entry's path.
        entry: String,
        /// The size in the ustar header.
        header_size: u64,
        /// The size in the PAX record.
        pax_size: u64,
    },
    /// A PAX `path` or GNU long name that is not the entry's header name, nor the
    /// truncated form of it that tar writers put in the header.
    #[error(
        "archive entry {entry:?} has a header name of {header_name:?}, which its {extension:?} extension overrides"
    )]
    #[non_exhaustive]
    NameOverride {
        /// The name the extension gives.
        entry: String,
        /// The name in the header.
        header_name: String,
        /// Which extension gave the other name.
        extension: NameExtension,
    },
    /// A PAX record that changes how an entry's data is read (`GNU.sparse.*`), or a
    /// `path`, `linkpath` or `size` in a global header.
    #[error("archive entry {entry:?} has the PAX record {key:?}, which pacto does not accept")]
    #[non_exhaustive]
    ForbiddenPaxKey {
        /// The entry (or the global header's own name).
        entry: String,
        /// The record's key.
        key: String,
    },
    /// A broken PAX or GNU extension header.
    #[error("archive extension header {entry:?} is invalid: {problem}")]
    #[non_exhaustive]
    BadExtension {
        /// The extension header's own name.
        entry: String,
        /// What is wrong.
        problem: ExtensionProblem,
    },
    /// A directory entry that carries data.
    #[error("archive directory entry {entry:?} carries {size} bytes of data")]
    #[non_exhaustive]
    DirectoryWithData {
        /// The entry's path.
        entry: String,
        /// The size in its header.
        size: u64,
    },
    /// A file whose data ends before its header's size.
    #[error("archive entry {entry:?} is truncated: {actual} of {expected} bytes")]
    #[non_exhaustive]
    TruncatedEntry {
        /// The entry's path.
        entry: String,
        /// The size in its header.
        expected: u64,
        /// The bytes that were there.
        actual: u64,
    },
    /// The gzip stream ends early.
    #[error("the layer's gzip stream is truncated")]
    TruncatedStream,
    /// The gzip or tar framing is corrupt (bad gzip header, deflate data or checksum; bad
    /// tar header checksum or numeric field).
    #[error("the layer is not a valid tar+gzip stream")]
    #[non_exhaustive]
    Corrupt {
        /// What the decoder reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Bytes after the gzip stream that are not another gzip member.
    #[error("the layer has trailing data after its gzip stream")]
    TrailingData,
    /// The tar stream ends without its end-of-archive marker.
    #[error("the tar archive ends without its end-of-archive marker (it is truncated)")]
    MissingEndOfArchive,
    /// Non-zero bytes, or more zero padding than any tar writer adds, after the tar
    /// end-of-archive marker.
    #[error(
        "the tar archive has data after its end-of-archive marker (at byte {offset} of the tar)"
    )]
    #[non_exhaustive]
    DataAfterArchiveEnd {
        /// Offset in the uncompressed tar of the first refused byte.
        offset: u64,
    },
    /// There is no `pacto.yaml` at the bundle root.
    #[error("the archive has no pacto.yaml at its root")]
    MissingContract,
    /// `pacto.yaml` does not parse as a Pacto contract.
    #[error("the archive's pacto.yaml is not a valid Pacto contract")]
    #[non_exhaustive]
    InvalidContract {
        /// Why it does not parse.
        #[source]
        source: ContractError,
    },
    /// The files do not form a bundle for another reason.
    #[error("the archive's files are not a valid bundle")]
    #[non_exhaustive]
    InvalidBundle {
        /// Why.
        #[source]
        source: BundleError,
    },
    /// Reading from the caller's reader failed. Not the artifact's fault.
    #[error("reading the layer failed")]
    #[non_exhaustive]
    Read {
        /// The reader's error.
        #[source]
        source: io::Error,
    },
}

impl UnpackError {
    /// True when the artifact itself is at fault (Go pacto's `InvalidBundleError`); false
    /// only for [`UnpackError::Read`], a failure of the reader the caller supplied.
    pub fn is_invalid_bundle(&self) -> bool {
        !matches!(self, UnpackError::Read { .. })
    }

    pub(crate) fn from_path_error(entry: &str, source: PathError) -> UnpackError {
        let entry = entry.to_owned();
        match source {
            PathError::ParentComponent { .. } => UnpackError::PathTraversal { entry },
            PathError::Absolute { .. } => UnpackError::AbsolutePath { entry },
            PathError::Backslash { .. } => UnpackError::Backslash { entry },
            source => UnpackError::InvalidPath { entry, source },
        }
    }
}
