//! The CLI a platform engineer expects (issue 15), through the binary: inspect, copy, tag,
//! completions, man pages, `tags --all/--constraint`, helm's habits, push warnings, login's
//! prompt (in a pseudo-terminal made by `script`), usage errors, cache output, messages and
//! log levels, and the help text. Request counts come from the registry's access log.

use crate::common::{PASSWORD, Run, Sandbox, USERS, binary, secrets, write_bundle};
use pacto_test_support::{LoggedRequest, Operation, RegistryOptions, TestRegistry};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The requests of `log` doing `operation`.
fn count(log: &[LoggedRequest], operation: Operation) -> usize {
    log.iter().filter(|r| r.operation() == operation).count()
}

fn describe(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 test paths")
}

/// A bundle `payments` at `version` with an interface contract file, under `sandbox`.
fn bundle(sandbox: &Sandbox, version: &str) -> PathBuf {
    write_bundle(
        &sandbox.path("bundles"),
        "payments",
        version,
        &[(
            "api/openapi.yaml",
            format!("openapi: 3.0.0 # {version}\n").as_bytes(),
        )],
    )
}

/// Runs the binary inside a pseudo-terminal (`script`), with the sandbox's environment and
/// `extra` environment variables; stdin, stdout and stderr all are the terminal. When
/// `answer` is given, it is typed (with a newline) once the output shows `prompt`.
fn in_pty(sandbox: &Sandbox, args: &[&str], answer: Option<(&str, &str)>) -> Run {
    in_pty_line(sandbox, &command_line(args), answer)
}

/// The binary with `args`, quoted for `sh`.
fn command_line(args: &[&str]) -> String {
    let quoted: Vec<String> = std::iter::once(s(binary()).to_owned())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    quoted.join(" ")
}

/// [`in_pty`] for a shell command `line` (a pipeline).
fn in_pty_line(sandbox: &Sandbox, line: &str, answer: Option<(&str, &str)>) -> Run {
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", line, "/dev/null"])
        .current_dir(sandbox.work())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sandbox.path("home"))
        .env("XDG_CONFIG_HOME", sandbox.path("config"))
        .env("XDG_CACHE_HOME", sandbox.path("cache"))
        .env("DOCKER_CONFIG", sandbox.path("docker"))
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("`script` (util-linux) runs: install util-linux");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut seen = Vec::new();
    if let Some((prompt, text)) = answer {
        let mut buffer = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains(prompt) {
            let n = stdout.read(&mut buffer).expect("reading the terminal");
            assert!(
                n > 0,
                "the terminal closed before {prompt:?}: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buffer[..n]);
        }
        stdin
            .write_all(format!("{text}\n").as_bytes())
            .expect("typing the answer");
    }
    drop(stdin);
    stdout.read_to_end(&mut seen).expect("reading the terminal");
    let status = child.wait().expect("script finishes");
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(!text.contains("panicked at"), "pacto-oci panicked: {text}");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: text,
        stderr: String::new(),
        elapsed: std::time::Duration::ZERO,
    }
}

#[test]
fn inspect_describes_registry_and_layout_bundles_and_reads_through_the_cache() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sb = Sandbox::new();
    let source = bundle(&sb, "1.2.0");
    let reference = format!("{host}/acme/payments:1.2.0");
    sb.run(&["--plain-http", &host, "push", s(&source), &reference])
        .expect(0);

    let inspector = Sandbox::new();
    let mark = registry.mark();
    let first = inspector
        .run(&["--plain-http", &host, "inspect", &reference, "--json"])
        .expect(0)
        .json();
    let log = registry.requests_since(mark);
    assert_eq!(count(&log, Operation::BlobGet), 1, "{:?}", describe(&log));
    assert_eq!(first["ref"], reference);
    assert!(first["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        first["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        first["layer"]["mediaType"],
        "application/vnd.pacto.bundle.layer.v1.tar+gzip"
    );
    assert!(first["layer"]["size"].as_u64().unwrap() > 0);
    assert_eq!(first["service"]["name"], "payments");
    assert_eq!(first["service"]["version"], "1.2.0");
    assert_eq!(first["service"]["owner"], "team-e2e");
    let files: Vec<&str> = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["api/openapi.yaml", "pacto.yaml"]);
    // Nothing written but the cache.
    assert!(
        std::fs::read_dir(inspector.work())
            .unwrap()
            .next()
            .is_none()
    );

    // Cached now: no download, only the tag's revalidation.
    let mark = registry.mark();
    let human = inspector
        .run(&["--plain-http", &host, "inspect", &reference])
        .expect(0);
    let log = registry.requests_since(mark);
    assert_eq!(count(&log, Operation::BlobGet), 0, "{:?}", describe(&log));
    assert_eq!(
        count(&log, Operation::ManifestGet),
        0,
        "{:?}",
        describe(&log)
    );
    for line in [
        "Manifest digest: sha256:",
        "Layer:",
        "Service:         payments@1.2.0",
        "Owner:           team-e2e",
        "api/openapi.yaml",
    ] {
        assert!(human.stdout.contains(line), "{line}: {}", human.stdout);
    }
    // Offline: not a single request.
    let mark = registry.mark();
    inspector
        .run(&[
            "--plain-http",
            &host,
            "inspect",
            &reference,
            "--offline",
            "--json",
        ])
        .expect(0);
    assert!(registry.requests_since(mark).is_empty());

    // A layout, untagged with helm's --version.
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    sb.run(&["push", s(&source), &layout]).expect(0);
    sb.run(&["push", s(&bundle(&sb, "2.0.0")), &layout])
        .expect(0);
    let inspected = sb
        .run(&["inspect", &layout, "--version", "^1", "--json"])
        .expect(0)
        .json();
    assert_eq!(inspected["ref"], format!("{layout}:1.2.0"));
    assert_eq!(inspected["digest"], first["digest"]);
}

