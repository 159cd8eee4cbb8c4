//! Uploads of big bundles (issue 14): no request body is over 4 MiB, so a registry that
//! answers 413 to bigger ones (GHCR does) takes a 40 MiB bundle; a chunked upload cut in the
//! middle fails without leaving a tag. Through the real binary, a real registry and the
//! fault proxy, counted from the proxy's record.

use crate::common::{Sandbox, assert_same_files, noise, write_bundle};
use pacto_test_support::{Fault, FaultProxy, Outcome, ProxiedRequest, RequestMatch, TestRegistry};
use std::time::Duration;

const CHUNK: usize = 4 << 20;

/// A 40 MiB bundle: the sample contract and five 8 MiB files of noise.
fn big_bundle(sandbox: &Sandbox, version: &str) -> std::path::PathBuf {
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("data/blob-{i}.bin"), noise(40 + i, 8 << 20)))
        .collect();
    let extra: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
        .collect();
    write_bundle(&sandbox.path("bundles"), "big", version, &extra)
}

fn body_len(request: &ProxiedRequest) -> usize {
    request
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_40_mib_bundle_pushes_through_a_registry_that_refuses_bodies_over_4_mib() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.set_max_body(Some(CHUNK));
    let host = proxy.host();
    let sandbox = Sandbox::new();
    let source = big_bundle(&sandbox, "1.0.0");

    let pushed = sandbox
        .run(&[
            "--plain-http",
            &host,
            "push",
            source.to_str().expect("utf-8"),
            &format!("{host}/big/bundle"),
            "--json",
        ])
        .expect(0);
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .all(|r| body_len(r) <= CHUNK && r.outcome != Outcome::Injected { status: 413 }),
        "no body over 4 MiB, no 413: {:?}",
        requests
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str(), body_len(r)))
            .collect::<Vec<_>>()
    );
    let patches: Vec<usize> = requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(body_len)
        .collect();
    let uploaded: usize = patches.iter().sum();
    assert!(uploaded > 40 << 20, "the layer went up in the PATCHes");
    assert_eq!(patches.len(), uploaded.div_ceil(CHUNK), "chunks of 4 MiB");
    assert!(patches[..patches.len() - 1].iter().all(|&n| n == CHUNK));

    let out = sandbox.work().join("out");
    let pulled = sandbox
        .run(&[
            "--plain-http",
            &host,
            "pull",
            &format!("{host}/big/bundle:1.0.0"),
            "-o",
            out.to_str().expect("utf-8"),
            "--json",
        ])
        .expect(0);
    assert_eq!(pulled.json()["digest"], pushed.json()["digest"]);
    assert_same_files(&source, &out);
}

#[test]
fn a_chunked_upload_cut_in_the_middle_is_sent_again_once_then_fails_without_a_tag() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let host = proxy.host();
    let sandbox = Sandbox::new();
    let source = big_bundle(&sandbox, "2.0.0");
    let repo = format!("{host}/big/cut");
    let push = || {
        sandbox.run(&[
            "--plain-http",
            &host,
            "push",
            source.to_str().expect("utf-8"),
            &repo,
            "--json",
        ])
    };
    let patches = || {
        proxy
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count()
    };
    let deleted_sessions = || {
        proxy
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.contains("/blobs/uploads/"))
            .count()
    };

    // Two chunks of the upload made while packing go through, then the third PATCH is
    // forwarded and its connection closed before the answer: the client cannot know what
    // the registry kept. That session is deleted and the packed layer sent again, whole.
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Pass { times: 2 });
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Reset { times: 1 });
    let pushed = push().expect(0);
    assert_eq!(pushed.json()["status"], "pushed");
    assert_eq!(deleted_sessions(), 1, "the cut session is deleted");
    let resent = patches() - 3;
    assert!(
        resent >= 10,
        "the 40 MiB layer went up again: {resent} PATCHes"
    );

    // Cut twice (while packing, then the second sending): the push fails, no manifest is
    // put, no tag appears, and the next push works. Another user (whose cache does not know
    // the version elsewhere, so nothing is mounted).
    proxy.clear_requests();
    let other = Sandbox::new();
    let repo2 = format!("{host}/big/cut-twice");
    let push2 = || {
        other.run(&[
            "--plain-http",
            &host,
            "push",
            source.to_str().expect("utf-8"),
            &repo2,
            "--json",
        ])
    };
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Pass { times: 2 });
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Reset { times: 1 });
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Reset { times: 1 });
    push2().expect_error(5, "unreachable");
    assert_eq!(
        patches(),
        4,
        "each cut chunk stopped its upload, not retried"
    );
    assert!(
        proxy
            .requests()
            .iter()
            .all(|r| !(r.method == "PUT" && r.path.contains("/manifests/"))),
        "no manifest was put"
    );
    other
        .run(&["--plain-http", &host, "tags", &repo2, "--json"])
        .expect_error(3, "not_found");

    let pushed = push2().expect(0);
    assert_eq!(pushed.json()["status"], "pushed");
    let tags = other
        .run(&["--plain-http", &host, "tags", &repo2, "--json"])
        .expect(0);
    assert_eq!(tags.json(), serde_json::json!(["2.0.0"]));
}

