//! The `gh` and docker credential-helper sources, with real fake executables.

use std::time::{Duration, Instant};

use pacto_auth::{Candidate, Credential, CredentialOptions, Keychain, Source};

use crate::support::{Capture, Env, read_to_string};

fn docker_only(candidates: &[Candidate]) -> Vec<Credential> {
    candidates
        .iter()
        .filter(|c| c.source == Source::Docker)
        .map(|c| c.credential.clone())
        .collect()
}

fn gh_only(candidates: &[Candidate]) -> Vec<Credential> {
    candidates
        .iter()
        .filter(|c| c.source == Source::Gh)
        .map(|c| c.credential.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_runs_once_for_fifty_lookups() {
    let env = Env::new();
    env.gh("echo gho_token");
    let keychain = env.keychain(CredentialOptions::default());

    for _ in 0..25 {
        let got = keychain.candidates("ghcr.io").await;
        assert_eq!(
            gh_only(&got),
            [Credential::basic("x-access-token", "gho_token")]
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let keychain = keychain.clone();
        tasks.spawn(async move { keychain.candidates("ghcr.io").await });
    }
    while let Some(result) = tasks.join_next().await {
        let got = result.unwrap_or_else(|e| panic!("lookup task failed: {e}"));
        assert_eq!(
            gh_only(&got),
            [Credential::basic("x-access-token", "gho_token")]
        );
    }
    assert_eq!(env.calls("gh"), 1);
    assert_eq!(read_to_string(&env.root().join("calls/gh")), "auth token\n");

    // The other GitHub registry is cached on its own; other registries never run gh.
    assert_eq!(
        gh_only(&keychain.candidates("docker.pkg.github.com").await).len(),
        1
    );
    for registry in ["quay.io", "docker.io", "github.com", "localhost:5000"] {
        assert_eq!(keychain.candidates(registry).await, []);
    }
    assert_eq!(env.calls("gh"), 2);
}

#[tokio::test]
async fn gh_without_a_token_gives_nothing() {
    let table = [
        ("exit 1", "fails"),
        ("exit 0", "prints nothing"),
        ("printf '  \\n\\n'", "prints blanks"),
        ("echo 'two words'", "prints garbage"),
        ("printf '\\377\\376\\n'", "prints non-UTF-8"),
    ];
    for (body, what) in table {
        let env = Env::new();
        env.gh(body);
        let got = env
            .keychain(CredentialOptions::default())
            .candidates("ghcr.io")
            .await;
        assert_eq!(got, [], "gh that {what}");
        assert_eq!(env.calls("gh"), 1, "gh that {what}");
    }

    // Not installed at all: an empty bin directory first on PATH, and no gh after it.
    let env = Env::new();
    let keychain = Keychain::with_config(
        CredentialOptions::default(),
        env.config().with_path(env.bin().into_os_string()),
    );
    assert_eq!(keychain.candidates("ghcr.io").await, []);
}

#[tokio::test]
async fn a_hanging_gh_is_killed_after_the_timeout() {
    let env = Env::new();
    let pid_file = env.root().join("gh.pid");
    env.gh(&format!(
        "echo $$ > '{}'\nexec sleep 60",
        pid_file.display()
    ));
    let keychain = Keychain::with_config(
        CredentialOptions::default(),
        env.config().with_helper_timeout(Duration::from_secs(1)),
    );
    let capture = Capture::start();

    let started = Instant::now();
    let got = keychain.candidates("ghcr.io").await;

    assert_eq!(got, []);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_process_gone(&read_to_string(&pid_file));
    assert!(
        capture
            .text()
            .contains("gh auth token did not finish in time"),
        "{}",
        capture.text()
    );
}

#[tokio::test]
async fn helper_gets_the_server_address_on_stdin() {
    let env = Env::new();
    env.helper(
        "store",
        r#"echo '{"ServerURL":"x","Username":"hub-user","Secret":"hub-pass"}'"#,
    );
    env.write_docker_config(r#"{"credsStore":"store"}"#);
    let keychain = env.keychain(CredentialOptions::default());

    let table = [
        ("docker.io", "https://index.docker.io/v1/"),
        ("quay.io", "quay.io"),
        (
            "https://Registry.Example.com:5000/v2/",
            "registry.example.com:5000",
        ),
    ];
    for (registry, server) in table {
        let got = keychain.candidates(registry).await;
        assert_eq!(
            docker_only(&got),
            [Credential::basic("hub-user", "hub-pass")],
            "{registry}"
        );
        assert_eq!(env.helper_stdin("store"), server, "{registry}");
        assert_eq!(env.helper_args("store"), "get\n", "{registry}");
    }
}

#[tokio::test]
async fn cred_helpers_win_over_creds_store() {
    let env = Env::new();
    env.helper(
        "ghcr",
        r#"echo '{"Username":"ghcr-user","Secret":"ghcr-pass"}'"#,
    );
    env.helper(
        "store",
        r#"echo '{"Username":"store-user","Secret":"store-pass"}'"#,
    );
    env.write_docker_config(
        r#"{"credsStore":"store",
            "credHelpers":{"ghcr.io":"ghcr","localhost:5000":""},
            "auths":{"ghcr.io":{"auth":"ZmlsZTpmaWxl"},"localhost:5000":{"auth":"bG86bG8="}}}"#,
    );
    let keychain = Keychain::with_config(CredentialOptions::default(), env.config().with_gh(false));

    assert_eq!(
        docker_only(&keychain.candidates("ghcr.io").await),
        [Credential::basic("ghcr-user", "ghcr-pass")]
    );
    assert_eq!(
        docker_only(&keychain.candidates("quay.io").await),
        [Credential::basic("store-user", "store-pass")]
    );
    // An empty credHelpers entry opts its registry out of credsStore, as in Docker.
    assert_eq!(
        docker_only(&keychain.candidates("localhost:5000").await),
        [Credential::basic("lo", "lo")]
    );
    assert_eq!((env.calls("ghcr"), env.calls("store")), (1, 1));
}

/// What a broken helper leads to: no credential from it, the file's own entry
/// (if any) instead, and a warning naming the helper when `warns`.
struct Broken {
    what: &'static str,
    body: &'static str,
    warns: bool,
}

#[tokio::test]
async fn broken_helpers_are_skipped_never_fatal() {
    let table = [
        Broken {
            what: "exits 1",
            body: "echo 'helper exploded' >&2; exit 1",
            warns: true,
        },
        Broken {
            what: "prints garbage",
            body: "echo 'this is not JSON'",
            warns: true,
        },
        Broken {
            what: "prints the wrong JSON",
            body: r#"echo '{"user":"a","secret":"b"}'"#,
            warns: true,
        },
        Broken {
            what: "prints megabytes",
            body: "head -c 2000000 /dev/zero | tr '\\0' 'x'",
            warns: true,
        },
        Broken {
            what: "has nothing stored",
            body: "echo 'credentials not found in native keychain'; exit 1",
            warns: false,
        },
        Broken {
            what: "gives an identity token",
            body: r#"echo '{"Username":"<token>","Secret":"refresh"}'"#,
            warns: false,
        },
        Broken {
            what: "gives an empty secret",
            body: r#"echo '{"Username":"u","Secret":""}'"#,
            warns: false,
        },
    ];
    for Broken { what, body, warns } in table {
        for with_file_entry in [false, true] {
            let env = Env::new();
            env.helper("broken", body);
            let auths = if with_file_entry {
                r#","auths":{"quay.io":{"auth":"ZmlsZTpmaWxl"}}"#
            } else {
                ""
            };
            env.write_docker_config(&format!(
                r#"{{"credHelpers":{{"quay.io":"broken"}}{auths}}}"#
            ));
            let keychain = env.keychain(CredentialOptions::default());
            let capture = Capture::start();

            let got = keychain.candidates("quay.io").await;

            let want = if with_file_entry {
                vec![Credential::basic("file", "file")]
            } else {
                vec![]
            };
            assert_eq!(docker_only(&got), want, "helper that {what}");
            let logs = capture.text();
            assert_eq!(logs.contains("WARN"), warns, "helper that {what}: {logs}");
            if warns {
                assert!(
                    logs.contains("docker-credential-broken"),
                    "helper that {what}: {logs}"
                );
            }
            assert_eq!(env.calls("broken"), 1, "helper that {what}");
        }
    }
}

#[tokio::test]
async fn a_missing_helper_is_skipped_with_a_warning() {
    let env = Env::new();
    env.write_docker_config(
        r#"{"credsStore":"desktop","auths":{"quay.io":{"auth":"ZmlsZTpmaWxl"}}}"#,
    );
    let capture = Capture::start();

    let got = env
        .keychain(CredentialOptions::default())
        .candidates("quay.io")
        .await;

    assert_eq!(docker_only(&got), [Credential::basic("file", "file")]);
    let logs = capture.text();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("docker-credential-desktop"), "{logs}");
}

#[tokio::test]
async fn a_hanging_helper_is_killed_after_the_timeout() {
    let env = Env::new();
    let pid_file = env.root().join("helper.pid");
    env.helper(
        "hang",
        &format!("echo $$ > '{}'\nexec sleep 60", pid_file.display()),
    );
    env.write_docker_config(r#"{"credsStore":"hang"}"#);
    let keychain = Keychain::with_config(
        CredentialOptions::default(),
        env.config().with_helper_timeout(Duration::from_secs(1)),
    );
    let capture = Capture::start();

    let started = Instant::now();
    let got = keychain.candidates("quay.io").await;
    let first = started.elapsed();

    assert_eq!(got, []);
    assert!(
        first >= Duration::from_secs(1),
        "returned before the timeout: {first:?}"
    );
    assert!(first < Duration::from_secs(30), "took {first:?}");
    assert_process_gone(&read_to_string(&pid_file));
    let logs = capture.text();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("docker-credential-hang"), "{logs}");
    assert!(logs.contains("did not answer in time"), "{logs}");

    // The failure is cached: the next lookup does not wait again.
    let started = Instant::now();
    assert_eq!(keychain.candidates("quay.io").await, []);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited again: {:?}",
        started.elapsed()
    );
    assert_eq!(env.calls("hang"), 1);
}

#[tokio::test]
async fn helper_answers_are_cached_per_registry() {
    let env = Env::new();
    env.helper("store", r#"echo '{"Username":"u","Secret":"s"}'"#);
    env.helper("broken", "exit 1");
    env.write_docker_config(r#"{"credsStore":"store","credHelpers":{"ghcr.io":"broken"}}"#);
    let keychain = Keychain::with_config(CredentialOptions::default(), env.config().with_gh(false));

    for _ in 0..20 {
        for registry in ["quay.io", "docker.io", "index.docker.io", "ghcr.io"] {
            keychain.clone().candidates(registry).await;
        }
    }

    // quay.io and Docker Hub (under one name): two store calls; one broken call.
    assert_eq!(env.calls("store"), 2);
    assert_eq!(env.calls("broken"), 1);
    // A new keychain starts with an empty cache.
    env.keychain(CredentialOptions::default())
        .candidates("quay.io")
        .await;
    assert_eq!(env.calls("store"), 3);
}

/// The process `pid` (as its fake wrote it) no longer runs: killed and reaped.
fn assert_process_gone(pid: &str) {
    let pid = pid.trim();
    assert!(!pid.is_empty(), "the fake did not record its pid");
    let proc_dir = std::path::Path::new("/proc").join(pid);
    let still_sleeping = std::fs::read(proc_dir.join("cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("sleep"))
        .unwrap_or(false);
    assert!(
        !still_sleeping,
        "process {pid} still runs after the timeout"
    );
}

/// Regression: on a timeout only the helper itself was killed, and the processes a shell
/// helper had started (here a background `sleep` and a foreground one) lived on, orphaned,
/// holding its output pipe. Now its whole process group is killed.
#[tokio::test]
async fn a_hanging_helper_is_killed_with_every_process_it_started() {
    let env = Env::new();
    let pids = env.root().join("children.pids");
    let pids_text = pids.display().to_string();
    env.helper(
        "family",
        &format!(
            "sleep 300 &\n\
             echo \"$!\" >> '{pids_text}'\n\
             sh -c 'echo \"$$\" >> \"$0\"; exec sleep 300' '{pids_text}'"
        ),
    );
    env.write_docker_config(r#"{"credsStore":"family"}"#);
    let keychain = Keychain::with_config(
        CredentialOptions::default(),
        env.config().with_helper_timeout(Duration::from_millis(500)),
    );
    assert_eq!(keychain.candidates("quay.io").await, []);
    let children: Vec<String> = read_to_string(&pids).lines().map(str::to_owned).collect();
    assert_eq!(
        children.len(),
        2,
        "the helper started both children: {children:?}"
    );
    for pid in &children {
        wait_gone(pid);
    }
}

/// Waits (at most 10 s) until process `pid` is gone or a zombie: a killed process dies as
/// soon as it is scheduled, and an orphan is reaped by whoever adopted it.
fn wait_gone(pid: &str) {
    let stat = std::path::Path::new("/proc").join(pid.trim()).join("stat");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive = std::fs::read_to_string(&stat).is_ok_and(|text| {
            // `pid (comm) STATE ...`: the state follows the last ')'.
            text.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        });
        if !alive {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} still runs after its helper was killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
