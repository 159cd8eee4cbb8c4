//! Property tests: tag selection, ordering, reference round trips, and parsers that never
//! panic.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use pacto_ref::{
    ArtifactRef, Constraint, LayoutReference, ParseOptions, Reference, Registry, SelectError,
    Version, best_tag, filter_semver_tags, has_explicit_tag, new_repository,
};
use proptest::prelude::*;

/// Version-shaped tags: optional `v`, partial versions, pre-releases, build metadata written
/// with `+` or Helm's `_`.
fn version_tag() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0u64..4,
        prop::option::of((0u64..4, prop::option::of(0u64..4))),
        prop::option::of(prop::sample::select(vec![
            "alpha",
            "alpha.1",
            "alpha.beta",
            "beta",
            "rc.1",
            "rc.10",
            "0",
            "1",
            "Alpha",
            "x-y",
        ])),
        prop::option::of(prop::sample::select(vec!["b1", "build.5", "01"])),
        any::<bool>(),
    )
        .prop_map(|(v, major, rest, pre, meta, underscore)| {
            let mut s = format!("{}{major}", if v { "v" } else { "" });
            if let Some((minor, patch)) = rest {
                s.push_str(&format!(".{minor}"));
                if let Some(patch) = patch {
                    s.push_str(&format!(".{patch}"));
                }
            }
            if let Some(pre) = pre {
                s.push_str(&format!("-{pre}"));
            }
            if let Some(meta) = meta {
                s.push_str(&format!("{}{meta}", if underscore { "_" } else { "+" }));
            }
            s
        })
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => version_tag(),
        1 => prop::sample::select(vec!["latest", "main", "sha-abc", "1.2.x", "", "V1"])
            .prop_map(str::to_owned),
    ]
}

fn constraint() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        " ",
        "*",
        "^1",
        "~1.2",
        ">=1.0.0 <2.0.0",
        ">1.1",
        "<=2",
        "!=1.x",
        "1.2.x",
        ">=0.0.0-0",
        "^0.2",
        "~0",
        ">=1.0.0-alpha <1.0.0 || >=3",
        "1.0 - 2.1",
        "=v1.1.1",
        "^*",
        "<1.0.0-beta || 2.x",
    ])
}

/// Strings over the characters references and constraints are made of.
fn biased() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/@._+|*~^<>=!, \\[\\]v%#?-]{0,40}"
}

fn hash_of(v: &Version) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

