//! Writing a bundle to disk, confined to its output directory: [`write_bundle`] (a
//! [`Bundle`] in memory), [`write_layer`] (a bundle layer streamed from a reader),
//! [`check_output`] and [`default_output_name`].
//!
//! Two ways in, one set of rules:
//!
//! - [`write_bundle`] writes a bundle that is complete in memory, and reads every file back
//!   to compare it byte for byte;
//! - [`write_layer`] unpacks a layer (tar+gzip) entry by entry straight into files, through
//!   the same checking reader as [`unpack`](crate::unpack) (same refusals, same order), so
//!   its memory does not grow with the bundle: a constant (a 64 KiB copy buffer, a batch of
//!   small files of at most 1 MiB), the list of paths, and `pacto.yaml`. The written tree is
//!   checked by paths, kinds and sizes before it is put in place, and the reader is read to
//!   its end first, so a reader that verifies a digest at its end can still refuse the whole
//!   layer. With [`Output::NamedByService`] the directory's name comes from the contract,
//!   once it is read ([`default_output_name`]).
//!
//! Nothing is ever merged into what was there before:
//!
//! - a missing directory is written whole under a staging name beside it
//!   (`.pacto-pull-<pid>-<random>`, same parent, so same file system), checked, then renamed
//!   into place: it appears whole or not at all;
//! - an existing empty directory is filled in place when [`WriteOptions::fill_empty`] allows it
//!   (a directory the user chose): it keeps its mode and owner, and may be a mount point or
//!   the current directory;
//! - anything else at the path (a directory with entries, a file, a symlink, even a dangling
//!   one) is refused unless [`WriteOptions::force`]; then the staged tree replaces it in one atomic
//!   exchange (Linux `renameat2(RENAME_EXCHANGE)`; where that is not supported, two renames with
//!   the old entry parked in a staging directory), so the path holds the old content or the new
//!   one, never a mix, whenever the process stops. A symlink is replaced, never written through.
//!
//! Every path written is a plain relative path below the output (or staging) directory, every
//! directory and file is created by this module (`mkdir`, `O_CREAT | O_EXCL`), and no path is
//! followed through a symlink. A staging directory is private (0700) while it is written, so
//! no other user can swap one of its directories for a symlink even in a shared parent; an
//! empty directory filled in place is protected by its own permissions. Files and directories
//! end up with the process umask applied (0644 and 0755 under umask 022). The default output
//! directory, named by the bundle's service name (the pusher's choice, so hostile input), must
//! be a plain, visible file name on Unix and Windows alike ([`default_output_name`]).
//!
//! A failure at any point (a refused entry, a reader error, an unsafe service name, something
//! in the way) leaves no staging directory, and an empty directory filled in place empty again.
//!
//! [`write_bundle`] and [`check_output`] block on the file system: from async code, run them
//! on the blocking pool (`pacto_fs::blocking`). [`write_layer`] is async and does its file
//! system work there itself (file data through `tokio::fs`), on any tokio runtime.
//!
//! A pull killed while writing leaves at most a staging directory; its name carries the owning
//! process id, and the next write into the same parent removes it once that process is gone
//! (on Linux: no `/proc/<pid>`; elsewhere, or without procfs: when it is older than a day).
//!
//! ```
//! use pacto_archive::{WriteOptions, default_output_name, write_bundle};
//! use pacto_contract::Bundle;
//! # let temp = tempfile::tempdir().unwrap();
//! let yaml = "pactoVersion: \"1.0\"\nservice:\n  name: payments\n  version: 1.0.0\n";
//! let bundle = Bundle::from_files([("pacto.yaml".to_owned(), yaml.into())].into()).unwrap();
//! let dir = temp.path().join(default_output_name(bundle.name()).unwrap());
//! let written = write_bundle(&bundle, &dir, WriteOptions::default_dir()).unwrap();
//! assert_eq!(written, ["pacto.yaml"]);
//! // The directory exists now: a second write is refused, unless forced.
//! assert!(write_bundle(&bundle, &dir, WriteOptions::default_dir()).is_err());
//! write_bundle(&bundle, &dir, WriteOptions::default_dir().with_force(true)).unwrap();
//! ```

