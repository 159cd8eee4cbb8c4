//! Bounded, streaming reader of bundle layers that refuses hostile archives.

use crate::error::{ExtensionProblem, NameExtension, UnpackError};
use crate::gzip::{GzipStream, StreamFault};
use crate::tree::PathTree;
use bytes::Bytes;
use futures_util::StreamExt;
use pacto_contract::{Bundle, BundleBuilder, BundleError, BundlePath, CONTRACT_FILE, Limits};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_tar::{Archive, EntryType, Header};

const BLOCK: u64 = 512;
/// Largest PAX header or GNU long name accepted (Go's `maxSpecialFileSize`).
pub const MAX_EXTENSION_SIZE: u64 = 1024 * 1024;
/// Most zero bytes accepted after the end-of-archive marker (tar writers pad to a record
/// size; GNU tar's largest common blocking factor gives 1 MiB records).
pub const MAX_TRAILING_PADDING: u64 = 1024 * 1024;
/// Files are read into buffers grown by at most this much at a time, so a header that
/// lies about its size costs memory only for the bytes actually present.
const READ_CHUNK: u64 = 16 * 1024 * 1024;
/// Width of a tar name field; writers truncate long names to it.
const NAME_FIELD: usize = 100;

/// Unpacks a bundle layer (tar+gzip) from `reader`, within `limits`.
///
/// Streaming and bounded: each entry is checked from its header before its data is read,
/// and reading stops at the first refusal, so a gzip bomb costs at most the limits.
/// Memory is the bundle's files plus a constant ([`crate::write_layer`] writes them to a
/// directory as they come instead, in constant memory). Accepts our own layers, Go pacto's (any
/// gzip level, directory entries, PAX headers for long or non-ASCII names), GNU tar's
/// (`./` prefixes, trailing slashes on directories, GNU long names, record padding), and
/// concatenated gzip members.
///
/// Refused, each with an [`UnpackError`] naming the entry and the rule: paths with `..`,
/// absolute paths, backslashes, non-UTF-8 names, or empty/`.` components; entries that
/// are not regular files or directories; a file over `limits.max_file_size`, a total over
/// `limits.max_total_size`, more than `limits.max_entries` entries, a path deeper than
/// `limits.max_depth` components; two entries with the
/// same path, or a file used as a directory; a PAX `size` that differs from the header
/// size; a PAX `path` or GNU long name that is neither the header name nor its truncated
/// form; `GNU.sparse.*` records; malformed, oversized, repeated or dangling extension
/// headers; a truncated entry, a truncated or corrupt gzip stream, trailing bytes after
/// the gzip stream, a missing end-of-archive marker, data after it; a missing or invalid
/// `pacto.yaml`.
pub async fn unpack<R>(reader: R, limits: &Limits) -> Result<Bundle, UnpackError>
where
    R: AsyncRead + Unpin + Send,
{
    let mut files = Memory(BundleBuilder::new());
    read_layer(reader, limits, &mut files).await?;
    files.0.build().map_err(|e| match e {
        BundleError::MissingContract => UnpackError::MissingContract,
        BundleError::InvalidContract { source, .. } => UnpackError::InvalidContract { source },
        source => UnpackError::InvalidBundle { source },
    })
}

/// Reads the layer from `reader` to its end, every entry checked, handing each file that
/// passes to `sink`: the one reader behind [`unpack`] (files in memory) and
/// [`crate::write_layer`] (files on disk). On success `reader` has returned end of stream.
/// `pacto.yaml` is not looked at here: that is the caller's part, once every entry is in.
pub(crate) async fn read_layer<R, S>(
    reader: R,
    limits: &Limits,
    sink: &mut S,
) -> Result<(), S::Error>
where
    R: AsyncRead + Unpin + Send,
    S: Sink,
{
    let delivered = Arc::new(AtomicU64::new(0));
    let mut archive = Archive::new(GzipStream::new(reader, Arc::clone(&delivered)));
    let mut state = Reader::new(limits, sink);
    let end_of_entries = state.read_entries(&mut archive).await?;
    check_end(&mut archive, &delivered, end_of_entries).await?;
    Ok(())
}

