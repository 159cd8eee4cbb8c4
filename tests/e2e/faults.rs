//! Faults: a registry that stops, restarts, throttles, stalls or resets connections; a
//! `pacto-oci` killed mid cache write; 16 processes on one cold cache; a full cache disk.
//!
//! Every fault is on loopback and bounded in time: each run of the binary has a deadline
//! ([`crate::common::RUN_LIMIT`] or tighter), and each test asserts how long it took.

use crate::common::{
    Kind, Run, Sandbox, assert_same_files, finish, noise, snapshot, spawn, wait_until, write_bundle,
};
use pacto_test_support::{Fault, FaultProxy, Outcome, RequestMatch, TestRegistry};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Pushes the bundle `name`-`version` (with a `data.bin` of `size` pseudo-random bytes) to
/// `host/faults/name` with the binary; returns the bundle directory and the tagged reference.
fn push(
    sandbox: &Sandbox,
    host: &str,
    name: &str,
    version: &str,
    size: usize,
) -> (PathBuf, String) {
    let seed = name
        .bytes()
        .chain(version.bytes())
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let data = noise(seed, size);
    let source = write_bundle(
        &sandbox.path("bundles"),
        name,
        version,
        &[("data.bin", &data)],
    );
    let repo = format!("{host}/faults/{name}");
    sandbox
        .run(&["push", source.to_str().expect("utf-8"), &repo, "-q"])
        .expect(0);
    (source, format!("{repo}:{version}"))
}

/// `pull REF -o DIR --json` in `sandbox`.
fn pull(sandbox: &Sandbox, reference: &str, out: &Path) -> Run {
    sandbox.run(&[
        "pull",
        reference,
        "-o",
        out.to_str().expect("utf-8"),
        "--json",
    ])
}

/// Asserts that the sandbox's cache holds no entry.
fn assert_nothing_cached(sandbox: &Sandbox) {
    let listed = sandbox.run(&["cache", "ls", "--json"]).expect(0).json();
    assert_eq!(listed, serde_json::json!([]), "nothing cached");
}

/// The references in the sandbox's cache, sorted.
fn cached_refs(sandbox: &Sandbox) -> Vec<String> {
    let listed = sandbox.run(&["cache", "ls", "--json"]).expect(0).json();
    let mut refs: Vec<String> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| e["ref"].as_str().expect("ref").to_owned())
        .collect();
    refs.sort();
    refs
}

/// The outcomes the proxy recorded for requests whose path contains `fragment`.
fn outcomes(proxy: &FaultProxy, method: &str, fragment: &str) -> Vec<Outcome> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.contains(fragment))
        .map(|r| r.outcome)
        .collect()
}

/// The facade's view of a pull of `reference` with a cold cache: the kind of its error and
/// whether it is transient.
fn library_pull_error(reference: &str) -> (pacto_oci::ErrorKind, bool) {
    let cache = tempfile::tempdir().expect("a cache directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = pacto_oci::Client::builder()
            .cache_dir(cache.path())
            .build()
            .expect("a client");
        match client
            .pull(reference, "", pacto_oci::ResolveMode::RemoteAllowed)
            .await
        {
            Ok(resolved) => panic!("{reference} pulled: {}", resolved.digest),
            Err(error) => (error.kind(), error.is_transient()),
        }
    })
}

#[test]
fn registry_stopped_before_a_pull() {
    let mut registry = TestRegistry::plain();
    let pusher = Sandbox::new();
    let (source, reference) = push(&pusher, &registry.host(), "stopped-before", "1.0.0", 4096);
    registry.stop();

    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let run = pull(&sandbox, &reference, &out).expect_error(5, "unreachable");
    assert!(
        run.message().contains(&registry.host()),
        "{}",
        run.message()
    );
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
    assert!(!out.exists(), "nothing written");
    assert_nothing_cached(&sandbox);
    // Transient: the library says a later attempt may succeed.
    assert_eq!(
        library_pull_error(&reference),
        (pacto_oci::ErrorKind::Unreachable, true)
    );

    // And it does.
    registry.restart();
    pull(&sandbox, &reference, &out).expect(0);
    assert_same_files(&source, &out);
}

