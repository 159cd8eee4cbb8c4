//! `pacto-oci` side by side with the tools users would pick instead, in one run so machine
//! noise cancels: skopeo (Debian), the ORAS Python SDK (`pip install oras`) and GNU tar.
//!
//! Run it with `cargo xtask bench` (which installs missing peers when it can and rewrites
//! `docs/performance.md`) or `cargo bench -p pacto-oci-cli --bench compare`. It prints a
//! markdown table and writes `target/bench/report.json` and `target/bench/report.md`.
//!
//! Every number is the wall time of whole processes (the release `pacto-oci` binary this
//! package builds, `skopeo`, a Python process driving the SDK, `tar`), the median of a few
//! runs after a warm-up run, with the requests each operation sent counted from the
//! registry's access log. The registry is a `docker-registry` (distribution 2.8) over HTTPS
//! on 127.0.0.1, started by `pacto-test-support`; the "+20 ms" rows go through a loopback TCP
//! proxy that delays every byte 20 ms each way (`latency.rs`). Every process gets a
//! private home, config, cache and temp directory. A missing peer is a "skipped" cell with
//! the reason, never a dropped row. Loops are bounded: the whole run takes a few minutes.
//!
//! `PACTO_BENCH_QUICK=1` times one run per cell (for checking the bench itself);
//! `PACTO_BENCH_SKIP_COMPARE=1` makes this target do nothing (`cargo xtask bench` sets it
//! while it runs the criterion benches, then runs this target on its own).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on stdout and logs progress on stderr"
)]

mod fixture;
mod goals;
mod latency;
mod report;
mod run;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use pacto_test_support::{
    FakeOptions, FakeRegistry, RegistryOptions, TagListing, TestRegistry, check_tool, try_push_raw,
};

use latency::LatencyProxy;
use report::{PACTO, Report, Row, ToolInfo};
use run::{Cell, Job, Runs, Sandbox, Tool, job, peak_rss, run_ok, timed};

/// The one-way delay of the "+20 ms" rows.
const LATENCY: Duration = Duration::from_millis(20);
/// The release binary `cargo bench` built for this package.
const PACTO_BIN: &str = env!("CARGO_BIN_EXE_pacto-oci");
/// The script that drives the ORAS Python SDK.
const ORAS_DRIVER: &str = include_str!("oras_driver.py");
/// Set (to anything) to make this target do nothing.
const SKIP_ENV: &str = "PACTO_BENCH_SKIP_COMPARE";
/// Set to `1` to time a single run per cell.
const QUICK_ENV: &str = "PACTO_BENCH_QUICK";
/// Versions in the fetch-all repository.
const FETCH_ALL_VERSIONS: usize = 50;
/// The constraint of the resolve row, `^MAJOR.MINOR`.
const CONSTRAINT: (u64, u64) = (3, 4);
/// What `^3.4` picks among [`fixture::many_tags`].
const CONSTRAINT_PICK: &str = "3.9.4";
/// Tags in the `index.json` of the huge-layout row.
const LAYOUT_TAGS: u64 = 100_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets without `--bench`: this one needs minutes
        // and peers, so it only says how to run it.
        println!(
            "compare: run it with `cargo bench -p pacto-oci-cli --bench compare` or `cargo xtask bench`"
        );
        return ExitCode::SUCCESS;
    }
    if std::env::var_os(SKIP_ENV).is_some() {
        println!("compare: skipped ({SKIP_ENV} is set; `cargo xtask bench` runs it on its own)");
        return ExitCode::SUCCESS;
    }
    let filters = filters(&args);
    match compare(&filters) {
        Ok(report) => {
            let markdown = report.to_markdown();
            println!("{markdown}");
            match write_report(&report, &markdown) {
                Ok(dir) => eprintln!("compare: wrote {}/report.json and report.md", dir.display()),
                Err(error) => {
                    eprintln!("compare: error: {error}");
                    return ExitCode::FAILURE;
                }
            }
            let ours_failed = report
                .rows
                .iter()
                .any(|row| matches!(row.cell(PACTO), Some(Cell::Failed(_))));
            if ours_failed {
                eprintln!("compare: error: pacto-oci failed in at least one row (see the table)");
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("compare: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Like criterion's: positional arguments filter the rows by key (`pull`, `latency`, ...);
/// criterion's options (`cargo bench -- --warm-up-time 1`) and their values are ignored.
fn filters(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 14] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--output-format",
        "--color",
        "--profile-time",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--nresamples",
        "--plotting-backend",
    ];
    let mut filters = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg.clone());
        }
    }
    filters
}

/// `target/bench`, under `CARGO_TARGET_DIR` when it is set.
fn report_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("bench")
}

fn write_report(report: &Report, markdown: &str) -> Result<PathBuf, String> {
    let dir = report_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(&report.to_json())
        .map_err(|e| format!("cannot serialise the report: {e}"))?;
    for (name, text) in [
        ("report.json", format!("{json}\n")),
        ("report.md", markdown.to_owned()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dir)
}

/// Where a row's traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    /// Straight to the registry.
    Loopback,
    /// Through the latency proxy.
    Latency,
}

impl Net {
    fn label(self) -> &'static str {
        match self {
            Net::Loopback => "loopback",
            Net::Latency => "+20 ms",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Net::Loopback => "loopback",
            Net::Latency => "latency",
        }
    }
}

/// Which bundle a row moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// The demo `payments` bundle.
    Small,
    /// The demo bundle plus 4 MiB of data (memory rows only).
    Medium,
    /// The demo bundle plus 40 MiB of data.
    Large,
}

impl Size {
    fn key(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }
}

/// What a cache row pulls twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheKind {
    /// The tag, then the tag again.
    Tag,
    /// The digest, then the digest again.
    Digest,
    /// The tag, then its digest.
    DigestAfterTag,
}

impl CacheKind {
    fn key(self) -> &'static str {
        match self {
            CacheKind::Tag => "tag",
            CacheKind::Digest => "digest",
            CacheKind::DigestAfterTag => "digest-after-tag",
        }
    }

    fn label(self) -> &'static str {
        match self {
            CacheKind::Tag => "warm tag hit",
            CacheKind::Digest => "warm digest hit",
            CacheKind::DigestAfterTag => "digest after tag",
        }
    }
}

/// A bundle on disk and where it was seeded.
#[derive(Debug)]
struct Bundle {
    /// `payments (5 files, 4.2 KiB)`.
    label: String,
    /// The bundle directory.
    dir: PathBuf,
    /// An OCI layout holding it as `1.0.0` (skopeo's push source, pacto-oci's unpack source).
    layout: PathBuf,
    /// `tar czf` of the directory (the tar unpack source).
    tarball: PathBuf,
    /// The repository pacto-oci pushed it to (pulled by pacto-oci and skopeo).
    repo: String,
    /// The repository the ORAS SDK pushed it to (pulled by the ORAS SDK).
    oras_repo: String,
    /// The manifest digest pacto-oci pushed.
    digest: String,
    /// Total file bytes.
    bytes: u64,
}

