//! Explicit credentials from flags and environment variables.

use std::ffi::OsString;

use crate::credential::{Candidate, Credential, Secret, Source};

/// Environment variable holding the explicit registry user name.
pub const ENV_USERNAME: &str = "PACTO_REGISTRY_USERNAME";
/// Environment variable holding the explicit registry password.
pub const ENV_PASSWORD: &str = "PACTO_REGISTRY_PASSWORD";
/// Environment variable holding the explicit registry bearer token.
pub const ENV_TOKEN: &str = "PACTO_REGISTRY_TOKEN";

/// Explicit credentials given with CLI flags or the `PACTO_REGISTRY_*` variables.
///
/// They apply to every registry. A token wins over a user name and password; a
/// user name and password count only when both are set. Empty strings count as
/// unset, as in Go pacto.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialOptions {
    /// The user name (`PACTO_REGISTRY_USERNAME`).
    pub username: Option<String>,
    /// The password (`PACTO_REGISTRY_PASSWORD`).
    pub password: Option<Secret>,
    /// A registry bearer token (`PACTO_REGISTRY_TOKEN`).
    pub token: Option<Secret>,
}

impl CredentialOptions {
    /// Reads `PACTO_REGISTRY_USERNAME`, `PACTO_REGISTRY_PASSWORD` and
    /// `PACTO_REGISTRY_TOKEN` from the process environment.
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