#[test]
fn registry_stopped_during_a_pull() {
    let mut registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let pusher = Sandbox::new();
    let (source, direct) = push(
        &pusher,
        &registry.host(),
        "stopped-during",
        "1.0.0",
        4 << 20,
    );
    let reference = direct.replace(&registry.host(), &proxy.host());

    // Slow every exchange, and stop the registry once the manifest has been read: the layer
    // download then finds it gone.
    proxy.set_latency(Duration::from_millis(300));
    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let started = Instant::now();
    let child = spawn(sandbox.command(&[
        "pull",
        &reference,
        "-o",
        out.to_str().expect("utf-8"),
        "--json",
    ]));
    wait_until("the manifest GET", Duration::from_secs(30), || {
        outcomes(&proxy, "GET", "/manifests/")
            .iter()
            .any(|o| matches!(o, Outcome::Forwarded { status: 200 }))
    });
    registry.stop();
    let run = finish(child, started, Duration::from_secs(60)).expect_error(5, "unreachable");
    assert!(
        outcomes(&proxy, "GET", "/blobs/").contains(&Outcome::UpstreamUnreachable),
        "the layer download found the registry gone: {:?}",
        proxy.requests()
    );
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
    assert!(!out.exists(), "nothing written");
    assert_nothing_cached(&sandbox);

    proxy.set_latency(Duration::ZERO);
    registry.restart();
    pull(&sandbox, &reference, &out).expect(0);
    assert_same_files(&source, &out);
}

#[test]
fn registry_restarted_during_fetch_all() {
    let mut registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let pusher = Sandbox::new();
    let versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"];
    for version in versions {
        push(&pusher, &registry.host(), "fetch-all", version, 64 * 1024);
    }
    let repo = format!("{}/faults/fetch-all", proxy.host());

    proxy.set_latency(Duration::from_millis(100));
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let child = spawn(sandbox.command(&["fetch-all", &repo, "--concurrency", "1", "--json"]));
    // One version is fetched, then the registry goes away until one version has failed for
    // good (its first request and three retries), then it comes back.
    wait_until("a first layer download", Duration::from_secs(60), || {
        outcomes(&proxy, "GET", "/blobs/").contains(&Outcome::Forwarded { status: 200 })
    });
    registry.stop();
    wait_until(
        "a version failing for good",
        Duration::from_secs(60),
        || {
            proxy
                .requests()
                .iter()
                .filter(|r| r.outcome == Outcome::UpstreamUnreachable)
                .count()
                >= 4
        },
    );
    registry.restart();
    let run = finish(child, started, Duration::from_secs(120)).expect(5);
    let document = run.json();
    let fetched: Vec<String> =
        serde_json::from_value(document["versions"].clone()).expect("versions");
    let failed: Vec<(String, String)> = document["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            (
                f["tag"].as_str().expect("tag").to_owned(),
                f["error"].as_str().expect("error").to_owned(),
            )
        })
        .collect();
    assert!(!fetched.is_empty(), "{document}");
    assert!(!failed.is_empty(), "{document}");
    for (tag, error) in &failed {
        assert!(error.contains("unreachable"), "{tag}: {error}");
    }
    let mut all: Vec<String> = fetched
        .iter()
        .cloned()
        .chain(failed.iter().map(|(t, _)| t.clone()))
        .collect();
    all.sort();
    assert_eq!(all, versions, "every version is either fetched or reported");
    // Exactly the fetched versions are cached.
    let mut expected: Vec<String> = fetched.iter().map(|v| format!("{repo}:{v}")).collect();
    expected.sort();
    assert_eq!(cached_refs(&sandbox), expected);

    // Once the registry is back, everything is fetched.
    proxy.set_latency(Duration::ZERO);
    let again = sandbox
        .run(&["fetch-all", &repo, "--json"])
        .expect(0)
        .json();
    assert_eq!(again["failed"], serde_json::json!([]));
    assert_eq!(
        again["versions"].as_array().map(Vec::len),
        Some(versions.len())
    );
    assert_eq!(cached_refs(&sandbox).len(), versions.len());
}

