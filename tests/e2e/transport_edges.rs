//! Safe edges of the transport (issue 12), through the binary: certificate failures reported
//! as what they are and `--ca-file` with a self-signed `CA:TRUE` certificate; explicit
//! credentials only where they are meant to go, and a word when they are rejected; tag
//! listings and transfers bounded in memory and time whatever the server does.

use crate::common::{PASSWORD, Run, Sandbox, TOKEN, USERS, WRONG_PASSWORD, write_bundle};
use crate::hostile::{bundle_tar, config, manifest};
use base64::Engine as _;
use pacto_test_support::{
    FakeArtifact, FakeOptions, FakeRegistry, FaultProxy, RegistryOptions, ServerCertificate,
    SlowBody, SlowMode, SlowTarget, TagListing, TestRegistry, digest, require_tool,
};
use std::process::Command;
use std::time::Duration;

/// `pacto-oci ARGS` in `sandbox` with `env` set.
fn run_env(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = sandbox.command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    sandbox.run_with(cmd)
}

/// The lines of stderr.
fn stderr_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// Asserts that stderr is the one `error:` line: no raw `ERROR`/`WARN` log line beside it.
fn assert_one_error_line(run: &Run) {
    let lines = stderr_lines(run);
    assert_eq!(lines.len(), 1, "one line on stderr:\n{}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", run.stderr);
}

/// Pushes a one-file bundle `name` 1.0.0 to `repo` with `extra` flags; returns its directory.
fn push(sandbox: &Sandbox, name: &str, repo: &str, extra: &[&str]) -> std::path::PathBuf {
    let source = write_bundle(&sandbox.path("bundles"), name, "1.0.0", &[]);
    let mut args = vec!["push", source.to_str().expect("utf-8"), repo, "--json"];
    args.extend_from_slice(extra);
    sandbox.run(&args).expect(0);
    source
}

fn self_signed(names: &[&str], expired: bool) -> TestRegistry {
    TestRegistry::start(
        RegistryOptions::plain().with_certificate(ServerCertificate::SelfSigned {
            names: names.iter().map(|&n| n.to_owned()).collect(),
            expired,
        }),
    )
}

// ---------------------------------------------------------------------------------------
// TLS.

#[test]
fn a_self_signed_ca_certificate_is_trusted_through_ca_file_and_pacto_ca_file() {
    let registry = self_signed(&["127.0.0.1"], false);
    let ca = registry
        .ca_file()
        .expect("the certificate")
        .to_str()
        .expect("utf-8");
    let sandbox = Sandbox::new();
    let repo = format!("{}/edges/self-signed", registry.host());
    let source = push(&sandbox, "self-signed", &repo, &["--ca-file", ca]);
    let out = sandbox.work().join("out");
    let run = run_env(
        &sandbox,
        &[
            "pull",
            &format!("{repo}:1.0.0"),
            "-o",
            out.to_str().expect("utf-8"),
            "--no-cache",
            "--json",
        ],
        &[("PACTO_CA_FILE", ca)],
    )
    .expect(0);
    crate::common::assert_same_files(&source, &out);
    assert!(stderr_lines(&run).is_empty(), "{}", run.stderr);
}