/// `pacto.yaml` (the bytes of the root file of that name, if any) parsed as
/// [`BundleBuilder::build`] parses it, with the same refusals as [`unpack`].
pub(crate) fn parse_contract(
    raw_yaml: Option<Bytes>,
) -> Result<(pacto_contract::Contract, Bytes), UnpackError> {
    let raw_yaml = raw_yaml.ok_or(UnpackError::MissingContract)?;
    let contract = pacto_contract::parse(&raw_yaml)
        .map_err(|source| UnpackError::InvalidContract { source })?;
    Ok((contract, raw_yaml))
}

/// Where the files of a layer go once their entry passed every check.
pub(crate) trait Sink {
    /// The sink's failure; the reader's own refusals convert into it.
    type Error: From<UnpackError>;

    /// Takes the file at `path` (checked: a new path, within the limits): exactly `size`
    /// bytes of `entry`, read with [`read_body`] or [`read_chunk`], which refuse a short
    /// entry as [`read_layer`] would.
    async fn file<E: AsyncRead + Unpin>(
        &mut self,
        path: BundlePath,
        size: u64,
        entry: &mut E,
    ) -> Result<(), Self::Error>;
}

/// The files in memory, for [`unpack`].
struct Memory(BundleBuilder);

impl Sink for Memory {
    type Error = UnpackError;

    async fn file<E: AsyncRead + Unpin>(
        &mut self,
        path: BundlePath,
        size: u64,
        entry: &mut E,
    ) -> Result<(), UnpackError> {
        let data = read_body(entry, path.as_str(), size).await?;
        // The path tree has refused a second entry for this path already.
        self.0
            .insert(path, Bytes::from(data))
            .map_err(|source| UnpackError::InvalidBundle { source })
    }
}

/// Whether `path` is the bundle's contract, the one file kept in memory whatever the sink.
pub(crate) fn is_contract(path: &BundlePath) -> bool {
    path.as_str() == CONTRACT_FILE
}

/// [`unpack`] from a byte slice (a blob already in memory).
pub async fn unpack_bytes(bytes: &[u8], limits: &Limits) -> Result<Bundle, UnpackError> {
    unpack(bytes, limits).await
}

/// Maps an I/O error seen while reading the archive to the refusal it stands for.
fn stream_error(e: io::Error) -> UnpackError {
    match StreamFault::take(e) {
        Ok(StreamFault::Source(source)) => UnpackError::Read { source },
        Ok(StreamFault::Truncated) => UnpackError::TruncatedStream,
        Ok(StreamFault::Corrupt(source)) => UnpackError::Corrupt {
            source: Box::new(source),
        },
        Ok(StreamFault::TrailingData) => UnpackError::TrailingData,
        // Not from the gzip layer: the tar reader refused the framing.
        Err(e) => UnpackError::Corrupt {
            source: Box::new(e),
        },
    }
}

/// Extension headers seen since the last entry, waiting for the entry they describe.
#[derive(Default)]
struct Pending {
    /// Name of the first extension header, for error messages.
    header_name: Option<String>,
    pax: Option<PaxRecords>,
    gnu_long_name: Option<Vec<u8>>,
}

#[derive(Default)]
struct PaxRecords {
    path: Option<Vec<u8>>,
    size: Option<u64>,
}

struct Reader<'a, S> {
    limits: &'a Limits,
    /// Bytes of regular files so far.
    total: u64,
    /// Bytes of extension headers so far (bounded by the same limit as files).
    extension_total: u64,
    /// Where the files go, each path checked once, as it was read.
    sink: &'a mut S,
    /// Every path named so far, and the entry count.
    paths: PathTree,
    pending: Pending,
    /// Offset in the tar where the next header is expected.
    next_header: u64,
}

impl<'a, S: Sink> Reader<'a, S> {
    fn new(limits: &'a Limits, sink: &'a mut S) -> Self {
        Reader {
            limits,
            total: 0,
            extension_total: 0,
            sink,
            paths: PathTree::new(limits.max_entries),
            pending: Pending::default(),
            next_header: 0,
        }
    }

