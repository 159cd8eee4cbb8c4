//! Fixtures shared by the tests.

use async_trait::async_trait;
use bytes::Bytes;
use pacto_cache::{CacheConfig, CachedStore};
use pacto_contract::Bundle;
use pacto_ref::{ArtifactRef, Digest};
use pacto_registry::{
    BlobDir, BundleStore, FetchedLayer, Pulled, PushOptions, PushOutcome, RegistryClient,
    RetryPolicy, StoreError,
};
use pacto_resolver::{ErrorKind, ResolveError, Resolver};
use pacto_test_support::{LoggedRequest, TestRegistry};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A small bundle for `name` at `version`.
pub(crate) fn bundle(name: &str, version: &str) -> Bundle {
    let yaml = format!(
        "pactoVersion: \"1.0\"\nservice:\n  name: {name}\n  version: {version}\n  owner: team-payments\n"
    );
    let mut files = BTreeMap::new();
    files.insert("pacto.yaml".to_owned(), Bytes::from(yaml));
    files.insert(
        "README.md".to_owned(),
        Bytes::from(format!("# {name} {version}\n")),
    );
    Bundle::from_files(files).expect("fixture bundle is valid")
}

/// A registry client that does not retry, so an unreachable registry fails fast.
pub(crate) fn client() -> RegistryClient {
    RegistryClient::builder()
        .retry(RetryPolicy::none())
        .build()
        .expect("client builds")
}

/// A resolver over a registry client cached in `dir`.
pub(crate) fn resolver(dir: &Path) -> Resolver<RegistryClient> {
    Resolver::new(CachedStore::new(
        client(),
        CacheConfig::default().with_dir(dir),
    ))
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Pushes `bundle` as `repository:tag` and returns the manifest digest.
pub(crate) fn push(
    rt: &tokio::runtime::Runtime,
    registry: &TestRegistry,
    repository: &str,
    tag: &str,
    bundle: &Bundle,
) -> Digest {
    let target: ArtifactRef = format!("{}/{repository}:{tag}", registry.host())
        .parse()
        .expect("reference");
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

/// The error of `result`, checked to be of `kind`.
pub(crate) fn expect_kind<T: std::fmt::Debug>(
    result: Result<T, ResolveError>,
    kind: ErrorKind,
) -> ResolveError {
    match result {
        Ok(value) => panic!("expected a {kind} error, got {value:?}"),
        Err(error) => {
            assert_eq!(error.kind(), kind, "wrong kind for: {error}");
            error
        }
    }
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

/// A store for which any call is a network call: it counts the call and fails it.
#[derive(Debug, Default)]
pub(crate) struct NoNetwork {
    calls: AtomicUsize,
}

impl NoNetwork {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn refuse(&self, reference: &ArtifactRef) -> StoreError {
        self.calls.fetch_add(1, Ordering::SeqCst);
        StoreError::unreachable(
            reference,
            "no-network",
            false,
            "this test store refuses every network call",
        )
    }
}

#[async_trait]
impl BundleStore for NoNetwork {
    async fn push(
        &self,
        reference: &ArtifactRef,
        _: &Bundle,
        _: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        Err(self.refuse(reference))
    }

    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        Err(self.refuse(reference))
    }

    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        _: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        Err(self.refuse(reference))
    }

    async fn resolve(&self, reference: &ArtifactRef) -> Result<Digest, StoreError> {
        Err(self.refuse(reference))
    }

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, StoreError> {
        Err(self.refuse(repository))
    }
}

/// Serves fixed artifacts by reference text, and records how many pulls ran at once: each
/// pull yields to the executor before answering, and with [`FixedStore::holding`] waits
/// until that many pulls are in flight (or every pull left is), so concurrent pulls overlap
/// whatever the cache did before calling the store.
#[derive(Debug, Default)]
pub(crate) struct FixedStore {
    artifacts: Mutex<HashMap<String, Pulled>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Pulls held until this many are in flight (0: not held).
    hold: usize,
    /// Pulls answered.
    done: AtomicUsize,
    /// Told whenever a pull starts or ends.
    changed: tokio::sync::Notify,
}

/// How long a held pull waits for the others at most: a resolver that runs fewer pulls at
/// once than the test expects fails on its count, it does not hang.
const HOLD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(10);

impl FixedStore {
    /// A store whose pulls wait until `hold` of them are in flight, or every pull left is.
    pub(crate) fn holding(hold: usize) -> Self {
        FixedStore {
            hold,
            ..FixedStore::default()
        }
    }

    pub(crate) fn insert(&self, reference: &str, pulled: Pulled) {
        self.artifacts
            .lock()
            .expect("lock")
            .insert(reference.to_owned(), pulled);
    }

    /// The most pulls that were running at the same time.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// [`FixedStore::get`], counted as a pull in flight while it yields to the executor (and
    /// is held, see [`FixedStore::holding`]).
    async fn counted(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.changed.notify_waiters();
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        if self.hold > 0 {
            let deadline = tokio::time::Instant::now() + HOLD_AT_MOST;
            loop {
                // Made before the check, so no notification in between is missed.
                let changed = self.changed.notified();
                let total = self.artifacts.lock().expect("lock").len();
                let left = total.saturating_sub(self.done.load(Ordering::SeqCst));
                if self.in_flight.load(Ordering::SeqCst) >= self.hold.min(left) {
                    break;
                }
                if tokio::time::timeout_at(deadline, changed).await.is_err() {
                    break;
                }
            }
        }
        let result = self.get(reference);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        result
    }

    fn get(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.artifacts
            .lock()
            .expect("lock")
            .get(&reference.to_string())
            .cloned()
            .ok_or_else(|| StoreError::not_found(reference, "not in the fixed store"))
    }
}

#[async_trait]
impl BundleStore for FixedStore {
    async fn push(
        &self,
        reference: &ArtifactRef,
        _: &Bundle,
        _: PushOptions,
    ) -> Result<PushOutcome, StoreError> {
        Err(StoreError::invalid_reference(
            reference,
            "read-only test store",
        ))
    }

    async fn pull_pinned(&self, reference: &ArtifactRef) -> Result<Pulled, StoreError> {
        self.counted(reference).await
    }

    /// The layer packed again from the bundle: packing is deterministic, so these are the
    /// bytes [`pulled_for`] described.
    async fn fetch_layer(
        &self,
        reference: &ArtifactRef,
        blobs: &BlobDir,
    ) -> Result<FetchedLayer, StoreError> {
        let pulled = self.counted(reference).await?;
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
        let prefix = format!("{repository}:");
        let mut tags: Vec<String> = self
            .artifacts
            .lock()
            .expect("lock")
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        tags.sort();
        Ok(tags)
    }
}
