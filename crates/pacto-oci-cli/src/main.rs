//! `pacto-oci`: push, pull, resolve and inspect Pacto bundles in OCI registries and layouts.
//!
//! The command-line contract (commands, JSON keys, exit codes) is `docs/cli.md`; every
//! command is a few lines over the `pacto-oci` facade.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a CLI prints")]
#![allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    reason = "the doc comments on the clap types are the --help text, written for a terminal"
)]

mod commands;
mod completions;
mod help;
mod human;
mod man;
mod output;
mod progress;
mod prompt;
mod reference;
mod sink;

use clap::parser::ValueSource;
use clap::{ArgAction, Args, FromArgMatches as _, Parser, Subcommand};
use output::Output;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Store and retrieve Pacto contract bundles in OCI registries and local OCI image layouts.
///
/// A reference is REGISTRY/REPOSITORY[:TAG|@DIGEST] (an `oci://` prefix is accepted), or
/// oci-layout:PATH[:TAG|@DIGEST] for a local OCI image layout directory (no server needed).
/// A reference without tag or digest means its highest semver tag, optionally under
/// --constraint.
// No `propagate_version`: `--version` is the tool's version at the top level only, so that
// `pull` and `resolve` can take helm's `--version C` for a constraint.
#[derive(Debug, Parser)]
#[command(name = "pacto-oci", version, max_term_width = 100)]
#[command(after_help = help::TOP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options accepted before or after the subcommand. The help of a subcommand shows only
/// `--json`, `-v` and `-q` of them (see `help::command`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// Print one JSON document on stdout instead of human text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Log to stderr: -v info, -vv debug, -vvv trace (or set RUST_LOG). Secrets are never logged.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// No progress and no human text; errors still go to stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Do not read the disk cache (writes continue) (env PACTO_NO_CACHE=on/off).
    #[arg(long, global = true)]
    pub(crate) no_cache: bool,
    /// Cache root [default: $XDG_CACHE_HOME/pacto/oci, else ~/.cache/pacto/oci] (env
    /// PACTO_CACHE_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Talk plain HTTP to HOST (repeatable; env PACTO_INSECURE_REGISTRIES, comma-separated).
    #[arg(long = "plain-http", global = true, value_name = "HOST")]
    pub(crate) plain_http: Vec<String>,
    /// Extra trusted root certificates (PEM); a server certificate that is itself in the file
    /// (self-signed, as `openssl req -x509` makes) is trusted too, for its names and dates
    /// (env PACTO_CA_FILE).
    #[arg(long, global = true, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Registry user name, tried before any stored credential.
    #[arg(long, global = true, env = "PACTO_REGISTRY_USERNAME", value_name = "U")]
    pub(crate) username: Option<String>,
    /// Registry password (prefer PACTO_REGISTRY_PASSWORD or `login --password-stdin`).
    #[arg(
        long,
        global = true,
        env = "PACTO_REGISTRY_PASSWORD",
        hide_env_values = true,
        value_name = "P"
    )]
    pub(crate) password: Option<String>,
    /// Registry bearer token, tried first.
    #[arg(
        long,
        global = true,
        env = "PACTO_REGISTRY_TOKEN",
        hide_env_values = true,
        value_name = "T"
    )]
    pub(crate) token: Option<String>,
    /// Offer --token/--username/--password only to HOST (repeatable or comma-separated; default:
    /// every registry that asks).
    #[arg(
        long = "registry-host",
        global = true,
        env = "PACTO_REGISTRY_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub(crate) registry_hosts: Vec<String>,
    /// Bound the command's network work (e.g. 30s, 5m, 1h) [default: none; a transfer under
    /// 1 KiB/s for 30 s is aborted anyway] (env PACTO_TIMEOUT).
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = pacto_oci::registry::parse_duration
    )]
    pub(crate) timeout: Option<Duration>,
    /// Read REGISTRY through the pull-through cache MIRROR first (repeatable, tried in order,
    /// then the registry; writes always go to the registry) (env PACTO_REGISTRY_MIRRORS,
    /// comma-separated).
    #[arg(
        long = "mirror",
        global = true,
        value_delimiter = ',',
        value_name = "REGISTRY=MIRROR",
        value_parser = pacto_oci::env::parse_mirror
    )]
    pub(crate) mirrors: Vec<(String, String)>,
    /// Resolve tags at the registry; take only content named by digest from mirrors (env
    /// PACTO_MIRROR_DIGESTS_ONLY=on/off).
    #[arg(long, global = true)]
    pub(crate) mirror_digests_only: bool,
    /// Parallel transfers for multi-artifact commands [default: 8] (env PACTO_CONCURRENCY).
    #[arg(
        long,
        global = true,
        value_name = "N",
        value_parser = pacto_oci::env::parse_concurrency
    )]
    pub(crate) concurrency: Option<usize>,
    /// Where the explicit credentials came from, for warnings (not an option).
    #[arg(skip)]
    pub(crate) origins: CredentialOrigins,
}