#[test]
fn refused_certificates_say_why_and_never_fall_back_to_plain_http() {
    // (certificate names, expired, pass the certificate with --ca-file, the problem named)
    let cases: [(&[&str], bool, bool, &str); 4] = [
        (&["127.0.0.1"], false, false, "unknown issuer"),
        (
            &["127.0.0.2", "registry.example"],
            false,
            true,
            "name mismatch: it is valid for 127.0.0.2, registry.example, not for 127.0.0.1",
        ),
        (&["127.0.0.1"], true, true, "expired"),
        (&["127.0.0.1"], true, false, "expired"),
    ];
    for (names, expired, trusted, problem) in cases {
        let registry = self_signed(names, expired);
        let ca = registry
            .ca_file()
            .expect("the certificate")
            .to_str()
            .expect("utf-8");
        let sandbox = Sandbox::new();
        let mut args = vec![
            "pull".to_owned(),
            format!("{}/edges/refused:1.0.0", registry.host()),
            "--json".to_owned(),
        ];
        if trusted {
            args.extend(["--ca-file".to_owned(), ca.to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sandbox.run(&args).expect_error(5, "unreachable");
        let message = run.message();
        let want = format!(
            "cannot pull: registry {host} unreachable for {host}/edges/refused:1.0.0: its TLS certificate was \
             refused: {problem}; if the registry's certificate comes from a private CA or is \
             self-signed, trust it with --ca-file PEM (or PACTO_CA_FILE)",
            host = registry.host()
        );
        assert_eq!(
            message, want,
            "{names:?} expired={expired} trusted={trusted}"
        );
        assert_one_error_line(&run);
        // Before, https failed, plain http reached the TLS port and its "HTTP 400" was the
        // error. Now nothing reached the registry's API at all.
        assert!(registry.requests().is_empty(), "{:?}", registry.requests());
    }
}

// ---------------------------------------------------------------------------------------
// Credentials.

/// `Authorization: Basic` of `user:password`.
pub(crate) fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Every `Authorization` header the proxy in front of a registry received.
pub(crate) fn authorizations(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .requests()
        .iter()
        .filter_map(|r| r.header("Authorization").map(str::to_owned))
        .collect()
}

#[test]
fn explicit_credentials_go_only_to_the_registries_named() {
    // A accepts alice, B (behind a recording proxy) only bob, who is stored with `login`.
    let a = TestRegistry::start(RegistryOptions::basic(USERS[0], PASSWORD));
    let b = TestRegistry::start(RegistryOptions::basic(USERS[1], PASSWORD));
    let proxy = FaultProxy::in_front_of(&b);
    let b_host = proxy.host();
    let sandbox = Sandbox::new();
    let plain_b = ["--plain-http", b_host.as_str()];
    let a_repo = format!("{}/edges/a", a.host());
    let b_repo = format!("{b_host}/edges/b");
    push(
        &sandbox,
        "cred-a",
        &a_repo,
        &["--username", USERS[0], "--password", PASSWORD],
    );
    push(
        &sandbox,
        "cred-b",
        &b_repo,
        &[
            "--username",
            USERS[1],
            "--password",
            PASSWORD,
            "--plain-http",
            &b_host,
        ],
    );
    sandbox
        .run(&[
            "login",
            &b_host,
            "-u",
            USERS[1],
            "-p",
            PASSWORD,
            "--plain-http",
            &b_host,
            "--json",
        ])
        .expect(0);
    let alice = basic(USERS[0], PASSWORD);
    let alice_env = [
        ("PACTO_REGISTRY_USERNAME", USERS[0]),
        ("PACTO_REGISTRY_PASSWORD", PASSWORD),
    ];
    let b_ref = format!("{b_repo}:1.0.0");
    let pull_b = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["resolve", b_ref.as_str(), "--no-cache", "--json"];
        args.extend_from_slice(&plain_b);
        args.extend_from_slice(extra);
        run_env(&sandbox, &args, env)
    };

    // Unscoped (Go pacto's behaviour): alice's credentials reach B, which rejects them; the
    // stored ones are used and the command says so. This is what the scoped runs rule out.
    proxy.clear_requests();
    let run = pull_b(&[], &alice_env).expect(0);
    assert!(
        authorizations(&proxy).contains(&alice),
        "{:?}",
        proxy.requests()
    );
    assert_eq!(
        stderr_lines(&run),
        [format!(
            "warning: the credentials from PACTO_REGISTRY_USERNAME/PACTO_REGISTRY_PASSWORD were \
             rejected by {b_host}; using the ones from pacto login"
        )]
    );
    // The same from flags, and -q silences it.
    let run = pull_b(&["--username", USERS[0], "--password", PASSWORD], &[]).expect(0);
    assert_eq!(
        stderr_lines(&run),
        [format!(
            "warning: the credentials from --username/--password were rejected by {b_host}; \
             using the ones from pacto login"
        )]
    );
    let run = pull_b(&["-q"], &alice_env).expect(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // Scoped to A, by variable and by flag: B never sees them, and nothing is to warn about.
    let a_host = a.host();
    let scoped_env = [
        alice_env[0],
        alice_env[1],
        ("PACTO_REGISTRY_HOSTS", a_host.as_str()),
    ];
    let a_flag = ["--registry-host", a_host.as_str()];
    for (extra, env) in [(&[][..], &scoped_env[..]), (&a_flag[..], &alice_env[..])] {
        proxy.clear_requests();
        let run = pull_b(extra, env).expect(0);
        let sent = authorizations(&proxy);
        assert!(
            !sent.contains(&alice),
            "alice's credentials reached B: {sent:?}"
        );
        assert!(sent.contains(&basic(USERS[1], PASSWORD)), "{sent:?}");
        assert!(stderr_lines(&run).is_empty(), "{}", run.stderr);
    }
    // A token scoped to A never reaches B either.
    proxy.clear_requests();
    pull_b(&["--token", TOKEN, "--registry-host", &a_host], &[]).expect(0);
    let sent = authorizations(&proxy);
    assert!(sent.iter().all(|h| !h.contains(TOKEN)), "{sent:?}");

    // And A still gets them.
    let run = run_env(
        &sandbox,
        &[
            "resolve",
            &format!("{a_repo}:1.0.0"),
            "--no-cache",
            "--json",
        ],
        &scoped_env,
    )
    .expect(0);
    assert!(
        run.json()["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert!(stderr_lines(&run).is_empty(), "{}", run.stderr);

    // A wrong explicit password with nothing stored for A: still exit 4, naming the source.
    let run = run_env(
        &sandbox,
        &[
            "resolve",
            &format!("{a_repo}:1.0.0"),
            "--no-cache",
            "--json",
        ],
        &[
            ("PACTO_REGISTRY_USERNAME", USERS[0]),
            ("PACTO_REGISTRY_PASSWORD", WRONG_PASSWORD),
        ],
    )
    .expect_error(4, "authentication");
    assert!(
        run.message().contains("rejected: env user/pass"),
        "{}",
        run.message()
    );
}

// ---------------------------------------------------------------------------------------
// Tag listings.

/// `pacto-oci tags HOST/edges/tags --plain-http HOST --json` under GNU time: the run and the
/// process's peak resident set in KiB.
fn tags_measured(sandbox: &Sandbox, host: &str) -> (Run, u64) {
    let time = require_tool("time", "time");
    let probe = sandbox.command(&[]);
    let mut cmd = Command::new(time);
    cmd.arg("-f")
        .arg("pacto-oci-peak-rss-kib=%M")
        .arg(probe.get_program())
        .args([
            "tags",
            &format!("{host}/edges/tags"),
            "--plain-http",
            host,
            "--json",
        ])
        .current_dir(sandbox.work())
        .env_clear()
        .envs(
            probe
                .get_envs()
                .filter_map(|(key, value)| Some((key.to_owned(), value?.to_owned()))),
        )
        .stdin(std::process::Stdio::null());
    let mut run = sandbox.run_with(cmd);
    let (kept, measured): (Vec<&str>, Vec<&str>) = run
        .stderr
        .lines()
        .partition(|l| !l.starts_with("pacto-oci-peak-rss-kib="));
    let peak = measured
        .first()
        .and_then(|l| l.trim_start_matches("pacto-oci-peak-rss-kib=").parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from GNU time:\n{}", run.stderr));
    run.stderr = kept.join("\n");
    (run, peak)
}

/// Peak memory a refused listing may cost (a debug build idles at about 20 MiB).
const LISTING_PEAK_KIB: u64 = 128 * 1024;

#[test]
fn a_looping_tag_list_is_refused_at_once_in_bounded_memory() {
    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Endless {
            page_bytes: 4 << 20,
            repeat: true,
        }),
        ..FakeOptions::default()
    });
    let sandbox = Sandbox::new();
    let (run, peak) = tags_measured(&sandbox, &fake.host());
    let run = run.expect_error(1, "other");
    assert_eq!(
        run.message(),
        format!(
            "cannot list the versions: registry {host} sent an unusable answer for {host}/edges/tags: its tag list loops: \
             the Link header leads back to /v2/edges/tags/tags/list?last=again&n=1000, a page \
             already read",
            host = fake.host()
        )
    );
    assert_eq!(fake.requests().len(), 2, "the repeated page is not fetched");
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
    assert!(peak < LISTING_PEAK_KIB, "peak RSS {peak} KiB");
}

#[test]
fn an_endless_chain_of_big_tag_pages_stops_at_16_mib() {
    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Endless {
            page_bytes: 4 << 20,
            repeat: false,
        }),
        ..FakeOptions::default()
    });
    let sandbox = Sandbox::new();
    let (run, peak) = tags_measured(&sandbox, &fake.host());
    let run = run.expect_error(1, "other");
    assert!(
        run.message()
            .ends_with(": its tag list is over 16 MiB in all"),
        "{}",
        run.message()
    );
    assert!(fake.requests().len() <= 5, "{}", fake.requests().len());
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
    assert!(peak < LISTING_PEAK_KIB, "peak RSS {peak} KiB");
}

