//! Running the real `pacto-oci` binary in isolated sandboxes, and what every run must hold.
//!
//! Every run of the binary in this suite goes through [`Sandbox::run_with`], which bounds it
//! in time and checks its whole output: no panic, and none of the suite's secrets
//! ([`SECRETS`]), whatever the command and log level.

use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// User names the suite authenticates with.
pub(crate) const USERS: [&str; 2] = ["e2e-alice", "e2e-bob"];
/// The password of the basic-auth and token registries of the suite.
pub(crate) const PASSWORD: &str = "e2e-Pw-Secret-9f4c71d2";
/// A wrong password, offered before the right one or alone.
pub(crate) const WRONG_PASSWORD: &str = "e2e-Wrong-Secret-0c4d2e77";
/// A bearer token no registry accepts, offered with `--token`.
pub(crate) const TOKEN: &str = "e2e-Token-Secret-5e6a19b3";

/// The longest any single run of the binary may take before the test fails.
pub(crate) const RUN_LIMIT: Duration = Duration::from_secs(180);

/// Every string that must never appear in any output of the binary: the secrets, the
/// `Authorization: Basic` values built from them, and the start of any JWT (the token
/// registries issue JWTs, which are secrets too).
pub(crate) fn secrets() -> &'static [String] {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut all = vec!["eyJ".to_owned()];
        for secret in [PASSWORD, WRONG_PASSWORD, TOKEN] {
            all.push(secret.to_owned());
            for user in USERS {
                let basic = format!("{user}:{secret}");
                all.push(base64::engine::general_purpose::STANDARD.encode(basic));
            }
        }
        all
    })
}

/// The `pacto-oci` binary of this build: `<target>/<profile>/pacto-oci`, next to the
/// directory holding this test executable (`<target>/<profile>/deps/e2e-<hash>`).
///
/// A dependency on `pacto-oci-cli` cannot make cargo build it (cargo builds only the library
/// of a dependency, and the CLI has none). `cargo test --workspace` and
/// `cargo nextest run --workspace` build it anyway, because `pacto-oci-cli` has integration
/// tests. When this suite runs alone and the binary is missing or older than any source
/// file cargo's dep-info lists for it, it is built here, once, with the same cargo, target
/// directory and profile.
pub(crate) fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the path of the test executable");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lives in <target>/<profile>/deps");
        let binary = profile_dir.join("pacto-oci");
        if !is_fresh(&binary, &profile_dir.join("pacto-oci.d")) {
            build_binary(profile_dir);
        }
        assert!(
            binary.is_file(),
            "{} does not exist after building it: build it with `cargo build -p pacto-oci-cli`",
            binary.display()
        );
        binary
    })
}

/// Whether `binary` exists and is newer than every file its cargo dep-info names, and than
/// `Cargo.lock`.
fn is_fresh(binary: &Path, dep_info: &Path) -> bool {
    let mtime = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let Some(built) = mtime(binary) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return false;
    };
    // `target: dep dep ...`, spaces inside paths escaped with a backslash.
    let Some((_, deps)) = text.split_once(": ") else {
        return false;
    };
    let deps = deps.replace("\\ ", "\u{0}");
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    deps.split_whitespace()
        .map(|d| PathBuf::from(d.replace('\u{0}', " ")))
        .chain(std::iter::once(lock))
        .all(|dep| mtime(&dep).is_some_and(|m: SystemTime| m <= built))
}

fn build_binary(profile_dir: &Path) {
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "pacto-oci-cli",
            "--bin",
            "pacto-oci",
        ])
        .arg("--profile")
        .arg(profile)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build pacto-oci: {e}"));
    assert!(
        status.success(),
        "building pacto-oci failed ({status}); run `cargo build -p pacto-oci-cli` to see why"
    );
}

