//! `cargo xtask conformance`: the vendored oracle vectors still match the shared ones.
//!
//! `crates/pacto-ref/tests/data/*.txt` are the project's own copy of the Go libraries'
//! outputs (so a clone with nothing beside it tests against them). When the shared copy is
//! present beside the checkout (CI has it), every line below the vendoring header must be
//! byte-identical to it; without it there is nothing to compare and the task says so.

use crate::{Result, root};

const FILES: [&str; 2] = ["refs-public.txt", "semver-public.txt"];

pub(crate) fn task() -> Result {
    let shared = root().join("../shared/conformance");
    if !shared.is_dir() {
        eprintln!(
            "xtask: no shared conformance vectors at {}: nothing to compare the vendored copy with",
            shared.display()
        );
        return Ok(());
    }
    for name in FILES {
        let vendored_path = root().join("crates/pacto-ref/tests/data").join(name);
        let vendored = std::fs::read_to_string(&vendored_path)
            .map_err(|e| format!("cannot read {}: {e}", vendored_path.display()))?;
        let upstream = std::fs::read_to_string(shared.join(name))
            .map_err(|e| format!("cannot read {}: {e}", shared.join(name).display()))?;
        let body = vendored
            .split_once('\n')
            .map(|(_, rest)| rest)
            .ok_or_else(|| format!("{} has no vendoring header line", vendored_path.display()))?;
        if body != upstream {
            return Err(format!(
                "{} differs from the shared vectors {}: copy the new vectors in below its first line",
                vendored_path.display(),
                shared.join(name).display()
            ));
        }
        eprintln!("xtask: {name}: the vendored vectors match the shared ones");
    }
    Ok(())
}
