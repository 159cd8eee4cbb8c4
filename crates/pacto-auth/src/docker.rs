//! Docker's `config.json` (`auths`, `credsStore`, `credHelpers`) and the
//! credential-helper protocol's response.
//!
//! Parsed by hand from a JSON value rather than with typed deserialisation: a
//! type error from `serde` quotes the offending value, which may be a secret.

use serde_json::{Map, Value};

use crate::basic;
use crate::credential::Credential;
use crate::registry::{docker_server_address, normalize_registry};

/// The parts of a Docker config the keychain uses.
#[derive(Debug, Default)]
pub(crate) struct DockerConfig {
    auths: Map<String, Value>,
    creds_store: Option<String>,
    cred_helpers: Map<String, Value>,
}

/// Why a Docker config was ignored; never quotes the file.
pub(crate) type ParseFailure = String;

impl DockerConfig {
    /// Parses `config.json`; fields of an unexpected type are ignored one by one.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, ParseFailure> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|err| {
            format!(
                "not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            )
        })?;
        let Value::Object(mut root) = value else {
            return Err("the top level is not a JSON object".to_owned());
        };
        let object = |value: Option<Value>| match value {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Ok(Self {
            auths: object(root.remove("auths")),
            creds_store: match root.remove("credsStore") {
                Some(Value::String(store)) if !store.is_empty() => Some(store),
                _ => None,
            },
            cred_helpers: object(root.remove("credHelpers")),
        })
    }

    /// The helper to ask about `host`: its `credHelpers` entry, else `credsStore`.
    /// As in Docker, an empty `credHelpers` entry opts the registry out of
    /// `credsStore` (only the file's own entry counts then).
    pub(crate) fn helper_for(&self, host: &str) -> Option<&str> {
        match ordered_keys(&self.cred_helpers, host).first() {
            Some(key) => self
                .cred_helpers
                .get(*key)
                .and_then(Value::as_str)
                .filter(|helper| !helper.is_empty()),
            None => self.creds_store.as_deref(),
        }
    }

    /// The credential stored in the file itself (`auths`) for `host`.
    ///
    /// Per entry: `registrytoken` (a bearer token), else `auth` (base64 of
    /// `user:password`), else `username` and `password`. An entry holding only an
    /// `identitytoken` (an OAuth2 refresh token) is skipped: the transport has no
    /// refresh-token exchange.
    pub(crate) fn file_credential(&self, host: &str) -> Option<Credential> {
        for key in ordered_keys(&self.auths, host) {
            let Some(Value::Object(entry)) = self.auths.get(key) else {
                continue;
            };
            let field = |name: &str| {
                entry
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|value| !value.is_empty())
            };
            if let Some(token) = field("registrytoken") {
                return Some(Credential::bearer(token));
            }
            if let Some(credential) = field("auth").and_then(basic::decode) {
                return Some(credential);
            }
            if let (Some(username), Some(password)) = (field("username"), field("password")) {
                return Some(Credential::basic(username, password));
            }
            if field("identitytoken").is_some() {
                tracing::debug!(
                    key = %key,
                    "docker config entry holds only an identity token, which pacto cannot exchange; skipping it"
                );
            } else {
                tracing::debug!(key = %key, "docker config entry holds no usable credential; skipping it");
            }
        }
        None
    }
}

/// The keys of `map` that name `host`: Docker's own key for it first (for Docker
/// Hub `https://index.docker.io/v1/`), then the bare host, then any other alias
/// (`http://host/path`, `docker.io`, ...) in key order.
fn ordered_keys<'a>(map: &'a Map<String, Value>, host: &str) -> Vec<&'a str> {
    let address = docker_server_address(host);
    let mut keys: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| normalize_registry(key) == host)
        .collect();
    keys.sort_by_key(|key| match *key {
        k if k == address => 0,
        k if k == host => 1,
        _ => 2,
    });
    keys
}

/// What a credential helper's `get` printed.
#[derive(Debug)]
pub(crate) enum HelperResponse {
    /// A usable credential.
    Credential(Credential),
    /// An identity token (`"Username": "<token>"`), which pacto cannot use.
    IdentityToken,
    /// Valid JSON but no secret in it.
    Empty,
    /// Not the protocol's JSON object.
    Garbage,
}

/// Parses `{"ServerURL": ..., "Username": ..., "Secret": ...}`.
pub(crate) fn parse_helper_response(stdout: &[u8]) -> HelperResponse {
    let Ok(Value::Object(response)) = serde_json::from_slice::<Value>(stdout) else {
        return HelperResponse::Garbage;
    };
    let (Some(Value::String(username)), Some(Value::String(secret))) =
        (response.get("Username"), response.get("Secret"))
    else {
        return HelperResponse::Garbage;
    };
    if secret.is_empty() {
        HelperResponse::Empty
    } else if username == "<token>" {
        HelperResponse::IdentityToken
    } else {
        // An empty user name is passed on as is, as Docker does.
        HelperResponse::Credential(Credential::basic(username.as_str(), secret.as_str()))
    }
}

/// Whether a failed helper merely said it has nothing for this server (the
/// protocol's `credentials not found in native keychain`).
pub(crate) fn is_not_found(stdout: &[u8]) -> bool {
    String::from_utf8_lossy(stdout)
        .to_ascii_lowercase()
        .contains("credentials not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_responses() {
        let cases: [(&str, Option<Credential>); 3] = [
            (
                r#"{"ServerURL":"ghcr.io","Username":"bob","Secret":"s3"}"#,
                Some(Credential::basic("bob", "s3")),
            ),
            (
                r#"{"Username":"","Secret":"tok"}"#,
                Some(Credential::basic("", "tok")),
            ),
            (r#"{"Username":"bob","Secret":""}"#, None),
        ];
        for (input, want) in cases {
            let got = match parse_helper_response(input.as_bytes()) {
                HelperResponse::Credential(c) => Some(c),
                _ => None,
            };
            assert_eq!(got, want, "input {input}");
        }
        assert!(matches!(
            parse_helper_response(br#"{"Username":"<token>","Secret":"refresh"}"#),
            HelperResponse::IdentityToken
        ));
        for garbage in [
            &b"not json"[..],
            b"[]",
            br#"{"Username":1,"Secret":"x"}"#,
            b"",
        ] {
            assert!(matches!(
                parse_helper_response(garbage),
                HelperResponse::Garbage
            ));
        }
    }

    #[test]
    fn cred_helpers_win_over_creds_store() {
        let config = DockerConfig::parse(
            br#"{"credsStore":"desktop","credHelpers":{"https://Quay.io/v2":"quay","ghcr.io":""}}"#,
        );
        let Ok(config) = config else {
            panic!("config should parse: {config:?}");
        };
        assert_eq!(config.helper_for("quay.io"), Some("quay"));
        assert_eq!(config.helper_for("ghcr.io"), None);
        assert_eq!(config.helper_for("example.com"), Some("desktop"));
    }

    #[test]
    fn parse_failures_never_quote_the_file() {
        for input in [&b"{\"auths\": \"hunter2\""[..], b"\"hunter2\""] {
            let err = DockerConfig::parse(input).err().unwrap_or_default();
            assert!(!err.is_empty(), "input should fail");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
