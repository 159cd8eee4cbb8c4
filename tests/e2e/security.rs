//! Security: secrets never printed, basic credentials never sent in clear to a non-loopback
//! host, `Authorization` dropped on cross-origin redirects, `config.json` private, and no
//! reference or entry name steering a write outside the cache or output directory.

use crate::common::{
    FakeServer, Kind, PASSWORD, Reply, Run, Sandbox, TOKEN, USERS, WRONG_PASSWORD, finish, mode,
    run_with_umask, write_bundle,
};
use crate::hostile::{Ctx, Tar, bundle_tar, contract};
use pacto_test_support::{BlobOrigin, FaultProxy, Outcome, RegistryOptions, TestRegistry};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` with `input` on stdin.
fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Run {
    let started = Instant::now();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("pacto-oci starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write stdin");
    finish(child, started, Duration::from_secs(60))
}

/// Asserts that a `-vvv` run really logged at trace level (so searching it means something).
fn assert_traced(run: &Run) {
    assert!(
        run.stderr.contains("TRACE") || run.stderr.contains("DEBUG"),
        "no trace output at -vvv:\n{}",
        run.stderr
    );
}

/// Every command that handles credentials, at `-vvv`, against `registry`: right, wrong and
/// missing credentials from every source (flags, environment, `pacto login`, Docker's
/// config). [`crate::common::check_output`] searches each output for the secrets.
fn exercise(registry: &TestRegistry, user: &str, ca: Option<&str>) -> usize {
    let sandbox = Sandbox::new();
    let host = registry.host();
    let repo = format!("{host}/secure/app");
    let source = write_bundle(&sandbox.path("bundles"), "secure-app", "1.0.0", &[]);
    let source = source.to_str().expect("utf-8");
    let with_ca = |mut args: Vec<String>| {
        if let Some(ca) = ca {
            args.extend(["--ca-file".to_owned(), ca.to_owned()]);
        }
        args.push("-vvv".to_owned());
        args
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args = with_ca(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = sandbox.command(&args);
        for (key, value) in env {
            cmd.env(key, value);
        }
        sandbox.run_with(cmd)
    };
    let s = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut runs = 0;
    let mut count = |run: Run, code: i32| {
        assert_eq!(
            run.code, code,
            "stdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        assert_traced(&run);
        runs += 1;
    };

    // Flags.
    count(
        run(
            s(&[
                "push",
                source,
                &repo,
                "--username",
                user,
                "--password",
                PASSWORD,
            ]),
            &[],
        ),
        0,
    );
    count(
        run(
            s(&[
                "tags",
                &repo,
                "--username",
                user,
                "--password",
                PASSWORD,
                "--json",
            ]),
            &[],
        ),
        0,
    );
    count(
        run(
            s(&[
                "pull",
                &format!("{repo}:1.0.0"),
                "-o",
                "out-flags",
                "--username",
                user,
                "--password",
                PASSWORD,
            ]),
            &[],
        ),
        0,
    );
    // A wrong password, then a bogus token: rejected, exit 4.
    count(
        run(
            s(&[
                "resolve",
                &format!("{repo}:1.0.0"),
                "--no-cache",
                "--username",
                user,
                "--password",
                WRONG_PASSWORD,
                "--json",
            ]),
            &[],
        ),
        4,
    );
    count(
        run(
            s(&[
                "resolve",
                &format!("{repo}:1.0.0"),
                "--no-cache",
                "--token",
                TOKEN,
                "--json",
            ]),
            &[],
        ),
        4,
    );
    // The environment.
    let env = [
        ("PACTO_REGISTRY_USERNAME", user),
        ("PACTO_REGISTRY_PASSWORD", PASSWORD),
    ];
    count(run(s(&["fetch-all", &repo, "--json"]), &env), 0);
    let wrong = [
        ("PACTO_REGISTRY_USERNAME", user),
        ("PACTO_REGISTRY_PASSWORD", WRONG_PASSWORD),
    ];
    count(
        run(
            s(&["resolve", &format!("{repo}:1.0.0"), "--no-cache", "--json"]),
            &wrong,
        ),
        4,
    );
    count(
        run(
            s(&["resolve", &format!("{repo}:1.0.0"), "--no-cache", "--json"]),
            &[("PACTO_REGISTRY_TOKEN", TOKEN)],
        ),
        4,
    );
    // Docker's config.
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{user}:{PASSWORD}"),
    );
    std::fs::write(
        sandbox.path("docker/config.json"),
        serde_json::json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .expect("docker config");
    count(
        run(
            s(&[
                "pull",
                &format!("{repo}:1.0.0"),
                "--no-cache",
                "-o",
                "out-docker",
            ]),
            &[],
        ),
        0,
    );
    std::fs::remove_file(sandbox.path("docker/config.json")).expect("remove docker config");
    // pacto login: rejected (stdin), accepted (-p and stdin), used, logout.
    let login = |password: &str| {
        let args = with_ca(s(&[
            "login",
            &host,
            "-u",
            user,
            "--password-stdin",
            "--json",
        ]));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_with_stdin(sandbox.command(&args), format!("{password}\n").as_bytes())
    };
    count(login(WRONG_PASSWORD), 4);
    count(login(PASSWORD), 0);
    count(
        run(
            s(&["login", &host, "-u", user, "-p", PASSWORD, "--json"]),
            &[],
        ),
        0,
    );
    count(
        run(
            s(&[
                "pull",
                &format!("{repo}:1.0.0"),
                "--no-cache",
                "-o",
                "out-login",
            ]),
            &[],
        ),
        0,
    );
    count(run(s(&["logout", &host, "--json"]), &[]), 0);
    // With RUST_LOG=trace instead of -vvv: every crate's trace, not only pacto's.
    let mut cmd = sandbox.command(
        &with_ca(s(&[
            "pull",
            &format!("{repo}:1.0.0"),
            "--no-cache",
            "-o",
            "out-rust-log",
            "--username",
            user,
            "--password",
            PASSWORD,
        ]))
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "-vvv")
        .collect::<Vec<_>>(),
    );
    cmd.env("RUST_LOG", "trace");
    count(sandbox.run_with(cmd), 0);
    runs
}

#[test]
fn secrets_never_appear_in_any_output_even_at_trace_level() {
    let basic = TestRegistry::start(RegistryOptions::tls_basic(USERS[0], PASSWORD));
    let ca = basic
        .ca_file()
        .expect("a CA")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let runs = exercise(&basic, USERS[0], Some(&ca));
    let token = TestRegistry::start(RegistryOptions::token(USERS[1], PASSWORD));
    let runs = runs + exercise(&token, USERS[1], None);
    assert!(runs >= 30, "{runs} runs searched");
    // The token registry really issued tokens (JWTs, searched for as "eyJ").
    assert!(token.token_requests() > 0);
}

/// `HTTP_PROXY`/`HTTPS_PROXY` pointing at a recording server on loopback: requests for
/// hosts that must never be contacted arrive there instead (an absolute URL for plain HTTP,
/// `CONNECT` for HTTPS, which it refuses). Every answer is a Basic challenge.
fn challenging_proxy() -> FakeServer {
    FakeServer::start(|_| Reply::new(401).header("WWW-Authenticate", "Basic realm=\"e2e\""))
}

fn via_proxy(sandbox: &Sandbox, proxy: &FakeServer, args: &[&str]) -> Run {
    let mut cmd = sandbox.command(args);
    let url = format!("http://{}", proxy.host());
    cmd.env("HTTP_PROXY", &url).env("HTTPS_PROXY", &url);
    sandbox.run_with(cmd)
}

#[test]
fn basic_credentials_never_go_over_plain_http_to_a_non_loopback_host() {
    let credentials = ["--username", USERS[0], "--password", PASSWORD, "--json"];
    // `*.localhost` is tried with https, then plain http (ggcr), but is not loopback: the
    // Basic challenge that comes back over http is not answered.
    let fallback_host = "registry.pacto-e2e.localhost:5000";
    let proxy = challenging_proxy();
    let sandbox = Sandbox::new();
    let reference = format!("{fallback_host}/team/app:1.0.0");
    let mut args = vec!["resolve", reference.as_str()];
    args.extend(credentials);
    let run = via_proxy(&sandbox, &proxy, &args).expect(4);
    assert_eq!(run.json()["error"]["kind"], "authentication");
    assert!(
        run.stderr
            .contains("not sending basic credentials over plain http"),
        "a warning says why: {}",
        run.stderr
    );
    let requests = proxy.requests();
    assert!(
        requests.iter().any(|r| r.method == "CONNECT"),
        "https was tried first: {requests:?}"
    );
    let plain: Vec<_> = requests
        .iter()
        .filter(|r| r.target.starts_with(&format!("http://{fallback_host}/v2/")))
        .collect();
    assert!(!plain.is_empty(), "then plain http: {requests:?}");
    assert!(
        plain.iter().all(|r| r.header("authorization").is_none()),
        "Basic credentials went over plain http: {plain:?}"
    );
    assert!(run.message().contains(fallback_host), "{}", run.message());

    // An https-only host is never spoken to in clear at all.
    let https_host = "registry.pacto-e2e.example:5000";
    let proxy = challenging_proxy();
    let reference = format!("{https_host}/team/app:1.0.0");
    let mut args = vec!["resolve", reference.as_str()];
    args.extend(credentials);
    via_proxy(&sandbox, &proxy, &args).expect_error(5, "unreachable");
    let requests = proxy.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.method == "CONNECT"),
        "only https was tried: {requests:?}"
    );

    // Marked insecure, the same host gets the credentials: the control that shows the
    // assertions above can fail.
    for host in [fallback_host, https_host] {
        let proxy = challenging_proxy();
        let reference = format!("{host}/team/app:1.0.0");
        let mut args = vec!["resolve", reference.as_str(), "--plain-http", host];
        args.extend(credentials);
        via_proxy(&sandbox, &proxy, &args).expect_error(4, "authentication");
        let requests = proxy.requests();
        assert!(
            requests.iter().any(|r| r
                .header("authorization")
                .is_some_and(|a| a.starts_with("Basic "))),
            "{host} marked insecure gets the credentials: {requests:?}"
        );
        assert!(
            requests.iter().all(|r| r.method != "CONNECT"),
            "plain http only"
        );
    }
}

#[test]
fn authorization_is_not_forwarded_on_a_cross_origin_redirect() {
    for options in [
        RegistryOptions::basic(USERS[0], PASSWORD),
        RegistryOptions::token(USERS[0], PASSWORD),
    ] {
        let registry = TestRegistry::start(options);
        let proxy = FaultProxy::in_front_of(&registry);
        let origin = BlobOrigin::for_registry(&registry);
        let sandbox = Sandbox::new();
        let source = write_bundle(
            &sandbox.path("bundles"),
            "redirected",
            "1.0.0",
            &[("data.bin", b"blob data")],
        );
        let creds = [
            ("PACTO_REGISTRY_USERNAME", USERS[0]),
            ("PACTO_REGISTRY_PASSWORD", PASSWORD),
        ];
        let repo = format!("{}/secure/redirected", proxy.host());
        let mut push = sandbox.command(&["push", source.to_str().expect("utf-8"), &repo, "-q"]);
        push.envs(creds);
        sandbox.run_with(push).expect(0);

        proxy.redirect_blobs_to(&origin.url());
        proxy.clear_requests();
        let out = sandbox.work().join("out");
        let mut pull = sandbox.command(&[
            "pull",
            &format!("{repo}:1.0.0"),
            "-o",
            out.to_str().expect("utf-8"),
            "--no-cache",
            "-vvv",
        ]);
        pull.envs(creds);
        sandbox.run_with(pull).expect(0);
        crate::common::assert_same_files(&source, &out);

        let redirected: Vec<_> = proxy
            .requests()
            .into_iter()
            .filter(|r| matches!(r.outcome, Outcome::Redirected { .. }))
            .collect();
        assert!(
            !redirected.is_empty(),
            "the layer was redirected: {:?}",
            proxy.requests()
        );
        // The control: the registry's origin did receive credentials for the blob...
        assert!(
            redirected
                .iter()
                .all(|r| r.header("authorization").is_some()),
            "{redirected:?}"
        );
        // ...and the storage origin, asserted at the receiving end, none.
        let received = origin.requests();
        assert!(!received.is_empty(), "the origin served the layer");
        assert!(
            received.iter().all(|r| r.header("authorization").is_none()),
            "Authorization leaked to another origin: {received:?}"
        );
    }
}

/// Runs the binary under `umask 000`, so only its own choice of mode protects the file.
fn run_with_open_umask(sandbox: &Sandbox, args: &[&str]) -> Run {
    run_with_umask(sandbox, "000", args)
}

#[test]
fn config_json_is_private_after_login() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic(USERS[0], PASSWORD));
    let ca = registry
        .ca_file()
        .expect("CA")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let host = registry.host();
    let login = [
        "login",
        host.as_str(),
        "-u",
        USERS[0],
        "-p",
        PASSWORD,
        "--ca-file",
        ca.as_str(),
        "--json",
    ];

    // A new file, under a umask that would make it world-readable.
    let sandbox = Sandbox::new();
    let config = sandbox.path("config/pacto/config.json");
    run_with_open_umask(&sandbox, &login).expect(0);
    assert_eq!(mode(&config), 0o600);
    let stored = std::fs::read_to_string(&config).expect("stored");
    assert!(stored.contains(&host), "{stored}");

    // An existing 0644 file (with another registry) is made private and keeps that registry.
    let sandbox = Sandbox::new();
    let config = sandbox.path("config/pacto/config.json");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &config,
        r#"{"auths":{"other.example":{"auth":"b3RoZXI6b3RoZXI="}}}"#,
    )
    .expect("write");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    run_with_open_umask(&sandbox, &login).expect(0);
    assert_eq!(mode(&config), 0o600);
    let stored = std::fs::read_to_string(&config).expect("stored");
    assert!(
        stored.contains("other.example") && stored.contains(&host),
        "{stored}"
    );

    // A symlinked config is written through to its target, which becomes private; the link
    // stays a link.
    let sandbox = Sandbox::new();
    let target = sandbox.path("home/dotfiles/pacto.json");
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    std::fs::write(&target, "{}").expect("write");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let config = sandbox.path("config/pacto/config.json");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(&target, &config).expect("symlink");
    run_with_open_umask(&sandbox, &login).expect(0);
    assert!(
        std::fs::symlink_metadata(&config)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(mode(&target), 0o600);
    assert!(
        std::fs::read_to_string(&target)
            .expect("target")
            .contains(&host)
    );

    // A rejected login stores nothing.
    let sandbox = Sandbox::new();
    let config = sandbox.path("config/pacto/config.json");
    let mut args = login;
    args[5] = WRONG_PASSWORD;
    run_with_open_umask(&sandbox, &args).expect_error(4, "authentication");
    assert!(!config.exists());
}

#[test]
fn cache_and_output_paths_stay_inside_their_roots() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path("outside")).expect("mkdir");

    // References whose escaped forms could collide or climb: each pulls into the cache as
    // its own entry, and nothing lands outside the cache and the output directories.
    let source = write_bundle(&sandbox.path("bundles"), "steer", "1.0.0", &[]);
    let repos = ["a/b", "a.b/c", "a_b/c--d", "a/b/c", "a__b/c.d"];
    let tags = ["1.0.0", "x..", "_..", "a..b", "v1.0.0-..-x"];
    let mut references = Vec::new();
    for (repo, tag) in repos.iter().zip(tags) {
        let reference = format!("{host}/{repo}:{tag}");
        sandbox
            .run(&["push", source.to_str().expect("utf-8"), &reference, "-q"])
            .expect(0);
        references.push(reference);
    }
    let before = sandbox.snapshot();
    for (i, reference) in references.iter().enumerate() {
        let out = format!("out-{i}");
        sandbox
            .run(&["pull", reference, "-o", &out, "-q"])
            .expect(0);
        // The same directory again: replaced (it is not empty, so only with --force).
        sandbox
            .run(&[
                "pull",
                &format!("oci://{reference}"),
                "-o",
                &out,
                "--force",
                "-q",
            ])
            .expect(0);
    }
    for (path, kind) in sandbox.new_paths(&before) {
        assert!(
            "cache/pacto/oci".starts_with(path.as_str())
                || path.starts_with("cache/pacto/oci/")
                || path.starts_with("work/out-"),
            "{path} ({kind:?}) is outside the cache and output roots"
        );
    }
    let listed = sandbox.run(&["cache", "ls", "--json"]).expect(0).json();
    let mut listed: Vec<String> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["ref"].as_str().expect("ref").to_owned())
        .collect();
    listed.sort();
    let mut expected = references.clone();
    expected.sort();
    assert_eq!(listed, expected, "one entry per reference, none shared");

    // References that try to climb are refused before anything is touched.
    let before = sandbox.snapshot();
    for reference in [
        format!("{host}/../etc:1.0.0"),
        format!("{host}/a/../../etc:1.0.0"),
        format!("{host}/a:../../x"),
        format!("{host}/a@sha256:../../../x"),
        format!("{host}/a/%2e%2e/b:1.0.0"),
        format!("{host}/a:..\\x"),
    ] {
        sandbox
            .run(&["pull", &reference, "-o", "out-refused", "--json"])
            .expect_error(2, "invalid_reference");
    }
    assert_eq!(
        sandbox.new_paths(&before),
        [],
        "a refused reference writes nothing"
    );

    // A service name that is not a plain directory name is never used as the default output
    // directory: a usage error (exit 2), as for `.git` (edges.rs).
    let before = sandbox.snapshot();
    for (i, name) in ["../escape", "..", "a/../../escape"].iter().enumerate() {
        let mut tar = Tar::new();
        tar.file(
            "pacto.yaml",
            format!("pactoVersion: \"1.0\"\nservice:\n  name: \"{name}\"\n  version: 1.0.0\n")
                .as_bytes(),
        );
        let ctx = Ctx {
            registry: &registry,
            sandbox: &sandbox,
            name: format!("unsafe-name-{i}"),
        };
        let reference = ctx.push_layer(&tar.end().gzip());
        let run = sandbox
            .run(&["pull", &reference, "--json"])
            .expect_error(2, "usage");
        assert!(
            run.message().contains("not a safe directory name"),
            "{}",
            run.message()
        );
    }
    for (path, kind) in sandbox.new_paths(&before) {
        assert!(path.starts_with("cache/"), "{path} ({kind:?}) was written");
    }

    // Symlinks planted in an existing output directory are never followed.
    let ctx = Ctx {
        registry: &registry,
        sandbox: &sandbox,
        name: "planted".to_owned(),
    };
    let reference = ctx.push_layer(
        &bundle_tar("planted")
            .file("api/openapi.yaml", b"openapi: 3.0.0\n")
            .end()
            .gzip(),
    );
    let out = sandbox.work().join("planted");
    std::fs::create_dir_all(&out).expect("mkdir");
    let victim = sandbox.path("outside/victim.txt");
    std::fs::write(&victim, b"untouched").expect("victim");
    std::os::unix::fs::symlink(&victim, out.join("pacto.yaml")).expect("file link");
    std::os::unix::fs::symlink(sandbox.path("outside"), out.join("api")).expect("dir link");
    // The directory is not empty: refused, nothing touched.
    let run = sandbox
        .run(&[
            "pull",
            &reference,
            "-o",
            out.to_str().expect("utf-8"),
            "--json",
        ])
        .expect_error(2, "usage");
    assert!(run.message().contains("not empty"), "{}", run.message());
    assert_eq!(std::fs::read(&victim).expect("victim"), b"untouched");
    // Replaced with --force: a new tree takes the directory's place, so neither link is ever
    // followed; both are gone.
    sandbox
        .run(&[
            "pull",
            &reference,
            "-o",
            out.to_str().expect("utf-8"),
            "--force",
            "--json",
        ])
        .expect(0);
    assert_eq!(std::fs::read(&victim).expect("victim"), b"untouched");
    assert!(
        !sandbox.path("outside/openapi.yaml").exists(),
        "nothing written through api/"
    );
    for (path, expected) in [
        ("pacto.yaml", Kind::File),
        ("api", Kind::Dir),
        ("api/openapi.yaml", Kind::File),
    ] {
        let found = crate::common::snapshot(&out).get(path).copied();
        assert_eq!(
            found,
            Some(expected),
            "{path}: the planted link was replaced"
        );
    }
    assert_eq!(
        std::fs::read(out.join("pacto.yaml")).expect("read"),
        contract("planted").as_bytes()
    );
    let outside = crate::common::snapshot(&sandbox.path("outside"));
    assert_eq!(
        outside.into_iter().collect::<Vec<_>>(),
        [("victim.txt".to_owned(), Kind::File)]
    );
}
