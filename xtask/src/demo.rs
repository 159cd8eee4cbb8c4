//! `cargo xtask demo [--registry HOST:PORT]`: the main job, through the real CLI.
//!
//! Packs and pushes the example `payments` bundles (1.0.0, 1.1.0, 2.0.0-rc.1, 2.0.0) into a
//! local OCI image layout under `target/demo/` (no server needed) or into a registry, lists
//! the versions, resolves `^1` and the unconstrained highest, and pulls one into
//! `target/demo/out/`. Every step prints the command it runs and its output; the resolved
//! versions are checked, so the demo fails loudly if the job does not work.

use crate::{Result, cargo, root, run, show};
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSIONS: &[&str] = &["1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0"];

pub(crate) fn run_demo(args: &[String]) -> Result {
    let registry = match args {
        [] => None,
        [flag, host] if flag == "--registry" => Some(host.clone()),
        _ => return Err("usage: cargo xtask demo [--registry HOST:PORT]".into()),
    };
    run(cargo().args(["build", "--quiet", "--locked", "-p", "pacto-oci-cli"]))?;
    let binary = target_dir().join("debug").join("pacto-oci");
    let demo = root().join("target").join("demo");
    if demo.exists() {
        std::fs::remove_dir_all(&demo)
            .map_err(|e| format!("cannot clean {}: {e}", demo.display()))?;
    }
    std::fs::create_dir_all(&demo).map_err(|e| format!("cannot create {}: {e}", demo.display()))?;
    let repository = match &registry {
        None => format!("oci-layout:{}", demo.join("layout").display()),
        Some(host) => format!("{host}/demo/payments"),
    };
    let cli = Cli {
        binary,
        cache: demo.join("cache"),
    };
    println!("== pacto-oci demo: the payments bundles into {repository}\n");

    for version in VERSIONS {
        let source = root()
            .join("examples/bundles")
            .join(format!("payments-{version}"));
        let archive = demo.join(format!("payments-{version}.tar.gz"));
        cli.run(&["pack", path(&source), "-o", path(&archive)])?;
        cli.run(&["push", path(&source), &repository])?;
    }
    cli.run(&["tags", &repository])?;
    let caret_one = cli.json(&["resolve", &repository, "--constraint", "^1"])?;
    expect_tag(&caret_one, "1.1.0")?;
    let highest = cli.json(&["resolve", &repository])?;
    expect_tag(&highest, "2.0.0")?;
    let out = demo.join("out");
    let pulled = cli.json(&["pull", &repository, "--constraint", "^1", "-o", path(&out)])?;
    expect_tag(&pulled, "1.1.0")?;
    cli.run(&[
        "semver",
        "best",
        "--constraint",
        ">=1.0.0 <2.0.0-0",
        "1.0.0",
        "1.1.0",
        "2.0.0-rc.1",
        "2.0.0",
    ])?;
    println!(
        "\n== done: {} holds 4 versions; ^1 resolved to 1.1.0, the highest is 2.0.0, and\n   payments 1.1.0 was pulled into {}",
        repository,
        out.display()
    );
    Ok(())
}

fn path(p: &Path) -> &str {
    p.to_str().expect("demo paths are UTF-8")
}

/// The target directory cargo builds into (`CARGO_TARGET_DIR`, else `target/`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

struct Cli {
    binary: PathBuf,
    cache: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .current_dir(root())
            .env("PACTO_CACHE_DIR", &self.cache);
        cmd
    }

    /// Runs the CLI with human output shown as is.
    fn run(&self, args: &[&str]) -> Result {
        let mut cmd = self.command(args);
        println!("$ pacto-oci {}", args.join(" "));
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run {}: {e}", show(&cmd)))?;
        println!();
        if status.success() {
            Ok(())
        } else {
            Err(format!("`pacto-oci {}` failed ({status})", args.join(" ")))
        }
    }

    /// Runs the CLI with `--json` and returns the document it printed.
    fn json(&self, args: &[&str]) -> Result<serde_json::Value> {
        let mut cmd = self.command(args);
        cmd.arg("--json");
        println!("$ pacto-oci {} --json", args.join(" "));
        let output = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", show(&cmd)))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("{}", stdout.trim_end());
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        println!();
        if !output.status.success() {
            return Err(format!(
                "`pacto-oci {}` failed ({})",
                args.join(" "),
                output.status
            ));
        }
        serde_json::from_str(&stdout).map_err(|e| format!("the CLI printed invalid JSON: {e}"))
    }
}

fn expect_tag(document: &serde_json::Value, tag: &str) -> Result {
    let reference = document["ref"].as_str().unwrap_or_default();
    if reference.ends_with(&format!(":{tag}")) {
        Ok(())
    } else {
        Err(format!(
            "expected the reference to resolve to tag {tag}, got {reference:?}"
        ))
    }
}
