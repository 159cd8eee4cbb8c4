//! Canonical, byte-reproducible tar+gzip of a [`Bundle`].

use crate::digest::HashingWriter;
use crate::error::{ArchiveError, PackDirError};
use crate::members::GzipMembers;
use bytes::Bytes;
use pacto_contract::{Bundle, Contract, DirListing, LimitError, Limits, ListedFile};
use pacto_ref::Digest;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::watch;
use tokio_tar::{EntryType, Header};

/// The deflate level of every layer this crate writes (`pack` output and pushed layer
/// alike). Changing it, or the 1 MiB of tar each gzip member holds, changes every digest:
/// the golden-digest test pins both.
pub const COMPRESSION_LEVEL: u32 = 1;

const BLOCK: usize = 512;
const NAME_LEN: usize = 100;
const PREFIX_LEN: usize = 155;
/// Largest size a ustar octal size field holds (8 GiB - 1).
const MAX_USTAR_SIZE: u64 = 0o77_777_777_777;
/// Name of the PAX header written before an entry whose path does not fit ustar fields.
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// About how many file bytes [`pack_to_file_with_progress`] and
/// [`pack_to_writer_with_progress`] pack between two reports: a progress bar moves every
/// MiB, and a big bundle costs a few dozen calls, not one per write.
pub const PROGRESS_STEP: u64 = 1024 * 1024;

/// A packed layer held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Packed {
    /// The tar+gzip bytes: the layer blob.
    pub bytes: Bytes,
    /// The sha256 of `bytes`: the layer digest.
    pub digest: Digest,
    /// The sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
    /// Length of `bytes`.
    pub size: u64,
}

impl Packed {
    /// The layer's digests and size, without its bytes.
    pub fn layer_info(&self) -> LayerInfo {
        LayerInfo {
            digest: self.digest.clone(),
            diff_id: self.diff_id.clone(),
            size: self.size,
        }
    }
}

/// A packed layer written to a file or writer: its digests and size.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerInfo {
    /// The sha256 of the tar+gzip bytes written.
    pub digest: Digest,
    /// The sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Number of tar+gzip bytes written.
    pub size: u64,
}

/// What [`pack_to_file`] returns.
pub type PackedFile = LayerInfo;

/// Packs a bundle into the canonical tar+gzip layer, in memory.
///
/// The archive is a function of the bundle's paths and bytes only:
/// - entries in Go `fs.WalkDir` order: depth first, each directory's entries sorted
///   bytewise by name (so `api/` and its files come before `api.md`);
/// - a directory entry (no trailing slash, mode 0755) for every parent of a file, then
///   files (mode 0644); mtime 0, uid/gid 0, empty user and group names;
/// - plain ustar headers; a path that does not fit the ustar name and prefix fields gets a
///   PAX header (named `././@PaxHeader`, mode 0644, mtime 0) with a single `path` record,
///   and its ustar name field holds the path's first 100 bytes;
/// - the archive ends with two zero blocks and no record padding;
/// - gzip at [`COMPRESSION_LEVEL`]: the tar cut into blocks of 1 MiB (the last one
///   shorter), each deflated in one call as its own gzip member with a fixed header (no
///   name, mtime 0, XFL 4, OS byte 255), the members concatenated in order (RFC 1952; Go's
///   `gzip.Reader`, GNU gzip and [`crate::unpack`] read them all). Blocks are compressed on
///   dedicated threads, as many at once as the machine has cores (at least two).
///
/// A bundle over `limits` ([`Bundle::check_limits`], which counts entries as [`crate::unpack`]
/// does, plus the PAX records of long paths, which [`crate::unpack`] counts against
/// `limits.max_total_size`) is refused with [`ArchiveError::OverLimit`] before anything is
/// written, so every archive this crate writes unpacks under the same limits.
///
/// The tar is streamed through the compressor: it never exists in memory as a whole, only
/// the few blocks being compressed.
pub async fn pack(bundle: &Bundle, limits: &Limits) -> Result<Packed, ArchiveError> {
    let entries = plan(bundle, limits)?;
    // Compressed bundles are usually well under half their size; this saves reallocations.
    let capacity = usize::try_from(bundle.total_size() / 2).unwrap_or(0);
    let mut sink = Vec::with_capacity(capacity);
    let info = write_layer(&entries, &mut sink, &mut |_| {})
        .await
        .map_err(|e| e.into_archive_error(None))?;
    Ok(Packed {
        bytes: Bytes::from(sink),
        digest: info.digest,
        diff_id: info.diff_id,
        size: info.size,
    })
}

