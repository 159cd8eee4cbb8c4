//! Which candidates the keychain returns, in which order, from files only (plus a
//! fake `gh` for the full ordering).

use pacto_auth::{
    Candidate, Credential, CredentialOptions, Keychain, PactoConfigFile, Secret, Source,
};

use crate::support::{Env, mkdir};

fn options(
    username: Option<&str>,
    password: Option<&str>,
    token: Option<&str>,
) -> CredentialOptions {
    let mut options = CredentialOptions::default();
    if let Some(username) = username {
        options = options.with_username(username);
    }
    if let Some(password) = password {
        options = options.with_password(password);
    }
    if let Some(token) = token {
        options = options.with_token(token);
    }
    options
}

fn summary(candidates: &[Candidate]) -> Vec<(Source, Credential)> {
    candidates
        .iter()
        .map(|c| (c.source, c.credential.clone()))
        .collect()
}

#[tokio::test]
async fn every_source_in_order() {
    let env = Env::new();
    PactoConfigFile::at(env.pacto_config())
        .login("ghcr.io", "pacto-user", &Secret::new("pacto-pass"))
        .unwrap_or_else(|e| panic!("login: {e}"));
    env.gh("echo gho_from_gh");
    env.write_docker_config(r#"{"auths":{"ghcr.io":{"auth":"ZG9ja2VyLXVzZXI6ZG9ja2VyLXBhc3M="}}}"#);
    let keychain = env.keychain(options(
        Some("env-user"),
        Some("env-pass"),
        Some("env-token"),
    ));

    let got = keychain.candidates("ghcr.io").await;

    assert_eq!(
        summary(&got),
        [
            (Source::EnvToken, Credential::bearer("env-token")),
            (
                Source::PactoLogin,
                Credential::basic("pacto-user", "pacto-pass")
            ),
            (
                Source::Gh,
                Credential::basic("x-access-token", "gho_from_gh")
            ),
            (
                Source::Docker,
                Credential::basic("docker-user", "docker-pass")
            ),
        ]
    );
}

#[tokio::test]
async fn explicit_credentials() {
    let table = [
        (
            options(None, None, Some("t")),
            Some((Source::EnvToken, Credential::bearer("t"))),
        ),
        (
            options(Some("u"), Some("p"), Some("t")),
            Some((Source::EnvToken, Credential::bearer("t"))),
        ),
        (
            options(Some("u"), Some("p"), None),
            Some((Source::EnvUserPass, Credential::basic("u", "p"))),
        ),
        (
            options(Some("u"), Some("p"), Some("")),
            Some((Source::EnvUserPass, Credential::basic("u", "p"))),
        ),
        (options(Some("u"), None, None), None),
        (options(None, Some("p"), None), None),
        (options(Some(""), Some("p"), None), None),
        (options(Some("u"), Some(""), None), None),
        (CredentialOptions::default(), None),
    ];
    for (given, want) in table {
        let env = Env::new();
        let keychain = env.keychain(given.clone());
        // Explicit credentials apply to every registry.
        for registry in ["ghcr.io", "localhost:5000", "docker.io"] {
            let got = summary(&keychain.candidates(registry).await);
            assert_eq!(
                got,
                want.clone().into_iter().collect::<Vec<_>>(),
                "{given:?} for {registry}"
            );
        }
        assert_eq!(given.is_empty(), want.is_none());
    }
}

#[tokio::test]
async fn the_same_credential_from_two_sources_is_kept_once_under_the_first() {
    let env = Env::new();
    PactoConfigFile::at(env.pacto_config())
        .login("quay.io", "user", &Secret::new("pass"))
        .unwrap_or_else(|e| panic!("login: {e}"));
    env.write_docker_config(r#"{"auths":{"quay.io":{"username":"user","password":"pass"}}}"#);

    let got = env
        .keychain(CredentialOptions::default())
        .candidates("quay.io")
        .await;
    assert_eq!(
        summary(&got),
        [(Source::PactoLogin, Credential::basic("user", "pass"))]
    );

    let got = env
        .keychain(options(Some("user"), Some("pass"), None))
        .candidates("quay.io")
        .await;
    assert_eq!(
        summary(&got),
        [(Source::EnvUserPass, Credential::basic("user", "pass"))]
    );
}

#[tokio::test]
async fn anonymous_has_no_sources() {
    let keychain = Keychain::anonymous();
    for registry in ["ghcr.io", "docker.io", "localhost:5000"] {
        assert_eq!(keychain.candidates(registry).await, []);
    }
}

#[tokio::test]
async fn disabled_sources_are_not_consulted() {
    let env = Env::new();
    PactoConfigFile::at(env.pacto_config())
        .login("ghcr.io", "pacto-user", &Secret::new("pacto-pass"))
        .unwrap_or_else(|e| panic!("login: {e}"));
    env.gh("echo gho_token");
    env.write_docker_config(r#"{"auths":{"ghcr.io":{"auth":"ZDpw"}}}"#);
    let keychain = Keychain::with_config(
        CredentialOptions::default(),
        env.config()
            .with_pacto_login(false)
            .with_gh(false)
            .with_docker(false),
    );

    assert_eq!(keychain.candidates("ghcr.io").await, []);
    assert_eq!(env.calls("gh"), 0);
}

#[tokio::test]
async fn broken_files_give_no_credential_from_their_source_only() {
    let pacto_good = || {
        let env = Env::new();
        PactoConfigFile::at(env.pacto_config())
            .login("quay.io", "pacto-user", &Secret::new("pacto-pass"))
            .unwrap_or_else(|e| panic!("login: {e}"));
        env
    };
    let broken = [
        "{not json",
        "[]",
        r#"{"auths":[]}"#,
        r#"{"auths":{"quay.io":7}}"#,
        "\u{0}\u{1}",
    ];

    for contents in broken {
        // A broken pacto config: docker still answers.
        let env = Env::new();
        env.write_pacto_config(contents);
        env.write_docker_config(r#"{"auths":{"quay.io":{"auth":"ZDpw"}}}"#);
        let got = env
            .keychain(CredentialOptions::default())
            .candidates("quay.io")
            .await;
        assert_eq!(
            summary(&got),
            [(Source::Docker, Credential::basic("d", "p"))],
            "pacto config {contents:?}"
        );

        // A broken docker config: pacto login still answers.
        let env = pacto_good();
        env.write_docker_config(contents);
        let got = env
            .keychain(CredentialOptions::default())
            .candidates("quay.io")
            .await;
        assert_eq!(
            summary(&got),
            [(
                Source::PactoLogin,
                Credential::basic("pacto-user", "pacto-pass")
            )],
            "docker config {contents:?}"
        );
    }

    // Unreadable files (directories in their place) and missing ones.
    let env = Env::new();
    mkdir(&env.pacto_config());
    mkdir(&env.docker_dir().join("config.json"));
    assert_eq!(
        env.keychain(CredentialOptions::default())
            .candidates("quay.io")
            .await,
        []
    );
    let env = Env::new();
    assert_eq!(
        env.keychain(CredentialOptions::default())
            .candidates("quay.io")
            .await,
        []
    );
}

#[tokio::test]
async fn pacto_login_entries_match_every_spelling_of_the_registry() {
    let env = Env::new();
    // Written by Go pacto's `pacto login docker.io` and by hand.
    env.write_pacto_config(
        r#"{"auths":{"docker.io":{"auth":"aHViOmh1Yg=="},"Registry.Example.com:5000":{"auth":"ZXg6ZXg="}}}"#,
    );
    let keychain = env.keychain(CredentialOptions::default());
    let table = [
        ("docker.io", Some(Credential::basic("hub", "hub"))),
        ("index.docker.io", Some(Credential::basic("hub", "hub"))),
        (
            "registry-1.docker.io",
            Some(Credential::basic("hub", "hub")),
        ),
        (
            "https://index.docker.io/v1/",
            Some(Credential::basic("hub", "hub")),
        ),
        (
            "registry.example.com:5000",
            Some(Credential::basic("ex", "ex")),
        ),
        ("registry.example.com", None),
    ];
    for (registry, want) in table {
        let got = keychain.candidates(registry).await;
        let want: Vec<_> = want.into_iter().map(|c| (Source::PactoLogin, c)).collect();
        assert_eq!(summary(&got), want, "{registry}");
    }
}

#[tokio::test]
async fn docker_auths_entries() {
    let table: [(&str, &str, Option<Credential>); 10] = [
        // Docker Hub is stored under its v1 address.
        (
            r#"{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}}"#,
            "docker.io",
            Some(Credential::basic("hub", "pw")),
        ),
        (
            r#"{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}}"#,
            "registry-1.docker.io",
            Some(Credential::basic("hub", "pw")),
        ),
        // Keys with a scheme or a path match their host.
        (
            r#"{"https://registry.example.com/v2/":{"auth":"ZXg6cHc="}}"#,
            "registry.example.com",
            Some(Credential::basic("ex", "pw")),
        ),
        (
            r#"{"http://localhost:5000":{"auth":"bG86cHc="}}"#,
            "localhost:5000",
            Some(Credential::basic("lo", "pw")),
        ),
        (
            r#"{"registry.example.com":{"auth":"ZXg6cHc="}}"#,
            "other.example.com",
            None,
        ),
        // Plain username and password.
        (
            r#"{"quay.io":{"username":"q","password":"pw"}}"#,
            "quay.io",
            Some(Credential::basic("q", "pw")),
        ),
        // A registry token is a bearer token.
        (
            r#"{"quay.io":{"registrytoken":"rt"}}"#,
            "quay.io",
            Some(Credential::bearer("rt")),
        ),
        // An identity token alone cannot be used.
        (
            r#"{"quay.io":{"identitytoken":"refresh"}}"#,
            "quay.io",
            None,
        ),
        // `docker login` with a credential store leaves an empty entry.
        (r#"{"quay.io":{}}"#, "quay.io", None),
        // Undecodable auth falls back to username and password.
        (
            r#"{"quay.io":{"auth":"%%%","username":"q","password":"pw"}}"#,
            "quay.io",
            Some(Credential::basic("q", "pw")),
        ),
    ];
    for (auths, registry, want) in table {
        let env = Env::new();
        env.write_docker_config(&format!(r#"{{"auths":{auths}}}"#));
        let got = env
            .keychain(CredentialOptions::default())
            .candidates(registry)
            .await;
        let want: Vec<_> = want.into_iter().map(|c| (Source::Docker, c)).collect();
        assert_eq!(summary(&got), want, "{auths} for {registry}");
    }
}

#[tokio::test]
async fn explicit_credentials_scoped_to_hosts_reach_only_those() {
    let env = Env::new();
    PactoConfigFile::at(env.pacto_config())
        .login("other.example", "pacto-user", &Secret::new("pacto-pass"))
        .unwrap_or_else(|e| panic!("login: {e}"));
    let keychain = env.keychain(
        options(Some("env-user"), Some("env-pass"), None).with_hosts(["docker.io", "ghcr.io"]),
    );
    for listed in [
        "index.docker.io",
        "registry-1.docker.io",
        "GHCR.io",
        "ghcr.io/org/repo",
    ] {
        assert_eq!(
            summary(&keychain.candidates(listed).await),
            [(
                Source::EnvUserPass,
                Credential::basic("env-user", "env-pass")
            )],
            "{listed}"
        );
    }
    // Another registry gets its own stored credential and never the explicit one.
    assert_eq!(
        summary(&keychain.candidates("other.example").await),
        [(
            Source::PactoLogin,
            Credential::basic("pacto-user", "pacto-pass")
        )]
    );
    assert!(keychain.candidates("quay.io").await.is_empty());
    assert!(
        format!("{keychain:?}").contains(r#"explicit_hosts: Some(["index.docker.io", "ghcr.io"])"#)
    );
}
