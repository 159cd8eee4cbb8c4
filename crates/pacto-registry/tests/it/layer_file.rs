//! `push_layer_file`: a layer packed into a file pushes as the bundle itself pushes (same
//! manifest digest, statuses, request counts and progress), streamed by the registry client
//! and the layout store; the trait's default (unpack, then `push`) agrees.

use crate::common::{bundle, reference, runtime, summary, uploads_sorted};
use bytes::Bytes;
use pacto_archive::{Limits, pack_dir_to_file};
use pacto_contract::Bundle;
use pacto_ref::{ArtifactRef, Digest};
use pacto_registry::{
    BlobDir, BundleStore, Direction, FetchedLayer, LayoutStore, PackedLayerFile, Progress,
    ProgressEvent, Pulled, PushOptions, PushOutcome, PushStatus, RegistryClient, StoreError,
};
use pacto_test_support::TestRegistry;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// `bundle(name, version)` plus `extra` bytes of noise in `data/noise.bin` (over 4 MiB:
/// the layer goes up in chunks).
fn bundle_with_noise(name: &str, version: &str, extra: usize) -> Bundle {
    let base = bundle(name, version);
    let mut files: BTreeMap<String, Bytes> = base
        .files()
        .iter()
        .map(|(p, b)| (p.to_string(), b.clone()))
        .collect();
    if extra > 0 {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..extra)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        files.insert("data/noise.bin".into(), Bytes::from(noise));
    }
    Bundle::from_files(files).expect("valid bundle")
}

/// Writes `bundle` into `dir` and packs it from there into `dir/../layer.tar.gz`.
fn packed_file(rt: &tokio::runtime::Runtime, root: &Path, bundle: &Bundle) -> PackedLayerFile {
    let dir = root.join("bundle");
    for (path, bytes) in bundle.files() {
        let path = dir.join(path.as_str());
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    let path = root.join("layer.tar.gz");
    let limits = Limits::default();
    let packed = rt
        .block_on(pack_dir_to_file(&dir, &path, &limits, |_| {}))
        .expect("pack");
    PackedLayerFile::new(path, packed.layer, packed.contract, limits)
}

/// Upload bytes per digest, as progress events told them, with the sizes announced.
type Heard = Arc<Mutex<Vec<(Digest, u64, u64)>>>;

fn listener() -> (Progress, Heard) {
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let progress = Progress::new(move |event| {
        let mut heard = sink.lock().expect("lock");
        match event {
            ProgressEvent::BlobStarted {
                digest,
                size,
                direction: Direction::Upload,
            } => heard.push((digest.clone(), *size, 0)),
            ProgressEvent::BlobBytes {
                digest,
                n,
                direction: Direction::Upload,
            } => {
                if let Some(entry) = heard.iter_mut().find(|(d, _, _)| d == digest) {
                    entry.2 += n;
                }
            }
            _ => {}
        }
    });
    (progress, heard)
}

fn sorted(heard: &Heard) -> Vec<(Digest, u64, u64)> {
    let mut heard = heard.lock().expect("lock").clone();
    heard.sort();
    heard
}

#[test]
fn a_layer_file_pushes_as_its_bundle_to_a_registry() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    for (case, extra) in [("small", 0), ("chunked", 9 << 20)] {
        let temp = tempfile::tempdir().expect("tempdir");
        let original = bundle_with_noise("payments", "1.0.0", extra);
        let file = packed_file(&rt, temp.path(), &original);
        let (progress, heard_file) = listener();
        let client = RegistryClient::builder()
            .progress(progress)
            .build()
            .expect("client");
        let (progress, heard_bundle) = listener();
        let bundle_client = RegistryClient::builder()
            .progress(progress)
            .build()
            .expect("client");
        let from_file = reference(&format!("{}/{case}/file:1.0.0", registry.host()));
        let from_bundle = reference(&format!("{}/{case}/bundle:1.0.0", registry.host()));

        registry.clear_requests();
        let pushed = rt
            .block_on(client.push_layer_file(&from_file, &file, PushOptions::default()))
            .expect("push the file");
        let file_requests = uploads_sorted(summary(&registry.requests()));
        registry.clear_requests();
        let expected = rt
            .block_on(bundle_client.push(&from_bundle, &original, PushOptions::default()))
            .expect("push the bundle");
        let bundle_requests = uploads_sorted(summary(&registry.requests()));

        assert_eq!(pushed.status, PushStatus::Pushed, "{case}");
        assert_eq!(pushed.digest, expected.digest, "{case}: same manifest");
        assert_eq!(
            file_requests,
            bundle_requests
                .iter()
                .map(|r| r.replace("/bundle/", "/file/"))
                .collect::<Vec<_>>(),
            "{case}: same requests"
        );
        if extra > 0 {
            let patches = file_requests
                .iter()
                .filter(|r| r.starts_with("PATCH"))
                .count();
            assert_eq!(patches, 3, "{case}: a PATCH per 4 MiB: {file_requests:?}");
        }
        let heard = sorted(&heard_file);
        assert_eq!(heard, sorted(&heard_bundle), "{case}: same progress");
        assert_eq!(heard.len(), 2, "{case}: config and layer");
        assert!(
            heard.iter().all(|(_, size, n)| size == n),
            "{case}: {heard:?}"
        );

        let pulled = rt.block_on(client.pull_pinned(&from_file)).expect("pull");
        assert_eq!(pulled.digest, pushed.digest, "{case}");
        assert_eq!(pulled.bundle.files(), original.files(), "{case}");

        // Again: unchanged; another bundle: a conflict, then overwritten with force.
        let again = rt
            .block_on(client.push_layer_file(&from_file, &file, PushOptions::default()))
            .expect("again");
        assert_eq!(again.status, PushStatus::Unchanged, "{case}");
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other = packed_file(
            &rt,
            other_dir.path(),
            &bundle_with_noise("payments", "1.0.0", extra + 1),
        );
        let conflict = rt
            .block_on(client.push_layer_file(&from_file, &other, PushOptions::default()))
            .expect_err("a different bundle under the tag");
        assert!(
            matches!(conflict, StoreError::Conflict { .. }),
            "{conflict:?}"
        );
        let forced = rt
            .block_on(client.push_layer_file(
                &from_file,
                &other,
                PushOptions::default().with_force(true),
            ))
            .expect("forced");
        assert_eq!(forced.status, PushStatus::Overwritten, "{case}");
    }
}

