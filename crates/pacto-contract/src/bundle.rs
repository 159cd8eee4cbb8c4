//! [`Bundle`]: a parsed contract plus every file that ships with it.

use crate::limits::{LimitError, Limits, Tally};
use crate::model::Contract;
use crate::parse::{ContractError, parse};
use crate::path::{BundlePath, PathError};
use bytes::Bytes;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

/// The contract file at the root of every bundle.
pub const CONTRACT_FILE: &str = "pacto.yaml";

/// The ignore file read from the root of a bundle directory (gitignore syntax).
pub const IGNORE_FILE: &str = ".pactoignore";

/// Patterns ignored in every bundle directory, before the lines of [`IGNORE_FILE`].
pub const DEFAULT_IGNORES: [&str; 3] = [".git/", ".pactoignore", ".DS_Store"];

/// A contract bundle: the parsed `pacto.yaml`, its raw bytes, and every file of the bundle.
///
/// Invariants, true of every `Bundle` by construction (its fields are private, and
/// [`Bundle::from_files`], [`Bundle::from_dir`] and [`BundleBuilder::build`] are the only ways
/// to make one):
/// - [`Bundle::files`] holds every regular file, `pacto.yaml` included, keyed by its
///   [`BundlePath`] (relative, `/`-separated, no `.`/`..`/empty components, no backslash, no
///   NUL, at most [`crate::MAX_PATH_LEN`] bytes), and no path is a directory of another;
/// - [`Bundle::raw_yaml`] is `files["pacto.yaml"]` and [`Bundle::contract`] is
///   `parse(raw_yaml)`.
///
/// Directories are implied by the file paths; empty directories are not part of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    contract: Contract,
    raw_yaml: Bytes,
    files: BTreeMap<BundlePath, Bytes>,
}

/// Collects the files of a bundle whose paths are already [`BundlePath`]s (an archive reader,
/// a directory walk), so that no path is checked twice; [`BundleBuilder::build`] checks what
/// only the whole set can show and parses the contract.
///
/// ```
/// use pacto_contract::{BundleBuilder, BundlePath};
/// let mut builder = BundleBuilder::new();
/// let yaml = "pactoVersion: '1.0'\nservice:\n  name: svc\n  version: 1.0.0\n";
/// builder.insert(BundlePath::parse("pacto.yaml")?, yaml.into())?;
/// builder.insert(BundlePath::parse("api/openapi.yaml")?, "openapi: 3.1.0".into())?;
/// let bundle = builder.build()?;
/// assert_eq!(bundle.name(), "svc");
/// assert_eq!(bundle.file("api/openapi.yaml").map(|b| &b[..]), Some(&b"openapi: 3.1.0"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BundleBuilder {
    files: BTreeMap<BundlePath, Bytes>,
}

impl BundleBuilder {
    /// A builder with no files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the file at `path`; a path given twice is refused.
    pub fn insert(&mut self, path: BundlePath, bytes: Bytes) -> Result<(), BundleError> {
        match self.files.entry(path) {
            Entry::Occupied(taken) => Err(BundleError::DuplicatePath {
                path: taken.key().to_string(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(bytes);
                Ok(())
            }
        }
    }

    /// The bundle: refused when a path is also the directory of another, or when
    /// `pacto.yaml` is missing or does not parse.
    pub fn build(self) -> Result<Bundle, BundleError> {
        check_no_conflicts(self.files.keys())?;
        let raw_yaml = self
            .files
            .get(CONTRACT_FILE)
            .cloned()
            .ok_or(BundleError::MissingContract)?;
        let contract =
            parse(&raw_yaml).map_err(|source| BundleError::InvalidContract { source })?;
        Ok(Bundle {
            contract,
            raw_yaml,
            files: self.files,
        })
    }
}

/// Errors from building a [`Bundle`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Reading the bundle directory failed.
    #[error("cannot read {}", path.display())]
    #[non_exhaustive]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The path given as the bundle directory is not a directory.
    #[error("{} is not a directory; point at the directory that holds pacto.yaml", path.display())]
    #[non_exhaustive]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The bundle directory contains a symbolic link.
    #[error(
        "{} is a symbolic link; bundles hold regular files only: copy the target in its place \
         or list it in .pactoignore",
        path.display()
    )]
    #[non_exhaustive]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The bundle directory contains a socket, FIFO or device.
    #[error(
        "{} is not a regular file or directory; remove it or list it in .pactoignore",
        path.display()
    )]
    #[non_exhaustive]
    NotRegularFile {
        /// The offending entry.
        path: PathBuf,
    },
    /// A file or directory name in the bundle directory is not UTF-8.
    #[error("{} has a name that is not UTF-8; rename it or list it in .pactoignore", path.display())]
    #[non_exhaustive]
    NonUtf8Name {
        /// The offending entry.
        path: PathBuf,
    },
    /// `.pactoignore` has a line that is not a valid gitignore pattern.
    #[error("{} has an invalid pattern; fix or remove the line", path.display())]
    #[non_exhaustive]
    Ignore {
        /// The ignore file.
        path: PathBuf,
        /// What the pattern parser reported (it names the pattern).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file path is not a valid bundle path.
    #[error("invalid bundle path {path:?}")]
    #[non_exhaustive]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Which rule it breaks.
        #[source]
        source: PathError,
    },
    /// Two paths name the same file once normalised (`./a` and `a`).
    #[error("bundle path {path:?} is given twice")]
    #[non_exhaustive]
    DuplicatePath {
        /// The normalised path.
        path: String,
    },
    /// A path is both a file and the directory of another file.
    #[error("bundle path {path:?} is a file and also the directory of {child:?}")]
    #[non_exhaustive]
    PathConflict {
        /// The path used as both.
        path: String,
        /// A file inside it.
        child: String,
    },
    /// There is no `pacto.yaml` at the bundle root.
    #[error("bundle has no pacto.yaml at its root")]
    MissingContract,
    /// `pacto.yaml` does not parse as a Pacto contract.
    #[error("pacto.yaml is not a valid Pacto contract")]
    #[non_exhaustive]
    InvalidContract {
        /// Why it does not parse.
        #[source]
        source: ContractError,
    },
    /// The bundle directory is over one of its [`Limits`] (its message names the file and
    /// the limit).
    #[error(transparent)]
    OverLimit(#[from] LimitError),
}

