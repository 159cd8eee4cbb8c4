//! The help text beyond the doc comments: the `after_help` of every command (notes and
//! examples), and the command tree as `--help` shows it, where the global options are listed
//! once, on the top-level help.

use crate::Cli;
use clap::CommandFactory as _;

/// Global options every subcommand's help still lists: the ones that change what any command
/// prints. The others (registry access, credentials, cache, limits) are on the top-level
/// help only.
const SHOWN_IN_SUBCOMMANDS: &[&str] = &["json", "verbose", "quiet"];

/// The line that ends every subcommand's help, in place of the hidden global options.
const GLOBALS_POINTER: &str = "Global options for registries, credentials and the cache (--plain-http, --ca-file, \
--username, --token, --mirror, --cache-dir, --no-cache, --timeout, --concurrency, ...): see `pacto-oci --help`.";

/// The command tree as the binary parses and shows it: the global options are accepted after
/// every subcommand, but a subcommand's help lists only `--json`, `-v` and `-q` of them and
/// points to the top-level help for the rest, as cargo's subcommands do.
///
/// It also holds the hidden `generate-man` (see `man.rs`). Completions are generated from
/// [`Cli::command`] itself, so that every global option completes after every subcommand
/// and `generate-man` is not offered (clap_complete offers hidden subcommands).
pub(crate) fn command() -> clap::Command {
    let mut command = Cli::command().subcommand(crate::man::subcommand());
    // Propagates the global options into every subcommand, so they can be hidden there.
    command.build();
    let globals: Vec<String> = command
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().to_string())
        .filter(|id| !SHOWN_IN_SUBCOMMANDS.contains(&id.as_str()))
        .collect();
    hide_in_subcommands(command, &globals)
}

fn hide_in_subcommands(command: clap::Command, globals: &[String]) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .filter(|name| name != "help")
        .collect();
    names.iter().fold(command, |command, name| {
        command.mut_subcommand(name, |sub| {
            // `mut_args` keeps every argument in its place: on a built command, `mut_arg`
            // would move it to the end, away from the index its flags map to.
            let sub = sub.mut_args(|a| {
                if globals.iter().any(|id| a.get_id() == id.as_str()) {
                    a.hide(true)
                } else {
                    a
                }
            });
            let after = match sub.get_after_help() {
                Some(text) => format!("{text}\n\n{GLOBALS_POINTER}"),
                None => GLOBALS_POINTER.to_owned(),
            };
            hide_in_subcommands(sub.after_help(after), globals)
        })
    })
}

pub(crate) const TOP: &str = "\
Exit codes: 0 ok, 1 other failure, 2 usage or invalid reference/constraint, 3 not found, \
4 authentication rejected, 5 registry unreachable, 6 invalid bundle, 7 no matching version, \
8 push conflict (the tag holds another artifact, or another push changed it).

Credentials, tried in this order: --token, or --username with --password (or the \
PACTO_REGISTRY_* variables); those stored by `pacto-oci login`; `gh auth token` (ghcr.io and \
docker.pkg.github.com only); Docker's config.json (auths, credHelpers, credsStore); then \
anonymous access.

Environment:
  PACTO_REGISTRY_USERNAME, PACTO_REGISTRY_PASSWORD, PACTO_REGISTRY_TOKEN
                              explicit credentials, as --username, --password, --token
  PACTO_REGISTRY_HOSTS        registries the explicit credentials go to (comma-separated)
  PACTO_INSECURE_REGISTRIES   hosts spoken to over plain HTTP (comma-separated)
  PACTO_REGISTRY_MIRRORS      pull-through mirrors, REGISTRY=MIRROR (comma-separated), as --mirror
  PACTO_MIRROR_DIGESTS_ONLY   1 or true: as --mirror-digests-only
  PACTO_CA_FILE               extra trusted certificates (PEM), as --ca-file
  PACTO_CACHE_DIR             cache root, as --cache-dir
  PACTO_NO_CACHE              1 or true: do not read the disk cache, as --no-cache
  PACTO_TIMEOUT               bound on network work, as --timeout
  PACTO_CONCURRENCY           parallel transfers, as --concurrency
  RUST_LOG                    log filter (tracing-subscriber syntax) when -v is not given
  XDG_CACHE_HOME              the default cache root is $XDG_CACHE_HOME/pacto/oci
  XDG_CONFIG_HOME             `login` stores credentials in $XDG_CONFIG_HOME/pacto/config.json
  DOCKER_CONFIG               the directory of Docker's config.json (default ~/.docker)