/// One finished run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Run {
    /// Stdout as one JSON document.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code.
    pub(crate) fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a failure: exit code, the JSON error kind (the run must use `--json`), a
    /// one-line `error:` on stderr.
    pub(crate) fn expect_error(self, code: i32, kind: &str) -> Self {
        let run = self.expect(code);
        let document = run.json();
        assert_eq!(document["error"]["kind"], kind, "{document}");
        assert!(
            document["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{document}"
        );
        assert!(
            run.stderr.starts_with("error: "),
            "one-line error on stderr: {}",
            run.stderr
        );
        run
    }

    /// The JSON error message (the run must use `--json` and have failed).
    pub(crate) fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// What is at a path of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// A sandbox: its own HOME, config, cache and docker config, so nothing leaks in or out.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("pacto-e2e-")
            .tempdir()
            .expect("a temporary directory");
        for sub in ["home", "config", "cache", "docker", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("sandbox directories");
        }
        Sandbox { dir }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// The default cache root of this sandbox (`$XDG_CACHE_HOME/pacto/oci`).
    pub(crate) fn cache_root(&self) -> PathBuf {
        self.path("cache/pacto/oci")
    }

    /// The binary with `args`, an empty environment but for PATH and the sandbox's
    /// directories, run in `work/`.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        self.command_os(args)
    }

    /// [`Sandbox::command`] with arguments that need not be UTF-8.
    pub(crate) fn command_os<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("DOCKER_CONFIG", self.path("docker"))
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_with(self.command(args))
    }

    /// Runs `cmd` to completion within [`RUN_LIMIT`] and checks its output.
    pub(crate) fn run_with(&self, cmd: Command) -> Run {
        run_within(cmd, RUN_LIMIT)
    }

    /// Every path under the sandbox (relative, `/`-separated) and what it is; symlinks are
    /// not followed.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Kind> {
        snapshot(self.root())
    }

    /// Paths that are in the sandbox now and were not in `before`.
    pub(crate) fn new_paths(&self, before: &BTreeMap<String, Kind>) -> Vec<(String, Kind)> {
        self.snapshot()
            .into_iter()
            .filter(|(path, kind)| before.get(path) != Some(kind))
            .collect()
    }
}

/// Every path under `root` and what it is, without following symlinks.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, Kind> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Kind>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = if meta.file_type().is_symlink() {
                Kind::Symlink
            } else if meta.is_dir() {
                Kind::Dir
            } else if meta.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            let rel = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            into.insert(rel, kind);
            if kind == Kind::Dir {
                walk(root, &path, into);
            }
        }
    }
    let mut all = BTreeMap::new();
    walk(root, root, &mut all);
    all
}

/// `cmd` (program, arguments, environment, directory) run by `/bin/sh` under `umask`
/// (octal, e.g. `"022"`), so the binary starts with exactly that umask.
pub(crate) fn under_umask(cmd: &Command, umask: &str) -> Command {
    let mut wrapped = Command::new("/bin/sh");
    wrapped
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// Spawns `cmd` with piped output.
pub(crate) fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()))
}

/// Waits for `child` (bounded by `limit`: killed and failed past it), then checks its output.
pub(crate) fn finish(child: Child, started: Instant, limit: Duration) -> Run {
    let (run, stdout) = wait(child, started, limit);
    let run = Run {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        ..run
    };
    check_output(&run);
    run
}

/// Runs `cmd`, whose stdout is binary data, within [`RUN_LIMIT`]: returns the run (its
/// `stdout` empty, its stderr checked as every output is) and the bytes of stdout, which
/// are searched for the secrets and a panic only.
pub(crate) fn run_binary(cmd: Command) -> (Run, Vec<u8>) {
    let (run, stdout) = wait(spawn(cmd), Instant::now(), RUN_LIMIT);
    check_output(&run);
    let text = String::from_utf8_lossy(&stdout);
    assert!(!text.contains("panicked at"), "pacto-oci panicked: {text}");
    for secret in secrets() {
        assert!(!text.contains(secret.as_str()), "a secret on stdout");
    }
    (run, stdout)
}

/// Waits for `child` within `limit`; the run (stdout empty) and the bytes of stdout.
fn wait(mut child: Child, started: Instant, limit: Duration) -> (Run, Vec<u8>) {
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let stdout = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out.read_to_end(&mut bytes);
        bytes
    });
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        bytes
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("pacto-oci did not finish within {limit:?}: it hangs");
            }
            Err(e) => panic!("cannot wait for pacto-oci: {e}"),
        }
    };
    let elapsed = started.elapsed();
    let bytes = |handle: std::thread::JoinHandle<Vec<u8>>| handle.join().expect("output reader");
    let run = Run {
        // A signal leaves no code: -1.
        code: status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&bytes(stderr)).into_owned(),
        elapsed,
    };
    (run, bytes(stdout))
}

/// Runs `cmd` within `limit` and checks its output.
pub(crate) fn run_within(cmd: Command, limit: Duration) -> Run {
    let started = Instant::now();
    finish(spawn(cmd), started, limit)
}

/// What every output of the binary must hold: no panic, no secret.
pub(crate) fn check_output(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains("panicked at") && !text.contains("RUST_BACKTRACE"),
            "pacto-oci panicked; {name}:\n{text}"
        );
        // Output goes to a pipe here: no terminal colour codes.
        assert!(
            !text.contains('\u{1b}'),
            "terminal escape codes on {name}, which is not a terminal:\n{text}"
        );
        for secret in secrets() {
            assert!(
                !text.contains(secret.as_str()),
                "a secret ({secret:?}) appears on {name}:\n{text}"
            );
        }
    }
}

