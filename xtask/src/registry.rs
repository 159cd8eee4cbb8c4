//! `cargo xtask registry [--port N]`: a throwaway local registry for manual use.
//!
//! Starts the Debian `docker-registry` (CNCF distribution) on 127.0.0.1 with storage in a
//! fresh directory under `target/registry/`, prints how to use it, and runs until interrupted.

use crate::{Result, root, tools};
use std::process::Command;

pub(crate) fn run_registry(args: &[String]) -> Result {
    let port: u16 = match args {
        [] => 5000,
        [flag, port] if flag == "--port" => port
            .parse()
            .map_err(|_| format!("--port takes a number, got {port:?}"))?,
        _ => return Err("usage: cargo xtask registry [--port N]".into()),
    };
    if !tools::have("docker-registry") {
        tools::apt_install(&["docker-registry"])?;
    }
    let dir = root()
        .join("target")
        .join("registry")
        .join(port.to_string());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config = dir.join("config.yml");
    let storage = dir.join("storage");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    println!(
        "registry on 127.0.0.1:{port} (storage {}); stop it with Ctrl-C",
        storage.display()
    );
    println!("try: cargo xtask demo --registry 127.0.0.1:{port}");
    let status = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .status()
        .map_err(|e| format!("cannot start docker-registry: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("docker-registry exited ({status})"))
    }
}