#[test]
fn throttling_with_retry_after_is_retried_within_bounds() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let pusher = Sandbox::new();
    let (source, direct) = push(&pusher, &registry.host(), "throttled", "1.0.0", 4096);
    let reference = direct.replace(&registry.host(), &proxy.host());

    // Two 429s on the manifest, two 503s on the layer, each asking for 1 s: retried,
    // honoured, and the pull succeeds.
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/manifests/"),
        Fault::Status {
            code: 429,
            retry_after: Some(1),
            times: 2,
        },
    );
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/blobs/"),
        Fault::Status {
            code: 503,
            retry_after: Some(1),
            times: 2,
        },
    );
    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let run = pull(&sandbox, &reference, &out).expect(0);
    assert_same_files(&source, &out);
    assert!(
        run.elapsed >= Duration::from_secs(4),
        "Retry-After honoured: {:?}",
        run.elapsed
    );
    assert!(
        run.elapsed < Duration::from_secs(20),
        "bounded: {:?}",
        run.elapsed
    );
    assert_eq!(
        outcomes(&proxy, "GET", "/manifests/"),
        [
            Outcome::Injected { status: 429 },
            Outcome::Injected { status: 429 },
            Outcome::Forwarded { status: 200 }
        ]
    );
    assert_eq!(
        outcomes(&proxy, "GET", "/blobs/"),
        [
            Outcome::Injected { status: 503 },
            Outcome::Injected { status: 503 },
            Outcome::Forwarded { status: 200 }
        ]
    );

    // A burst longer than the retries: 1 attempt + 3 retries, then exit 5, nothing cached.
    proxy.clear_requests();
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/manifests/"),
        Fault::Status {
            code: 503,
            retry_after: Some(1),
            times: 100,
        },
    );
    let cold = Sandbox::new();
    let out = cold.work().join("out");
    let run = pull(&cold, &reference, &out).expect_error(5, "unreachable");
    assert!(run.elapsed >= Duration::from_secs(3), "{:?}", run.elapsed);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "bounded: {:?}",
        run.elapsed
    );
    assert_eq!(
        outcomes(&proxy, "GET", "/manifests/").len(),
        4,
        "{:?}",
        proxy.requests()
    );
    assert!(!out.exists());
    assert_nothing_cached(&cold);

    // A Retry-After of an hour is capped (at 10 s).
    proxy.clear_faults();
    proxy.clear_requests();
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/manifests/"),
        Fault::Status {
            code: 429,
            retry_after: Some(3600),
            times: 1,
        },
    );
    let capped = Sandbox::new();
    let out = capped.work().join("out");
    let run = pull(&capped, &reference, &out).expect(0);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "Retry-After capped: {:?}",
        run.elapsed
    );
    assert_same_files(&source, &out);
}

#[test]
fn a_stalled_connection_times_out_and_is_retried() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let pusher = Sandbox::new();
    let (source, direct) = push(&pusher, &registry.host(), "stalled", "1.0.0", 4096);
    let reference = direct.replace(&registry.host(), &proxy.host());
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/blobs/"),
        Fault::Stall { times: 1 },
    );
    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let run = sandbox
        .run(&[
            "pull",
            &reference,
            "-o",
            out.to_str().expect("utf-8"),
            "-vv",
        ])
        .expect(0);
    assert_same_files(&source, &out);
    // The stalled request is given up after the read timeout (30 s), not waited on forever.
    assert!(
        run.elapsed >= Duration::from_secs(10),
        "{:?} {}",
        run.elapsed,
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(60),
        "bounded: {:?}",
        run.elapsed
    );
    assert_eq!(
        outcomes(&proxy, "GET", "/blobs/"),
        [Outcome::Stalled, Outcome::Forwarded { status: 200 }]
    );
}

#[test]
fn connections_reset_mid_blob_are_retried() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let pusher = Sandbox::new();
    // Layers of different sizes, so the cuts (half of each body) fall at different points.
    for (i, size) in [3_000usize, 300_000, 1_300_000, 3_700_000]
        .into_iter()
        .enumerate()
    {
        let (source, direct) = push(
            &pusher,
            &registry.host(),
            &format!("reset-{i}"),
            "1.0.0",
            size,
        );
        let reference = direct.replace(&registry.host(), &proxy.host());
        proxy.clear_requests();
        proxy.inject_matching(
            RequestMatch::method("GET").with_path("/blobs/"),
            Fault::Reset { times: 2 },
        );
        let sandbox = Sandbox::new();
        let out = sandbox.work().join("out");
        let run = pull(&sandbox, &reference, &out).expect(0);
        assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
        assert_same_files(&source, &out);
        assert_eq!(
            outcomes(&proxy, "GET", "/blobs/"),
            [
                Outcome::Reset,
                Outcome::Reset,
                Outcome::Forwarded { status: 200 }
            ],
            "size {size}"
        );
        assert_eq!(cached_refs(&sandbox).len(), 1);
    }

    // Reset every time: exit 5, nothing written, nothing cached.
    let (_, direct) = push(&pusher, &registry.host(), "reset-always", "1.0.0", 500_000);
    let reference = direct.replace(&registry.host(), &proxy.host());
    proxy.inject_matching(
        RequestMatch::method("GET").with_path("/blobs/"),
        Fault::Reset { times: 100 },
    );
    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let run = pull(&sandbox, &reference, &out).expect_error(5, "unreachable");
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
    assert!(!out.exists());
    assert_nothing_cached(&sandbox);
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to `pid` with `kill(1)`. The process may have
/// exited on its own in between, so a failure is not an error here.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// Whether the cache's temporary directory holds a file being written.
fn writing(cache_root: &Path) -> bool {
    std::fs::read_dir(cache_root.join("v1/tmp"))
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false)
}

