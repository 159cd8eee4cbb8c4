//! Test support: a raw tar writer that controls every header byte, gzip helpers, sample
//! bundles, readers that count or fail, and the check that `unpack` and `write_layer` give
//! the same verdict on a layer.

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use pacto_archive::{
    Limits, Output, UnpackError, WriteError, WriteOptions, WrittenLayer, unpack, unpack_bytes,
    write_layer,
};
use pacto_contract::Bundle;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

pub(crate) const YAML: &str = "pactoVersion: '1.0'\nservice:\n  name: orders\n  version: 1.4.2\n";
pub(crate) const MIB: usize = 1024 * 1024;

/// A bundle with `pacto.yaml` plus the given files.
pub(crate) fn bundle(files: &[(&str, &[u8])]) -> Bundle {
    let mut map: BTreeMap<String, Bytes> = files
        .iter()
        .map(|(p, c)| ((*p).to_owned(), Bytes::copy_from_slice(c)))
        .collect();
    map.entry("pacto.yaml".to_owned())
        .or_insert_with(|| Bytes::from_static(YAML.as_bytes()));
    Bundle::from_files(map).unwrap()
}

/// One 512-byte tar header, every field under the test's control.
#[derive(Clone)]
pub(crate) struct RawHeader {
    bytes: [u8; 512],
}

impl RawHeader {
    /// A POSIX ustar header (`ustar\0` `00`), mode 0644, owner 0, mtime 0.
    pub(crate) fn ustar(name: &[u8], typeflag: u8, size: u64) -> Self {
        let mut h = RawHeader { bytes: [0; 512] };
        h.put(257, b"ustar\0");
        h.put(263, b"00");
        h.name(name)
            .octal(100, 8, 0o644)
            .octal(108, 8, 0)
            .octal(116, 8, 0);
        h.octal(124, 12, size).octal(136, 12, 0);
        h.bytes[156] = typeflag;
        h
    }

    /// A GNU header (`ustar  \0`), which has no prefix field.
    pub(crate) fn gnu(name: &[u8], typeflag: u8, size: u64) -> Self {
        let mut h = RawHeader::ustar(name, typeflag, size);
        h.put(257, b"ustar  \0");
        h
    }

    /// Writes `name` into the 100-byte name field (truncating, as writers do).
    pub(crate) fn name(&mut self, name: &[u8]) -> &mut Self {
        self.bytes[..100].fill(0);
        let n = name.len().min(100);
        self.bytes[..n].copy_from_slice(&name[..n]);
        self
    }

    /// Writes the 155-byte ustar prefix field.
    pub(crate) fn prefix(&mut self, prefix: &[u8]) -> &mut Self {
        self.bytes[345..500].fill(0);
        self.bytes[345..345 + prefix.len()].copy_from_slice(prefix);
        self
    }

    pub(crate) fn octal(&mut self, offset: usize, width: usize, value: u64) -> &mut Self {
        let text = format!("{value:0w$o}\0", w = width - 1);
        self.put(offset, text.as_bytes());
        self
    }

    pub(crate) fn put(&mut self, offset: usize, bytes: &[u8]) -> &mut Self {
        self.bytes[offset..offset + bytes.len()].copy_from_slice(bytes);
        self
    }

    /// The header with its checksum computed.
    pub(crate) fn block(&self) -> [u8; 512] {
        let mut b = self.bytes;
        b[148..156].fill(b' ');
        let sum: u32 = b.iter().map(|x| u32::from(*x)).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }
}

/// Builds a tar stream block by block.
#[derive(Default)]
pub(crate) struct Tar {
    pub(crate) bytes: Vec<u8>,
}

impl Tar {
    pub(crate) fn new() -> Self {
        Tar::default()
    }

