//! `push_packing`: a layer uploaded while it is packed pushes as its packed file pushes
//! (same manifest digest, statuses and requests), its bytes go up before the packer has
//! finished, a packer that stops leaves no tag and no upload session, and a streamed upload
//! that fails is sent again from the file.

use crate::common::{bundle, reference, runtime, summary, uploads_sorted};
use bytes::Bytes;
use pacto_archive::{Limits, Written, pack_dir_to_file};
use pacto_contract::Bundle;
use pacto_registry::{
    BundleStore, ErrorKind, LayerPacker, PackedLayerFile, PackingLayer, Progress, ProgressEvent,
    PushOptions, PushStatus, RegistryClient, StoreError,
};
use pacto_test_support::{Fault, FaultProxy, RequestMatch, TestRegistry};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PIECE: usize = 1 << 20;

/// `bundle(name, version)` plus `extra` bytes of noise in `data/noise.bin`, written into
/// `root/bundle` and packed into `root/layer.tar.gz`.
fn packed(root: &Path, name: &str, extra: usize, seed: u64) -> (Bundle, PackedLayerFile) {
    let base = bundle(name, "1.0.0");
    let mut files: BTreeMap<String, Bytes> = base
        .files()
        .iter()
        .map(|(p, b)| (p.to_string(), b.clone()))
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ seed;
    let noise: Vec<u8> = (0..extra)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    files.insert("data/noise.bin".into(), Bytes::from(noise));
    let original = Bundle::from_files(files).expect("valid bundle");
    let dir = root.join("bundle");
    for (path, bytes) in original.files() {
        let path = dir.join(path.as_str());
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    let path = root.join("layer.tar.gz");
    let limits = Limits::default();
    let packed = runtime()
        .block_on(pack_dir_to_file(&dir, &path, &limits, |_| {}))
        .expect("pack");
    (
        original,
        PackedLayerFile::new(path, packed.layer, packed.contract, limits),
    )
}

/// A file growing as a packer writes it, reported to `packer`.
struct Growing {
    _dir: tempfile::TempDir,
    out: std::fs::File,
    reader: Arc<std::fs::File>,
    written: u64,
}

impl Growing {
    fn new() -> Growing {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("growing.tar.gz");
        let out = std::fs::File::create(&path).expect("create");
        let reader = Arc::new(std::fs::File::open(&path).expect("open"));
        Growing {
            _dir: dir,
            out,
            reader,
            written: 0,
        }
    }

    fn write(&mut self, packer: &LayerPacker, piece: &[u8]) {
        self.out.write_all(piece).expect("write");
        self.written += piece.len() as u64;
        packer.report(Written::new(self.reader.clone(), self.written));
    }
}

/// A packer of the test's own: writes the packed file again a MiB at a time, reporting
/// each; before the last piece it waits for `before_last` (true when it was met, false
/// after 20 s).
async fn replay(
    file: PackedLayerFile,
    packer: LayerPacker,
    before_last: impl Fn() -> bool,
) -> bool {
    let bytes = std::fs::read(&file.path).expect("read the layer");
    let pieces: Vec<&[u8]> = bytes.chunks(PIECE).collect();
    let (last, rest) = pieces.split_last().expect("a layer is not empty");
    let mut growing = Growing::new();
    for piece in rest {
        growing.write(&packer, piece);
        tokio::task::yield_now().await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut met = before_last();
    while !met && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        met = before_last();
    }
    growing.write(&packer, last);
    packer.finish(file);
    met
}

#[test]
fn a_layer_pushed_while_packed_pushes_as_its_file_and_goes_up_before_the_end() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    // small: one request once packed; chunked: 9 MiB of noise, three PATCHes while packed.
    for (case, extra) in [("small", 1000), ("chunked", 9 << 20)] {
        let temp = tempfile::tempdir().expect("tempdir");
        let (original, file) = packed(temp.path(), case, extra, 1);
        let streamed = Arc::new(AtomicU64::new(0));
        let counter = streamed.clone();
        let client = RegistryClient::builder()
            .progress(Progress::new(move |event| {
                if let ProgressEvent::StreamedBytes { n } = event {
                    counter.fetch_add(*n, Ordering::SeqCst);
                }
            }))
            .build()
            .expect("client");
        let while_packed = reference(&format!("{}/{case}/streamed:1.0.0", registry.host()));
        let from_file = reference(&format!("{}/{case}/file:1.0.0", registry.host()));

        registry.clear_requests();
        let (layer, packer) = PackingLayer::channel(file.contract.clone());
        // The chunked layer: two PATCHes are answered before the packer writes its last MiB.
        let patched = || {
            extra < (4 << 20)
                || summary(&registry.requests())
                    .iter()
                    .filter(|r| r.starts_with("PATCH"))
                    .count()
                    >= 2
        };
        let (pushed, overlapped) = rt.block_on(async {
            tokio::join!(
                client.push_packing(&while_packed, layer, PushOptions::default()),
                replay(file.clone(), packer, patched),
            )
        });
        let (outcome, returned) = pushed.expect("push while packed");
        let streamed_requests = uploads_sorted(summary(&registry.requests()));
        assert!(
            overlapped,
            "{case}: no PATCH before the end: {streamed_requests:#?}"
        );
        assert_eq!(returned.layer, file.layer, "{case}");
        assert_eq!(outcome.status, PushStatus::Pushed, "{case}");

        registry.clear_requests();
        let expected = rt
            .block_on(client.push_layer_file(&from_file, &file, PushOptions::default()))
            .expect("push the file");
        let file_requests = uploads_sorted(summary(&registry.requests()));
        assert_eq!(outcome.digest, expected.digest, "{case}: same manifest");
        assert_eq!(
            streamed_requests,
            file_requests
                .iter()
                .map(|r| r.replace("/file/", "/streamed/"))
                .collect::<Vec<_>>(),
            "{case}: same requests"
        );
        let heard = streamed.load(Ordering::SeqCst);
        if extra > (4 << 20) {
            assert_eq!(heard, file.layer.size, "{case}: every byte reported");
        } else {
            assert_eq!(heard, 0, "{case}: nothing streamed");
        }
        let pulled = rt.block_on(client.pull(&while_packed)).expect("pull");
        assert_eq!(pulled, original, "{case}");

        // Again: compared once packed, nothing sent; another bundle: a conflict.
        registry.clear_requests();
        let (layer, packer) = PackingLayer::channel(file.contract.clone());
        let (again, _) = rt.block_on(async {
            tokio::join!(
                client.push_packing(&while_packed, layer, PushOptions::default()),
                replay(file.clone(), packer, || true),
            )
        });
        assert_eq!(again.expect("again").0.status, PushStatus::Unchanged);
        assert!(
            summary(&registry.requests())
                .iter()
                .all(|r| !r.contains("/blobs/")),
            "{case}: an unchanged push sends no blob"
        );
        let other_dir = tempfile::tempdir().expect("tempdir");
        let (_, other) = packed(other_dir.path(), case, extra, 2);
        let (layer, packer) = PackingLayer::channel(other.contract.clone());
        let (conflict, _) = rt.block_on(async {
            tokio::join!(
                client.push_packing(&while_packed, layer, PushOptions::default()),
                replay(other.clone(), packer, || true),
            )
        });
        assert!(
            matches!(conflict, Err(StoreError::Conflict { .. })),
            "{case}: {conflict:?}"
        );
    }
}

