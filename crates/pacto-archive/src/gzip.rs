//! A gzip reader that accepts concatenated members, refuses anything else after the
//! last one, and tags every error with where it came from.

use async_compression::tokio::bufread::GzipDecoder;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncBufRead, AsyncRead, BufReader, ReadBuf};

const GZIP_MAGIC_FIRST_BYTE: u8 = 0x1f;
const INPUT_BUFFER: usize = 64 * 1024;

/// Where a stream error came from; carried inside the `io::Error`s that pass through the
/// tar reader, and recovered with [`StreamFault::take`].
#[derive(Debug)]
pub(crate) enum StreamFault {
    /// The caller's reader failed.
    Source(io::Error),
    /// The gzip stream ended early.
    Truncated,
    /// The gzip stream is corrupt.
    Corrupt(io::Error),
    /// Bytes after the last gzip member that do not start another member.
    TrailingData,
}

impl fmt::Display for StreamFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamFault::Source(e) => write!(f, "reading the layer failed: {e}"),
            StreamFault::Truncated => f.write_str("the gzip stream is truncated"),
            StreamFault::Corrupt(e) => write!(f, "the gzip stream is corrupt: {e}"),
            StreamFault::TrailingData => f.write_str("trailing data after the gzip stream"),
        }
    }
}

impl std::error::Error for StreamFault {}

impl StreamFault {
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            StreamFault::Source(e) => e.kind(),
            StreamFault::Truncated => io::ErrorKind::UnexpectedEof,
            StreamFault::Corrupt(_) | StreamFault::TrailingData => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    fn is_tagged(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<StreamFault>())
    }

    /// The fault inside `e`, or `e` back if it carries none.
    pub(crate) fn take(e: io::Error) -> Result<StreamFault, io::Error> {
        if !Self::is_tagged(&e) {
            return Err(e);
        }
        let kind = e.kind();
        match e.into_inner().map(|inner| inner.downcast::<StreamFault>()) {
            Some(Ok(fault)) => Ok(*fault),
            Some(Err(other)) => Err(io::Error::new(kind, other)),
            None => Err(io::Error::from(kind)),
        }
    }
}

/// The caller's reader, with its errors tagged as [`StreamFault::Source`].
#[derive(Debug)]
struct Source<R>(R);

impl<R: AsyncRead + Unpin> AsyncRead for Source<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0)
            .poll_read(cx, buf)
            .map_err(|e| StreamFault::Source(e).into_io())
    }
}

type Member<R> = GzipDecoder<BufReader<Source<R>>>;

/// Decompresses a gzip stream of one or more members (RFC 1952 allows several; Go's and
/// GNU gzip's readers accept them), refusing any byte after the last member that does not
/// start another one, and counting the bytes it delivers.
#[derive(Debug)]
pub(crate) struct GzipStream<R> {
    member: Option<Member<R>>,
    delivered: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> GzipStream<R> {
    pub(crate) fn new(reader: R, delivered: Arc<AtomicU64>) -> Self {
        let input = BufReader::with_capacity(INPUT_BUFFER, Source(reader));
        GzipStream {
            member: Some(single_member(input)),
            delivered,
        }
    }
}

fn single_member<R: AsyncRead + Unpin>(input: BufReader<Source<R>>) -> Member<R> {
    let mut decoder = GzipDecoder::new(input);
    decoder.multiple_members(false);
    decoder
}

fn tag_decoder_error(e: io::Error) -> io::Error {
    if StreamFault::is_tagged(&e) {
        e
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        StreamFault::Truncated.into_io()
    } else {
        StreamFault::Corrupt(e).into_io()
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for GzipStream<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let Some(member) = self.member.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            let before = buf.filled().len();
            ready!(Pin::new(&mut *member).poll_read(cx, buf)).map_err(tag_decoder_error)?;
            let produced = buf.filled().len() - before;
            if produced > 0 {
                self.delivered.fetch_add(produced as u64, Ordering::Relaxed);
                return Poll::Ready(Ok(()));
            }
            // The member is complete (trailer checked). What follows decides the rest.
            let next = ready!(Pin::new(member.get_mut()).poll_fill_buf(cx))?;
            match next.first() {
                None => {
                    self.member = None;
                    return Poll::Ready(Ok(()));
                }
                Some(&GZIP_MAGIC_FIRST_BYTE) => {
                    if let Some(done) = self.member.take() {
                        self.member = Some(single_member(done.into_inner()));
                    }
                }
                Some(_) => return Poll::Ready(Err(StreamFault::TrailingData.into_io())),
            }
        }
    }
}
