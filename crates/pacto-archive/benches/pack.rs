//! Pack and unpack a ~40 MiB bundle side by side with GNU `tar czf` / `tar xzf` on the same
//! tree, in one run (`cargo xtask bench`, or `cargo bench -p pacto-archive`).
//!
//! The tree: 3,000 small text files (1-8 KiB of YAML-like text) and 4 large files of 6 MiB
//! that mix text with incompressible blocks, about 38 MiB in all, inside Go pacto's
//! default limits. Criterion measures each pair in one group; a summary of time ratios
//! (medians of 3 runs), the compressed size ratio and the peak memory of `unpack` (measured
//! in a child process, streaming the layer from a file) is printed at the end.
//!
//! `tar xzf` writes the files to disk while `unpack` keeps them in memory, so the summary
//! also times `unpack` followed by writing the tree, the like-for-like comparison.
//!
//! Goals: pack time <= 1.0x `tar czf` at a compressed size within 5% of it; unpack time
//! <= 1.0x `tar xzf`; unpack peak memory about the bundle size plus a constant.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use criterion::{Criterion, SamplingMode};
use pacto_archive::{Limits, pack, pack_to_file, unpack, unpack_bytes};
use pacto_contract::Bundle;
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SMALL_FILES: usize = 3_000;
const LARGE_FILES: usize = 4;
const LARGE_SIZE: usize = 6 * 1024 * 1024;

const WORDS: &[&str] = &[
    "service",
    "version",
    "interface",
    "contract",
    "openapi",
    "schema",
    "type",
    "string",
    "integer",
    "required",
    "properties",
    "description",
    "the",
    "a",
    "of",
    "and",
    "to",
    "request",
    "response",
    "payload",
    "order",
    "payment",
    "customer",
    "status",
    "created",
    "updated",
    "id",
    "name",
    "items",
    "amount",
    "currency",
    "EUR",
    "true",
    "false",
    "null",
    "- ",
    ": ",
    "\n",
    "\n  ",
    "\n    ",
    "# ",
    "GET",
    "POST",
    "/v1/orders",
    "200",
    "404",
];

/// A small deterministic generator (xorshift64*), so every run benchmarks the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn text(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            out.extend_from_slice(WORDS[self.below(WORDS.len())].as_bytes());
            out.push(b' ');
        }
        out.truncate(len);
        out
    }

    /// Half text, half random 4 KiB blocks: compresses to roughly 60%.
    fn mixed(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            if self.below(2) == 0 {
                out.extend_from_slice(&self.text(4096));
            } else {
                out.extend((0..512).flat_map(|_| self.next().to_le_bytes()));
            }
        }
        out.truncate(len);
        out
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    work: PathBuf,
    bundle: Bundle,
    packed: Vec<u8>,
    tar_gz: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = dir.path().join("tree");
        let work = dir.path().join("work");
        fs::create_dir_all(&work).expect("work dir");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        write(
            &tree,
            "pacto.yaml",
            b"pactoVersion: '1.0'\nservice:\n  name: bench\n  version: 1.0.0\n",
        );
        for i in 0..SMALL_FILES {
            let len = 1024 + rng.below(7 * 1024);
            let rel = format!("specs/group-{:02}/spec-{i:04}.yaml", i % 40);
            write(&tree, &rel, &rng.text(len));
        }
        for i in 0..LARGE_FILES {
            write(
                &tree,
                &format!("blobs/large-{i}.bin"),
                &rng.mixed(LARGE_SIZE),
            );
        }
        let bundle = Bundle::from_dir(&tree).expect("bundle");
        let runtime = runtime();
        let packed = runtime
            .block_on(pack(&bundle, &Limits::default()))
            .expect("pack")
            .bytes
            .to_vec();
        let tar_gz = work.join("gnu.tar.gz");
        tar_czf(&tree, &tar_gz);
        Fixture {
            _dir: dir,
            tree,
            work,
            bundle,
            packed,
            tar_gz,
        }
    })
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (install GNU tar and gzip): {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn tar_czf(tree: &Path, out: &Path) {
    run(Command::new("tar")
        .arg("-C")
        .arg(tree)
        .arg("-czf")
        .arg(out)
        .arg("."));
}

fn tar_xzf(archive: &Path, into: &Path) {
    if into.exists() {
        fs::remove_dir_all(into).expect("clean extraction dir");
    }
    fs::create_dir_all(into).expect("extraction dir");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into));
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let rt = runtime();
    let ours_file = f.work.join("ours.tar.gz");
    let extract = f.work.join("extract");

    let mut group = c.benchmark_group("pack");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("pacto pack (bundle in memory)", |b| {
        b.iter(|| {
            rt.block_on(pack(black_box(&f.bundle), &Limits::default()))
                .expect("pack")
        });
    });
    group.bench_function("pacto from_dir + pack_to_file", |b| {
        b.iter(|| {
            let bundle = Bundle::from_dir(&f.tree).expect("bundle");
            rt.block_on(pack_to_file(&bundle, &ours_file, &Limits::default()))
                .expect("pack_to_file")
        });
    });
    group.bench_function("tar czf", |b| {
        b.iter(|| tar_czf(&f.tree, &f.work.join("bench.tar.gz")));
    });
    group.finish();

    let mut group = c.benchmark_group("unpack");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("pacto unpack (bytes in memory)", |b| {
        b.iter(|| {
            rt.block_on(unpack_bytes(black_box(&f.packed), &Limits::default()))
                .expect("unpack")
        });
    });
    group.bench_function("pacto unpack + write tree", |b| {
        b.iter(|| {
            let bundle = rt
                .block_on(unpack_bytes(&f.packed, &Limits::default()))
                .expect("unpack");
            write_tree(&bundle, &extract);
        });
    });
    group.bench_function("tar xzf", |b| b.iter(|| tar_xzf(&f.tar_gz, &extract)));
    group.finish();

    summary(f, &rt, &ours_file, &extract);
}

