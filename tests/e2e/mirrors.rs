//! Registry mirrors (issue 16): reads go through a pull-through cache, writes to the registry,
//! with fallback. Two real distribution processes: an upstream and a mirror in proxy mode
//! (`proxy: remoteurl: http://127.0.0.1:UPSTREAM`); every assertion is read from their access
//! logs (the binary's requests carry the user agent `pacto-oci/...`; the mirror's own
//! requests to the upstream carry distribution's).

use crate::common::{PASSWORD, Run, Sandbox, USERS, assert_same_files, write_bundle};
use crate::transport_edges::{authorizations, basic};
use pacto_test_support::{
    Auth, Credentials, FaultProxy, LoggedRequest, RegistryOptions, TestRegistry,
};
use std::time::Duration;

struct Fleet {
    upstream: TestRegistry,
    mirror: TestRegistry,
}

impl Fleet {
    fn start() -> Fleet {
        let upstream = TestRegistry::plain();
        let mirror = TestRegistry::start(RegistryOptions::mirror_of(format!(
            "http://{}",
            upstream.host()
        )));
        Fleet { upstream, mirror }
    }

    /// The global flags of a machine of the fleet.
    fn flags(&self) -> Vec<String> {
        vec![
            "--plain-http".into(),
            self.upstream.host(),
            "--plain-http".into(),
            self.mirror.host(),
            "--mirror".into(),
            format!("{}={}", self.upstream.host(), self.mirror.host()),
        ]
    }

    fn run(&self, sandbox: &Sandbox, extra: &[&str], args: &[&str]) -> Run {
        let mut all: Vec<String> = self.flags();
        all.extend(extra.iter().map(|s| (*s).to_owned()));
        all.extend(args.iter().map(|s| (*s).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        sandbox.run(&all)
    }
}

/// The requests in `log` sent by pacto-oci itself.
pub(crate) fn ours(log: Vec<LoggedRequest>) -> Vec<LoggedRequest> {
    log.into_iter()
        .filter(|r| r.user_agent.starts_with("pacto-oci/"))
        .collect()
}

fn describe(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|r| format!("{} {} {} ({})", r.method, r.path, r.status, r.user_agent))
        .collect()
}

/// Pushes `name` at `versions` to the upstream directly (no mirror involved), from bundle
/// directories in `sandbox`.
fn seed(
    fleet: &Fleet,
    sandbox: &Sandbox,
    name: &str,
    versions: &[&str],
) -> Vec<std::path::PathBuf> {
    let host = fleet.upstream.host();
    versions
        .iter()
        .map(|version| {
            let source = write_bundle(
                &sandbox.path("bundles"),
                name,
                version,
                &[(
                    "api/openapi.yaml",
                    format!("openapi: 3.0.0 # {version}\n").as_bytes(),
                )],
            );
            let reference = format!("{host}/fleet/{name}:{version}");
            sandbox
                .run(&[
                    "--plain-http",
                    &host,
                    "push",
                    source.to_str().expect("utf-8"),
                    &reference,
                ])
                .expect(0);
            source
        })
        .collect()
}

#[test]
fn reads_go_to_the_mirror_and_never_to_the_upstream() {
    let fleet = Fleet::start();
    let seeder = Sandbox::new();
    let sources = seed(&fleet, &seeder, "payments", &["1.0.0", "1.1.0", "2.0.0"]);
    let host = fleet.upstream.host();
    let repo = format!("{host}/fleet/payments");
    let upstream_mark = fleet.upstream.mark();
    let mirror_mark = fleet.mirror.mark();

    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let run = fleet.run(
        &sandbox,
        &[],
        &[
            "pull",
            &repo,
            "--constraint",
            "^1",
            "-o",
            out.to_str().expect("utf-8"),
            "--json",
        ],
    );
    let run = run.expect(0);
    assert_eq!(run.json()["ref"], format!("{repo}:1.1.0"));
    assert_same_files(&sources[1], &out);
    fleet
        .run(&sandbox, &[], &["resolve", &repo, "--json"])
        .expect(0);
    let tags = fleet
        .run(&sandbox, &[], &["tags", &repo, "--json"])
        .expect(0);
    assert_eq!(tags.json(), serde_json::json!(["2.0.0", "1.1.0", "1.0.0"]));

    let upstream = ours(fleet.upstream.requests_since(upstream_mark));
    assert!(
        upstream.is_empty(),
        "no request of pacto-oci reached the upstream: {:?}",
        describe(&upstream)
    );
    let mirror = ours(fleet.mirror.requests_since(mirror_mark));
    let served = describe(&mirror);
    for needle in ["/tags/list", "/manifests/1.1.0", "/blobs/sha256:"] {
        assert!(
            served
                .iter()
                .any(|r| r.contains(needle) && r.contains(" 200 ")),
            "the mirror served {needle}: {served:?}"
        );
    }
    // The mirror itself fetched from the upstream, with its own user agent.
    assert!(
        !fleet.upstream.requests_since(upstream_mark).is_empty(),
        "the mirror pulled through from the upstream"
    );
}

#[test]
fn a_stopped_mirror_falls_back_to_the_upstream_within_seconds() {
    let mut fleet = Fleet::start();
    let seeder = Sandbox::new();
    let sources = seed(&fleet, &seeder, "ledger", &["1.0.0"]);
    let reference = format!("{}/fleet/ledger:1.0.0", fleet.upstream.host());
    fleet.mirror.stop();
    let mark = fleet.upstream.mark();

    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    let run = fleet.run(
        &sandbox,
        &["-v"],
        &["pull", &reference, "-o", out.to_str().expect("utf-8")],
    );
    let run = run.expect(0);
    assert_same_files(&sources[0], &out);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "the fallback took {:?}",
        run.elapsed
    );
    let notes = run
        .stderr
        .lines()
        .filter(|l| l.contains("the mirror could not serve a read"))
        .count();
    assert_eq!(notes, 1, "noted once at -v:\n{}", run.stderr);
    let upstream = describe(&ours(fleet.upstream.requests_since(mark)));
    assert!(
        upstream.iter().any(|r| r.contains("/manifests/1.0.0")),
        "{upstream:?}"
    );
    // Without -v the fallback is silent.
    let quiet = Sandbox::new();
    let run = fleet.run(&quiet, &[], &["resolve", &reference]).expect(0);
    assert!(run.stderr.trim().is_empty(), "{}", run.stderr);
}