use crate::UnpackError;
use pacto_contract::Bundle;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

mod layer;

pub use layer::{Output, WrittenLayer, write_layer};

/// How the name of every staging directory starts; `<pid>-<random>` follows.
const STAGING_PREFIX: &str = ".pacto-pull-";
/// Without a way to ask whether a process runs, a staging directory this old is an orphan.
const ORPHAN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// What a write may do to what is already at the output path.
///
/// Start from [`WriteOptions::chosen_dir`] (a directory the user named) or
/// [`WriteOptions::default_dir`] (a directory named after the bundle), then
/// [`with_force`](WriteOptions::with_force) to replace what is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Replace whatever is at the path (atomically, with exactly the bundle).
    pub force: bool,
    /// Fill an existing empty directory in place. Without it, anything at the path is refused
    /// unless `force`.
    pub fill_empty: bool,
}

impl WriteOptions {
    /// For a directory the user named: an empty one is filled in place, anything else at the
    /// path is refused.
    #[must_use]
    pub fn chosen_dir() -> Self {
        WriteOptions {
            force: false,
            fill_empty: true,
        }
    }

    /// For the default directory, named by the bundle ([`default_output_name`]): never written
    /// into when anything exists there, even an empty directory.
    #[must_use]
    pub fn default_dir() -> Self {
        WriteOptions {
            force: false,
            fill_empty: false,
        }
    }

    /// Whether to replace whatever is at the path (in one atomic exchange where the system
    /// can) instead of refusing it.
    #[must_use]
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

impl Default for WriteOptions {
    /// [`WriteOptions::chosen_dir`].
    fn default() -> Self {
        WriteOptions::chosen_dir()
    }
}

/// What was found at an output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// A directory with entries.
    Directory,
    /// A directory without entries.
    EmptyDirectory,
    /// A regular file.
    File,
    /// A symlink, whatever it points to (or nothing).
    Symlink,
    /// A device, FIFO or socket.
    Special,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Found::Directory => "a directory that is not empty",
            Found::EmptyDirectory => "an empty directory",
            Found::File => "a file",
            Found::Symlink => "a symlink",
            Found::Special => "a special file",
        })
    }
}

/// A service name that is not a safe default output directory name (see
/// [`default_output_name`]); refused whatever the [`WriteOptions`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the service name {name:?} is not a safe directory name: it {reason}")]
#[non_exhaustive]
pub struct UnsafeName {
    /// The service name.
    pub name: String,
    /// What is wrong with it, to follow "it": `is hidden (starts with `.`)`, ...
    pub reason: &'static str,
}