#[test]
fn a_layer_file_pushes_as_its_bundle_to_a_layout() {
    let rt = runtime();
    for (case, extra) in [("small", 0), ("big", 9 << 20)] {
        let temp = tempfile::tempdir().expect("tempdir");
        let original = bundle_with_noise("payments", "1.0.0", extra);
        let file = packed_file(&rt, temp.path(), &original);
        let (progress, heard_file) = listener();
        let store = LayoutStore::new().with_progress(progress);
        let (progress, heard_bundle) = listener();
        let bundle_store = LayoutStore::new().with_progress(progress);
        let from_file = reference(&format!(
            "oci-layout:{}:1.0.0",
            temp.path().join("a").display()
        ));
        let from_bundle = reference(&format!(
            "oci-layout:{}:1.0.0",
            temp.path().join("b").display()
        ));

        let pushed = rt
            .block_on(store.push_layer_file(&from_file, &file, PushOptions::default()))
            .expect("push the file");
        let expected = rt
            .block_on(bundle_store.push(&from_bundle, &original, PushOptions::default()))
            .expect("push the bundle");
        assert_eq!(pushed.status, PushStatus::Pushed, "{case}");
        assert_eq!(pushed.digest, expected.digest, "{case}");
        assert_eq!(
            sorted(&heard_file),
            sorted(&heard_bundle),
            "{case}: progress"
        );
        // The same blobs, byte for byte.
        let blobs = |root: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(root.join("blobs/sha256"))
                .expect("blobs")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            names
        };
        assert_eq!(blobs(&temp.path().join("a")), blobs(&temp.path().join("b")));
        let pulled = rt.block_on(store.pull_pinned(&from_file)).expect("pull");
        assert_eq!(pulled.bundle.files(), original.files(), "{case}");
        let again = rt
            .block_on(store.push_layer_file(&from_file, &file, PushOptions::default()))
            .expect("again");
        assert_eq!(again.status, PushStatus::Unchanged, "{case}");
    }
}

/// A layer file whose bytes are not the ones described is refused, and no blob appears
/// under the digest it claims.
#[test]
fn a_layout_refuses_a_layer_file_that_does_not_match() {
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let file = packed_file(&rt, temp.path(), &bundle("payments", "1.0.0"));
    let mut bytes = std::fs::read(&file.path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file.path, bytes).expect("tamper");
    let root = temp.path().join("layout");
    let target = reference(&format!("oci-layout:{}:1.0.0", root.display()));
    let error = rt
        .block_on(LayoutStore::new().push_layer_file(&target, &file, PushOptions::default()))
        .expect_err("tampered");
    assert!(
        error
            .to_string()
            .contains("cannot store the layer packed in"),
        "{error}"
    );
    assert!(
        !root
            .join("blobs/sha256")
            .join(file.layer.digest.hex())
            .exists()
    );
    assert!(!root.join("index.json").exists());
}

