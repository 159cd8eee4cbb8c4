//! What the CLI prints: one JSON document with `--json`, human text otherwise, errors on
//! stderr, progress only on a terminal.

use crate::Global;
use indicatif::{ProgressBar, ProgressStyle};
use pacto_oci::ErrorKind;
use pacto_oci::registry::{StoreError, TimeLimit};
use serde_json::Value;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

pub(crate) struct Output {
    json: bool,
    quiet: bool,
    verbose: u8,
}

pub(crate) fn print_json(value: &Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, value);
    let _ = writeln!(stdout);
}

/// `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` wins when set. Without either, this tool's
/// warnings (e.g. "registry unreachable: serving the cached copy") still reach stderr unless
/// `--quiet`; the TLS and HTTP libraries' need `-v`.
pub(crate) fn init_tracing(global: &Global) {
    use tracing_subscriber::EnvFilter;
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        // The TLS and HTTP stack's own warnings repeat what the one error line says (or are
        // noise to a user): they show from -v on.
        (false, 0) => "warn,rustls=error,hyper=error,hyper_util=error,h2=error,reqwest=error",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = if global.verbose == 0 {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level))
    } else {
        EnvFilter::new(level)
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(global.verbose >= 2)
        // Colour codes only for a person at a terminal, never into a pipe or a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .try_init();
}

/// The exit code for an error kind (the table in docs/cli.md).
pub(crate) fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidReference | ErrorKind::InvalidConstraint => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::Authentication => 4,
        ErrorKind::Unreachable => 5,
        ErrorKind::InvalidBundle => 6,
        ErrorKind::NoMatchingVersion => 7,
        ErrorKind::Conflict => 8,
        _ => 1,
    }
}

/// What to do next, for the failures whose remedy is a flag or a command of this tool (the
/// libraries carry the data and never name this tool's flags).
fn hint(error: &pacto_oci::Error) -> String {
    if let Some(reference) = chain_find::<pacto_oci::refs::InvalidReference>(error)
        && reference.has_url_scheme()
    {
        return "; to talk plain HTTP, pass --plain-http HOST (or PACTO_INSECURE_REGISTRIES)"
            .to_owned();
    }
    if let Some(pacto_oci::cache::CacheError::Io { .. }) = chain_find(error) {
        return "; check the permissions of the cache directory, or pass another one with \
                --cache-dir (or PACTO_CACHE_DIR)"
            .to_owned();
    }
    let Some(store) = error.store_error() else {
        return String::new();
    };
    if store.certificate_problem().is_some() {
        return "; if the registry's certificate comes from a private CA or is self-signed, \
                trust it with --ca-file PEM (or PACTO_CA_FILE)"
            .to_owned();
    }
    match store {
        StoreError::Conflict { .. } => {
            return "; push with --force to overwrite it or choose another tag".to_owned();
        }
        StoreError::Authentication { registry, .. } => {
            return format!(
                "; run `pacto-oci login {registry}`, set PACTO_REGISTRY_TOKEN, or \
                 `pacto-oci logout {registry}` to drop a stale credential"
            );
        }
        _ => {}
    }
    match store.time_limit() {
        Some(TimeLimit::Deadline { .. }) => {
            "; raise --timeout (PACTO_TIMEOUT) if the registry is only slow".to_owned()
        }
        _ => String::new(),
    }
}

/// The first error of type `T` in `error`'s source chain.
fn chain_find<T: std::error::Error + 'static>(error: &pacto_oci::Error) -> Option<&T> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        source = cause.source();
    }
    None
}

/// The JSON `kind` for an error kind.
pub(crate) fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidConstraint => "usage",
        other => other.as_str(),
    }
}

impl Output {
    pub(crate) fn new(global: &Global) -> Self {
        Output {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
        }
    }

    /// Whether `--json` was given.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Human text for stderr (unless quiet), when stdout carries data.
    pub(crate) fn note(&self, human: impl FnOnce() -> String) {
        if !self.quiet {
            let text = human();
            let _ = writeln!(std::io::stderr().lock(), "{}", text.trim_end());
        }
    }

    /// Prints the command's result: `document` with `--json`, else `human` (unless quiet).
    pub(crate) fn emit(&self, document: Value, human: impl FnOnce() -> String) {
        if self.json {
            print_json(&document);
        } else if !self.quiet {
            let text = human();
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
    }

    /// Reports a failure and returns its exit code.
    pub(crate) fn fail(&self, error: &pacto_oci::Error) -> ExitCode {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        // Every error in the chain says only its own part (none repeats its source), so the
        // whole chain on one line is the complete message without -v.
        let mut message = error.to_string();
        for cause in &causes {
            message.push_str(": ");
            message.push_str(cause);
        }
        message.push_str(&hint(error));
        self.error(kind_name(error.kind()), &message, &causes);
        ExitCode::from(exit_code(error.kind()))
    }

    /// A `PACTO_*` variable that cannot be used: a usage error (exit 2), as an invalid flag
    /// value is, naming the variable and what it should be.
    pub(crate) fn usage(&self, invalid: &pacto_oci::env::InvalidSetting) -> ExitCode {
        let problem = invalid.problem.to_string();
        self.error("usage", &format!("{invalid}: {problem}"), &[problem]);
        ExitCode::from(2)
    }

    /// Prints `error: message` on stderr (with `caused by:` lines at `-v`), and the JSON
    /// error document on stdout with `--json`.
    pub(crate) fn error(&self, kind: &str, message: &str, causes: &[String]) {
        if self.json {
            print_json(&serde_json::json!({"error": {"kind": kind, "message": message}}));
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error: {message}");
        if self.verbose > 0 {
            for cause in causes {
                let _ = writeln!(stderr, "  caused by: {cause}");
            }
        }
    }

    /// Prints `warning: message` on stderr, unless `--quiet`.
    pub(crate) fn warn(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
        }
    }

    /// A spinner on stderr, only on a terminal and without `--quiet`/`--json`.
    pub(crate) fn spinner(&self, message: String) -> Option<ProgressBar> {
        if self.json || self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Some(bar)
    }
}
