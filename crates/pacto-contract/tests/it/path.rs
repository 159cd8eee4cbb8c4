//! `validate_path`: the table of accepted and refused bundle paths.

use pacto_contract::{MAX_PATH_LEN, PathError, validate_path};

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
            validate_path(input).as_deref(),
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
        let err = validate_path(input).expect_err(input);
        assert_eq!(kind(&err), expected, "input {input:?}: {err}");
    }
}

#[test]
fn length_limit_is_inclusive() {
    let at_limit = "a".repeat(MAX_PATH_LEN);
    assert_eq!(validate_path(&at_limit).as_deref(), Ok(at_limit.as_str()));
    let over = "a".repeat(MAX_PATH_LEN + 1);
    assert!(matches!(
        validate_path(&over),
        Err(PathError::TooLong { len, limit, .. }) if len == MAX_PATH_LEN + 1 && limit == MAX_PATH_LEN
    ));
}

#[test]
fn messages_name_the_path() {
    let err = validate_path("a/../../b").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle path \"a/../../b\" has a '..' component, which would leave the bundle"
    );
}