proptest! {
    #[test]
    fn best_tag_is_the_first_highest_matching_input(
        tags in prop::collection::vec(tag(), 0..12),
        c in constraint(),
    ) {
        let got = best_tag(&tags, c);
        let parsed: Vec<Option<Version>> =
            tags.iter().map(|t| Version::parse_tag(t).ok()).collect();
        let parsed_constraint = if c.is_empty() {
            None
        } else {
            match Constraint::parse(c) {
                Ok(k) => Some(k),
                Err(e) => {
                    prop_assert_eq!(got, Err(SelectError::InvalidConstraint(e)));
                    return Ok(());
                }
            }
        };
        let matching: Vec<(usize, &Version)> = parsed
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i, v)))
            .filter(|(_, v)| parsed_constraint.as_ref().is_none_or(|k| k.matches(v)))
            .collect();
        match got {
            Ok(t) => {
                prop_assert!(tags.contains(&t));
                let tv = Version::parse_tag(&t).expect("the chosen tag is a version");
                if let Some(k) = &parsed_constraint {
                    prop_assert!(k.matches(&tv));
                }
                let max = matching.iter().map(|(_, v)| *v).max().expect("something matched");
                prop_assert_eq!(&tv, max);
                let first = matching.iter().find(|(_, v)| *v == max).map(|(i, _)| *i);
                prop_assert_eq!(Some(&t), first.map(|i| &tags[i]));
            }
            Err(SelectError::NoSemverTags) => {
                prop_assert!(parsed.iter().all(Option::is_none));
            }
            Err(SelectError::NoMatchingVersion { constraint, .. }) => {
                prop_assert!(matching.is_empty());
                prop_assert!(parsed.iter().any(Option::is_some));
                prop_assert_eq!(constraint, c);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn semver_crate_conversions_round_trip_and_agree_on_order(
        a in version_tag(),
        b in version_tag(),
    ) {
        let (a, b) = (Version::parse_tag(&a).expect("version"), Version::parse_tag(&b).expect("version"));
        let (sa, sb) = (
            semver::Version::try_from(&a).expect("generated versions convert"),
            semver::Version::try_from(&b).expect("generated versions convert"),
        );
        prop_assert_eq!(sa.to_string(), a.to_string());
        let back = Version::try_from(&sa).expect("semver versions convert back");
        prop_assert_eq!(back.to_string(), a.to_string());
        // Precedence agrees (semver's `cmp_precedence` ignores build metadata, as Masterminds).
        prop_assert_eq!(sa.cmp_precedence(&sb), a.cmp(&b));
    }

    #[test]
    fn ordering_is_total_and_sorting_stable(tags in prop::collection::vec(version_tag(), 0..10)) {
        let versions: Vec<Version> = tags
            .iter()
            .map(|t| Version::parse_tag(t).expect("generated tags are versions"))
            .collect();
        for a in &versions {
            for b in &versions {
                prop_assert_eq!(a.cmp(b), b.cmp(a).reverse());
                prop_assert_eq!(a == b, a.cmp(b) == Ordering::Equal);
                prop_assert_eq!(a.partial_cmp(b), Some(a.cmp(b)));
                if a == b {
                    prop_assert_eq!(hash_of(a), hash_of(b));
                }
                for c in &versions {
                    if a <= b && b <= c {
                        prop_assert!(a <= c, "{} <= {} <= {}", a.original(), b.original(), c.original());
                    }
                }
            }
        }
        let sorted = filter_semver_tags(&tags);
        prop_assert_eq!(sorted.len(), tags.len());
        let sorted_versions: Vec<Version> =
            sorted.iter().map(|t| Version::parse_tag(t).expect("version")).collect();
        for w in sorted_versions.windows(2) {
            prop_assert!(w[0] >= w[1]);
        }
        // Stable: each run of equal versions is the input's tags of that version, in input order.
        let mut i = 0;
        while i < sorted.len() {
            let v = &sorted_versions[i];
            let run: Vec<&String> = sorted[i..]
                .iter()
                .zip(&sorted_versions[i..])
                .take_while(|(_, w)| *w == v)
                .map(|(t, _)| t)
                .collect();
            let expected: Vec<&String> =
                tags.iter().zip(&versions).filter(|(_, w)| *w == v).map(|(t, _)| t).collect();
            prop_assert_eq!(&run, &expected);
            i += run.len();
        }
    }

    #[test]
    fn generated_references_parse_and_round_trip(
        registry in prop::sample::select(vec![
            "", "gcr.io/", "docker.io/", "index.docker.io/", "localhost/", "localhost:5000/",
            "127.0.0.1:5000/", "[::1]:5000/", "my-registry.example.com:443/", "10.0.0.1/",
        ]),
        components in prop::collection::vec("[a-z0-9]{2,6}([._-][a-z0-9]{1,4})?", 1..4),
        suffix in prop_oneof![
            Just(String::new()),
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}".prop_map(|t| format!(":{t}")),
            "[0-9a-f]{64}".prop_map(|h| format!("@sha256:{h}")),
        ],
    ) {
        let input = format!("{registry}{}{suffix}", components.join("/"));
        for opts in [ParseOptions::default(), ParseOptions::untagged()] {
            let r = Reference::parse_with(&input, &opts);
            prop_assert!(r.is_ok(), "{input}: {r:?}");
            let r = r.expect("checked");
            prop_assert_eq!(Reference::parse_with(&r.to_string(), &opts), Ok(r.clone()));
            prop_assert_eq!(
                has_explicit_tag(&input),
                !suffix.is_empty(),
                "{}", input
            );
        }
    }

    #[test]
    fn any_parsed_reference_round_trips(s in prop_oneof![biased(), any::<String>()]) {
        for opts in [ParseOptions::default(), ParseOptions::untagged()] {
            if let Ok(r) = Reference::parse_with(&s, &opts) {
                prop_assert_eq!(Reference::parse_with(&r.to_string(), &opts), Ok(r.clone()), "{:?}", s);
            }
            if let Ok(a) = ArtifactRef::parse(&s, &opts) {
                prop_assert_eq!(ArtifactRef::parse(&a.to_string(), &opts), Ok(a.clone()), "{:?}", s);
            }
        }
        let layout = format!("oci-layout:{s}");
        if let Ok(l) = LayoutReference::parse(&layout) {
            prop_assert_eq!(LayoutReference::parse(&l.to_string()), Ok(l.clone()), "{:?}", layout);
        }
    }

    #[test]
    fn parsed_constraints_print_and_reparse_the_same(
        s in "[0-9xX*|v.,<>=!~^ a-z+-]{0,24}",
        probes in prop::collection::vec(version_tag(), 1..6),
    ) {
        if let Ok(c) = Constraint::parse(&s) {
            let printed = c.to_string();
            let again = Constraint::parse(&printed);
            prop_assert!(again.is_ok(), "{s:?} printed as {printed:?}: {again:?}");
            let again = again.expect("checked");
            prop_assert_eq!(again.to_string(), printed.clone());
            for p in &probes {
                let v = Version::parse_tag(p).expect("version");
                prop_assert_eq!(c.matches(&v), again.matches(&v), "{:?} / {:?} on {}", s, printed, p);
            }
        }
    }

    #[test]
    fn parsers_never_panic(
        s in prop_oneof![biased(), any::<String>(), "[0-9xX*|v.,<>=!~^ -]{0,40}"],
        tags in prop::collection::vec(prop_oneof![biased(), version_tag()], 0..6),
    ) {
        let opts = ParseOptions::default();
        let strict = ParseOptions::untagged().with_strict(true);
        let _ = Reference::parse(&s);
        let _ = Reference::parse_with(&s, &strict);
        let _ = ArtifactRef::parse(&s, &opts);
        let _ = s.parse::<ArtifactRef>();
        let _ = LayoutReference::parse(&format!("oci-layout:{s}"));
        let _ = LayoutReference::from_path(&s);
        let _ = Registry::parse(&s, &opts);
        let _ = new_repository(&s, &strict);
        let _ = has_explicit_tag(&s);
        let _ = Version::parse(&s);
        let _ = Version::parse_tag(&s);
        let _ = Constraint::parse(&s).map(|c| c.to_string());
        let _ = best_tag(&tags, &s);
        let _ = filter_semver_tags(&tags);
    }
}