/// Why a bundle was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Something is at the output path and force was not given.
    #[error("{} already exists and is {found}", path.display())]
    Exists {
        /// The output path.
        path: PathBuf,
        /// What is there.
        found: Found,
    },
    /// The output path has no name of its own to create or replace (`.`, `..`, `/`, empty).
    #[error(
        "cannot create or replace {:?}: name the directory itself (not `.`, `..` or `/`)",
        path.display().to_string()
    )]
    Unnamed {
        /// The output path.
        path: PathBuf,
    },
    /// A path of the bundle is not a plain relative path (a `Bundle` never holds one).
    #[error("refusing to write {name:?}: not a plain relative path")]
    NotPlain {
        /// The bundle path.
        name: String,
    },
    /// A symlink appeared where a directory was being written.
    #[error("refusing to write through the symlink {}", path.display())]
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// What was written does not read back as the bundle (something else wrote there).
    #[error("{} does not hold the bundle after writing it: {detail}", path.display())]
    Verify {
        /// The directory written.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// A file system operation failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The layer given to [`write_layer`] was refused, or could not be read (then the source
    /// is [`UnpackError::Read`], carrying the reader's own `io::Error`).
    #[error("cannot unpack the bundle layer")]
    Unpack {
        /// Why.
        #[from]
        source: UnpackError,
    },
    /// The bundle's service name is not a safe name for the directory named after it
    /// ([`Output::NamedByService`]).
    #[error(transparent)]
    UnsafeName(#[from] UnsafeName),
}

impl WriteError {
    /// Whether this is a refusal of the output path (what is there, a path without a name, a
    /// service name unsafe as the directory's name), made before anything was put there.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            WriteError::Exists { .. } | WriteError::Unnamed { .. } | WriteError::UnsafeName(_)
        )
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The default output directory for a bundle whose service name is `name`: `./<name>`, when
/// `name` is a plain file name that is visible, cannot be read as an option, and is valid on
/// Windows too. Refused: empty and hidden names (`.git`, `..`), a leading `-`, path
/// separators, control characters, the characters Windows forbids (`<>:"|?*`), a trailing dot
/// or space, and Windows device names (`CON`, `nul.txt`, `COM1`, ...).
pub fn default_output_name(name: &str) -> Result<PathBuf, UnsafeName> {
    match unsafe_name(name) {
        Some(reason) => Err(UnsafeName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(PathBuf::from(name)),
    }
}

/// Why `name` is not a safe default directory name, if it is not.
fn unsafe_name(name: &str) -> Option<&'static str> {
    const WINDOWS_FORBIDDEN: [char; 9] = ['<', '>', ':', '"', '/', '\\', '|', '?', '*'];
    if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('.') {
        Some("is hidden (starts with `.`)")
    } else if name.starts_with('-') {
        Some("starts with `-` (it reads as an option)")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.contains(WINDOWS_FORBIDDEN) {
        Some("contains a character Windows forbids in file names (<>:\"/\\|?*)")
    } else if name.ends_with(['.', ' ']) {
        Some("ends with a dot or a space (Windows drops them)")
    } else if is_windows_device(name) {
        Some("is a reserved device name on Windows")
    } else {
        None
    }
}

/// Windows' reserved device names, with or without an extension (the part before the first
/// dot, trailing spaces dropped), in any case.
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) {
        return true;
    }
    ["COM", "LPT"].iter().any(|device| {
        upper.strip_prefix(device).is_some_and(|digit| {
            let mut chars = digit.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, '¹' | '²' | '³'))
                && chars.next().is_none()
        })
    })
}

/// The relative path `name` as components, refusing anything but plain names.
fn confined(name: &str) -> Result<PathBuf, WriteError> {
    let path = Path::new(name);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain || name.is_empty() {
        return Err(WriteError::NotPlain {
            name: name.to_owned(),
        });
    }
    Ok(path.to_owned())
}

/// What a write into `dir` will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Nothing is there: stage, then rename into place.
    New,
    /// An empty directory: fill it in place.
    Fill,
    /// Something is there and force was given: stage, then exchange.
    Replace,
}

/// What is at `path`, without following a symlink.
fn found(path: &Path) -> Result<Option<Found>, WriteError> {
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path)(e)),
        Ok(meta) => meta,
    };
    let kind = meta.file_type();
    Ok(Some(if kind.is_symlink() {
        Found::Symlink
    } else if kind.is_dir() {
        let mut entries = fs::read_dir(path).map_err(io_error(path))?;
        if entries.next().is_none() {
            Found::EmptyDirectory
        } else {
            Found::Directory
        }
    } else if kind.is_file() {
        Found::File
    } else {
        Found::Special
    }))
}

fn plan(dir: &Path, mode: WriteOptions) -> Result<Plan, WriteError> {
    let plan = match found(dir)? {
        None => Plan::New,
        Some(Found::EmptyDirectory) if mode.fill_empty => Plan::Fill,
        Some(_) if mode.force => Plan::Replace,
        Some(found) => {
            return Err(WriteError::Exists {
                path: dir.to_owned(),
                found,
            });
        }
    };
    let named = matches!(dir.components().next_back(), Some(Component::Normal(_)));
    if plan != Plan::Fill && !named {
        return Err(WriteError::Unnamed {
            path: dir.to_owned(),
        });
    }
    Ok(plan)
}

/// Whether [`write_bundle`] into `dir` would be refused because of what is there now. Run it
/// before fetching the bundle; [`write_bundle`] decides again when it writes.
///
/// # Errors
///
/// [`WriteError::Exists`], [`WriteError::Unnamed`], or [`WriteError::Io`] when the path
/// cannot be examined.
pub fn check_output(dir: &Path, mode: WriteOptions) -> Result<(), WriteError> {
    plan(&normal(dir), mode).map(drop)
}