/// A store that implements only what it must: `push_layer_file` is the trait's default.
#[derive(Debug)]
struct Minimal(LayoutStore);

#[pacto_registry::async_trait]
impl BundleStore for Minimal {
    async fn push(
        &self,
        reference: &ArtifactRef,
        bundle: &Bundle,
        options: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        self.0.push(reference, bundle, options).await
    }

    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.0.pull_pinned(reference).await
    }

    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        self.0.fetch_layer(reference, blobs).await
    }

    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        self.0.resolve(reference).await
    }

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        self.0.list_tags(repository).await
    }
}

#[test]
fn the_default_push_layer_file_unpacks_and_pushes() {
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let original = bundle("payments", "1.0.0");
    let file = packed_file(&rt, temp.path(), &original);
    let store = Minimal(LayoutStore::new());
    // Untagged: the tag is service.version.
    let target = reference(&format!("oci-layout:{}", temp.path().join("l").display()));
    let pushed = rt
        .block_on(store.push_layer_file(&target, &file, PushOptions::default()))
        .expect("push");
    let direct = rt
        .block_on(LayoutStore::new().push(
            &reference(&format!("oci-layout:{}", temp.path().join("m").display())),
            &original,
            PushOptions::default(),
        ))
        .expect("push");
    assert_eq!(pushed.digest, direct.digest);
    assert_eq!(pushed.reference.tag(), Some("1.0.0"));
    // A file that is not a layer is refused as the artifact's fault.
    std::fs::write(&file.path, b"not gzip").expect("write");
    let error = rt
        .block_on(store.push_layer_file(&target, &file, PushOptions::default()))
        .expect_err("not a layer");
    assert!(matches!(error, StoreError::Unpack { .. }), "{error:?}");
}

#[test]
fn a_push_mounts_its_layer_from_another_repository_and_uploads_it_when_the_registry_cannot() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let original = bundle_with_noise("mounted", "1.0.0", 5 << 20);
    let packed = packed_file(&rt, temp.path(), &original);
    let client = RegistryClient::builder().build().expect("client");
    let host = registry.host();
    let at = |repo: &str| reference(&format!("{host}/{repo}:1.0.0"));
    let mount_of = |from: &str| {
        format!(
            "POST /v2/team/{{}}/blobs/uploads/?mount={}&from={from}",
            packed.layer.digest
        )
    };
    let digest = rt
        .block_on(client.push_layer_file(&at("team/source"), &packed, PushOptions::default()))
        .expect("first push")
        .digest;

    // (target, mount from, the mount's answer, layer chunks uploaded)
    let cases = [
        ("mounted", "team/source", 201, 0),
        // Nothing to mount there: distribution answers 202, the layer goes up.
        ("uploaded", "team/nowhere", 202, 2),
    ];
    for (target, from, answer, patches) in cases {
        let repo = format!("team/{target}");
        let mark = registry.mark();
        let outcome = rt
            .block_on(client.push_layer_file(
                &at(&repo),
                &packed,
                PushOptions::default().with_mount_from(from),
            ))
            .expect("push");
        assert_eq!(outcome.digest, digest, "{target}");
        let log: Vec<String> = registry
            .requests_since(mark)
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect();
        let mount = mount_of(from).replace("{}", target);
        assert!(
            log.contains(&format!("{mount} {answer}")),
            "{target}: {log:#?}"
        );
        let chunks = log.iter().filter(|l| l.starts_with("PATCH")).count();
        assert_eq!(chunks, patches, "{target}: {log:#?}");
        // A 202 opened a session: the layer goes into it, no other one is opened (and none
        // is left to expire); the one session opened is the config's.
        let opened = format!("POST /v2/{repo}/blobs/uploads/ 202");
        let sessions = log.iter().filter(|l| **l == opened).count();
        assert_eq!(sessions, 1, "{target}: {log:#?}");
        let pulled = rt.block_on(client.pull(&at(&repo))).expect("pull");
        assert_eq!(pulled, original, "{target}");
    }

    // A mount from the very repository pushed to is not asked for.
    let mark = registry.mark();
    rt.block_on(client.push_layer_file(
        &at("team/self"),
        &packed,
        PushOptions::default().with_mount_from("team/self"),
    ))
    .expect("push");
    assert!(
        registry
            .requests_since(mark)
            .iter()
            .all(|r| !r.path.contains("mount=")),
        "no mount from itself"
    );
}