/// `METHOD path status` of pacto-oci's requests since `mark`, queries kept, digests shown.
fn log_since(registry: &TestRegistry, mark: pacto_test_support::RequestMark) -> Vec<String> {
    crate::mirrors::ours(registry.requests_since(mark))
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

#[test]
fn a_push_mounts_a_layer_the_cache_knows_elsewhere_and_a_pull_of_a_push_costs_one_head() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let sandbox = Sandbox::new();
    // Over one upload chunk, so an upload would show as PATCHes.
    let data = noise(90, 6 << 20);
    let source = write_bundle(
        &sandbox.path("bundles"),
        "mount",
        "1.0.0",
        &[("data/blob.bin", data.as_slice())],
    );
    let source = source.to_str().expect("utf-8");
    let push = |repo: &str| {
        sandbox
            .run(&[
                "--plain-http",
                &host,
                "push",
                source,
                &format!("{host}/{repo}"),
                "--json",
            ])
            .expect(0)
    };
    let first = push("team/a");
    let layer_digest = {
        let inspected = sandbox
            .run(&[
                "--plain-http",
                &host,
                "inspect",
                &format!("{host}/team/a:1.0.0"),
                "--json",
            ])
            .expect(0);
        inspected.json()["layer"]["digest"]
            .as_str()
            .expect("layer digest")
            .to_owned()
    };

    // The push recorded what it pushed: pulling it back is one HEAD.
    let mark = registry.mark();
    let out = sandbox.work().join("a");
    sandbox
        .run(&[
            "--plain-http",
            &host,
            "pull",
            &format!("{host}/team/a:1.0.0"),
            "-o",
            out.to_str().expect("utf-8"),
            "--json",
        ])
        .expect(0);
    assert_same_files(std::path::Path::new(source), &out);
    assert_eq!(
        log_since(&registry, mark),
        ["HEAD /v2/team/a/manifests/1.0.0 200"]
    );

    // The same layer to another repository of the registry: mounted, not uploaded.
    let mark = registry.mark();
    let second = push("team/b");
    assert_eq!(second.json()["digest"], first.json()["digest"]);
    let log = log_since(&registry, mark);
    let mount = format!("POST /v2/team/b/blobs/uploads/?mount={layer_digest}&from=team/a 201");
    assert!(log.contains(&mount), "mounted: {log:#?}");
    assert!(
        !log.iter().any(|line| line.starts_with("PATCH")),
        "no chunk uploaded: {log:#?}"
    );

    // Pulled from the second repository by someone else: the same files.
    let other = Sandbox::new();
    let out = other.work().join("b");
    other
        .run(&[
            "--plain-http",
            &host,
            "pull",
            &format!("{host}/team/b:1.0.0"),
            "-o",
            out.to_str().expect("utf-8"),
        ])
        .expect(0);
    assert_same_files(std::path::Path::new(source), &out);
}

/// `--timeout` bounds a push that uploads while it packs: a registry that stops answering
/// the second chunk holds each attempt no longer than the deadline, the push fails as a
/// timeout with no tag, and nothing waits for the 30 s read timeout.
#[test]
fn a_stalled_chunk_of_a_push_while_packing_is_bounded_by_the_timeout() {
    let registry = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&registry);
    let host = proxy.host();
    let sandbox = Sandbox::new();
    let source = big_bundle(&sandbox, "3.0.0");
    let repo = format!("{host}/big/stalled");
    // The first PATCH goes through; the next ones (while packing, then from the file) stall.
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Pass { times: 1 });
    proxy.inject_matching(RequestMatch::method("PATCH"), Fault::Stall { times: 2 });
    let run = sandbox
        .run(&[
            "--plain-http",
            &host,
            "--timeout",
            "3s",
            "push",
            source.to_str().expect("utf-8"),
            &repo,
            "--json",
        ])
        .expect_error(5, "unreachable");
    assert!(
        run.message().contains("the deadline of 3s was reached"),
        "{}",
        run.message()
    );
    assert!(
        run.elapsed < Duration::from_secs(20),
        "two bounded attempts, not the read timeout: {:?}",
        run.elapsed
    );
    assert!(
        proxy
            .requests()
            .iter()
            .all(|r| !(r.method == "PUT" && r.path.contains("/manifests/"))),
        "no manifest was put"
    );
}
