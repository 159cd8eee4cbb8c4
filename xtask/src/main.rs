//! `cargo xtask`: the one entry point for automation in this workspace.
//!
//! Every task prints the commands it runs, fails loudly with the failing
//! command, and says how to install a missing tool.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "xtask is a CLI")]

mod bench;
mod conformance;
mod demo;
mod deny;
mod fuzz;
mod layering;
mod man;
mod package;
mod registry;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  ci        fmt check, layering, conformance, clippy -D warnings, tests, demo, cargo-deny,
            packaging, docs (what .ci/run runs)
  test      every test in the workspace (installs docker-registry and skopeo when missing and root)
  deny      cargo-deny fully offline against the advisory-db snapshot in ../shared
  layering  check that every crate depends only on crates below it
  man       the man pages of pacto-oci (one per subcommand) into target/man (--out DIR)
  package   cargo package every published crate, offline, checking LICENSE and README.md
  conformance  the vendored Go oracle vectors (crates/pacto-ref/tests/data) match ../shared's
  bench     the criterion benches, then pacto-oci vs skopeo, oras-py and tar (installs missing
            peers when root); reports go to target/criterion and target/bench, the table to
            docs/performance.md
  demo      the main job through the real CLI: pack, push, list, resolve, pull the example
            bundles in a local OCI image layout under target/demo (--registry HOST:PORT: a registry)
  registry  a throwaway local registry on 127.0.0.1 (--port N, default 5000) for manual use
  fuzz      the cargo-fuzz targets in fuzz/ (--seconds N each; needs cargo-fuzz, run with
            RUSTC_BOOTSTRAP=1 on this stable toolchain)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "ci" => ci(),
        "test" => test(),
        "deny" => deny::task(),
        "fuzz" => fuzz::run_fuzz(rest),
        "layering" => layering::task(),
        "man" => man::task(rest),
        "conformance" => conformance::task(),
        "package" => package::task(),
        "bench" => bench::task(rest),
        "demo" => demo::run_demo(rest),
        "registry" => registry::run_registry(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// `cargo`, as the invoking cargo named itself.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, echoing it first; a non-zero exit is an error naming the command.
pub(crate) fn run(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

pub(crate) fn show(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn ci() -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    layering::task()?;
    conformance::task()?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    test()?;
    // The README's main-job command is part of the gate.
    demo::run_demo(&[])?;
    deny::task()?;
    package::task()?;
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn test() -> Result {
    tools::ensure_test_tools()?;
    if tools::have("cargo-nextest") {
        run(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]))?;
    } else {
        eprintln!(
            "xtask: cargo-nextest not found, using cargo test (install: cargo install --locked cargo-nextest)"
        );
        run(cargo().args(["test", "--workspace", "--locked", "--no-fail-fast"]))?;
    }
    // nextest does not run doctests.
    run(cargo().args(["test", "--workspace", "--locked", "--doc"]))
}