/// `dir` without trailing slashes and `.` components: `link/` names the link itself, so it
/// is never resolved to where the link points.
fn normal(dir: &Path) -> PathBuf {
    dir.components().collect()
}

/// Writes every file of `bundle` under `dir`, confined to it: staged beside it and renamed in,
/// or filled in place when it is an empty directory and [`WriteOptions::fill_empty`], or
/// exchanged atomically with what is there under [`WriteOptions::force`]. Returns the relative
/// paths written, sorted. Missing parent directories of `dir` are created. See the
/// [module documentation](self) for the guarantees.
///
/// # Errors
///
/// A refusal ([`WriteError::is_refusal`]) before anything is written, or a failure while
/// writing, after which `dir` holds what it held before (or, filled in place, nothing new).
pub fn write_bundle(
    bundle: &Bundle,
    dir: &Path,
    mode: WriteOptions,
) -> Result<Vec<String>, WriteError> {
    let names: Vec<String> = bundle.files().keys().map(ToString::to_string).collect();
    for name in &names {
        confined(name)?;
    }
    let dir = &normal(dir);
    let plan = plan(dir, mode)?;
    let parent = parent_of(dir);
    if plan == Plan::New {
        pacto_fs::create_dir_all(&parent, pacto_fs::Mode::Shared).map_err(io_error(&parent))?;
    }
    remove_orphans(&parent);
    match plan {
        Plan::Fill => fill(dir, bundle)?,
        Plan::New => {
            let staging = stage(&parent, bundle)?;
            // A staged directory renamed onto a path that appeared meanwhile: replaces an
            // empty directory, fails on anything else (never follows a symlink).
            fs::rename(staging.path(), dir).map_err(io_error(dir))?;
            let _ = staging.keep();
        }
        Plan::Replace => {
            let staging = stage(&parent, bundle)?;
            replace(staging, dir, &parent)?;
        }
    }
    Ok(names)
}

/// The directory `dir` (a [`normal`] path) is created in: its parent, `.` for a bare name.
fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A new, empty staging directory under `parent`, private to this user (0700) while it is
/// written: nobody else can swap a directory in it for a symlink between `mkdir` and `open`.
fn staging_dir(parent: &Path) -> Result<tempfile::TempDir, WriteError> {
    new_dir(parent, 0o700)
}