/// Whether the explicit credentials came from flags or from the environment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CredentialOrigins {
    pub(crate) token_flag: bool,
    pub(crate) password_flag: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    human::parse_size(text)
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Pack a bundle directory into a deterministic .tar.gz (the exact layer a push uploads).
    #[command(after_help = help::PACK)]
    Pack {
        /// The bundle directory (holding pacto.yaml).
        dir: PathBuf,
        /// Output file, or - for standard output (the summary then goes to stderr) [default:
        /// <name>-<version>.tar.gz].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check a bundle directory or a .tar.gz as push would, plus every file pacto.yaml references.
    #[command(after_help = help::VALIDATE)]
    Validate {
        /// A bundle directory or a .tar.gz from `pack`.
        source: PathBuf,
    },
    /// Push a bundle directory or a .tar.gz made by `pack`; an untagged REF is tagged with service.version.
    #[command(after_help = help::PUSH)]
    Push {
        /// A bundle directory or a .tar.gz from `pack`.
        source: PathBuf,
        /// Where to push.
        reference: String,
        /// Overwrite a tag that holds a different artifact.
        #[arg(long)]
        force: bool,
    },
    /// Pull a bundle and write its files under a directory (only after it was fully verified).
    #[command(after_help = help::PULL)]
    Pull {
        /// What to pull; without tag: the highest semver version (under --constraint).
        reference: String,
        /// Output directory: missing or empty [default: ./<service.name>, which must not exist].
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// Semver constraint for an untagged REF (e.g. "^1.2", ">=1.0 <2"); --version is
        /// helm's spelling.
        #[arg(long, visible_alias = "version", value_name = "C", default_value = "")]
        constraint: String,
        /// Use the cache only, never the network.
        #[arg(long)]
        offline: bool,
        /// Replace the output directory when it exists: afterwards it holds exactly the bundle,
        /// swapped in atomically.
        #[arg(long)]
        force: bool,
    },
    /// Which tag and digest REF means now, without downloading the bundle.
    #[command(after_help = help::RESOLVE)]
    Resolve {
        /// What to resolve.
        reference: String,
        /// Semver constraint for an untagged REF; --version is helm's spelling.
        #[arg(long, visible_alias = "version", value_name = "C", default_value = "")]
        constraint: String,
        /// Use the cache only, never the network.
        #[arg(long)]
        offline: bool,
    },
    /// Show what a bundle is without writing files: digests, media types, service, files.
    #[command(after_help = help::INSPECT)]
    Inspect {
        /// What to inspect; without tag: the highest semver version (under --constraint).
        reference: String,
        /// Semver constraint for an untagged REF; --version is helm's spelling.
        #[arg(long, visible_alias = "version", value_name = "C", default_value = "")]
        constraint: String,
        /// Use the cache only, never the network.
        #[arg(long)]
        offline: bool,
    },
    /// Copy a bundle between registries and layouts, byte for byte (the manifest digest is kept).
    #[command(visible_alias = "cp", after_help = help::COPY)]
    Copy {
        /// What to copy; without tag: the highest semver version.
        source: String,
        /// Where to copy it; without tag: the source's tag.
        destination: String,
        /// Overwrite a destination tag that holds a different artifact.
        #[arg(long)]
        force: bool,
    },
    /// Add tags to an existing manifest, without uploading anything else.
    #[command(after_help = help::TAG)]
    Tag {
        /// The manifest to tag, by tag or digest.
        reference: String,
        /// The tags to add, in the same repository or layout.
        #[arg(required = true, value_name = "NEWTAG")]
        tags: Vec<String>,
        /// Move a tag that holds a different artifact.
        #[arg(long)]
        force: bool,
    },
    /// List the semver tags of a repository, newest first.
    #[command(after_help = help::TAGS)]
    Tags {
        /// The repository (a tag or digest in it is ignored).
        repository: String,
        /// Every tag: the semver ones first (newest first), then the others by name.
        #[arg(long, conflicts_with = "constraint")]
        all: bool,
        /// Only the semver tags that satisfy this constraint (e.g. "^1.2").
        #[arg(long, value_name = "C")]
        constraint: Option<String>,
    },
    /// Pull every semver version of a repository into the cache, in parallel.
    #[command(after_help = help::FETCH_ALL)]
    FetchAll {
        /// The repository.
        repository: String,
    },
    /// Check credentials against a registry and store them (mode 0600).
    #[command(after_help = help::LOGIN)]
    Login {
        /// The registry host (e.g. ghcr.io, 127.0.0.1:5000).
        registry: String,
        /// User name.
        #[arg(short = 'u', id = "login_user", value_name = "USER")]
        user: Option<String>,
        /// Password (visible to other local users: prefer --password-stdin or the prompt).
        #[arg(
            short = 'p',
            id = "login_password",
            value_name = "PASS",
            conflicts_with = "password_stdin"
        )]
        pass: Option<String>,
        /// Read the password from stdin (one trailing newline is dropped).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove the stored credentials for a registry.
    #[command(after_help = help::LOGOUT)]
    Logout {
        /// The registry host.
        registry: String,
    },
    /// Inspect and maintain the disk cache.
    #[command(subcommand, after_help = help::CACHE)]
    Cache(CacheCommand),
    /// Offline semver helpers (Go pacto's BestTag and FilterSemverTags).
    #[command(subcommand)]
    Semver(SemverCommand),
    /// Offline reference helpers.
    #[command(subcommand)]
    Ref(RefCommand),
    /// Print a shell completion script on stdout.
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Print the cache directory.
    Dir,
    /// List cached references: size and last use.
    Ls,
    /// Re-hash every entry; report and remove corrupt ones.
    Verify,
    /// Remove least recently used entries until the cache fits a size.
    #[command(after_help = help::CACHE_PRUNE)]
    Prune {
        /// Size to fit in: bytes, or with a unit (10M, 512MiB, 1GiB: binary; 10MB, 1GB:
        /// decimal).
        #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
        max_size: u64,
    },
    /// Remove everything.
    Clear,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SemverCommand {
    /// Which of TAGs a constraint picks (empty or absent: the highest semver tag).
    #[command(after_help = help::SEMVER_BEST)]
    Best {
        /// The constraint.
        #[arg(long, value_name = "C", default_value = "")]
        constraint: String,
        /// Candidate tags.
        tags: Vec<String>,
    },
    /// Semver tags only, newest first.
    #[command(after_help = help::SEMVER_SORT)]
    Sort {
        /// Tags to sort.
        tags: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RefCommand {
    /// How REF is understood: registry, repository, tag, digest, scheme.
    #[command(after_help = help::REF_PARSE)]
    Parse {
        /// The reference.
        reference: String,
    },
}

fn main() -> ExitCode {
    // `args_os`: an argument that is not UTF-8 must reach clap (a path, or a usage error),
    // never panic here.
    let wants_json = std::env::args_os().any(|a| a == "--json");
    let matches = match help::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return usage_error(&error, wants_json),
    };
    if let Some((man::SUBCOMMAND, man)) = matches.subcommand() {
        return man::run(man);
    }
    let parsed = Cli::from_arg_matches(&matches).map(|cli| (cli, matches));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            let flag = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
            cli.global.origins = CredentialOrigins {
                token_flag: flag("token"),
                password_flag: flag("password"),
            };
            cli
        }
        Err(error) => return usage_error(&error, wants_json),
    };
    let out = Output::new(&cli.global);
    output::init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            out.error(
                "other",
                &format!("cannot start the async runtime: {error}"),
                &[],
            );
            return ExitCode::from(1);
        }
    };
    runtime.block_on(commands::run(cli, &out))
}

/// What clap refused or answered: `--help` and `--version` on stdout with exit 0; anything
/// else, a missing command included (whose help goes to stderr), is a usage error, exit 2.
fn usage_error(error: &clap::Error, wants_json: bool) -> ExitCode {
    use clap::error::ErrorKind as Clap;
    if matches!(error.kind(), Clap::DisplayHelp | Clap::DisplayVersion) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    if wants_json {
        let message = match error.kind() {
            Clap::DisplayHelpOnMissingArgumentOrSubcommand => {
                "a command is required: see pacto-oci --help".to_owned()
            }
            // The first line of clap's own text, without its `error: `.
            _ => {
                let rendered = error.render().to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first).trim();
                if first.is_empty() {
                    error.kind().as_str().unwrap_or("invalid usage").to_owned()
                } else {
                    first.to_owned()
                }
            }
        };
        output::print_json(&serde_json::json!({"error": {"kind": "usage", "message": message}}));
    }
    let _ = error.print();
    ExitCode::from(2)
}
