//! The layer's compressor: the tar cut into blocks of [`MEMBER_INPUT`] bytes, each
//! compressed as an independent gzip member on a few compressor threads at a time, and
//! written out in order.
//!
//! A layer is the concatenation of these members: valid gzip (RFC 1952 allows several
//! members; Go's `gzip.Reader`, GNU gzip and tar, and [`crate::unpack`] read them all).
//! Block boundaries depend only on the tar bytes, and each block is deflated in one call,
//! so the layer is a function of the tar alone, however its writes arrive.

use crate::pack::COMPRESSION_LEVEL;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use futures_util::future::{MaybeDone, maybe_done};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;

/// How many tar bytes each gzip member holds (the last one holds the rest).
pub(crate) const MEMBER_INPUT: usize = 1024 * 1024;

/// Every member's header: no name, no extra field, mtime 0, the XFL byte deflate's level
/// calls for (4 for the fastest levels, 2 for the best, 0 between, as flate2 and
/// async-compression write it), OS 255 (unknown).
const HEADER: [u8; 10] = [
    0x1f,
    0x8b,
    0x08,
    0,
    0,
    0,
    0,
    0,
    xfl(COMPRESSION_LEVEL),
    0xff,
];

const fn xfl(level: u32) -> u8 {
    match level {
        0 | 1 => 4,
        9.. => 2,
        _ => 0,
    }
}

/// The gzip member of one block: header, the block deflated in a single call at
/// [`COMPRESSION_LEVEL`], CRC-32 and length, with a deflate state of the caller's (reset
/// first, so the member depends on `block` alone): a compressor thread keeps one for all
/// its blocks.
fn member_with(deflate: &mut Compress, block: &[u8]) -> io::Result<Vec<u8>> {
    // Level 1 codes incompressible bytes with the fixed Huffman table, at most 9 bits a
    // byte: an eighth more than the input, plus block headers.
    let mut capacity = HEADER.len() + block.len() + block.len() / 8 + 1024 + 8;
    loop {
        deflate.reset();
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(&HEADER);
        match deflate.compress_vec(block, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => {
                let mut crc = Crc::new();
                crc.update(block);
                out.extend_from_slice(&crc.sum().to_le_bytes());
                out.extend_from_slice(&crc.amount().to_le_bytes());
                return Ok(out);
            }
            // Out of room: start again with more, so the member still comes from one call.
            Ok(Status::Ok | Status::BufError) => capacity *= 2,
            Err(e) => return Err(io::Error::other(e)),
        }
    }
}

/// A block to compress, and where its member goes.
type Job = (Vec<u8>, oneshot::Sender<io::Result<Vec<u8>>>);

/// The compressor threads of one layer: as many as blocks may be in flight, each with its
/// own deflate state, living as long as the layer's writer. Dedicated threads rather than
/// the blocking pool: the blocks' buffers are then allocated and freed by the same few
/// threads, so the allocator reuses them (spread over the pool's many threads, freed
/// buffers piled up in per-thread arenas: a 40 MiB push peaked 27 MiB higher).
struct Workers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Workers {
    fn start(count: usize) -> io::Result<Workers> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for index in 0..count {
            let queue = std::sync::Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("pacto-gzip-{index}"))
                .spawn(move || {
                    let mut deflate = Compress::new(Compression::new(COMPRESSION_LEVEL), false);
                    loop {
                        let job = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        let Ok((block, done)) = job else {
                            // The writer is gone.
                            return;
                        };
                        let _ = done.send(member_with(&mut deflate, &block));
                    }
                })?;
        }
        Ok(Workers { jobs })
    }

    /// The member of `block`, once a compressor thread made it.
    fn compress(&self, block: Vec<u8>) -> impl Future<Output = io::Result<Vec<u8>>> + Send + use<> {
        let (done, member) = oneshot::channel();
        let sent = self.jobs.send((block, done));
        async move {
            sent.map_err(|_| io::Error::other("the compressor threads stopped"))?;
            member
                .await
                .map_err(|_| io::Error::other("a compressor thread stopped"))?
        }
    }
}

/// A block's compression on a compressor thread: its member, or why it failed.
type Compressing = MaybeDone<Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>>>;

/// Writes what it is given to `inner` as gzip members of [`MEMBER_INPUT`] bytes each.
///
/// At most `in_flight` blocks are compressing at once; a write waits for the oldest to be
/// done before another starts, and for the member before it to be written out, so memory
/// holds a few blocks whatever the layer's size. Shutting down compresses the last, partial
/// block and shuts `inner` down; a flush writes out every block compressing but keeps the
/// partial one, whose boundary does not depend on flushes.
pub(crate) struct GzipMembers<W> {
    inner: W,
    /// Tar bytes not handed to a compressor yet: less than a block.
    block: Vec<u8>,
    /// Blocks being compressed, oldest first.
    compressing: VecDeque<Compressing>,
    /// A compressed member being written to `inner`, and how much of it is written.
    writing: Option<(Vec<u8>, usize)>,
    in_flight: usize,
    /// Whether a block was handed to a compressor: an empty input still makes one member.
    started: bool,
    /// The compressor threads, started with the first block.
    workers: Option<Workers>,
}