/// The peers, in table order after pacto-oci.
#[derive(Debug)]
struct Peers {
    skopeo: Tool,
    /// `program` is the Python interpreter that has the `oras` module.
    oras: Tool,
    tar: Tool,
    time: Tool,
    /// The `site-packages` directory holding `oras`, put on `PYTHONPATH` (the sandbox has
    /// its own HOME, which would hide a `pip install --user`).
    oras_path: Option<PathBuf>,
}

struct Bench {
    sandbox: Sandbox,
    registry: TestRegistry,
    proxy: LatencyProxy,
    ca_file: PathBuf,
    /// A directory with the CA as `ca.crt`, as skopeo's `--cert-dir` wants it.
    cert_dir: PathBuf,
    driver: PathBuf,
    peers: Peers,
    small: Bundle,
    medium: Bundle,
    large: Bundle,
    /// An OCI layout whose index.json tags the small bundle [`LAYOUT_TAGS`] times.
    tag_layout: PathBuf,
    quick: bool,
    next: AtomicU64,
    /// An upstream behind the latency proxy and a pull-through mirror on loopback, for the
    /// fleet rows; started by the first of them.
    fleet: std::sync::OnceLock<Result<Fleet, String>>,
}

/// A far registry and the mirror a fleet reads it through.
struct Fleet {
    upstream: TestRegistry,
    /// In front of `upstream`: the far registry's address, and the mirror's remote.
    far: LatencyProxy,
    mirror: TestRegistry,
}