/// Packs a bundle into `writer`, exactly as [`pack`] does (nothing is written when the
/// bundle is refused), and shuts the writer down.
pub async fn pack_to_writer<W: AsyncWrite + Unpin>(
    bundle: &Bundle,
    writer: W,
    limits: &Limits,
) -> Result<LayerInfo, ArchiveError> {
    pack_to_writer_with_progress(bundle, writer, limits, |_| {}).await
}

/// [`pack_to_writer`], calling `progress` with the number of the bundle's file bytes packed
/// since its previous call: about every [`PROGRESS_STEP`] bytes and once at the end, so the
/// calls of a pack that succeeds add up to [`Bundle::total_size`] (for a progress bar; the
/// archive's bytes are exactly [`pack_to_writer`]'s).
pub async fn pack_to_writer_with_progress<W: AsyncWrite + Unpin>(
    bundle: &Bundle,
    writer: W,
    limits: &Limits,
    mut progress: impl FnMut(u64) + Send,
) -> Result<LayerInfo, ArchiveError> {
    let entries = plan(bundle, limits)?;
    write_layer(&entries, writer, &mut progress)
        .await
        .map_err(|e| e.into_archive_error(None))
}

/// Packs a bundle into the file at `path`, exactly as [`pack`] does.
///
/// Atomic: the layer is written to a temporary file in the same directory, synced, made
/// mode 0644 (on Unix), then renamed over `path`; on failure `path` is untouched and the
/// temporary file removed. A refused bundle creates no file at all.
pub async fn pack_to_file(
    bundle: &Bundle,
    path: &Path,
    limits: &Limits,
) -> Result<PackedFile, ArchiveError> {
    pack_to_file_with_progress(bundle, path, limits, |_| {}).await
}

/// [`pack_to_file`], calling `progress` as [`pack_to_writer_with_progress`] does.
pub async fn pack_to_file_with_progress(
    bundle: &Bundle,
    path: &Path,
    limits: &Limits,
    mut progress: impl FnMut(u64) + Send,
) -> Result<PackedFile, ArchiveError> {
    let entries = plan(bundle, limits)?;
    write_file(
        &entries,
        path,
        &mut progress,
        LayerWatch::none(),
        Durability::Synced,
    )
    .await
}

/// A bundle directory packed by [`pack_dir_to_file`]: the layer written and what the
/// artifact's config and manifest need from the bundle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PackedDir {
    /// The layer's digest, uncompressed digest and size.
    pub layer: LayerInfo,
    /// The parsed `pacto.yaml` (its bytes are the ones packed).
    pub contract: Contract,
    /// How many files the bundle has, `pacto.yaml` included.
    pub files: usize,
    /// Sum of the sizes of the files packed, in bytes.
    pub total_size: u64,
}

/// Lists the bundle directory `dir` as [`Bundle::from_dir_with_limits`] reads it (same
/// walk, same refusals and errors, [`PackDirError::Bundle`]), refuses it when its contract
/// references files it does not hold, as [`Bundle::check_references`] does
/// ([`PackDirError::MissingReferences`]), and packs it into the file at `path` exactly as
/// [`pack_to_file`] packs `Bundle::from_dir(dir)`: the same bytes, written atomically.
///
/// Files are streamed from disk a [`PROGRESS_STEP`] at a time, never held whole: memory
/// grows with the number of files, not their size. A file whose size changed between the
/// listing and its read fails the pack with [`ArchiveError::FileChanged`] (nothing is
/// written at `path`). `progress` is called as [`pack_to_file_with_progress`] calls it; its
/// calls add up to [`PackedDir::total_size`].
///
/// [`list_dir`] then [`pack_listing`]; the file is synced to disk before it is renamed.
pub async fn pack_dir_to_file(
    dir: &Path,
    path: &Path,
    limits: &Limits,
    progress: impl FnMut(u64) + Send,
) -> Result<PackedDir, PackDirError> {
    let listed = list_dir(dir, limits).await?;
    pack_listing(
        &listed,
        path,
        limits,
        progress,
        LayerWatch::none(),
        Durability::Synced,
    )
    .await
}

