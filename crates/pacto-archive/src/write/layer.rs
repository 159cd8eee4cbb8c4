//! [`write_layer`]: a bundle layer unpacked entry by entry straight into its directory.

use super::{
    Plan, WriteError, WriteOptions, create_file, default_output_name, io_error, normal, open_up,
    parent_of, plan, regular_files, remove_created, remove_orphans, replace, staging_dir,
};
use crate::unpack::{Sink, is_contract, parse_contract, read_body, read_chunk, read_layer};
use bytes::Bytes;
use pacto_contract::{BundlePath, Contract, Limits};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncWriteExt};

/// File data is copied through a buffer of this size: memory does not grow with a file.
const COPY_CHUNK: usize = 64 * 1024;

/// Where [`write_layer`] puts the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// The directory the caller names (`pull -o DIR`), written under the rules of
    /// [`write_bundle`](super::write_bundle) for the [`WriteOptions`] given; refusals are
    /// decided before the layer is read.
    Dir(PathBuf),
    /// The directory `parent/<service name>`, named once the contract is read
    /// ([`default_output_name`]): the layer is staged under `parent` meanwhile. Such a
    /// directory is never filled in place ([`WriteOptions::fill_empty`] is not looked at):
    /// anything at its path, an empty directory included, is refused unless
    /// [`WriteOptions::force`].
    NamedByService {
        /// The directory the bundle's directory is made in (created if missing).
        parent: PathBuf,
    },
}

/// What [`write_layer`] wrote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WrittenLayer {
    /// The directory that holds the bundle now.
    pub dir: PathBuf,
    /// The relative paths of the files written, sorted (as [`write_bundle`](super::write_bundle)
    /// returns them).
    pub files: Vec<String>,
    /// The parsed `pacto.yaml`.
    pub contract: Contract,
    /// The bytes of `pacto.yaml`.
    pub raw_yaml: Bytes,
    /// The sum of the sizes of the files, in bytes.
    pub size: u64,
}

/// Unpacks the bundle layer (tar+gzip) that `reader` yields straight into a directory,
/// within `limits`, with memory that does not grow with the bundle: a large file's data is
/// copied in chunks of 64 KiB, small files are written in batches of at most 1 MiB, and
/// only `pacto.yaml` (at most `limits.max_file_size`) and the list of paths are held.
///
/// Every entry goes through the checks of [`unpack`](crate::unpack), in the same order, with
/// the same [`UnpackError`](crate::UnpackError)s (as [`WriteError::Unpack`]), and `reader` is
/// read to its end (until it returns end of stream) before success is returned, so a reader
/// that verifies a digest at its end has had its say. An error of `reader` comes back
/// unchanged as the source of [`UnpackError::Read`](crate::UnpackError::Read).
///
/// The files are written under a staging directory beside the destination (or into the
/// destination itself when it is an empty directory filled in place), then the staged tree
/// is checked (exactly the paths unpacked, each a regular file of its size), given the mode
/// of a new directory under the umask, and renamed into place (or atomically exchanged with
/// what is there under [`WriteOptions::force`]). See [`Output`] for where, and the
/// [module documentation](super) for the guarantees.
///
/// # Errors
///
/// [`WriteError::Exists`] or [`WriteError::Unnamed`] for what is at the destination (decided
/// before reading for [`Output::Dir`]), [`WriteError::UnsafeName`] for a service name that
/// cannot name a directory, [`WriteError::Unpack`] for a refused or unreadable layer, other
/// variants for the file system. After any error, no staging directory is left and a
/// directory filled in place holds nothing new.
pub async fn write_layer<R>(
    reader: R,
    output: Output,
    mode: WriteOptions,
    limits: &Limits,
) -> Result<WrittenLayer, WriteError>
where
    R: AsyncRead + Unpin + Send,
{
    let target = off_executor(move || Target::prepare(output, mode)).await?;
    let mut sink = DirSink::new(target.root().to_owned(), target.fills_in_place());
    let unpacked: Result<_, WriteError> = async {
        read_layer(reader, limits, &mut sink).await?;
        sink.flush().await?;
        Ok(parse_contract(sink.raw_yaml.take())?)
    }
    .await;
    let (contract, raw_yaml) = match unpacked {
        Ok(parsed) => parsed,
        Err(e) => {
            // The removal is file-system work too: off the executor.
            let _ = pacto_fs::blocking(move || drop((target, sink))).await;
            return Err(e);
        }
    };
    let service = contract.service.name.clone();
    let (dir, written) = off_executor(move || target.commit(sink, &service)).await?;
    Ok(WrittenLayer {
        dir,
        size: written.values().sum(),
        files: written.into_keys().collect(),
        contract,
        raw_yaml,
    })
}

