//! Bounds on what [`crate::unpack`] accepts.

/// Bounds on an archive being unpacked. A value over a limit is refused; a value exactly
/// at it is accepted.
///
/// The defaults are Go pacto's: 10 MiB per file, 50 MiB in total, 10,000 entries.
/// Raise or lower them per call; they bound the memory `unpack` can be made to use.
///
/// ```
/// use pacto_archive::Limits;
/// let strict = Limits { max_total_size: 1 << 20, ..Limits::default() };
/// assert_eq!(strict.max_file_size, 10 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest regular file, in bytes.
    pub max_file_size: u64,
    /// Largest sum of regular file sizes, in bytes.
    pub max_total_size: u64,
    /// Most entries: files plus distinct directories, whether the archive lists a
    /// directory or only implies it by a path (so the canonical re-pack of an accepted
    /// bundle has no more entries), plus a `./` root entry and global PAX headers.
    pub max_entries: u64,
}

impl Limits {
    /// Go pacto's limits: 10 MiB per file, 50 MiB in total, 10,000 entries.
    pub const GO_PACTO: Limits = Limits {
        max_file_size: 10 * 1024 * 1024,
        max_total_size: 50 * 1024 * 1024,
        max_entries: 10_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::GO_PACTO
    }
}
