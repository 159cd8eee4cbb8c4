//! Explicit credentials from flags and environment variables.

use std::ffi::OsString;

use crate::credential::{Candidate, Credential, Secret, Source};
use crate::registry::normalize_registry;

/// Environment variable holding the explicit registry user name.
pub const ENV_USERNAME: &str = "PACTO_REGISTRY_USERNAME";
/// Environment variable holding the explicit registry password.
pub const ENV_PASSWORD: &str = "PACTO_REGISTRY_PASSWORD";
/// Environment variable holding the explicit registry bearer token.
pub const ENV_TOKEN: &str = "PACTO_REGISTRY_TOKEN";
/// Environment variable holding the registries (comma list) the explicit credentials are for.
pub const ENV_HOSTS: &str = "PACTO_REGISTRY_HOSTS";

/// Explicit credentials given with CLI flags or the `PACTO_REGISTRY_*` variables.
///
/// Without [`hosts`](Self::hosts) they are offered to every registry that asks for
/// credentials, as in Go pacto; with it, only to those registries (and to the token
/// services they name). A token wins over a user name and password; a user name and
/// password count only when both are set. Empty strings count as unset, as in Go pacto.
///
/// The struct is `#[non_exhaustive]`: start from [`CredentialOptions::default`] (none) or
/// [`CredentialOptions::from_env`] and set what you need with the `with_*` methods.
///
/// ```
/// use pacto_auth::CredentialOptions;
/// let options = CredentialOptions::default()
///     .with_username("ci")
///     .with_password("s3cret")
///     .with_hosts(["ghcr.io"]);
/// assert!(options.applies_to("ghcr.io") && !options.applies_to("quay.io"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialOptions {
    /// The user name (`PACTO_REGISTRY_USERNAME`).
    pub username: Option<String>,
    /// The password (`PACTO_REGISTRY_PASSWORD`).
    pub password: Option<Secret>,
    /// A registry bearer token (`PACTO_REGISTRY_TOKEN`).
    pub token: Option<Secret>,
    /// The registries these credentials are for (`PACTO_REGISTRY_HOSTS`, comma list), compared
    /// after [`normalize_registry`] (`docker.io` is `index.docker.io`); `None`: every registry.
    pub hosts: Option<Vec<String>>,
}

