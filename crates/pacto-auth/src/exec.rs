//! Running external credential programs (`gh`, `docker-credential-*`) safely:
//! found on an explicit `PATH`, bounded in time and output, killed when late with
//! everything they started.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;

/// Output beyond this many bytes makes the response unusable (no credential is
/// that long); the rest is drained and discarded.
const MAX_OUTPUT: u64 = 64 * 1024;

/// How a program run ended, when it ran to completion.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Standard output, `None` when it was longer than [`MAX_OUTPUT`].
    pub(crate) stdout: Option<Vec<u8>>,
}

/// Why a program gave no output.
#[derive(Debug)]
pub(crate) enum RunError {
    /// It could not be started.
    Spawn(io::Error),
    /// Talking to it failed.
    Io(io::Error),
    /// It did not finish in time and was killed.
    TimedOut(Duration),
}

/// The `PATH` to search: the configured one, else the process's.
pub(crate) fn search_path(configured: Option<&OsStr>) -> Option<OsString> {
    configured
        .map(OsStr::to_owned)
        .or_else(|| std::env::var_os("PATH"))
}

/// The first executable regular file called `name` in a directory of `path`.
/// Empty and relative `PATH` entries are skipped (they would mean "wherever the
/// process happens to be").
pub(crate) fn find_executable(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Kills a program's whole process group unless disarmed: on a timeout, a failure, or
/// when the run is dropped half-way. A helper is often a script whose own children (a
/// `sleep`, a keyring client) would outlive it and keep its output pipe open.
struct GroupKiller {
    /// The group's id: the pid of the program, which leads it.
    group: Option<u32>,
}

impl GroupKiller {
    fn kill(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        #[cfg(unix)]
        {
            let pid = i32::try_from(group)
                .ok()
                .and_then(rustix::process::Pid::from_raw);
            if let Some(pid) = pid {
                // ESRCH (the group is already empty) is the only expected failure.
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
        #[cfg(not(unix))]
        let _ = group;
    }

    fn disarm(&mut self) {
        self.group = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `program args`, writes `input` to its standard input and collects its
/// standard output. Standard error is discarded. The child sees `path_env` as its
/// `PATH` when given.
///
/// The child leads a new process group (on Unix). After `timeout`, or when talking to
/// it fails, or when this future is dropped, the whole group is killed with `SIGKILL`
/// (the program and every process it started that stayed in its group) and the child
/// is reaped; the group is killed while the child is not yet reaped, so its id cannot
/// have been reused. A program that finishes in time keeps whatever it left behind
/// (a credential agent it started, say).
pub(crate) async fn run(
    program: &Path,
    args: &[&str],
    input: &[u8],
    path_env: Option<&OsStr>,
    timeout: Duration,
) -> Result<Finished, RunError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = path_env {
        command.env("PATH", path);
    }
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let mut killer = GroupKiller { group: child.id() };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();

    let outcome = tokio::time::timeout(timeout, async {
        if let Some(mut stdin) = stdin {
            // A helper that exits without reading its input closes the pipe; what it
            // printed and its exit status still decide the outcome.
            let _ = stdin.write_all(input).await;
            let _ = stdin.shutdown().await;
        }
        let read = async {
            match stdout {
                Some(stdout) => read_capped(stdout).await,
                None => Ok(Some(Vec::new())),
            }
        };
        let (stdout, status) = tokio::join!(read, child.wait());
        Ok::<_, io::Error>(Finished {
            status: status?,
            stdout: stdout?,
        })
    })
    .await;

    match outcome {
        Ok(Ok(finished)) => {
            killer.disarm();
            Ok(finished)
        }
        Ok(Err(err)) => {
            killer.kill();
            let _ = child.kill().await;
            Err(RunError::Io(err))
        }
        Err(_elapsed) => {
            // SIGKILL the group and reap, so no helper (nor anything it started) outlives
            // the lookup that started it.
            killer.kill();
            let _ = child.kill().await;
            Err(RunError::TimedOut(timeout))
        }
    }
}

/// Reads at most [`MAX_OUTPUT`] bytes; `None` (after draining the rest) when there
/// is more.
async fn read_capped(reader: impl AsyncRead + Unpin) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut limited = reader.take(MAX_OUTPUT + 1);
    limited.read_to_end(&mut buf).await?;
    if buf.len() as u64 > MAX_OUTPUT {
        let mut rest = limited.into_inner();
        tokio::io::copy(&mut rest, &mut tokio::io::sink()).await?;
        buf.iter_mut().for_each(|b| *b = 0);
        return Ok(None);
    }
    Ok(Some(buf))
}