impl<W> fmt::Debug for GzipMembers<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipMembers")
            .field("buffered", &self.block.len())
            .field("compressing", &self.compressing.len())
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin> GzipMembers<W> {
    /// Compresses into `inner` with at most `in_flight` blocks (at least 1) compressing.
    pub(crate) fn new(inner: W, in_flight: usize) -> Self {
        GzipMembers {
            inner,
            block: Vec::with_capacity(MEMBER_INPUT),
            compressing: VecDeque::new(),
            writing: None,
            in_flight: in_flight.max(1),
            started: false,
            workers: None,
        }
    }

    /// The inner writer.
    pub(crate) fn into_inner(self) -> W {
        self.inner
    }

    /// Writes out the member taken from the compressors, if there is one.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((member, written)) = &mut self.writing {
            while *written < member.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &member[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            self.writing = None;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes the oldest block's member from its compressor once it is done, after the
    /// member before it is written out: one block fewer is then compressing.
    fn poll_take_oldest(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        let Some(oldest) = self.compressing.front_mut() else {
            return Poll::Ready(Ok(()));
        };
        ready!(Pin::new(&mut *oldest).poll(cx));
        let done = Pin::new(oldest).take_output();
        self.compressing.pop_front();
        match done {
            Some(result) => {
                self.writing = Some((result?, 0));
                Poll::Ready(Ok(()))
            }
            None => Poll::Ready(Err(io::Error::other("a member was taken twice"))),
        }
    }

    /// Writes every member out, in order: nothing is left compressing.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.compressing.is_empty() {
            ready!(self.poll_take_oldest(cx))?;
        }
        self.poll_write_out(cx)
    }

    /// Hands the buffered block to a compressor, once fewer than `in_flight` are busy. The
    /// oldest block's member is taken before the new block starts but written out after, so
    /// the compressors do not wait for the writer.
    fn poll_submit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.compressing.len() >= self.in_flight {
            ready!(self.poll_take_oldest(cx))?;
        }
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(MEMBER_INPUT));
        let workers = match &mut self.workers {
            Some(workers) => workers,
            workers @ None => workers.insert(Workers::start(self.in_flight)?),
        };
        let work: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(workers.compress(block));
        let mut compressing = maybe_done(work);
        // Polled once now, so the work starts now rather than when its turn to be written
        // comes; it wakes this task when it is done.
        let _ = Pin::new(&mut compressing).poll(cx);
        self.compressing.push_back(compressing);
        self.started = true;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for GzipMembers<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // A member taken from its compressor goes out as soon as the writer takes it; until
        // then the block fills.
        if let Poll::Ready(Err(e)) = this.poll_write_out(cx) {
            return Poll::Ready(Err(e));
        }
        if this.block.len() == MEMBER_INPUT {
            ready!(this.poll_submit(cx))?;
        }
        let n = buf.len().min(MEMBER_INPUT - this.block.len());
        this.block.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.block.is_empty() || !this.started {
            ready!(this.poll_submit(cx))?;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One member, with a fresh deflate state.
    fn member(block: &[u8]) -> io::Result<Vec<u8>> {
        member_with(
            &mut Compress::new(Compression::new(COMPRESSION_LEVEL), false),
            block,
        )
    }
    use tokio::io::AsyncWriteExt;

    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    async fn compress_in_writes(input: &[u8], write: usize, in_flight: usize) -> Vec<u8> {
        let mut out = GzipMembers::new(Vec::new(), in_flight);
        for chunk in input.chunks(write) {
            out.write_all(chunk).await.unwrap();
        }
        out.shutdown().await.unwrap();
        out.into_inner()
    }

    /// Members are cut at every MiB of input, whatever the writes and however many
    /// compress at once, and each is the one-call member of its block.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_depend_only_on_the_input() {
        let input = [noise(2 * MEMBER_INPUT + 777), b"text ".repeat(50_000)].concat();
        let expected: Vec<u8> = input
            .chunks(MEMBER_INPUT)
            .flat_map(|block| member(block).unwrap())
            .collect();
        for (write, in_flight) in [
            (input.len(), 2),
            (4096, 1),
            (MEMBER_INPUT + 1, 3),
            (100_003, 4),
        ] {
            let got = compress_in_writes(&input, write, in_flight).await;
            assert!(got == expected, "writes of {write}, {in_flight} in flight");
        }
        let mut decoded = Vec::new();
        io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&expected[..]),
            &mut decoded,
        )
        .unwrap();
        assert!(decoded == input);
    }

    #[test]
    fn a_member_has_the_fixed_header_and_the_block_crc_and_length() {
        let block = b"hello, members\n".repeat(100);
        let gz = member(&block).unwrap();
        assert_eq!(gz[..10], [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 4, 0xff]);
        let mut crc = Crc::new();
        crc.update(&block);
        let trailer = [crc.sum().to_le_bytes(), (block.len() as u32).to_le_bytes()].concat();
        assert_eq!(gz[gz.len() - 8..], trailer[..]);
        let mut decoded = Vec::new();
        io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut decoded).unwrap();
        assert_eq!(decoded, block);
    }

    /// An empty input is still a gzip stream: one empty member.
    #[tokio::test]
    async fn no_input_makes_one_empty_member() {
        let got = compress_in_writes(b"", 1, 2).await;
        assert_eq!(got, member(b"").unwrap());
        assert_eq!(got.len(), 10 + 2 + 8);
    }
}
