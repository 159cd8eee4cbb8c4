//! The one error type of test support; the panicking helpers print it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a test-support operation failed.
///
/// The panicking helpers ([`TestRegistry::start`](crate::TestRegistry::start),
/// [`push_raw`](crate::push_raw), ...) panic with this error's message; their `try_` twins
/// return it so a test can assert on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tool the tests need is not on `PATH`.
    #[error(
        "`{tool}` is not installed or not on PATH: install it with `apt-get install -y {package}`"
    )]
    MissingTool {
        /// The executable looked for.
        tool: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// A local file or socket operation failed.
    #[error("could not {action}")]
    Io {
        /// What was being done, e.g. `write the registry configuration /tmp/x/config.yml`.
        action: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Generating certificates, keys or TLS configurations failed.
    #[error("could not {action}")]
    Crypto {
        /// What was being done, e.g. `generate the test CA`.
        action: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry process exited while starting.
    #[error(
        "the registry process for {url} exited during start-up ({status}); its log ends with:\n{log_tail}"
    )]
    RegistryExited {
        /// The URL the registry was to serve.
        url: String,
        /// How the process ended.
        status: String,
        /// The last lines of the registry's own log.
        log_tail: String,
    },
    /// The registry process did not start serving in time.
    #[error(
        "the registry at {url} was not ready within {waited:?}; its log ends with:\n{log_tail}"
    )]
    RegistryNotReady {
        /// The URL the registry was to serve.
        url: String,
        /// How long test support waited.
        waited: Duration,
        /// The last lines of the registry's own log.
        log_tail: String,
    },
    /// Another process kept taking the loopback port picked for the registry.
    #[error(
        "could not bind the registry to a free loopback port after {tries} tries (last tried {port})"
    )]
    PortUnavailable {
        /// The last port tried.
        port: u16,
        /// How many ports were tried.
        tries: usize,
    },
    /// The registry did not write the access-log line of a sync request in time.
    #[error(
        "the registry at {url} did not log the sync request {marker} within {waited:?}: its access log {} is not being written",
        log.display()
    )]
    AccessLogStalled {
        /// The registry URL.
        url: String,
        /// The sync request path that never appeared.
        marker: String,
        /// The access log file.
        log: PathBuf,
        /// How long test support waited.
        waited: Duration,
    },
    /// A line of the registry's access log is not in the combined log format.
    #[error("unparseable line in the registry access log {}: {line:?}", log.display())]
    AccessLogLine {
        /// The access log file.
        log: PathBuf,
        /// The offending line.
        line: String,
    },
    /// Test support cannot do what was asked.
    #[error("unsupported: {reason}")]
    Unsupported {
        /// Why, and what to do instead.
        reason: String,
    },
    /// A URL test support was given is not one it can use.
    #[error("invalid url {url:?}: expected http://HOST:PORT[/PATH] or https://HOST:PORT[/PATH]")]
    InvalidUrl {
        /// The rejected URL.
        url: String,
    },
    /// A host did not resolve to a loopback address.
    #[error(
        "refusing to connect to {host}: test support only talks to loopback addresses (127.0.0.0/8, ::1)"
    )]
    NotLoopback {
        /// The host (and port) that was refused.
        host: String,
    },
    /// An HTTP exchange failed at the transport level.
    #[error("{method} {url} failed")]
    Http {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: io::Error,
    },
    /// A server answered with a status the operation cannot continue with.
    #[error("{method} {url} answered {status} (expected {expected}): {body}")]
    UnexpectedStatus {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The status received.
        status: u16,
        /// The status or statuses that were expected.
        expected: String,
        /// The start of the response body.
        body: String,
    },
    /// A token endpoint answered 200 without a usable token.
    #[error("the token endpoint {url} answered without a token: {body}")]
    TokenResponse {
        /// The token request URL.
        url: String,
        /// The start of the response body.
        body: String,
    },
    /// The registry stored a manifest under a different digest than its bytes have.
    #[error("{url} stored the manifest as {actual}, but its bytes hash to {expected}")]
    DigestMismatch {
        /// The manifest URL.
        url: String,
        /// The digest of the bytes sent.
        expected: String,
        /// The digest the registry reported.
        actual: String,
    },
}

impl Error {
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn crypto(
        action: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Crypto {
            action: action.into(),
            source: source.into(),
        }
    }
}

/// Panics with the full error chain: the message a failing test shows.
pub(crate) fn fail(context: &str, error: &Error) -> ! {
    let mut message = format!("{context}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str("\n  caused by: ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    panic!("{message}")
}
