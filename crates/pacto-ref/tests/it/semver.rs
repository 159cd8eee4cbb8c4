//! Versions, constraints and tag selection beyond the oracle vectors: the behaviour the spec
//! lists, Helm-style underscore tags, and pacto's defined order among equal versions.

use std::collections::HashSet;

use pacto_ref::{
    Constraint, InvalidConstraint, InvalidVersion, SelectError, Version, best_tag,
    best_tag_matching, filter_semver_tags, version_to_tag,
};

fn v(s: &str) -> Version {
    Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn constraint_semantics_from_the_spec() {
    // (constraint, version, matches)
    let table = [
        ("~1", "1.9.9", true),
        ("~1", "2.0.0", false),
        ("~1.x", "1.0.0", true),
        ("~1.2", "1.2.9", true),
        ("~1.2", "1.3.0", false),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.2.9", true),
        ("~0.0.1", "0.0.9", true),
        ("~0.0.1", "0.1.0", false),
        ("~*", "9.9.9", true),
        ("^0.2.3", "0.2.9", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.0.3", "0.0.3", true),
        ("^0.0.3", "0.0.4", false),
        ("^0", "0.9.9", true),
        ("^0.x", "1.0.0", false),
        ("^0.0", "0.0.9", true),
        ("^0.0", "0.1.0", false),
        ("^*", "0.0.0", true),
        ("^*", "0.0.1", false),
        ("^0.0.0", "0.0.1", false),
        (">1", "1.9.9", false),
        (">1", "2.0.0", true),
        (">1.2", "1.2.9", false),
        (">1.2", "1.3.0", true),
        ("<=1.2", "1.2.9", true),
        ("<=1.2", "1.3.0", false),
        ("<=1", "1.9.9", true),
        ("<=1", "2.0.0", false),
        ("<=*", "0.0.9", true),
        ("<=*", "0.1.0", false),
        (">=1.2.x", "1.2.0", true),
        ("<1.2.x", "1.2.0", false),
        ("<1.2.x", "1.1.9", true),
        ("<*", "0.0.0", false),
        ("!=2.x", "2.5.0", false),
        ("!=2.x", "3.0.0", true),
        ("1.2 - 2.3", "2.3.9", true),
        ("1.2 - 2.3", "2.4.0", false),
        ("1.2 - 2.3", "1.1.9", false),
        // Without spaces it is not a range but the partial version 1.2 with pre-release 2.3.
        ("1.2-2.3", "1.2.0-2.3", true),
        ("1.2-2.3", "1.2.0-2.2", false),
        ("1.2-2.3", "1.3.0", false),
        (">=1.2,<1.3", "1.2.5", true),
        (">=1.2,<1.3", "1.3.0", false),
        ("=1.2.3", "v1.2.3+build", true),
        ("1.2.3", "1.2.4", false),
        // Pre-releases only match when their own AND group names one...
        (">=1.0.0", "1.5.0-rc.1", false),
        (">=1.2.0-0", "1.3.0-alpha", true),
        (">=1.0.0-0 <2.0.0 || >=3.0.0", "1.5.0-rc.1", true),
        // ...and the permission does not carry across `||`.
        (">=1.0.0-0 <2.0.0 || >=3.0.0", "3.1.0-rc.1", false),
        (">=1.0.0 || <1.0.0-beta", "0.9.0-alpha", true),
        (">=1.0.0 || <1.0.0-beta", "1.5.0-alpha", false),
    ];
    for (constraint, version, want) in table {
        let c = Constraint::parse(constraint).unwrap_or_else(|e| panic!("{constraint}: {e}"));
        assert_eq!(c.matches(&v(version)), want, "{constraint} vs {version}");
    }
}

#[test]
fn constraints_masterminds_rejects() {
    for (input, reason) in [
        ("==1.2", "improper constraint: ==1.2"),
        ("!1.2", "improper constraint: !1.2"),
        ("V1.2", "improper constraint: V1.2"),
        ("1.2.3.4", "improper constraint: 1.2.3.4"),
        ("", "improper constraint: "),
        ("1.2 ,", "improper constraint: 1.2 ,"),
        ("1.99999999999999999999", "constraint parser error"),
    ] {
        let e = Constraint::parse(input).unwrap_err();
        assert_eq!((e.input(), e.reason().as_str()), (input, reason));
    }
    let e = Constraint::parse("").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid version constraint \"\": an empty comparison list \
         (write e.g. \">=1.2.0 <2.0.0\" or \"^1.2\")"
    );
    let e = Constraint::parse(">= 1x").unwrap_err();
    let InvalidConstraint::BadVersion {
        comparison, source, ..
    } = &e
    else {
        panic!("expected a bad version, got {e:?}");
    };
    assert_eq!(comparison, ">=1x");
    assert_eq!(source.reason(), "invalid semantic version");
    assert_eq!(
        e.to_string(),
        "invalid version constraint \">= 1x\": \">=1x\" does not name a valid version"
    );
    assert!(std::error::Error::source(&e).is_some());
    let c: Constraint = "^1.2 || ~2".parse().unwrap();
    assert_eq!(
        (c.as_str(), c.to_string().as_str()),
        ("^1.2 || ~2", "^1.2 || ~2")
    );
}

#[test]
fn versions_compare_by_precedence_only() {
    let equal = ["1", "1.0", "1.0.0", "v1.0.0", "1.0.0+b", "01.0.0"];
    let set: HashSet<Version> = equal.iter().map(|s| v(s)).collect();
    assert_eq!(set.len(), 1);
    for s in equal {
        assert_eq!(v(s), v("1.0.0"), "{s}");
    }
    assert!(v("1.0.0-alpha") < v("1.0.0"));
    assert!(v("1.0.0-2") < v("1.0.0-10"));
    assert!(v("1.0.0-10") < v("1.0.0-a"));
    assert!(v("1.0.0-Alpha") < v("1.0.0-alpha"));
    assert!(v("1.0.0-alpha") < v("1.0.0-alpha.0"));
    let x = v("v2.3-rc.1+build.7");
    assert_eq!(
        (
            x.major(),
            x.minor(),
            x.patch(),
            x.prerelease(),
            x.metadata()
        ),
        (2, 3, 0, "rc.1", "build.7")
    );
    assert_eq!(
        (x.to_string(), x.original()),
        ("2.3.0-rc.1+build.7".to_owned(), "v2.3-rc.1+build.7")
    );
    assert_eq!("1.2".parse::<Version>().ok(), Some(v("1.2.0")));
}

#[test]
fn invalid_versions_name_the_input() {
    let e = Version::parse("1.2.x").unwrap_err();
    assert!(matches!(&e, InvalidVersion::Malformed { input, .. } if input == "1.2.x"));
    assert!(
        e.to_string()
            .starts_with("invalid version \"1.2.x\": expected")
    );
    for bad in [
        "",
        "v",
        "V1",
        "=1.2.3",
        "1.2.3.4",
        " 1",
        "1 ",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-a..b",
        "1.-1",
    ] {
        assert_eq!(
            Version::parse(bad).map_err(|e| e.reason()),
            Err("invalid semantic version".to_owned()),
            "{bad:?}"
        );
    }
}

#[test]
fn helm_underscore_tags() {
    let t = Version::parse_tag("1.2.3_build.5").unwrap();
    assert_eq!(
        (t.to_string(), t.original(), t.metadata()),
        ("1.2.3+build.5".to_owned(), "1.2.3_build.5", "build.5")
    );
    assert_eq!(t, v("1.2.3"));
    // best_tag reads tags the Helm way and reports the tag spelling.
    assert_eq!(
        best_tag(&["1.2.2", "1.2.3_build.5", "latest"], "").as_deref(),
        Ok("1.2.3_build.5")
    );
    assert_eq!(
        best_tag(&["1.2.3_build.5", "1.2.3"], "=1.2.3").as_deref(),
        Ok("1.2.3_build.5")
    );
    assert_eq!(
        best_tag(&["1.2.3", "1.2.3_build.5"], "").as_deref(),
        Ok("1.2.3")
    );
    assert_eq!(
        filter_semver_tags(&["1.0.0_b", "1.0.1", "x_y"]),
        ["1.0.1", "1.0.0_b"]
    );
}

#[test]
fn version_to_tag_writes_underscores() {
    for (version, tag) in [
        ("1.2.3+build.5", "1.2.3_build.5"),
        ("1.2.3", "1.2.3"),
        ("v1.0.0-rc.1+a.b", "v1.0.0-rc.1_a.b"),
    ] {
        assert_eq!(version_to_tag(version), tag);
        let back = Version::parse_tag(tag).unwrap();
        assert_eq!(
            (back.to_string(), back.metadata()),
            (v(version).to_string(), v(version).metadata()),
            "{tag}"
        );
    }
}

#[test]
fn best_tag_edge_cases() {
    let tags = ["v1.0.0", "v2.0.0-rc.1", "1.5.0", "latest"];
    assert_eq!(best_tag(&tags, "").as_deref(), Ok("v2.0.0-rc.1"));
    assert_eq!(best_tag(&tags, "*").as_deref(), Ok("1.5.0"));
    assert!(matches!(
        best_tag(&tags, "  "),
        Err(SelectError::InvalidConstraint(
            InvalidConstraint::Improper { .. }
        ))
    ));
    assert_eq!(
        best_tag(&["latest", "main"], ""),
        Err(SelectError::NoSemverTags)
    );
    assert_eq!(
        best_tag(&["latest", "main"], "^1"),
        Err(SelectError::NoSemverTags)
    );
    assert_eq!(best_tag::<&str>(&[], ""), Err(SelectError::NoSemverTags));
    // An invalid constraint is reported even when no tag is a version.
    assert!(matches!(
        best_tag(&["latest"], ">>"),
        Err(SelectError::InvalidConstraint(_))
    ));
    let c = Constraint::parse("<1").unwrap();
    assert!(matches!(
        best_tag_matching(&tags, Some(&c)),
        Err(SelectError::NoMatchingVersion { constraint, .. }) if constraint == "<1"
    ));
    assert_eq!(best_tag_matching(&tags, None).as_deref(), Ok("v2.0.0-rc.1"));
    let owned: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(best_tag(&owned, "~1").as_deref(), Ok("1.5.0"));
    assert_eq!(
        best_tag_matching(&tags, Some(&Constraint::parse("^9").unwrap()))
            .unwrap_err()
            .to_string(),
        "no semver tag matches constraint \"^9\""
    );
}

#[test]
fn filter_semver_tags_newest_first_and_stable() {
    assert_eq!(
        filter_semver_tags(&["1.0.0-alpha", "1.0.0", "1.0.0-beta"]),
        ["1.0.0", "1.0.0-beta", "1.0.0-alpha"]
    );
    assert_eq!(
        filter_semver_tags(&["1.0", "latest", "v1.0.0", "2", "1", "1.0.0+x"]),
        ["2", "1.0", "v1.0.0", "1", "1.0.0+x"]
    );
    assert!(filter_semver_tags(&["latest"]).is_empty());
}
