//! Running the tools: an isolated environment, timed runs, request counts, peak memory.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pacto_test_support::TestRegistry;

/// What one tool measured for one row of the table.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    /// Wall times of the timed runs (a warm-up run before them is not counted).
    Timed {
        /// Every timed run, in order.
        samples: Vec<Duration>,
        /// Registry requests per run (the median over the runs), when a registry was involved.
        requests: Option<usize>,
    },
    /// Peak resident memory, in bytes.
    Memory(u64),
    /// The tool is not installed (the reason says how to get it).
    Skipped(String),
    /// The tool ran and failed.
    Failed(String),
}

impl Cell {
    /// The median wall time of a timed cell.
    pub(crate) fn median(&self) -> Option<Duration> {
        let Cell::Timed { samples, .. } = self else {
            return None;
        };
        let mut sorted = samples.clone();
        sorted.sort();
        let n = sorted.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(sorted[n / 2]),
            _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
        }
    }

    /// Registry requests per run of a timed cell.
    pub(crate) fn requests(&self) -> Option<usize> {
        match self {
            Cell::Timed { requests, .. } => *requests,
            _ => None,
        }
    }
}

/// A tool the comparison runs, and whether it is here.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    /// Its name in the table.
    pub(crate) name: &'static str,
    /// The program to run, or why it is missing.
    pub(crate) program: Result<PathBuf, String>,
    /// `TOOL --version`, for the report.
    pub(crate) version: String,
}

impl Tool {
    /// A skipped cell when the tool is missing.
    pub(crate) fn missing(&self) -> Option<Cell> {
        self.program
            .as_ref()
            .err()
            .map(|why| Cell::Skipped(why.clone()))
    }
}

/// A private home, config, cache and temp directory for every process, so nothing from the
/// user's environment (credentials, caches, proxies) leaks into the numbers.
#[derive(Debug)]
pub(crate) struct Sandbox {
    root: PathBuf,
    next: AtomicU64,
}

impl Sandbox {
    /// A sandbox under `root` (created).
    pub(crate) fn new(root: &Path) -> Result<Sandbox, String> {
        for sub in ["home", "config", "cache", "docker", "tmp", "scratch"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Ok(Sandbox {
            root: root.to_path_buf(),
            next: AtomicU64::new(0),
        })
    }

    /// A path under the sandbox root.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// A new, empty directory under `scratch/`, removed by [`Sandbox::clear_scratch`].
    pub(crate) fn scratch(&self) -> Result<PathBuf, String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.root.join("scratch").join(n.to_string());
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Removes every scratch directory (outputs of earlier runs), so large runs do not fill
    /// the disk.
    pub(crate) fn clear_scratch(&self) -> Result<(), String> {
        let dir = self.root.join("scratch");
        std::fs::remove_dir_all(&dir)
            .and_then(|()| std::fs::create_dir_all(&dir))
            .map_err(|e| format!("cannot clear {}: {e}", dir.display()))
    }

    /// `program` with a cleared environment pointing at the sandbox.
    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("DOCKER_CONFIG", self.path("docker"))
            .env("REGISTRY_AUTH_FILE", self.path("docker/auth.json"))
            .env("TMPDIR", self.path("tmp"))
            .current_dir(self.path("scratch"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// Runs `cmd` to completion; a failure is an error with the command and its stderr.
pub(crate) fn run_ok(cmd: &mut Command) -> Result<Output, String> {
    let output = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failure(cmd, &output))
    }
}

fn failure(cmd: &Command, output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "`{}` failed ({}): {}",
        show(cmd),
        output.status,
        tail.join(" / ")
    )
}

/// The command line, for messages.
pub(crate) fn show(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// How many runs to time, and whether an untimed warm-up run comes first (to load the
/// program and its files into the page cache).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Runs {
    /// Timed runs.
    pub(crate) timed: usize,
    /// One untimed run first.
    pub(crate) warmup: bool,
}

/// The work of one timed run: usually one process, sometimes a sequence a script would run.
pub(crate) type Job<'a> = Box<dyn FnOnce() -> Result<(), String> + 'a>;

/// One process as a [`Job`]: it must exit 0.
pub(crate) fn job(mut cmd: Command) -> Job<'static> {
    Box::new(move || run_ok(&mut cmd).map(drop))
}

/// Times the runs of the job `make` builds (given a fresh scratch directory, in which it may
/// also prepare untimed state), counting the requests `registry` served during each run.
pub(crate) fn timed<'a>(
    sandbox: &Sandbox,
    runs: Runs,
    registry: Option<&TestRegistry>,
    mut make: impl FnMut(&Path) -> Result<Job<'a>, String>,
) -> Cell {
    let mut samples = Vec::with_capacity(runs.timed);
    let mut requests = Vec::with_capacity(runs.timed);
    let first = usize::from(!runs.warmup);
    for run in first..=runs.timed {
        let outcome = sandbox.scratch().and_then(|scratch| {
            let work = make(&scratch)?;
            let mark = registry.map(TestRegistry::mark);
            let start = Instant::now();
            work()?;
            let elapsed = start.elapsed();
            let count = match (registry, mark) {
                (Some(registry), Some(mark)) => Some(
                    registry
                        .try_requests_since(mark)
                        .map_err(|e| format!("cannot read the registry access log: {e}"))?
                        .len(),
                ),
                _ => None,
            };
            Ok((elapsed, count))
        });
        let cleared = sandbox.clear_scratch();
        match outcome.and_then(|sample| cleared.map(|()| sample)) {
            Ok(_) if run == 0 => {}
            Ok((elapsed, count)) => {
                samples.push(elapsed);
                requests.extend(count);
            }
            Err(error) => return Cell::Failed(error),
        }
    }
    requests.sort_unstable();
    Cell::Timed {
        samples,
        requests: requests.get(requests.len() / 2).copied(),
    }
}

/// The peak resident memory of one run of the command `make` builds, measured by GNU time
/// (`/usr/bin/time -f %M`), which reads it from `wait4`.
pub(crate) fn peak_rss(
    sandbox: &Sandbox,
    time: &Tool,
    make: impl FnOnce(&Path) -> Result<Command, String>,
) -> Cell {
    let time_program = match &time.program {
        Ok(program) => program,
        Err(why) => return Cell::Skipped(why.clone()),
    };
    let outcome = sandbox.scratch().and_then(|scratch| {
        let inner = make(&scratch)?;
        let report = scratch.join("rss.txt");
        let mut cmd = sandbox.command(time_program);
        cmd.arg("-f").arg("%M").arg("-o").arg(&report);
        cmd.arg(inner.get_program()).args(inner.get_args());
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
        run_ok(&mut cmd)?;
        let text = std::fs::read_to_string(&report)
            .map_err(|e| format!("cannot read {}: {e}", report.display()))?;
        let kib: u64 = text
            .lines()
            .rev()
            .find_map(|line| line.trim().parse().ok())
            .ok_or_else(|| format!("GNU time wrote no peak memory: {text:?}"))?;
        Ok(kib * 1024)
    });
    let cleared = sandbox.clear_scratch();
    match outcome.and_then(|bytes| cleared.map(|()| bytes)) {
        Ok(bytes) => Cell::Memory(bytes),
        Err(error) => Cell::Failed(error),
    }
}
