//! Defaults read from the process environment (`HOME`, `XDG_CONFIG_HOME`,
//! `DOCKER_CONFIG`, `PATH`, `PACTO_REGISTRY_*`).
//!
//! Tests run in parallel threads and must not mutate the process environment, so
//! the environment-dependent checks run in a child process: this test binary,
//! re-run on one test with a prepared environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use pacto_auth::{
    Credential, CredentialOptions, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME, Keychain,
    PactoConfigFile, Secret, Source, pacto_config_path,
};

use crate::support::{Env, read_to_string, write};

/// Set in the child: where to write what it found.
const REPORT: &str = "PACTO_AUTH_IT_REPORT";
const CHILD_TEST: &str = "environment::default_locations_come_from_the_environment";

#[tokio::test]
async fn default_locations_come_from_the_environment() {
    if let Some(report) = std::env::var_os(REPORT) {
        child(Path::new(&report)).await;
        return;
    }

    struct Case {
        what: &'static str,
        xdg: Option<fn(&Env) -> OsString>,
        docker_config: bool,
        want_config: fn(&Env) -> PathBuf,
    }
    let cases = [
        Case {
            what: "XDG_CONFIG_HOME and DOCKER_CONFIG set",
            xdg: Some(|env| env.xdg().into_os_string()),
            docker_config: true,
            want_config: |env| env.xdg().join("pacto/config.json"),
        },
        Case {
            what: "only HOME set",
            xdg: None,
            docker_config: false,
            want_config: |env| env.home().join(".config/pacto/config.json"),
        },
        Case {
            what: "a relative XDG_CONFIG_HOME is ignored",
            xdg: Some(|_| OsString::from("relative/dir")),
            docker_config: false,
            want_config: |env| env.home().join(".config/pacto/config.json"),
        },
    ];
    for case in cases {
        let env = Env::new();
        let config = (case.want_config)(&env);
        PactoConfigFile::at(&config)
            .login("ghcr.io", "pacto-user", &Secret::new("pacto-pass"))
            .unwrap_or_else(|e| panic!("login: {e}"));
        env.gh("echo gho_token");
        let docker_dir = if case.docker_config {
            env.docker_dir()
        } else {
            env.home().join(".docker")
        };
        write(
            &docker_dir.join("config.json"),
            r#"{"auths":{"ghcr.io":{"auth":"ZG9ja2VyOmRvY2tlcg=="}}}"#,
        );
        let report = env.root().join("report");

        let mut command =
            Command::new(std::env::current_exe().unwrap_or_else(|e| panic!("no current exe: {e}")));
        command
            .args(["--exact", CHILD_TEST, "--test-threads=1", "--quiet"])
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DOCKER_CONFIG")
            .env_remove(ENV_TOKEN)
            .env(REPORT, &report)
            .env("HOME", env.home())
            .env("PATH", env.path())
            .env(ENV_USERNAME, "env-user")
            .env(ENV_PASSWORD, "env-pass");
        if let Some(xdg) = case.xdg {
            command.env("XDG_CONFIG_HOME", xdg(&env));
        }
        if case.docker_config {
            command.env("DOCKER_CONFIG", env.docker_dir());
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run the child test: {e}"));
        assert!(
            output.status.success(),
            "{}: child failed\nstdout:\n{}\nstderr:\n{}",
            case.what,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        let want = format!(
            "pacto_config_path={}\n\
             env user/pass basic credentials for user \"env-user\" env-pass\n\
             pacto login basic credentials for user \"pacto-user\" pacto-pass\n\
             gh basic credentials for user \"x-access-token\" gho_token\n\
             docker basic credentials for user \"docker\" docker\n",
            config.display()
        );
        assert_eq!(read_to_string(&report), want, "{}", case.what);
    }
}

/// Runs in the child process: everything from the environment.
async fn child(report: &Path) {
    let mut out = format!(
        "pacto_config_path={}\n",
        pacto_config_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    let keychain = Keychain::new(CredentialOptions::from_env());
    for candidate in keychain.candidates("ghcr.io").await {
        let secret = match &candidate.credential {
            Credential::Basic { password, .. } => password.expose().to_owned(),
            Credential::Bearer { token } => token.expose().to_owned(),
        };
        out.push_str(&format!(
            "{} {} {secret}\n",
            candidate.source, candidate.credential
        ));
    }
    write(report, &out);
}

#[test]
fn options_from_a_lookup_and_flags_over_env() {
    let env_vars = |name: &str| match name {
        ENV_USERNAME => Some(OsString::from("env-user")),
        ENV_PASSWORD => Some(OsString::from("env-pass")),
        ENV_TOKEN => Some(OsString::from("")),
        _ => None,
    };
    let from_env = CredentialOptions::from_lookup(env_vars);
    assert_eq!(
        from_env,
        CredentialOptions::default()
            .with_username("env-user")
            .with_password("env-pass")
    );
    assert_eq!(
        from_env.candidate().map(|c| c.source),
        Some(Source::EnvUserPass)
    );

    // A flag overrides its own variable only; empty flags do not override.
    let flags = CredentialOptions::default()
        .with_username("flag-user")
        .with_password("");
    assert_eq!(
        flags.or(from_env.clone()),
        CredentialOptions::default()
            .with_username("flag-user")
            .with_password("env-pass")
    );
    let token_flag = CredentialOptions::default().with_token("flag-token");
    let merged = token_flag.or(from_env);
    assert_eq!(
        merged.candidate().map(|c| (c.source, c.credential)),
        Some((Source::EnvToken, Credential::bearer("flag-token")))
    );
    assert!(CredentialOptions::from_lookup(|_| None).is_empty());
}