#[test]
fn paginated_tags_are_listed_whole_up_to_the_bound() {
    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Paginated {
            count: 2500,
            page: 1000,
        }),
        ..FakeOptions::default()
    });
    let sandbox = Sandbox::new();
    let host = fake.host();
    let tags = sandbox
        .run(&[
            "tags",
            &format!("{host}/edges/tags"),
            "--plain-http",
            &host,
            "--json",
        ])
        .expect(0)
        .json();
    let tags = tags.as_array().expect("an array");
    assert_eq!(tags.len(), 2500);
    assert_eq!(
        (tags[0].as_str(), tags[2499].as_str()),
        (Some("1.0.2499"), Some("1.0.0"))
    );
    assert_eq!(fake.requests().len(), 3);

    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Paginated {
            count: 100_001,
            page: 1000,
        }),
        ..FakeOptions::default()
    });
    let host = fake.host();
    let run = sandbox
        .run(&[
            "tags",
            &format!("{host}/edges/tags"),
            "--plain-http",
            &host,
            "--json",
        ])
        .expect_error(1, "other");
    assert!(
        run.message()
            .ends_with(": its tag list has more than 100000 tags"),
        "{}",
        run.message()
    );
    assert_eq!(fake.requests().len(), 101);
}

// ---------------------------------------------------------------------------------------
// Slow servers.