/// The first half of [`pack_dir_to_file`]: lists the bundle directory `dir` under `limits`
/// and refuses it when its contract references files it lacks. Nothing is written; the
/// listing names the contract (the tag of a push) before anything is packed.
pub async fn list_dir(dir: &Path, limits: &Limits) -> Result<DirListing, PackDirError> {
    let listed = {
        let (owned, limits) = (dir.to_owned(), *limits);
        pacto_fs::blocking(move || Bundle::list_dir_with_limits(&owned, &limits))
            .await
            .map_err(|source| ArchiveError::Read {
                path: dir.to_owned(),
                source,
            })??
    };
    listed.check_references()?;
    Ok(listed)
}

/// Whether [`pack_listing`] syncs the file it writes before renaming it into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Synced: the file survives a crash once the call returns (what `pack -o` writes).
    Synced,
    /// Not synced: a scratch file read back by this process (a push's layer), where a sync
    /// would only wait for the disk.
    Scratch,
}

/// How far [`pack_listing`] has written its file, for a reader that follows it (an upload
/// of the layer while it is packed).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Written {
    /// The file being written, opened for reading before its first byte was written (its own
    /// offset, still valid once the file is renamed into place); `None` before.
    pub file: Option<Arc<std::fs::File>>,
    /// How many bytes are in the file: each report is a prefix of the final layer.
    pub bytes: u64,
}

impl Written {
    /// `bytes` written to `file` (for a packer of your own reporting to a reader).
    pub fn new(file: Arc<std::fs::File>, bytes: u64) -> Self {
        Written {
            file: Some(file),
            bytes,
        }
    }
}

/// Where [`pack_listing`] reports how far it has written ([`Written`]): the pack never
/// waits for whoever watches (the bytes are in the file, not in memory), and the channel
/// closes when the pack ends, whether it succeeded or not: only the pack's result says the
/// file is the whole layer.
#[derive(Debug)]
pub struct LayerWatch(Option<watch::Sender<Written>>);

impl LayerWatch {
    /// Nobody watches.
    pub fn none() -> Self {
        LayerWatch(None)
    }

    /// Reports to `sender`.
    pub fn to(sender: watch::Sender<Written>) -> Self {
        LayerWatch(Some(sender))
    }
}

/// Packs a directory [`list_dir`] listed into the file at `path`, exactly as
/// [`pack_dir_to_file`] does (the same bytes, the same refusals of a file that changed,
/// `progress` called the same way), reporting how far the file is written to `watch`, and
/// syncing the file or not as `durability` says.
pub async fn pack_listing(
    listed: &DirListing,
    path: &Path,
    limits: &Limits,
    mut progress: impl FnMut(u64) + Send,
    watch: LayerWatch,
    durability: Durability,
) -> Result<PackedDir, PackDirError> {
    let entries = plan_listing(listed, limits)?;
    let layer = write_file(&entries, path, &mut progress, watch, durability).await?;
    Ok(PackedDir {
        layer,
        contract: listed.contract().clone(),
        files: listed.files().len(),
        total_size: listed.total_size(),
    })
}

/// Writes the planned entries to the file at `path` atomically (see [`pack_to_file`]).
async fn write_file(
    entries: &[TarEntry<'_>],
    path: &Path,
    progress: &mut (dyn FnMut(u64) + Send),
    watch: LayerWatch,
    durability: Durability,
) -> Result<LayerInfo, ArchiveError> {
    let io_err = |source: io::Error| ArchiveError::Io {
        path: Some(path.to_owned()),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".pacto-pack-")
        .tempfile_in(dir)
        .map_err(io_err)?;
    let (file, temp_path) = temp.into_parts();
    let watch = match watch.0 {
        Some(sender) => {
            let reader = std::fs::File::open(&temp_path).map_err(io_err)?;
            Some((sender, Arc::new(reader)))
        }
        None => None,
    };
    // Reported under the buffer: what the watcher is told is in the file.
    let reporting = Reporting::new(tokio::fs::File::from_std(file), watch);
    let mut writer = BufWriter::with_capacity(256 * 1024, reporting);
    let info = write_layer(entries, &mut writer, progress)
        .await
        .map_err(|e| e.into_archive_error(Some(path)))?;
    let file = writer.into_inner().into_inner();
    if durability == Durability::Synced {
        file.sync_all().await.map_err(io_err)?;
    }
    drop(file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp_path, std::fs::Permissions::from_mode(0o644))
            .map_err(io_err)?;
    }
    temp_path.persist(path).map_err(|e| io_err(e.error))?;
    Ok(info)
}