/// Runs `work` on the blocking pool, a cancelled task being an I/O failure.
async fn off_executor<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, WriteError> + Send + 'static,
) -> Result<T, WriteError> {
    pacto_fs::blocking(work)
        .await
        .map_err(io_error(Path::new(".")))?
}

/// Where the files are being written, and where they go at the end.
#[derive(Debug)]
enum Target {
    /// A staging directory under `parent`, renamed (or exchanged) into place at the end.
    Staged {
        staging: tempfile::TempDir,
        parent: PathBuf,
        destination: Destination,
    },
    /// An empty directory filled in place.
    Fill { dir: PathBuf },
}

#[derive(Debug)]
enum Destination {
    /// The directory the caller named, and what was decided for it before reading.
    Named { dir: PathBuf, plan: Plan },
    /// `parent/<service name>`, decided with these options once the contract is read.
    ByService { mode: WriteOptions },
}

impl Target {
    /// Decides what the write will do and makes the directory the files go in. Blocking.
    fn prepare(output: Output, mode: WriteOptions) -> Result<Target, WriteError> {
        let (parent, destination) = match output {
            Output::Dir(dir) => {
                let dir = normal(&dir);
                let plan = plan(&dir, mode)?;
                if plan == Plan::Fill {
                    remove_orphans(&parent_of(&dir));
                    return Ok(Target::Fill { dir });
                }
                (parent_of(&dir), Destination::Named { dir, plan })
            }
            Output::NamedByService { parent } => {
                let parent = normal(&parent);
                let parent = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent
                };
                let mode = WriteOptions {
                    fill_empty: false,
                    ..mode
                };
                (parent, Destination::ByService { mode })
            }
        };
        pacto_fs::create_dir_all(&parent, pacto_fs::Mode::Shared).map_err(io_error(&parent))?;
        remove_orphans(&parent);
        let staging = staging_dir(&parent)?;
        Ok(Target::Staged {
            staging,
            parent,
            destination,
        })
    }

    /// The directory the files are written under.
    fn root(&self) -> &Path {
        match self {
            Target::Staged { staging, .. } => staging.path(),
            Target::Fill { dir } => dir,
        }
    }

    fn fills_in_place(&self) -> bool {
        matches!(self, Target::Fill { .. })
    }

    /// Checks the tree `sink` wrote and puts it in place, in the directory named by
    /// `service` for [`Destination::ByService`]; returns the final directory and the files
    /// written with their sizes. On failure nothing is left: the staging directory is removed
    /// (as `self` drops), or what `sink` created in place (as it drops). Blocking.
    fn commit(
        self,
        mut sink: DirSink,
        service: &str,
    ) -> Result<(PathBuf, BTreeMap<String, u64>), WriteError> {
        check_sizes(self.root(), &sink.written)?;
        let dir = match self {
            Target::Fill { dir } => dir,
            Target::Staged {
                staging,
                parent,
                destination,
            } => {
                let (dir, plan) = match destination {
                    Destination::Named { dir, plan } => (dir, plan),
                    Destination::ByService { mode } => {
                        let name = default_output_name(service).map_err(WriteError::from)?;
                        let dir = parent.join(name);
                        let plan = plan(&dir, mode)?;
                        (dir, plan)
                    }
                };
                open_up(&parent, staging.path())?;
                match plan {
                    Plan::Replace => replace(staging, &dir, &parent)?,
                    // `Fill` is never planned for a staged tree: an empty directory the caller
                    // names is filled in place, one named by the service is refused.
                    Plan::New | Plan::Fill => {
                        // Renamed onto a path that appeared meanwhile: replaces an empty
                        // directory, fails on anything else (never follows a symlink).
                        fs::rename(staging.path(), &dir).map_err(io_error(&dir))?;
                        let _ = staging.keep();
                    }
                }
                dir
            }
        };
        sink.keep();
        Ok((dir, std::mem::take(&mut sink.written)))
    }
}

