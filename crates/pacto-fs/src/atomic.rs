//! Files that appear whole or not at all.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read what is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Files 0666 and directories 0777 before the process umask, as any tool writes them
    /// (0644/0755 under umask 022): layouts, pulled bundles, cache entries.
    #[default]
    Shared,
    /// Files 0600 and directories 0700 whatever the umask: credentials.
    Private,
}

impl Mode {
    #[cfg(unix)]
    fn file_mode(self) -> u32 {
        match self {
            Mode::Shared => 0o666,
            Mode::Private => 0o600,
        }
    }

    #[cfg(unix)]
    fn dir_mode(self) -> u32 {
        match self {
            Mode::Shared => 0o777,
            Mode::Private => 0o700,
        }
    }
}

/// Creates `dir` and its missing parents with `mode` (the umask applies to
/// [`Mode::Shared`]).
pub fn create_dir_all(dir: &Path, mode: Mode) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode.dir_mode());
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir)
}

/// Syncs a directory so that a rename into it survives a crash. Best effort: not every
/// platform or file system can sync a directory, and the rename itself has happened.
pub fn sync_dir(dir: &Path) {
    if let Err(error) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), %error, "cannot sync a directory");
    }
}

/// A file being written under a temporary name; it appears at its destination, whole, only
/// through [`AtomicFile::commit`]. Dropped without a commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    temp: tempfile::NamedTempFile,
}

impl AtomicFile {
    /// A temporary file in `dir`, which must be on the same file system as the destination
    /// (the destination's own directory, or a `tmp/` beside it).
    pub fn create_in(dir: &Path, mode: Mode) -> io::Result<Self> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".tmp-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // Passed to open(2), so the umask applies as it does to any new file.
            builder.permissions(fs::Permissions::from_mode(mode.file_mode()));
        }
        #[cfg(not(unix))]
        let _ = mode;
        let temp = builder.tempfile_in(dir)?;
        if mode == Mode::Private {
            // A private file is 0600 whatever the umask said.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                temp.as_file()
                    .set_permissions(fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(AtomicFile { temp })
    }

    /// A temporary file beside `dest`.
    pub fn create_for(dest: &Path, mode: Mode) -> io::Result<Self> {
        Self::create_in(parent_of(dest), mode)
    }

    /// The open file (to lock it, set its modification time, read it back).
    pub fn file(&self) -> &File {
        self.temp.as_file()
    }

    /// The temporary path (for messages; it disappears at commit).
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Syncs the file, renames it to `dest` (replacing a file there, or a symlink, which is
    /// never followed), then syncs `dest`'s directory.
    pub fn commit(self, dest: &Path) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        self.temp.persist(dest).map_err(|e| e.error)?;
        sync_dir(parent_of(dest));
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.temp.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Replaces `dest` with `data` atomically (a temporary file beside it, synced, renamed).
pub fn write_atomic(dest: &Path, data: &[u8], mode: Mode) -> io::Result<()> {
    let mut file = AtomicFile::create_for(dest, mode)?;
    file.write_all(data)?;
    file.commit(dest)
}

pub(crate) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `path` as an owned path, for error contexts.
pub(crate) fn owned(path: &Path) -> PathBuf {
    path.to_owned()
}