/// A packer that stops half-way (a file changed under it): the push fails as a pack
/// failure, no tag is written, and the upload session it had opened is deleted.
#[test]
fn a_packer_that_stops_leaves_no_tag_and_no_session() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let (_, file) = packed(temp.path(), "stopped", 9 << 20, 3);
    let client = RegistryClient::builder().build().expect("client");
    let target = reference(&format!("{}/team/stopped:1.0.0", registry.host()));
    registry.clear_requests();
    let (layer, packer) = PackingLayer::channel(file.contract.clone());
    let bytes = std::fs::read(&file.path).expect("read");
    let result = rt.block_on(async {
        let feed = async move {
            let mut growing = Growing::new();
            for piece in bytes.chunks(PIECE).take(6) {
                growing.write(&packer, piece);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Dropped without finish: the pack failed.
            drop(packer);
        };
        tokio::join!(
            client.push_packing(&target, layer, PushOptions::default()),
            feed
        )
        .0
    });
    let error = result.expect_err("the packer stopped");
    assert!(matches!(error, StoreError::Pack { .. }), "{error:?}");
    let log = summary(&registry.requests());
    assert!(
        log.iter()
            .any(|r| r.starts_with("DELETE /v2/team/stopped/blobs/uploads/<id>")),
        "the session is deleted: {log:#?}"
    );
    assert!(
        log.iter().all(|r| !r.starts_with("PUT")),
        "nothing closed or tagged: {log:#?}"
    );
    let missing = rt.block_on(client.pull(&target)).expect_err("no tag");
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing:?}");
}

/// The registry fails the first `PATCH` of the streamed upload (404: the session is gone):
/// the layer is sent again from the packed file, and the push succeeds.
#[test]
fn a_streamed_upload_that_fails_is_sent_again_from_the_file() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject_matching(
        RequestMatch::method("PATCH"),
        Fault::Status {
            code: 404,
            retry_after: None,
            times: 1,
        },
    );
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let (original, file) = packed(temp.path(), "retried", 9 << 20, 4);
    let client = RegistryClient::builder().build().expect("client");
    let target = reference(&format!("{}/team/retried:1.0.0", proxy.host()));
    let (layer, packer) = PackingLayer::channel(file.contract.clone());
    let (pushed, _) = rt.block_on(async {
        tokio::join!(
            client.push_packing(&target, layer, PushOptions::default()),
            replay(file.clone(), packer, || true),
        )
    });
    let (outcome, _) = pushed.expect("pushed from the file");
    assert_eq!(outcome.status, PushStatus::Pushed);
    assert_eq!(proxy.pending_faults(), 0, "the fault was hit");
    let pulled = rt.block_on(client.pull(&target)).expect("pull");
    assert_eq!(pulled, original);
}
