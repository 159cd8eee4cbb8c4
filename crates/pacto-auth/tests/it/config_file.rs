//! `pacto login` / `pacto logout` file semantics.

use std::path::Path;

use pacto_auth::{ConfigError, Credential, PactoConfigFile, Secret};
use serde_json::json;

use crate::support::{Env, ReadOnlyDir, list, mkdir, mode, read, read_json, set_mode, write};

fn secret(value: &str) -> Secret {
    Secret::new(value)
}

fn login(file: &PactoConfigFile, registry: &str, user: &str, pass: &str) {
    file.login(registry, user, &secret(pass))
        .unwrap_or_else(|e| panic!("login {registry} failed: {e}"));
}

#[test]
fn login_creates_a_private_file_in_go_pactos_format() {
    let env = Env::new();
    let path = env.pacto_config();
    assert!(!path.parent().is_some_and(Path::exists));

    login(&PactoConfigFile::at(&path), "ghcr.io", "user", "pass");

    assert_eq!(
        read_json(&path),
        json!({"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}})
    );
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&env.xdg().join("pacto")), 0o700);
}

#[test]
fn login_keeps_other_registries_and_unknown_keys() {
    let env = Env::new();
    env.write_pacto_config(
        r#"{
            "currentContext": "prod",
            "auths": {
                "quay.io": {"auth": "a2VlcDptZQ==", "email": "me@example.com"},
                "ghcr.io": {"auth": "b2xkOm9sZA==", "note": "kept"}
            }
        }"#,
    );

    login(
        &PactoConfigFile::at(env.pacto_config()),
        "ghcr.io",
        "user",
        "pass",
    );

    assert_eq!(
        read_json(&env.pacto_config()),
        json!({
            "currentContext": "prod",
            "auths": {
                "quay.io": {"auth": "a2VlcDptZQ==", "email": "me@example.com"},
                "ghcr.io": {"auth": "dXNlcjpwYXNz", "note": "kept"}
            }
        })
    );
}

