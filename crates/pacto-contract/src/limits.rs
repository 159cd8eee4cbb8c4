//! [`Limits`]: how large a bundle may be, one value for both directions.
//!
//! Reading a directory ([`crate::Bundle::from_dir_with_limits`]), packing, pushing, pulling and
//! caching all apply the same limits, so whatever one side accepts the other accepts too: a
//! bundle that could be pushed can always be pulled with the same limits.

use crate::path::BundlePath;
use std::collections::HashSet;

/// Bounds on a bundle. A value over a limit is refused; a value exactly at it is accepted.
///
/// The defaults ([`Limits::GO_PACTO`]) are Go pacto's 10 MiB per file, 50 MiB in total and
/// 10,000 entries, plus a depth of 128 path components (Go pacto has no depth limit; no real
/// bundle comes near it). Paths are also bounded by [`crate::MAX_PATH_LEN`] bytes, a rule of
/// every bundle rather than a limit.
///
/// The struct is `#[non_exhaustive]`: start from [`Limits::default`] (or
/// [`Limits::GO_PACTO`]) and change what you need with the `with_*` methods, which are
/// `const`.
///
/// ```
/// use pacto_contract::Limits;
/// let strict = Limits::default().with_max_total_size(1 << 20);
/// assert_eq!(strict.max_file_size, 10 * 1024 * 1024);
/// assert_eq!(strict.max_total_size, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Largest regular file, in bytes.
    pub max_file_size: u64,
    /// Largest sum of regular file sizes, in bytes.
    pub max_total_size: u64,
    /// Most entries: files plus distinct directories, whether an archive lists a directory
    /// or only implies it by a path (so the canonical re-pack of an accepted bundle has no
    /// more entries), plus, when unpacking, a `./` root entry and global PAX headers.
    pub max_entries: u64,
    /// Most path components of a file or directory (`a/b/c.txt` is 3 deep).
    pub max_depth: u64,
}

impl Limits {
    /// The defaults: Go pacto's 10 MiB per file, 50 MiB in total, 10,000 entries, and a
    /// depth of 128.
    pub const GO_PACTO: Limits = Limits {
        max_file_size: 10 * 1024 * 1024,
        max_total_size: 50 * 1024 * 1024,
        max_entries: 10_000,
        max_depth: 128,
    };

    /// These limits with the largest file set to `bytes`.
    pub const fn with_max_file_size(mut self, bytes: u64) -> Limits {
        self.max_file_size = bytes;
        self
    }

    /// These limits with the largest total of file sizes set to `bytes`.
    pub const fn with_max_total_size(mut self, bytes: u64) -> Limits {
        self.max_total_size = bytes;
        self
    }

    /// These limits with the most entries (files and directories) set to `entries`.
    pub const fn with_max_entries(mut self, entries: u64) -> Limits {
        self.max_entries = entries;
        self
    }

    /// These limits with the most path components set to `depth`.
    pub const fn with_max_depth(mut self, depth: u64) -> Limits {
        self.max_depth = depth;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::GO_PACTO
    }
}

/// A bundle over one of its [`Limits`]. Each variant names the file that crossed the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A file over [`Limits::max_file_size`].
    #[error("bundle file {path:?} is {size} bytes, over the {limit}-byte per-file limit")]
    #[non_exhaustive]
    FileTooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Files adding up to more than [`Limits::max_total_size`].
    #[error("bundle file {path:?} takes the bundle over its {limit}-byte total size limit")]
    #[non_exhaustive]
    TotalTooLarge {
        /// The file that crossed the limit.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// More files and directories than [`Limits::max_entries`].
    #[error(
        "bundle file {path:?} takes the bundle over its limit of {limit} entries (files and \
         directories)"
    )]
    #[non_exhaustive]
    TooManyEntries {
        /// The file whose entry (or whose new directory) crossed the limit.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// A path with more components than [`Limits::max_depth`].
    #[error("bundle file {path:?} is {depth} levels deep, over the {limit}-level depth limit")]
    #[non_exhaustive]
    TooDeep {
        /// The file.
        path: String,
        /// Its number of path components.
        depth: u64,
        /// The limit.
        limit: u64,
    },
}

impl LimitError {
    /// [`LimitError::TotalTooLarge`]: `path` takes the bundle over the total size `limit`
    /// (for codecs that count bytes beyond the files, as an archive's PAX records).
    pub fn total_too_large(path: impl Into<String>, limit: u64) -> Self {
        LimitError::TotalTooLarge {
            path: path.into(),
            limit,
        }
    }
}