Examples:
  pacto-oci push ./payments ghcr.io/acme/payments-pacto
  pacto-oci pull ghcr.io/acme/payments-pacto --version '^1.2' -o payments
  pacto-oci tags ghcr.io/acme/payments-pacto --all

More: `pacto-oci <COMMAND> --help`, the man pages (`man pacto-oci-pull`, written by \
`cargo xtask man`), and shell completions (`pacto-oci completions --help`).";

pub(crate) const PACK: &str = "\
A bundle over the limits a pull applies (see `push --help`) is refused (exit 6) before any \
file is written. On a terminal, a bundle of 8 MiB or more shows a bar of the bytes packed \
(not with -q, --json or -o -).

Examples:
  pacto-oci pack ./payments
  pacto-oci pack ./payments -o dist/payments.tar.gz
  pacto-oci pack ./payments -o - | sha256sum";

pub(crate) const VALIDATE: &str = "\
Checks that pacto.yaml parses, that the bundle is within the limits a pull applies, and that \
every file the contract references (each interface's `contract`, the configuration `schema`) \
is in the bundle; exit 6 naming each missing file. `pack` and `push` run the same checks.

Examples:
  pacto-oci validate ./payments
  pacto-oci validate payments-1.2.0.tar.gz --json";

pub(crate) const PUSH: &str = "\
A tag other than service.version, or a service.version that is not semver (such a bundle is \
never listed by `tags` nor chosen by a constraint), is pushed with a warning. A tag \
`1.2.3+build.5` is pushed as `1.2.3_build.5` (OCI tags cannot hold `+`).

Limits: a push refuses (exit 6, naming the file and the limit) every \
bundle a pull would refuse, before anything is uploaded: a file over 10 MiB, over 50 MiB in all, \
over 10,000 entries (files plus directories), a path over 4096 bytes or over 128 components. \
Files are sized before they are read.

Uploads: a bundle directory is packed to a scratch file file by file (memory does not grow \
with the bundle); a layer over 4 MiB goes up in 4 MiB chunks (registries such as GHCR refuse \
bigger request bodies), read back from that file while it is packed when the tag is new (a cut \
upload is sent once more from the packed file). A layer the cache knows in another repository \
of the same registry (pulled or pushed there) is mounted from it instead of uploaded: a big \
bundle is packed first when the cache knows that service's version in another repository of \
that registry, since only the packed layer's digest can be looked up. The pushed tag is recorded in the \
cache, so pulling it back costs one HEAD. On a terminal, a big bundle shows a bar over the \
file bytes packed and a counter of the layer bytes sent.

Concurrent pushes: registries cannot swap a tag atomically. Right after its upload a push reads \
the tag back; if another push changed it meanwhile, it fails (exit 8, naming the digest the tag \
holds now) instead of reporting `pushed`. A push whose existence check ran before this one's \
upload, and whose upload lands after this one's read-back, can still replace the tag unnoticed \
by either: coordinate pushes to one tag.

Examples:
  pacto-oci push ./payments ghcr.io/acme/payments-pacto
  pacto-oci push payments-1.2.0.tar.gz oci-layout:./bundles
  pacto-oci push ./payments localhost:5000/acme/payments:1.2.0 --force";

pub(crate) const PULL: &str = "\
Limits: an artifact with a file over 10 MiB, over 50 MiB in all, over \
10,000 entries (files plus directories), a path over 4096 bytes or over 128 components is \
refused (exit 6) as soon as the limit is crossed, before anything is written or cached; `push` \
and `pack` apply the same limits.

Examples:
  pacto-oci pull ghcr.io/acme/payments-pacto --version '^1.2' -o payments
  pacto-oci pull ghcr.io/acme/payments-pacto:1.2.0 -o payments --force
  pacto-oci pull oci-layout:./bundles --offline";

pub(crate) const RESOLVE: &str = "\
A tag costs one HEAD request, an untagged REF the tag list plus one HEAD. resolve answers \
\"which digest\", not \"is it a valid bundle\": nothing is downloaded or checked and the \
cache is not filled (pull does all three).

Examples:
  pacto-oci resolve ghcr.io/acme/payments-pacto
  pacto-oci resolve ghcr.io/acme/payments-pacto --version '>=1.0 <2' --json
  pacto-oci resolve ghcr.io/acme/payments-pacto --offline";

