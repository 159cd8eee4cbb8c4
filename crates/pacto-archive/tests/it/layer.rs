//! `write_layer` through the public API: where the bundle goes ([`Output`]), refusals of
//! what is there and of hostile service names, the caller's reader read to its end and its
//! errors passed back unchanged, and large files streamed. (The hostile-archive vectors
//! run through `write_layer` in `refuse`, `accept`, `limits` and `roundtrip`.)

use crate::support::{FailingReader, Generated, MIB, Tar, bundle, entries, files_of, gzip, tree};
use bytes::Bytes;
use pacto_archive::{
    Found, Limits, Output, UnpackError, WriteError, WriteOptions, pack, write_layer,
};
use pacto_contract::Bundle;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// The layer of `bundle`, as `pack` makes it.
async fn layer(bundle: &Bundle) -> Vec<u8> {
    pack(bundle, &Limits::default())
        .await
        .unwrap()
        .bytes
        .to_vec()
}

/// A bundle whose service is named `name`.
fn service(name: &str) -> Bundle {
    let yaml = format!("pactoVersion: '1.0'\nservice:\n  name: {name:?}\n  version: 1.0.0\n");
    let files = BTreeMap::from([
        ("pacto.yaml".to_owned(), Bytes::from(yaml)),
        (
            "api/openapi.yaml".to_owned(),
            Bytes::from_static(b"openapi"),
        ),
    ]);
    Bundle::from_files(files).unwrap()
}

/// The mode bits of `path`.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn named_by_service_is_the_directory_named_after_the_service() {
    let b = bundle(&[("docs/readme.md", b"# orders\n")]);
    let temp = tempfile::tempdir().unwrap();
    let parent = temp.path().join("pulls");
    let output = Output::NamedByService {
        parent: parent.clone(),
    };
    let written = write_layer(
        &layer(&b).await[..],
        output,
        WriteOptions::default_dir(),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(written.dir, parent.join("orders"));
    assert_eq!(written.files, ["docs/readme.md", "pacto.yaml"]);
    assert_eq!(written.contract.service.name, "orders");
    assert_eq!(written.contract.service.version, "1.4.2");
    assert_eq!(tree(&written.dir), files_of(&b));
    assert_eq!(entries(&parent), ["orders"]);
    // Not the staging directory's private 0700: the mode of any new directory.
    #[cfg(unix)]
    {
        let probe = temp.path().join("probe");
        fs::create_dir(&probe).unwrap();
        assert_eq!(mode(&written.dir), mode(&probe));
    }
}

#[tokio::test]
async fn service_names_unsafe_as_a_directory_are_refused_and_nothing_is_left() {
    // Names the contract accepts and `default_output_name` refuses.
    for name in [
        ".git", "..", "-rf", "a/b", "a\\b", "CON", "nul.txt", "name.", "a:b",
    ] {
        let b = service(name);
        assert_eq!(b.name(), name);
        let temp = tempfile::tempdir().unwrap();
        let output = Output::NamedByService {
            parent: temp.path().to_owned(),
        };
        let mode = WriteOptions::default_dir().with_force(true);
        let error = write_layer(&layer(&b).await[..], output, mode, &Limits::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, WriteError::UnsafeName(unsafe_name) if unsafe_name.name == name),
            "{name:?}: {error:?}"
        );
        assert!(error.is_refusal());
        assert_eq!(entries(temp.path()), Vec::<String>::new(), "{name:?}");
    }
}

#[tokio::test]
async fn what_is_at_the_service_directory_is_refused_then_replaced_whole_with_force() {
    let b = bundle(&[("docs/readme.md", b"# orders\n")]);
    let layer = layer(&b).await;
    for existing in [Found::Directory, Found::EmptyDirectory, Found::File] {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("orders");
        match existing {
            Found::Directory => {
                fs::create_dir_all(dir.join("old/nested")).unwrap();
                fs::write(dir.join("old/nested/keep.txt"), b"mine").unwrap();
                fs::write(dir.join("pacto.yaml"), b"not the bundle's").unwrap();
            }
            Found::EmptyDirectory => fs::create_dir(&dir).unwrap(),
            _ => fs::write(&dir, b"a file").unwrap(),
        }
        let before = match existing {
            Found::File => BTreeMap::new(),
            _ => tree(&dir),
        };
        let output = || Output::NamedByService {
            parent: temp.path().to_owned(),
        };
        // Even an empty directory: one named by the bundle is never filled in place.
        for mode in [WriteOptions::default_dir(), WriteOptions::chosen_dir()] {
            let error = write_layer(&layer[..], output(), mode, &Limits::default())
                .await
                .unwrap_err();
            assert!(
                matches!(&error, WriteError::Exists { path, found } if *path == dir && *found == existing),
                "{existing:?}: {error:?}"
            );
            assert!(error.is_refusal());
            assert_eq!(entries(temp.path()), ["orders"], "{existing:?}");
            if existing == Found::File {
                assert_eq!(fs::read(&dir).unwrap(), b"a file");
            } else {
                assert_eq!(tree(&dir), before, "{existing:?}");
            }
        }
        let mode = WriteOptions::default_dir().with_force(true);
        let written = write_layer(&layer[..], output(), mode, &Limits::default())
            .await
            .unwrap();
        assert_eq!(written.dir, dir);
        assert_eq!(tree(&dir), files_of(&b), "{existing:?}");
        assert_eq!(entries(temp.path()), ["orders"], "{existing:?}");
    }
}