impl CredentialOptions {
    /// Reads `PACTO_REGISTRY_USERNAME`, `PACTO_REGISTRY_PASSWORD`, `PACTO_REGISTRY_TOKEN`
    /// and `PACTO_REGISTRY_HOSTS` from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Like [`from_env`](Self::from_env), with the variables read through `lookup`
    /// (for callers and tests that must not touch the process environment).
    /// Values that are empty or not valid UTF-8 count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        let var = |name: &str| {
            lookup(name)
                .and_then(|value| value.into_string().ok())
                .filter(|value| !value.is_empty())
        };
        Self {
            username: var(ENV_USERNAME),
            password: var(ENV_PASSWORD).map(Secret::from),
            token: var(ENV_TOKEN).map(Secret::from),
            hosts: var(ENV_HOSTS).and_then(|list| split_hosts(&list)),
        }
    }

    /// These options with the user name set to `username` (used with a password).
    #[must_use]
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// These options with the password set to `password` (used with a user name).
    #[must_use]
    pub fn with_password(mut self, password: impl Into<Secret>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// These options with the bearer token set to `token` (tried before a user name and
    /// password).
    #[must_use]
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The same credentials, offered only to `hosts` (see [`hosts`](Self::hosts)).
    #[must_use]
    pub fn with_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.hosts = Some(
            hosts
                .into_iter()
                .map(|h| normalize_registry(h.as_ref()))
                .filter(|h| !h.is_empty())
                .collect(),
        );
        self
    }

    /// The former name of [`with_hosts`](Self::with_hosts).
    #[deprecated(note = "renamed `with_hosts`, as every option setter")]
    #[must_use]
    pub fn for_hosts<I, S>(self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.with_hosts(hosts)
    }

    /// Whether these credentials may be offered to `registry` (any form
    /// [`normalize_registry`] accepts).
    pub fn applies_to(&self, registry: &str) -> bool {
        match &self.hosts {
            None => true,
            Some(hosts) => {
                let registry = normalize_registry(registry);
                hosts.iter().any(|h| normalize_registry(h) == registry)
            }
        }
    }

    /// Field by field, `self` where set, else `fallback`: flags override the
    /// environment with `flags.or(CredentialOptions::from_env())`.
    #[must_use]
    pub fn or(self, fallback: Self) -> Self {
        let username = self.username.filter(|s| !s.is_empty());
        let password = self.password.filter(|s| !s.is_empty());
        let token = self.token.filter(|s| !s.is_empty());
        Self {
            username: username.or(fallback.username),
            password: password.or(fallback.password),
            token: token.or(fallback.token),
            hosts: self.hosts.or(fallback.hosts),
        }
    }

    /// Whether no usable explicit credential is set.
    pub fn is_empty(&self) -> bool {
        self.candidate().is_none()
    }

    /// The explicit candidate these options give, if any: a non-empty token as
    /// [`Source::EnvToken`], else a non-empty user name and password as
    /// [`Source::EnvUserPass`].
    pub fn candidate(&self) -> Option<Candidate> {
        if let Some(token) = self.token.as_ref().filter(|t| !t.is_empty()) {
            return Some(Candidate {
                source: Source::EnvToken,
                credential: Credential::Bearer {
                    token: token.clone(),
                },
            });
        }
        match (&self.username, &self.password) {
            (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => {
                Some(Candidate {
                    source: Source::EnvUserPass,
                    credential: Credential::Basic {
                        username: username.clone(),
                        password: password.clone(),
                    },
                })
            }
            _ => None,
        }
    }
}

/// `a, b,,c` as `["a", "b", "c"]` (normalised); `None` when nothing is left.
fn split_hosts(list: &str) -> Option<Vec<String>> {
    let hosts: Vec<String> = list
        .split(',')
        .map(normalize_registry)
        .filter(|h| !h.is_empty())
        .collect();
    (!hosts.is_empty()).then_some(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_scope_the_explicit_credentials() {
        let options = CredentialOptions::from_lookup(|name| match name {
            ENV_TOKEN => Some("t".into()),
            ENV_HOSTS => Some(" docker.io, GHCR.io ,,127.0.0.1:5000 ".into()),
            _ => None,
        });
        assert_eq!(
            options.hosts.as_deref(),
            Some(
                &[
                    "index.docker.io".to_owned(),
                    "ghcr.io".into(),
                    "127.0.0.1:5000".into()
                ][..]
            )
        );
        for yes in [
            "registry-1.docker.io",
            "https://ghcr.io/v2/",
            "127.0.0.1:5000",
        ] {
            assert!(options.applies_to(yes), "{yes}");
        }
        for no in ["127.0.0.1:5001", "quay.io", "ghcr.io.evil.example"] {
            assert!(!options.applies_to(no), "{no}");
        }
        assert!(CredentialOptions::default().applies_to("anything.example"));
        let none = CredentialOptions::from_lookup(|name| (name == ENV_HOSTS).then(|| " , ".into()));
        assert_eq!(none.hosts, None, "a list of nothing is unset");
        let flags = CredentialOptions::default().with_hosts(["Docker.io"]);
        assert_eq!(
            flags.hosts.as_deref(),
            Some(&["index.docker.io".to_owned()][..])
        );
        assert_eq!(
            flags.clone().or(options.clone()).hosts,
            flags.hosts,
            "flags win"
        );
        assert_eq!(
            CredentialOptions::default().or(options.clone()).hosts,
            options.hosts
        );
    }
}
