//! No secret reaches `Debug`, `Display`, an error message or a log line.

use std::error::Error as _;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use pacto_auth::{ConfigError, Credential, CredentialOptions, Keychain, PactoConfigFile, Secret};

use crate::support::{Capture, Env, ReadOnlyDir, mkdir, write};

const ENV_TOKEN: &str = "SECRET-env-token-1";
const ENV_PASS: &str = "SECRET-env-pass-2";
const LOGIN_PASS: &str = "SECRET-login-3";
const GH_TOKEN: &str = "SECRET-gh-4";
const HELPER_SECRET: &str = "SECRET-helper-5";
const GARBAGE: &str = "SECRET-garbage-6";
const FAILING: &str = "SECRET-fail-7";
const DOCKER_PASS: &str = "SECRET-docker-8";
const JSON_VALUE: &str = "SECRET-json-9";
const REJECTED_PASS: &str = "SECRET-rejected-10";

/// Every secret, and every encoding of one that a file holds.
fn forbidden() -> Vec<String> {
    let mut all = vec!["SECRET-".to_owned()];
    for (user, pass) in [
        ("login-user", LOGIN_PASS),
        ("docker-user", DOCKER_PASS),
        ("us:er", REJECTED_PASS),
    ] {
        let plain = format!("{user}:{pass}");
        all.push(STANDARD.encode(&plain));
        all.push(STANDARD_NO_PAD.encode(&plain));
    }
    all
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(
            !text.contains(&secret),
            "{what} contains the secret {secret:?}:\n{text}"
        );
    }
}

/// `Display`, `Debug` and every `source()` of an error.
fn render_error(err: &ConfigError) -> String {
    let mut out = format!("{err}\n{err:?}\n");
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = writeln!(out, "caused by: {cause} / {cause:?}");
        source = cause.source();
    }
    out
}