#[tokio::test]
async fn a_chosen_directory_is_refused_before_the_layer_is_read() {
    let b = bundle(&[]);
    let layer = layer(&b).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("out");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("mine.txt"), b"mine").unwrap();
    for (path, mode) in [
        (dir.clone(), WriteOptions::chosen_dir()),
        // A path without a name of its own: never replaced, even with force.
        (
            Path::new("/").to_owned(),
            WriteOptions::chosen_dir().with_force(true),
        ),
    ] {
        let reader = Generated::new(vec![layer.clone()].into_iter());
        let handed_out = Arc::clone(&reader.handed_out);
        let error = write_layer(reader, Output::Dir(path), mode, &Limits::default())
            .await
            .unwrap_err();
        assert!(error.is_refusal(), "{error:?}");
        assert_eq!(handed_out.load(Ordering::Relaxed), 0, "{error:?}");
    }
    assert_eq!(entries(temp.path()), ["out"]);
    assert_eq!(entries(&dir), ["mine.txt"]);

    // With force, the directory is replaced whole.
    let mode = WriteOptions::chosen_dir().with_force(true);
    let written = write_layer(
        &layer[..],
        Output::Dir(dir.clone()),
        mode,
        &Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(written.dir, dir);
    assert_eq!(tree(&dir), files_of(&b));
    assert_eq!(entries(temp.path()), ["out"]);
}

/// The error a test reader fails with, to find it again at the end of the chain.
#[derive(Debug, thiserror::Error)]
#[error("the test reader broke")]
struct Broken;

/// Yields `data`, then fails with [`Broken`] instead of ending.
struct BreaksAtEnd {
    data: Vec<u8>,
    pos: usize,
}

impl AsyncRead for BreaksAtEnd {
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
        Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, Broken)))
    }
}

/// The outputs a failed write must leave as they were (see [`nothing_left`]): a new
/// directory, an empty one filled in place, one named by the service.
fn outputs(root: &Path) -> [Output; 3] {
    let filled = root.join("filled/out");
    fs::create_dir_all(&filled).unwrap();
    [
        Output::Dir(root.join("new/out")),
        Output::Dir(filled),
        Output::NamedByService {
            parent: root.join("named"),
        },
    ]
}

/// Checks that nothing is left under `root` but the (empty) directory filled in place.
fn nothing_left(root: &Path) {
    for parent in ["new", "filled", "named"] {
        let parent = root.join(parent);
        let left = if parent.exists() {
            entries(&parent)
        } else {
            Vec::new()
        };
        if parent.ends_with("filled") {
            assert_eq!(left, ["out"]);
            assert_eq!(entries(&parent.join("out")), Vec::<String>::new());
        } else {
            assert_eq!(left, Vec::<String>::new(), "{}", parent.display());
        }
    }
}

