//! Fixtures shared by the tests.

use async_trait::async_trait;
use bytes::Bytes;
use pacto_cache::{CacheConfig, CachedStore};
use pacto_contract::Bundle;
use pacto_ref::{ArtifactRef, Digest, ParseOptions};
use pacto_registry::{
    BlobDir, BundleStore, FetchedLayer, Pulled, PushOptions, PushOutcome, RegistryClient,
    RetryPolicy, StoreError,
};
use pacto_test_support::{LoggedRequest, TestRegistry};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A bundle for `name` at `version`, with `padding` extra bytes of incompressible data.
pub(crate) fn bundle_with(name: &str, version: &str, padding: usize) -> Bundle {
    let yaml = format!(
        "pactoVersion: \"1.0\"\nservice:\n  name: {name}\n  version: {version}\n  owner: team-payments\n\
         interfaces:\n  - name: api\n    type: http\n    port: 8080\n    contract: api/openapi.yaml\n"
    );
    let mut files = BTreeMap::new();
    files.insert("pacto.yaml".to_owned(), Bytes::from(yaml));
    files.insert(
        "api/openapi.yaml".to_owned(),
        Bytes::from(format!(
            "openapi: 3.0.0\ninfo:\n  title: {name}\n  version: {version}\npaths: {{}}\n"
        )),
    );
    files.insert(
        "README.md".to_owned(),
        Bytes::from(format!("# {name} {version}\n")),
    );
    // Split the padding into files under the 10 MiB per-file limit.
    let mut seed =
        0x9e37_79b9_7f4a_7c15_u64 ^ (version.len() as u64) ^ u64::from(name.as_bytes()[0]);
    let mut remaining = padding;
    let mut index = 0;
    while remaining > 0 {
        let size = remaining.min(8 * 1024 * 1024);
        files.insert(
            format!("data/blob-{index}.bin"),
            Bytes::from(noise(&mut seed, size)),
        );
        remaining -= size;
        index += 1;
    }
    Bundle::from_files(files).expect("fixture bundle is valid")
}

/// A small bundle.
pub(crate) fn bundle(name: &str, version: &str) -> Bundle {
    bundle_with(name, version, 0)
}

/// Deterministic incompressible bytes (xorshift64).
fn noise(state: &mut u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub(crate) fn reference(text: &str) -> ArtifactRef {
    ArtifactRef::parse(text, &ParseOptions::untagged()).expect("test reference parses")
}

/// A registry client that does not retry, so an unreachable registry fails fast.
pub(crate) fn client() -> RegistryClient {
    RegistryClient::builder()
        .retry(RetryPolicy::none())
        .build()
        .expect("client builds")
}

/// A cached registry client over `dir`.
pub(crate) fn cached(dir: &Path) -> CachedStore<RegistryClient> {
    CachedStore::new(client(), CacheConfig::default().with_dir(dir))
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Pushes `bundle` to `registry` as `repository:tag` and returns the manifest digest.
pub(crate) fn push(
    rt: &tokio::runtime::Runtime,
    registry: &TestRegistry,
    repository: &str,
    tag: &str,
    bundle: &Bundle,
) -> Digest {
    let target = reference(&format!("{}/{repository}:{tag}", registry.host()));
    rt.block_on(client().push(&target, bundle, PushOptions::default().with_force(true)))
        .expect("push")
        .digest
}

/// `METHOD path-without-query status` for each request, digests shortened.
pub(crate) fn summary(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or_default();
            let path = match path.find("sha256:") {
                Some(i) => format!("{}sha256:<d>", &path[..i]),
                None => path.to_owned(),
            };
            format!("{} {} {}", r.method, path, r.status)
        })
        .collect()
}

/// Every regular file under `dir`, relative, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let kind = entry.file_type().expect("file type");
            assert!(
                !kind.is_symlink(),
                "no symlink in the cache: {}",
                path.display()
            );
            if kind.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The blob files of the cache at `dir`.
pub(crate) fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("v1/blobs/sha256").join(digest.hex())
}

/// Builds the exact pull result a registry would give for `bundle`.
pub(crate) async fn pulled_for(bundle: &Bundle) -> Pulled {
    let packed = pacto_archive::pack(bundle, &pacto_archive::Limits::default())
        .await
        .expect("pack");
    let artifact = pacto_registry::artifact::build(bundle, &packed);
    Pulled::new(
        bundle.clone(),
        artifact.manifest_digest,
        artifact.manifest,
        artifact.layer_digest,
        artifact.layer.len() as u64,
    )
}

/// A store serving fixed artifacts by reference text and counting every call, for tests that
/// need references no registry would accept, or must prove the network is never used.
#[derive(Debug, Default)]
pub(crate) struct MapStore {
    artifacts: Mutex<HashMap<String, Pulled>>,
    calls: AtomicUsize,
}

impl MapStore {
    pub(crate) fn insert(&self, reference: &ArtifactRef, pulled: Pulled) {
        self.artifacts
            .lock()
            .unwrap()
            .insert(reference.to_string(), pulled);
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn get(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.artifacts
            .lock()
            .unwrap()
            .get(&reference.to_string())
            .cloned()
            .ok_or_else(|| StoreError::not_found(reference, "not in the map"))
    }
}

#[async_trait]
impl BundleStore for MapStore {
    async fn push(
        &self,
        reference: &ArtifactRef,
        _: &Bundle,
        _: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(StoreError::invalid_reference(
            reference,
            "read-only test store",
        ))
    }

    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.get(reference)
    }

    /// The layer packed again from the bundle: packing is deterministic, so these are the
    /// bytes [`pulled_for`] described.
    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        let pulled = self.get(reference)?;
        let packed = pacto_archive::pack(&pulled.bundle, &pacto_archive::Limits::default())
            .await
            .expect("pack");
        blobs
            .write_expected(&pulled.layer_digest, &packed.bytes)
            .expect("the same layer");
        Ok(FetchedLayer::new(
            pulled.digest,
            pulled.manifest,
            pulled.layer_digest,
            pulled.layer_size,
        ))
    }

    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        self.get(reference).map(|p| p.digest)
    }

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("{repository}:");
        Ok(self
            .artifacts
            .lock()
            .unwrap()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }
}