/// A fake registry serving a valid bundle `slow` 1.0.0, with `slow` applied; its layer.
fn slow_registry(slow: SlowBody) -> (FakeRegistry, Vec<u8>) {
    let layer = bundle_tar("slow")
        .file("api/openapi.yaml", &[b'x'; 2048])
        .end()
        .gzip();
    let config = config("slow");
    let manifest = manifest(&config, &[(digest(&layer), layer.len() as u64)]);
    let fake = FakeRegistry::start(FakeOptions {
        artifact: Some(FakeArtifact {
            tag: "1.0.0".into(),
            manifest,
            blobs: vec![config, layer.clone()],
        }),
        slow: Some(slow),
        ..FakeOptions::default()
    });
    (fake, layer)
}

/// `pull HOST/edges/slow:1.0.0 -o out --plain-http HOST --json` plus `extra`, with `env`.
fn pull_slow(sandbox: &Sandbox, fake: &FakeRegistry, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let host = fake.host();
    let reference = format!("{host}/edges/slow:1.0.0");
    let out = sandbox.work().join("out");
    let mut args = vec![
        "pull",
        reference.as_str(),
        "-o",
        out.to_str().expect("utf-8"),
        "--plain-http",
        host.as_str(),
        "--json",
    ];
    args.extend_from_slice(extra);
    run_env(sandbox, &args, env)
}