/// Everything that can refuse a bundle, decided before a byte is written: its limits, its
/// paths, and the PAX records its long paths need, which [`crate::unpack`] counts against
/// `limits.max_total_size` (a GNU long name or an original PAX record may have been a few
/// bytes shorter, so only a bundle near that limit with many long paths can meet this).
fn plan<'a>(bundle: &'a Bundle, limits: &Limits) -> Result<Vec<TarEntry<'a>>, ArchiveError> {
    bundle.check_limits(limits)?;
    let files = bundle
        .files()
        .iter()
        .map(|(path, data)| (path.as_str(), Data::Memory(data)));
    check_extensions(canonical_entries(files)?, limits)
}

/// [`plan`] for a listed directory, whose walk checked its limits: `pacto.yaml` from the
/// bytes the listing parsed, every other file from disk.
fn plan_listing<'a>(
    listing: &'a DirListing,
    limits: &Limits,
) -> Result<Vec<TarEntry<'a>>, ArchiveError> {
    let files = listing.files().iter().map(|(path, file)| {
        let data = if path.as_str() == pacto_contract::CONTRACT_FILE {
            Data::Memory(listing.raw_yaml())
        } else {
            Data::Disk(file)
        };
        (path.as_str(), data)
    });
    check_extensions(canonical_entries(files)?, limits)
}

/// Refuses entries whose PAX records would take an archive over `limits.max_total_size`.
fn check_extensions<'a>(
    entries: Vec<TarEntry<'a>>,
    limits: &Limits,
) -> Result<Vec<TarEntry<'a>>, ArchiveError> {
    let mut extensions = 0u64;
    for entry in &entries {
        let path = entry.path();
        if split_ustar(path.as_bytes()).is_none() {
            extensions += pax_record_len(b"path".len() + path.len()) as u64;
            if extensions > limits.max_total_size {
                return Err(ArchiveError::OverLimit(LimitError::total_too_large(
                    path,
                    limits.max_total_size,
                )));
            }
        }
    }
    Ok(entries)
}

/// Why [`write_layer`] failed: the destination, or a file being packed from disk.
#[derive(Debug)]
enum LayerError {
    /// Writing the archive failed.
    Write(io::Error),
    /// Reading a file from disk failed.
    Read { path: PathBuf, source: io::Error },
    /// A file on disk no longer has the size it was listed with.
    Changed {
        path: PathBuf,
        listed: u64,
        read: u64,
    },
}

impl From<io::Error> for LayerError {
    fn from(e: io::Error) -> Self {
        LayerError::Write(e)
    }
}

impl LayerError {
    fn into_archive_error(self, destination: Option<&Path>) -> ArchiveError {
        match self {
            LayerError::Write(source) => ArchiveError::Io {
                path: destination.map(Path::to_owned),
                source,
            },
            LayerError::Read { path, source } => ArchiveError::Read { path, source },
            LayerError::Changed { path, listed, read } => {
                ArchiveError::FileChanged { path, listed, read }
            }
        }
    }
}

/// How much of a file on disk [`copy_file`] reads at a time: a [`PROGRESS_STEP`].
const READ_CHUNK: usize = PROGRESS_STEP as usize;