#[test]
fn a_push_with_a_mirror_configured_lands_in_the_upstream() {
    let fleet = Fleet::start();
    let upstream_mark = fleet.upstream.mark();
    let mirror_mark = fleet.mirror.mark();
    let sandbox = Sandbox::new();
    let source = write_bundle(&sandbox.path("bundles"), "orders", "3.0.0", &[]);
    let reference = format!("{}/fleet/orders:3.0.0", fleet.upstream.host());
    fleet
        .run(
            &sandbox,
            &[],
            &["push", source.to_str().expect("utf-8"), &reference],
        )
        .expect(0);
    let upstream = describe(&ours(fleet.upstream.requests_since(upstream_mark)));
    assert!(
        upstream
            .iter()
            .any(|r| r.starts_with("PUT ") && r.contains("/manifests/3.0.0")),
        "{upstream:?}"
    );
    let mirror = ours(fleet.mirror.requests_since(mirror_mark));
    assert!(
        mirror.is_empty(),
        "no write reached the mirror: {:?}",
        describe(&mirror)
    );
}

#[test]
fn digests_only_resolves_tags_at_the_upstream_and_fetches_content_from_the_mirror() {
    let fleet = Fleet::start();
    let seeder = Sandbox::new();
    let sources = seed(&fleet, &seeder, "fraud", &["1.0.0"]);
    let reference = format!("{}/fleet/fraud:1.0.0", fleet.upstream.host());
    let upstream_mark = fleet.upstream.mark();
    let mirror_mark = fleet.mirror.mark();

    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    fleet
        .run(
            &sandbox,
            &["--mirror-digests-only"],
            &["pull", &reference, "-o", out.to_str().expect("utf-8")],
        )
        .expect(0);
    assert_same_files(&sources[0], &out);

    let upstream = describe(&ours(fleet.upstream.requests_since(upstream_mark)));
    assert!(
        upstream.iter().any(|r| r.contains("/manifests/1.0.0")),
        "the tag was resolved at the upstream: {upstream:?}"
    );
    assert!(
        !upstream.iter().any(|r| r.contains("/blobs/")),
        "no blob from the upstream: {upstream:?}"
    );
    let mirror = describe(&ours(fleet.mirror.requests_since(mirror_mark)));
    assert!(
        mirror
            .iter()
            .any(|r| r.contains("/blobs/sha256:") && r.contains(" 200 ")),
        "the layer came from the mirror: {mirror:?}"
    );
    assert!(
        !mirror.iter().any(|r| r.contains("/manifests/1.0.0")),
        "the mirror never mapped the tag: {mirror:?}"
    );
}