    /// A header followed by `data` and padding to the block size.
    pub(crate) fn entry(&mut self, header: &RawHeader, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(&header.block());
        self.bytes.extend_from_slice(data);
        self.pad();
        self
    }

    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(
            &RawHeader::ustar(name.as_bytes(), b'0', data.len() as u64),
            data,
        )
    }

    pub(crate) fn dir(&mut self, name: &str) -> &mut Self {
        let mut h = RawHeader::ustar(name.as_bytes(), b'5', 0);
        h.octal(100, 8, 0o755);
        self.entry(&h, b"")
    }

    /// A local PAX header (`x`) with the given records.
    pub(crate) fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let data = pax_records(records);
        self.entry(
            &RawHeader::ustar(b"PaxHeaders/x", b'x', data.len() as u64),
            &data,
        )
    }

    /// A GNU long-name (`L`) entry holding `name` and a NUL.
    pub(crate) fn gnu_long_name(&mut self, name: &[u8]) -> &mut Self {
        let mut data = name.to_vec();
        data.push(0);
        self.entry(
            &RawHeader::gnu(b"././@LongLink", b'L', data.len() as u64),
            &data,
        )
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub(crate) fn pad(&mut self) -> &mut Self {
        let rem = self.bytes.len() % 512;
        if rem != 0 {
            self.bytes.resize(self.bytes.len() + 512 - rem, 0);
        }
        self
    }

    /// The stream with its two-block end-of-archive marker.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = self.bytes.clone();
        out.extend_from_slice(&[0; 1024]);
        out
    }

    /// A tar with `pacto.yaml` first, so only the entries after it are under test.
    pub(crate) fn with_contract() -> Self {
        let mut tar = Tar::new();
        tar.file("pacto.yaml", YAML.as_bytes());
        tar
    }
}

/// Encodes PAX records, each `"<len> <key>=<value>\n"`.
pub(crate) fn pax_records(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = key.len() + value.len() + 3;
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_level(data, Compression::default())
}

pub(crate) fn gzip_level(data: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub(crate) fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    io::copy(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

/// Unpacks a tar (gzipped here) with the default limits, through both paths
/// ([`unpack_both`]).
pub(crate) async fn unpack_tar(tar: &[u8]) -> Result<Bundle, UnpackError> {
    unpack_both(&gzip(tar), &Limits::default()).await
}

/// Unpacks `layer` with `unpack`, and with `write_layer` into a new directory and into an
/// empty directory filled in place, checks they agree ([`check_written`]), and returns the
/// verdict of `unpack`.
pub(crate) async fn unpack_both(layer: &[u8], limits: &Limits) -> Result<Bundle, UnpackError> {
    let unpacked = unpack_bytes(layer, limits).await;
    for fill in [false, true] {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("out");
        if fill {
            fs::create_dir(&dir).unwrap();
        }
        let output = Output::Dir(dir.clone());
        let written = write_layer(layer, output, WriteOptions::chosen_dir(), limits).await;
        check_written(&unpacked, written, &dir, fill);
    }
    unpacked
}

/// Checks that `write_layer` into `dir` (an empty directory filled in place when `filled`)
/// did what `unpack` says: the same refusal, and then nothing left beside `dir` (no staging
/// directory) nor in it; or exactly the bundle's files, byte for byte, and its contract.
pub(crate) fn check_written(
    unpacked: &Result<Bundle, UnpackError>,
    written: Result<WrittenLayer, WriteError>,
    dir: &Path,
    filled: bool,
) {
    let parent = dir.parent().unwrap();
    match (unpacked, written) {
        (Ok(bundle), Ok(written)) => {
            assert_eq!(written.dir, dir);
            assert_eq!(tree(dir), files_of(bundle));
            let paths: Vec<&str> = bundle.files().keys().map(|p| p.as_str()).collect();
            assert_eq!(written.files, paths);
            assert_eq!(&written.contract, bundle.contract());
            assert_eq!(&written.raw_yaml, bundle.raw_yaml());
            assert_eq!(written.size, bundle.total_size());
            assert_eq!(entries(parent), ["out"]);
        }
        (Err(expected), Err(WriteError::Unpack { source })) => {
            assert_eq!(format!("{source:?}"), format!("{expected:?}"));
            if filled {
                assert_eq!(entries(parent), ["out"]);
                assert_eq!(entries(dir), Vec::<String>::new(), "filled in place");
            } else {
                assert_eq!(entries(parent), Vec::<String>::new());
            }
        }
        (unpacked, written) => {
            panic!("unpack and write_layer disagree:\n{unpacked:?}\n{written:?}")
        }
    }
}

/// The bundle's files by path, as [`tree`] reads a directory.
pub(crate) fn files_of(bundle: &Bundle) -> BTreeMap<String, Vec<u8>> {
    bundle
        .files()
        .iter()
        .map(|(path, bytes)| (path.to_string(), bytes.to_vec()))
        .collect()
}

/// Every regular file under `root`, by relative path, with its bytes.
pub(crate) fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type().unwrap().is_dir() {
                pending.push((entry.path(), relative));
            } else {
                files.insert(relative, fs::read(entry.path()).unwrap());
            }
        }
    }
    files
}