/// Writes the planned entries as tar+gzip into `writer`, hashing both layers and telling
/// `progress` about the file bytes written.
async fn write_layer<W: AsyncWrite + Unpin>(
    entries: &[TarEntry<'_>],
    writer: W,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<LayerInfo, LayerError> {
    // At least two, so that on one core the tar is written while a block compresses.
    let in_flight = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let gzip = GzipMembers::new(HashingWriter::new(writer), in_flight);
    let mut tar = HashingWriter::new(gzip);
    let mut reporter = Reporter {
        progress,
        pending: 0,
    };
    let mut buffer = Vec::new();
    for entry in entries {
        match entry {
            TarEntry::Dir(path) => write_header(&mut tar, path, EntryType::Directory, 0).await?,
            TarEntry::File(path, data) => {
                let size = data.len();
                write_header(&mut tar, path, EntryType::Regular, size).await?;
                // Counted whether or not anybody watches, so both write the same bytes.
                let mut counted = Counted {
                    inner: &mut tar,
                    reporter: &mut reporter,
                };
                match data {
                    Data::Memory(bytes) => counted.write_all(bytes).await?,
                    Data::Disk(file) => copy_file(file, size, &mut counted, &mut buffer).await?,
                }
                write_padding(&mut tar, size).await?;
            }
        }
    }
    reporter.flush();
    tar.write_all(&[0; 2 * BLOCK]).await?;
    // Shutting down the tar hasher shuts down the compressor (which compresses the last
    // block and writes every member out) and, through it, the caller's writer.
    tar.shutdown().await?;
    let (gzip, diff_id, _) = tar.finish();
    let (_, digest, size) = gzip.into_inner().finish();
    Ok(LayerInfo {
        digest,
        diff_id,
        size,
    })
}

/// Copies the listed file into `out`: exactly `size` bytes, the size its header announced,
/// or [`LayerError::Changed`]. The layer does not depend on how the file's bytes are split
/// into writes (the compressor cuts the tar into blocks of its own), so it is read a
/// [`READ_CHUNK`] at a time into `buffer`.
async fn copy_file<W: AsyncWrite + Unpin>(
    file: &ListedFile,
    size: u64,
    out: &mut W,
    buffer: &mut Vec<u8>,
) -> Result<(), LayerError> {
    let read_err = |source| LayerError::Read {
        path: file.source.clone(),
        source,
    };
    let changed = |read| LayerError::Changed {
        path: file.source.clone(),
        listed: size,
        read,
    };
    let opened = tokio::fs::File::open(&file.source)
        .await
        .map_err(read_err)?;
    let meta = opened.metadata().await.map_err(read_err)?;
    if !meta.is_file() {
        return Err(changed(0));
    }
    buffer.resize(READ_CHUNK, 0);
    // One byte more than listed is enough to tell a file that grew.
    let mut limited = opened.take(size.saturating_add(1));
    let mut read = 0u64;
    loop {
        let n = limited.read(buffer).await.map_err(read_err)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if read > size {
            return Err(changed(read));
        }
        out.write_all(&buffer[..n]).await?;
    }
    if read != size {
        return Err(changed(read));
    }
    Ok(())
}

/// Adds up the file bytes packed and reports them about every [`PROGRESS_STEP`].
struct Reporter<'a> {
    progress: &'a mut (dyn FnMut(u64) + Send),
    /// Bytes packed and not reported yet.
    pending: u64,
}

impl Reporter<'_> {
    fn add(&mut self, n: u64) {
        self.pending += n;
        if self.pending >= PROGRESS_STEP {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending > 0 {
            (self.progress)(self.pending);
            self.pending = 0;
        }
    }
}

/// Passes writes through to `inner` at most [`PROGRESS_STEP`] bytes at a time, counting the
/// bytes it accepted. The layer does not depend on how its input is split: the compressor
/// cuts the tar into blocks of its own (the big-bundle golden digest checks it).
struct Counted<'a, 'r, W> {
    inner: &'a mut W,
    reporter: &'a mut Reporter<'r>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counted<'_, '_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // A whole file could go in one write: a step at a time, it is reported as it goes.
        let step = usize::try_from(PROGRESS_STEP).unwrap_or(usize::MAX);
        let buf = buf.get(..step).unwrap_or(buf);
        let n = std::task::ready!(Pin::new(&mut *this.inner).poll_write(cx, buf))?;
        this.reporter.add(n as u64);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

/// One entry of the canonical archive; both borrow from the bundle's (or listing's) paths.
#[derive(Debug)]
enum TarEntry<'a> {
    Dir(&'a str),
    File(&'a str, Data<'a>),
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, Copy)]
enum Data<'a> {
    /// A bundle's bytes, in memory.
    Memory(&'a Bytes),
    /// A listed file, read from disk as it is packed.
    Disk(&'a ListedFile),
}

impl Data<'_> {
    fn len(&self) -> u64 {
        match self {
            Data::Memory(bytes) => bytes.len() as u64,
            Data::Disk(file) => file.size,
        }
    }
}

impl TarEntry<'_> {
    fn path(&self) -> &str {
        match self {
            TarEntry::Dir(path) | TarEntry::File(path, _) => path,
        }
    }
}

