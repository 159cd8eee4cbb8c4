//! `fetch_all_versions` of 50 versions through a loopback proxy that adds 20 ms each way,
//! parallel (the default bound, 8) side by side with one at a time (Go pacto's strategy), in
//! one run (`cargo xtask bench`, or `cargo bench -p pacto-resolver`).
//!
//! The registry is a `docker-registry` on 127.0.0.1 started by `pacto-test-support`, the
//! proxy its `FaultProxy` with a latency of 20 ms before each request is handled and again
//! before its response (40 ms per round trip). Every iteration starts from an empty cache,
//! so each version costs a manifest and a layer `GET`. A summary of medians and the ratio is
//! printed at the end. Goal: parallel at least 6x faster than one at a time.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_contract::Bundle;
use pacto_ref::ArtifactRef;
use pacto_registry::{BundleStore, PushOptions, RegistryClient};
use pacto_resolver::{DEFAULT_CONCURRENCY, Resolver};
use pacto_test_support::{FaultProxy, TestRegistry};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const VERSIONS: usize = 50;
const LATENCY: Duration = Duration::from_millis(20);

struct Fixture {
    _registry: TestRegistry,
    _proxy: FaultProxy,
    rt: tokio::runtime::Runtime,
    client: RegistryClient,
    repository: String,
}

fn bundle(version: &str) -> Bundle {
    let mut files = BTreeMap::new();
    files.insert(
        "pacto.yaml".to_owned(),
        Bytes::from(format!(
            "pactoVersion: \"1.0\"\nservice:\n  name: fetch\n  version: {version}\n  owner: team\n"
        )),
    );
    files.insert(
        "api/openapi.yaml".to_owned(),
        Bytes::from(
            format!("openapi: 3.0.0\ninfo:\n  title: fetch\n  version: {version}\n").repeat(50),
        ),
    );
    Bundle::from_files(files).expect("bench bundle is valid")
}

fn fixture() -> Fixture {
    let registry = TestRegistry::plain();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = RegistryClient::builder().build().expect("client");
    for minor in 0..VERSIONS {
        let version = format!("1.{minor}.0");
        let target: ArtifactRef = format!("{}/bench/fetch:{version}", registry.host())
            .parse()
            .expect("reference");
        rt.block_on(client.push(&target, &bundle(&version), PushOptions::default()))
            .expect("push");
    }
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.set_latency(LATENCY);
    Fixture {
        repository: format!("{}/bench/fetch", proxy.host()),
        _registry: registry,
        _proxy: proxy,
        rt,
        client,
    }
}

impl Fixture {
    /// A resolver over an empty cache.
    fn cold(&self, concurrency: usize) -> (Resolver<RegistryClient>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CachedStore::new(
            self.client.clone(),
            CacheConfig::default().with_dir(dir.path()),
        );
        (Resolver::new(cache).with_concurrency(concurrency), dir)
    }

    fn fetch_all(&self, resolver: &Resolver<RegistryClient>) {
        let fetched = self
            .rt
            .block_on(resolver.fetch_all_versions(&self.repository))
            .expect("fetch all");
        assert_eq!(
            fetched.versions.len(),
            VERSIONS,
            "failures: {:?}",
            fetched.failed
        );
    }
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[runs / 2]
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("fetch_all_50_versions_20ms_each_way");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (name, concurrency) in [("parallel_8", DEFAULT_CONCURRENCY), ("one_at_a_time", 1)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || f.cold(concurrency),
                |(resolver, _dir)| f.fetch_all(&resolver),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();

    let fixture = &f;
    let timed = |concurrency: usize| {
        move || {
            let (resolver, _dir) = fixture.cold(concurrency);
            let start = Instant::now();
            fixture.fetch_all(&resolver);
            start.elapsed()
        }
    };
    let parallel = median(5, timed(DEFAULT_CONCURRENCY));
    let sequential = median(3, timed(1));
    let ratio = sequential.as_secs_f64() / parallel.as_secs_f64();
    println!();
    println!(
        "== fetch_all_versions: {VERSIONS} versions, {} ms each way (medians) ==",
        LATENCY.as_millis()
    );
    println!(
        "parallel ({DEFAULT_CONCURRENCY})     {:>8.0} ms",
        parallel.as_secs_f64() * 1e3
    );
    println!(
        "one at a time    {:>8.0} ms",
        sequential.as_secs_f64() * 1e3
    );
    println!(
        "speed-up: {ratio:.1}x ({})",
        if ratio >= 6.0 {
            "goal >= 6x met"
        } else {
            "goal >= 6x NOT met"
        }
    );
}

criterion_group!(fetch_all, benches);
criterion_main!(fetch_all);