/// Writes a bundle's files under `into` (replacing it), as `tar xzf` does.
fn write_tree(bundle: &Bundle, into: &Path) {
    if into.exists() {
        fs::remove_dir_all(into).expect("clean extraction dir");
    }
    for (rel, data) in bundle.files() {
        write(into, rel.as_str(), data);
    }
}

/// Median wall time of `runs` calls.
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

fn summary(f: &Fixture, rt: &tokio::runtime::Runtime, ours_file: &Path, extract: &Path) {
    let mib = |n: u64| n as f64 / (1024.0 * 1024.0);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let pack_mem = median(3, || {
        rt.block_on(pack(&f.bundle, &Limits::default()))
            .expect("pack");
    });
    let pack_e2e = median(3, || {
        let bundle = Bundle::from_dir(&f.tree).expect("bundle");
        rt.block_on(pack_to_file(&bundle, ours_file, &Limits::default()))
            .expect("pack_to_file");
    });
    let czf = median(3, || tar_czf(&f.tree, &f.work.join("bench.tar.gz")));
    let unpack_mem = median(3, || {
        rt.block_on(unpack_bytes(&f.packed, &Limits::default()))
            .expect("unpack");
    });
    let unpack_e2e = median(3, || {
        let bundle = rt
            .block_on(unpack_bytes(&f.packed, &Limits::default()))
            .expect("unpack");
        write_tree(&bundle, extract);
    });
    let xzf = median(3, || tar_xzf(&f.tar_gz, extract));
    let gnu_size = fs::metadata(&f.tar_gz).expect("gnu archive").len();
    let ours_size = f.packed.len() as u64;

    println!();
    println!(
        "== pacto-archive vs GNU tar: {} files, {:.1} MiB ==",
        f.bundle.files().len(),
        mib(f.bundle.total_size())
    );
    println!(
        "pack (bundle in memory)   {:>8.1} ms  {:.2}x tar czf",
        ms(pack_mem),
        ratio(pack_mem, czf)
    );
    println!(
        "from_dir + pack_to_file   {:>8.1} ms  {:.2}x tar czf",
        ms(pack_e2e),
        ratio(pack_e2e, czf)
    );
    println!("tar czf                   {:>8.1} ms", ms(czf));
    println!(
        "unpack (into memory)      {:>8.1} ms  {:.2}x tar xzf",
        ms(unpack_mem),
        ratio(unpack_mem, xzf)
    );
    println!(
        "unpack + write tree       {:>8.1} ms  {:.2}x tar xzf",
        ms(unpack_e2e),
        ratio(unpack_e2e, xzf)
    );
    println!("tar xzf                   {:>8.1} ms", ms(xzf));
    println!(
        "compressed size           {:.2} MiB vs {:.2} MiB: {:.3}x tar czf",
        mib(ours_size),
        mib(gnu_size),
        ours_size as f64 / gnu_size as f64
    );
    match unpack_peak_in_child(ours_file) {
        Some(peak) => println!(
            "unpack peak RSS growth    {:.1} MiB for a {:.1} MiB bundle streamed from a file",
            mib(peak),
            mib(f.bundle.total_size())
        ),
        None => println!("unpack peak RSS growth    not measured (needs Linux /proc)"),
    }
}

const CHILD_ENV: &str = "PACTO_BENCH_UNPACK_PEAK";

/// Runs this benchmark binary again to unpack `layer` alone, and returns the growth of its
/// peak resident set (a fresh process, so earlier allocations do not hide the peak).
fn unpack_peak_in_child(layer: &Path) -> Option<u64> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(CHILD_ENV, layer)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("peak-growth-bytes=")?.parse().ok())
}

/// The child: stream-unpack the layer and report peak RSS growth (Linux `/proc`).
fn child_unpack_peak(layer: &Path) {
    let status_kib = |field: &str| -> Option<u64> {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let rt = runtime();
    let Some(before) = status_kib("VmRSS:") else {
        return;
    };
    let bundle = rt
        .block_on(async {
            let file = tokio::fs::File::open(layer).await.expect("open layer");
            unpack(file, &Limits::default()).await
        })
        .expect("unpack");
    if let Some(peak) = status_kib("VmHWM:") {
        println!("peak-growth-bytes={}", peak.saturating_sub(before) * 1024);
    }
    drop(bundle);
}

fn main() {
    if let Some(layer) = std::env::var_os(CHILD_ENV) {
        child_unpack_peak(Path::new(&layer));
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