#[test]
fn kill_9_during_a_cache_write_leaves_a_healthy_cache() {
    let registry = TestRegistry::plain();
    let pusher = Sandbox::new();
    let (source, reference) = push(&pusher, &registry.host(), "killed", "1.0.0", 8 << 20);
    let sandbox = Sandbox::new();
    let cache_root = sandbox.cache_root();
    let mut caught = 0;
    for attempt in 0..20 {
        sandbox.run(&["cache", "clear", "-q"]).expect(0);
        let out = sandbox.work().join(format!("out-{attempt}"));
        let started = Instant::now();
        let mut child =
            spawn(sandbox.command(&["pull", &reference, "-o", out.to_str().expect("utf-8"), "-q"]));
        let pid = child.id();
        // Freeze the process again and again; when it is caught with a file in the cache's
        // temporary directory, it is in the middle of a cache write: kill it there.
        let killed = loop {
            if child.try_wait().expect("wait").is_some() {
                break false;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the pull hangs"
            );
            signal(pid, "STOP");
            if writing(&cache_root) {
                signal(pid, "KILL");
                break true;
            }
            signal(pid, "CONT");
        };
        let run = finish(child, started, Duration::from_secs(60));
        if !killed {
            assert_eq!(run.code, 0, "{}", run.stderr);
            continue;
        }
        caught += 1;
        assert_eq!(run.code, -1, "killed by a signal");
        assert!(!out.exists(), "a killed pull writes no output");
        // The cache is healthy: nothing corrupt is listed, nothing half-written is served,
        // and the next pull is correct.
        let verify = sandbox.run(&["cache", "verify", "--json"]).expect(0).json();
        assert_eq!(verify["corrupt"], serde_json::json!([]), "{verify}");
        let offline = sandbox.run(&[
            "pull",
            &reference,
            "--offline",
            "-o",
            out.to_str().expect("utf-8"),
            "--json",
        ]);
        if offline.code == 0 {
            assert_same_files(&source, &out);
            std::fs::remove_dir_all(&out).expect("clean");
        } else {
            offline.expect_error(3, "not_found");
        }
        pull(&sandbox, &reference, &out).expect(0);
        assert_same_files(&source, &out);
        let verify = sandbox.run(&["cache", "verify", "--json"]).expect(0).json();
        assert_eq!(verify, serde_json::json!({"ok": 1, "corrupt": []}));
        if caught >= 3 {
            break;
        }
    }
    assert!(
        caught > 0,
        "no pull was ever caught in the middle of a cache write"
    );
}

#[test]
fn sixteen_processes_on_one_cold_cache() {
    let registry = TestRegistry::plain();
    let pusher = Sandbox::new();
    let (source, reference) = push(&pusher, &registry.host(), "sixteen", "1.0.0", 1 << 20);
    let mark = registry.mark();
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let children: Vec<_> = (0..16)
        .map(|i| {
            let out = sandbox.work().join(format!("out-{i}"));
            spawn(sandbox.command(&[
                "pull",
                &reference,
                "-o",
                out.to_str().expect("utf-8"),
                "--json",
            ]))
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let run = finish(child, started, Duration::from_secs(120)).expect(0);
        assert_eq!(run.json()["ref"], reference.as_str());
        assert_same_files(&source, &sandbox.work().join(format!("out-{i}")));
    }
    let verify = sandbox.run(&["cache", "verify", "--json"]).expect(0).json();
    assert_eq!(verify, serde_json::json!({"ok": 1, "corrupt": []}));
    assert_eq!(cached_refs(&sandbox), std::slice::from_ref(&reference));
    // Nothing left half-written by the writers that lost the race.
    let leftovers: Vec<_> = snapshot(&sandbox.cache_root().join("v1/tmp"))
        .into_iter()
        .filter(|(_, kind)| *kind != Kind::Dir)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // No retry storm: at most one manifest and one layer download per process.
    let requests = registry.requests_since(mark);
    let count = |fragment: &str| {
        requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains(fragment))
            .count()
    };
    assert!(count("/manifests/") <= 16, "{requests:?}");
    assert!(count("/blobs/") <= 16, "{requests:?}");
}

