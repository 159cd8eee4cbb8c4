//! What the CLI prints: one JSON document with `--json`, human text otherwise, errors on
//! stderr, progress only on a terminal.

use crate::Global;
use crate::progress::{Transfers, Watching};
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
    /// The transfer bars: on a terminal, without `--quiet` and `--json`.
    transfers: Option<Transfers>,
}

pub(crate) fn print_json(value: &Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, value);
    let _ = writeln!(stdout);
}

/// The libraries under the HTTP transport: their logs are about connections and TLS
/// handshakes, not about what this tool does. They show at `warn` up to `-vv` (their
/// warnings repeat what the one error line says, or are noise to a user), in full at `-vvv`.
const TRANSPORT_INTERNALS: &[&str] = &["rustls", "hyper", "hyper_util", "h2", "reqwest", "tower"];

/// `-v` info, `-vv` debug (one line per HTTP request: method, URL without its query, status,
/// time, bytes), `-vvv` trace; `RUST_LOG` wins when set without `-v`. Without either, only
/// warnings show, as `warning: ...` lines (no level, target or span), unless `--quiet`.
pub(crate) fn init_tracing(global: &Global) {
    use tracing_subscriber::EnvFilter;
    let internals = |level: &str| {
        TRANSPORT_INTERNALS
            .iter()
            .map(|target| format!(",{target}={level}"))
            .collect::<String>()
    };
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error".to_owned(),
        // `fetch-all` reports each failed version itself: the resolver's warning about it
        // would say it twice.
        (false, 0) => format!("warn,pacto_resolver=error{}", internals("error")),
        (false, 1) => format!("info{}", internals("warn")),
        (false, 2) => format!("debug{}", internals("warn")),
        _ => "trace".to_owned(),
    };
    let from_env = global.verbose == 0 && std::env::var_os("RUST_LOG").is_some();
    let filter = if from_env {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&level))
    } else {
        EnvFilter::new(&level)
    };
    // Colour codes only for a person at a terminal, never into a pipe or a log file.
    let ansi = std::io::stderr().is_terminal();
    if global.verbose == 0 && !from_env {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .event_format(Plain)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(global.verbose >= 2 || from_env)
            .with_ansi(ansi)
            .without_time()
            .try_init();
    }
}

/// Log events as this tool's own lines: `warning: message key=value ...`.
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "warning: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
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

/// The messages of `error`'s sources, outermost first.
fn causes(error: &pacto_oci::Error) -> Vec<String> {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes
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
        let shown = !global.json && !global.quiet && std::io::stderr().is_terminal();
        Output {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            transfers: shown.then(Transfers::default),
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

    /// Prints data that is the command's result whatever the flags (a completion script):
    /// `document` with `--json`, else `text`, even with `--quiet`.
    pub(crate) fn data(&self, document: Value, text: impl FnOnce() -> String) {
        if self.json {
            print_json(&document);
        } else {
            print!("{}", text());
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
        let causes = causes(error);
        self.error(kind_name(error.kind()), &self.describe(error), &causes);
        ExitCode::from(exit_code(error.kind()))
    }

    /// The one-line message of `error`: its whole chain (every error in it says only its own
    /// part, so none repeats its source), then what to do next when that is a flag or a
    /// command of this tool.
    pub(crate) fn describe(&self, error: &pacto_oci::Error) -> String {
        let mut message = error.to_string();
        for cause in causes(error) {
            message.push_str(": ");
            message.push_str(&cause);
        }
        message.push_str(&hint(error));
        message
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

    /// Prints `error: message` on stderr only (one of several failures of a command whose
    /// JSON document already lists them).
    pub(crate) fn error_line(&self, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    }

    /// Prints `warning: message` on stderr, unless `--quiet`.
    pub(crate) fn warn(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
        }
    }

    /// The observer to give the client: `None` when nothing is shown.
    pub(crate) fn progress(&self) -> Option<pacto_oci::Progress> {
        self.transfers.as_ref().map(Transfers::observer)
    }

    /// Shows `status` and the bars of the transfers until the guard is dropped, only on a
    /// terminal and without `--quiet`/`--json`; `then` replaces `status` once an upload
    /// starts.
    pub(crate) fn transfer(&self, status: String, then: Option<String>) -> Option<Watching> {
        self.transfers
            .as_ref()
            .map(|transfers| transfers.watch(status, then))
    }

    /// `pack`'s bar over the `total` file bytes of `what`, only on a terminal, without
    /// `--quiet`/`--json`, and for a bundle of at least [`crate::progress::PACK_BAR_FROM`]
    /// bytes.
    pub(crate) fn pack_bar(&self, total: u64, what: &str) -> Option<ProgressBar> {
        self.transfers.as_ref()?;
        (total >= crate::progress::PACK_BAR_FROM).then(|| crate::progress::pack_bar(total, what))
    }

    /// A bar over `total` bytes among the bars of the transfer being watched
    /// ([`Output::transfer`]), labelled `what`, for work of at least
    /// [`crate::progress::PACK_BAR_FROM`] bytes, under the same conditions as
    /// [`Output::pack_bar`].
    pub(crate) fn transfer_bar(&self, total: u64, what: &str) -> Option<ProgressBar> {
        let transfers = self.transfers.as_ref()?;
        (total >= crate::progress::PACK_BAR_FROM).then(|| transfers.bar(total, what))
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
