//! References beyond the oracle vectors: Go pacto's raw-string helpers, the `oci://` prefix,
//! untagged parsing, scheme policy, layout references and `ArtifactRef`.

use std::path::Path;

use pacto_ref::reference::{DEFAULT_REGISTRY, LAYOUT_PREFIX};
use pacto_ref::{
    ArtifactRef, Digest, LayoutReference, ParseOptions, Reference, Registry, Scheme, SchemePolicy,
    has_explicit_tag, strip_oci_prefix,
};

const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn digest() -> Digest {
    DIGEST.parse().expect("a digest")
}

#[test]
fn has_explicit_tag_follows_go_pacto() {
    let cases = [
        ("localhost:5000/repo", false),
        ("repo:v1", true),
        ("repo@sha256:abc", true),
        ("ghcr.io/org/svc", false),
        ("ghcr.io/org/svc:1.0.0", true),
        ("oci://ghcr.io/org/svc", false),
        ("oci://ghcr.io/org/svc:1.0.0", true),
        ("localhost:5000/repo:tag", true),
        ("repo", false),
        ("", false),
        ("a:b/c", false),
    ];
    for (input, want) in cases {
        assert_eq!(has_explicit_tag(input), want, "{input:?}");
    }
}

#[test]
fn oci_prefix_is_stripped() {
    assert_eq!(strip_oci_prefix("oci://ghcr.io/a/b"), "ghcr.io/a/b");
    assert_eq!(strip_oci_prefix("ghcr.io/a/b"), "ghcr.io/a/b");
    assert_eq!(strip_oci_prefix("oci://oci://x"), "oci://x");
    let r = Reference::parse("oci://ghcr.io/org/svc:1.2.3").unwrap();
    assert_eq!(r.to_string(), "ghcr.io/org/svc:1.2.3");
    assert_eq!(r, "ghcr.io/org/svc:1.2.3".parse::<Reference>().unwrap());
}

#[test]
fn url_schemes_are_rejected_with_a_hint() {
    for input in ["http://localhost:5000/repo", "https://ghcr.io/org/svc:1"] {
        let e = Reference::parse(input).unwrap_err();
        assert_eq!(e.input(), input);
        assert!(
            e.reason().starts_with(&format!(
                "image reference must not contain a URL scheme (http:// or https://): {input}"
            )),
            "{}",
            e.reason()
        );
        // The library says what to do in its own terms; the CLI names its flag.
        assert!(
            e.to_string()
                .contains("plain HTTP is declared per registry"),
            "{e}"
        );
        assert!(!e.to_string().contains("--plain-http"), "{e}");
        assert!(e.has_url_scheme());
        assert_eq!(e.tag_form_reason(), None);
    }
}

#[test]
fn invalid_reference_message_names_input_and_both_readings() {
    let e = Reference::parse("oci://bad ref").unwrap_err();
    assert_eq!(e.input(), "oci://bad ref");
    assert_eq!(e.reason(), "could not parse reference: bad ref");
    assert_eq!(
        e.to_string(),
        "invalid OCI reference \"oci://bad ref\": could not parse reference: bad ref \
         (as NAME[:TAG]: repository can only contain the characters \
         `abcdefghijklmnopqrstuvwxyz0123456789_-./`: bad ref; \
         as NAME@DIGEST: a digest must contain exactly one '@' separator \
         (e.g. registry/repository@digest) saw: bad ref)"
    );
}

#[test]
fn untagged_options_keep_references_untagged() {
    let opts = ParseOptions::untagged();
    let r = Reference::parse_with("ghcr.io/org/svc", &opts).unwrap();
    assert_eq!((r.tag(), r.digest()), (None, None));
    assert_eq!(r.to_string(), "ghcr.io/org/svc");
    assert_eq!(Reference::parse_with(&r.to_string(), &opts).unwrap(), r);
    let hub = Reference::parse_with("ubuntu", &opts).unwrap();
    assert_eq!(hub.to_string(), "index.docker.io/library/ubuntu");
    // Strict validation still demands a tag.
    let strict = ParseOptions::untagged().with_strict(true);
    let e = Reference::parse_with("ghcr.io/org/svc", &strict).unwrap_err();
    assert_eq!(
        e.tag_form_reason(),
        Some("tag must be between 1 and 128 characters in length: ")
    );
    // An empty default registry means Docker Hub.
    let empty_default = ParseOptions::default().with_default_registry(String::new());
    let r = Reference::parse_with("ubuntu", &empty_default).unwrap();
    assert_eq!(r.registry().name(), DEFAULT_REGISTRY);
}

#[test]
fn strict_validation_wants_the_library_namespace() {
    let strict = ParseOptions::default().with_strict(true);
    let e = Reference::parse_with("index.docker.io/ubuntu:latest", &strict).unwrap_err();
    assert_eq!(
        e.tag_form_reason(),
        Some("strict validation requires the full repository path (missing 'library')")
    );
}

