//! Secrets, credentials and the named sources they come from.

use std::fmt;

/// A secret string (password or token) that never prints itself.
///
/// `Debug` and `Display` both render `<redacted>`, so a `Secret` can sit inside any
/// structure that is logged or formatted into an error. The only way to read the
/// value is [`Secret::expose`], which call sites use exactly where the secret goes
/// on the wire. The bytes are overwritten when the value is dropped (best effort:
/// copies made before the `Secret` was built are out of its reach).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Use it only to build a request, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (which no source treats as a credential).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// A credential for one registry, as the transport presents it.
///
/// `Debug` shows the username but never the password or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// HTTP basic credentials, also exchanged for a bearer token at the registry's
    /// token endpoint.
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password or personal access token.
        password: Secret,
    },
    /// A registry bearer token used as is (`Authorization: Bearer <token>`), like
    /// go-containerregistry's `RegistryToken`; this is what `PACTO_REGISTRY_TOKEN`
    /// and `--token` provide.
    Bearer {
        /// The token.
        token: Secret,
    },
}

impl Credential {
    /// Basic credentials from a user name and a password.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A bearer token used directly.
    pub fn bearer(token: impl Into<Secret>) -> Self {
        Self::Bearer {
            token: token.into(),
        }
    }

    /// The user name of basic credentials; `None` for a bearer token.
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::Basic { username, .. } => Some(username),
            Self::Bearer { .. } => None,
        }
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => write!(f, "basic credentials for user {username:?}"),
            Self::Bearer { .. } => f.write_str("a bearer token"),
        }
    }
}

/// Where a credential came from. The [`name`](Source::name) is stable: errors and
/// logs use it to say which sources were tried and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Source {
    /// An explicit token (`PACTO_REGISTRY_TOKEN` or `--token`).
    EnvToken,
    /// An explicit user name and password (`PACTO_REGISTRY_USERNAME` and
    /// `PACTO_REGISTRY_PASSWORD`, or the matching flags).
    EnvUserPass,
    /// Pacto's own config file, written by `pacto login`.
    PactoLogin,
    /// The GitHub CLI (`gh auth token`), for GitHub's registries only.
    Gh,
    /// Docker's config file and its credential helpers.
    Docker,
}

impl Source {
    /// The stable name: `"env token"`, `"env user/pass"`, `"pacto login"`, `"gh"`, `"docker"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::EnvToken => "env token",
            Self::EnvUserPass => "env user/pass",
            Self::PactoLogin => "pacto login",
            Self::Gh => "gh",
            Self::Docker => "docker",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One credential to try against a registry, tagged with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// Where the credential came from.
    pub source: Source,
    /// The credential itself.
    pub credential: Credential,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_formats_redacted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn source_names_are_stable() {
        let table = [
            (Source::EnvToken, "env token"),
            (Source::EnvUserPass, "env user/pass"),
            (Source::PactoLogin, "pacto login"),
            (Source::Gh, "gh"),
            (Source::Docker, "docker"),
        ];
        for (source, name) in table {
            assert_eq!(source.name(), name);
            assert_eq!(source.to_string(), name);
        }
    }

    #[test]
    fn credential_display_names_no_secret() {
        let basic = Credential::basic("alice", "hunter2");
        assert_eq!(basic.to_string(), "basic credentials for user \"alice\"");
        assert_eq!(
            format!("{basic:?}"),
            "Basic { username: \"alice\", password: <redacted> }"
        );
        let bearer = Credential::bearer("tok3n");
        assert_eq!(bearer.to_string(), "a bearer token");
        assert_eq!(format!("{bearer:?}"), "Bearer { token: <redacted> }");
        assert_eq!(bearer.username(), None);
        assert_eq!(basic.username(), Some("alice"));
    }
}
