//! `resolve` answers "which digest" in the fewest requests (issue 14): one `HEAD` for a tag,
//! the tag list plus one `HEAD` for an untagged reference; it never downloads the layer.
//! Counted from the registry's access log.

use crate::common::{Sandbox, write_bundle};
use pacto_test_support::{LoggedRequest, Operation, TestRegistry};

/// What pacto-oci itself asked of the registry in `log`, and the answers.
fn ours(log: Vec<LoggedRequest>) -> Vec<(Operation, u16)> {
    crate::mirrors::ours(log)
        .into_iter()
        .map(|r| (r.operation(), r.status))
        .collect()
}

/// A registry holding `orders` at three versions, pushed from a sandbox of its own.
fn seeded() -> (TestRegistry, String, Vec<String>) {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let seeder = Sandbox::new();
    let digests = ["1.0.0", "1.1.0", "2.0.0"]
        .iter()
        .map(|version| {
            let source = write_bundle(&seeder.path("bundles"), "orders", version, &[]);
            let pushed = seeder
                .run(&[
                    "--plain-http",
                    &host,
                    "push",
                    source.to_str().expect("utf-8"),
                    &format!("{host}/team/orders"),
                    "--json",
                ])
                .expect(0);
            pushed.json()["digest"].as_str().expect("digest").to_owned()
        })
        .collect();
    (registry, format!("{host}/team/orders"), digests)
}

#[test]
fn resolve_costs_one_head_for_a_tag_and_the_tag_list_plus_one_head_untagged() {
    let (registry, repo, digests) = seeded();
    let host = registry.host();
    let sandbox = Sandbox::new();

    let mark = registry.mark();
    let tagged = sandbox
        .run(&[
            "--plain-http",
            &host,
            "resolve",
            &format!("{repo}:1.1.0"),
            "--json",
        ])
        .expect(0);
    assert_eq!(tagged.json()["ref"], format!("{repo}:1.1.0"));
    assert_eq!(tagged.json()["digest"], digests[1]);
    assert_eq!(
        ours(registry.requests_since(mark)),
        [(Operation::ManifestHead, 200)],
        "a tag resolves with one HEAD"
    );

    let mark = registry.mark();
    let untagged = sandbox
        .run(&[
            "--plain-http",
            &host,
            "resolve",
            &repo,
            "--constraint",
            "^1",
            "--json",
        ])
        .expect(0);
    assert_eq!(untagged.json()["ref"], format!("{repo}:1.1.0"));
    assert_eq!(untagged.json()["digest"], digests[1]);
    assert_eq!(
        ours(registry.requests_since(mark)),
        [(Operation::TagsList, 200), (Operation::ManifestHead, 200)],
        "an untagged reference resolves with the tag list and one HEAD"
    );

    // Nothing was downloaded, so nothing was cached: offline, the cache has nothing to say.
    sandbox
        .run(&["resolve", &format!("{repo}:1.1.0"), "--offline", "--json"])
        .expect_error(3, "not_found");
}

#[test]
fn resolve_of_a_digest_is_one_head_and_a_missing_tag_is_not_found() {
    let (registry, repo, digests) = seeded();
    let host = registry.host();
    let sandbox = Sandbox::new();

    let pinned = format!("{repo}@{}", digests[0]);
    let mark = registry.mark();
    let run = sandbox
        .run(&["--plain-http", &host, "resolve", &pinned, "--json"])
        .expect(0);
    assert_eq!(run.json()["digest"], digests[0]);
    assert_eq!(
        ours(registry.requests_since(mark)),
        [(Operation::ManifestHead, 200)]
    );

    let mark = registry.mark();
    sandbox
        .run(&[
            "--plain-http",
            &host,
            "resolve",
            &format!("{repo}:9.9.9"),
            "--json",
        ])
        .expect_error(3, "not_found");
    assert_eq!(
        ours(registry.requests_since(mark)),
        [(Operation::ManifestHead, 404)]
    );
}

#[test]
fn resolve_after_pull_answers_from_what_the_cache_knows() {
    let (registry, repo, digests) = seeded();
    let host = registry.host();
    let sandbox = Sandbox::new();
    let out = sandbox.work().join("out");
    sandbox
        .run(&[
            "--plain-http",
            &host,
            "pull",
            &format!("{repo}:2.0.0"),
            "-o",
            out.to_str().expect("utf-8"),
        ])
        .expect(0);
    let offline = sandbox
        .run(&["resolve", &format!("{repo}:2.0.0"), "--offline", "--json"])
        .expect(0);
    assert_eq!(offline.json()["digest"], digests[2]);
    let pinned = format!("{repo}@{}", digests[2]);
    let mark = registry.mark();
    sandbox
        .run(&["--plain-http", &host, "resolve", &pinned, "--json"])
        .expect(0);
    assert_eq!(
        ours(registry.requests_since(mark)),
        [],
        "a digest the cache holds needs no request"
    );
}