/// The entries of the archive in Go `fs.WalkDir` order, without recursion.
///
/// Sorting paths with `/` mapped below every other byte orders them component by
/// component (`api/x` before `api.md`, since `api` < `api.md`), which is a depth-first
/// walk with each directory's entries sorted by name. Each file is preceded by the
/// directories it does not share with the previous file. The paths are a bundle's: valid,
/// and none a directory of another.
fn canonical_entries<'a>(
    files: impl Iterator<Item = (&'a str, Data<'a>)>,
) -> Result<Vec<TarEntry<'a>>, ArchiveError> {
    let mut sorted: Vec<(&str, Data<'a>)> = files.collect();
    if let Some((path, data)) = sorted.iter().find(|(_, data)| data.len() > MAX_USTAR_SIZE) {
        return Err(ArchiveError::FileTooLarge {
            path: (*path).to_owned(),
            size: data.len(),
        });
    }
    sorted.sort_by(|(a, _), (b, _)| walk_order(a).cmp(walk_order(b)));
    let mut out = Vec::with_capacity(sorted.len() * 2);
    let mut previous: Option<&str> = None;
    for (path, data) in sorted {
        let shared = previous.map_or(0, |prev| shared_dirs(prev, path));
        for (i, _) in path.match_indices('/').filter(|(i, _)| *i > shared) {
            out.push(TarEntry::Dir(&path[..i]));
        }
        out.push(TarEntry::File(path, data));
        previous = Some(path);
    }
    Ok(out)
}

/// The sort key of a path in walk order: its bytes, with `/` below every other byte.
fn walk_order(path: &str) -> impl Iterator<Item = u8> + '_ {
    path.bytes().map(|b| if b == b'/' { 0 } else { b })
}

/// Length of the longest directory prefix (ending before a `/`) that two paths share; 0
/// if they share no directory.
fn shared_dirs(a: &str, b: &str) -> usize {
    let mut shared = 0;
    for ((i, x), y) in a.bytes().enumerate().zip(b.bytes()) {
        if x != y {
            break;
        }
        if x == b'/' {
            shared = i;
        }
    }
    shared
}

async fn write_header<W: AsyncWrite + Unpin>(
    out: &mut W,
    path: &str,
    kind: EntryType,
    size: u64,
) -> io::Result<()> {
    let name = path.as_bytes();
    let mut header = Header::new_ustar();
    match split_ustar(name) {
        Some((prefix, rest)) => set_name(&mut header, prefix, rest),
        None => {
            let record = pax_record(b"path", name);
            let mut pax = Header::new_ustar();
            set_name(&mut pax, b"", PAX_HEADER_NAME);
            fill(&mut pax, EntryType::XHeader, 0o644, record.len() as u64);
            out.write_all(pax.as_bytes()).await?;
            out.write_all(&record).await?;
            write_padding(out, record.len() as u64).await?;
            set_name(&mut header, b"", &name[..NAME_LEN]);
        }
    }
    let mode = if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    };
    fill(&mut header, kind, mode, size);
    out.write_all(header.as_bytes()).await
}

/// Splits a path into ustar `(prefix, name)` fields, or `None` if it needs PAX.
fn split_ustar(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= NAME_LEN {
        return Some((b"", path));
    }
    // The prefix is everything before the last '/' that leaves a name of at most 100
    // bytes and a prefix of at most 155: take the last '/' within the first 156 bytes.
    let window = &path[..path.len().min(PREFIX_LEN + 1)];
    let slash = window.iter().rposition(|b| *b == b'/')?;
    let (prefix, name) = (&path[..slash], &path[slash + 1..]);
    (!prefix.is_empty() && !name.is_empty() && name.len() <= NAME_LEN).then_some((prefix, name))
}