/// A new directory `.pacto-pull-<pid>-<random>` under `parent`, made by `mkdir(mode)` (so
/// with the umask applied).
#[cfg_attr(not(unix), allow(unused_variables))]
fn new_dir(parent: &Path, mode: u32) -> Result<tempfile::TempDir, WriteError> {
    let prefix = format!("{STAGING_PREFIX}{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    builder.tempdir_in(parent).map_err(io_error(parent))
}

/// The bundle written and verified in a new staging directory under `parent`, which then
/// gets the mode of any directory made under the process umask.
fn stage(parent: &Path, bundle: &Bundle) -> Result<tempfile::TempDir, WriteError> {
    let staging = staging_dir(parent)?;
    write_tree(staging.path(), bundle, &mut Vec::new())?;
    verify(staging.path(), bundle)?;
    open_up(parent, staging.path())?;
    Ok(staging)
}

/// Gives the (private) staging directory `staging` under `parent` the mode of any directory
/// made under the process umask, before it is put in place.
fn open_up(parent: &Path, staging: &Path) -> Result<(), WriteError> {
    // The umask cannot be read without unsafe code (or changing it): ask mkdir(0777) instead.
    let probe = new_dir(parent, 0o777)?;
    let mode = fs::symlink_metadata(probe.path())
        .map_err(io_error(probe.path()))?
        .permissions();
    drop(probe);
    fs::set_permissions(staging, mode).map_err(io_error(staging))
}

/// Fills the empty directory `dir`; on failure, removes what it created.
fn fill(dir: &Path, bundle: &Bundle) -> Result<(), WriteError> {
    let mut created = Vec::new();
    let written = write_tree(dir, bundle, &mut created).and_then(|()| verify(dir, bundle));
    if written.is_err() {
        remove_created(&created);
    }
    written
}

/// Removes what a fill in place created (recorded in creation order), newest first.
fn remove_created(created: &[PathBuf]) {
    for path in created.iter().rev() {
        let _ = fs::remove_file(path).or_else(|_| fs::remove_dir(path));
    }
}

/// Writes the files of `bundle` under `root`, creating every directory and file itself and
/// following no symlink; records each path it created in `created`.
fn write_tree(root: &Path, bundle: &Bundle, created: &mut Vec<PathBuf>) -> Result<(), WriteError> {
    for (name, bytes) in bundle.files() {
        let (target, mut out) = create_file(root, name.as_str(), created)?;
        out.write_all(bytes).map_err(io_error(&target))?;
    }
    Ok(())
}

/// Creates the new, empty file at the relative path `name` under `root`, and its missing
/// parent directories, following no symlink: every directory is made with `mkdir` or found
/// to be a real directory, the file with `O_CREAT | O_EXCL`. Records each path it creates in
/// `created` (even when a later step fails), and returns the file's path and the file.
fn create_file(
    root: &Path,
    name: &str,
    created: &mut Vec<PathBuf>,
) -> Result<(PathBuf, fs::File), WriteError> {
    let relative = confined(name)?;
    let components: Vec<_> = relative.components().collect();
    let Some((file, parents)) = components.split_last() else {
        return Err(WriteError::NotPlain {
            name: name.to_owned(),
        });
    };
    let mut current = root.to_owned();
    for component in parents {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(WriteError::Symlink { path: current });
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io_error(&current)(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(io_error(&current))?;
                created.push(current.clone());
            }
            Err(e) => return Err(io_error(&current)(e)),
        }
    }
    let target = current.join(file);
    // O_CREAT | O_EXCL: fails on anything already there, a symlink included.
    let out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(io_error(&target))?;
    created.push(target.clone());
    Ok((target, out))
}

/// Reads `root` back (without following symlinks): exactly the bundle's files, byte for
/// byte, and no other entry.
fn verify(root: &Path, bundle: &Bundle) -> Result<(), WriteError> {
    let files = regular_files(root)?;
    let differs = |detail: String| WriteError::Verify {
        path: root.to_owned(),
        detail,
    };
    if !files.keys().eq(bundle.files().keys().map(|p| p.as_str())) {
        return Err(differs("other files than the bundle's".to_owned()));
    }
    for (relative, path) in &files {
        let bytes = fs::read(path).map_err(io_error(path))?;
        if bundle.file(relative).map(|b| &b[..]) != Some(&bytes[..]) {
            return Err(differs(format!("{relative} has other bytes")));
        }
    }
    Ok(())
}

/// Every regular file under `root` by relative path (`/`-separated), read without following
/// symlinks; anything else than regular files and their parent directories (a symlink, a
/// special file, an empty directory, a name that is not UTF-8) is refused as
/// [`WriteError::Verify`].
fn regular_files(root: &Path) -> Result<BTreeMap<String, PathBuf>, WriteError> {
    let differs = |detail: String| WriteError::Verify {
        path: root.to_owned(),
        detail,
    };
    let mut files = BTreeMap::new();
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let mut empty = true;
        for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
            empty = false;
            let entry = entry.map_err(io_error(&dir))?;
            let path = entry.path();
            let Ok(name) = entry.file_name().into_string() else {
                return Err(differs(format!("unexpected entry {}", path.display())));
            };
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type().map_err(io_error(&path))?;
            if kind.is_dir() {
                pending.push((path, relative));
            } else if kind.is_file() {
                files.insert(relative, path);
            } else {
                return Err(differs(format!("{relative} is not a regular file")));
            }
        }
        if empty && dir != root {
            return Err(differs(format!("unexpected empty directory {prefix}")));
        }
    }
    Ok(files)
}