#[tokio::test]
async fn reader_errors_come_back_unchanged_and_nothing_is_left() {
    let layer = gzip(&Tar::with_contract().file("a", &[1; 100_000]).finish());
    // Mid-stream, and at the very end of a complete, valid layer (a digest that does not
    // match is reported there).
    for cut in [layer.len() / 2, layer.len()] {
        let temp = tempfile::tempdir().unwrap();
        for output in outputs(temp.path()) {
            let reader = BreaksAtEnd {
                data: layer[..cut].to_vec(),
                pos: 0,
            };
            let mode = WriteOptions::chosen_dir();
            let error = write_layer(reader, output.clone(), mode, &Limits::default())
                .await
                .unwrap_err();
            let WriteError::Unpack {
                source: UnpackError::Read { source, .. },
            } = &error
            else {
                panic!("{output:?} cut at {cut}: {error:?}");
            };
            assert!(
                source.get_ref().is_some_and(|e| e.is::<Broken>()),
                "{source:?}"
            );
            // The same error through the standard chain: WriteError -> UnpackError -> io.
            let chain = std::error::Error::source(&error)
                .and_then(std::error::Error::source)
                .and_then(|e| e.downcast_ref::<io::Error>());
            assert!(chain.is_some_and(|e| e.kind() == io::ErrorKind::InvalidData));
        }
        nothing_left(temp.path());
    }
    // The support crate's reader, which fails mid-stream with a reset connection.
    let temp = tempfile::tempdir().unwrap();
    for output in outputs(temp.path()) {
        let reader = FailingReader {
            data: layer[..layer.len() / 3].to_vec(),
            pos: 0,
        };
        let error = write_layer(
            reader,
            output,
            WriteOptions::chosen_dir(),
            &Limits::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, WriteError::Unpack { source: UnpackError::Read { source, .. } }
                if source.kind() == io::ErrorKind::ConnectionReset),
            "{error:?}"
        );
    }
    nothing_left(temp.path());
}

#[tokio::test]
async fn bytes_after_the_gzip_stream_are_trailing_data_and_nothing_is_left() {
    let mut layer = layer(&bundle(&[("a.txt", b"a")])).await;
    layer.extend_from_slice(b"more");
    let temp = tempfile::tempdir().unwrap();
    for output in outputs(temp.path()) {
        let error = write_layer(
            &layer[..],
            output,
            WriteOptions::chosen_dir(),
            &Limits::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                error,
                WriteError::Unpack {
                    source: UnpackError::TrailingData
                }
            ),
            "{error:?}"
        );
    }
    nothing_left(temp.path());
}

/// Reads through to `inner`, noting whether it ever returned end of stream.
struct RecordsEof<R> {
    inner: R,
    at_eof: Arc<AtomicBool>,
    read: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for RecordsEof<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let n = buf.filled().len() - before;
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            if n == 0 && buf.remaining() > 0 {
                self.at_eof.store(true, Ordering::Relaxed);
            }
        }
        polled
    }
}

#[tokio::test]
async fn the_reader_is_read_to_its_end() {
    let b = bundle(&[("api/openapi.yaml", b"openapi"), ("docs/a.md", b"a")]);
    let ours = layer(&b).await;
    // GNU tar's way: a 10 KiB record of padding, and the gzip stream in two members.
    let mut padded = Tar::with_contract().file("docs/a.md", b"a").finish();
    padded.resize(10 * 1024, 0);
    let (first, second) = padded.split_at(2048);
    let members = [gzip(first), gzip(second)].concat();
    for layer in [ours, members] {
        let temp = tempfile::tempdir().unwrap();
        let at_eof = Arc::new(AtomicBool::new(false));
        let read = Arc::new(AtomicU64::new(0));
        let reader = RecordsEof {
            inner: &layer[..],
            at_eof: Arc::clone(&at_eof),
            read: Arc::clone(&read),
        };
        let output = Output::Dir(temp.path().join("out"));
        write_layer(
            reader,
            output,
            WriteOptions::chosen_dir(),
            &Limits::default(),
        )
        .await
        .unwrap();
        assert!(at_eof.load(Ordering::Relaxed));
        assert_eq!(read.load(Ordering::Relaxed), layer.len() as u64);
    }
}

#[tokio::test]
async fn a_file_larger_than_any_buffer_is_streamed_to_disk() {
    let big: Vec<u8> = (0..20 * MIB).map(|i| (i % 251) as u8).collect();
    let b = bundle(&[("data/big.bin", &big), ("small.txt", b"small")]);
    let limits = Limits::default().with_max_file_size(32 * MIB as u64);
    let layer = pack(&b, &limits).await.unwrap().bytes;
    let temp = tempfile::tempdir().unwrap();
    let output = Output::Dir(temp.path().join("out"));
    let written = write_layer(&layer[..], output, WriteOptions::chosen_dir(), &limits)
        .await
        .unwrap();
    assert_eq!(written.size, b.total_size());
    assert_eq!(fs::read(written.dir.join("data/big.bin")).unwrap(), big);
    assert_eq!(tree(&written.dir), files_of(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_layer_can_be_spawned_on_a_multi_threaded_runtime() {
    let b = bundle(&[("a.txt", b"a")]);
    let layer = layer(&b).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("out");
    let output = Output::Dir(dir.clone());
    let written = tokio::spawn(async move {
        write_layer(
            &layer[..],
            output,
            WriteOptions::chosen_dir(),
            &Limits::default(),
        )
        .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(written.dir, dir);
    assert_eq!(tree(&dir), files_of(&b));
}
