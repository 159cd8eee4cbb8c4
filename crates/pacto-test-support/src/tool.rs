//! Small helpers: tools on PATH, free ports, the TLS crypto provider.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crate::error::{Error, fail};

/// Finds the executable `tool` on `PATH`.
///
/// Returns [`Error::MissingTool`] naming the Debian `package` to install when it is missing.
pub fn check_tool(tool: &str, package: &str) -> Result<PathBuf, Error> {
    let missing = || Error::MissingTool {
        tool: tool.to_owned(),
        package: package.to_owned(),
    };
    if tool.is_empty() || tool.contains('/') {
        return Err(missing());
    }
    let path = std::env::var_os("PATH").ok_or_else(missing)?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(missing)
}

/// Like [`check_tool`], but panics (fails the test) with the installation hint.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    check_tool(tool, package)
        .unwrap_or_else(|error| fail("a required test tool is missing", &error))
}

/// A TCP port on `127.0.0.1` that was free a moment ago.
///
/// Another process can take it before it is used again; [`TestRegistry`](crate::TestRegistry)
/// retries with a new port when that happens. Panics if no loopback port can be bound.
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|error| fail("no free loopback port", &error))
}

pub(crate) fn try_free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("bind a free port on 127.0.0.1", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("read the address of a bound loopback socket", e))?;
    Ok(addr.port())
}

/// Installs rustls' `ring` provider as the process default, once.
///
/// The workspace builds rustls (and reqwest, oci-client) without a bundled provider; tests that
/// use those clients call this first. Calling it again, or after another provider was
/// installed, does nothing. Test support itself does not need it: it passes its provider
/// explicitly.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tool_that_exists() {
        let sh = check_tool("sh", "dash").expect("sh is on PATH on every test machine");
        assert!(sh.ends_with("sh"));
    }

    #[test]
    fn missing_tool_names_the_package_to_install() {
        for tool in ["pacto-no-such-tool-x9", "", "/bin/sh"] {
            let error = check_tool(tool, "pacto-pkg").expect_err(tool);
            assert!(matches!(&error, Error::MissingTool { package, .. } if package == "pacto-pkg"));
            assert!(
                error.to_string().contains("apt-get install -y pacto-pkg"),
                "{error}"
            );
        }
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free");
    }
}
