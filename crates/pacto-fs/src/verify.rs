//! A reader that checks a blob's size and digest as its bytes go through.

use crate::blob::BlobError;
use crate::hash::Sha256;
use pacto_ref::Digest;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Passes the bytes of `inner` through while hashing and counting them, and fails the read
/// that would go past `size` bytes, and the read that reaches the end when the bytes are
/// fewer than `size` or hash to another digest than `digest`.
///
/// The failure is an [`io::Error`] of kind [`io::ErrorKind::InvalidData`] whose inner error
/// is the [`BlobError`] ([`BlobError::SizeMismatch`] or [`BlobError::DigestMismatch`]):
/// [`VerifyingReader::mismatch`] finds it in an error chain. A consumer has the bytes
/// verified only once it read to the end, so whatever it made of them is to be kept only
/// after that last read succeeded.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokio::io::AsyncReadExt as _;
/// let digest = pacto_fs::sha256(b"layer");
/// let mut ok = pacto_fs::VerifyingReader::new(&b"layer"[..], digest.clone(), 5);
/// let mut bytes = Vec::new();
/// ok.read_to_end(&mut bytes).await.unwrap();
///
/// let mut bad = pacto_fs::VerifyingReader::new(&b"LAYER"[..], digest, 5);
/// let error = bad.read_to_end(&mut Vec::new()).await.unwrap_err();
/// assert!(pacto_fs::VerifyingReader::<&[u8]>::mismatch(&error).is_some());
/// # }
/// ```
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: R,
    digest: Digest,
    size: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    Reading(Sha256),
    Verified,
    Failed,
}

impl<R> VerifyingReader<R> {
    /// Reads `inner`, which must hold exactly `size` bytes hashing to `digest`.
    pub fn new(inner: R, digest: Digest, size: u64) -> Self {
        VerifyingReader {
            inner,
            digest,
            size,
            state: State::Reading(Sha256::new()),
        }
    }

    /// The bytes read so far.
    pub fn position(&self) -> u64 {
        match &self.state {
            State::Reading(hasher) => hasher.size(),
            State::Verified => self.size,
            State::Failed => 0,
        }
    }

    /// Whether the end was reached and the bytes were what was expected.
    pub fn verified(&self) -> bool {
        matches!(self.state, State::Verified)
    }

    /// The mismatch behind `error`, when a [`VerifyingReader`] failed it (searched through
    /// the error's sources).
    pub fn mismatch<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e BlobError> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(blob) = error.downcast_ref::<BlobError>() {
                return Some(blob);
            }
            if let Some(io) = error.downcast_ref::<io::Error>()
                && let Some(blob) = io.get_ref().and_then(|e| e.downcast_ref::<BlobError>())
            {
                return Some(blob);
            }
            current = error.source();
        }
        None
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for VerifyingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let hasher = match &mut this.state {
            State::Reading(hasher) => hasher,
            // Verified already: the end stays the end.
            State::Verified => return Poll::Ready(Ok(())),
            State::Failed => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the blob was refused already",
                )));
            }
        };
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let got = hasher.size() + (buf.filled().len() - before) as u64;
        let mismatch = if got > this.size {
            buf.set_filled(before);
            Some(BlobError::SizeMismatch {
                digest: this.digest.clone(),
                expected: this.size,
                actual: got,
            })
        } else if buf.filled().len() > before {
            hasher.update(&buf.filled()[before..]);
            return Poll::Ready(Ok(()));
        } else if got != this.size {
            Some(BlobError::SizeMismatch {
                digest: this.digest.clone(),
                expected: this.size,
                actual: got,
            })
        } else {
            let (actual, _) = std::mem::take(hasher).finish();
            this.state = State::Verified;
            (actual != this.digest).then(|| BlobError::DigestMismatch {
                expected: this.digest.clone(),
                actual,
            })
        };
        match mismatch {
            None => Poll::Ready(Ok(())),
            Some(error) => {
                this.state = State::Failed;
                Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, error)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    async fn read(bytes: &[u8], expected: &[u8], size: u64) -> Result<Vec<u8>, io::Error> {
        let mut reader = VerifyingReader::new(bytes, crate::sha256(expected), size);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await?;
        assert!(reader.verified());
        Ok(out)
    }

    #[tokio::test]
    async fn passes_exactly_the_expected_bytes_and_refuses_the_others() {
        /// Bytes read, bytes expected, size expected, the problem reported.
        type Case<'a> = (&'a [u8], &'a [u8], u64, Option<&'a str>);
        let cases: [Case<'_>; 5] = [
            (b"layer", b"layer", 5, None),
            (b"", b"", 0, None),
            (b"layer", b"LAYER", 5, Some("does not match its digest")),
            (b"lay", b"lay", 5, Some("has 3 bytes, expected 5")),
            (b"layers", b"layer", 5, Some("has 6 bytes, expected 5")),
        ];
        for (bytes, expected, size, problem) in cases {
            match (read(bytes, expected, size).await, problem) {
                (Ok(out), None) => assert_eq!(out, bytes),
                (Err(e), Some(problem)) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                    let mismatch = VerifyingReader::<&[u8]>::mismatch(&e).expect("typed");
                    assert!(mismatch.to_string().contains(problem), "{mismatch}");
                }
                (other, problem) => panic!("{bytes:?}: {other:?}, expected {problem:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_oversized_stream_fails_before_its_excess_is_handed_out() {
        let mut reader = VerifyingReader::new(&b"0123456789"[..], crate::sha256(b"0123"), 4);
        let mut buf = [0u8; 16];
        let error = reader.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(!reader.verified());
    }
}