#[test]
fn copy_keeps_the_digest_across_registries_and_layouts_and_sends_only_what_is_missing() {
    let registry = TestRegistry::plain();
    let other = TestRegistry::plain();
    let (host, other_host) = (registry.host(), other.host());
    let sb = Sandbox::new();
    let plain = |args: &[&str]| -> Run {
        let mut all = vec![
            "--plain-http",
            host.as_str(),
            "--plain-http",
            other_host.as_str(),
        ];
        all.extend_from_slice(args);
        sb.run(&all)
    };
    let source = format!("{host}/acme/payments:1.0.0");
    let pushed = plain(&["push", s(&bundle(&sb, "1.0.0")), &source, "--json"])
        .expect(0)
        .json();
    let digest = pushed["digest"].as_str().unwrap().to_owned();

    // Registry to registry: another repository of the same registry mounts both blobs.
    let mark = registry.mark();
    let copied = plain(&[
        "copy",
        &source,
        &format!("{host}/mirror/payments"),
        "--json",
    ])
    .expect(0)
    .json();
    let log = registry.requests_since(mark);
    assert_eq!(copied["digest"], digest);
    assert_eq!(copied["ref"], format!("{host}/mirror/payments:1.0.0"));
    assert_eq!(copied["status"], "pushed");
    let actions: Vec<&str> = copied["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["mounted", "mounted"], "{:?}", describe(&log));
    assert_eq!(count(&log, Operation::BlobGet), 0, "{:?}", describe(&log));
    assert_eq!(
        count(&log, Operation::ManifestGet),
        1,
        "{:?}",
        describe(&log)
    );
    assert_eq!(
        count(&log, Operation::ManifestPut),
        1,
        "{:?}",
        describe(&log)
    );

    // To another registry: sent; then to another tag there: present, not sent again.
    let mark = other.mark();
    let copied = plain(&[
        "cp",
        &source,
        &format!("{other_host}/acme/payments"),
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(copied["digest"], digest);
    let log = other.requests_since(mark);
    assert_eq!(
        count(&log, Operation::UploadStart),
        2,
        "{:?}",
        describe(&log)
    );
    let mark = other.mark();
    let copied = plain(&[
        "copy",
        &source,
        &format!("{other_host}/acme/payments:stable"),
        "--json",
    ])
    .expect(0)
    .json();
    let log = other.requests_since(mark);
    assert_eq!(copied["blobs"][0]["action"], "present");
    assert_eq!(copied["blobs"][1]["action"], "present");
    assert_eq!(
        count(&log, Operation::UploadStart),
        0,
        "{:?}",
        describe(&log)
    );
    assert_eq!(count(&log, Operation::BlobHead), 2, "{:?}", describe(&log));
    // Again: unchanged, nothing written.
    let again = plain(&[
        "copy",
        &source,
        &format!("{other_host}/acme/payments:stable"),
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(again["status"], "unchanged");

    // Registry to layout, layout to layout, layout back to a registry: same digest.
    let a = format!("oci-layout:{}", s(&sb.path("a")));
    let b = format!("oci-layout:{}", s(&sb.path("b")));
    let human = plain(&["copy", &source, &a]).expect(0);
    assert!(human.stdout.starts_with("Copied "), "{}", human.stdout);
    assert!(human.stdout.contains(&format!("Manifest digest: {digest}")));
    assert_eq!(
        plain(&["copy", &format!("{a}:1.0.0"), &b, "--json"])
            .expect(0)
            .json()["digest"],
        digest
    );
    let back = plain(&[
        "copy",
        &format!("{b}:1.0.0"),
        &format!("{other_host}/from-layout/payments"),
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(back["digest"], digest);
    assert_eq!(
        plain(&[
            "resolve",
            &format!("{other_host}/from-layout/payments:1.0.0"),
            "--json"
        ])
        .expect(0)
        .json()["digest"],
        digest
    );

    // A tag holding something else: refused (exit 8), then forced.
    plain(&["push", s(&bundle(&sb, "1.1.0")), &format!("{b}:taken")]).expect(0);
    let refused =
        plain(&["copy", &source, &format!("{b}:taken"), "--json"]).expect_error(8, "conflict");
    assert!(
        refused
            .message()
            .contains("already holds a different artifact"),
        "{}",
        refused.message()
    );
    let forced = plain(&["copy", &source, &format!("{b}:taken"), "--force", "--json"])
        .expect(0)
        .json();
    assert_eq!(forced["status"], "overwritten");
}

#[test]
fn tag_is_one_manifest_get_and_one_put_per_tag_and_refuses_to_move_a_tag() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sb = Sandbox::new();
    let repo = format!("{host}/acme/payments");
    let pushed = sb
        .run(&[
            "--plain-http",
            &host,
            "push",
            s(&bundle(&sb, "1.0.0")),
            &repo,
            "--json",
        ])
        .expect(0)
        .json();
    sb.run(&[
        "--plain-http",
        &host,
        "push",
        s(&bundle(&sb, "1.1.0")),
        &repo,
    ])
    .expect(0);

    let mark = registry.mark();
    let tagged = sb
        .run(&[
            "--plain-http",
            &host,
            "tag",
            &format!("{repo}:1.0.0"),
            "stable",
            "prod",
            "--json",
        ])
        .expect(0)
        .json();
    let log = registry.requests_since(mark);
    assert_eq!(tagged["digest"], pushed["digest"]);
    assert_eq!(
        count(&log, Operation::ManifestGet),
        1,
        "{:?}",
        describe(&log)
    );
    assert_eq!(
        count(&log, Operation::ManifestPut),
        2,
        "{:?}",
        describe(&log)
    );
    assert_eq!(
        count(&log, Operation::BlobGet) + count(&log, Operation::UploadStart),
        0
    );
    let tags = sb
        .run(&["--plain-http", &host, "tags", &repo, "--all", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        tags,
        serde_json::json!(["1.1.0", "1.0.0", "prod", "stable"])
    );

    let refused = sb
        .run(&[
            "--plain-http",
            &host,
            "tag",
            &format!("{repo}:1.1.0"),
            "stable",
            "--json",
        ])
        .expect_error(8, "conflict");
    assert!(
        refused.message().contains("stable"),
        "{}",
        refused.message()
    );
    let forced = sb
        .run(&[
            "--plain-http",
            &host,
            "tag",
            &format!("{repo}:1.1.0"),
            "stable",
            "--force",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(forced["tags"][0]["status"], "overwritten");

    // Layouts too.
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    sb.run(&["push", s(&bundle(&sb, "1.0.0")), &layout])
        .expect(0);
    let human = sb
        .run(&["tag", &format!("{layout}:1.0.0"), "latest"])
        .expect(0);
    assert!(
        human.stdout.starts_with(&format!("Tagged {layout}:latest")),
        "{}",
        human.stdout
    );
}

#[test]
fn tags_all_and_constraint() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    for version in ["1.0.0", "1.2.0", "2.0.0"] {
        sb.run(&["push", s(&bundle(&sb, version)), &layout])
            .expect(0);
    }
    sb.run(&["tag", &format!("{layout}:2.0.0"), "latest", "main"])
        .expect(0);
    let semver = sb.run(&["tags", &layout, "--json"]).expect(0).json();
    assert_eq!(semver, serde_json::json!(["2.0.0", "1.2.0", "1.0.0"]));
    let all = sb.run(&["tags", &layout, "--all"]).expect(0);
    assert_eq!(all.stdout.trim_end(), "2.0.0\n1.2.0\n1.0.0\nlatest\nmain");
    let filtered = sb
        .run(&["tags", &layout, "--constraint", "^1", "--json"])
        .expect(0)
        .json();
    assert_eq!(filtered, serde_json::json!(["1.2.0", "1.0.0"]));
    sb.run(&[
        "tags",
        &layout,
        "--constraint",
        "not a constraint",
        "--json",
    ])
    .expect_error(2, "usage");
}

#[test]
fn completions_for_every_shell_and_man_pages() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = sb.run(&["completions", shell]).expect(0);
        assert!(run.stdout.contains("pacto-oci"), "{shell}");
        assert!(
            run.stdout.contains("fetch-all") && run.stdout.contains("inspect"),
            "{shell}"
        );
        assert!(
            !run.stdout.contains("generate-man"),
            "{shell}: the hidden command is offered"
        );
    }
    sb.run(&["completions", "tcsh"]).expect(2);
    // What `cargo xtask man` runs.
    let dir = sb.path("man");
    let run = sb.run(&["generate-man", s(&dir)]).expect(0);
    assert!(run.stdout.starts_with("Wrote "), "{}", run.stdout);
    for page in [
        "pacto-oci.1",
        "pacto-oci-pull.1",
        "pacto-oci-copy.1",
        "pacto-oci-cache-prune.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let help = sb.run(&["--help"]).expect(0);
    assert!(
        help.stdout.contains("man pacto-oci-pull"),
        "{}",
        help.stdout
    );
}

#[test]
fn helm_habits_references_and_push_warnings() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    for version in ["1.0.0", "1.4.0", "2.0.0"] {
        sb.run(&["push", s(&bundle(&sb, version)), &layout])
            .expect(0);
    }
    // --version as --constraint on pull and resolve; the global --version is the tool's.
    let resolved = sb
        .run(&["resolve", &layout, "--version", "^1", "--json"])
        .expect(0)
        .json();
    assert_eq!(resolved["ref"], format!("{layout}:1.4.0"));
    let out = sb.work().join("pulled");
    let pulled = sb
        .run(&[
            "pull",
            &layout,
            "--version",
            "~1.0",
            "-o",
            s(&out),
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(pulled["version"], "1.0.0");
    let version = sb.run(&["--version"]).expect(0);
    assert!(
        version.stdout.starts_with("pacto-oci "),
        "{}",
        version.stdout
    );
    // No subcommand: help on stderr, exit 2.
    let bare = sb.run(&[]).expect(2);
    assert!(
        bare.stdout.is_empty() && bare.stderr.contains("Usage:"),
        "{}",
        bare.stderr
    );

    // A host alone is a registry without a repository, never Docker Hub.
    let host_only = sb
        .run(&["pull", "127.0.0.1:5055", "--json"])
        .expect_error(2, "invalid_reference");
    assert!(
        host_only
            .message()
            .contains("looks like a registry without a repository"),
        "{}",
        host_only.message()
    );
    assert!(
        !host_only.message().contains("docker.io"),
        "{}",
        host_only.message()
    );

    // `+` in a tag reads as `_` (helm's rule), as push writes it.
    let build = bundle(&sb, "3.0.0+build.5");
    let pushed = sb
        .run(&["push", s(&build), &layout, "--json"])
        .expect(0)
        .json();
    assert_eq!(pushed["ref"], format!("{layout}:3.0.0_build.5"));
    for command in ["resolve", "inspect"] {
        let run = sb
            .run(&[command, &format!("{layout}:3.0.0+build.5"), "--json"])
            .expect(0)
            .json();
        assert_eq!(run["ref"], format!("{layout}:3.0.0_build.5"), "{command}");
    }

    // Push warnings: a tag other than service.version; a version that is not semver.
    let other_tag = sb
        .run(&[
            "push",
            s(&bundle(&sb, "1.5.0")),
            &format!("{layout}:stable"),
        ])
        .expect(0);
    assert!(
        other_tag
            .stderr
            .contains("warning: the tag stable differs from service.version 1.5.0"),
        "{}",
        other_tag.stderr
    );
    let not_semver = sb
        .run(&["push", s(&bundle(&sb, "nightly")), &layout])
        .expect(0);
    assert!(
        not_semver
            .stderr
            .contains("warning: service.version nightly is not a semantic version"),
        "{}",
        not_semver.stderr
    );
    let quiet = sb
        .run(&[
            "push",
            s(&bundle(&sb, "nightly")),
            &format!("{layout}:other"),
            "-q",
        ])
        .expect(0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn login_prompts_without_echo_labels_stdin_and_refuses_an_empty_password() {
    let registry = TestRegistry::start(RegistryOptions::basic(USERS[0], PASSWORD));
    let host = registry.host();
    let sb = Sandbox::new();
    // On a terminal: asked for, not echoed.
    let prompted = in_pty(
        &sb,
        &["--plain-http", &host, "login", &host, "-u", USERS[0]],
        Some(("Password:", PASSWORD)),
    );
    assert_eq!(prompted.code, 0, "{}", prompted.stdout);
    assert!(
        prompted.stdout.contains("Login succeeded"),
        "{}",
        prompted.stdout
    );
    for secret in secrets() {
        assert!(
            !prompted.stdout.contains(secret.as_str()),
            "echoed: {}",
            prompted.stdout
        );
    }
    // No terminal and no password: a usage error naming the ways to give one.
    let none = sb
        .run(&[
            "--plain-http",
            &host,
            "login",
            &host,
            "-u",
            USERS[0],
            "--json",
        ])
        .expect_error(2, "usage");
    assert!(
        none.message().contains("--password-stdin"),
        "{}",
        none.message()
    );
    // Wrong password from stdin: the label says so, and the hint is not "run login".
    let mut cmd = sb.command(&[
        "--plain-http",
        &host,
        "login",
        &host,
        "-u",
        USERS[0],
        "--password-stdin",
        "--json",
    ]);
    cmd.stdin(Stdio::piped());
    let wrong = run_with_stdin(&sb, cmd, "not-the-password\n").expect_error(4, "authentication");
    assert!(
        wrong.message().contains("password from stdin"),
        "{}",
        wrong.message()
    );
    assert!(
        !wrong.message().contains("pacto-oci login"),
        "{}",
        wrong.message()
    );
    // Empty.
    let mut cmd = sb.command(&[
        "--plain-http",
        &host,
        "login",
        &host,
        "-u",
        USERS[0],
        "--password-stdin",
        "--json",
    ]);
    cmd.stdin(Stdio::piped());
    let empty = run_with_stdin(&sb, cmd, "\n").expect_error(2, "usage");
    assert!(empty.message().contains("is empty"), "{}", empty.message());
}

fn run_with_stdin(_sandbox: &Sandbox, mut cmd: Command, input: &str) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("pacto-oci starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("stdin written");
    let output = child.wait_with_output().expect("pacto-oci finishes");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
    };
    crate::common::check_output(&run);
    run
}

#[test]
fn usage_errors_cache_output_and_digest_lines() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    let refused = sb
        .run(&["pull", &layout, "--offline", "--no-cache", "--json"])
        .expect_error(2, "usage");
    assert!(
        refused.message().contains("--offline"),
        "{}",
        refused.message()
    );
    // `--offline` alone is not a usage error (nothing is cached: not found).
    let offline = sb.run(&["resolve", &layout, "--offline", "--json"]);
    assert_ne!(offline.code, 2, "{}", offline.stderr);
    let zero = sb
        .run(&["tags", &layout, "--concurrency", "0", "--json"])
        .expect(2);
    assert!(zero.stderr.contains("at least 1"), "{}", zero.stderr);

    // pack says "Layer digest", push "Manifest digest".
    let source = bundle(&sb, "1.0.0");
    let packed = sb
        .run(&["pack", s(&source), "-o", s(&sb.work().join("b.tar.gz"))])
        .expect(0);
    assert!(
        packed.stdout.contains("\nLayer digest: sha256:"),
        "{}",
        packed.stdout
    );
    let pushed = sb.run(&["push", s(&source), &layout]).expect(0);
    assert!(
        pushed.stdout.contains("\nManifest digest: sha256:"),
        "{}",
        pushed.stdout
    );

    // A registry pull fills the cache; `cache ls` has a header, human sizes, last use.
    let registry = TestRegistry::plain();
    let host = registry.host();
    let reference = format!("{host}/acme/payments:1.0.0");
    sb.run(&["--plain-http", &host, "push", s(&source), &reference])
        .expect(0);
    // resolve reads only the digest; pull fills the cache.
    let out = sb.work().join("pulled");
    sb.run(&["--plain-http", &host, "pull", &reference, "-o", s(&out)])
        .expect(0);
    let ls = sb.run(&["cache", "ls"]).expect(0);
    let mut lines = ls.stdout.lines();
    let header = lines.next().unwrap_or_default();
    for column in ["REFERENCE", "DIGEST", "SIZE", "LAST USED"] {
        assert!(header.contains(column), "{}", ls.stdout);
    }
    let row = lines.next().unwrap_or_default();
    assert!(
        row.contains(&reference) && row.contains(" B ") && row.contains("just now"),
        "{}",
        ls.stdout
    );
    let json = sb.run(&["cache", "ls", "--json"]).expect(0).json();
    assert!(
        json[0]["last_used"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{json}"
    );

    // Prune takes units; a bad one is a usage error.
    let kept = sb
        .run(&["cache", "prune", "--max-size", "10M", "--json"])
        .expect(0)
        .json();
    assert_eq!(kept["removed"], serde_json::json!([]));
    let human = sb.run(&["cache", "prune", "--max-size", "1GiB"]).expect(0);
    assert!(human.stdout.contains("limit 1.0 GiB"), "{}", human.stdout);
    let bad = sb
        .run(&["cache", "prune", "--max-size", "10 parsecs"])
        .expect(2);
    assert!(bad.stderr.contains("is not a size"), "{}", bad.stderr);
    let emptied = sb
        .run(&["cache", "prune", "--max-size", "0", "--json"])
        .expect(0)
        .json();
    assert_eq!(emptied["remaining"], 0);
}

#[test]
fn fetch_all_names_each_failure_once_and_log_levels() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sb = Sandbox::new();
    let repo = format!("{host}/acme/payments");
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        sb.run(&[
            "--plain-http",
            &host,
            "push",
            s(&bundle(&sb, version)),
            &repo,
        ])
        .expect(0);
    }
    // Two versions lose their layer at the registry.
    for version in ["1.0.0", "2.0.0"] {
        let manifest = sb
            .run(&[
                "--plain-http",
                &host,
                "inspect",
                &format!("{repo}:{version}"),
                "--json",
            ])
            .expect(0)
            .json();
        let layer = manifest["layer"]["digest"].as_str().unwrap().to_owned();
        std::fs::remove_file(registry.blob_path(&layer)).expect("the layer blob is removed");
    }
    let fresh = Sandbox::new();
    let run = fresh.run(&["--plain-http", &host, "fetch-all", &repo]);
    // Both failures are of one kind (the layer is gone): its exit code.
    assert!(matches!(run.code, 3 | 5), "{}", run.stderr);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 3, "{}", run.stderr);
    assert!(
        errors[0].contains("cannot fetch 2.0.0") && errors[1].contains("cannot fetch 1.0.0"),
        "{}",
        run.stderr
    );
    assert!(errors[2].contains("2 of 3 versions"), "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .all(|l| l.starts_with("error: ") || l.starts_with("warning: ")),
        "raw log lines without -v: {}",
        run.stderr
    );
    assert!(
        run.stdout.starts_with("Fetched 1 of 3 versions"),
        "{}",
        run.stdout
    );

    // -v adds the `caused by:` chain; -vv one line per HTTP request, without the query or
    // TLS internals.
    let missing = format!("{host}/acme/missing:1.0.0");
    let plain = fresh
        .run(&["--plain-http", &host, "resolve", &missing])
        .expect(3);
    assert!(!plain.stderr.contains("caused by"), "{}", plain.stderr);
    let explained = fresh
        .run(&["--plain-http", &host, "-v", "resolve", &missing])
        .expect(3);
    assert!(
        explained.stderr.contains("\n  caused by: "),
        "{}",
        explained.stderr
    );
    let verbose = fresh
        .run(&[
            "--plain-http",
            &host,
            "-vv",
            "pull",
            &format!("{repo}:1.1.0"),
            "-o",
            s(&fresh.work().join("o")),
        ])
        .expect(0);
    let requests: Vec<&str> = verbose
        .stderr
        .lines()
        .filter(|l| l.contains("http request"))
        .collect();
    assert!(
        requests.iter().any(|l| l.contains("method=HEAD")
            && l.contains("/manifests/1.1.0")
            && l.contains("status=200")),
        "{}",
        verbose.stderr
    );
    assert!(
        !verbose.stderr.contains("rustls") && !verbose.stderr.contains("hyper_util"),
        "{}",
        verbose.stderr
    );
}

#[test]
fn help_lists_global_options_once_with_examples_environment_and_credentials() {
    let sb = Sandbox::new();
    let top = sb.run(&["--help"]).expect(0).stdout;
    for text in [
        "--plain-http",
        "--cache-dir",
        "Environment:",
        "PACTO_REGISTRY_TOKEN",
        "Credentials",
        "gh auth token",
        "credHelpers",
        "Examples:",
    ] {
        assert!(top.contains(text), "{text}:\n{top}");
    }
    for command in [
        "push",
        "pull",
        "inspect",
        "copy",
        "tag",
        "tags",
        "validate",
        "completions",
        "login",
    ] {
        let help = sb.run(&[command, "--help"]).expect(0).stdout;
        assert!(help.contains("Examples:"), "{command}:\n{help}");
        assert!(
            !help.contains("--plain-http <HOST>"),
            "{command} repeats the global options:\n{help}"
        );
        assert!(
            help.contains("see `pacto-oci --help`"),
            "{command}:\n{help}"
        );
    }
    // Hidden from help, the global options still work after a subcommand.
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    sb.run(&[
        "push",
        s(&bundle(&sb, "1.0.0")),
        &layout,
        "--cache-dir",
        s(&sb.path("c")),
    ])
    .expect(0);
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    let source = bundle(&sb, "1.0.0");
    let terminal = in_pty(&sb, &["push", s(&source), &layout], None);
    assert_eq!(terminal.code, 0, "{}", terminal.stdout);
    assert!(
        terminal.stdout.contains("Pushed payments@1.0.0"),
        "{}",
        terminal.stdout
    );
    let quiet = in_pty(&sb, &["push", s(&source), &layout, "-q"], None);
    assert_eq!(quiet.code, 0);
    assert!(quiet.stdout.trim().is_empty(), "{:?}", quiet.stdout);
    let json = in_pty(&sb, &["push", s(&source), &layout, "--json"], None);
    assert!(
        json.stdout.trim_start().starts_with('{') && !json.stdout.contains("pushing"),
        "{:?}",
        json.stdout
    );
    // Not a terminal: no progress, no escape codes (checked for every run of the suite).
    let piped = sb.run(&["push", s(&source), &layout]).expect(0);
    assert!(piped.stderr.is_empty(), "{}", piped.stderr);
}

/// Byte progress of a pull on a terminal: a bar for the layer with its total size, the
/// bytes done, the rate and the ETA; nothing of it with -q, --json, or stderr into a pipe.
#[test]
fn a_pull_on_a_terminal_shows_byte_progress_and_nothing_elsewhere() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sb = Sandbox::new();
    let noise = crate::common::noise(15, 5 * 1024 * 1024);
    let source = write_bundle(
        &sb.path("bundles"),
        "big",
        "1.0.0",
        &[("data/noise.bin", noise.as_slice())],
    );
    let reference = format!("{host}/progress/big:1.0.0");
    sb.run(&["--plain-http", &host, "push", s(&source), &reference])
        .expect(0);
    let size = sb
        .run(&["--plain-http", &host, "inspect", &reference, "--json"])
        .expect(0)
        .json()["layer"]["size"]
        .as_u64()
        .unwrap();
    // As the CLI writes sizes (`format_size`): one decimal, binary units.
    let total = format!("{:.1} MiB", size as f64 / (1024.0 * 1024.0));
    assert!(
        total.starts_with("5.") && total.ends_with(" MiB"),
        "{total}"
    );
    let pull = |dir: &str, extra: &[&str]| {
        let mut args = vec![
            "--plain-http",
            &host,
            "--no-cache",
            "pull",
            &reference,
            "-o",
            dir,
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    fn refs(args: &[String]) -> Vec<&str> {
        args.iter().map(String::as_str).collect()
    }

    let args = pull("shown", &[]);
    let terminal = in_pty(&sb, &refs(&args), None);
    assert_eq!(terminal.code, 0, "{}", terminal.stdout);
    assert!(
        terminal.stdout.contains("Pulled big@1.0.0"),
        "{}",
        terminal.stdout
    );
    let bar = terminal
        .stdout
        .split(['\r', '\n'])
        .find(|line| line.contains(&format!("/{total}")))
        .unwrap_or_else(|| panic!("no progress line with {total}: {:?}", terminal.stdout));
    assert!(
        bar.contains("sha256:") && bar.contains("/s") && bar.contains("ETA"),
        "{bar:?}"
    );

    let shows_progress = |text: &str| text.contains(&format!("/{total}")) || text.contains("ETA");
    for (dir, extra) in [("quiet", "-q"), ("json", "--json")] {
        let args = pull(dir, &[extra]);
        let run = in_pty(&sb, &refs(&args), None);
        assert_eq!(run.code, 0, "{extra}: {}", run.stdout);
        assert!(!shows_progress(&run.stdout), "{extra}: {:?}", run.stdout);
    }
    // stderr into a pipe (stdout still the terminal).
    let args = pull("piped", &[]);
    let piped = in_pty_line(
        &sb,
        &format!("{} 2>&1 | cat", command_line(&refs(&args))),
        None,
    );
    assert_eq!(piped.code, 0, "{}", piped.stdout);
    assert!(
        piped.stdout.contains("Pulled big@1.0.0"),
        "{}",
        piped.stdout
    );
    assert!(!shows_progress(&piped.stdout), "{:?}", piped.stdout);
}

/// On a terminal, a push to a registry shows a bar per blob going up and says "pushing";
/// an unchanged re-push only packs and compares, and says "checking", never "pushing".
#[test]
fn an_unchanged_repush_on_a_terminal_says_checking() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sb = Sandbox::new();
    let noise = crate::common::noise(16, 5 * 1024 * 1024);
    let source = write_bundle(
        &sb.path("bundles"),
        "big",
        "1.0.0",
        &[("data/noise.bin", noise.as_slice())],
    );
    let reference = format!("{host}/progress/repush");
    let args = ["--plain-http", &host, "push", s(&source), &reference];
    let first = in_pty(&sb, &args, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert!(
        first.stdout.contains("pushing big@1.0.0") && first.stdout.contains("↑ sha256:"),
        "{:?}",
        first.stdout
    );
    let again = in_pty(&sb, &args, None);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.contains("Unchanged"), "{}", again.stdout);
    assert!(
        again.stdout.contains("checking big@1.0.0") && !again.stdout.contains("pushing"),
        "{:?}",
        again.stdout
    );
}

/// On a terminal, fetch-all shows an overall bar of versions (done/total), and a copy
/// between registries a bar for each blob it downloads and uploads; not with -q.
#[test]
fn fetch_all_and_copy_on_a_terminal_show_their_progress() {
    let registry = TestRegistry::plain();
    let other = TestRegistry::plain();
    let (host, other_host) = (registry.host(), other.host());
    let sb = Sandbox::new();
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        let reference = format!("{host}/progress/many:{version}");
        sb.run(&[
            "--plain-http",
            &host,
            "push",
            s(&bundle(&sb, version)),
            &reference,
        ])
        .expect(0);
    }
    let repository = format!("{host}/progress/many");
    let fetched = in_pty(
        &sb,
        &["--plain-http", &host, "fetch-all", &repository],
        None,
    );
    assert_eq!(fetched.code, 0, "{}", fetched.stdout);
    assert!(
        fetched.stdout.contains("versions [") && fetched.stdout.contains("/3 ETA"),
        "{:?}",
        fetched.stdout
    );
    let quiet = in_pty(
        &sb,
        &[
            "--plain-http",
            &host,
            "--no-cache",
            "fetch-all",
            &repository,
            "-q",
        ],
        None,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    assert!(!quiet.stdout.contains("versions ["), "{:?}", quiet.stdout);

    let source = format!("{host}/progress/many:2.0.0");
    let destination = format!("{other_host}/progress/copied:2.0.0");
    let copied = in_pty(
        &sb,
        &[
            "--plain-http",
            &host,
            "--plain-http",
            &other_host,
            "copy",
            &source,
            &destination,
        ],
        None,
    );
    assert_eq!(copied.code, 0, "{}", copied.stdout);
    assert!(
        copied.stdout.contains("copying")
            && copied.stdout.contains("↓ sha256:")
            && copied.stdout.contains("↑ sha256:"),
        "{:?}",
        copied.stdout
    );
}

/// A size as the CLI writes it in bars (`format_size`): one decimal, binary units (MiB
/// here: the sizes these tests use).
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The line of `text` (a terminal's bytes, split at carriage returns too) showing a bar of
/// `total` for `what` (`↑ sha256:`, `packing big@1.0.0`), with its rate and ETA.
fn bar_line<'a>(text: &'a str, what: &str, total: &str) -> Option<&'a str> {
    text.split(['\r', '\n']).find(|line| {
        line.contains(what)
            && line.contains(&format!("/{total}"))
            && line.contains("/s")
            && line.contains("ETA")
    })
}

/// Pushes into, pulls from and copies between OCI layouts show byte bars on a terminal, as
/// registry transfers do: the layer written (↑), read (↓), or both for a copy, with its
/// total size, rate and ETA; nothing of it with -q.
#[test]
fn layout_pushes_pulls_and_copies_on_a_terminal_show_byte_bars() {
    let sb = Sandbox::new();
    let noise = crate::common::noise(17, 5 * 1024 * 1024);
    let source = write_bundle(
        &sb.path("bundles"),
        "big",
        "1.0.0",
        &[("data/noise.bin", noise.as_slice())],
    );
    let layout = format!("oci-layout:{}", s(&sb.path("layout")));
    let tagged = format!("{layout}:1.0.0");

    let pushed = in_pty(&sb, &["push", s(&source), &layout], None);
    assert_eq!(pushed.code, 0, "{}", pushed.stdout);
    assert!(
        pushed.stdout.contains("Pushed big@1.0.0"),
        "{}",
        pushed.stdout
    );
    let size = sb.run(&["inspect", &tagged, "--json"]).expect(0).json()["layer"]["size"]
        .as_u64()
        .unwrap();
    let total = mib(size);
    assert!(total.starts_with("5."), "{total}");
    assert!(
        bar_line(&pushed.stdout, "↑ sha256:", &total).is_some(),
        "no upload bar of {total}: {:?}",
        pushed.stdout
    );

    let pulled = in_pty(
        &sb,
        &["--no-cache", "pull", &tagged, "-o", s(&sb.path("pulled"))],
        None,
    );
    assert_eq!(pulled.code, 0, "{}", pulled.stdout);
    assert!(
        pulled.stdout.contains("Pulled big@1.0.0"),
        "{}",
        pulled.stdout
    );
    assert!(
        bar_line(&pulled.stdout, "↓ sha256:", &total).is_some(),
        "no download bar of {total}: {:?}",
        pulled.stdout
    );

    let copy = format!("oci-layout:{}", s(&sb.path("copy")));
    let copied = in_pty(&sb, &["copy", &tagged, &copy], None);
    assert_eq!(copied.code, 0, "{}", copied.stdout);
    assert!(copied.stdout.contains("Copied"), "{}", copied.stdout);
    for arrow in ["↓ sha256:", "↑ sha256:"] {
        assert!(
            bar_line(&copied.stdout, arrow, &total).is_some(),
            "no {arrow} bar of {total}: {:?}",
            copied.stdout
        );
    }

    let quiet = in_pty(
        &sb,
        &[
            "copy",
            &tagged,
            &format!("oci-layout:{}", s(&sb.path("q"))),
            "-q",
        ],
        None,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    assert!(quiet.stdout.trim().is_empty(), "{:?}", quiet.stdout);
    let quiet = in_pty(
        &sb,
        &[
            "--no-cache",
            "pull",
            &tagged,
            "-o",
            s(&sb.path("quiet")),
            "-q",
        ],
        None,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    assert!(
        !quiet.stdout.contains("sha256:") && !quiet.stdout.contains("ETA"),
        "{:?}",
        quiet.stdout
    );
}

/// A directory of 8 MiB or more pushed to a registry on a terminal goes up while it is
/// packed: a bar over its file bytes packed, a counter of the layer bytes sent, and the
/// status turning to `pushing`; nothing of it with -q.
#[test]
fn a_big_directory_pushed_to_a_registry_on_a_terminal_shows_packing_and_sending() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sb = Sandbox::new();
    let (a, b) = (
        crate::common::noise(28, 5 * 1024 * 1024),
        crate::common::noise(29, 5 * 1024 * 1024),
    );
    let source = write_bundle(
        &sb.path("bundles"),
        "big",
        "1.0.0",
        &[("data/a.bin", a.as_slice()), ("data/b.bin", b.as_slice())],
    );
    let files: u64 = ["pacto.yaml", "data/a.bin", "data/b.bin"]
        .iter()
        .map(|f| std::fs::metadata(source.join(f)).unwrap().len())
        .sum();
    let total = mib(files);
    let repo = format!("{host}/team/big");
    let pushed = in_pty(
        &sb,
        &["--plain-http", &host, "push", s(&source), &repo],
        None,
    );
    assert_eq!(pushed.code, 0, "{}", pushed.stdout);
    assert!(
        pushed.stdout.contains("Pushed big@1.0.0"),
        "{}",
        pushed.stdout
    );
    // Packed while it goes up: a bar over the file bytes, a counter of the bytes sent.
    assert!(
        bar_line(&pushed.stdout, "packing big@1.0.0", &total).is_some(),
        "no packing bar of {total}: {:?}",
        pushed.stdout
    );
    assert!(
        pushed
            .stdout
            .split(['\r', '\n'])
            .any(|line| line.contains("↑ layer") && line.contains("/s")),
        "no counter of the layer sent: {:?}",
        pushed.stdout
    );
    assert!(
        pushed
            .stdout
            .contains(&format!("pushing big@1.0.0 to {repo}")),
        "the status says pushing once bytes go up: {:?}",
        pushed.stdout
    );
    let quiet = in_pty(
        &sb,
        &[
            "--plain-http",
            &host,
            "push",
            s(&source),
            &format!("{repo}2"),
            "-q",
        ],
        None,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    assert!(quiet.stdout.trim().is_empty(), "{:?}", quiet.stdout);

    // The cache now knows big 1.0.0 in two repositories. Another service's 1.0.0 still goes
    // up while packed; big 1.0.0 to a third repository is packed first, then mounted.
    let c = crate::common::noise(30, 9 * 1024 * 1024);
    let other = write_bundle(
        &sb.path("bundles"),
        "other",
        "1.0.0",
        &[("data/c.bin", c.as_slice())],
    );
    let other_repo = format!("{host}/team/other");
    let streamed = in_pty(
        &sb,
        &["--plain-http", &host, "push", s(&other), &other_repo],
        None,
    );
    assert_eq!(streamed.code, 0, "{}", streamed.stdout);
    assert!(
        streamed.stdout.contains("↑ layer"),
        "another service's version streams: {:?}",
        streamed.stdout
    );
    let mark = registry.mark();
    let promoted_repo = format!("{host}/team/promoted");
    let promoted = in_pty(
        &sb,
        &["--plain-http", &host, "push", s(&source), &promoted_repo],
        None,
    );
    assert_eq!(promoted.code, 0, "{}", promoted.stdout);
    assert!(
        !promoted.stdout.contains("↑ layer"),
        "a version the cache knows elsewhere is packed first: {:?}",
        promoted.stdout
    );
    assert!(
        registry
            .requests_since(mark)
            .iter()
            .any(|r| r.path.contains("mount=") && r.status == 201),
        "and mounted"
    );
}

/// `pack` of a big bundle shows a bar over its file bytes on a terminal; not with -q,
/// --json, the layer on standard output, or stderr into a pipe; and a small bundle never
/// gets one.
#[test]
fn pack_shows_a_bar_for_a_big_bundle_on_a_terminal_only() {
    let sb = Sandbox::new();
    // Two files under the 10 MiB per-file limit, over the 8 MiB the bar starts at.
    let (a, b) = (
        crate::common::noise(18, 5 * 1024 * 1024),
        crate::common::noise(19, 5 * 1024 * 1024),
    );
    let source = write_bundle(
        &sb.path("bundles"),
        "big",
        "1.0.0",
        &[("data/a.bin", a.as_slice()), ("data/b.bin", b.as_slice())],
    );
    let files: u64 = ["pacto.yaml", "data/a.bin", "data/b.bin"]
        .iter()
        .map(|f| std::fs::metadata(source.join(f)).unwrap().len())
        .sum();
    let total = mib(files);
    assert_eq!(total, "10.0 MiB");

    let shown = in_pty(&sb, &["pack", s(&source), "-o", "shown.tar.gz"], None);
    assert_eq!(shown.code, 0, "{}", shown.stdout);
    assert!(
        shown.stdout.contains("Packed big@1.0.0"),
        "{}",
        shown.stdout
    );
    let bar = bar_line(&shown.stdout, "packing big@1.0.0", &total)
        .unwrap_or_else(|| panic!("no pack bar of {total}: {:?}", shown.stdout));
    assert!(bar.contains('['), "{bar:?}");

    let quiet = in_pty(&sb, &["pack", s(&source), "-o", "quiet.tar.gz", "-q"], None);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    assert!(quiet.stdout.trim().is_empty(), "{:?}", quiet.stdout);
    let json = in_pty(
        &sb,
        &["pack", s(&source), "-o", "json.tar.gz", "--json"],
        None,
    );
    assert_eq!(json.code, 0, "{}", json.stdout);
    assert!(
        json.stdout.trim_start().starts_with('{') && !json.stdout.contains("packing"),
        "{:?}",
        json.stdout
    );
    // The layer on standard output (a file here), stderr the terminal: the summary only.
    let to_stdout = in_pty_line(
        &sb,
        &format!(
            "{} > stdout.tar.gz",
            command_line(&["pack", s(&source), "-o", "-"])
        ),
        None,
    );
    assert_eq!(to_stdout.code, 0, "{}", to_stdout.stdout);
    assert!(
        to_stdout.stdout.contains("standard output") && !to_stdout.stdout.contains("packing"),
        "{:?}",
        to_stdout.stdout
    );
    let piped = in_pty_line(
        &sb,
        &format!(
            "{} 2>&1 | cat",
            command_line(&["pack", s(&source), "-o", "piped.tar.gz"])
        ),
        None,
    );
    assert_eq!(piped.code, 0, "{}", piped.stdout);
    assert!(
        piped.stdout.contains("Packed big@1.0.0") && !piped.stdout.contains("packing"),
        "{:?}",
        piped.stdout
    );
    // Every run wrote the same layer.
    let shown_bytes = std::fs::read(sb.work().join("shown.tar.gz")).unwrap();
    for other in ["quiet", "json", "stdout", "piped"] {
        let bytes = std::fs::read(sb.work().join(format!("{other}.tar.gz"))).unwrap();
        assert!(bytes == shown_bytes, "{other}.tar.gz differs");
    }

    let small = in_pty(
        &sb,
        &["pack", s(&bundle(&sb, "1.0.0")), "-o", "small.tar.gz"],
        None,
    );
    assert_eq!(small.code, 0, "{}", small.stdout);
    assert!(
        small.stdout.contains("Packed payments@1.0.0") && !small.stdout.contains("packing"),
        "{:?}",
        small.stdout
    );
}