#[tokio::test]
async fn no_secret_in_any_output_or_log_line_at_trace_level() {
    let env = Env::new();
    env.gh(&format!("echo {GH_TOKEN}"));
    env.helper(
        "good",
        &format!(r#"echo '{{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"{HELPER_SECRET}"}}'"#),
    );
    env.helper(
        "garbage",
        &format!("echo '{GARBAGE} {{'; echo '{GARBAGE}' >&2"),
    );
    env.helper(
        "failing",
        &format!("echo '{FAILING}'; echo '{FAILING}' >&2; exit 1"),
    );
    env.helper("hang", "exec sleep 60");
    let docker_auth = STANDARD.encode(format!("docker-user:{DOCKER_PASS}"));
    env.write_docker_config(&format!(
        r#"{{"credHelpers":{{"ghcr.io":"good","quay.io":"garbage","localhost:5000":"failing","hang.example.com":"hang"}},
            "auths":{{"https://index.docker.io/v1/":{{"auth":"{docker_auth}"}},
                      "id.example.com":{{"identitytoken":"SECRET-identity-11"}}}}}}"#
    ));
    let options = CredentialOptions::default()
        .with_username("env-user")
        .with_password(ENV_PASS)
        .with_token(ENV_TOKEN);
    let keychain = Keychain::with_config(
        options.clone(),
        env.config()
            .with_helper_timeout(std::time::Duration::from_secs(1)),
    );
    let file = PactoConfigFile::at(env.pacto_config());
    let mut rendered = String::new();

    let capture = Capture::start();

    // Writes.
    for registry in ["ghcr.io", "docker.io", "quay.io"] {
        file.login(registry, "login-user", &Secret::new(LOGIN_PASS))
            .unwrap_or_else(|e| panic!("login {registry}: {e}"));
    }
    // Every source, including helpers that fail, hang or print garbage.
    for registry in [
        "ghcr.io",
        "docker.io",
        "quay.io",
        "localhost:5000",
        "hang.example.com",
        "id.example.com",
    ] {
        let candidates = keychain.candidates(registry).await;
        assert!(
            !candidates.is_empty(),
            "{registry} has the explicit token at least"
        );
        for candidate in &candidates {
            let _ = writeln!(
                rendered,
                "{candidate:?} {} {} {}",
                candidate.source, candidate.credential, candidate.credential
            );
        }
    }
    assert_eq!(file.logout("quay.io").ok(), Some(true));

    // A broken pacto config, read by the keychain (fail open, debug log) and by login.
    env.write_pacto_config(&format!(
        r#"{{"auths": {{"ghcr.io": {{"auth": "{JSON_VALUE}"#
    ));
    keychain.candidates("ghcr.io").await;
    let mut errors = Vec::new();
    errors.extend(file.login("ghcr.io", "u", &Secret::new(LOGIN_PASS)).err());
    env.write_pacto_config(&format!(r#"{{"auths": "{JSON_VALUE}"}}"#));
    keychain.candidates("ghcr.io").await;
    errors.extend(file.login("ghcr.io", "u", &Secret::new(LOGIN_PASS)).err());
    env.write_pacto_config(&format!(
        r#"{{"auths": {{"ghcr.io": {{"auth": ["{JSON_VALUE}"]}}}}}}"#
    ));
    keychain.candidates("ghcr.io").await;
    errors.extend(file.login("ghcr.io", "u", &Secret::new(LOGIN_PASS)).err());

    // Every other error variant.
    errors.extend(file.login("", "u", &Secret::new(LOGIN_PASS)).err());
    errors.extend(
        file.login("ghcr.io", "us:er", &Secret::new(REJECTED_PASS))
            .err(),
    );
    errors.extend(file.login("ghcr.io", "u", &Secret::new("")).err());
    let unreadable = env.root().join("unreadable.json");
    mkdir(&unreadable);
    errors.extend(
        PactoConfigFile::at(&unreadable)
            .login("ghcr.io", "u", &Secret::new(LOGIN_PASS))
            .err(),
    );
    let blocked = env.root().join("blocked");
    write(&blocked, "a file where a directory should be");
    errors.extend(
        PactoConfigFile::at(blocked.join("config.json"))
            .login("ghcr.io", "u", &Secret::new(LOGIN_PASS))
            .err(),
    );
    let read_only = env.root().join("read-only");
    mkdir(&read_only);
    {
        let _guard = ReadOnlyDir::new(&read_only);
        errors.extend(
            PactoConfigFile::at(read_only.join("config.json"))
                .login("ghcr.io", "u", &Secret::new(LOGIN_PASS))
                .err(),
        );
    }

    let logs = capture.text();
    drop(capture);

    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            ConfigError::NoConfigPath => "no-config-path",
            ConfigError::InvalidRegistry { .. } => "invalid-registry",
            ConfigError::InvalidUsername { .. } => "invalid-username",
            ConfigError::EmptyPassword { .. } => "empty-password",
            ConfigError::Read { .. } => "read",
            ConfigError::Parse { .. } => "parse",
            ConfigError::Format { .. } => "format",
            ConfigError::CreateDir { .. } => "create-dir",
            ConfigError::Write { .. } => "write",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "parse",
            "format",
            "format",
            "invalid-registry",
            "invalid-username",
            "empty-password",
            "read",
            "create-dir",
            "write"
        ]
    );
    errors.push(ConfigError::NoConfigPath);
    for err in &errors {
        rendered.push_str(&render_error(err));
    }
    let _ = writeln!(rendered, "{keychain:?}\n{options:?}\n{file:?}");

    // The capture saw the operations (so a silent capture cannot pass)...
    for expected in [
        "stored pacto login credentials",
        "removed pacto login credentials",
        "credential candidates",
        "docker-credential-garbage",
        "docker-credential-failing",
        "docker-credential-hang",
        "identity token",
        "ignoring pacto config",
        "TRACE",
    ] {
        assert!(
            logs.contains(expected),
            "the log lacks {expected:?}:\n{logs}"
        );
    }
    // ...and the renderings hold the redaction marker.
    assert!(rendered.contains("<redacted>"), "{rendered}");
    assert_clean("the log", &logs);
    assert_clean("the rendered values and errors", &rendered);
}

#[test]
fn debug_and_display_redact() {
    let credential = Credential::basic("alice", "SECRET-basic");
    let bearer = Credential::bearer("SECRET-bearer");
    let options = CredentialOptions::default()
        .with_username("alice")
        .with_password("SECRET-pass")
        .with_token("SECRET-token");
    let keychain = Keychain::with_config(options.clone(), Env::new().config());
    let table = [
        (format!("{}", Secret::new("SECRET-x")), "<redacted>".to_owned()),
        (format!("{:?}", Secret::new("SECRET-x")), "<redacted>".to_owned()),
        (
            format!("{credential:?}"),
            r#"Basic { username: "alice", password: <redacted> }"#.to_owned(),
        ),
        (format!("{credential}"), r#"basic credentials for user "alice""#.to_owned()),
        (format!("{bearer:?}"), "Bearer { token: <redacted> }".to_owned()),
        (format!("{bearer}"), "a bearer token".to_owned()),
        (
            format!("{options:?}"),
            r#"CredentialOptions { username: Some("alice"), password: Some(<redacted>), token: Some(<redacted>), hosts: None }"#
                .to_owned(),
        ),
    ];
    for (got, want) in table {
        assert_eq!(got, want);
    }
    let keychain_debug = format!("{keychain:?}");
    assert!(
        keychain_debug.starts_with("Keychain { explicit: Some(EnvToken)"),
        "{keychain_debug}"
    );
    assert!(!keychain_debug.contains("SECRET"), "{keychain_debug}");
}