pub(crate) const INSPECT: &str = "\
Reads through the cache: a bundle pulled or inspected before costs no download (a tag is \
still revalidated with one HEAD, unless --offline). Registries and oci-layout: references \
alike.

Examples:
  pacto-oci inspect ghcr.io/acme/payments-pacto:1.2.0
  pacto-oci inspect ghcr.io/acme/payments-pacto --version '^1' --json
  pacto-oci inspect oci-layout:./bundles:1.0.0";

pub(crate) const COPY: &str = "\
Registry to registry, registry to layout, layout to registry, layout to layout. The manifest \
and its blobs are copied as bytes, never repacked: the manifest digest at DST is SRC's. A \
blob DST already holds is not sent (one HEAD each); on one registry, a blob of another \
repository is mounted instead of sent. A DST tag holding another artifact is refused (exit \
8) unless --force.

Examples:
  pacto-oci copy ghcr.io/acme/payments-pacto:1.2.0 registry.internal/acme/payments-pacto
  pacto-oci cp ghcr.io/acme/payments-pacto:1.2.0 oci-layout:./mirror
  pacto-oci copy oci-layout:./bundles:1.0.0 localhost:5000/acme/payments:1.0.0 --force";

pub(crate) const TAG: &str = "\
One manifest GET, then per tag one HEAD (the conflict check, skipped with --force) and one \
PUT; no blob is read or sent. A tag that already holds another artifact is refused (exit 8, \
nothing written) unless --force.

Examples:
  pacto-oci tag ghcr.io/acme/payments-pacto:1.2.0 stable latest
  pacto-oci tag oci-layout:./bundles:1.0.0 production --force";

pub(crate) const TAGS: &str = "\
Examples:
  pacto-oci tags ghcr.io/acme/payments-pacto
  pacto-oci tags ghcr.io/acme/payments-pacto --constraint '~1.2'
  pacto-oci tags oci-layout:./bundles --all";

pub(crate) const FETCH_ALL: &str = "\
Each version that fails is named once on stderr (`error: cannot fetch TAG: ...`), then one \
line counts them; the exit code is their kind's (1 when kinds differ).

Examples:
  pacto-oci fetch-all ghcr.io/acme/payments-pacto
  pacto-oci fetch-all ghcr.io/acme/payments-pacto --concurrency 2 --json";

pub(crate) const LOGIN: &str = "\
Without -p or --password-stdin, the password is asked for on the terminal (not echoed); \
with no terminal, one of them is needed.

Examples:
  pacto-oci login ghcr.io -u alice
  echo \"$GITHUB_TOKEN\" | pacto-oci login ghcr.io -u alice --password-stdin
  pacto-oci login localhost:5000 -u admin --password-stdin < password.txt";

pub(crate) const LOGOUT: &str = "\
Examples:
  pacto-oci logout ghcr.io";

pub(crate) const CACHE: &str = "\
Examples:
  pacto-oci cache ls
  pacto-oci cache prune --max-size 100MiB
  pacto-oci cache verify --json";

pub(crate) const CACHE_PRUNE: &str = "\
Units: K, M, G, T and KiB, MiB, GiB, TiB are powers of 1024 (as du and docker); KB, MB, GB, TB \
are powers of 1000 (as cargo). Case does not matter; a plain number is bytes.

Examples:
  pacto-oci cache prune
  pacto-oci cache prune --max-size 100MiB
  pacto-oci cache prune --max-size 0";

pub(crate) const SEMVER_BEST: &str = "\
Examples:
  pacto-oci semver best --constraint '^1' 1.0.0 1.4.2 2.0.0
  pacto-oci semver best 1.0.0 2.0.0-rc.1 latest";

pub(crate) const SEMVER_SORT: &str = "\
Examples:
  pacto-oci semver sort 1.0.0 latest 2.0.0-rc.1 2.0.0";

pub(crate) const REF_PARSE: &str = "\
Examples:
  pacto-oci ref parse ubuntu
  pacto-oci ref parse localhost:5000/acme/payments:1.2.3+build.5
  pacto-oci ref parse oci-layout:./bundles:1.0.0 --json";

pub(crate) const COMPLETIONS: &str = "\
Examples:
  pacto-oci completions bash > ~/.local/share/bash-completion/completions/pacto-oci
  pacto-oci completions zsh > ~/.zfunc/_pacto-oci
  pacto-oci completions fish > ~/.config/fish/completions/pacto-oci.fish";