/// Counts a bundle's files against [`Limits`] as they are added, exactly as an archive of
/// the bundle counts: one entry per file and per distinct directory.
///
/// Each check costs time in proportion to the path's length times the number of new
/// directories it brings, and every new directory is an entry, so the work is bounded by
/// the limits themselves.
#[derive(Debug)]
pub(crate) struct Tally<'a> {
    limits: &'a Limits,
    total: u64,
    entries: u64,
    dirs: HashSet<Box<str>>,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Self {
        Tally {
            limits,
            total: 0,
            entries: 0,
            dirs: HashSet::new(),
        }
    }

    /// Counts the file at `path` (not yet counted) of `size` bytes; a refused file is not
    /// counted.
    pub(crate) fn add_file(&mut self, path: &BundlePath, size: u64) -> Result<(), LimitError> {
        let depth = path.depth();
        if depth > self.limits.max_depth {
            return Err(LimitError::TooDeep {
                path: path.to_string(),
                depth,
                limit: self.limits.max_depth,
            });
        }
        let total = self.total_with(path, size)?;
        // Parents, longest first: once one is known, so are all of its own parents.
        let new_dirs = path
            .parents()
            .take_while(|dir| !self.dirs.contains(*dir))
            .count();
        let entries = self.entries.saturating_add(new_dirs as u64 + 1);
        if entries > self.limits.max_entries {
            return Err(LimitError::TooManyEntries {
                path: path.to_string(),
                limit: self.limits.max_entries,
            });
        }
        for dir in path.parents().take(new_dirs) {
            self.dirs.insert(dir.into());
        }
        self.entries = entries;
        self.total = total;
        Ok(())
    }

    /// Counts the file at `path`, already counted with `counted` bytes, as `size` bytes
    /// instead (a file that changed between its size and its bytes being read).
    pub(crate) fn resize_file(
        &mut self,
        path: &BundlePath,
        counted: u64,
        size: u64,
    ) -> Result<(), LimitError> {
        self.total = self.total.saturating_sub(counted);
        self.total = self.total_with(path, size)?;
        Ok(())
    }

    /// The total with one more file of `size` bytes, checked.
    fn total_with(&self, path: &BundlePath, size: u64) -> Result<u64, LimitError> {
        if size > self.limits.max_file_size {
            return Err(LimitError::FileTooLarge {
                path: path.to_string(),
                size,
                limit: self.limits.max_file_size,
            });
        }
        let total = self.total.saturating_add(size);
        if total > self.limits.max_total_size {
            return Err(LimitError::TotalTooLarge {
                path: path.to_string(),
                limit: self.limits.max_total_size,
            });
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> BundlePath {
        BundlePath::parse(path).unwrap()
    }

    #[test]
    fn entries_are_files_plus_distinct_directories() {
        let limits = Limits::default().with_max_entries(5);
        let mut tally = Tally::new(&limits);
        tally.add_file(&p("pacto.yaml"), 1).unwrap(); // 1
        tally.add_file(&p("a/b/c.txt"), 1).unwrap(); // a, a/b, a/b/c.txt: 4
        tally.add_file(&p("a/b/d.txt"), 1).unwrap(); // 5
        assert_eq!(
            tally.add_file(&p("a/e.txt"), 1),
            Err(LimitError::TooManyEntries {
                path: "a/e.txt".into(),
                limit: 5
            })
        );
        // A refused file is not counted.
        let limits = Limits::default().with_max_entries(3);
        let mut tally = Tally::new(&limits);
        tally.add_file(&p("x"), 1).unwrap();
        assert!(tally.add_file(&p("a/b/c"), 1).is_err());
        tally.add_file(&p("a/b"), 1).unwrap();
        assert_eq!((tally.entries, tally.total), (3, 2));
    }

    #[test]
    fn sizes_and_depth() {
        let limits = Limits::default()
            .with_max_file_size(10)
            .with_max_total_size(15)
            .with_max_depth(3);
        let mut tally = Tally::new(&limits);
        tally.add_file(&p("a"), 10).unwrap();
        assert!(matches!(
            tally.add_file(&p("b"), 11),
            Err(LimitError::FileTooLarge {
                size: 11,
                limit: 10,
                ..
            })
        ));
        tally.add_file(&p("c"), 5).unwrap();
        assert!(matches!(
            tally.add_file(&p("d"), 1),
            Err(LimitError::TotalTooLarge { limit: 15, .. })
        ));
        tally.resize_file(&p("c"), 5, 4).unwrap();
        tally.add_file(&p("x/y/z"), 1).unwrap();
        assert_eq!(
            tally.add_file(&p("x/y/z/w"), 0),
            Err(LimitError::TooDeep {
                path: "x/y/z/w".into(),
                depth: 4,
                limit: 3
            })
        );
    }
}