/// Runs the binary with `args` under `umask MASK` (a `/bin/sh` that sets it, then execs).
pub(crate) fn run_with_umask(sandbox: &Sandbox, mask: &str, args: &[&str]) -> Run {
    let mut cmd = sandbox.command(args);
    cmd.current_dir(sandbox.work());
    sandbox.run_with(under_umask(&cmd, mask))
}

/// The permission bits of `path` (following symlinks).
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// Polls `condition` every 10 ms until it holds; fails the test after `limit`.
pub(crate) fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A deterministic pseudo-random byte stream (xorshift), incompressible for gzip.
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes a bundle directory `name`-`version` under `dir` with `pacto.yaml` and `extra`
/// files, and returns its path.
pub(crate) fn write_bundle(
    dir: &Path,
    name: &str,
    version: &str,
    extra: &[(&str, &[u8])],
) -> PathBuf {
    let root = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&root).expect("bundle directory");
    let yaml = format!(
        "pactoVersion: \"1.0\"\nservice:\n  name: {name}\n  version: {version}\n  owner: team-e2e\n"
    );
    std::fs::write(root.join("pacto.yaml"), yaml).expect("pacto.yaml");
    for (path, bytes) in extra {
        let file = root.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("bundle subdirectory");
        }
        std::fs::write(file, bytes).expect("bundle file");
    }
    root
}

/// Asserts that `dir` holds exactly the files of the bundle directory `source` (relative
/// path -> bytes), nothing else.
pub(crate) fn assert_same_files(source: &Path, dir: &Path) {
    let files = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        snapshot(root)
            .into_iter()
            .filter(|(_, kind)| *kind == Kind::File)
            .map(|(rel, _)| {
                let bytes = std::fs::read(root.join(&rel)).expect("readable file");
                (rel, bytes)
            })
            .collect()
    };
    let expected = files(source);
    let actual = files(dir);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "the pulled files"
    );
    assert!(
        expected == actual,
        "the pulled bytes differ from the pushed ones"
    );
}

/// A request a [`FakeServer`] received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    /// The request target as sent: a path, or an absolute URL when spoken to as a proxy.
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Received {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a [`FakeServer`] answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Send the body chunked, without `Content-Length`.
    pub(crate) chunked: bool,
}

impl Reply {
    pub(crate) fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chunked: false,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn body(mut self, body: Vec<u8>, chunked: bool) -> Reply {
        self.body = body;
        self.chunked = chunked;
        self
    }
}

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

/// A minimal HTTP/1.1 server on `127.0.0.1` that records every request (also the bytes of
/// anything that is not HTTP, such as a TLS handshake, as method `<not http>`) before
/// answering it with `handler`. It plays what the real registry cannot: a registry that
/// serves what distribution refuses to store, and an HTTP proxy in front of hosts that must
/// never be reached. Stopped on drop.
pub(crate) struct FakeServer {
    addr: std::net::SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeServer {
    pub(crate) fn start(
        handler: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> FakeServer {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handler: std::sync::Arc<Handler> = std::sync::Arc::new(handler);
        let (thread_log, thread_stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (log, handler) = (thread_log.clone(), handler.clone());
                std::thread::spawn(move || serve(stream, &log, &*handler));
            }
        });
        FakeServer { addr, log, stop }
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn host(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

fn serve(stream: std::net::TcpStream, log: &std::sync::Mutex<Vec<Received>>, handler: &Handler) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                // Not text (e.g. a TLS ClientHello): record that something arrived.
                if !line.is_empty() || !reader.buffer().is_empty() {
                    push(
                        log,
                        Received {
                            method: "<not http>".into(),
                            target: String::new(),
                            headers: Vec::new(),
                        },
                    );
                }
                return;
            }
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            push(
                log,
                Received {
                    method: "<not http>".into(),
                    target: line.clone(),
                    headers: Vec::new(),
                },
            );
            return;
        };
        if !version.starts_with("HTTP/") {
            push(
                log,
                Received {
                    method: "<not http>".into(),
                    target: line.clone(),
                    headers: Vec::new(),
                },
            );
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let request = Received {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
        };
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        push(log, request.clone());
        let reply = if request.method == "CONNECT" {
            Reply::new(403)
        } else {
            handler(&request)
        };
        let mut head = format!("HTTP/1.1 {} Fake\r\n", reply.status);
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if reply.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        } else {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
        }
        let mut out = head.into_bytes();
        if request.method != "HEAD" {
            if reply.chunked {
                for chunk in reply.body.chunks(64 * 1024) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            } else {
                out.extend_from_slice(&reply.body);
            }
        }
        if writer.write_all(&out).is_err() || request.method == "CONNECT" {
            return;
        }
    }
}

fn push(log: &std::sync::Mutex<Vec<Received>>, request: Received) {
    log.lock().unwrap_or_else(|p| p.into_inner()).push(request);
}