#[test]
fn tag_and_digest_replacement() {
    let r = Reference::parse("ghcr.io/org/svc:1.0.0").unwrap();
    assert_eq!(r.repository_name(), "ghcr.io/org/svc");
    let d = r.with_digest(&digest());
    assert_eq!(
        (d.tag(), d.digest().map(Digest::as_str)),
        (None, Some(DIGEST))
    );
    assert_eq!(d.to_string(), format!("ghcr.io/org/svc@{DIGEST}"));
    let t = d.with_tag("2.0.0");
    assert_eq!((t.tag(), t.digest()), (Some("2.0.0"), None));
    assert_eq!(t.to_string(), "ghcr.io/org/svc:2.0.0");
    let u = t.untagged();
    assert_eq!(u.to_string(), "ghcr.io/org/svc");
    assert_eq!(u.registry(), r.registry());
}

#[test]
fn scheme_policy_per_host() {
    let plain = ParseOptions::default();
    let listed = ParseOptions::default().with_insecure_hosts([" gcr.io ", "docker.io"]);
    let all = ParseOptions::default().with_insecure(true);
    let cases: [(&str, &ParseOptions, Scheme, SchemePolicy); 12] = [
        ("gcr.io/p/i", &plain, Scheme::Https, SchemePolicy::HttpsOnly),
        (
            "localhost/xx",
            &plain,
            Scheme::Https,
            SchemePolicy::HttpsOnly,
        ),
        (
            "localhost:5000/xx",
            &plain,
            Scheme::Http,
            SchemePolicy::HttpsThenHttp,
        ),
        (
            "127.0.0.1:5000/xx",
            &plain,
            Scheme::Http,
            SchemePolicy::HttpsThenHttp,
        ),
        (
            "192.168.1.1/xx",
            &plain,
            Scheme::Http,
            SchemePolicy::HttpsThenHttp,
        ),
        (
            "svc.localhost/xx",
            &plain,
            Scheme::Http,
            SchemePolicy::HttpsThenHttp,
        ),
        (
            "127.0.0.2:5000/xx",
            &plain,
            Scheme::Https,
            SchemePolicy::HttpsOnly,
        ),
        ("gcr.io/p/i", &listed, Scheme::Http, SchemePolicy::HttpOnly),
        ("ubuntu", &listed, Scheme::Http, SchemePolicy::HttpOnly),
        (
            "ghcr.io/p/i",
            &listed,
            Scheme::Https,
            SchemePolicy::HttpsOnly,
        ),
        (
            "localhost:5000/xx",
            &listed,
            Scheme::Http,
            SchemePolicy::HttpsThenHttp,
        ),
        ("ghcr.io/p/i", &all, Scheme::Http, SchemePolicy::HttpOnly),
    ];
    for (input, opts, scheme, policy) in cases {
        let r = Reference::parse_with(input, opts).unwrap();
        assert_eq!(r.scheme(), scheme, "{input}");
        assert_eq!(r.registry().policy(), policy, "{input}");
        assert_eq!(
            r.registry().is_insecure(),
            policy == SchemePolicy::HttpOnly,
            "{input}"
        );
    }
    assert_eq!(SchemePolicy::HttpsOnly.schemes(), [Scheme::Https]);
    assert_eq!(
        SchemePolicy::HttpsThenHttp.schemes(),
        [Scheme::Https, Scheme::Http]
    );
    assert_eq!(SchemePolicy::HttpOnly.schemes(), [Scheme::Http]);
    assert_eq!(Scheme::Http.to_string(), "http");
    let r = Registry::parse("docker.io", &plain).unwrap();
    assert_eq!(r.to_string(), "index.docker.io");
}

#[test]
fn layout_references_parse() {
    // (input, path, tag, digest)
    let cases = [
        ("oci-layout:./layout", "./layout", None, None),
        ("oci-layout:layout", "layout", None, None),
        (
            "oci-layout:/abs/store:v1.2.3",
            "/abs/store",
            Some("v1.2.3"),
            None,
        ),
        (
            "oci-layout:rel/dir:1.0.0_b.1",
            "rel/dir",
            Some("1.0.0_b.1"),
            None,
        ),
        ("oci-layout:/a:b/c", "/a:b/c", None, None),
        ("oci-layout:/a:b/c:t", "/a:b/c", Some("t"), None),
        ("oci-layout:dir/", "dir/", None, None),
    ];
    for (input, path, tag, digest) in cases {
        let l = LayoutReference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(l.path(), Path::new(path), "{input}");
        assert_eq!(
            (l.tag(), l.digest().map(Digest::as_str)),
            (tag, digest),
            "{input}"
        );
        assert_eq!(l.to_string(), input, "{input}");
    }
    let with_digest = format!("oci-layout:./store@{DIGEST}");
    let l = LayoutReference::parse(&with_digest).unwrap();
    assert_eq!(
        (l.path(), l.tag(), l.digest().map(Digest::as_str)),
        (Path::new("./store"), None, Some(DIGEST))
    );
    assert_eq!(l.to_string(), with_digest);
    // A tag before the digest is validated and dropped, as ggcr does.
    let l = LayoutReference::parse(&format!("oci-layout:/srv/store:v1@{DIGEST}")).unwrap();
    assert_eq!(
        (l.path(), l.tag(), l.digest().map(Digest::as_str)),
        (Path::new("/srv/store"), None, Some(DIGEST))
    );
    assert_eq!(
        l.with_tag("v2").to_string(),
        "oci-layout:/srv/store:v2",
        "with_tag drops the digest"
    );
    assert_eq!(l.untagged().to_string(), "oci-layout:/srv/store");
}