#[test]
fn login_makes_a_world_readable_file_private() {
    let env = Env::new();
    env.write_pacto_config(r#"{"auths":{"quay.io":{"auth":"a2VlcDptZQ=="}}}"#);
    set_mode(&env.pacto_config(), 0o644);

    login(
        &PactoConfigFile::at(env.pacto_config()),
        "ghcr.io",
        "user",
        "pass",
    );

    assert_eq!(mode(&env.pacto_config()), 0o600);
    assert_eq!(
        read_json(&env.pacto_config())["auths"]["quay.io"]["auth"],
        "a2VlcDptZQ=="
    );
}

#[test]
fn login_and_logout_write_through_a_symlink() {
    // (target exists, relative link)
    for target_exists in [true, false] {
        let env = Env::new();
        let target = env.root().join("dotfiles").join("pacto.json");
        if target_exists {
            write(&target, r#"{"auths":{"quay.io":{"auth":"a2VlcDptZQ=="}}}"#);
            set_mode(&target, 0o644);
        } else {
            mkdir(&env.root().join("dotfiles"));
        }
        mkdir(&env.xdg().join("pacto"));
        let link = env.pacto_config();
        std::os::unix::fs::symlink("../../dotfiles/pacto.json", &link)
            .unwrap_or_else(|e| panic!("cannot create the symlink: {e}"));
        let file = PactoConfigFile::at(&link);

        login(&file, "ghcr.io", "user", "pass");

        let meta = std::fs::symlink_metadata(&link).unwrap_or_else(|e| panic!("lstat: {e}"));
        assert!(
            meta.file_type().is_symlink(),
            "the config is no longer a symlink"
        );
        assert_eq!(mode(&target), 0o600);
        let stored = read_json(&target);
        assert_eq!(stored["auths"]["ghcr.io"]["auth"], "dXNlcjpwYXNz");
        assert_eq!(
            stored["auths"]["quay.io"].is_object(),
            target_exists,
            "{stored}"
        );
        assert_eq!(
            list(&env.xdg().join("pacto")),
            ["config.json"],
            "nothing but the link in the link's directory"
        );

        assert_eq!(file.logout("ghcr.io").ok(), Some(true));
        let meta = std::fs::symlink_metadata(&link).unwrap_or_else(|e| panic!("lstat: {e}"));
        assert!(meta.file_type().is_symlink(), "logout replaced the symlink");
        assert!(read_json(&target)["auths"].get("ghcr.io").is_none());
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Login,
    Logout,
}

fn run(op: Op, file: &PactoConfigFile) -> Result<(), ConfigError> {
    match op {
        Op::Login => file.login("ghcr.io", "user", &secret("pass")),
        Op::Logout => file.logout("ghcr.io").map(|_| ()),
    }
}

#[test]
fn login_and_logout_fail_closed_on_an_unparseable_file() {
    #[derive(Debug)]
    enum Want {
        Parse { line: usize },
        Format(&'static str),
    }
    let table = [
        ("{not json", Want::Parse { line: 1 }),
        (
            "{\"auths\": {\n  \"ghcr.io\": {\"auth\": \"eDp5\"}\n",
            Want::Parse { line: 3 },
        ),
        ("[]", Want::Format("the top level is not a JSON object")),
        (
            r#"{"auths": []}"#,
            Want::Format("\"auths\" is not a JSON object"),
        ),
        (
            r#"{"auths": {"ghcr.io": "eDp5"}}"#,
            Want::Format("the entry for \"ghcr.io\" under \"auths\" is not a JSON object"),
        ),
        (
            r#"{"auths": {"ghcr.io": {"auth": 7}}}"#,
            Want::Format("the \"auth\" value of the entry for \"ghcr.io\" is not a string"),
        ),
    ];
    for (contents, want) in &table {
        for op in [Op::Login, Op::Logout] {
            let env = Env::new();
            env.write_pacto_config(contents);
            set_mode(&env.pacto_config(), 0o644);
            let file = PactoConfigFile::at(env.pacto_config());

            let err = run(op, &file).err();

            match (&err, want) {
                (Some(ConfigError::Parse { path, line, .. }), Want::Parse { line: want_line }) => {
                    assert_eq!(path, &env.pacto_config());
                    assert_eq!(line, want_line, "{op:?} {contents:?}");
                }
                (Some(ConfigError::Format { path, reason, .. }), Want::Format(want_reason)) => {
                    assert_eq!(path, &env.pacto_config());
                    assert_eq!(reason, want_reason, "{op:?} {contents:?}");
                }
                _ => panic!("{op:?} over {contents:?}: want {want:?}, got {err:?}"),
            }
            assert_eq!(
                read(&env.pacto_config()),
                contents.as_bytes(),
                "{op:?} changed the file"
            );
            assert_eq!(mode(&env.pacto_config()), 0o644, "{op:?} changed the mode");
            assert_eq!(list(&env.xdg().join("pacto")), ["config.json"]);
        }
    }
}

#[test]
fn login_and_logout_fail_closed_on_an_unreadable_file() {
    // A directory where the file should be cannot be read, not even by root.
    for op in [Op::Login, Op::Logout] {
        let env = Env::new();
        let path = env.pacto_config();
        mkdir(&path);
        write(&path.join("keep"), "x");

        let err = run(op, &PactoConfigFile::at(&path)).err();

        match &err {
            Some(ConfigError::Read {
                path: named,
                source,
                ..
            }) => {
                assert_eq!(named, &path);
                assert_eq!(source.kind(), std::io::ErrorKind::IsADirectory, "{op:?}");
            }
            _ => panic!("{op:?}: want a read error, got {err:?}"),
        }
        assert_eq!(list(&path), ["keep"], "{op:?} touched the directory");
        assert_eq!(list(&env.xdg().join("pacto")), ["config.json"]);
    }
}

#[test]
fn login_and_logout_fail_in_a_read_only_directory_leaving_the_file_alone() {
    let original = r#"{"auths":{"ghcr.io":{"auth":"b2xkOm9sZA=="}}}"#;
    for op in [Op::Login, Op::Logout] {
        let env = Env::new();
        env.write_pacto_config(original);
        let dir = env.xdg().join("pacto");
        let file = PactoConfigFile::at(env.pacto_config());

        let err = {
            let _read_only = ReadOnlyDir::new(&dir);
            run(op, &file).err()
        };

        match &err {
            Some(ConfigError::Write { path, .. }) => assert_eq!(path, &env.pacto_config()),
            _ => panic!("{op:?}: want a write error, got {err:?}"),
        }
        assert_eq!(read(&env.pacto_config()), original.as_bytes());
        assert_eq!(list(&dir), ["config.json"], "{op:?} left a temporary file");
    }
}

#[test]
fn login_fails_when_the_directory_cannot_be_created() {
    let env = Env::new();
    write(
        &env.xdg().join("pacto"),
        "a file where the directory should be",
    );
    let file = PactoConfigFile::at(env.pacto_config());

    let err = file.login("ghcr.io", "user", &secret("pass")).err();

    match &err {
        Some(ConfigError::CreateDir { path, .. }) => assert_eq!(path, &env.xdg().join("pacto")),
        _ => panic!("want a create-dir error, got {err:?}"),
    }
}

#[test]
fn login_rejects_unusable_input_without_touching_the_file() {
    let env = Env::new();
    let file = PactoConfigFile::at(env.pacto_config());
    type IsExpected = fn(&ConfigError) -> bool;
    let table: [(&str, &str, &str, IsExpected); 5] = [
        (
            "",
            "user",
            "pass",
            |e| matches!(e, ConfigError::InvalidRegistry { registry, .. } if registry.is_empty()),
        ),
        (
            "https:///v2/",
            "user",
            "pass",
            |e| matches!(e, ConfigError::InvalidRegistry { registry, .. } if registry == "https:///v2/"),
        ),
        (
            "ghcr.io",
            "",
            "pass",
            |e| matches!(e, ConfigError::InvalidUsername { registry, .. } if registry == "ghcr.io"),
        ),
        (
            "GHCR.io",
            "us:er",
            "pass",
            |e| matches!(e, ConfigError::InvalidUsername { registry, .. } if registry == "ghcr.io"),
        ),
        (
            "ghcr.io",
            "user",
            "",
            |e| matches!(e, ConfigError::EmptyPassword { registry, .. } if registry == "ghcr.io"),
        ),
    ];
    for (registry, user, pass, is_expected) in table {
        let err = file.login(registry, user, &secret(pass)).err();
        assert!(
            err.as_ref().is_some_and(is_expected),
            "login({registry:?}, {user:?}): got {err:?}"
        );
    }
    assert!(!env.pacto_config().exists());
    assert!(matches!(
        file.logout(" "),
        Err(ConfigError::InvalidRegistry { .. })
    ));
}

#[test]
fn registry_names_are_normalised_on_write() {
    let env = Env::new();
    // Go pacto's `login docker.io` wrote this key, which its reader never matched.
    env.write_pacto_config(
        r#"{"auths":{"docker.io":{"auth":"b2xkOm9sZA=="},"quay.io":{"auth":"a2VlcDptZQ=="}}}"#,
    );
    let file = PactoConfigFile::at(env.pacto_config());

    for (alias, user) in [
        ("docker.io", "a"),
        ("https://index.docker.io/v1/", "b"),
        ("registry-1.docker.io", "c"),
        ("Index.Docker.IO", "d"),
    ] {
        login(&file, alias, user, "pass");
        let auths = read_json(&env.pacto_config())["auths"].clone();
        let keys: Vec<&String> = auths
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["index.docker.io", "quay.io"], "after login {alias}");
        for query in [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
        ] {
            assert_eq!(
                file.credential(query).ok().flatten(),
                Some(Credential::basic(user, "pass")),
                "after login {alias}, lookup {query}"
            );
        }
    }
}

#[test]
fn logout_removes_the_registry_and_its_aliases_only() {
    let env = Env::new();
    env.write_pacto_config(
        r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YTpi"},"docker.io":{"auth":"YzpK"},"quay.io":{"auth":"a2VlcDptZQ=="}},"other":1}"#,
    );
    let file = PactoConfigFile::at(env.pacto_config());

    assert_eq!(file.logout("registry-1.docker.io").ok(), Some(true));

    assert_eq!(
        read_json(&env.pacto_config()),
        json!({"auths": {"quay.io": {"auth": "a2VlcDptZQ=="}}, "other": 1})
    );
    assert_eq!(mode(&env.pacto_config()), 0o600);
}

#[test]
fn logout_reports_false_and_writes_nothing_when_nothing_is_stored() {
    let env = Env::new();
    let file = PactoConfigFile::at(env.pacto_config());

    assert_eq!(file.logout("ghcr.io").ok(), Some(false));
    assert!(!env.pacto_config().exists(), "logout created a file");

    let original = r#"{"auths":{"quay.io":{"auth":"a2VlcDptZQ=="}}}"#;
    env.write_pacto_config(original);
    set_mode(&env.pacto_config(), 0o644);
    assert_eq!(file.logout("ghcr.io").ok(), Some(false));
    assert_eq!(read(&env.pacto_config()), original.as_bytes());
}

#[test]
fn reading_understands_go_pactos_files() {
    let env = Env::new();
    // As Go's base64.StdEncoding writes it, plus an unpadded entry from another tool.
    env.write_pacto_config(
        r#"{"auths":{"ghcr.io":{"auth":"dXNlcjpwYTpzcw=="},"localhost:5000":{"auth":"bG9jYWw6aG9zdA"}}}"#,
    );
    let file = PactoConfigFile::at(env.pacto_config());
    let table = [
        ("ghcr.io", Some(Credential::basic("user", "pa:ss"))),
        ("https://ghcr.io/", Some(Credential::basic("user", "pa:ss"))),
        ("localhost:5000", Some(Credential::basic("local", "host"))),
        ("localhost", None),
        ("quay.io", None),
    ];
    for (registry, want) in table {
        assert_eq!(file.credential(registry).ok(), Some(want), "{registry}");
    }
}

#[test]
fn reading_a_missing_or_broken_file() {
    let env = Env::new();
    let file = PactoConfigFile::at(env.pacto_config());
    assert_eq!(file.credential("ghcr.io").ok(), Some(None));

    env.write_pacto_config("{oops");
    assert!(matches!(
        file.credential("ghcr.io"),
        Err(ConfigError::Parse { line: 1, .. })
    ));
}

#[test]
fn the_typed_config_keeps_unknown_keys_and_never_prints_a_credential() {
    use pacto_auth::PactoConfig;
    let text = r#"{
        "currentContext": "prod",
        "auths": {
            "docker.io": {"auth": "b2xkOm9sZA==", "note": "kept"},
            "quay.io": {"auth": "a2VlcDptZQ==", "email": "me@example.com"}
        }
    }"#;
    let mut config = PactoConfig::parse(Path::new("config.json"), text.as_bytes()).unwrap();
    assert_eq!(
        config.credential("index.docker.io"),
        Some(Credential::basic("old", "old"))
    );
    assert_eq!(config.extra["currentContext"], json!("prod"));

    // An alias entry is replaced by the normalised one, keeping the entry's own keys.
    assert_eq!(
        config.set_basic("index.docker.io", "user", &secret("pass")),
        1
    );
    let rendered = format!("{config:?}");
    for secret_text in ["dXNlcjpwYXNz", "a2VlcDptZQ==", "pass"] {
        assert!(!rendered.contains(secret_text), "{rendered}");
    }
    let written: serde_json::Value = serde_json::to_value(&config).unwrap();
    assert_eq!(
        written,
        json!({
            "currentContext": "prod",
            "auths": {
                "index.docker.io": {"auth": "dXNlcjpwYXNz"},
                "quay.io": {"auth": "a2VlcDptZQ==", "email": "me@example.com"}
            }
        })
    );
    assert_eq!(config.remove("docker.io"), 1);
    assert_eq!(config.credential("docker.io"), None);

    // A null `auths` is an empty map, as in Go.
    let empty = PactoConfig::parse(Path::new("c.json"), br#"{"auths":null}"#).unwrap();
    assert!(empty.auths.is_empty());
}

#[test]
fn the_config_path_is_the_config_dir_plus_config_json() {
    // Whatever the environment of the test process says, the two agree (Go's
    // PactoConfigPath is PactoConfigDir joined with config.json).
    match (
        pacto_auth::pacto_config_dir(),
        pacto_auth::pacto_config_path(),
    ) {
        (Ok(dir), Ok(path)) => {
            assert_eq!(path, dir.join("config.json"));
            assert!(dir.ends_with("pacto"), "{}", dir.display());
        }
        (Err(_), Err(_)) => {}
        other => panic!("the directory and the path disagree: {other:?}"),
    }
}
