//! Test fixtures: a private directory tree per test (home, XDG config, Docker
//! config, a `bin` directory on an explicit `PATH`), fake executables, and a
//! per-thread capture of every tracing event at TRACE level.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use pacto_auth::{CredentialOptions, Keychain, KeychainConfig};
use tempfile::TempDir;
use tracing_subscriber::fmt::MakeWriter;

/// One test's private file system.
pub(crate) struct Env {
    dir: TempDir,
}

impl Env {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let env = Self { dir };
        for sub in ["home", "xdg", "docker", "bin"] {
            mkdir(&env.root().join(sub));
        }
        env
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub(crate) fn xdg(&self) -> PathBuf {
        self.root().join("xdg")
    }

    /// Where pacto's config lives for this env (`$XDG_CONFIG_HOME/pacto/config.json`).
    pub(crate) fn pacto_config(&self) -> PathBuf {
        self.xdg().join("pacto").join("config.json")
    }

    pub(crate) fn docker_dir(&self) -> PathBuf {
        self.root().join("docker")
    }

    pub(crate) fn bin(&self) -> PathBuf {
        self.root().join("bin")
    }

    /// `bin` first, then the process's `PATH` (so scripts find `sh`, `cat`, `sleep`).
    pub(crate) fn path(&self) -> OsString {
        let mut dirs = vec![self.bin()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).unwrap_or_else(|e| panic!("cannot join PATH: {e}"))
    }

    /// Every location explicit, nothing from the process environment.
    pub(crate) fn config(&self) -> KeychainConfig {
        KeychainConfig::default()
            .with_pacto_config(self.pacto_config())
            .with_docker_config_dir(self.docker_dir())
            .with_helper_timeout(Duration::from_secs(10))
            .with_path(self.path())
    }

    pub(crate) fn keychain(&self, options: CredentialOptions) -> Keychain {
        Keychain::with_config(options, self.config())
    }

    pub(crate) fn write_pacto_config(&self, contents: &str) {
        write(&self.pacto_config(), contents);
    }

    pub(crate) fn write_docker_config(&self, contents: &str) {
        write(&self.docker_dir().join("config.json"), contents);
    }

    /// A `#!/bin/sh` script called `name` in `bin`.
    pub(crate) fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.bin().join(name);
        write_executable(&path, &format!("#!/bin/sh\n{body}\n"));
        path
    }

    /// A fake `docker-credential-<name>` that records each call (one line in
    /// `calls/<name>`), what it got on stdin (`stdin/<name>`) and its arguments
    /// (`args/<name>`), then runs `body`.
    pub(crate) fn helper(&self, name: &str, body: &str) -> PathBuf {
        for sub in ["calls", "stdin", "args"] {
            mkdir(&self.root().join(sub));
        }
        let root = self.root().display();
        self.script(
            &format!("docker-credential-{name}"),
            &format!(
                "echo call >> '{root}/calls/{name}'\n\
                 echo \"$@\" > '{root}/args/{name}'\n\
                 cat > '{root}/stdin/{name}'\n\
                 {body}"
            ),
        )
    }

    /// A fake `gh` that records each call in `calls/gh`, then runs `body`.
    pub(crate) fn gh(&self, body: &str) -> PathBuf {
        mkdir(&self.root().join("calls"));
        let root = self.root().display();
        self.script("gh", &format!("echo \"$@\" >> '{root}/calls/gh'\n{body}"))
    }

    /// How many times the fake program `name` ran.
    pub(crate) fn calls(&self, name: &str) -> usize {
        match std::fs::read_to_string(self.root().join("calls").join(name)) {
            Ok(text) => text.lines().count(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => panic!("cannot read the call log of {name}: {e}"),
        }
    }

    /// What the fake helper `name` read on stdin.
    pub(crate) fn helper_stdin(&self, name: &str) -> String {
        read_to_string(&self.root().join("stdin").join(name))
    }

    /// The arguments the fake helper `name` got.
    pub(crate) fn helper_args(&self, name: &str) -> String {
        read_to_string(&self.root().join("args").join(name))
    }
}

pub(crate) fn mkdir(path: &Path) {
    std::fs::create_dir_all(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
}

pub(crate) fn write(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        mkdir(parent);
    }
    std::fs::write(path, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

pub(crate) fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub(crate) fn read_to_string(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

/// The names in `dir`, sorted.
pub(crate) fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Writes an executable through a child process, so this (multi-threaded) test
/// process never holds a writable descriptor of a file it is about to execute
/// (which would make a concurrent `exec` fail with ETXTBSY).
fn write_executable(path: &Path, contents: &str) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("cat > \"$1\" && chmod 755 \"$1\"")
        .arg("sh")
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sh to write {}: {e}", path.display()));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(contents.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("cannot wait for sh: {e}"));
    assert!(
        status.success(),
        "writing {} failed: {status}",
        path.display()
    );
}

/// Makes `dir` refuse new entries for this process, also when it runs as root
/// (where mode bits do not apply): mode 0500, plus the immutable attribute when
/// the mode alone is not enough. Undone on drop so the temp dir can be removed.
pub(crate) struct ReadOnlyDir {
    dir: PathBuf,
    immutable: bool,
}

impl ReadOnlyDir {
    pub(crate) fn new(dir: &Path) -> Self {
        set_mode(dir, 0o500);
        let mut guard = Self {
            dir: dir.to_owned(),
            immutable: false,
        };
        if can_create_in(dir) {
            let status = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .unwrap_or_else(|e| {
                    panic!("this test runs with the privilege to ignore directory modes and needs `chattr` (e2fsprogs) to make {} read-only: {e}", dir.display())
                });
            assert!(
                status.success(),
                "chattr +i {} failed ({status}): run the tests as a non-root user, or on a file system that supports the immutable attribute",
                dir.display()
            );
            guard.immutable = true;
            assert!(
                !can_create_in(dir),
                "{} is still writable after chmod 0500 and chattr +i",
                dir.display()
            );
        }
        guard
    }
}

impl Drop for ReadOnlyDir {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.dir).status();
        }
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
    }
}

fn can_create_in(dir: &Path) -> bool {
    let probe = dir.join(".write-probe");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

// ---- log capture ---------------------------------------------------------------

thread_local! {
    static CAPTURE: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
}

/// One global TRACE-level subscriber for the whole test binary; each event goes to
/// the capture buffer of the thread that emitted it, if that thread has one. (A
/// global subscriber avoids the callsite-interest races of per-thread defaults.)
fn install_subscriber() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(ThreadWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .unwrap_or_else(|e| panic!("cannot install the test subscriber: {e}"));
    });
}

/// Everything traced on this thread while the capture is alive. Use it with the
/// current-thread runtime (`#[tokio::test]`'s default) so every event is emitted
/// on the test's thread.
pub(crate) struct Capture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    pub(crate) fn start() -> Self {
        install_subscriber();
        let buffer = Arc::new(Mutex::new(Vec::new()));
        CAPTURE.with(|slot| *slot.borrow_mut() = Some(Arc::clone(&buffer)));
        Self { buffer }
    }

    pub(crate) fn text(&self) -> String {
        let bytes = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURE.with(|slot| *slot.borrow_mut() = None);
    }
}

struct ThreadWriter;

struct BufferWriter(Option<Arc<Mutex<Vec<u8>>>>);

impl io::Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(buffer) = &self.0 {
            buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for ThreadWriter {
    type Writer = BufferWriter;

    fn make_writer(&'a self) -> Self::Writer {
        BufferWriter(CAPTURE.with(|slot| slot.borrow().clone()))
    }
}
