//! `cargo xtask bench`: the criterion benches of every crate, then the whole-process
//! comparison with skopeo, the ORAS Python SDK and GNU tar (`pacto-oci-cli`'s `compare`
//! bench), then `docs/performance.md` rewritten with the table it measured.

use crate::tools::{apt_install, have};
use crate::{Result, cargo, root, run};
use std::path::PathBuf;
use std::process::Command;

/// The environment variable that makes the `compare` target skip itself while the criterion
/// benches run (it is run on its own afterwards).
const SKIP_COMPARE: &str = "PACTO_BENCH_SKIP_COMPARE";
/// Criterion settings that keep the crate benches to a few minutes in all.
const CRITERION_ARGS: [&str; 4] = ["--warm-up-time", "1", "--measurement-time", "3"];
/// The generated part of `docs/performance.md` lies between these lines.
const BEGIN: &str = "<!-- BEGIN BENCH REPORT (cargo xtask bench rewrites this section) -->";
const END: &str = "<!-- END BENCH REPORT -->";

/// `cargo xtask bench [--compare-only] [CARGO ARGS] [-- BENCH ARGS]`: extra arguments go to
/// the criterion run; `--compare-only` skips it (the whole-process comparison and the
/// rewritten table only).
pub(crate) fn task(rest: &[String]) -> Result {
    install_peers();
    if rest.first().is_some_and(|a| a == "--compare-only") {
        compare()?;
        return update_performance_doc();
    }
    let (cargo_args, bench_args) = match rest.iter().position(|a| a == "--") {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    // `--bench '*'`: only bench targets. `--benches` would also run the libtest harness of
    // every library, which rejects criterion's options.
    let criterion = run(cargo()
        .args(["bench", "--workspace", "--bench", "*", "--locked"])
        .args(cargo_args)
        .arg("--")
        .args(CRITERION_ARGS)
        .args(bench_args)
        .env(SKIP_COMPARE, "1"));
    if let Err(error) = &criterion {
        eprintln!("xtask: the criterion benches failed ({error}); running the comparison anyway");
    }
    compare()?;
    update_performance_doc()?;
    criterion
}

/// The whole-process comparison (`pacto-oci-cli`'s `compare` bench).
fn compare() -> Result {
    run(cargo().args([
        "bench",
        "-p",
        "pacto-oci-cli",
        "--bench",
        "compare",
        "--locked",
    ]))
}

/// Installs what the comparison runs, when it can (root with apt-get and pip); whatever is
/// still missing is reported as skipped in the table, never silently dropped.
fn install_peers() {
    let missing: Vec<&str> = [("skopeo", "skopeo"), ("docker-registry", "docker-registry")]
        .into_iter()
        .filter(|(binary, _)| !have(binary))
        .map(|(_, package)| package)
        .chain((!std::path::Path::new("/usr/bin/time").is_file()).then_some("time"))
        .chain((!have("python3")).then_some("python3-pip"))
        .collect();
    if let Err(error) = apt_install(&missing) {
        eprintln!("xtask: {error}; the comparison reports what is missing as skipped");
    }
    if !have("python3") || oras_importable() {
        return;
    }
    if !is_root() {
        eprintln!(
            "xtask: the Python module `oras` is missing (python3 -m pip install oras); the comparison reports oras-py as skipped"
        );
        return;
    }
    // Debian's own Python refuses plain pip installs (PEP 668): retry with its escape hatch.
    let installed = run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "oras"]))
        .or_else(|_| {
            run(Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--break-system-packages",
                "oras",
            ]))
        });
    if let Err(error) = installed {
        eprintln!(
            "xtask: cannot install oras ({error}); the comparison reports oras-py as skipped"
        );
    }
}

fn oras_importable() -> bool {
    Command::new("python3")
        .args(["-c", "import oras.client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Replaces the generated section of `docs/performance.md` with `target/bench/report.md`.
fn update_performance_doc() -> Result {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let report_path = target.join("bench/report.md");
    let report = std::fs::read_to_string(&report_path).map_err(|e| {
        format!(
            "cannot read {} (the compare bench writes it): {e}",
            report_path.display()
        )
    })?;
    let doc_path = root().join("docs/performance.md");
    let doc = std::fs::read_to_string(&doc_path)
        .map_err(|e| format!("cannot read {}: {e}", doc_path.display()))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!(
            "{} has lost its markers `{BEGIN}` and `{END}`: put them back around the generated section",
            doc_path.display()
        ));
    };
    if end < begin {
        return Err(format!(
            "{}: `{END}` comes before `{BEGIN}`",
            doc_path.display()
        ));
    }
    let updated = format!(
        "{}{BEGIN}\n\n{}\n{}",
        &doc[..begin],
        report.trim_end(),
        &doc[end..]
    );
    std::fs::write(&doc_path, updated)
        .map_err(|e| format!("cannot write {}: {e}", doc_path.display()))?;
    eprintln!("xtask: updated {}", doc_path.display());
    Ok(())
}