/// Checks that `root` holds exactly the files `expected` names, each a regular file of the
/// size given, and no other entry.
///
/// Sizes, not bytes: every file was created by this process with `O_CREAT | O_EXCL` under
/// a directory only this user can enter (a staging directory is 0700 while written; an empty
/// directory filled in place is guarded by its own permissions, as for
/// [`write_bundle`](super::write_bundle)), and written from the archive as it streamed by;
/// reading everything back would double the disk I/O and could compare only with bytes that
/// are no longer held. What is checked is what a confused writer could get wrong: a missing,
/// extra or short file, or an entry of another kind.
fn check_sizes(root: &Path, expected: &BTreeMap<String, u64>) -> Result<(), WriteError> {
    let files = regular_files(root)?;
    let differs = |detail: String| WriteError::Verify {
        path: root.to_owned(),
        detail,
    };
    if !files.keys().eq(expected.keys()) {
        return Err(differs("other files than the layer's".to_owned()));
    }
    for ((relative, path), size) in files.iter().zip(expected.values()) {
        let len = fs::symlink_metadata(path).map_err(io_error(path))?.len();
        if len != *size {
            return Err(differs(format!(
                "{relative} is {len} bytes, not {size} bytes"
            )));
        }
    }
    Ok(())
}

/// The files of a layer, written under `root` as they stream by.
///
/// Small files are gathered into batches (at most [`BATCH_FILES`] files, [`BATCH_BYTES`]
/// bytes), each created and written in one trip to the blocking pool: a trip per file
/// costs two thread switches, which dominate for bundles of many small files. A larger
/// file is created, then copied a chunk ([`COPY_CHUNK`]) at a time.
#[derive(Debug)]
struct DirSink {
    root: PathBuf,
    /// Every path created, in order (kept only when filling in place, to be undone).
    created: Vec<PathBuf>,
    /// Whether dropping the sink removes what it created (a fill in place not committed).
    undo: bool,
    /// The relative path and size of every file read (written, or in `batch`).
    written: BTreeMap<String, u64>,
    raw_yaml: Option<Bytes>,
    /// Small files read and not yet written, and their bytes.
    batch: Vec<(String, Bytes)>,
    batch_bytes: usize,
    buf: Vec<u8>,
}

/// Most small files held before they are written.
const BATCH_FILES: usize = 256;
/// Most bytes of small files held before they are written.
const BATCH_BYTES: usize = 1024 * 1024;

impl DirSink {
    fn new(root: PathBuf, undo: bool) -> Self {
        DirSink {
            root,
            created: Vec::new(),
            undo,
            written: BTreeMap::new(),
            raw_yaml: None,
            batch: Vec::new(),
            batch_bytes: 0,
            buf: vec![0; COPY_CHUNK],
        }
    }

    /// The files are in place: keep them.
    fn keep(&mut self) {
        self.undo = false;
    }

