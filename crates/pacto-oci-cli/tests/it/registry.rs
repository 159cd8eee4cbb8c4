//! The CLI against the real registry: exit codes 3 to 8, offline and no-cache modes,
//! login and logout, hostile artifacts.

use crate::common::{Sandbox, keys};
use pacto_test_support::{RegistryOptions, TestRegistry};
use std::os::unix::fs::PermissionsExt as _;

fn seed(sb: &Sandbox, registry: &TestRegistry, versions: &[&str]) -> String {
    let repo = format!("{}/team/payments", registry.host());
    for version in versions {
        sb.run(&["push", &Sandbox::example(version), &repo, "-q"])
            .expect(0);
    }
    repo
}

#[test]
fn registry_round_trip_fetch_all_offline_and_no_cache() {
    let mut registry = TestRegistry::plain();
    let sb = Sandbox::new();
    let repo = seed(&sb, &registry, &["1.0.0", "1.1.0", "2.0.0"]);

    let tags = sb.run(&["tags", &repo, "--json"]).expect(0).json();
    assert_eq!(tags, serde_json::json!(["2.0.0", "1.1.0", "1.0.0"]));
    let fetched = sb.run(&["fetch-all", &repo, "--json"]).expect(0).json();
    assert_eq!(keys(&fetched), ["failed", "versions"]);
    assert_eq!(
        fetched["versions"],
        serde_json::json!(["2.0.0", "1.1.0", "1.0.0"])
    );
    assert_eq!(fetched["failed"], serde_json::json!([]));

    let entries = sb.run(&["cache", "ls", "--json"]).expect(0).json();
    assert_eq!(entries.as_array().unwrap().len(), 3, "{entries}");
    assert_eq!(keys(&entries[0]), ["digest", "last_used", "ref", "size"]);
    let dir = sb.run(&["cache", "dir", "--json"]).expect(0).json();
    assert_eq!(dir["dir"], sb.path("cache/pacto/oci").display().to_string());
    let verify = sb.run(&["cache", "verify", "--json"]).expect(0).json();
    assert_eq!(verify, serde_json::json!({"ok": 3, "corrupt": []}));

    // Registry down: offline still works from the cache, --no-cache reads fail with 5.
    registry.stop();
    let offline = sb
        .run(&[
            "resolve",
            &repo,
            "--constraint",
            "^1",
            "--offline",
            "--json",
        ])
        .expect(0)
        .json();
    assert!(offline["ref"].as_str().unwrap().ends_with(":1.1.0"));
    let out = sb.path("offline-out");
    sb.run(&[
        "pull",
        &repo,
        "--offline",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ])
    .expect(0);
    assert!(out.join("pacto.yaml").is_file());
    sb.run(&["resolve", &format!("{repo}:1.0.0"), "--no-cache", "--json"])
        .expect_error(5, "unreachable");
    let mut cmd = sb.command(&["resolve", &format!("{repo}:1.0.0"), "--json"]);
    cmd.env("PACTO_NO_CACHE", "1");
    sb.run_with(cmd).expect_error(5, "unreachable");
    sb.run(&[
        "resolve",
        &format!("{}/team/other:1.0.0", registry.host()),
        "--offline",
        "--json",
    ])
    .expect_error(3, "not_found");
    sb.run(&["cache", "clear", "-q"]).expect(0);
    sb.run(&["resolve", &repo, "--offline", "--json"])
        .expect_error(3, "not_found");
}

#[test]
fn conflict_and_not_found_on_a_registry() {
    let registry = TestRegistry::plain();
    let sb = Sandbox::new();
    let repo = seed(&sb, &registry, &["1.0.0"]);
    sb.run(&[
        "push",
        &Sandbox::example("1.1.0"),
        &format!("{repo}:1.0.0"),
        "--json",
    ])
    .expect_error(8, "conflict");
    sb.run(&["pull", &format!("{repo}:4.0.0"), "--json"])
        .expect_error(3, "not_found");
    sb.run(&["pull", &repo, "--constraint", "^3", "--json"])
        .expect_error(7, "no_matching_version");
}