/// The names in the directory `dir`, sorted.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `(name, typeflag, size)` of every header of an uncompressed tar, PAX headers included.
pub(crate) fn list_tar(tar: &[u8]) -> Vec<(String, char, u64)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset + 512 <= tar.len() {
        let block = &tar[offset..offset + 512];
        if block.iter().all(|b| *b == 0) {
            break;
        }
        let field = |range: std::ops::Range<usize>| {
            let raw = &block[range];
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let prefix = field(345..500);
        let name = field(0..100);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = u64::from_str_radix(field(124..136).trim(), 8).unwrap();
        out.push((name, char::from(block[156]), size));
        offset += 512 + usize::try_from(size.div_ceil(512) * 512).unwrap();
    }
    out
}

/// An `AsyncRead` over generated chunks, counting the bytes it hands out.
pub(crate) struct Generated<I> {
    chunks: I,
    current: Vec<u8>,
    pos: usize,
    pub(crate) handed_out: Arc<AtomicU64>,
}

impl<I: Iterator<Item = Vec<u8>> + Unpin> Generated<I> {
    pub(crate) fn new(chunks: I) -> Self {
        Generated {
            chunks,
            current: Vec::new(),
            pos: 0,
            handed_out: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<I: Iterator<Item = Vec<u8>> + Unpin> AsyncRead for Generated<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pos == self.current.len() {
            match self.chunks.next() {
                Some(chunk) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = buf.remaining().min(self.current.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.current[start..start + n]);
        self.pos += n;
        self.handed_out.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

/// A reader that yields `data` and then fails: the caller's transport breaking.
pub(crate) struct FailingReader {
    pub(crate) data: Vec<u8>,
    pub(crate) pos: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.data.len() {
            let n = buf.remaining().min(self.data.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.data[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset",
        )))
    }
}

/// What [`unpack_streams`] saw.
pub(crate) struct Streamed {
    /// The verdict of `unpack`.
    pub(crate) result: Result<Bundle, UnpackError>,
    /// The most compressed bytes either path read.
    pub(crate) read: u64,
    /// The bytes the stream holds.
    pub(crate) total: u64,
}

/// Unpacks a stream made by `make` with the default limits through `unpack` and through
/// `write_layer` (a fresh stream each), checks they agree ([`check_written`]).
pub(crate) async fn unpack_streams<I>(make: impl Fn() -> Generated<I>) -> Streamed
where
    I: ExactSizeIterator<Item = Vec<u8>> + Clone + Unpin + Send,
{
    let limits = Limits::default();
    let reader = make();
    let total = reader.total_len();
    let handed_out = Arc::clone(&reader.handed_out);
    let result = unpack(reader, &limits).await;
    let mut read = handed_out.load(Ordering::Relaxed);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("out");
    let reader = make();
    let handed_out = Arc::clone(&reader.handed_out);
    let written = write_layer(
        reader,
        Output::Dir(dir.clone()),
        WriteOptions::chosen_dir(),
        &limits,
    )
    .await;
    read = read.max(handed_out.load(Ordering::Relaxed));
    check_written(&result, written, &dir, false);
    Streamed {
        result,
        read,
        total,
    }
}

/// A piece of a generated gzip stream.
#[derive(Clone)]
pub(crate) enum Piece {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This many MiB of zeros.
    ZeroMib(usize),
}

/// A single-member gzip stream of the pieces, generated on the fly: each piece is
/// deflated on its own and ends on a full flush, so a compressed MiB of zeros can be
/// repeated at no cost. The trailer's CRC is left zero, so only a reader that stops
/// early (which is what the tests check) sees a valid stream.
pub(crate) fn gzip_pieces(pieces: Vec<Piece>) -> Generated<std::vec::IntoIter<Vec<u8>>> {
    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut compressor = flate2::Compress::new(Compression::fast(), false);
        let mut out = Vec::with_capacity(data.len() / 64 + 1024);
        compressor
            .compress_vec(data, &mut out, flate2::FlushCompress::Full)
            .unwrap();
        assert_eq!(compressor.total_in(), data.len() as u64);
        out
    }
    let zero_mib = deflate(&vec![0; MIB]);
    let mut chunks = vec![vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]];
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => chunks.push(deflate(&bytes)),
            Piece::ZeroMib(n) => chunks.extend(std::iter::repeat_n(zero_mib.clone(), n)),
        }
    }
    // A final empty fixed-Huffman block, then a trailer that is not checked.
    chunks.push(vec![0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    Generated::new(chunks.into_iter())
}

impl<I: ExactSizeIterator<Item = Vec<u8>> + Clone + Unpin> Generated<I> {
    /// Total bytes the reader would hand out if read to the end.
    pub(crate) fn total_len(&self) -> u64 {
        self.chunks.clone().map(|c| c.len() as u64).sum()
    }
}
