//! `cargo xtask package`: every published crate packages, offline, with its licence and readme.
//!
//! `cargo package --workspace` builds each crate's `.crate` as crates.io would receive it
//! (workspace dependencies resolved against the packages being built, not the registry), so
//! a dev-dependency on an unpublishable crate or a missing file fails here, not at release.
//! `--no-verify` keeps it to packaging: the gate compiles and tests the same sources anyway.

use crate::{Result, cargo, root, run};
use std::process::Command;

/// Workspace members that are never published.
const UNPUBLISHED: [&str; 2] = ["pacto-e2e", "xtask"];

/// Files every published crate must carry.
const REQUIRED: [&str; 2] = ["LICENSE", "README.md"];

pub(crate) fn task() -> Result {
    let mut package = cargo();
    package.args([
        "package",
        "--workspace",
        "--no-verify",
        "--locked",
        "--offline",
    ]);
    // A developer's tree may hold uncommitted work; CI's checkout is clean either way.
    package.arg("--allow-dirty");
    for name in UNPUBLISHED {
        package.args(["--exclude", name]);
    }
    run(&mut package)?;
    let dir = root().join("target/package");
    let mut checked = 0;
    for entry in
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".crate") else {
            continue;
        };
        if UNPUBLISHED
            .iter()
            .any(|name| stem.starts_with(&format!("{name}-")))
        {
            continue;
        }
        let listing = Command::new("tar")
            .arg("tzf")
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot run tar to list {}: {e}", path.display()))?;
        if !listing.status.success() {
            return Err(format!("tar cannot read {}", path.display()));
        }
        let listing = String::from_utf8_lossy(&listing.stdout);
        for required in REQUIRED {
            let wanted = format!("{stem}/{required}");
            if !listing.lines().any(|line| line == wanted) {
                return Err(format!(
                    "{file} lacks {required}: add it to the crate's directory (LICENSE is a link to ../../LICENSE)"
                ));
            }
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(format!("no packaged crate found in {}", dir.display()));
    }
    eprintln!(
        "xtask: {checked} crates packaged, each with {}",
        REQUIRED.join(" and ")
    );
    Ok(())
}