    /// Reads every entry; returns the tar offset where the end-of-archive marker should be.
    async fn read_entries<R>(&mut self, archive: &mut Archive<R>) -> Result<u64, S::Error>
    where
        R: AsyncRead + Unpin + Send,
    {
        // Raw entries: tokio-tar frames every entry by its ustar header alone and hands
        // PAX and GNU extension headers to us, so their interpretation (and its bounds)
        // is ours, and no PAX `size` can move the framing (TARmageddon).
        let mut entries = archive.entries_raw().map_err(stream_error)?;
        while let Some(entry) = entries.next().await {
            let mut entry = entry.map_err(stream_error)?;
            let header = entry.header().clone();
            let size = header.raw_entry_size().map_err(stream_error)?;
            self.next_header = entry
                .raw_file_position()
                .saturating_add(size.div_ceil(BLOCK).saturating_mul(BLOCK));
            let typeflag = header.as_old().linkflag[0];
            match header.entry_type() {
                EntryType::XHeader => {
                    let data = self.read_extension(&header, size, &mut entry).await?;
                    self.pax_header(&header, &data)?;
                }
                EntryType::XGlobalHeader => {
                    self.paths.count_other()?;
                    let data = self.read_extension(&header, size, &mut entry).await?;
                    global_header(&header, &data)?;
                }
                EntryType::GNULongName => {
                    let data = self.read_extension(&header, size, &mut entry).await?;
                    self.gnu_long_name(&header, data)?;
                }
                _ => self.member(&header, typeflag, size, &mut entry).await?,
            }
        }
        if let Some(name) = self.pending.header_name.take() {
            return Err(UnpackError::BadExtension {
                entry: name,
                problem: ExtensionProblem::NotFollowedByEntry,
            }
            .into());
        }
        Ok(self.next_header)
    }

    async fn read_extension<E: AsyncRead + Unpin>(
        &mut self,
        header: &Header,
        size: u64,
        entry: &mut E,
    ) -> Result<Vec<u8>, UnpackError> {
        let name = lossy(&header_name(header));
        if size > MAX_EXTENSION_SIZE {
            return Err(UnpackError::BadExtension {
                entry: name,
                problem: ExtensionProblem::TooLarge {
                    size,
                    limit: MAX_EXTENSION_SIZE,
                },
            });
        }
        // Each extension is small, but there may be one per entry: their sum is bounded too,
        // so that no archive makes us decompress more than the limits allow.
        let extension_total = self.extension_total.saturating_add(size);
        if extension_total > self.limits.max_total_size {
            return Err(UnpackError::BadExtension {
                entry: name,
                problem: ExtensionProblem::TooMuchInTotal {
                    limit: self.limits.max_total_size,
                },
            });
        }
        self.extension_total = extension_total;
        let data = read_body(entry, &name, size).await?;
        if header.entry_type() != EntryType::XGlobalHeader && self.pending.header_name.is_none() {
            self.pending.header_name = Some(name);
        }
        Ok(data)
    }

    fn pax_header(&mut self, header: &Header, data: &[u8]) -> Result<(), UnpackError> {
        let name = lossy(&header_name(header));
        let bad = |problem| UnpackError::BadExtension {
            entry: name.clone(),
            problem,
        };
        if self.pending.pax.is_some() {
            return Err(bad(ExtensionProblem::Repeated));
        }
        let mut records = PaxRecords::default();
        for record in parse_pax(data).ok_or_else(|| bad(ExtensionProblem::Malformed))? {
            let (key, value) = record;
            match key {
                b"path" => {
                    if records.path.is_some() || value.is_empty() {
                        return Err(bad(ExtensionProblem::Malformed));
                    }
                    records.path = Some(value.to_vec());
                }
                b"size" => {
                    if records.size.is_some() {
                        return Err(bad(ExtensionProblem::Malformed));
                    }
                    records.size =
                        Some(parse_decimal(value).ok_or_else(|| bad(ExtensionProblem::Malformed))?);
                }
                key if key.starts_with(b"GNU.sparse.") => {
                    return Err(UnpackError::ForbiddenPaxKey {
                        entry: name,
                        key: lossy(key),
                    });
                }
                // Times, ownership, charset, comments, xattrs, link targets (links are
                // refused anyway): none of them changes which bytes a file holds.
                _ => {}
            }
        }
        if records.path.is_some() && self.pending.gnu_long_name.is_some() {
            return Err(bad(ExtensionProblem::PaxAndGnuName));
        }
        self.pending.pax = Some(records);
        Ok(())
    }

