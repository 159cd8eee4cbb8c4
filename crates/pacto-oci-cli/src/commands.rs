//! One function per command, each a few lines over the facade.

use crate::output::{Output, exit_code};
use crate::{CacheCommand, Cli, Command, Global, RefCommand, SemverCommand};
use pacto_oci::refs::{ArtifactRef, ParseOptions, Scheme, SchemePolicy};
use pacto_oci::{Bundle, Client, CredentialOptions, Error, ErrorKind, Limits, ResolveMode, Secret};
use serde_json::json;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

type Outcome = Result<ExitCode, Error>;

pub(crate) async fn run(cli: Cli, out: &Output) -> ExitCode {
    let result = match cli.command {
        Command::Semver(command) => semver(command, out),
        Command::Ref(RefCommand::Parse { reference }) => parse_ref(&cli.global, &reference, out),
        Command::Pack { dir, output } => pack(&dir, output, out).await,
        command => match client(&cli.global) {
            Ok(client) => dispatch(command, &cli.global, &client, out).await,
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => out.fail(&error),
    }
}

fn insecure_hosts(global: &Global) -> Vec<String> {
    let mut hosts = global.plain_http.clone();
    if let Ok(list) = std::env::var("PACTO_INSECURE_REGISTRIES") {
        hosts.extend(
            list.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned),
        );
    }
    hosts
}

fn client(global: &Global) -> Result<Client, Error> {
    let mut builder = Client::builder()
        .credentials(CredentialOptions {
            username: global.username.clone(),
            password: global.password.clone().map(Secret::new),
            token: global.token.clone().map(Secret::new),
        })
        .no_cache(global.no_cache)
        .concurrency(global.concurrency.max(1));
    for host in insecure_hosts(global) {
        builder = builder.plain_http(host);
    }
    if let Some(ca) = &global.ca_file {
        builder = builder.ca_file(ca);
    }
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    builder.build()
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
        } => pull(client, &reference, output, &constraint, offline, out).await,
        Command::Resolve {
            reference,
            constraint,
            offline,
        } => {
            let spinner = out.spinner(format!("resolving {reference}"));
            let resolved = client.pull(&reference, &constraint, mode(offline)).await;
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
        Command::Semver(_) | Command::Ref(_) | Command::Pack { .. } => {
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

async fn pack(dir: &Path, output: Option<PathBuf>, out: &Output) -> Outcome {
    // The limits a pull applies, so that nothing is packed that cannot be pulled.
    let limits = Limits::default();
    let bundle = Bundle::from_dir_with_limits(dir, &limits)?;
    let path = output
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.tar.gz", bundle.name(), bundle.version())));
    let packed = pacto_oci::archive::pack_to_file(&bundle, &path, &limits).await?;
    out.emit(
        json!({
            "path": path.display().to_string(),
            "digest": packed.digest,
            "name": bundle.name(),
            "version": bundle.version(),
            "size": packed.size,
        }),
        || {
            format!(
                "Packed {}@{} -> {} ({} bytes)\nDigest: {}",
                bundle.name(),
                bundle.version(),
                path.display(),
                packed.size,
                packed.digest
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// A bundle directory, or a `.tar.gz` made by `pack`, read within the client's limits (the
/// ones its pulls apply).
async fn load_source(client: &Client, source: &Path) -> Result<Bundle, Error> {
    let meta = std::fs::metadata(source).map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot read {}: {e}", source.display()),
        )
    })?;
    if meta.is_dir() {
        return Ok(Bundle::from_dir_with_limits(source, client.limits())?);
    }
    let file = tokio::fs::File::open(source).await.map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot open {}: {e}", source.display()),
        )
    })?;
    Ok(pacto_oci::archive::unpack(file, client.limits()).await?)
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

/// Go pacto's `safeOutputName`: a service name usable as a directory name.
fn default_dir(name: &str) -> Result<PathBuf, Error> {
    let unsafe_name = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\\')
        || name.contains('\0');
    if unsafe_name {
        return Err(Error::new(
            ErrorKind::InvalidBundle,
            format!(
                "the service name {name:?} is not a safe directory name; choose one with -o DIR"
            ),
        ));
    }
    Ok(PathBuf::from(name))
}

async fn pull(
    client: &Client,
    reference: &str,
    output: Option<PathBuf>,
    constraint: &str,
    offline: bool,
    out: &Output,
) -> Outcome {
    let spinner = out.spinner(format!("pulling {reference}"));
    let resolved = client.pull(reference, constraint, mode(offline)).await;
    drop(spinner);
    let resolved = resolved?;
    let bundle = &resolved.bundle;
    let dir = match output {
        Some(dir) => dir,
        None => default_dir(bundle.name())?,
    };
    let files = crate::write::write_bundle(&dir, bundle).map_err(|e| {
        Error::new(
            ErrorKind::Other,
            format!("cannot write the bundle to {}: {e}", dir.display()),
        )
    })?;
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
    let usage = |message: &str| {
        out.error("usage", message, &[]);
        Ok(ExitCode::from(2))
    };
    let Some(username) = user.or_else(|| global.username.clone()) else {
        return usage("login needs a user name: -u USER");
    };
    let password = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!("cannot read the password from stdin: {e}"),
            )
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.strip_suffix('\r').unwrap_or(text).to_owned()
    } else {
        match pass.or_else(|| global.password.clone()) {
            Some(password) => password,
            None => return usage("login needs a password: --password-stdin or -p PASS"),
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
            let tag = pacto_oci::refs::best_tag(&tags, &constraint).map_err(|e| {
                let kind = match &e {
                    SelectError::InvalidConstraint(_) => ErrorKind::InvalidConstraint,
                    SelectError::NoMatchingVersion { .. } => ErrorKind::NoMatchingVersion,
                    _ => ErrorKind::NotFound,
                };
                Error::new(kind, e)
            })?;
            out.emit(json!({"tag": tag}), || tag.clone());
        }
        SemverCommand::Sort { tags } => {
            let sorted = pacto_oci::refs::filter_semver_tags(&tags);
            out.emit(json!(sorted), || sorted.join("\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_ref(global: &Global, reference: &str, out: &Output) -> Outcome {
    let options = ParseOptions {
        insecure_hosts: insecure_hosts(global),
        ..ParseOptions::untagged()
    };
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