/// Regressions (found by `cargo xtask fuzz`, target `reference`): `oci://oci://docker.io` is
/// registry `oci:`, repository `/docker.io` (one `oci://` stripped, then ggcr's rules), and
/// printed as `oci://docker.io:latest` it parsed back as `index.docker.io/library/docker.io`;
/// `oci://oci-layout:*:/p/u` is registry `oci-layout:*:`, and printed without the prefix it
/// parsed back as a layout reference.
#[test]
fn a_reference_printing_with_a_prefix_round_trips() {
    for s in [
        "oci://oci://docker.io",
        "oci://oci://x/y:1.0.0",
        "oci://oci:///a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "oci://oci-layout:*:/p0tt/u.ugn51",
        "oci://oci-layout:x:/a/b:1.0.0",
    ] {
        for opts in [ParseOptions::default(), ParseOptions::untagged()] {
            let r = Reference::parse_with(s, &opts).expect("ggcr accepts it");
            assert_eq!(
                Reference::parse_with(&r.to_string(), &opts),
                Ok(r.clone()),
                "{s} printed as {r}"
            );
            let a = ArtifactRef::parse(s, &opts).expect("parses as a remote reference");
            assert!(matches!(a, ArtifactRef::Remote(_)), "{s}");
            assert_eq!(
                ArtifactRef::parse(&a.to_string(), &opts),
                Ok(a.clone()),
                "{s} printed as {a}"
            );
        }
    }
}

/// Regression (found by `cargo xtask fuzz`, target `reference`): `oci-layout:a:b:t@DIGEST`
/// parsed to the path `a:b` (tag dropped for the digest), which printed back as path `a`
/// with tag `b`; such paths are refused, as `LayoutReference::from_path` refuses them.
#[test]
fn a_layout_path_that_would_print_as_another_reference_is_refused() {
    let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for s in [
        format!("oci-layout:oci-layout:b@sha256:{}@{digest}", &digest[7..]),
        format!("oci-layout:a:b:t@{digest}"),
        format!("oci-layout:dir/a@b@{digest}"),
    ] {
        assert!(LayoutReference::parse(&s).is_err(), "{s}");
        assert!(
            ArtifactRef::parse(&s, &ParseOptions::default()).is_err(),
            "{s}"
        );
    }
    for s in [
        format!("oci-layout:dir:1.0.0@{digest}"),
        format!("oci-layout:a:b/dir@{digest}"),
        "oci-layout:a@b/dir:1.0.0".to_owned(),
    ] {
        let l = LayoutReference::parse(&s).expect("a plain last component");
        assert_eq!(LayoutReference::parse(&l.to_string()), Ok(l.clone()), "{s}");
    }
}
