//! `BundlePath`: the table of accepted and refused bundle paths.

use pacto_contract::{BundlePath, MAX_PATH_LEN, PathError};

fn normal_form(path: &str) -> Result<String, PathError> {
    BundlePath::parse(path).map(String::from)
}

#[test]
fn accepted_paths_normalise_as_expected() {
    let table = [
        ("pacto.yaml", "pacto.yaml"),
        ("./pacto.yaml", "pacto.yaml"),
        ("././api/openapi.yaml", "api/openapi.yaml"),
        ("api/v1/openapi.yaml", "api/v1/openapi.yaml"),
        ("my..file.yaml", "my..file.yaml"),
        ("..hidden.txt", "..hidden.txt"),
        ("a/...", "a/..."),
        (".github/workflow.yaml", ".github/workflow.yaml"),
        ("docs/caf\u{e9}.md", "docs/caf\u{e9}.md"),
        ("with space/and:colon", "with space/and:colon"),
    ];
    for (input, expected) in table {
        assert_eq!(
            normal_form(input).as_deref(),
            Ok(expected),
            "input {input:?}"
        );
    }
}

#[test]
fn refused_paths_name_the_rule() {
    fn kind(e: &PathError) -> &'static str {
        match e {
            PathError::Empty => "empty",
            PathError::Absolute { .. } => "absolute",
            PathError::Backslash { .. } => "backslash",
            PathError::ParentComponent { .. } => "parent",
            PathError::CurrentComponent { .. } => "current",
            PathError::EmptyComponent { .. } => "empty-component",
            PathError::Nul { .. } => "nul",
            PathError::TooLong { .. } => "too-long",
            _ => "other",
        }
    }
    let table = [
        ("", "empty"),
        ("./", "empty"),
        (".", "empty"),
        ("/etc/passwd", "absolute"),
        ("/", "absolute"),
        ("..", "parent"),
        ("../x", "parent"),
        ("./../x", "parent"),
        ("a/../../b", "parent"),
        ("a/..", "parent"),
        ("a//../b", "parent"),
        ("a\\b", "backslash"),
        ("..\\x", "backslash"),
        ("a/./b", "current"),
        ("a/.", "current"),
        ("a//b", "empty-component"),
        ("a/", "empty-component"),
        ("a\0b", "nul"),
    ];
    for (input, expected) in table {
        let err = normal_form(input).expect_err(input);
        assert_eq!(kind(&err), expected, "input {input:?}: {err}");
    }
}

#[test]
fn length_limit_is_inclusive() {
    let at_limit = "a".repeat(MAX_PATH_LEN);
    assert_eq!(normal_form(&at_limit).as_deref(), Ok(at_limit.as_str()));
    let over = "a".repeat(MAX_PATH_LEN + 1);
    assert!(matches!(
        normal_form(&over),
        Err(PathError::TooLong { len, limit, .. }) if len == MAX_PATH_LEN + 1 && limit == MAX_PATH_LEN
    ));
}

#[test]
fn messages_name_the_path() {
    let err = normal_form("a/../../b").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle path \"a/../../b\" has a '..' component, which would leave the bundle"
    );
}

#[test]
fn a_path_is_its_text() {
    let path: BundlePath = "./api/v1/openapi.yaml".parse().unwrap();
    assert_eq!(path.as_str(), "api/v1/openapi.yaml");
    assert_eq!(path.to_string(), "api/v1/openapi.yaml");
    assert_eq!(format!("{path:?}"), "\"api/v1/openapi.yaml\"");
    assert_eq!(
        path.components().collect::<Vec<_>>(),
        ["api", "v1", "openapi.yaml"]
    );
    assert_eq!(path.depth(), 3);
    assert_eq!(path.parents().collect::<Vec<_>>(), ["api/v1", "api"]);
    let top = BundlePath::try_from("pacto.yaml").unwrap();
    assert_eq!((top.depth(), top.parents().count()), (1, 0));
    assert!(matches!(
        BundlePath::try_from("a/../b".to_owned()),
        Err(PathError::ParentComponent { path, .. }) if path == "a/../b"
    ));
    assert_eq!(String::from(top), "pacto.yaml");
}

#[test]
fn paths_order_as_text_and_key_maps_looked_up_by_str() {
    // Byte order: `api.md` < `api/x` ('.' < '/'), as the keys of a map of strings sort.
    let mut paths: Vec<BundlePath> = ["b", "api/x", "api.md", "API"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["API", "api.md", "api/x", "b"]);
    let map: std::collections::BTreeMap<BundlePath, u8> = paths.into_iter().zip(0..).collect();
    assert_eq!(map.get("api/x"), Some(&2));
    assert_eq!(map["b"], 3);
    assert!(!map.contains_key("./b"), "lookups take the normal form");
}

#[test]
fn serde_validates() {
    let path: BundlePath = serde_json::from_str("\"./docs/a.md\"").unwrap();
    assert_eq!(path, "docs/a.md");
    assert_eq!(serde_json::to_string(&path).unwrap(), "\"docs/a.md\"");
    let error = serde_json::from_str::<BundlePath>("\"../etc/passwd\"").unwrap_err();
    assert!(error.to_string().contains("'..' component"), "{error}");
}
