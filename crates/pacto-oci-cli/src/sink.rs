//! Where `pack` writes the layer: standard output (`-o -`), a file that is not a regular
//! file (a device, FIFO or socket: opened and written in place, so `/dev/null` stays a
//! device), or a regular file replaced atomically. A symlink is followed to its target and
//! never replaced by a file; a directory is refused.

use std::io;
use std::path::{Path, PathBuf};

/// Symlinks followed before giving up, as Linux does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Where the layer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sink {
    /// Standard output (`-o -`).
    Stdout,
    /// Not a regular file (or a symlink to one): opened and written to directly.
    Special(PathBuf),
    /// A regular file, or nothing yet: written beside it and renamed over it.
    File {
        /// The file (a symlink's final target when the path given was a link).
        path: PathBuf,
        /// Create missing parent directories first (only for the path given, never for a
        /// link's target).
        create_parents: bool,
    },
}

/// Why the layer cannot go where it was asked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SinkError {
    /// The output is a directory (or a symlink to one).
    #[error(
        "{} is a directory; name the file to write with -o (e.g. -o {}/NAME.tar.gz)",
        path.display(),
        path.display()
    )]
    Directory {
        /// The path given.
        path: PathBuf,
    },
    /// The output could not be examined.
    #[error("cannot write {}", path.display())]
    Io {
        /// The path given.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

impl SinkError {
    /// Whether this is a refusal of the path chosen (a usage error).
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, SinkError::Directory { .. })
    }
}

/// Decides where `pack -o path` writes, following symlinks (without replacing them).
pub(crate) fn sink(path: &Path) -> Result<Sink, SinkError> {
    if path.as_os_str() == "-" {
        return Ok(Sink::Stdout);
    }
    let io_error = |source| SinkError::Io {
        path: path.to_owned(),
        source,
    };
    let mut current = path.to_owned();
    for followed in 0..=MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Sink::File {
                    path: current,
                    create_parents: followed == 0,
                });
            }
            Err(e) => return Err(io_error(e)),
            Ok(meta) => meta,
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&current).map_err(io_error)?;
            current = match current.parent() {
                Some(parent) if target.is_relative() => parent.join(target),
                _ => target,
            };
        } else if kind.is_dir() {
            return Err(SinkError::Directory {
                path: path.to_owned(),
            });
        } else if kind.is_file() {
            return Ok(Sink::File {
                path: current,
                create_parents: false,
            });
        } else {
            return Ok(Sink::Special(current));
        }
    }
    Err(io_error(io::Error::other(format!(
        "more than {MAX_LINKS} levels of symbolic links"
    ))))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn where_the_layer_goes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(matches!(sink(Path::new("-")), Ok(Sink::Stdout)));
        let missing = root.join("new/layer.tar.gz");
        assert!(matches!(
            sink(&missing),
            Ok(Sink::File { path, create_parents: true }) if path == missing
        ));
        let link = root.join("link");
        std::os::unix::fs::symlink("target.tar.gz", &link).unwrap();
        assert!(matches!(
            sink(&link),
            Ok(Sink::File { path, create_parents: false }) if path == root.join("target.tar.gz")
        ));
        assert!(matches!(sink(root), Err(SinkError::Directory { .. })));
        let looped = root.join("loop");
        std::os::unix::fs::symlink("loop", &looped).unwrap();
        assert!(matches!(sink(&looped), Err(SinkError::Io { .. })));
    }
}