impl Bundle {
    /// Builds a bundle from files keyed by bundle-relative path.
    ///
    /// Every key is parsed as a [`BundlePath`] (a leading `./` is dropped, anything else
    /// irregular is refused); two keys that normalise alike, or a file that is also the
    /// directory of another file, are refused; `pacto.yaml` must be present and parse.
    pub fn from_files(files: BTreeMap<String, Bytes>) -> Result<Bundle, BundleError> {
        let mut builder = BundleBuilder::new();
        for (path, bytes) in files {
            let clean = BundlePath::parse(&path)
                .map_err(|source| BundleError::InvalidPath { path, source })?;
            builder.insert(clean, bytes)?;
        }
        builder.build()
    }

    /// Reads a bundle directory within the default [`Limits`]: see
    /// [`Bundle::from_dir_with_limits`].
    pub fn from_dir(dir: &Path) -> Result<Bundle, BundleError> {
        Bundle::from_dir_with_limits(dir, &Limits::default())
    }

    /// Reads a bundle directory: every regular file below `dir` that `.pactoignore` does
    /// not exclude, within `limits`.
    ///
    /// `.pactoignore` at the root uses gitignore syntax; [`DEFAULT_IGNORES`] apply first,
    /// and `pacto.yaml` at the root is never excluded. An ignored directory is not entered.
    /// A symbolic link, socket, FIFO or device that is not ignored is refused (`dir`
    /// itself may be a link to a directory), as is a name that is not UTF-8. The result
    /// does not depend on the order in which the OS lists entries.
    ///
    /// Reading stops at the first file that breaks a rule: an invalid path (one longer than
    /// [`crate::MAX_PATH_LEN`] included) or one of `limits` ([`BundleError::OverLimit`]),
    /// counted the way an archive of the bundle counts (files plus distinct directories).
    /// Sizes are checked from the file system before a file is read, and no file is read
    /// beyond `limits.max_file_size`, so an oversized file costs no memory.
    pub fn from_dir_with_limits(dir: &Path, limits: &Limits) -> Result<Bundle, BundleError> {
        let meta = fs::metadata(dir).map_err(|source| BundleError::Io {
            path: dir.to_owned(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(BundleError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        let matcher = ignore_matcher(dir)?;
        let mut files = BundleBuilder::new();
        walk(dir, &matcher, limits, &mut |abs, path, tally| {
            let bytes = read_file(abs, &path, limits, tally)?;
            files.insert(path, bytes)
        })?;
        files.build()
    }

    /// Lists a bundle directory without reading its files, except `pacto.yaml`: the walk,
    /// the refusals and the errors of [`Bundle::from_dir_with_limits`] (`.pactoignore`,
    /// symbolic links, special files, names, paths, `limits` checked on the sizes the file
    /// system reports, a missing or invalid `pacto.yaml`), for a caller that streams the
    /// files from disk later (`pacto_archive::pack_dir_to_file`). Memory grows with the
    /// number of files, not their size.
    pub fn list_dir_with_limits(dir: &Path, limits: &Limits) -> Result<DirListing, BundleError> {
        let meta = fs::metadata(dir).map_err(|source| BundleError::Io {
            path: dir.to_owned(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(BundleError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        let matcher = ignore_matcher(dir)?;
        let mut files = BTreeMap::new();
        let mut raw_yaml = None;
        walk(dir, &matcher, limits, &mut |abs, path, tally| {
            let size = if path.as_str() == CONTRACT_FILE {
                // Read, as from_dir reads it: the listing carries the very bytes parsed.
                let bytes = read_file(abs, &path, limits, tally)?;
                let size = bytes.len() as u64;
                raw_yaml = Some(bytes);
                size
            } else {
                let size = fs::symlink_metadata(abs)
                    .map_err(|source| BundleError::Io {
                        path: abs.to_owned(),
                        source,
                    })?
                    .len();
                tally.add_file(&path, size)?;
                size
            };
            let file = ListedFile {
                source: abs.to_owned(),
                size,
            };
            match files.entry(path) {
                Entry::Occupied(taken) => Err(BundleError::DuplicatePath {
                    path: taken.key().to_string(),
                }),
                Entry::Vacant(slot) => {
                    slot.insert(file);
                    Ok(())
                }
            }
        })?;
        check_no_conflicts(files.keys())?;
        let raw_yaml = raw_yaml.ok_or(BundleError::MissingContract)?;
        let contract =
            parse(&raw_yaml).map_err(|source| BundleError::InvalidContract { source })?;
        Ok(DirListing {
            contract,
            raw_yaml,
            files,
        })
    }

    /// Checks the bundle against `limits`, counting as an archive of it counts (files plus
    /// distinct directories); the error names the first file, in path order, over a limit.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), LimitError> {
        let mut tally = Tally::new(limits);
        for (path, bytes) in &self.files {
            tally.add_file(path, bytes.len() as u64)?;
        }
        Ok(())
    }

    /// The parsed `pacto.yaml`.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The bytes of `pacto.yaml`, exactly as in [`Bundle::files`].
    pub fn raw_yaml(&self) -> &Bytes {
        &self.raw_yaml
    }

    /// Every file of the bundle, `pacto.yaml` included, by path in byte order of the path
    /// (look one up with a `&str`: `files()["api/openapi.yaml"]`).
    pub fn files(&self) -> &BTreeMap<BundlePath, Bytes> {
        &self.files
    }

    /// The file at `path`, if the bundle has one.
    pub fn file(&self, path: &str) -> Option<&Bytes> {
        self.files.get(path)
    }

    /// `service.name` of the contract.
    pub fn name(&self) -> &str {
        &self.contract.service.name
    }

    /// `service.version` of the contract.
    pub fn version(&self) -> &str {
        &self.contract.service.version
    }

    /// Sum of the sizes of all files, in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.values().map(|b| b.len() as u64).sum()
    }
}

/// A bundle directory as [`Bundle::list_dir_with_limits`] found it: the parsed contract and
/// the bytes of `pacto.yaml`, and where every other file is on disk with the size the file
/// system reported. Its invariants are a [`Bundle`]'s: valid paths, none a directory of
/// another, `pacto.yaml` present and parsed.
#[derive(Debug, Clone)]
pub struct DirListing {
    contract: Contract,
    raw_yaml: Bytes,
    files: BTreeMap<BundlePath, ListedFile>,
}

/// A file of a [`DirListing`]: where it is and how large it was when listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedFile {
    /// The file on disk.
    pub source: PathBuf,
    /// Its size in bytes when it was listed (for `pacto.yaml`, the bytes read).
    pub size: u64,
}

impl DirListing {
    /// The parsed `pacto.yaml`.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The bytes of `pacto.yaml`, as read by the listing and parsed into
    /// [`DirListing::contract`].
    pub fn raw_yaml(&self) -> &Bytes {
        &self.raw_yaml
    }

    /// Every file of the bundle, `pacto.yaml` included, by path in byte order of the path.
    pub fn files(&self) -> &BTreeMap<BundlePath, ListedFile> {
        &self.files
    }

    /// Sum of the sizes of all files, as listed, in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    /// Checks that the directory holds every file its contract references, as
    /// [`Bundle::check_references`] does.
    pub fn check_references(&self) -> Result<(), crate::MissingFiles> {
        crate::check_references(&self.contract, self.files.keys().map(BundlePath::as_str))
    }
}

/// Refuses a file path that is also the directory of another file (`a` and `a/b`).
///
/// With `/` mapped below every other byte (paths hold no NUL), the paths below a file sort
/// right after it: one sort and a pass over neighbours, linear in the total path length
/// however deep the paths are.
fn check_no_conflicts<'a>(paths: impl Iterator<Item = &'a BundlePath>) -> Result<(), BundleError> {
    let mut keys: Vec<Vec<u8>> = paths
        .map(|k| {
            k.as_str()
                .bytes()
                .map(|b| if b == b'/' { 0 } else { b })
                .collect()
        })
        .collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        let (file, next) = (&pair[0], &pair[1]);
        if next.len() > file.len() && next.starts_with(file) && next[file.len()] == 0 {
            let restore = |k: &[u8]| {
                let bytes = k.iter().map(|b| if *b == 0 { b'/' } else { *b }).collect();
                String::from_utf8(bytes).unwrap_or_default()
            };
            return Err(BundleError::PathConflict {
                path: restore(file),
                child: restore(next),
            });
        }
    }
    Ok(())
}

fn ignore_matcher(dir: &Path) -> Result<Gitignore, BundleError> {
    let ignore_path = dir.join(IGNORE_FILE);
    let mut builder = GitignoreBuilder::new(dir);
    for pattern in DEFAULT_IGNORES {
        add_pattern(&mut builder, &ignore_path, pattern)?;
    }
    match fs::read(&ignore_path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines() {
                add_pattern(&mut builder, &ignore_path, line)?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(BundleError::Io {
                path: ignore_path,
                source,
            });
        }
    }
    builder.build().map_err(|e| BundleError::Ignore {
        path: ignore_path,
        source: Box::new(e),
    })
}

fn add_pattern(
    builder: &mut GitignoreBuilder,
    ignore_path: &Path,
    pattern: &str,
) -> Result<(), BundleError> {
    builder
        .add_line(Some(ignore_path.to_owned()), pattern)
        .map(|_| ())
        .map_err(|e| BundleError::Ignore {
            path: ignore_path.to_owned(),
            source: Box::new(e),
        })
}

/// Collects the files below `root` within `limits`, one directory at a time (no recursion,
/// and one open directory handle at a time, however deep the tree), each directory's
/// entries in name order.
/// `file` is called with each file's absolute path, bundle path and the tally of the
/// files before it, which it adds the file to.
fn walk(
    root: &Path,
    matcher: &Gitignore,
    limits: &Limits,
    file: &mut dyn FnMut(&Path, BundlePath, &mut Tally<'_>) -> Result<(), BundleError>,
) -> Result<(), BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    let mut tally = Tally::new(limits);
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, rel)) = pending.pop() {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .and_then(|list| list.collect())
            .map_err(io_err(&dir))?;
        // Name order, so that which file an error names does not depend on the OS either.
        entries.sort_by_cached_key(fs::DirEntry::file_name);
        for entry in entries {
            let abs = entry.path();
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str() else {
                let lossy = rel_join(&rel, &file_name.to_string_lossy());
                if matcher.matched(Path::new(&lossy), false).is_ignore() {
                    continue;
                }
                return Err(BundleError::NonUtf8Name { path: abs });
            };
            let rel_path = rel_join(&rel, name);
            let file_type = entry.file_type().map_err(io_err(&abs))?;
            let protected = rel.is_empty() && name == CONTRACT_FILE;
            if !protected
                && matcher
                    .matched(Path::new(&rel_path), file_type.is_dir())
                    .is_ignore()
            {
                continue;
            }
            if file_type.is_symlink() {
                return Err(BundleError::Symlink { path: abs });
            }
            if file_type.is_dir() {
                pending.push((abs, rel_path));
            } else if file_type.is_file() {
                let path =
                    BundlePath::parse(&rel_path).map_err(|source| BundleError::InvalidPath {
                        path: rel_path,
                        source,
                    })?;
                file(&abs, path, &mut tally)?;
            } else {
                return Err(BundleError::NotRegularFile { path: abs });
            }
        }
    }
    Ok(())
}

/// Reads the file at `abs` (bundle path `rel`) after checking its size on the file system,
/// reading no more than `limits.max_file_size` + 1 bytes.
fn read_file(
    abs: &Path,
    rel: &BundlePath,
    limits: &Limits,
    tally: &mut Tally<'_>,
) -> Result<Bytes, BundleError> {
    let io_err = |source| BundleError::Io {
        path: abs.to_owned(),
        source,
    };
    let mut file = fs::File::open(abs).map_err(io_err)?;
    let announced = file.metadata().map_err(io_err)?.len();
    tally.add_file(rel, announced)?;
    let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    (&mut file)
        .take(limits.max_file_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    let read = bytes.len() as u64;
    if read != announced {
        // The file changed between its size and its bytes being read: count what was read.
        tally.resize_file(rel, announced, read)?;
    }
    Ok(Bytes::from(bytes))
}

fn rel_join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}
