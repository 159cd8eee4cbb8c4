//! External tools the tests need, and how to get them.

use crate::{Result, run};
use std::process::Command;

/// The Debian packages the integration tests run for real, and the binary each provides.
const TEST_TOOLS: &[(&str, &str)] = &[("docker-registry", "docker-registry"), ("skopeo", "skopeo")];

/// Whether `program` is on `PATH` (or is a cargo subcommand installed as `cargo-NAME`).
pub(crate) fn have(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs the Debian packages in `packages` with apt-get when running as root,
/// else fails with the command to run.
pub(crate) fn apt_install(packages: &[&str]) -> Result {
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    if !is_root() || !have("apt-get") {
        return Err(format!(
            "missing tools: {list}; install them with `sudo apt-get install -y {list}` and run again"
        ));
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Makes sure `docker-registry` and `skopeo` are installed (the tests fail with a clear
/// message naming the package when they are not).
pub(crate) fn ensure_test_tools() -> Result {
    let missing: Vec<&str> = TEST_TOOLS
        .iter()
        .filter(|(_, binary)| !have(binary))
        .map(|(package, _)| *package)
        .collect();
    apt_install(&missing)
}
