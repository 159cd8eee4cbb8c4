//! `cargo xtask fuzz [--seconds N] [TARGET...]`: run the cargo-fuzz targets in `fuzz/`, each
//! for N seconds (default 60), starting from its seed corpus in `fuzz/corpus/<target>/`.
//!
//! cargo-fuzz needs a nightly compiler (`-Zsanitizer=address`); this workspace pins stable,
//! so the targets are built with the pinned toolchain and `RUSTC_BOOTSTRAP=1`, which lets a
//! stable compiler accept the unstable flags (the sanitizer runtimes ship with every
//! toolchain). Inputs the fuzzer finds go to `target/fuzz-corpus/<target>/` (the seeds stay
//! untouched) and crashes to `fuzz/artifacts/<target>/`: turn each crash into a regression
//! test in the crate it names, and add it to the seed corpus.

use crate::{Result, root, run, tools};
use std::process::Command;
use std::time::Instant;

/// Every fuzz target, as named in `fuzz/Cargo.toml`.
pub(crate) const TARGETS: &[&str] = &[
    "reference",
    "constraint",
    "contract_yaml",
    "unpack",
    "manifest",
];

pub(crate) fn run_fuzz(args: &[String]) -> Result {
    let mut seconds: u64 = 60;
    let mut targets: Vec<&str> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--seconds" {
            let value = rest.next().ok_or("--seconds takes a number")?;
            seconds = value
                .parse()
                .map_err(|_| format!("--seconds takes a number, got {value:?}"))?;
        } else if let Some(target) = TARGETS.iter().find(|t| **t == arg.as_str()) {
            targets.push(target);
        } else {
            return Err(format!(
                "unknown fuzz target {arg:?}; usage: cargo xtask fuzz [--seconds N] [{}]",
                TARGETS.join("|")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    if !tools::have("cargo-fuzz") {
        return Err(
            "cargo-fuzz is not installed: install it with `cargo install --locked cargo-fuzz`"
                .into(),
        );
    }
    let fuzz = |args: &[&str]| {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(root())
            .arg("fuzz")
            .args(args)
            .env("RUSTC_BOOTSTRAP", "1");
        cmd
    };
    let started = Instant::now();
    // One build for every target: they share their dependencies.
    let mut build = vec!["build", "--debug-assertions"];
    if targets.len() == 1 {
        build.extend(&targets);
    }
    run(&mut fuzz(&build))?;
    eprintln!("xtask: fuzz targets built in {:.0?}", started.elapsed());
    for target in &targets {
        let scratch = root().join("target").join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&scratch)
            .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
        let seeds = root().join("fuzz").join("corpus").join(target);
        let time = format!("-max_total_time={seconds}");
        let run_started = Instant::now();
        run(&mut fuzz(&[
            "run",
            "--debug-assertions",
            target,
            scratch.to_str().ok_or("non-UTF-8 target path")?,
            seeds.to_str().ok_or("non-UTF-8 corpus path")?,
            "--",
            &time,
            "-timeout=10",
            "-rss_limit_mb=2048",
        ]))
        .map_err(|e| {
            format!("{e}\nthe crashing input is under fuzz/artifacts/{target}/: reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run {target} <file>` and turn it into a regression test")
        })?;
        eprintln!("xtask: fuzzed {target} for {:.0?}", run_started.elapsed());
    }
    eprintln!(
        "xtask: fuzz passed ({} targets, {:.0?} in all)",
        targets.len(),
        started.elapsed()
    );
    Ok(())
}