fn compare(filters: &[String]) -> Result<Report, String> {
    let started = Instant::now();
    let machine = machine();
    let quick = std::env::var(QUICK_ENV).is_ok_and(|v| v == "1");
    let work = tempfile::Builder::new()
        .prefix("pacto-bench-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let sandbox = Sandbox::new(&work.path().join("sandbox"))?;
    let peers = find_peers();
    eprintln!("compare: starting the registry (docker-registry over HTTPS on 127.0.0.1)");
    check_tool("docker-registry", "docker-registry").map_err(|e| e.to_string())?;
    let registry = TestRegistry::try_start(RegistryOptions::tls()).map_err(|e| e.to_string())?;
    let ca_pem = registry
        .ca_pem()
        .ok_or("the TLS registry has no CA certificate")?;
    let cert_dir = work.path().join("certs");
    std::fs::create_dir_all(&cert_dir).map_err(|e| format!("cannot create the cert dir: {e}"))?;
    let ca_file = cert_dir.join("ca.crt");
    std::fs::write(&ca_file, &ca_pem).map_err(|e| format!("cannot write the CA file: {e}"))?;
    let upstream = registry
        .host()
        .parse()
        .map_err(|e| format!("registry address {}: {e}", registry.host()))?;
    let proxy = LatencyProxy::start(upstream, LATENCY)
        .map_err(|e| format!("cannot start the latency proxy: {e}"))?;
    let driver = work.path().join("oras_driver.py");
    std::fs::write(&driver, ORAS_DRIVER)
        .map_err(|e| format!("cannot write the ORAS driver: {e}"))?;

    let placeholder = |name: &str| Bundle {
        label: name.to_owned(),
        dir: PathBuf::new(),
        layout: PathBuf::new(),
        tarball: PathBuf::new(),
        repo: String::new(),
        oras_repo: String::new(),
        digest: String::new(),
        bytes: 0,
    };
    let mut bench = Bench {
        sandbox,
        registry,
        proxy,
        ca_file,
        cert_dir,
        driver,
        peers,
        small: placeholder("small"),
        medium: placeholder("medium"),
        large: placeholder("large"),
        tag_layout: work.path().join("tag-layout"),
        quick,
        next: AtomicU64::new(0),
        fleet: std::sync::OnceLock::new(),
    };
    eprintln!("compare: seeding the registry");
    bench.small = bench.seed_bundle(work.path(), Size::Small)?;
    bench.medium = bench.seed_bundle(work.path(), Size::Medium)?;
    bench.large = bench.seed_bundle(work.path(), Size::Large)?;
    bench.seed_many(work.path())?;
    bench.seed_fifty(work.path())?;
    bench.seed_tag_layout()?;
    let proxy_check = bench.proxy_round_trip()?;

    let mut rows = Vec::new();
    let add = |key: String, rows: &mut Vec<Row>, make: &dyn Fn(&[Row]) -> Row| {
        if filters.is_empty() || filters.iter().any(|f| key.contains(f.as_str())) {
            let row = make(rows);
            rows.push(bench.log(row));
        }
    };
    for net in [Net::Loopback, Net::Latency] {
        for size in [Size::Small, Size::Large] {
            let (s, n) = (size.key(), net.key());
            add(format!("push.{s}.{n}"), &mut rows, &|_| {
                bench.push_row(size, net)
            });
            add(format!("pull.{s}.{n}"), &mut rows, &|_| {
                bench.pull_row(size, net)
            });
        }
    }
    for net in [Net::Loopback, Net::Latency] {
        let n = net.key();
        add(format!("resolve.{n}"), &mut rows, &|_| {
            bench.resolve_row(net)
        });
        add(format!("fetch-all.{n}"), &mut rows, &|_| {
            bench.fetch_all_row(net)
        });
    }
    for size in [Size::Small, Size::Large] {
        let s = size.key();
        add(format!("pack.{s}"), &mut rows, &|_| bench.pack_row(size));
        add(format!("unpack.{s}"), &mut rows, &|_| {
            bench.unpack_row(size)
        });
    }
    for operation in ["pull", "push"] {
        for size in [Size::Medium, Size::Large] {
            add(
                format!("memory.{operation}.{}", size.key()),
                &mut rows,
                &|_| bench.memory_row(operation, size),
            );
        }
    }
    for size in [Size::Small, Size::Large] {
        add(
            format!("memory.library-pull.{}", size.key()),
            &mut rows,
            &|_| bench.library_memory_row(size),
        );
    }
    add("push.large.413".to_owned(), &mut rows, &|_| {
        bench.push_413_row()
    });
    add("startup".to_owned(), &mut rows, &|_| bench.startup_row());
    add("tags.layout".to_owned(), &mut rows, &|_| {
        bench.tags_layout_row()
    });
    add("tags.registry".to_owned(), &mut rows, &|_| {
        bench.tags_registry_row()
    });
    for through_mirror in [false, true] {
        let key = if through_mirror {
            "fleet.mirror"
        } else {
            "fleet.direct"
        };
        add(key.to_owned(), &mut rows, &|_| {
            bench.fleet_row(work.path(), through_mirror)
        });
    }
    for net in [Net::Loopback, Net::Latency] {
        for size in [Size::Small, Size::Large] {
            for kind in [CacheKind::Tag, CacheKind::Digest, CacheKind::DigestAfterTag] {
                let key = format!("cache.{}.{}.{}", kind.key(), size.key(), net.key());
                add(key, &mut rows, &|rows| {
                    bench.cache_row(size, net, kind, rows)
                });
            }
        }
    }
    let goals = goals::judge(&rows, bench.medium.bytes, bench.large.bytes);
    Ok(Report {
        date: today(),
        machine,
        tools: bench.tool_info(),
        setup: bench.setup(proxy_check, filters),
        rows,
        goals,
        elapsed: started.elapsed(),
    })
}

/// Finds skopeo, the ORAS SDK, GNU tar and GNU time; a missing one is a reason, not an error.
fn find_peers() -> Peers {
    let found = |tool: &str, package: &str| {
        check_tool(tool, package).map_err(|_| {
            format!("`{tool}` is not installed (apt-get install -y {package}, or run `cargo xtask bench` as root)")
        })
    };
    let version = |program: &Result<PathBuf, String>, arg: &str| match program {
        Ok(program) => Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                let text = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default(),
        Err(why) => why.clone(),
    };
    let skopeo = found("skopeo", "skopeo");
    let tar = found("tar", "tar");
    let time = if Path::new("/usr/bin/time").is_file() {
        Ok(PathBuf::from("/usr/bin/time"))
    } else {
        Err("GNU time (/usr/bin/time) is not installed (apt-get install -y time)".to_owned())
    };
    // The interpreter `python3` names, resolved once with the caller's environment (pyenv
    // shims need it); the sandboxed runs then call the real interpreter directly.
    let probe = found("python3", "python3").and_then(|python| {
        let output = Command::new(&python)
            .args([
                "-c",
                "import os, sys, oras.client, oras.version\n\
                 print(sys.executable)\n\
                 print(os.path.dirname(os.path.dirname(oras.__file__)))\n\
                 print('oras-py ' + oras.version.__version__ + ', Python ' + sys.version.split()[0])",
            ])
            .output()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !output.status.success() {
            return Err("the Python module `oras` is not installed (python3 -m pip install oras, or run `cargo xtask bench` as root)".to_owned());
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        match lines.as_slice() {
            [exe, path, version] => Ok((PathBuf::from(exe), PathBuf::from(path), (*version).to_owned())),
            _ => Err(format!("unexpected answer from python3: {text:?}")),
        }
    });
    let (oras, oras_path) = match probe {
        Ok((exe, path, version)) => (
            Tool {
                name: "oras-py",
                program: Ok(exe),
                version,
            },
            Some(path),
        ),
        Err(why) => (
            Tool {
                name: "oras-py",
                program: Err(why.clone()),
                version: why,
            },
            None,
        ),
    };
    Peers {
        skopeo: Tool {
            name: "skopeo",
            version: version(&skopeo, "--version"),
            program: skopeo,
        },
        oras,
        tar: Tool {
            name: "GNU tar",
            version: version(&tar, "--version"),
            program: tar,
        },
        time: Tool {
            name: "GNU time",
            version: version(&time, "--version"),
            program: time,
        },
        oras_path,
    }
}

/// Runs `f` with the tool's program, or a skipped cell.
fn with(tool: &Tool, f: impl FnOnce(&Path) -> Cell) -> Cell {
    match &tool.program {
        Ok(program) => f(program),
        Err(_) => tool
            .missing()
            .unwrap_or_else(|| Cell::Skipped(tool.version.clone())),
    }
}

impl Bench {
    fn log(&self, row: Row) -> Row {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|(tool, cell)| {
                let text = match cell {
                    Cell::Timed { requests, .. } => {
                        let time = cell.median().map_or_else(|| "-".to_owned(), report::millis);
                        requests.map_or(time.clone(), |n| format!("{time} ({n} req)"))
                    }
                    Cell::Memory(bytes) => report::mib(*bytes),
                    Cell::Skipped(_) => "skipped".to_owned(),
                    Cell::Failed(why) => format!("FAILED: {why}"),
                };
                format!("{tool} {text}")
            })
            .collect();
        eprintln!(
            "compare: {} [{}]: {}",
            row.label,
            row.network,
            cells.join(", ")
        );
        row
    }

    fn runs(&self, timed: usize, warmup: bool) -> Runs {
        if self.quick {
            Runs {
                timed: 1,
                warmup: false,
            }
        } else {
            Runs { timed, warmup }
        }
    }

    /// `small` timed runs after a warm-up for the demo bundle; 3 without warm-up for the large
    /// one (its files are in the page cache since seeding, the programs since earlier rows).
    fn runs_for(&self, size: Size, small: usize) -> Runs {
        match size {
            Size::Small => self.runs(small, true),
            Size::Medium | Size::Large => self.runs(3, false),
        }
    }

    fn host(&self, net: Net) -> String {
        match net {
            Net::Loopback => self.registry.host(),
            Net::Latency => self.proxy.host(),
        }
    }

    fn bundle(&self, size: Size) -> &Bundle {
        match size {
            Size::Small => &self.small,
            Size::Medium => &self.medium,
            Size::Large => &self.large,
        }
    }

    /// A repository name used once (pushes must upload every blob each time).
    fn unique(&self, what: &str) -> String {
        format!("bench/{what}-{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// A copy of the bundle's layout under `scratch` with blobs no registry or cache has
    /// seen, so skopeo uploads them instead of mounting them from an earlier push.
    fn fresh_layout(&self, bundle: &Bundle, scratch: &Path) -> Result<PathBuf, String> {
        let layout = scratch.join("push-layout");
        let variant = self.next.fetch_add(1, Ordering::Relaxed);
        let variant = u32::try_from(variant).map_err(|_| "too many layout variants")?;
        fixture::layout_variant(&bundle.layout, &layout, variant)?;
        Ok(layout)
    }

    /// `pacto-oci` with the registry's CA and a cache of its own under `scratch`.
    fn pacto(&self, scratch: &Path) -> Command {
        let mut cmd = self.sandbox.command(PACTO_BIN);
        cmd.arg("--quiet")
            .arg("--ca-file")
            .arg(&self.ca_file)
            .arg("--cache-dir")
            .arg(scratch.join("cache"));
        cmd
    }

    fn skopeo(&self, program: &Path) -> Command {
        let mut cmd = self.sandbox.command(program);
        cmd.arg("--insecure-policy");
        cmd
    }

    fn oras(&self, python: &Path) -> Command {
        let mut cmd = self.sandbox.command(python);
        cmd.arg(&self.driver).env("BENCH_CA_FILE", &self.ca_file);
        if let Some(path) = &self.peers.oras_path {
            cmd.env("PYTHONPATH", path);
        }
        cmd
    }

    /// Makes the bundle, its layout and tarball, and pushes it with pacto-oci (and with the
    /// ORAS SDK, which pulls only what it pushed itself: it unpacks its own directory layers).
    fn seed_bundle(&self, work: &Path, size: Size) -> Result<Bundle, String> {
        let dir = work.join("bundles").join(size.key());
        match size {
            Size::Small => fixture::copy_dir(&fixture::demo_bundle(), &dir)?,
            Size::Medium => fixture::medium_bundle(&dir)?,
            Size::Large => fixture::large_bundle(&dir)?,
        }
        let (files, bytes) = fixture::dir_size(&dir)?;
        let label = match size {
            Size::Small => format!("payments ({files} files, {:.1} KiB)", bytes as f64 / 1024.0),
            Size::Medium | Size::Large => {
                format!("{} ({files} files, {})", size.key(), report::mib(bytes))
            }
        };
        let scratch = work.join("seed").join(size.key());
        let layout = work.join("layouts").join(size.key());
        let mut cmd = self.pacto(&scratch);
        cmd.arg("push")
            .arg(&dir)
            .arg(format!("oci-layout:{}:1.0.0", layout.display()));
        run_ok(&mut cmd)?;
        let repo = format!("bench/{}", size.key());
        let mut cmd = self.pacto(&scratch);
        cmd.arg("--json")
            .arg("push")
            .arg(&dir)
            .arg(format!("{}/{repo}:1.0.0", self.registry.host()));
        let output = run_ok(&mut cmd)?;
        let pushed: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("pacto-oci push printed no JSON: {e}"))?;
        let digest = pushed["digest"]
            .as_str()
            .ok_or_else(|| format!("pacto-oci push printed no digest: {pushed}"))?
            .to_owned();
        let tarball = work.join("tarballs").join(format!("{}.tar.gz", size.key()));
        if let Ok(tar) = &self.peers.tar.program {
            std::fs::create_dir_all(work.join("tarballs"))
                .map_err(|e| format!("cannot create the tarball dir: {e}"))?;
            run_ok(
                Command::new(tar)
                    .arg("czf")
                    .arg(&tarball)
                    .arg("-C")
                    .arg(&dir)
                    .arg("."),
            )?;
        }
        let oras_repo = format!("bench/oras-{}", size.key());
        if let Ok(python) = &self.peers.oras.program {
            let mut cmd = self.oras(python);
            cmd.arg("push")
                .arg(self.registry.host())
                .arg(format!("{oras_repo}:1.0.0"))
                .arg(&dir);
            run_ok(&mut cmd)?;
        }
        Ok(Bundle {
            label,
            dir,
            layout,
            tarball,
            repo,
            oras_repo,
            digest,
            bytes,
        })
    }

    /// `bench/many`: 300 semver tags, all on the bundle of the one `^3.4` picks (pushed by
    /// pacto-oci; the other tags are manifest PUTs of the same bytes).
    fn seed_many(&self, work: &Path) -> Result<(), String> {
        let dir = work.join("bundles").join("many");
        fixture::versioned_bundle(&dir, CONSTRAINT_PICK)?;
        let layout = work.join("layouts").join("many");
        let scratch = work.join("seed").join("many");
        for target in [
            format!("oci-layout:{}:{CONSTRAINT_PICK}", layout.display()),
            format!("{}/bench/many:{CONSTRAINT_PICK}", self.registry.host()),
        ] {
            let mut cmd = self.pacto(&scratch);
            cmd.arg("push").arg(&dir).arg(target);
            run_ok(&mut cmd)?;
        }
        let index_path = layout.join("index.json");
        let index: serde_json::Value = std::fs::read(&index_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| format!("cannot read {}", index_path.display()))?;
        let descriptor = &index["manifests"][0];
        let (Some(digest), Some(media_type)) = (
            descriptor["digest"].as_str(),
            descriptor["mediaType"].as_str(),
        ) else {
            return Err(format!(
                "{} has no manifest descriptor",
                index_path.display()
            ));
        };
        let hex = digest.trim_start_matches("sha256:");
        let manifest_path = layout.join("blobs/sha256").join(hex);
        let manifest = std::fs::read(&manifest_path)
            .map_err(|e| format!("cannot read {}: {e}", manifest_path.display()))?;
        for tag in fixture::many_tags() {
            if tag != CONSTRAINT_PICK {
                try_push_raw(
                    &self.registry,
                    "bench/many",
                    &tag,
                    media_type,
                    &manifest,
                    &[],
                    None,
                )
                .map_err(|e| format!("cannot tag bench/many:{tag}: {e}"))?;
            }
        }
        // What pacto-oci picks, checked once (the timed runs are quiet).
        let mut cmd = self.pacto(&scratch);
        cmd.args(["--json", "resolve", "--constraint", "^3.4"])
            .arg(format!("{}/bench/many", self.registry.host()));
        let output = run_ok(&mut cmd)?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !text.contains(&format!(":{CONSTRAINT_PICK}\"")) {
            return Err(format!(
                "pacto-oci resolved ^3.4 to something else than {CONSTRAINT_PICK}: {text}"
            ));
        }
        Ok(())
    }

    /// `bench/fifty`: 50 distinct versions 1.0.0 to 1.49.0, pushed by pacto-oci.
    fn seed_fifty(&self, work: &Path) -> Result<(), String> {
        let scratch = work.join("seed").join("fifty");
        for minor in 0..FETCH_ALL_VERSIONS {
            let version = format!("1.{minor}.0");
            let dir = work.join("bundles").join(format!("fifty-{version}"));
            fixture::versioned_bundle(&dir, &version)?;
            let mut cmd = self.pacto(&scratch);
            cmd.arg("push")
                .arg(&dir)
                .arg(format!("{}/bench/fifty:{version}", self.registry.host()));
            run_ok(&mut cmd)?;
        }
        Ok(())
    }

    /// Time to the first response byte on a new connection through the proxy: the handshake
    /// round trip plus the request's.
    fn proxy_round_trip(&self) -> Result<Duration, String> {
        let start = Instant::now();
        let mut stream = TcpStream::connect(self.proxy.host())
            .map_err(|e| format!("cannot connect to the latency proxy: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| format!("latency proxy: {e}"))?;
        // Plain HTTP to the TLS port: the registry answers 400 at once and closes.
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("cannot write to the latency proxy: {e}"))?;
        let mut first = [0u8; 1];
        stream
            .read_exact(&mut first)
            .map_err(|e| format!("no answer through the latency proxy: {e}"))?;
        Ok(start.elapsed())
    }

    fn push_row(&self, size: Size, net: Net) -> Row {
        let host = self.host(net);
        let bundle = self.bundle(size);
        let runs = self.runs_for(size, 7);
        let registry = Some(&self.registry);
        let pacto = timed(&self.sandbox, runs, registry, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("push")
                .arg(&bundle.dir)
                .arg(format!("{host}/{}:1.0.0", self.unique("push-pacto")));
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, registry, |scratch| {
                let layout = self.fresh_layout(bundle, scratch)?;
                let mut cmd = self.skopeo(program);
                cmd.args(["copy", "--quiet", "--dest-cert-dir"])
                    .arg(&self.cert_dir)
                    .arg(format!("oci:{}:1.0.0", layout.display()))
                    .arg(format!(
                        "docker://{host}/{}:1.0.0",
                        self.unique("push-skopeo")
                    ));
                Ok(job(cmd))
            })
        });
        let oras = with(&self.peers.oras, |python| {
            timed(&self.sandbox, runs, registry, |_| {
                let mut cmd = self.oras(python);
                cmd.arg("push")
                    .arg(&host)
                    .arg(format!("{}:1.0.0", self.unique("push-oras")))
                    .arg(&bundle.dir);
                Ok(job(cmd))
            })
        });
        Row::new(
            format!("push.{}.{}", size.key(), net.key()),
            section(net),
            format!("push {}", bundle.label),
            net.label(),
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("push: skopeo copies from an OCI layout made beforehand, so it does not pack; pacto-oci and oras-py pack the directory. Every run pushes to a new repository, and skopeo's layout gets blobs no push has used before, so nothing is mounted from an earlier push (skopeo would, from its blob-info cache)")
    }

    fn pull_row(&self, size: Size, net: Net) -> Row {
        let host = self.host(net);
        let bundle = self.bundle(size);
        let runs = self.runs_for(size, 7);
        let registry = Some(&self.registry);
        let pacto = timed(&self.sandbox, runs, registry, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("pull")
                .arg(format!("{host}/{}:1.0.0", bundle.repo))
                .arg("-o")
                .arg(scratch.join("out"));
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, registry, |scratch| {
                let mut cmd = self.skopeo(program);
                cmd.args(["copy", "--quiet", "--src-cert-dir"])
                    .arg(&self.cert_dir)
                    .arg(format!("docker://{host}/{}:1.0.0", bundle.repo))
                    .arg(format!("oci:{}:1.0.0", scratch.join("layout").display()));
                Ok(job(cmd))
            })
        });
        let oras = with(&self.peers.oras, |python| {
            timed(&self.sandbox, runs, registry, |scratch| {
                let mut cmd = self.oras(python);
                cmd.arg("pull")
                    .arg(&host)
                    .arg(format!("{}:1.0.0", bundle.oras_repo))
                    .arg(scratch.join("out"));
                Ok(job(cmd))
            })
        });
        Row::new(
            format!("pull.{}.{}", size.key(), net.key()),
            section(net),
            format!("pull {}", bundle.label),
            net.label(),
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("pull: skopeo copies into an OCI layout, so it does not unpack; pacto-oci and oras-py verify and unpack into a directory (pacto-oci also fills its cache)")
    }

    fn resolve_row(&self, net: Net) -> Row {
        let host = self.host(net);
        let runs = self.runs(5, true);
        let registry = Some(&self.registry);
        let pacto = timed(&self.sandbox, runs, registry, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.args(["resolve", "--constraint", "^3.4"])
                .arg(format!("{host}/bench/many"));
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, registry, |_| {
                let host = &host;
                let work: Job<'_> = Box::new(move || {
                    let mut list = self.skopeo(program);
                    list.args(["list-tags", "--cert-dir"])
                        .arg(&self.cert_dir)
                        .arg(format!("docker://{host}/bench/many"));
                    let tags = list_tags(&mut list)?;
                    let tag = fixture::caret_best(&tags, CONSTRAINT.0, CONSTRAINT.1)
                        .ok_or("no tag matches ^3.4")?;
                    if tag != CONSTRAINT_PICK {
                        return Err(format!("the skopeo script picked {tag}"));
                    }
                    let mut inspect = self.skopeo(program);
                    inspect
                        .args(["inspect", "--raw", "--cert-dir"])
                        .arg(&self.cert_dir)
                        .arg(format!("docker://{host}/bench/many:{tag}"));
                    run_ok(&mut inspect).map(drop)
                });
                Ok(work)
            })
        });
        let oras = with(&self.peers.oras, |python| {
            timed(&self.sandbox, runs, registry, |_| {
                let mut cmd = self.oras(python);
                cmd.arg("resolve")
                    .arg(&host)
                    .arg("bench/many")
                    .arg(CONSTRAINT.0.to_string())
                    .arg(CONSTRAINT.1.to_string());
                Ok(job(cmd))
            })
        });
        Row::new(
            format!("resolve.{}", net.key()),
            3,
            "resolve `^3.4` among 300 tags",
            net.label(),
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note(
            "resolve: pacto-oci also fetches the bundle into its cache; skopeo runs `list-tags` then `inspect --raw` of the tag picked; oras-py lists tags and HEADs the manifest in one process",
        )
    }

    fn fetch_all_row(&self, net: Net) -> Row {
        let host = self.host(net);
        let runs = match net {
            Net::Loopback => self.runs(3, false),
            Net::Latency => self.runs(1, false),
        };
        let registry = Some(&self.registry);
        let pacto = timed(&self.sandbox, self.runs(3, false), registry, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("fetch-all").arg(format!("{host}/bench/fifty"));
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, registry, |scratch| {
                let host = &host;
                let layout = scratch.join("layout");
                let work: Job<'_> = Box::new(move || {
                    let mut list = self.skopeo(program);
                    list.args(["list-tags", "--cert-dir"])
                        .arg(&self.cert_dir)
                        .arg(format!("docker://{host}/bench/fifty"));
                    let tags = list_tags(&mut list)?;
                    if tags.len() != FETCH_ALL_VERSIONS {
                        return Err(format!("bench/fifty lists {} tags", tags.len()));
                    }
                    for tag in &tags {
                        let mut copy = self.skopeo(program);
                        copy.args(["copy", "--quiet", "--src-cert-dir"])
                            .arg(&self.cert_dir)
                            .arg(format!("docker://{host}/bench/fifty:{tag}"))
                            .arg(format!("oci:{}:{tag}", layout.display()));
                        run_ok(&mut copy)?;
                    }
                    Ok(())
                });
                Ok(work)
            })
        });
        let oras = with(&self.peers.oras, |python| {
            timed(&self.sandbox, runs, registry, |scratch| {
                let mut cmd = self.oras(python);
                cmd.arg("pull-all")
                    .arg(&host)
                    .arg("bench/fifty")
                    .arg(scratch.join("out"));
                Ok(job(cmd))
            })
        });
        Row::new(
            format!("fetch-all.{}", net.key()),
            3,
            format!("fetch-all of {FETCH_ALL_VERSIONS} versions"),
            net.label(),
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("fetch-all: pacto-oci pulls in parallel (8) into its cache; the peers list the tags, then pull one version after the other (skopeo: one `copy` process each; oras-py: one process)")
    }

    /// A copy of the small bundle's layout whose index.json lists [`LAYOUT_TAGS`] manifests,
    /// every one the pushed bundle under its own semver tag, in an order that needs sorting.
    fn seed_tag_layout(&self) -> Result<(), String> {
        fixture::copy_dir(&self.small.layout, &self.tag_layout)?;
        let path = self.tag_layout.join("index.json");
        let text =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut index: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let pushed = index["manifests"][0].clone();
        let manifests: Vec<serde_json::Value> = (0..LAYOUT_TAGS)
            .map(|i| {
                // 7,919 is prime, so this visits every i once, out of order.
                let v = i * 7_919 % LAYOUT_TAGS;
                let mut entry = pushed.clone();
                entry["annotations"]["org.opencontainers.image.ref.name"] =
                    format!("{}.{}.{}", v / 10_000, (v / 100) % 100, v % 100).into();
                entry
            })
            .collect();
        index["manifests"] = manifests.into();
        let bytes = serde_json::to_vec(&index).map_err(|e| format!("index.json: {e}"))?;
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn tags_layout_row(&self) -> Row {
        let runs = self.runs(5, true);
        let reference = format!("oci-layout:{}", self.tag_layout.display());
        let pacto = timed(&self.sandbox, runs, None, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("tags").arg(&reference);
            Ok(job(cmd))
        });
        let skopeo =
            Cell::Skipped("skopeo list-tags reads registries only, not OCI layouts".into());
        let oras = Cell::Skipped("the ORAS SDK has no tag listing of OCI layouts".into());
        Row::new(
            "tags.layout",
            4,
            format!("tags of a layout with {LAYOUT_TAGS} tags"),
            "local",
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("tags of a layout: `pacto-oci tags oci-layout:PATH` on an index.json of 100,000 manifests (22 MB); listing was quadratic before issue #12 (12.8 s)")
    }

    /// The fleet: a plain upstream holding the 50 versions behind its own 20 ms latency proxy,
    /// and a distribution mirror in proxy mode on loopback whose remote is that proxy.
    fn fleet(&self, work: &Path) -> Result<&Fleet, String> {
        self.fleet
            .get_or_init(|| {
                let upstream =
                    TestRegistry::try_start(RegistryOptions::plain()).map_err(|e| e.to_string())?;
                let address = upstream
                    .host()
                    .parse()
                    .map_err(|e| format!("registry address {}: {e}", upstream.host()))?;
                let far = LatencyProxy::start(address, LATENCY)
                    .map_err(|e| format!("cannot start the latency proxy: {e}"))?;
                let scratch = work.join("seed").join("fleet");
                for minor in 0..FETCH_ALL_VERSIONS {
                    let version = format!("1.{minor}.0");
                    let dir = work.join("bundles").join(format!("fifty-{version}"));
                    fixture::versioned_bundle(&dir, &version)?;
                    let mut cmd = self.pacto(&scratch);
                    cmd.args(["--plain-http", &upstream.host(), "push"])
                        .arg(&dir)
                        .arg(format!("{}/bench/fleet:{version}", upstream.host()));
                    run_ok(&mut cmd)?;
                }
                let mirror = TestRegistry::try_start(RegistryOptions::mirror_of(format!(
                    "http://{}",
                    far.host()
                )))
                .map_err(|e| e.to_string())?;
                Ok(Fleet {
                    upstream,
                    far,
                    mirror,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// 20 runs of `fetch-all` of the 50 versions, each with a fresh cache (20 machines of a
    /// fleet), straight to the far registry or through the mirror; the detail is what reached
    /// the upstream in all.
    fn fleet_row(&self, work: &Path, through_mirror: bool) -> Row {
        let (key, label, network) = if through_mirror {
            (
                "fleet.mirror",
                "20 machines fetch-all 50 versions through a mirror (mirror on loopback)",
                "mirror",
            )
        } else {
            (
                "fleet.direct",
                "20 machines fetch-all 50 versions straight from the registry",
                "+20 ms",
            )
        };
        let fleet = match self.fleet(work) {
            Ok(fleet) => fleet,
            Err(error) => {
                return Row::new(key, 6, label, network, vec![(PACTO, Cell::Failed(error))]);
            }
        };
        let far = fleet.far.host();
        let mark = fleet.upstream.mark();
        let pacto = timed(&self.sandbox, self.runs(20, false), None, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.args(["--plain-http", &far]);
            if through_mirror {
                let mirror = fleet.mirror.host();
                cmd.args(["--plain-http", &mirror, "--mirror"])
                    .arg(format!("{far}={mirror}"));
            }
            cmd.arg("fetch-all").arg(format!("{far}/bench/fleet"));
            Ok(job(cmd))
        });
        let upstream = fleet
            .upstream
            .try_requests_since(mark)
            .map(|requests| requests.len().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"));
        Row::new(key, 6, label, network, vec![(PACTO, pacto)])
            .with_detail(format!("requests that reached the registry in all: {upstream}"))
            .with_note("fleet: 20 runs of `pacto-oci fetch-all` of a 50-version repository, each with a fresh cache, against a registry 20 ms away each way, straight or through a distribution mirror in proxy mode on loopback (`--mirror REGISTRY=MIRROR`); the mirror's first run pulls through, the others are served by it")
    }

    /// `tags` of a registry repository with [`LAYOUT_TAGS`] tags, 1,000 per page (as GHCR and
    /// ECR paginate), served by test support's scripted fake registry on loopback: the
    /// bounded listing must not cost more than the tags themselves.
    fn tags_registry_row(&self) -> Row {
        let runs = self.runs(5, true);
        let fake = FakeRegistry::start(FakeOptions {
            tags: Some(TagListing::Paginated {
                count: LAYOUT_TAGS as usize,
                page: 1_000,
            }),
            ..FakeOptions::default()
        });
        let host = fake.host();
        let pacto = timed(&self.sandbox, runs, None, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.args(["--plain-http", &host, "tags"])
                .arg(format!("{host}/bench/tags"));
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, None, |_| {
                let host = &host;
                let work: Job<'_> = Box::new(move || {
                    let mut list = self.skopeo(program);
                    list.args(["list-tags", "--tls-verify=false"])
                        .arg(format!("docker://{host}/bench/tags"));
                    let tags = list_tags(&mut list)?;
                    if tags.len() as u64 != LAYOUT_TAGS {
                        return Err(format!("skopeo listed {} tags", tags.len()));
                    }
                    Ok(())
                });
                Ok(work)
            })
        });
        let oras =
            Cell::Skipped("not measured: the driver lists tags only as part of resolve".into());
        Row::new(
            "tags.registry",
            4,
            format!("tags of a registry repository with {LAYOUT_TAGS} tags (100 pages)"),
            "loopback",
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("tags of a registry: `pacto-oci tags` (newest first, semver-sorted) vs `skopeo list-tags` (unsorted JSON) against a plain-HTTP fake registry serving 100,000 tags in pages of 1,000 with `Link` headers")
    }

    fn pack_row(&self, size: Size) -> Row {
        let bundle = self.bundle(size);
        let runs = self.runs_for(size, 9);
        let pacto = timed(&self.sandbox, runs, None, |scratch| {
            let mut cmd = self.sandbox.command(PACTO_BIN);
            cmd.args(["--quiet", "pack"])
                .arg(&bundle.dir)
                .arg("-o")
                .arg(scratch.join("bundle.tar.gz"));
            Ok(job(cmd))
        });
        let tar = with(&self.peers.tar, |tar| {
            timed(&self.sandbox, runs, None, |scratch| {
                let mut cmd = self.sandbox.command(tar);
                cmd.arg("czf")
                    .arg(scratch.join("bundle.tar.gz"))
                    .arg("-C")
                    .arg(&bundle.dir)
                    .arg(".");
                Ok(job(cmd))
            })
        });
        Row::new(
            format!("pack.{}", size.key()),
            4,
            format!("pack {}", bundle.label),
            "local",
            vec![(PACTO, pacto), ("GNU tar", tar)],
        )
        .with_note("pack: `pacto-oci pack DIR -o FILE` vs `tar czf FILE -C DIR .`")
    }

    fn unpack_row(&self, size: Size) -> Row {
        let bundle = self.bundle(size);
        let runs = self.runs_for(size, 9);
        let pacto = timed(&self.sandbox, runs, None, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("pull")
                .arg(format!("oci-layout:{}:1.0.0", bundle.layout.display()))
                .arg("-o")
                .arg(scratch.join("out"));
            Ok(job(cmd))
        });
        let tar = with(&self.peers.tar, |tar| {
            timed(&self.sandbox, runs, None, |scratch| {
                let out = scratch.join("out");
                std::fs::create_dir_all(&out)
                    .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
                let mut cmd = self.sandbox.command(tar);
                cmd.arg("xzf").arg(&bundle.tarball).arg("-C").arg(&out);
                Ok(job(cmd))
            })
        });
        Row::new(
            format!("unpack.{}", size.key()),
            4,
            format!("unpack {}", bundle.label),
            "local",
            vec![(PACTO, pacto), ("GNU tar", tar)],
        )
        .with_note("unpack: pacto-oci pulls from a local OCI layout (read, verify, unpack, write the files) vs `tar xzf`")
    }

    fn memory_row(&self, operation: &str, size: Size) -> Row {
        let bundle = self.bundle(size);
        let host = self.registry.host();
        let time = &self.peers.time;
        let push = operation == "push";
        let pacto = peak_rss(&self.sandbox, time, |scratch| {
            let mut cmd = self.pacto(scratch);
            if push {
                cmd.arg("push")
                    .arg(&bundle.dir)
                    .arg(format!("{host}/{}:1.0.0", self.unique("mem-pacto")));
            } else {
                cmd.arg("pull")
                    .arg(format!("{host}/{}:1.0.0", bundle.repo))
                    .arg("-o")
                    .arg(scratch.join("out"));
            }
            Ok(cmd)
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            peak_rss(&self.sandbox, time, |scratch| {
                let mut cmd = self.skopeo(program);
                if push {
                    let layout = self.fresh_layout(bundle, scratch)?;
                    cmd.args(["copy", "--quiet", "--dest-cert-dir"])
                        .arg(&self.cert_dir)
                        .arg(format!("oci:{}:1.0.0", layout.display()))
                        .arg(format!(
                            "docker://{host}/{}:1.0.0",
                            self.unique("mem-skopeo")
                        ));
                } else {
                    cmd.args(["copy", "--quiet", "--src-cert-dir"])
                        .arg(&self.cert_dir)
                        .arg(format!("docker://{host}/{}:1.0.0", bundle.repo))
                        .arg(format!("oci:{}:1.0.0", scratch.join("layout").display()));
                }
                Ok(cmd)
            })
        });
        let oras = with(&self.peers.oras, |python| {
            peak_rss(&self.sandbox, time, |scratch| {
                let mut cmd = self.oras(python);
                if push {
                    cmd.arg("push")
                        .arg(&host)
                        .arg(format!("{}:1.0.0", self.unique("mem-oras")))
                        .arg(&bundle.dir);
                } else {
                    cmd.arg("pull")
                        .arg(&host)
                        .arg(format!("{}:1.0.0", bundle.oras_repo))
                        .arg(scratch.join("out"));
                }
                Ok(cmd)
            })
        });
        Row::new(
            format!("memory.{operation}.{}", size.key()),
            4,
            format!("peak memory, {operation} {}", bundle.label),
            "loopback",
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("peak memory: maximum resident set size from GNU time; a ratio above 1 means pacto-oci uses less")
    }

    /// The library's pull, which returns the bundle with its files in memory (by design):
    /// `inspect` reads a bundle through `Client::inspect`, the same path as `Client::pull`.
    fn library_memory_row(&self, size: Size) -> Row {
        let bundle = self.bundle(size);
        let host = self.registry.host();
        let pacto = peak_rss(&self.sandbox, &self.peers.time, |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("inspect")
                .arg(format!("{host}/{}:1.0.0", bundle.repo));
            Ok(cmd)
        });
        Row::new(
            format!("memory.library-pull.{}", size.key()),
            4,
            format!("peak memory, library pull (inspect) {}", bundle.label),
            "loopback",
            vec![(PACTO, pacto)],
        )
        .with_note("library pull: `inspect` pulls through `Client::inspect`, whose bundle holds its files in memory (the library's `pull` path); the CLI's `pull -o DIR` streams instead. The payments bundle's row is the process's own memory (runtime, TLS, HTTP/2 buffers, the binary's pages): what the 40 MiB pull adds over it is what the pull holds")
    }

    /// The 40 MiB push to a registry behind a proxy that answers 413 to any request body
    /// over 4 MiB, as GHCR does: plain HTTP (the fault proxy speaks no TLS), its own
    /// registry, every tool pushing to a new repository.
    fn push_413_row(&self) -> Row {
        let bundle = &self.large;
        let started = TestRegistry::try_start(RegistryOptions::plain())
            .map_err(|e| e.to_string())
            .and_then(|registry| {
                let proxy = pacto_test_support::FaultProxy::try_start(&registry.host())
                    .map_err(|e| e.to_string())?;
                proxy.set_max_body(Some(4 * 1024 * 1024));
                Ok((registry, proxy))
            });
        let (registry, proxy) = match started {
            Ok(pair) => pair,
            Err(error) => {
                return Row::new(
                    "push.large.413".to_owned(),
                    1,
                    format!("push {} through a 413-over-4-MiB proxy", bundle.label),
                    "loopback",
                    vec![(PACTO, Cell::Failed(error))],
                );
            }
        };
        let host = proxy.host();
        let runs = self.runs(3, false);
        let pacto = timed(&self.sandbox, runs, Some(&registry), |scratch| {
            let mut cmd = self.pacto(scratch);
            cmd.arg("--plain-http")
                .arg(&host)
                .arg("push")
                .arg(&bundle.dir)
                .arg(format!("{host}/{}:1.0.0", self.unique("push413-pacto")));
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, Some(&registry), |scratch| {
                let layout = self.fresh_layout(bundle, scratch)?;
                let mut cmd = self.skopeo(program);
                cmd.args(["copy", "--quiet", "--dest-tls-verify=false"])
                    .arg(format!("oci:{}:1.0.0", layout.display()))
                    .arg(format!(
                        "docker://{host}/{}:1.0.0",
                        self.unique("push413-skopeo")
                    ));
                Ok(job(cmd))
            })
        });
        let oras = with(&self.peers.oras, |python| {
            timed(&self.sandbox, runs, Some(&registry), |_| {
                let mut cmd = self.oras(python);
                cmd.env("BENCH_PLAIN_HTTP", "1")
                    .arg("push")
                    .arg(&host)
                    .arg(format!("{}:1.0.0", self.unique("push413-oras")))
                    .arg(&bundle.dir);
                Ok(job(cmd))
            })
        });
        drop(proxy);
        Row::new(
            "push.large.413".to_owned(),
            1,
            format!("push {} through a 413-over-4-MiB proxy", bundle.label),
            "loopback",
            vec![(PACTO, pacto), ("skopeo", skopeo), ("oras-py", oras)],
        )
        .with_note("413 proxy: a proxy in front of a plain-HTTP registry answers 413 to any request body over 4 MiB, as GHCR does; a tool that sends a blob in one request fails here (FAILED is the finding, not a bench error)")
    }

    fn startup_row(&self) -> Row {
        let runs = self.runs(15, true);
        let pacto = timed(&self.sandbox, runs, None, |_| {
            let mut cmd = self.sandbox.command(PACTO_BIN);
            cmd.arg("--version");
            Ok(job(cmd))
        });
        let skopeo = with(&self.peers.skopeo, |program| {
            timed(&self.sandbox, runs, None, |_| {
                let mut cmd = self.sandbox.command(program);
                cmd.arg("--version");
                Ok(job(cmd))
            })
        });
        let oras = with(&self.peers.oras, |python| {
            timed(&self.sandbox, runs, None, |_| {
                let mut cmd = self.oras(python);
                cmd.arg("import");
                Ok(job(cmd))
            })
        });
        let tar = with(&self.peers.tar, |tar| {
            timed(&self.sandbox, runs, None, |_| {
                let mut cmd = self.sandbox.command(tar);
                cmd.arg("--version");
                Ok(job(cmd))
            })
        });
        Row::new(
            "startup",
            4,
            "start-up (`--version`)",
            "local",
            vec![
                (PACTO, pacto),
                ("skopeo", skopeo),
                ("oras-py", oras),
                ("GNU tar", tar),
            ],
        )
        .with_note("start-up: oras-py is Python start-up plus `import oras.client`")
    }

    fn cache_row(&self, size: Size, net: Net, kind: CacheKind, rows: &[Row]) -> Row {
        let host = self.host(net);
        let bundle = self.bundle(size);
        let runs = self.runs_for(size, 7);
        let tagged = format!("{host}/{}:1.0.0", bundle.repo);
        let pinned = format!("{host}/{}@{}", bundle.repo, bundle.digest);
        let (first, then) = match kind {
            CacheKind::Tag => (&tagged, &tagged),
            CacheKind::Digest => (&pinned, &pinned),
            CacheKind::DigestAfterTag => (&tagged, &pinned),
        };
        let pacto = timed(&self.sandbox, runs, Some(&self.registry), |scratch| {
            // Untimed: a cold pull fills this run's cache.
            let mut fill = self.pacto(scratch);
            fill.arg("pull")
                .arg(first)
                .arg("-o")
                .arg(scratch.join("first"));
            run_ok(&mut fill)?;
            let mut cmd = self.pacto(scratch);
            cmd.arg("pull").arg(then).arg("-o").arg(scratch.join("out"));
            Ok(job(cmd))
        });
        let cold = rows
            .iter()
            .find(|row| row.key == format!("pull.{}.{}", size.key(), net.key()))
            .and_then(|row| row.cell(PACTO))
            .and_then(Cell::median);
        let detail = match (cold, pacto.median()) {
            (Some(cold), Some(warm)) if !warm.is_zero() => format!(
                "cold pull (registry) {} = {:.1}x this",
                report::millis(cold),
                cold.as_secs_f64() / warm.as_secs_f64()
            ),
            _ => "cold pull not measured".to_owned(),
        };
        Row::new(
            format!("cache.{}.{}.{}", kind.key(), size.key(), net.key()),
            5,
            format!("pull {}: {}", bundle.label, kind.label()),
            net.label(),
            vec![(PACTO, pacto)],
        )
        .with_detail(detail)
        .with_note(
            "cache: each run first pulls once, untimed, into an empty cache (by tag, or by digest for the digest hit), then times the second pull; a tag hit costs one HEAD to check the tag, a digest hit nothing; \"digest after tag\" pulls by digest what was pulled by tag",
        )
    }

    fn tool_info(&self) -> Vec<ToolInfo> {
        let pacto_version = Command::new(PACTO_BIN)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|e| format!("cannot run: {e}"));
        let mut tools = vec![ToolInfo {
            name: PACTO,
            detail: format!("{pacto_version} (release build of this tree)"),
            present: true,
        }];
        for tool in [
            &self.peers.skopeo,
            &self.peers.oras,
            &self.peers.tar,
            &self.peers.time,
        ] {
            tools.push(ToolInfo {
                name: tool.name,
                detail: tool.version.clone(),
                present: tool.program.is_ok(),
            });
        }
        tools
    }

    fn setup(&self, proxy_check: Duration, filters: &[String]) -> Vec<(&'static str, String)> {
        let registry_version = Command::new("docker-registry")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let runs = if self.quick {
            "one timed run per cell (PACTO_BENCH_QUICK=1): indicative only".to_owned()
        } else {
            "median of the timed runs: 7 for payments push, pull and cache rows, 9 for its pack \
             and unpack, 3 for every 40 MiB row, 5 for resolve, 3 for fetch-all on loopback (1 \
             for the peers' +20 ms loops, 3 for pacto-oci), 15 for start-up; an untimed warm-up \
             run first, except for 40 MiB and fetch-all rows"
                .to_owned()
        };
        let mut setup = vec![
            (
                "registry",
                format!(
                    "{registry_version}, HTTPS with a test CA, on 127.0.0.1; every client verifies the certificate"
                ),
            ),
            (
                "+20 ms",
                format!(
                    "a loopback TCP proxy delaying every byte 20 ms each way, with at most 4 MiB in flight per direction (a TCP window) and one more round trip before a new connection's first byte (the handshake); a new connection's first answer took {}",
                    report::millis(proxy_check)
                ),
            ),
            ("runs", runs),
        ];
        if !filters.is_empty() {
            setup.push((
                "rows",
                format!("only those matching {filters:?}: a partial run"),
            ));
        }
        setup
    }
}

fn section(net: Net) -> u8 {
    match net {
        Net::Loopback => 1,
        Net::Latency => 2,
    }
}

/// Runs `skopeo list-tags` and returns the tags.
fn list_tags(cmd: &mut Command) -> Result<Vec<String>, String> {
    let output = run_ok(cmd)?;
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("skopeo list-tags printed no JSON: {e}"))?;
    Ok(listing["Tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Today (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Howard Hinnant's days-to-civil.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The machine facts `nproc`, `free -g`, `uname -r` and the CPU model give.
fn machine() -> Vec<(&'static str, String)> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = read("/proc/meminfo");
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let os = read("/etc/os-release")
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown OS".to_owned());
    let load = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        ("cores", cores.to_string()),
        ("memory", format!("{} GiB", memory_kib / (1024 * 1024))),
        (
            "kernel",
            read("/proc/sys/kernel/osrelease").trim().to_owned(),
        ),
        ("cpu", cpu),
        ("os", os),
        ("load average (1, 5, 15 min) at the start", load),
    ]
}