    fn gnu_long_name(&mut self, header: &Header, mut data: Vec<u8>) -> Result<(), UnpackError> {
        let bad = |problem| UnpackError::BadExtension {
            entry: lossy(&header_name(header)),
            problem,
        };
        if self.pending.gnu_long_name.is_some() {
            return Err(bad(ExtensionProblem::Repeated));
        }
        if self.pending.pax.as_ref().is_some_and(|p| p.path.is_some()) {
            return Err(bad(ExtensionProblem::PaxAndGnuName));
        }
        while data.last() == Some(&0) {
            data.pop();
        }
        if data.is_empty() {
            return Err(bad(ExtensionProblem::Malformed));
        }
        self.pending.gnu_long_name = Some(data);
        Ok(())
    }

    async fn member<E: AsyncRead + Unpin>(
        &mut self,
        header: &Header,
        typeflag: u8,
        size: u64,
        entry: &mut E,
    ) -> Result<(), S::Error> {
        let pending = std::mem::take(&mut self.pending);
        let raw_name = header_name(header);
        let (pax_path, pax_size) = pending.pax.map_or((None, None), |p| (p.path, p.size));
        let name = match (pax_path, pending.gnu_long_name) {
            (None, None) => raw_name,
            (Some(path), None) => {
                resolve_long_name(header, &raw_name, path, NameExtension::PaxPath)?
            }
            (None, Some(long)) => {
                resolve_long_name(header, &raw_name, long, NameExtension::GnuLongName)?
            }
            // Refused as the second one arrives; kept typed here all the same.
            (Some(_), Some(_)) => {
                return Err(UnpackError::BadExtension {
                    entry: pending.header_name.unwrap_or_else(|| lossy(&raw_name)),
                    problem: ExtensionProblem::PaxAndGnuName,
                }
                .into());
            }
        };
        let name = String::from_utf8(name).map_err(|e| UnpackError::NonUtf8Name {
            entry_lossy: lossy(e.as_bytes()),
        })?;
        if let Some(pax_size) = pax_size
            && pax_size != size
        {
            return Err(UnpackError::PaxSizeMismatch {
                entry: name,
                header_size: size,
                pax_size,
            }
            .into());
        }
        let is_dir = match header.entry_type() {
            EntryType::Directory => true,
            // Old (pre-POSIX) regular files: a trailing slash meant a directory.
            EntryType::Regular if typeflag == 0 && name.ends_with('/') => true,
            EntryType::Regular => false,
            other => {
                return Err(unsupported_entry(name, other, typeflag).into());
            }
        };
        if is_dir {
            Ok(self.directory(name, size)?)
        } else {
            self.file(name, size, entry).await
        }
    }

    fn directory(&mut self, name: String, size: u64) -> Result<(), UnpackError> {
        if size != 0 {
            return Err(UnpackError::DirectoryWithData { entry: name, size });
        }
        let trimmed = name.strip_suffix('/').unwrap_or(&name);
        let mut rest = trimmed;
        while let Some(stripped) = rest.strip_prefix("./") {
            rest = stripped;
        }
        if rest.is_empty() || rest == "." {
            // The archive's root directory (`./`), as `tar -C dir .` writes it.
            return self.paths.count_other();
        }
        let path =
            BundlePath::parse(trimmed).map_err(|e| UnpackError::from_path_error(&name, e))?;
        self.check_depth(&path)?;
        self.paths.insert(path.as_str(), true)
    }