#[test]
fn login_logout_and_wrong_passwords() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic("alice", "s3cret-pass"));
    let sb = Sandbox::new();
    let ca = registry.ca_file().unwrap().to_str().unwrap().to_owned();
    let host = registry.host();
    let config = sb.path("config/pacto/config.json");

    // Rejected: exit 4, nothing stored.
    let mut cmd = sb.command(&[
        "login",
        &host,
        "-u",
        "alice",
        "--password-stdin",
        "--ca-file",
        &ca,
        "--json",
    ]);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"wrong\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!config.exists(), "nothing stored after a rejected login");

    let login = sb
        .run(&[
            "login",
            &host,
            "-u",
            "alice",
            "-p",
            "s3cret-pass",
            "--ca-file",
            &ca,
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(login, serde_json::json!({"registry": host}));
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The stored credential is used: push and pull with no flags.
    let repo = format!("{host}/team/payments");
    sb.run(&[
        "push",
        &Sandbox::example("1.0.0"),
        &repo,
        "--ca-file",
        &ca,
        "-q",
    ])
    .expect(0);
    sb.run(&["resolve", &repo, "--ca-file", &ca, "--json"])
        .expect(0);

    // A wrong explicit password is tried first and rejected, then the stored one works:
    // the explicit source falls through.
    sb.run(&[
        "resolve",
        &format!("{repo}:1.0.0"),
        "--no-cache",
        "--username",
        "alice",
        "--password",
        "nope",
        "--ca-file",
        &ca,
        "-q",
    ])
    .expect(0);

    let logout = sb.run(&["logout", &host, "--json"]).expect(0).json();
    assert_eq!(
        logout,
        serde_json::json!({"registry": host, "removed": true})
    );
    let again = sb.run(&["logout", &host, "--json"]).expect(0).json();
    assert_eq!(again["removed"], false);
    let run = sb
        .run(&[
            "pull",
            &format!("{repo}:1.0.0"),
            "--no-cache",
            "--username",
            "alice",
            "--password",
            "nope",
            "--ca-file",
            &ca,
            "--json",
        ])
        .expect_error(4, "authentication");
    assert!(
        run.stderr.contains("env user/pass"),
        "names the source: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("nope") && !run.stdout.contains("nope"),
        "no secret printed"
    );
}

#[test]
fn a_hostile_artifact_exits_6_and_writes_nothing() {
    let registry = TestRegistry::plain();
    let sb = Sandbox::new();
    // Two layers: not a bundle.
    let config = br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = b"not even gzip";
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.pacto.bundle.layer.v1.tar+gzip","digest":"{}","size":{}}},{{"mediaType":"application/vnd.pacto.bundle.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        pacto_test_support::digest(config),
        config.len(),
        pacto_test_support::digest(layer),
        layer.len(),
        pacto_test_support::digest(layer),
        layer.len()
    );
    pacto_test_support::push_raw(
        &registry,
        "evil/bundle",
        "1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
        &[config, layer],
        None,
    );
    let out = sb.path("out");
    let run = sb
        .run(&[
            "pull",
            &format!("{}/evil/bundle:1.0.0", registry.host()),
            "-o",
            out.to_str().unwrap(),
            "--json",
        ])
        .expect_error(6, "invalid_bundle");
    assert!(run.stderr.contains("2 layers"), "{}", run.stderr);
    assert!(!out.exists(), "no output directory");
    let entries = sb.run(&["cache", "ls", "--json"]).expect(0).json();
    assert_eq!(entries, serde_json::json!([]), "nothing cached");
}

#[test]
fn registry_down_exits_5() {
    let mut registry = TestRegistry::plain();
    let host = registry.host();
    registry.stop();
    let sb = Sandbox::new();
    let run = sb
        .run(&["tags", &format!("{host}/team/payments"), "--json"])
        .expect_error(5, "unreachable");
    assert!(run.stderr.contains(&host), "{}", run.stderr);
}
