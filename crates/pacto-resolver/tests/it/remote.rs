//! `RemoteAllowed`: semver selection of untagged references, as Go pacto does it.

use crate::common::{bundle, expect_kind, push, resolver, runtime, summary};
use pacto_registry::StoreError;
use pacto_resolver::{ErrorKind, ResolveError, ResolveMode};
use pacto_test_support::TestRegistry;

const REMOTE: ResolveMode = ResolveMode::RemoteAllowed;

#[test]
fn untagged_references_resolve_to_the_best_semver_tag() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let mut digests = std::collections::HashMap::new();
    for tag in ["1.0.0", "1.1.0", "v1.2.0", "2.0.0-rc.1", "latest"] {
        let version = tag.trim_start_matches('v').replace("latest", "0.0.1");
        digests.insert(
            tag,
            push(&rt, &registry, "team/svc", tag, &bundle("svc", &version)),
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let resolver = resolver(dir.path());
    let repo = format!("{}/team/svc", registry.host());

    // (reference, constraint, chosen tag)
    let cases = [
        (format!("oci://{repo}"), "", "2.0.0-rc.1"),
        (repo.clone(), "", "2.0.0-rc.1"),
        (repo.clone(), "^1", "v1.2.0"),
        (repo.clone(), "~1.0", "1.0.0"),
        (repo.clone(), ">=1.1.0, <1.2.0", "1.1.0"),
        (repo.clone(), ">=2.0.0-0", "2.0.0-rc.1"),
        (format!("{repo}:1.0.0"), "^2", "1.0.0"),
        (format!("{repo}:latest"), "", "latest"),
    ];
    for (reference, constraint, tag) in &cases {
        let resolved = rt
            .block_on(resolver.resolve_pinned(reference, constraint, REMOTE))
            .unwrap_or_else(|e| panic!("{reference} {constraint:?}: {e}"));
        assert_eq!(
            resolved.reference.tag(),
            Some(*tag),
            "{reference} {constraint:?}"
        );
        assert_eq!(resolved.digest, digests[tag], "{reference} {constraint:?}");
        assert_eq!(
            resolved.reference.to_string(),
            format!("{repo}:{tag}"),
            "{reference} {constraint:?}"
        );
    }
    let bundle = rt
        .block_on(resolver.resolve_constrained(&repo, "^1.0", REMOTE))
        .expect("constrained");
    assert_eq!(bundle.version(), "1.2.0");
    assert_eq!(
        rt.block_on(resolver.resolve(&repo, REMOTE))
            .expect("resolve")
            .version(),
        "2.0.0-rc.1"
    );
    let by_digest = format!("{repo}@{}", digests["1.1.0"]);
    let pinned = rt
        .block_on(resolver.resolve_pinned(&by_digest, "^9", REMOTE))
        .expect("digest");
    assert_eq!(pinned.reference.digest(), Some(&digests["1.1.0"]));
    assert_eq!(pinned.bundle.version(), "1.1.0");

    assert_eq!(
        rt.block_on(resolver.list_versions(&format!("oci://{repo}:ignored")))
            .expect("versions"),
        ["2.0.0-rc.1", "v1.2.0", "1.1.0", "1.0.0"]
    );
}

#[test]
fn a_cold_untagged_resolve_lists_once_then_pulls() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    push(
        &rt,
        &registry,
        "team/count",
        "1.0.0",
        &bundle("count", "1.0.0"),
    );
    push(
        &rt,
        &registry,
        "team/count",
        "1.1.0",
        &bundle("count", "1.1.0"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let resolver = resolver(dir.path());
    let repo = format!("{}/team/count", registry.host());

    registry.clear_requests();
    rt.block_on(resolver.resolve(&repo, REMOTE)).expect("cold");
    assert_eq!(
        summary(&registry.requests()),
        [
            "GET /v2/team/count/tags/list 200",
            "GET /v2/team/count/manifests/1.1.0 200",
            "GET /v2/team/count/blobs/sha256:<d> 200",
        ]
    );
    registry.clear_requests();
    rt.block_on(resolver.resolve(&repo, REMOTE)).expect("warm");
    assert!(
        registry.requests().is_empty(),
        "tags and bundle come from memory"
    );
}

#[test]
fn errors_are_typed_and_store_errors_pass_through_unchanged() {
    let mut registry = TestRegistry::plain();
    let rt = runtime();
    for tag in ["1.0.0", "1.1.0"] {
        push(&rt, &registry, "team/err", tag, &bundle("err", tag));
    }
    push(
        &rt,
        &registry,
        "team/unversioned",
        "latest",
        &bundle("unversioned", "1.0.0"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let warm = resolver(dir.path());
    let repo = format!("{}/team/err", registry.host());

    let error = expect_kind(
        rt.block_on(warm.resolve_pinned(&repo, "^5.0.0", REMOTE)),
        ErrorKind::NoMatchingVersion,
    );
    match &error {
        ResolveError::Unresolvable(unresolvable) => {
            assert_eq!(unresolvable.constraint(), "^5.0.0");
            assert_eq!(unresolvable.available(), ["1.1.0", "1.0.0"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(error.available(), ["1.1.0", "1.0.0"]);
    assert!(
        std::error::Error::source(&error).is_none(),
        "the message is whole"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "no versions of {repo} match constraint \"^5.0.0\": available versions are 1.1.0, 1.0.0"
        )
    );
    expect_kind(
        rt.block_on(warm.resolve_pinned(&repo, "not a constraint", REMOTE)),
        ErrorKind::InvalidConstraint,
    );
    expect_kind(
        rt.block_on(warm.resolve_pinned("!!!", "", REMOTE)),
        ErrorKind::InvalidReference,
    );
    expect_kind(
        rt.block_on(warm.list_versions("!!!")),
        ErrorKind::InvalidReference,
    );
    // A repository without semver tags has nothing to resolve to.
    expect_kind(
        rt.block_on(warm.resolve_pinned(
            &format!("{}/team/unversioned", registry.host()),
            "",
            REMOTE,
        )),
        ErrorKind::NotFound,
    );

    // Store errors keep their variant.
    let missing_tag = expect_kind(
        rt.block_on(warm.resolve(&format!("{repo}:9.9.9"), REMOTE)),
        ErrorKind::NotFound,
    );
    assert!(
        matches!(
            missing_tag,
            ResolveError::Store(StoreError::NotFound { .. })
        ),
        "{missing_tag:?}"
    );
    let missing_repo = expect_kind(
        rt.block_on(warm.resolve(&format!("{}/team/nothing", registry.host()), REMOTE)),
        ErrorKind::NotFound,
    );
    assert_eq!(
        missing_repo.store_error().map(StoreError::kind),
        Some(ErrorKind::NotFound)
    );

    registry.stop();
    let empty = tempfile::tempdir().expect("tempdir");
    let cold = resolver(empty.path());
    let unreachable = expect_kind(
        rt.block_on(cold.resolve(&repo, REMOTE)),
        ErrorKind::Unreachable,
    );
    assert!(
        matches!(
            unreachable,
            ResolveError::Store(StoreError::Unreachable { .. })
        ),
        "{unreachable:?}"
    );
}