#[test]
fn an_invalid_mirror_is_a_usage_error() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["--mirror", "no-equals-sign", "tags", "127.0.0.1:9/x"])
        .expect(2);
}

#[test]
fn the_cache_is_keyed_by_the_registry_reference_whichever_mirror_served_it() {
    let mut fleet = Fleet::start();
    let seeder = Sandbox::new();
    let sources = seed(&fleet, &seeder, "cached", &["1.0.0"]);
    let reference = format!("{}/fleet/cached:1.0.0", fleet.upstream.host());
    let sandbox = Sandbox::new();
    let first = sandbox.work().join("first");
    fleet
        .run(
            &sandbox,
            &[],
            &["pull", &reference, "-o", first.to_str().expect("utf-8")],
        )
        .expect(0);

    // Without the mirror, with both registries gone: the cache still answers for the
    // registry's reference.
    fleet.mirror.stop();
    fleet.upstream.stop();
    let again = sandbox.work().join("again");
    sandbox
        .run(&[
            "pull",
            "--offline",
            &reference,
            "-o",
            again.to_str().expect("utf-8"),
        ])
        .expect(0);
    assert_same_files(&sources[0], &again);
}

#[test]
fn a_mirror_gets_only_credentials_of_its_own() {
    // The mirror (behind a recording proxy) wants bob; the explicit credentials are alice's,
    // meant for the registries being mirrored.
    let upstream = TestRegistry::plain();
    let mirror = TestRegistry::start(RegistryOptions {
        auth: Auth::Basic {
            users: vec![Credentials::new(USERS[1], PASSWORD)],
        },
        ..RegistryOptions::mirror_of(format!("http://{}", upstream.host()))
    });
    let proxy = FaultProxy::in_front_of(&mirror);
    let fleet_flags = [
        "--plain-http".to_owned(),
        upstream.host(),
        "--plain-http".to_owned(),
        proxy.host(),
        "--mirror".to_owned(),
        format!("{}={}", upstream.host(), proxy.host()),
    ];
    let seeder = Sandbox::new();
    let fleet = Fleet { upstream, mirror };
    let sources = seed(&fleet, &seeder, "secret", &["1.0.0"]);
    let reference = format!("{}/fleet/secret:1.0.0", fleet.upstream.host());
    let alice = basic(USERS[0], PASSWORD);
    let bob = basic(USERS[1], PASSWORD);
    let sandbox = Sandbox::new();
    let run = |extra: &[&str], out: &str| {
        let mut args: Vec<&str> = fleet_flags.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["pull", &reference, "--no-cache", "-o", out]);
        let mut cmd = sandbox.command(&args);
        cmd.env("PACTO_REGISTRY_USERNAME", USERS[0])
            .env("PACTO_REGISTRY_PASSWORD", PASSWORD);
        sandbox.run_with(cmd)
    };

    // No credential of the mirror's own: alice's are not offered to it, the read falls back
    // to the upstream (which takes anonymous pulls).
    let out = sandbox.work().join("a");
    run(&[], out.to_str().expect("utf-8")).expect(0);
    assert_same_files(&sources[0], &out);
    assert!(
        !authorizations(&proxy).contains(&alice),
        "alice's credentials reached the mirror"
    );

    // With the mirror's own credential stored, the mirror serves the read with it.
    let mirror_host = proxy.host();
    sandbox
        .run(&[
            "login",
            &mirror_host,
            "-u",
            USERS[1],
            "-p",
            PASSWORD,
            "--plain-http",
            &mirror_host,
        ])
        .expect(0);
    proxy.clear_requests();
    let out = sandbox.work().join("b");
    run(&[], out.to_str().expect("utf-8")).expect(0);
    let sent = authorizations(&proxy);
    assert!(
        sent.contains(&bob),
        "the mirror's own credential was used: {sent:?}"
    );
    assert!(
        !sent.contains(&alice),
        "alice's credentials reached the mirror"
    );
}