    /// Runs `create` on the blocking pool, which creates files under the root and records
    /// every path it creates (even when it fails); then records them here too.
    async fn create<T: Send + 'static>(
        &mut self,
        create: impl FnOnce(&Path, &mut Vec<PathBuf>) -> Result<T, WriteError> + Send + 'static,
    ) -> Result<T, WriteError> {
        let root = self.root.clone();
        let (created, result) = pacto_fs::blocking(move || {
            let mut created = Vec::new();
            let result = create(&root, &mut created);
            (created, result)
        })
        .await
        .map_err(io_error(&self.root))?;
        if self.undo {
            self.created.extend(created);
        }
        result
    }

    /// Creates and writes the small files gathered so far.
    async fn flush(&mut self) -> Result<(), WriteError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.create(move |root, created| {
            for (name, data) in batch {
                let (target, mut file) = create_file(root, &name, created)?;
                file.write_all(&data).map_err(io_error(&target))?;
            }
            Ok(())
        })
        .await
    }

    /// Creates the file at `path` and copies the entry's `size` bytes into it, a chunk at a
    /// time.
    async fn copy<E: AsyncRead + Unpin>(
        &mut self,
        path: &BundlePath,
        size: u64,
        entry: &mut E,
    ) -> Result<(), WriteError> {
        let name = path.as_str().to_owned();
        let (target, file) = self
            .create(move |root, created| create_file(root, &name, created))
            .await?;
        let mut out = tokio::fs::File::from_std(file);
        let mut done = 0;
        while done < size {
            let n = read_chunk(entry, &mut self.buf, path.as_str(), size, done).await?;
            out.write_all(&self.buf[..n])
                .await
                .map_err(io_error(&target))?;
            done += n as u64;
        }
        // tokio's File writes in the background: its last error shows on flush.
        out.flush().await.map_err(io_error(&target))
    }
}

impl Sink for DirSink {
    type Error = WriteError;

    async fn file<E: AsyncRead + Unpin>(
        &mut self,
        path: BundlePath,
        size: u64,
        entry: &mut E,
    ) -> Result<(), WriteError> {
        // pacto.yaml is kept anyway: it goes with the small files, whatever its size.
        if is_contract(&path) || size <= COPY_CHUNK as u64 {
            let data = Bytes::from(read_body(entry, path.as_str(), size).await?);
            if is_contract(&path) {
                self.raw_yaml = Some(data.clone());
            }
            self.batch_bytes += data.len();
            self.batch.push((path.as_str().to_owned(), data));
            if self.batch.len() >= BATCH_FILES || self.batch_bytes >= BATCH_BYTES {
                self.flush().await?;
            }
        } else {
            self.flush().await?;
            self.copy(&path, size, entry).await?;
        }
        self.written.insert(path.into(), size);
        Ok(())
    }
}

impl Drop for DirSink {
    fn drop(&mut self) {
        if self.undo {
            remove_created(&self.created);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change made to a staged tree before it is checked.
    type Change = fn(&Path);

    /// A tree holding `a/b.txt` (3 bytes) and `c.txt` (0 bytes), changed by `change`.
    fn checked(change: impl FnOnce(&Path)) -> Result<(), WriteError> {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        fs::create_dir(root.join("a")).unwrap();
        fs::write(root.join("a/b.txt"), b"abc").unwrap();
        fs::write(root.join("c.txt"), b"").unwrap();
        change(root);
        let expected = BTreeMap::from([("a/b.txt".to_owned(), 3), ("c.txt".to_owned(), 0)]);
        check_sizes(root, &expected)
    }

    #[test]
    fn the_staged_tree_must_hold_exactly_the_files_unpacked() {
        assert!(checked(|_| {}).is_ok());
        let cases: [(&str, Change); 5] = [
            ("a file missing", |root| {
                fs::remove_file(root.join("c.txt")).unwrap()
            }),
            ("an extra file", |root| {
                fs::write(root.join("d.txt"), b"").unwrap()
            }),
            ("a short file", |root| {
                fs::write(root.join("a/b.txt"), b"ab").unwrap()
            }),
            ("an empty directory", |root| {
                fs::create_dir(root.join("e")).unwrap()
            }),
            ("a directory for a file", |root| {
                fs::remove_file(root.join("c.txt")).unwrap();
                fs::create_dir_all(root.join("c.txt/x")).unwrap();
                fs::write(root.join("c.txt/x/y"), b"").unwrap();
            }),
        ];
        for (what, change) in cases {
            let error = checked(change).unwrap_err();
            assert!(
                matches!(error, WriteError::Verify { .. }),
                "{what}: {error:?}"
            );
        }
        #[cfg(unix)]
        {
            let error = checked(|root| {
                fs::remove_file(root.join("c.txt")).unwrap();
                std::os::unix::fs::symlink("a/b.txt", root.join("c.txt")).unwrap();
            })
            .unwrap_err();
            assert!(
                matches!(error, WriteError::Verify { .. }),
                "a symlink: {error:?}"
            );
        }
    }
}