fn set_name(header: &mut Header, prefix: &[u8], name: &[u8]) {
    if let Some(ustar) = header.as_ustar_mut() {
        ustar.prefix[..prefix.len()].copy_from_slice(prefix);
        ustar.name[..name.len()].copy_from_slice(name);
    }
}

fn fill(header: &mut Header, kind: EntryType, mode: u32, size: u64) {
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    header.set_cksum();
}

/// The length of a PAX record whose key and value have `key_and_value` bytes together: the
/// record's length field counts its own digits too.
fn pax_record_len(key_and_value: usize) -> usize {
    let body = key_and_value + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    len
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let len = pax_record_len(key.len() + value.len());
    let mut record = Vec::with_capacity(len);
    record.extend_from_slice(len.to_string().as_bytes());
    record.push(b' ');
    record.extend_from_slice(key);
    record.push(b'=');
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

async fn write_padding<W: AsyncWrite + Unpin>(out: &mut W, len: u64) -> io::Result<()> {
    let pad = (BLOCK - (len % BLOCK as u64) as usize) % BLOCK;
    out.write_all(&[0; BLOCK][..pad]).await
}

/// A file writer that reports how many bytes have reached the file ([`LayerWatch`]): a
/// write is reported once it completed (tokio's file writes in the background: the next
/// write, a flush or the shutdown waits for it first), so a reader never sees a count the
/// file does not hold yet.
struct Reporting {
    inner: tokio::fs::File,
    watch: Option<(watch::Sender<Written>, Arc<std::fs::File>)>,
    /// Bytes handed to `inner`.
    written: u64,
    /// Bytes reported.
    reported: u64,
}

impl Reporting {
    fn new(
        inner: tokio::fs::File,
        watch: Option<(watch::Sender<Written>, Arc<std::fs::File>)>,
    ) -> Self {
        Reporting {
            inner,
            watch,
            written: 0,
            reported: 0,
        }
    }

    fn into_inner(self) -> tokio::fs::File {
        self.inner
    }

    /// Waits for the writes handed to the file, then reports them.
    fn poll_report(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.written == self.reported || self.watch.is_none() {
            return Poll::Ready(Ok(()));
        }
        std::task::ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        self.reported = self.written;
        if let Some((sender, file)) = &self.watch {
            // Nobody watching any more is not an error: the file is written all the same.
            let _ = sender.send(Written::new(file.clone(), self.reported));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Reporting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.poll_report(cx))?;
        let n = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.written += n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.poll_report(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.poll_report(cx))?;
        std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        // The last byte is in the file: the watcher sees the channel close.
        this.watch = None;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record(b"path", b"abc"), b"12 path=abc\n");
        // Around the 2-to-3-digit boundary the length's own width changes the length.
        for (value_len, total) in [(90, 99), (91, 101), (92, 102), (93, 103)] {
            let record = pax_record(b"path", &vec![b'x'; value_len]);
            assert_eq!(record.len(), total, "value of {value_len} bytes");
            assert!(record.starts_with(format!("{total} path=").as_bytes()));
        }
    }

    #[test]
    fn ustar_split_rules() {
        let short = b"a/b.txt";
        assert_eq!(split_ustar(short), Some((&b""[..], &short[..])));
        let exactly_100 = vec![b'n'; 100];
        assert_eq!(
            split_ustar(&exactly_100),
            Some((&b""[..], &exactly_100[..]))
        );
        let long_leaf = [vec![b'd'; 10], b"/".to_vec(), vec![b'f'; 101]].concat();
        assert_eq!(split_ustar(&long_leaf), None);
        let splittable = [vec![b'd'; 155], b"/".to_vec(), vec![b'f'; 100]].concat();
        let (prefix, name) = split_ustar(&splittable).unwrap();
        assert_eq!((prefix.len(), name.len()), (155, 100));
        let prefix_too_long = [vec![b'd'; 156], b"/".to_vec(), vec![b'f'; 10]].concat();
        assert_eq!(split_ustar(&prefix_too_long), None);
    }
}
