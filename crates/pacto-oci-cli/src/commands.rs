//! One function per command, each a few lines over the facade.

use crate::human;
use crate::output::{Output, exit_code};
use crate::{CacheCommand, Cli, Command, Global, RefCommand, SemverCommand};
use pacto_oci::auth::Source;
use pacto_oci::env::{self, InvalidSetting, Settings};
use pacto_oci::refs::{ArtifactRef, ParseOptions, Scheme, SchemePolicy, Version, version_to_tag};
use pacto_oci::registry::{PushStatus, StoreError};
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
        Command::Completions { shell } => {
            crate::completions::print(shell, out);
            Ok(ExitCode::SUCCESS)
        }
        command => match settings(&cli.global) {
            Err(invalid) => return out.usage(&invalid),
            Ok(settings) if settings.no_cache == Some(true) && offline(&command) => {
                out.error(
                    "usage",
                    "--offline reads only the cache, and --no-cache (or PACTO_NO_CACHE) forbids \
                     reading it: drop one of them",
                    &[],
                );
                return ExitCode::from(2);
            }
            Ok(settings) => match client(&cli.global, settings, out) {
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

/// Whether `command` reads the cache only (`--offline`), which `--no-cache` contradicts.
fn offline(command: &Command) -> bool {
    matches!(
        command,
        Command::Pull { offline: true, .. }
            | Command::Resolve { offline: true, .. }
            | Command::Inspect { offline: true, .. }
    )
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

fn client(global: &Global, settings: Settings, out: &Output) -> Result<Client, Error> {
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
    let mut builder = Client::builder()
        .credentials(credentials)
        .settings(settings);
    if let Some(progress) = out.progress() {
        builder = builder.progress(progress);
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
            force,
        } => pull(client, &reference, output, &constraint, offline, force, out).await,
        Command::Resolve {
            reference,
            constraint,
            offline,
        } => {
            let reference = crate::reference::read(&reference)?;
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
        Command::Inspect {
            reference,
            constraint,
            offline,
        } => inspect(client, &reference, &constraint, offline, out).await,
        Command::Copy {
            source,
            destination,
            force,
        } => copy(client, &source, &destination, force, out).await,
        Command::Tag {
            reference,
            tags,
            force,
        } => tag(client, &reference, &tags, force, out).await,
        Command::Tags {
            repository,
            all,
            constraint,
        } => tags(client, &repository, all, constraint.as_deref(), out).await,
        Command::FetchAll { repository } => {
            fetch_all(client, &crate::reference::read(&repository)?, out).await
        }
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
        Command::Semver(_)
        | Command::Ref(_)
        | Command::Pack { .. }
        | Command::Validate { .. }
        | Command::Completions { .. } => {
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
    let bundle = read_dir_bundle(dir, &limits).await?;
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
    // A big bundle gets a bar on a terminal, unless the layer goes to standard output.
    let bar = match &sink {
        Sink::Stdout => None,
        _ => out.pack_bar(
            bundle.total_size(),
            &format!("{}@{}", bundle.name(), bundle.version()),
        ),
    };
    let progress = {
        let bar = bar.clone();
        move |n| {
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        }
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
            pacto_oci::archive::pack_to_writer_with_progress(&bundle, file, &limits, progress)
                .await?
        }
        Sink::File {
            path: file,
            create_parents,
        } => {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent.filter(|_| *create_parents) {
                let parent = parent.to_owned();
                pacto_oci::fs::blocking(move || std::fs::create_dir_all(parent))
                    .await
                    .and_then(|created| created)
                    .map_err(io_error)?;
            }
            pacto_oci::archive::pack_to_file_with_progress(&bundle, file, &limits, progress).await?
        }
    };
    drop(bar);
    let summary = || {
        format!(
            "Packed {}@{} -> {} ({} bytes)\nLayer digest: {}",
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
    let meta = tokio::fs::metadata(source).await.map_err(|e| {
        Error::message(
            ErrorKind::Other,
            format!("cannot read {}: {e}", source.display()),
        )
    })?;
    if meta.is_dir() {
        return read_dir_bundle(source, limits).await;
    }
    let file = tokio::fs::File::open(source).await.map_err(|e| {
        Error::message(
            ErrorKind::Other,
            format!("cannot open {}: {e}", source.display()),
        )
    })?;
    Ok(pacto_oci::archive::unpack(file, limits).await?)
}

/// A bundle directory read under `limits`, off the async executor (it reads and checks
/// every file).
async fn read_dir_bundle(dir: &Path, limits: &Limits) -> Result<Bundle, Error> {
    let (dir, limits) = (dir.to_owned(), *limits);
    let read = pacto_oci::fs::blocking(move || Bundle::from_dir_with_limits(&dir, &limits))
        .await
        .map_err(|e| Error::message(ErrorKind::Other, format!("cannot read the bundle: {e}")))?;
    Ok(read?)
}

/// What `push` sends: a directory, packed while it is pushed (streamed, whatever its
/// size), or a bundle read from a `.tar.gz` made by `pack` (held in memory, as before).
enum PushSource {
    Dir(pacto_oci::BundleDir),
    Bundle(Bundle),
}

impl PushSource {
    fn name(&self) -> &str {
        match self {
            PushSource::Dir(dir) => dir.name(),
            PushSource::Bundle(bundle) => bundle.name(),
        }
    }

    fn version(&self) -> &str {
        match self {
            PushSource::Dir(dir) => dir.version(),
            PushSource::Bundle(bundle) => bundle.version(),
        }
    }
}

async fn push(
    client: &Client,
    source: &Path,
    reference: &str,
    force: bool,
    out: &Output,
) -> Outcome {
    let reference = crate::reference::read(reference)?;
    let is_dir = tokio::fs::metadata(source)
        .await
        .is_ok_and(|meta| meta.is_dir());
    let source = if is_dir {
        // Listed (and refused) before anything is packed or sent.
        PushSource::Dir(client.open_dir(source).await?)
    } else {
        PushSource::Bundle(load_source(client, source).await?)
    };
    let parsed = client.parse(&reference)?;
    // The tag this push writes: the reference's, or service.version's.
    let tag = parsed
        .tag()
        .map(str::to_owned)
        .unwrap_or_else(|| version_to_tag(source.version()));
    for warning in push_warnings(&tag, source.version()) {
        out.warn(&warning);
    }
    let what = format!("{}@{}", source.name(), source.version());
    let pushing = format!("pushing {what} to {reference}");
    // An unchanged bundle is only compared: "pushing" shows once bytes go up to the
    // registry or into the layout.
    let spinner = out.transfer(
        format!("checking {what} against {reference}"),
        Some(pushing),
    );
    let pushed = match &source {
        PushSource::Dir(dir) => {
            // Packed as it goes up: a bar over the file bytes packed for a big bundle.
            let bar = out.transfer_bar(dir.total_size(), &format!("packing {what}"));
            client
                .push_listed(dir, &reference, force, move |n| {
                    if let Some(bar) = &bar {
                        bar.inc(n);
                    }
                })
                .await
        }
        PushSource::Bundle(bundle) => client.push(&reference, bundle, force).await,
    };
    drop(spinner);
    let pushed = pushed?;
    let status = pushed.status.as_str();
    out.emit(
        json!({"ref": pushed.reference.to_string(), "digest": pushed.digest, "status": status}),
        || {
            let head = match pushed.status {
                PushStatus::Unchanged => {
                    format!("Unchanged: {} already holds {what}", pushed.reference)
                }
                PushStatus::Overwritten => {
                    format!("Pushed {what} -> {} (overwritten)", pushed.reference)
                }
                _ => format!("Pushed {what} -> {}", pushed.reference),
            };
            format!("{head}\nManifest digest: {}", pushed.digest)
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// What a push of a bundle with `version` under `tag` should warn about: `tags` and
/// resolution go by tags and read them as semver (with `_` for `+`), so a tag that is not
/// the bundle's version misleads them, and a version that is not semver is invisible to them.
fn push_warnings(tag: &str, version: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let parsed = Version::parse(version);
    let same = tag == version_to_tag(version)
        || matches!(
            (Version::parse_tag(tag), &parsed),
            (Ok(t), Ok(v)) if t == *v && t.metadata() == v.metadata()
        );
    if !same {
        warnings.push(format!(
            "the tag {tag} differs from service.version {version}: `tags` and resolution go by \
             the tag, `pull` reports the version"
        ));
    }
    if parsed.is_err() {
        warnings.push(format!(
            "service.version {version} is not a semantic version: this bundle is never listed \
             by `tags` (without --all) nor chosen for an untagged reference or a constraint"
        ));
    }
    warnings
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
    use pacto_oci::archive::{self, Output, WriteError, WriteOptions};
    let chosen = WriteOptions::chosen_dir().with_force(force);
    // A directory named with -o is checked before anything is downloaded.
    if let Some(dir) = output.clone()
        && let Err(e) = off_executor(move || archive::check_output(&dir, chosen)).await?
    {
        return if e.is_refusal() {
            usage(out, &write_refusal(&e))
        } else {
            Err(Error::new(ErrorKind::Other, e).with_context("cannot write the bundle"))
        };
    }
    let reference = crate::reference::read(reference)?;
    let named_by_service = output.is_none();
    let (target, write_options) = match output {
        Some(dir) => (Output::Dir(dir), chosen),
        None => (
            Output::NamedByService {
                parent: PathBuf::from("."),
            },
            WriteOptions::default_dir().with_force(force),
        ),
    };
    let spinner = out.transfer(format!("pulling {reference}"), None);
    let pulled = client
        .pull_to(&reference, constraint, mode(offline), target, write_options)
        .await;
    drop(spinner);
    let pulled = match pulled {
        Ok(pulled) => pulled,
        Err(e) => {
            return match e.write_error() {
                Some(WriteError::UnsafeName(name)) => usage(
                    out,
                    &format!(
                        "{name}; it is never used as the output directory, not even with \
                         --force: choose one with -o DIR"
                    ),
                ),
                Some(refusal) if refusal.is_refusal() => usage(out, &write_refusal(refusal)),
                _ => Err(e),
            };
        }
    };
    let written = &pulled.written;
    let (name, version) = (
        &written.contract.service.name,
        &written.contract.service.version,
    );
    // The default `./payments` is said `payments`; a directory named with -o as it was named.
    let dir = match written.dir.strip_prefix(".") {
        Ok(stripped) if named_by_service => stripped,
        _ => &written.dir,
    };
    let files = &written.files;
    out.emit(
        json!({
            "ref": pulled.reference.to_string(),
            "digest": pulled.digest,
            "name": name,
            "version": version,
            "dir": dir.display().to_string(),
            "files": files,
        }),
        || {
            format!(
                "Pulled {}@{} -> {}/ ({} files)\nFrom: {}\nManifest digest: {}",
                name,
                version,
                dir.display(),
                files.len(),
                pulled.reference,
                pulled.digest
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// The message of a refused output path, with the flags that get past it.
fn write_refusal(error: &pacto_oci::archive::WriteError) -> String {
    match error {
        pacto_oci::archive::WriteError::Exists { .. } => {
            format!("{error}; choose another directory with -o DIR, or replace it with --force")
        }
        _ => error.to_string(),
    }
}

/// Runs the bundle writer's blocking file-system work on the blocking pool, off the executor.
async fn off_executor<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, pacto_oci::archive::WriteError> + Send + 'static,
) -> Result<Result<T, pacto_oci::archive::WriteError>, Error> {
    pacto_oci::fs::blocking(work)
        .await
        .map_err(|e| Error::new(ErrorKind::Other, e).with_context("cannot write the bundle"))
}

/// `inspect REF`: the bundle through the cache, described; nothing is written.
async fn inspect(
    client: &Client,
    reference: &str,
    constraint: &str,
    offline: bool,
    out: &Output,
) -> Outcome {
    let reference = crate::reference::read(reference)?;
    let spinner = out.spinner(format!("inspecting {reference}"));
    let inspected = client.inspect(&reference, constraint, mode(offline)).await;
    drop(spinner);
    let inspected = inspected?;
    let resolved = &inspected.resolved;
    let manifest = &inspected.manifest;
    let contract = resolved.bundle.contract();
    let service = &contract.service;
    let owner = service
        .owner
        .as_ref()
        .map(|o| serde_json::to_value(o).unwrap_or_default());
    let created = manifest
        .annotations
        .get("org.opencontainers.image.created")
        .cloned();
    let blob = |b: &pacto_oci::registry::artifact::BlobDescriptor| json!({"mediaType": b.media_type, "digest": b.digest, "size": b.size});
    let files: Vec<(String, u64)> = resolved
        .bundle
        .files()
        .iter()
        .map(|(path, bytes)| (path.to_string(), bytes.len() as u64))
        .collect();
    let document = json!({
        "ref": resolved.reference.to_string(),
        "digest": resolved.digest,
        "mediaType": manifest.media_type,
        "config": blob(&manifest.config),
        "layer": blob(&manifest.layer),
        "created": created,
        "annotations": manifest.annotations,
        "service": {"name": service.name, "version": service.version, "owner": owner},
        "pactoVersion": contract.pacto_version,
        "interfaces": contract.interfaces.iter().map(|i| json!({
            "name": i.name, "type": i.kind, "port": i.port, "contract": i.contract,
        })).collect::<Vec<_>>(),
        "dependencies": contract.dependencies.iter().map(|d| json!({
            "ref": d.reference, "required": d.required, "compatibility": d.compatibility,
        })).collect::<Vec<_>>(),
        "files": files.iter().map(|(path, size)| json!({"path": path, "size": size})).collect::<Vec<_>>(),
    });
    out.emit(document, || {
        let mut text = format!(
            "Reference:       {}\nManifest digest: {}\nMedia type:      {}\nLayer:           {} ({}, {})\nConfig:          {} ({})\n",
            resolved.reference,
            resolved.digest,
            manifest.media_type,
            manifest.layer.digest,
            human::format_size(manifest.layer.size),
            manifest.layer.media_type,
            manifest.config.digest,
            manifest.config.media_type,
        );
        text.push_str(&format!(
            "Created:         {}\nService:         {}@{}\n",
            created.as_deref().unwrap_or("(not recorded)"),
            service.name,
            service.version
        ));
        let owner = match &service.owner {
            Some(owner) => owner
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| serde_json::to_string(owner).unwrap_or_default()),
            None => "(none)".to_owned(),
        };
        text.push_str(&format!("Owner:           {owner}\n"));
        text.push_str(&format!("Interfaces:      {}\n", contract.interfaces.len()));
        for interface in &contract.interfaces {
            let port = interface.port.map(|p| format!(" port {p}")).unwrap_or_default();
            let file = interface
                .contract
                .as_deref()
                .map(|c| format!(" -> {c}"))
                .unwrap_or_default();
            text.push_str(&format!("  {} ({}{port}){file}\n", interface.name, interface.kind));
        }
        text.push_str(&format!("Dependencies:    {}\n", contract.dependencies.len()));
        for dependency in &contract.dependencies {
            text.push_str(&format!(
                "  {} {}{}\n",
                dependency.reference,
                dependency.compatibility,
                if dependency.required { "" } else { " (optional)" }
            ));
        }
        let total: u64 = files.iter().map(|(_, size)| size).sum();
        text.push_str(&format!(
            "Files:           {} ({})",
            files.len(),
            human::format_size(total)
        ));
        let width = files.iter().map(|(p, _)| p.chars().count()).max().unwrap_or(0);
        for (path, size) in &files {
            text.push_str(&format!("\n  {path:<width$}  {:>10}", human::format_size(*size)));
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}

/// `copy SRC DST`: the artifact byte for byte; what each blob cost.
async fn copy(
    client: &Client,
    source: &str,
    destination: &str,
    force: bool,
    out: &Output,
) -> Outcome {
    let source = crate::reference::read(source)?;
    let destination = crate::reference::read(destination)?;
    let spinner = out.transfer(format!("copying {source} to {destination}"), None);
    let copied = client.copy(&source, &destination, force).await;
    drop(spinner);
    let copied = copied?;
    let status = copied.status.as_str();
    out.emit(
        json!({
            "source": copied.source.to_string(),
            "ref": copied.destination.to_string(),
            "digest": copied.digest,
            "status": status,
            "blobs": copied.blobs.iter().map(|b| json!({
                "digest": b.descriptor.digest,
                "size": b.descriptor.size,
                "action": b.action.as_str(),
            })).collect::<Vec<_>>(),
        }),
        || {
            let head = match copied.status {
                PushStatus::Unchanged => format!(
                    "Unchanged: {} already holds {}",
                    copied.destination, copied.source
                ),
                PushStatus::Overwritten => {
                    format!(
                        "Copied {} -> {} (overwritten)",
                        copied.source, copied.destination
                    )
                }
                _ => format!("Copied {} -> {}", copied.source, copied.destination),
            };
            let mut text = format!("{head}\nManifest digest: {}", copied.digest);
            for blob in &copied.blobs {
                text.push_str(&format!(
                    "\n  {} {} ({})",
                    blob.action.as_str(),
                    blob.descriptor.digest,
                    human::format_size(blob.descriptor.size)
                ));
            }
            text
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `tag REF NEWTAG...`: the manifest under more tags.
async fn tag(
    client: &Client,
    reference: &str,
    tags: &[String],
    force: bool,
    out: &Output,
) -> Outcome {
    let reference = crate::reference::read(reference)?;
    // The `+` rule of references holds for the new tags too.
    let tags: Vec<String> = tags.iter().map(|t| t.replace('+', "_")).collect();
    let tagged = client.tag(&reference, &tags, force).await?;
    out.emit(
        json!({
            "digest": tagged.digest,
            "tags": tagged.tags.iter().map(|t| json!({
                "ref": t.reference.to_string(),
                "status": t.status.as_str(),
            })).collect::<Vec<_>>(),
        }),
        || {
            let mut lines: Vec<String> = tagged
                .tags
                .iter()
                .map(|t| match t.status {
                    PushStatus::Unchanged => format!("Unchanged {}", t.reference),
                    PushStatus::Overwritten => format!("Tagged {} (overwritten)", t.reference),
                    _ => format!("Tagged {}", t.reference),
                })
                .collect();
            lines.push(format!("Manifest digest: {}", tagged.digest));
            lines.join("\n")
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `tags REPO`: the semver tags, newest first; `--constraint C` only those satisfying C;
/// `--all` every tag, the semver ones first, then the others by name.
async fn tags(
    client: &Client,
    repository: &str,
    all: bool,
    constraint: Option<&str>,
    out: &Output,
) -> Outcome {
    use pacto_oci::refs::{Constraint, filter_semver_tags};
    let repository = crate::reference::read(repository)?;
    // A constraint that does not parse is refused before anything is listed.
    let constraint = match constraint.filter(|c| !c.is_empty()) {
        Some(text) => Some(Constraint::parse(text).map_err(|e| {
            Error::new(ErrorKind::InvalidConstraint, e).with_context("cannot filter the tags")
        })?),
        None => None,
    };
    let listed = if all || constraint.is_some() {
        // Every tag, to sort (and filter) here; `versions` is the semver ones, sorted.
        let every = client.tags(&repository).await?;
        let mut semver = filter_semver_tags(&every);
        if let Some(constraint) = &constraint {
            semver.retain(|tag| Version::parse_tag(tag).is_ok_and(|v| constraint.matches(&v)));
        }
        if all {
            let mut others: Vec<String> = every
                .iter()
                .filter(|tag| Version::parse_tag(tag).is_err())
                .cloned()
                .collect();
            others.sort();
            semver.extend(others);
        }
        semver
    } else {
        client.versions(&repository).await?
    };
    out.emit(json!(listed), || listed.join("\n"));
    Ok(ExitCode::SUCCESS)
}

/// `fetch-all REPO`: the fetched versions on stdout; on stderr each version that failed, once,
/// then a count. The exit code is the failures' kind (1 when their kinds differ).
async fn fetch_all(client: &Client, repository: &str, out: &Output) -> Outcome {
    let spinner = out.transfer(format!("fetching every version of {repository}"), None);
    let fetched = client.fetch_all(repository).await;
    drop(spinner);
    let fetched = fetched?;
    let failures: Vec<(String, Error)> = fetched
        .failed
        .into_iter()
        .map(|f| (f.tag, Error::from(f.error)))
        .collect();
    let total = fetched.versions.len() + failures.len();
    out.emit(
        json!({
            "versions": fetched.versions,
            "failed": failures.iter().map(|(tag, e)| json!({"tag": tag, "error": e.to_string()})).collect::<Vec<_>>(),
        }),
        || {
            let mut text = format!(
                "Fetched {} of {total} versions of {repository}",
                fetched.versions.len()
            );
            for version in &fetched.versions {
                text.push_str(&format!("\n  {version}"));
            }
            text
        },
    );
    let Some((_, first)) = failures.first() else {
        return Ok(ExitCode::SUCCESS);
    };
    for (tag, error) in &failures {
        out.error_line(&format!("cannot fetch {tag}: {}", out.describe(error)));
    }
    out.error_line(&format!(
        "{} of {total} versions of {repository} could not be fetched",
        failures.len()
    ));
    let code = exit_code(first.kind());
    let same = failures.iter().all(|(_, e)| exit_code(e.kind()) == code);
    Ok(ExitCode::from(if same { code } else { 1 }))
}

/// Where `login`'s password came from, as its errors say it.
#[derive(Debug, Clone, Copy)]
enum PasswordSource {
    Stdin,
    Prompt,
    Flag,
    GlobalFlag,
    Env,
}

impl PasswordSource {
    fn label(self) -> &'static str {
        match self {
            PasswordSource::Stdin => "password from stdin",
            PasswordSource::Prompt => "password typed at the prompt",
            PasswordSource::Flag => "password from -p",
            PasswordSource::GlobalFlag => "password from --password",
            PasswordSource::Env => "password from PACTO_REGISTRY_PASSWORD",
        }
    }
}

/// A registry refused the user name and password `login` checked.
#[derive(Debug, thiserror::Error)]
#[error(
    "{registry} rejected user {user:?} with the {}: {detail}; nothing was stored: check the user \
     name and the password (or token)",
    password.label()
)]
struct LoginRejected {
    registry: String,
    user: String,
    password: PasswordSource,
    detail: String,
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
    let (password, source) = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            Error::message(
                ErrorKind::Other,
                format!("cannot read the password from stdin: {e}"),
            )
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        (
            text.strip_suffix('\r').unwrap_or(text).to_owned(),
            PasswordSource::Stdin,
        )
    } else if let Some(password) = pass {
        (password, PasswordSource::Flag)
    } else if let Some(password) = global.password.clone() {
        let source = if global.origins.password_flag {
            PasswordSource::GlobalFlag
        } else {
            PasswordSource::Env
        };
        (password, source)
    } else {
        let asked = if std::io::stdin().is_terminal() {
            crate::prompt::password("Password: ").map_err(|e| {
                Error::message(
                    ErrorKind::Other,
                    format!("cannot read the password from the terminal: {e}"),
                )
            })?
        } else {
            None
        };
        match asked {
            Some(password) => (password, PasswordSource::Prompt),
            None => {
                return usage(
                    out,
                    "login needs a password: --password-stdin or -p PASS (it is asked for only \
                     when stdin is a terminal)",
                );
            }
        }
    };
    if password.is_empty() {
        return usage(
            out,
            &format!(
                "the {} is empty: login needs a non-empty password",
                source.label()
            ),
        );
    }
    let password = Secret::new(password);
    match client.login(registry, &username, &password).await {
        Ok(()) => {}
        Err(error) => {
            if let Some(StoreError::Authentication {
                registry, detail, ..
            }) = error.store_error()
            {
                let rejected = LoginRejected {
                    registry: registry.clone(),
                    user: username,
                    password: source,
                    detail: detail.clone(),
                };
                return Err(
                    Error::new(ErrorKind::Authentication, rejected).with_context("cannot log in")
                );
            }
            return Err(error);
        }
    }
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
                        .map(|e| json!({
                            "ref": e.reference,
                            "digest": e.digest,
                            "size": e.size,
                            "last_used": human::rfc3339(e.last_used),
                        }))
                        .collect::<Vec<_>>()
                ),
                || cache_table(&entries),
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
                        "Removed {} entries ({}); {} remain (limit {})",
                        report.removed.len(),
                        human::format_size(report.freed_bytes),
                        human::format_size(report.remaining_bytes),
                        human::format_size(max_size),
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

/// `cache ls` for people: a header, then one aligned row per entry (digest shortened, as
/// docker shows image ids; `--json` has it whole).
fn cache_table(entries: &[pacto_oci::cache::CacheEntry]) -> String {
    let now = std::time::SystemTime::now();
    let rows: Vec<[String; 4]> = entries
        .iter()
        .map(|e| {
            let hex = e.digest.hex();
            let digest = format!("{}:{}", e.digest.algorithm(), &hex[..hex.len().min(12)]);
            [
                e.reference.clone(),
                digest,
                human::format_size(e.size),
                human::ago(e.last_used, now),
            ]
        })
        .collect();
    let header = ["REFERENCE", "DIGEST", "SIZE", "LAST USED"].map(str::to_owned);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            format!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
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
    let reference = crate::reference::read(reference)?;
    let parsed = ArtifactRef::parse(&reference, &options)?;
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