/// A cache directory that cannot hold the artifact: a 256 KiB tmpfs where the machine
/// allows mounting one (root), else a read-only directory, else (root without mount rights,
/// where modes do not stop writes) a path below a regular file.
struct FullDisk {
    path: PathBuf,
    mounted: bool,
    how: &'static str,
}

impl FullDisk {
    fn new(sandbox: &Sandbox) -> FullDisk {
        let path = sandbox.path("full-disk");
        std::fs::create_dir_all(&path).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs"])
            .arg(&path)
            .output()
            .is_ok_and(|o| o.status.success());
        if mounted {
            return FullDisk {
                path,
                mounted,
                how: "a full tmpfs",
            };
        }
        let read_only: std::fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(0o555);
        std::fs::set_permissions(&path, read_only).expect("chmod");
        if std::fs::write(path.join("probe"), b"x").is_err() {
            return FullDisk {
                path,
                mounted,
                how: "a read-only directory",
            };
        }
        let _ = std::fs::remove_file(path.join("probe"));
        let file = sandbox.path("a-file");
        std::fs::write(&file, b"not a directory").expect("a file");
        FullDisk {
            path: file.join("cache"),
            mounted,
            how: "a path below a regular file",
        }
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.path).status();
        }
    }
}

#[test]
fn a_full_cache_disk_does_not_fail_the_pull() {
    let registry = TestRegistry::plain();
    let pusher = Sandbox::new();
    let (source, reference) = push(&pusher, &registry.host(), "full-disk", "1.0.0", 1 << 20);
    let sandbox = Sandbox::new();
    let disk = FullDisk::new(&sandbox);
    let cache_dir = disk.path.to_str().expect("utf-8").to_owned();
    let out = sandbox.work().join("out");
    let run = sandbox
        .run(&[
            "pull",
            &reference,
            "-o",
            out.to_str().expect("utf-8"),
            "--cache-dir",
            &cache_dir,
            "--json",
        ])
        .expect(0);
    assert_same_files(&source, &out);
    assert!(
        run.stderr.contains("warning: ") && run.stderr.contains("cache"),
        "a warning about the cache ({}): {}",
        disk.how,
        run.stderr
    );
    // Nothing half-written is left: no temporary file, no record; blobs that fitted may stay,
    // unnamed, as after a killed writer, but only whole (named by their own hash). Nothing
    // is listed, and `verify` finds nothing corrupt.
    let files = |root: &Path| -> Vec<String> {
        snapshot(root)
            .into_iter()
            .filter(|(_, kind)| *kind != Kind::Dir)
            .map(|(path, _)| path)
            .collect()
    };
    let leftovers = files(&disk.path);
    for path in &leftovers {
        let hex = path.strip_prefix("v1/blobs/sha256/");
        let bytes = std::fs::read(disk.path.join(path)).unwrap_or_default();
        assert!(
            hex.is_some_and(|hex| pacto_test_support::sha256_hex(&bytes) == hex),
            "{} holds {path}, which is not a whole blob",
            disk.how
        );
    }
    let listed = sandbox.run(&["cache", "ls", "--cache-dir", &cache_dir, "--json"]);
    if listed.code == 0 {
        assert_eq!(listed.json(), serde_json::json!([]));
    }
    let verify = sandbox.run(&["cache", "verify", "--cache-dir", &cache_dir, "--json"]);
    if verify.code == 0 {
        assert_eq!(verify.json(), serde_json::json!({"ok": 0, "corrupt": []}));
    }
    // A second pull works the same way.
    let again = sandbox.work().join("again");
    sandbox
        .run(&[
            "pull",
            &reference,
            "-o",
            again.to_str().expect("utf-8"),
            "--cache-dir",
            &cache_dir,
            "-q",
        ])
        .expect(0);
    assert_same_files(&source, &again);
}
