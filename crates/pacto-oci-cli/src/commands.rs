//! One function per command, each a few lines over the facade.

use crate::output::{Output, exit_code};
use crate::{CacheCommand, Cli, Command, Global, RefCommand, SemverCommand};
use pacto_oci::auth::Source;
use pacto_oci::env::{self, InvalidSetting, Settings};
use pacto_oci::refs::{ArtifactRef, ParseOptions, Scheme, SchemePolicy};
use pacto_oci::{Bundle, Client, CredentialOptions, Error, ErrorKind, Limits, ResolveMode, Secret};
use serde_json::json;
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

type Outcome = Result<ExitCode, Error>;

pub(crate) async fn run(cli: Cli, out: &Output) -> ExitCode {
    let result = match cli.command {
        Command::Semver(command) => semver(command, out),
        Command::Ref(RefCommand::Parse { reference }) => match settings(&cli.global) {
            Err(invalid) => return out.usage(&invalid),
            Ok(settings) => parse_ref(&settings, &reference, out),
        },
        Command::Pack { dir, output } => pack(&dir, output, out).await,
        Command::Validate { source } => validate(&source, out).await,
        command => match settings(&cli.global) {
            Err(invalid) => return out.usage(&invalid),
            Ok(settings) => match client(&cli.global, settings) {
                Ok(client) => {
                    let result = dispatch(command, &cli.global, &client, out).await;
                    warn_credential_fallbacks(&client, &cli.global, out);
                    result
                }
                Err(error) => Err(error),
            },
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => out.fail(&error),
    }
}

/// One line per registry that rejected the explicit credentials while a stored credential
/// (or anonymous access) was accepted, so a wrong password is not silently masked.
fn warn_credential_fallbacks(client: &Client, global: &Global, out: &Output) {
    for fallback in client.credential_fallbacks() {
        let origin = match (fallback.rejected, global.origins) {
            (Source::EnvToken, origins) if origins.token_flag => "--token",
            (Source::EnvToken, _) => "PACTO_REGISTRY_TOKEN",
            (_, origins) if origins.password_flag => "--username/--password",
            _ => "PACTO_REGISTRY_USERNAME/PACTO_REGISTRY_PASSWORD",
        };
        let instead = match fallback.used {
            Some(source) => format!("using the ones from {source}"),
            None => "continuing anonymously".to_owned(),
        };
        out.warn(&format!(
            "the credentials from {origin} were rejected by {}; {instead}",
            fallback.registry
        ));
    }
}

/// The `PACTO_*` settings (read as `Client::from_env` reads them) with the flags laid over
/// them: a flag replaces its variable, which is then not read at all (so a flag mends an
/// unusable variable); `--plain-http` hosts are added to the variable's.
fn settings(global: &Global) -> Result<Settings, InvalidSetting> {
    let replaced = |name: &str| match name {
        env::NO_CACHE => global.no_cache,
        env::CACHE_DIR => global.cache_dir.is_some(),
        env::CA_FILE => global.ca_file.is_some(),
        env::CONCURRENCY => global.concurrency.is_some(),
        env::TIMEOUT => global.timeout.is_some(),
        env::MIRRORS => !global.mirrors.is_empty(),
        env::MIRROR_DIGESTS_ONLY => global.mirror_digests_only,
        _ => false,
    };
    let mut settings =
        Settings::from_lookup(|name| (!replaced(name)).then(|| std::env::var_os(name)).flatten())?;
    if global.no_cache {
        settings.no_cache = Some(true);
    }
    if let Some(dir) = &global.cache_dir {
        settings.cache_dir = Some(dir.clone());
    }
    let from_env = std::mem::take(&mut settings.insecure_hosts);
    settings.insecure_hosts = global.plain_http.iter().cloned().chain(from_env).collect();
    if let Some(ca) = &global.ca_file {
        settings.ca_file = Some(ca.clone());
    }
    if let Some(concurrency) = global.concurrency {
        settings.concurrency = Some(concurrency);
    }
    if let Some(timeout) = global.timeout {
        settings.timeout = Some(timeout);
    }
    if !global.mirrors.is_empty() {
        settings.mirrors = global.mirrors.clone();
    }
    if global.mirror_digests_only {
        settings.mirror_digests_only = Some(true);
    }
    Ok(settings)
}

fn client(global: &Global, settings: Settings) -> Result<Client, Error> {
    let mut credentials = CredentialOptions::default();
    if let Some(username) = &global.username {
        credentials = credentials.with_username(username);
    }
    if let Some(password) = &global.password {
        credentials = credentials.with_password(password.as_str());
    }
    if let Some(token) = &global.token {
        credentials = credentials.with_token(token.as_str());
    }
    if !global.registry_hosts.is_empty() {
        credentials = credentials.with_hosts(&global.registry_hosts);
    }
    Client::builder()
        .credentials(credentials)
        .settings(settings)
        .build()
}

async fn dispatch(command: Command, global: &Global, client: &Client, out: &Output) -> Outcome {
    match command {
        Command::Push {
            source,
            reference,
            force,
        } => push(client, &source, &reference, force, out).await,
        Command::Pull {
            reference,
            output,
            constraint,
            offline,
            force,
        } => pull(client, &reference, output, &constraint, offline, force, out).await,
        Command::Resolve {
            reference,
            constraint,
            offline,
        } => {
            let spinner = out.spinner(format!("resolving {reference}"));
            let resolved = client.resolve(&reference, &constraint, mode(offline)).await;
            drop(spinner);
            let resolved = resolved?;
            out.emit(
                json!({"ref": resolved.reference.to_string(), "digest": resolved.digest}),
                || format!("{}\n{}", resolved.reference, resolved.digest),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tags { repository } => {
            let versions = client.versions(&repository).await?;
            out.emit(json!(versions), || versions.join("\n"));
            Ok(ExitCode::SUCCESS)
        }
        Command::FetchAll { repository } => fetch_all(client, &repository, out).await,
        Command::Login {
            registry,
            user,
            pass,
            password_stdin,
        } => login(client, global, &registry, user, pass, password_stdin, out).await,
        Command::Logout { registry } => {
            let removed = client.logout(&registry)?;
            out.emit(json!({"registry": registry, "removed": removed}), || {
                if removed {
                    format!("Removed the credentials for {registry}")
                } else {
                    format!("No credentials were stored for {registry}")
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Cache(command) => cache(client, command, out).await,
        Command::Semver(_) | Command::Ref(_) | Command::Pack { .. } | Command::Validate { .. } => {
            unreachable!("offline commands are handled before a client is built")
        }
    }
}

fn mode(offline: bool) -> ResolveMode {
    if offline {
        ResolveMode::LocalOnly
    } else {
        ResolveMode::RemoteAllowed
    }
}

/// A refusal of the arguments: `error: message` (and the JSON error of kind `usage`), exit 2.
fn usage(out: &Output, message: &str) -> Outcome {
    out.error("usage", message, &[]);
    Ok(ExitCode::from(2))
}

async fn pack(dir: &Path, output: Option<PathBuf>, out: &Output) -> Outcome {
    use crate::sink::Sink;
    let to_stdout = output.as_deref().is_some_and(|o| o.as_os_str() == "-");
    if to_stdout && out.json() {
        // As `oras blob fetch --output - --descriptor`: stdout carries the layer only.
        return usage(
            out,
            "--json cannot be used with -o -: standard output carries the layer; write it to a file to get the JSON summary",
        );
    }
    if to_stdout && std::io::stdout().is_terminal() {
        // As tar and gzip: compressed bytes are not for a terminal.
        return usage(
            out,
            "refusing to write the compressed layer to a terminal; redirect standard output or name a file with -o",
        );
    }
    // The limits a pull applies, so that nothing is packed that cannot be pulled.
    let limits = Limits::default();
    let bundle = Bundle::from_dir_with_limits(dir, &limits)?;
    bundle
        .check_references()
        .map_err(|e| Error::new(ErrorKind::InvalidBundle, e).with_context("cannot pack"))?;
    let path = output
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.tar.gz", bundle.name(), bundle.version())));
    let sink = match crate::sink::sink(&path) {
        Ok(sink) => sink,
        Err(e) if e.is_refusal() => return usage(out, &e.to_string()),
        Err(e) => return Err(Error::new(ErrorKind::Other, e).with_context("cannot pack")),
    };
    let io_error = |e: std::io::Error| {
        Error::message(
            ErrorKind::Other,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let packed = match &sink {
        Sink::Stdout => {
            pacto_oci::archive::pack_to_writer(&bundle, tokio::io::stdout(), &limits).await?
        }
        Sink::Special(special) => {
            // Opened as it is (a device, FIFO or socket), never created, truncated or replaced.
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(special)
                .await
                .map_err(io_error)?;
            pacto_oci::archive::pack_to_writer(&bundle, file, &limits).await?
        }
        Sink::File {
            path: file,
            create_parents,
        } => {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent.filter(|_| *create_parents) {
                std::fs::create_dir_all(parent).map_err(io_error)?;
            }
            pacto_oci::archive::pack_to_file(&bundle, file, &limits).await?
        }
    };
    let summary = || {
        format!(
            "Packed {}@{} -> {} ({} bytes)\nDigest: {}",
            bundle.name(),
            bundle.version(),
            if to_stdout {
                "standard output".into()
            } else {
                path.display().to_string()
            },
            packed.size,
            packed.digest
        )
    };
    if to_stdout {
        out.note(summary);
    } else {
        out.emit(
            json!({
                "path": path.display().to_string(),
                "digest": packed.digest,
                "name": bundle.name(),
                "version": bundle.version(),
                "size": packed.size,
            }),
            summary,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A bundle directory, or a `.tar.gz` made by `pack`, read within the client's limits (the
/// ones its pulls apply).
/// `validate DIR|FILE.tar.gz`: everything push checks (the contract parses, the limits a
/// pull applies, plain paths), plus every file the contract references is in the bundle.
async fn validate(source: &Path, out: &Output) -> Outcome {
    let limits = Limits::default();
    let bundle = load_bundle(source, &limits)
        .await
        .map_err(|e| e.with_context("invalid bundle"))?;
    bundle
        .check_references()
        .map_err(|e| Error::new(ErrorKind::InvalidBundle, e).with_context("invalid bundle"))?;
    let references = bundle.contract().file_references().len();
    out.emit(
        json!({
            "name": bundle.name(),
            "version": bundle.version(),
            "files": bundle.files().len(),
            "size": bundle.total_size(),
            "references": references,
            "valid": true,
        }),
        || {
            format!(
                "Valid: {}@{} ({} files, {} bytes; {} referenced files present)",
                bundle.name(),
                bundle.version(),
                bundle.files().len(),
                bundle.total_size(),
                references
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

async fn load_source(client: &Client, source: &Path) -> Result<Bundle, Error> {
    load_bundle(source, client.limits()).await
}

/// A bundle directory, or a `.tar.gz` made by `pack`, read under `limits`.
async fn load_bundle(source: &Path, limits: &Limits) -> Result<Bundle, Error> {
    let meta = std::fs::metadata(source).map_err(|e| {
        Error::message(
            ErrorKind::Other,
            format!("cannot read {}: {e}", source.display()),
        )
    })?;
    if meta.is_dir() {
        return Ok(Bundle::from_dir_with_limits(source, limits)?);
    }
    let file = tokio::fs::File::open(source).await.map_err(|e| {
        Error::message(
            ErrorKind::Other,
            format!("cannot open {}: {e}", source.display()),
        )
    })?;
    Ok(pacto_oci::archive::unpack(file, limits).await?)
}

async fn push(
    client: &Client,
    source: &Path,
    reference: &str,
    force: bool,
    out: &Output,
) -> Outcome {
    let bundle = load_source(client, source).await?;
    let spinner = out.spinner(format!(
        "pushing {}@{} to {reference}",
        bundle.name(),
        bundle.version()
    ));
    let pushed = client.push(reference, &bundle, force).await;
    drop(spinner);
    let pushed = pushed?;
    let status = pushed.status.as_str();
    out.emit(
        json!({"ref": pushed.reference.to_string(), "digest": pushed.digest, "status": status}),
        || {
            let what = format!("{}@{}", bundle.name(), bundle.version());
            let head = match pushed.status {
                pacto_oci::PushStatus::Unchanged => {
                    format!("Unchanged: {} already holds {what}", pushed.reference)
                }
                pacto_oci::PushStatus::Overwritten => {
                    format!("Pushed {what} -> {} (overwritten)", pushed.reference)
                }
                _ => format!("Pushed {what} -> {}", pushed.reference),
            };
            format!("{head}\nDigest: {}", pushed.digest)
        },
    );
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments, reason = "the pull flags, unpacked")]
async fn pull(
    client: &Client,
    reference: &str,
    output: Option<PathBuf>,
    constraint: &str,
    offline: bool,
    force: bool,
    out: &Output,
) -> Outcome {
    use crate::write::{WriteError, WriteMode};
    let refused = |e: WriteError| {
        if e.is_refusal() {
            usage(out, &e.to_string())
        } else {
            Err(Error::new(ErrorKind::Other, e).with_context("cannot write the bundle"))
        }
    };
    // A directory named with -o is checked before anything is downloaded.
    if let Some(Err(e)) = output
        .as_deref()
        .map(|dir| crate::write::check(dir, WriteMode::chosen(force)))
    {
        return refused(e);
    }
    let spinner = out.spinner(format!("pulling {reference}"));
    let resolved = client.pull(reference, constraint, mode(offline)).await;
    drop(spinner);
    let resolved = resolved?;
    let bundle = &resolved.bundle;
    let (dir, write_mode) = match output {
        Some(dir) => (dir, WriteMode::chosen(force)),
        None => match crate::write::default_dir(bundle.name()) {
            Ok(dir) => (dir, WriteMode::default_dir(force)),
            Err(e) => return refused(e),
        },
    };
    let files = match crate::write::write_bundle(&dir, bundle, write_mode) {
        Ok(files) => files,
        Err(e) => return refused(e),
    };
    out.emit(
        json!({
            "ref": resolved.reference.to_string(),
            "digest": resolved.digest,
            "name": bundle.name(),
            "version": bundle.version(),
            "dir": dir.display().to_string(),
            "files": files,
        }),
        || {
            format!(
                "Pulled {}@{} -> {}/ ({} files)\nFrom: {}\nDigest: {}",
                bundle.name(),
                bundle.version(),
                dir.display(),
                files.len(),
                resolved.reference,
                resolved.digest
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

async fn fetch_all(client: &Client, repository: &str, out: &Output) -> Outcome {
    let spinner = out.spinner(format!("fetching every version of {repository}"));
    let fetched = client.fetch_all(repository).await;
    drop(spinner);
    let fetched = fetched?;
    let failures: Vec<(String, Error)> = fetched
        .failed
        .into_iter()
        .map(|f| (f.tag, Error::from(f.error)))
        .collect();
    out.emit(
        json!({
            "versions": fetched.versions,
            "failed": failures.iter().map(|(tag, e)| json!({"tag": tag, "error": e.to_string()})).collect::<Vec<_>>(),
        }),
        || {
            let mut text = format!("Fetched {} versions of {repository}", fetched.versions.len());
            for version in &fetched.versions {
                text.push_str(&format!("\n  {version}"));
            }
            for (tag, error) in &failures {
                text.push_str(&format!("\nfailed {tag}: {error}"));
            }
            text
        },
    );
    let Some((_, first)) = failures.first() else {
        return Ok(ExitCode::SUCCESS);
    };
    for (tag, error) in &failures {
        eprintln!("error: {tag}: {error}");
    }
    let code = exit_code(first.kind());
    let same = failures.iter().all(|(_, e)| exit_code(e.kind()) == code);
    Ok(ExitCode::from(if same { code } else { 1 }))
}

#[allow(clippy::too_many_arguments, reason = "the login flags, unpacked")]
async fn login(
    client: &Client,
    global: &Global,
    registry: &str,
    user: Option<String>,
    pass: Option<String>,
    password_stdin: bool,
    out: &Output,
) -> Outcome {
    let Some(username) = user.or_else(|| global.username.clone()) else {
        return usage(out, "login needs a user name: -u USER");
    };
    let password = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            Error::message(
                ErrorKind::Other,
                format!("cannot read the password from stdin: {e}"),
            )
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.strip_suffix('\r').unwrap_or(text).to_owned()
    } else {
        match pass.or_else(|| global.password.clone()) {
            Some(password) => password,
            None => return usage(out, "login needs a password: --password-stdin or -p PASS"),
        }
    };
    let password = Secret::new(password);
    client.login(registry, &username, &password).await?;
    out.emit(json!({"registry": registry}), || {
        format!("Login succeeded for {registry}")
    });
    Ok(ExitCode::SUCCESS)
}

async fn cache(client: &Client, command: CacheCommand, out: &Output) -> Outcome {
    let cache = client.cache();
    match command {
        CacheCommand::Dir => {
            let dir = cache.cache_dir().map(|d| d.display().to_string());
            out.emit(json!({"dir": dir}), || {
                dir.clone()
                    .unwrap_or_else(|| "(no cache directory: memory only)".into())
            });
        }
        CacheCommand::Ls => {
            let entries = cache.entries().await?;
            out.emit(
                json!(
                    entries
                        .iter()
                        .map(|e| json!({"ref": e.reference, "digest": e.digest, "size": e.size}))
                        .collect::<Vec<_>>()
                ),
                || {
                    entries
                        .iter()
                        .map(|e| format!("{}\t{}\t{}", e.reference, e.digest, e.size))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        CacheCommand::Verify => {
            let report = cache.verify().await?;
            out.emit(json!({"ok": report.ok, "corrupt": report.corrupt}), || {
                let mut text = format!(
                    "{} entries intact, {} corrupt removed",
                    report.ok,
                    report.corrupt.len()
                );
                for entry in &report.corrupt {
                    text.push_str(&format!("\n  removed {entry}"));
                }
                text
            });
        }
        CacheCommand::Prune { max_size } => {
            let report = cache.prune(max_size).await?;
            out.emit(
                json!({"removed": report.removed, "freed": report.freed_bytes, "remaining": report.remaining_bytes}),
                || {
                    format!(
                        "Removed {} entries ({} bytes); {} bytes remain",
                        report.removed.len(),
                        report.freed_bytes,
                        report.remaining_bytes
                    )
                },
            );
        }
        CacheCommand::Clear => {
            cache.clear().await?;
            let dir = cache.cache_dir().map(|d| d.display().to_string());
            out.emit(json!({"dir": dir, "cleared": true}), || {
                "Cache cleared".into()
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn semver(command: SemverCommand, out: &Output) -> Outcome {
    use pacto_oci::refs::SelectError;
    match command {
        SemverCommand::Best { constraint, tags } => {
            let tag = pacto_oci::refs::best_tag(&tags, &constraint)
                .map_err(|e: SelectError| Error::new(e.kind(), e).with_context("no tag chosen"))?;
            out.emit(json!({"tag": tag}), || tag.clone());
        }
        SemverCommand::Sort { tags } => {
            let sorted = pacto_oci::refs::filter_semver_tags(&tags);
            out.emit(json!(sorted), || sorted.join("\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_ref(settings: &Settings, reference: &str, out: &Output) -> Outcome {
    let options = ParseOptions::untagged().with_insecure_hosts(&settings.insecure_hosts);
    let parsed = ArtifactRef::parse(reference, &options)?;
    let document = match &parsed {
        ArtifactRef::Layout(layout) => json!({
            "registry": null,
            "repository": layout.path().display().to_string(),
            "tag": layout.tag(),
            "digest": layout.digest(),
            "scheme": "oci-layout",
        }),
        ArtifactRef::Remote(remote) => {
            let scheme = match remote.registry().policy() {
                SchemePolicy::HttpOnly => Scheme::Http,
                _ => Scheme::Https,
            };
            json!({
                "registry": remote.registry().name(),
                "repository": remote.repository(),
                "tag": remote.tag(),
                "digest": remote.digest(),
                "scheme": scheme.as_str(),
            })
        }
    };
    out.emit(document.clone(), || {
        ["registry", "repository", "tag", "digest", "scheme"]
            .iter()
            .map(|key| format!("{key}: {}", document[key].as_str().unwrap_or("-")))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(ExitCode::SUCCESS)
}
