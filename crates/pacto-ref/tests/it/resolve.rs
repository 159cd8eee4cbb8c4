//! `resolve_ref` through an in-test `TagLister`.

use std::fmt;
use std::sync::Mutex;

use pacto_ref::{ArtifactRef, ErrorKind, ResolveError, SelectError, TagLister, resolve_ref};

const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The lister's own typed error, which `resolve_ref` must pass through untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListFailed {
    repository: String,
}

impl fmt::Display for ListFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "listing tags of {} failed", self.repository)
    }
}

impl std::error::Error for ListFailed {}

/// Returns fixed tags (or fails) and records which repositories were listed.
struct FakeLister {
    tags: Result<Vec<String>, ()>,
    listed: Mutex<Vec<String>>,
}

impl FakeLister {
    fn with_tags(tags: &[&str]) -> Self {
        Self {
            tags: Ok(tags.iter().map(|t| (*t).to_owned()).collect()),
            listed: Mutex::new(Vec::new()),
        }
    }

    fn failing() -> Self {
        Self {
            tags: Err(()),
            listed: Mutex::new(Vec::new()),
        }
    }

    fn listed(&self) -> Vec<String> {
        self.listed.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl TagLister for FakeLister {
    type Error = ListFailed;

    async fn list_tags(&self, repository: &ArtifactRef) -> Result<Vec<String>, ListFailed> {
        if let Ok(mut listed) = self.listed.lock() {
            listed.push(repository.to_string());
        }
        self.tags.clone().map_err(|()| ListFailed {
            repository: repository.to_string(),
        })
    }
}

fn r(s: &str) -> ArtifactRef {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

const TAGS: &[&str] = &[
    "latest",
    "v1.0.0",
    "v1.2.0",
    "1.3.0-rc.1",
    "v2.0.0-rc.1",
    "main",
];

#[tokio::test]
async fn explicit_tag_or_digest_is_returned_unchanged_without_listing() {
    let lister = FakeLister::with_tags(TAGS);
    for input in [
        "ghcr.io/acme/svc:0.0.1".to_owned(),
        format!("ghcr.io/acme/svc@{DIGEST}"),
        "oci-layout:./store:9.9.9".to_owned(),
    ] {
        let reference = r(&input);
        // The constraint is ignored, even an invalid one.
        let got = resolve_ref(&lister, &reference, "not a constraint").await;
        assert_eq!(got.ok(), Some(reference), "{input}");
    }
    assert!(lister.listed().is_empty());
}

#[tokio::test]
async fn untagged_reference_gets_the_best_tag() {
    let lister = FakeLister::with_tags(TAGS);
    let reference = r("oci://ghcr.io/acme/svc");
    let got = resolve_ref(&lister, &reference, "^1").await;
    assert_eq!(got.ok(), Some(r("ghcr.io/acme/svc:v1.2.0")));
    let got = resolve_ref(&lister, &reference, "").await;
    assert_eq!(got.ok(), Some(r("ghcr.io/acme/svc:v2.0.0-rc.1")));
    let got = resolve_ref(&lister, &reference, ">=1.3.0-0 <1.4").await;
    assert_eq!(got.ok(), Some(r("ghcr.io/acme/svc:1.3.0-rc.1")));
    assert_eq!(lister.listed(), vec!["ghcr.io/acme/svc"; 3]);

    let local = r("oci-layout:/srv/store");
    let got = resolve_ref(&lister, &local, "~1.0").await;
    assert_eq!(got.ok(), Some(r("oci-layout:/srv/store:v1.0.0")));
    assert_eq!(
        lister.listed().last().map(String::as_str),
        Some("oci-layout:/srv/store")
    );
}

#[tokio::test]
async fn lister_errors_pass_through_typed() {
    let lister = FakeLister::failing();
    let got = resolve_ref(&lister, &r("ghcr.io/acme/svc"), "^1").await;
    let Err(ResolveError::List(e)) = got else {
        panic!("expected the lister's error, got {got:?}");
    };
    assert_eq!(
        e,
        ListFailed {
            repository: "ghcr.io/acme/svc".into()
        }
    );
    let err = ResolveError::<ListFailed>::List(e);
    assert_eq!(err.to_string(), "listing tags of ghcr.io/acme/svc failed");
    assert_eq!(err.select_error(), None);
}

#[tokio::test]
async fn no_matching_version_names_reference_constraint_and_versions_once() {
    let lister = FakeLister::with_tags(TAGS);
    let got = resolve_ref(&lister, &r("ghcr.io/acme/svc"), "^5.0.0").await;
    let err = got.expect_err("nothing matches ^5.0.0");
    let ResolveError::Select(unresolvable) = &err else {
        panic!("expected a selection error, got {err:?}");
    };
    assert_eq!(unresolvable.reference(), "ghcr.io/acme/svc");
    assert_eq!(unresolvable.constraint(), "^5.0.0");
    assert_eq!(unresolvable.kind(), ErrorKind::NoMatchingVersion);
    assert!(matches!(
        unresolvable.reason(),
        SelectError::NoMatchingVersion { constraint, .. } if constraint == "^5.0.0"
    ));
    assert_eq!(err.select_error(), Some(unresolvable.reason()));
    let available = unresolvable.available();
    assert_eq!(available[0], "v2.0.0-rc.1");
    assert_eq!(
        err.to_string(),
        format!(
            "no versions of ghcr.io/acme/svc match constraint \"^5.0.0\": available versions are {}",
            available.join(", ")
        )
    );
    // The message is whole: no source repeats it.
    assert!(std::error::Error::source(&err).is_none());
}

#[tokio::test]
async fn no_semver_tags_and_invalid_constraints_are_selection_errors() {
    let lister = FakeLister::with_tags(&["latest", "main"]);
    let got = resolve_ref(&lister, &r("ghcr.io/acme/svc"), "").await;
    let Err(ResolveError::Select(unresolvable)) = &got else {
        panic!("expected a selection error, got {got:?}");
    };
    assert_eq!(unresolvable.reason(), &SelectError::NoSemverTags);
    assert_eq!(unresolvable.kind(), ErrorKind::NotFound);
    assert_eq!(
        unresolvable.to_string(),
        "ghcr.io/acme/svc not found: no semver tags among 2 tags; name a tag explicitly"
    );

    let empty = FakeLister::with_tags(&[]);
    let got = resolve_ref(&empty, &r("ghcr.io/acme/svc"), "").await;
    assert_eq!(
        got.expect_err("no tags").to_string(),
        "ghcr.io/acme/svc not found: the repository has no tags"
    );

    let listed_before = lister.listed().len();
    let got = resolve_ref(&lister, &r("ghcr.io/acme/svc"), ">>1").await;
    let Err(ResolveError::Select(unresolvable)) = &got else {
        panic!("expected an invalid constraint, got {got:?}");
    };
    let SelectError::InvalidConstraint(e) = unresolvable.reason() else {
        panic!("expected an invalid constraint, got {unresolvable:?}");
    };
    assert_eq!(e.reason(), "improper constraint: >>1");
    assert_eq!(unresolvable.kind(), ErrorKind::InvalidConstraint);
    assert!(unresolvable.listed().is_empty());
    assert_eq!(
        lister.listed().len(),
        listed_before,
        "no listing for a bad constraint"
    );
}

#[tokio::test]
async fn works_through_a_trait_object() {
    let lister = FakeLister::with_tags(TAGS);
    let dynamic: &dyn TagLister<Error = ListFailed> = &lister;
    let got = resolve_ref(dynamic, &r("ghcr.io/acme/svc"), "1.0.x").await;
    assert_eq!(got.ok(), Some(r("ghcr.io/acme/svc:v1.0.0")));
}