#[test]
fn bad_layout_references_are_typed_errors() {
    let cases = [
        (
            "oci-layout:",
            "a layout path must be specified: oci-layout:PATH[:TAG|@DIGEST]",
        ),
        (
            "oci-layout::v1",
            "a layout path must be specified: oci-layout:PATH[:TAG|@DIGEST]",
        ),
        (
            "oci-layout:dir:",
            "oci-layout:dir: must specify a tag name after the colon",
        ),
        (
            "oci-layout:dir:t!g",
            "tag can only contain the characters \
             `abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ`: t!g",
        ),
        (
            "oci-layout:dir@sha256:abc",
            "invalid checksum digest length",
        ),
        (
            "oci-layout:dir@md5:abc",
            "unsupported digest algorithm: md5:abc",
        ),
        ("oci-layout:dir@", "unsupported digest algorithm: "),
        (
            "oci-layout:dir@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "invalid checksum digest format",
        ),
        (
            "layout:dir",
            "a layout reference must start with \"oci-layout:\"",
        ),
    ];
    for (input, reason) in cases {
        let e = LayoutReference::parse(input).unwrap_err();
        assert_eq!((e.input(), e.reason()), (input, reason));
        assert!(
            e.to_string()
                .starts_with(&format!("invalid OCI reference {input:?}: "))
        );
    }
}

#[test]
fn layout_from_path() {
    let l = LayoutReference::from_path("/srv/pacto store").unwrap();
    assert_eq!(l.to_string(), "oci-layout:/srv/pacto store");
    assert_eq!(LayoutReference::parse(&l.to_string()).unwrap(), l);
    for bad in ["", "/srv/a:b", "dir@x"] {
        let e = LayoutReference::from_path(bad).unwrap_err();
        assert_eq!(e.input(), bad);
    }
    assert!(LayoutReference::from_path("/a:b/c").is_ok());
}

#[test]
fn artifact_refs_parse_either_kind() {
    let untagged = ParseOptions::untagged();
    let remote = ArtifactRef::parse("oci://ghcr.io/acme/svc", &untagged).unwrap();
    assert!(matches!(&remote, ArtifactRef::Remote(r) if r.repository() == "acme/svc"));
    assert!(!remote.has_explicit_tag());
    assert_eq!(remote.to_string(), "ghcr.io/acme/svc");
    assert_eq!(remote.as_layout(), None);
    let tagged = remote.with_tag("1.0.0");
    assert!(tagged.has_explicit_tag());
    assert_eq!(tagged.tag(), Some("1.0.0"));
    assert_eq!(tagged.repository(), remote);
    let pinned = tagged.with_digest(&digest());
    assert_eq!(
        (pinned.tag(), pinned.digest().map(Digest::as_str)),
        (None, Some(DIGEST))
    );
    assert!(pinned.has_explicit_tag());

    let local: ArtifactRef = "oci-layout:./store".parse().unwrap();
    assert_eq!(
        local.as_layout().map(LayoutReference::path),
        Some(Path::new("./store"))
    );
    assert!(local.as_remote().is_none());
    assert!(!local.has_explicit_tag());
    let local_tagged = local.with_tag("2.0.0");
    assert_eq!(local_tagged.to_string(), "oci-layout:./store:2.0.0");
    assert_eq!(local_tagged.repository(), local);
    assert_eq!(
        local.with_digest(&digest()).to_string(),
        format!("oci-layout:./store@{DIGEST}")
    );

    // FromStr keeps untagged references untagged; the default options add `latest`.
    let from_str: ArtifactRef = "ubuntu".parse().unwrap();
    assert_eq!(from_str.tag(), None);
    let defaulted = ArtifactRef::parse("ubuntu", &ParseOptions::default()).unwrap();
    assert_eq!(defaulted.tag(), Some("latest"));

    let e = ArtifactRef::parse("oci-layout:", &untagged).unwrap_err();
    assert_eq!(e.input(), "oci-layout:");
    let e = "Bad/Ref".parse::<ArtifactRef>().unwrap_err();
    assert_eq!(e.reason(), "could not parse reference: Bad/Ref");
    assert!(LAYOUT_PREFIX.ends_with(':'));
    assert_eq!(
        ArtifactRef::from(Reference::parse("a.io/bb").unwrap()).to_string(),
        "a.io/bb:latest"
    );
}