/// Puts the staged tree at `dir` in place of what is there, atomically where the system can.
fn replace(staging: tempfile::TempDir, dir: &Path, parent: &Path) -> Result<(), WriteError> {
    match exchange(staging.path(), dir) {
        Ok(()) => {
            // The staging name now holds the old entry: remove it. Should that fail or be
            // interrupted, the next pull removes it (its owner, this process, is gone by then).
            let old = staging.keep();
            if let Err(e) = remove_entry(&old) {
                tracing::warn!("cannot remove the replaced {}: {e}", old.display());
            }
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            tracing::debug!("no atomic exchange here ({e}): replacing with two renames");
            // Park the old entry in a staging directory of this process, so a pull killed
            // between the renames leaves it recognisable (and it is removed like any orphan).
            let parked = staging_dir(parent)?;
            let old = parked.path().join("old");
            fs::rename(dir, &old).map_err(io_error(dir))?;
            let parked = parked.keep();
            if let Err(e) = fs::rename(staging.path(), dir) {
                match fs::rename(&old, dir) {
                    Ok(()) => {
                        let _ = fs::remove_dir(&parked);
                    }
                    Err(back) => tracing::warn!(
                        "cannot move {} back to {}: {back}",
                        old.display(),
                        dir.display()
                    ),
                }
                return Err(io_error(dir)(e));
            }
            let _ = staging.keep();
            if let Err(e) = remove_entry(&parked) {
                tracing::warn!("cannot remove the replaced {}: {e}", old.display());
            }
            Ok(())
        }
        Err(e) => Err(io_error(dir)(e)),
    }
}

/// Swaps the entries at `a` and `b` in one step.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Removes `path` (a whole directory tree, or a file or symlink, never what a link points to).
fn remove_entry(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// The process id in a staging directory's name, if `name` is one.
fn staging_owner(name: &str) -> Option<u32> {
    let (pid, random) = name.strip_prefix(STAGING_PREFIX)?.split_once('-')?;
    if random.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process `pid` may still be writing the staging entry at `path`.
fn owner_may_run(pid: u32, path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    if Path::new("/proc/self").exists() {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    let age = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    age.is_none_or(|age| age <= ORPHAN_AGE)
}

/// Removes the staging entries under `parent` whose pull is gone. Best effort: a failure is
/// logged, never fatal.
fn remove_orphans(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(staging_owner) else {
            continue;
        };
        let path = entry.path();
        if pid == std::process::id() || owner_may_run(pid, &path) {
            continue;
        }
        match remove_entry(&path) {
            Ok(()) => tracing::debug!("removed {}, left by a pull that is gone", path.display()),
            Err(e) => tracing::debug!("cannot remove {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths() {
        assert!(confined("a/b.yaml").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "./a"] {
            assert!(confined(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_names_are_plain_visible_portable_file_names() {
        for good in [
            "payments",
            "my-service",
            "svc_2",
            "a.b",
            "CONSOLE",
            "COM10",
            "LPT",
            "nul-service",
            "café",
        ] {
            assert!(default_output_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".git",
            ".ssh",
            "-rf",
            "a/b",
            "a\\b",
            "a\nb",
            "a\u{1b}[31m",
            "a\u{7f}",
            "CON",
            "con",
            "Con.txt",
            "NUL.tar.gz",
            "aux",
            "PRN",
            "COM1",
            "com9",
            "LPT1",
            "lpt9.log",
            "COM0",
            "COM¹",
            "CONIN$",
            "CON .txt",
            "a:b",
            "a<b",
            "a>b",
            "a\"b",
            "a|b",
            "a?b",
            "a*b",
            "name.",
            "name ",
        ] {
            assert!(default_output_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_without_a_name_are_never_replaced() {
        for dir in ["/", ".", ".."] {
            assert!(
                matches!(
                    check_output(Path::new(dir), WriteOptions::chosen_dir().with_force(true)),
                    Err(WriteError::Unnamed { .. })
                ),
                "{dir}"
            );
        }
    }

    #[test]
    fn staging_names_carry_their_owner() {
        assert_eq!(staging_owner(".pacto-pull-123-abcDEF"), Some(123));
        for other in [
            ".pacto-pull-abc",
            ".pacto-pull-123",
            ".pacto-pull-123-",
            ".pacto-pull--x",
            ".pacto-pull-12a-x",
            "pacto-pull-1-x",
            ".pacto-pack-1-x",
        ] {
            assert_eq!(staging_owner(other), None, "{other}");
        }
    }
}