    fn check_depth(&self, path: &BundlePath) -> Result<(), UnpackError> {
        let depth = path.depth();
        if depth > self.limits.max_depth {
            return Err(UnpackError::TooDeep {
                entry: path.to_string(),
                depth,
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    async fn file<E: AsyncRead + Unpin>(
        &mut self,
        name: String,
        size: u64,
        entry: &mut E,
    ) -> Result<(), S::Error> {
        let path = BundlePath::parse(&name).map_err(|e| UnpackError::from_path_error(&name, e))?;
        self.check_depth(&path)?;
        self.paths.insert(path.as_str(), false)?;
        if size > self.limits.max_file_size {
            return Err(UnpackError::FileTooLarge {
                entry: path.into(),
                size,
                limit: self.limits.max_file_size,
            }
            .into());
        }
        if self.total.saturating_add(size) > self.limits.max_total_size {
            return Err(UnpackError::TotalTooLarge {
                entry: path.into(),
                limit: self.limits.max_total_size,
            }
            .into());
        }
        self.sink.file(path, size, entry).await?;
        self.total += size;
        Ok(())
    }
}

/// The refusal of an entry that is neither a regular file nor a directory.
fn unsupported_entry(entry: String, kind: EntryType, typeflag: u8) -> UnpackError {
    let kind = match kind {
        EntryType::Symlink => "symlink".to_owned(),
        EntryType::Link => "hard link".to_owned(),
        EntryType::Char => "character device".to_owned(),
        EntryType::Block => "block device".to_owned(),
        EntryType::Fifo => "fifo".to_owned(),
        EntryType::Continuous => "contiguous file".to_owned(),
        EntryType::GNUSparse => "GNU sparse file".to_owned(),
        EntryType::GNULongLink => "GNU long link name".to_owned(),
        _ => format!("entry of type {:?}", char::from(typeflag)),
    };
    UnpackError::UnsupportedEntryType { entry, kind }
}

/// A global PAX header applies to every later entry: it may not rename or resize them.
fn global_header(header: &Header, data: &[u8]) -> Result<(), UnpackError> {
    let name = lossy(&header_name(header));
    let records = parse_pax(data).ok_or_else(|| UnpackError::BadExtension {
        entry: name.clone(),
        problem: ExtensionProblem::Malformed,
    })?;
    for (key, _) in records {
        if matches!(key, b"path" | b"linkpath" | b"size") || key.starts_with(b"GNU.sparse.") {
            return Err(UnpackError::ForbiddenPaxKey {
                entry: name,
                key: lossy(key),
            });
        }
    }
    Ok(())
}

/// Accepts a long name only if the header's own name is that name, or the truncated form
/// writers put in the 100-byte name field (GNU tar and this crate: the first 100 bytes; Go:
/// the first 100 bytes of its ASCII characters, trailing slashes dropped).
fn resolve_long_name(
    header: &Header,
    header_name: &[u8],
    long: Vec<u8>,
    extension: NameExtension,
) -> Result<Vec<u8>, UnpackError> {
    if header_name == long.as_slice() {
        return Ok(long);
    }
    let prefix_empty = header
        .as_ustar()
        .is_none_or(|ustar| ustar.prefix.first().is_none_or(|b| *b == 0));
    let field = truncate_at_nul(&header.as_old().name);
    if prefix_empty && (field == gnu_projection(&long) || field == go_projection(&long)) {
        return Ok(long);
    }
    Err(UnpackError::NameOverride {
        entry: lossy(&long),
        header_name: lossy(header_name),
        extension,
    })
}

fn gnu_projection(name: &[u8]) -> &[u8] {
    &name[..name.len().min(NAME_FIELD)]
}

/// What Go's `archive/tar` writes in the name field of an entry that needs PAX.
fn go_projection(name: &[u8]) -> Vec<u8> {
    let ascii: Vec<u8> = String::from_utf8_lossy(name)
        .chars()
        .filter(|c| c.is_ascii() && *c != '\0')
        .map(|c| c as u8)
        .collect();
    if ascii.len() <= NAME_FIELD {
        return ascii;
    }
    let mut field = ascii[..NAME_FIELD].to_vec();
    if field.last() == Some(&b'/') {
        let keep = ascii[..NAME_FIELD - 1]
            .iter()
            .rposition(|b| *b != b'/')
            .map_or(0, |i| i + 1);
        field.truncate(keep);
    }
    field
}

/// The name in the header's own fields: ustar `prefix/name`, or the name field.
fn header_name(header: &Header) -> Vec<u8> {
    let name = truncate_at_nul(&header.as_old().name);
    match header.as_ustar() {
        Some(ustar) => {
            let prefix = truncate_at_nul(&ustar.prefix);
            if prefix.is_empty() {
                name.to_vec()
            } else {
                [prefix, b"/", name].concat()
            }
        }
        None => name.to_vec(),
    }
}

fn truncate_at_nul(field: &[u8]) -> &[u8] {
    field
        .iter()
        .position(|b| *b == 0)
        .map_or(field, |end| &field[..end])
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses PAX records (`"<len> <key>=<value>\n"`); `None` if any is malformed.
fn parse_pax(mut data: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut records = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|b| *b == b' ')?;
        let len = usize::try_from(parse_decimal(&data[..space])?).ok()?;
        let record = data.get(..len)?;
        let body = record.get(space + 1..)?.strip_suffix(b"\n")?;
        let equals = body.iter().position(|b| *b == b'=')?;
        if equals == 0 {
            return None;
        }
        records.push((&body[..equals], &body[equals + 1..]));
        data = &data[len..];
    }
    Some(records)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads `size` bytes, growing the buffer only as data arrives (see [`READ_CHUNK`]).
///
/// An entry that ends early is [`UnpackError::TruncatedEntry`]; failures of the stream
/// below are mapped by [`stream_error`].
pub(crate) async fn read_body<E: AsyncRead + Unpin>(
    entry: &mut E,
    name: &str,
    size: u64,
) -> Result<Vec<u8>, UnpackError> {
    let mut data: Vec<u8> = Vec::new();
    while (data.len() as u64) < size {
        if data.len() == data.capacity() {
            let want = (size - data.len() as u64).min(READ_CHUNK);
            data.reserve_exact(usize::try_from(want).unwrap_or(usize::MAX));
        }
        let read = entry_read(entry.read_buf(&mut data).await)?;
        if read == 0 {
            return Err(truncated(name, size, data.len() as u64));
        }
    }
    Ok(data)
}

/// Reads the next bytes of an entry of `size` bytes of which `done` are read already into
/// `buf` (at most what is left of the entry); refuses as [`read_body`] does. Returns how
/// many bytes were read, never 0 while the entry has bytes left.
pub(crate) async fn read_chunk<E: AsyncRead + Unpin>(
    entry: &mut E,
    buf: &mut [u8],
    name: &str,
    size: u64,
    done: u64,
) -> Result<usize, UnpackError> {
    let left = usize::try_from(size - done).unwrap_or(usize::MAX);
    let want = buf.len().min(left);
    let read = entry_read(entry.read(&mut buf[..want]).await)?;
    if read == 0 && want > 0 {
        return Err(truncated(name, size, done));
    }
    Ok(read)
}

/// What one read of entry data gave: a byte count (0: the entry ended), or the refusal a
/// failure of the stream below stands for ([`stream_error`]).
fn entry_read(result: io::Result<usize>) -> Result<usize, UnpackError> {
    match result {
        Ok(n) => Ok(n),
        Err(e) => match StreamFault::take(e) {
            Ok(fault) => Err(stream_error(fault.into_io())),
            // The tar reader's own error inside entry data: the stream ended early.
            Err(_) => Ok(0),
        },
    }
}

fn truncated(name: &str, expected: u64, actual: u64) -> UnpackError {
    UnpackError::TruncatedEntry {
        entry: name.to_owned(),
        expected,
        actual,
    }
}

/// After the last entry: the end-of-archive marker, then only zero padding, within bounds.
async fn check_end<R: AsyncRead + Unpin>(
    archive: &mut Archive<GzipStream<R>>,
    delivered: &AtomicU64,
    end_of_entries: u64,
) -> Result<(), UnpackError> {
    // The tar reader stops after reading one zero block, or at a clean end of stream.
    if delivered.load(Ordering::Relaxed) < end_of_entries.saturating_add(BLOCK) {
        return Err(UnpackError::MissingEndOfArchive);
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut trailing = 0u64;
    loop {
        let n = archive.read(&mut buf).await.map_err(stream_error)?;
        if n == 0 {
            return Ok(());
        }
        let offset = end_of_entries + BLOCK + trailing;
        if let Some(i) = buf[..n].iter().position(|b| *b != 0) {
            return Err(UnpackError::DataAfterArchiveEnd {
                offset: offset + i as u64,
            });
        }
        trailing += n as u64;
        if trailing > MAX_TRAILING_PADDING {
            return Err(UnpackError::DataAfterArchiveEnd {
                offset: end_of_entries + BLOCK + MAX_TRAILING_PADDING,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// Hands out at most 4 KiB per read, as the decompressor below a tar entry does.
    struct Trickle<'a>(&'a [u8]);

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.0.len().min(buf.remaining()).min(4096);
            buf.put_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_file_is_read_into_a_buffer_of_its_final_size_and_kept_without_a_copy() {
        let size = 9 * 1024 * 1024 + 17;
        let bytes = vec![7u8; size];
        let data = read_body(&mut Trickle(&bytes), "f", size as u64)
            .await
            .expect("read");
        assert_eq!(data, bytes);
        assert_eq!(
            data.capacity(),
            size,
            "allocated at the header's size, no doubling"
        );
        let at = data.as_ptr();
        assert_eq!(
            Bytes::from(data).as_ptr(),
            at,
            "the bundle keeps that buffer"
        );
    }
}
