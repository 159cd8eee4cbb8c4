//! Warm hits of `CachedStore` side by side with a pull from a loopback registry, in one run
//! (`cargo xtask bench`, or `cargo bench -p pacto-cache`).
//!
//! The bundle: 40 small text files and 1 MiB of incompressible data, pushed once to a
//! `docker-registry` on 127.0.0.1 started by `pacto-test-support`. Measured:
//! - `memory_hit`: a store that already pulled the tag pulls it again (no I/O at all);
//! - `disk_hit_digest`: a new store (a new process) pulls the digest reference from disk:
//!   read, re-hash, unpack, no network;
//! - `disk_hit_tag`: the same for the tag, which costs one `HEAD` to revalidate;
//! - `registry_pull`: a memory-only store pulls the tag from the registry (manifest and layer
//!   `GET`s, digest checks, unpack).
//!
//! A summary of medians and ratios is printed at the end. Goal: a disk hit well below a
//! registry pull of the same bundle, a memory hit far below both.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use pacto_cache::{CacheConfig, CachedStore};
use pacto_contract::Bundle;
use pacto_ref::ArtifactRef;
use pacto_registry::{BundleStore, PushOptions, RegistryClient};
use pacto_test_support::TestRegistry;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

struct Fixture {
    _registry: TestRegistry,
    rt: tokio::runtime::Runtime,
    client: RegistryClient,
    dir: tempfile::TempDir,
    tag: ArtifactRef,
    by_digest: ArtifactRef,
    warm: CachedStore<RegistryClient>,
}

fn bundle() -> Bundle {
    let mut files = BTreeMap::new();
    files.insert(
        "pacto.yaml".to_owned(),
        Bytes::from_static(
            b"pactoVersion: \"1.0\"\nservice:\n  name: bench\n  version: 1.0.0\n  owner: team\n",
        ),
    );
    for i in 0..40 {
        let text = format!("openapi: 3.0.0\ninfo:\n  title: api {i}\n").repeat(40);
        files.insert(format!("api/spec-{i:02}.yaml"), Bytes::from(text));
    }
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = Vec::with_capacity(1024 * 1024);
    while noise.len() < 1024 * 1024 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.extend_from_slice(&state.to_le_bytes());
    }
    files.insert("data/noise.bin".to_owned(), Bytes::from(noise));
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
    let tag: ArtifactRef = format!("{}/bench/cache:1.0.0", registry.host())
        .parse()
        .expect("reference");
    let digest = rt
        .block_on(client.push(&tag, &bundle(), PushOptions::default()))
        .expect("push")
        .digest;
    let by_digest = tag.with_digest(&digest);
    let dir = tempfile::tempdir().expect("tempdir");
    let warm = CachedStore::new(client.clone(), CacheConfig::default().with_dir(dir.path()));
    rt.block_on(warm.pull_pinned(&tag)).expect("warm tag");
    rt.block_on(warm.pull_pinned(&by_digest))
        .expect("warm digest");
    Fixture {
        _registry: registry,
        rt,
        client,
        dir,
        tag,
        by_digest,
        warm,
    }
}

impl Fixture {
    fn memory_hit(&self) {
        black_box(
            self.rt
                .block_on(self.warm.pull_pinned(&self.tag))
                .expect("memory hit"),
        );
    }

    fn disk_hit(&self, reference: &ArtifactRef) {
        let store = CachedStore::new(
            self.client.clone(),
            CacheConfig::default().with_dir(self.dir.path()),
        );
        black_box(
            self.rt
                .block_on(store.pull_pinned(reference))
                .expect("disk hit"),
        );
    }

    fn registry_pull(&self) {
        let store = CachedStore::new(self.client.clone(), CacheConfig::default().memory_only());
        black_box(
            self.rt
                .block_on(store.pull_pinned(&self.tag))
                .expect("pull"),
        );
    }
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("cache");
    group.bench_function("memory_hit", |b| b.iter(|| f.memory_hit()));
    group.bench_function("disk_hit_digest", |b| b.iter(|| f.disk_hit(&f.by_digest)));
    group.bench_function("disk_hit_tag", |b| b.iter(|| f.disk_hit(&f.tag)));
    group.bench_function("registry_pull", |b| b.iter(|| f.registry_pull()));
    group.finish();

    let memory = median(51, || f.memory_hit());
    let disk_digest = median(21, || f.disk_hit(&f.by_digest));
    let disk_tag = median(21, || f.disk_hit(&f.tag));
    let pull = median(21, || f.registry_pull());
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!();
    println!("== pacto-cache warm hits vs a loopback registry pull (medians) ==");
    println!("memory hit            {:>9.3} ms", ms(memory));
    println!("disk hit (digest)     {:>9.3} ms", ms(disk_digest));
    println!("disk hit (tag + HEAD) {:>9.3} ms", ms(disk_tag));
    println!("registry pull         {:>9.3} ms", ms(pull));
    println!(
        "registry pull / disk hit (digest): {:.1}x; / disk hit (tag): {:.1}x; disk hit (digest) / memory hit: {:.0}x",
        ratio(pull, disk_digest),
        ratio(pull, disk_tag),
        ratio(disk_digest, memory)
    );
}

criterion_group!(cache, benches);
criterion_main!(cache);
