//! Running the binary in an isolated environment.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A sandbox: its own HOME, config, cache and docker config, so nothing leaks in or out.
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code and, for failures, the JSON error kind.
    pub(crate) fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn expect_error(self, code: i32, kind: &str) -> Self {
        let run = self.expect(code);
        let document = run.json();
        assert_eq!(document["error"]["kind"], kind, "{document}");
        assert!(
            document["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        // Warnings (a push's tag that differs from service.version) may come first; the
        // failure itself is one `error: ` line.
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|line| !line.starts_with("warning: "))
            .collect();
        assert!(
            errors.len() == 1 && errors[0].starts_with("error: "),
            "one-line error on stderr: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["home", "config", "cache", "docker", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Sandbox { dir }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn work(&self) -> PathBuf {
        self.path("work")
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pacto-oci"));
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

    pub(crate) fn run_with(&self, mut cmd: Command) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("pacto-oci runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// The example bundle of `version`, from `examples/bundles`.
    pub(crate) fn example(version: &str) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/bundles")
            .join(format!("payments-{version}"))
            .display()
            .to_string()
    }
}

pub(crate) fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}