/// Nothing written, nothing cached.
fn assert_nothing_left(sandbox: &Sandbox) {
    assert!(!sandbox.work().join("out").exists(), "nothing written");
    let listed = sandbox.run(&["cache", "ls", "--json"]).expect(0).json();
    assert_eq!(listed, serde_json::json!([]), "nothing cached");
}

#[test]
fn the_timeout_ends_a_stalled_pull_and_says_so() {
    let (fake, _) = slow_registry(SlowBody {
        target: SlowTarget::Blob,
        mode: SlowMode::StallAfterHeaders,
    });
    let sandbox = Sandbox::new();
    let run =
        pull_slow(&sandbox, &fake, &[], &[("PACTO_TIMEOUT", "3s")]).expect_error(5, "unreachable");
    assert_eq!(
        run.message(),
        format!(
            "cannot pull: registry {host} unreachable for {host}/edges/slow:1.0.0: the deadline of 3s was \
             reached; raise --timeout (PACTO_TIMEOUT) if the registry is only slow",
            host = fake.host()
        )
    );
    assert_one_error_line(&run);
    assert!(
        run.elapsed >= Duration::from_secs(3) && run.elapsed < Duration::from_secs(10),
        "{:?}",
        run.elapsed
    );
    assert_nothing_left(&sandbox);

    // The flag, on a manifest that trickles (one byte a second).
    let (fake, _) = slow_registry(SlowBody {
        target: SlowTarget::Manifest,
        mode: SlowMode::Trickle {
            interval: Duration::from_secs(1),
        },
    });
    let run =
        pull_slow(&sandbox, &fake, &["--timeout", "2500ms"], &[]).expect_error(5, "unreachable");
    assert!(
        run.message().contains("the deadline of 2500ms was reached"),
        "{}",
        run.message()
    );
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    assert_nothing_left(&sandbox);
}

#[test]
fn an_invalid_timeout_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["tags", "127.0.0.1:9/edges/x", "--timeout", "10x", "--json"])
        .expect(2);
    assert_eq!(run.json()["error"]["kind"], "usage");
    assert!(
        run.stderr.contains("invalid duration \"10x\""),
        "{}",
        run.stderr
    );
    for value in ["0s", "soon", "5"] {
        let run = run_env(
            &sandbox,
            &["tags", "127.0.0.1:9/edges/x"],
            &[("PACTO_TIMEOUT", value)],
        )
        .expect(2);
        assert!(
            run.stderr.contains("e.g. 500ms, 30s, 5m, 1h30m"),
            "{}",
            run.stderr
        );
    }
}

/// Without `--timeout`, the default low-speed limit (1 KiB/s over 30 s) ends a layer that
/// trickles one byte a second: about 30 s, once, nothing written. The one slow test.
#[test]
fn a_trickling_layer_is_aborted_by_the_default_low_speed_limit() {
    let (fake, layer) = slow_registry(SlowBody {
        target: SlowTarget::Blob,
        mode: SlowMode::Trickle {
            interval: Duration::from_secs(1),
        },
    });
    assert!(
        layer.len() > 60,
        "the layer outlasts the window: {}",
        layer.len()
    );
    let sandbox = Sandbox::new();
    let run = pull_slow(&sandbox, &fake, &[], &[]).expect_error(5, "unreachable");
    assert_eq!(
        run.message(),
        format!(
            "cannot pull: registry {host} unreachable for {host}/edges/slow:1.0.0: the transfer moved less \
             than 1024 bytes per second over 30s, and was aborted",
            host = fake.host()
        )
    );
    assert_one_error_line(&run);
    assert!(
        run.elapsed >= Duration::from_secs(30) && run.elapsed < Duration::from_secs(45),
        "{:?}",
        run.elapsed
    );
    let blob_gets = fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
        .count();
    assert_eq!(blob_gets, 1, "a body that is too slow is not fetched again");
    assert_nothing_left(&sandbox);
}
