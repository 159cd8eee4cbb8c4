//! Pacto's own credential file (`pacto login` / `pacto logout`).
//!
//! The format is Go pacto's, byte for byte compatible in meaning:
//! `{"auths":{"<registry>":{"auth":"<base64 user:password>"}}}`. Unknown top-level
//! keys and unknown keys inside an entry survive a rewrite.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use pacto_fs::{AtomicFile, Mode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::basic;
use crate::credential::{Credential, Secret};
use crate::error::ConfigError;
use crate::registry::normalize_registry;

/// Symlink hops followed before giving up (the kernel's limit is 40 as well).
const MAX_SYMLINK_HOPS: usize = 40;

/// Pacto's configuration directory (Go `PactoConfigDir`): `$XDG_CONFIG_HOME/pacto`, else
/// `~/.config/pacto`.
///
/// A relative `XDG_CONFIG_HOME` is ignored, as the XDG specification says. Fails with
/// [`ConfigError::NoConfigPath`] when no home directory can be found either.
pub fn pacto_config_dir() -> Result<PathBuf, ConfigError> {
    xdg::BaseDirectories::with_prefix("pacto")
        .get_config_home()
        .ok_or(ConfigError::NoConfigPath)
}

/// The default location of pacto's config file (Go `PactoConfigPath`):
/// `$XDG_CONFIG_HOME/pacto/config.json`, else `~/.config/pacto/config.json`.
///
/// As the XDG specification says (and the `xdg` crate implements), a relative
/// `XDG_CONFIG_HOME` is ignored. Fails with [`ConfigError::NoConfigPath`] when no
/// home directory can be found either.
pub fn pacto_config_path() -> Result<PathBuf, ConfigError> {
    xdg::BaseDirectories::with_prefix("pacto")
        .get_config_file("config.json")
        .ok_or(ConfigError::NoConfigPath)
}

/// The document in pacto's `config.json` (Go `PactoConfig`):
/// `{"auths":{"<registry>":{"auth":"<base64 user:password>"}}}`.
///
/// Keys pacto does not know, at the top level and inside each entry, are kept in `extra`
/// and written back unchanged, so a newer pacto's settings survive an older `login`.
/// Registry keys are stored as written; [`PactoConfig::credential`],
/// [`PactoConfig::set_basic`] and [`PactoConfig::remove`] match them through
/// [`normalize_registry`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PactoConfig {
    /// Credential entries by registry (Go `Auths`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub auths: BTreeMap<String, PactoAuth>,
    /// Every other top-level key, as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One registry's entry (Go `PactoAuth`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PactoAuth {
    /// base64 of `user:password` (Go `Auth`); a secret, printed as `<redacted>`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "secret_string"
    )]
    pub auth: Option<Secret>,
    /// Every other key of the entry, as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PactoAuth {
    /// An entry holding `username` and `password`.
    pub fn basic(username: &str, password: &Secret) -> Self {
        PactoAuth {
            auth: Some(basic::encode(username, password)),
            extra: Map::new(),
        }
    }

    /// The user name and password this entry holds, when its `auth` value decodes.
    pub fn credential(&self) -> Option<Credential> {
        self.auth
            .as_ref()
            .and_then(|auth| basic::decode(auth.expose()))
    }
}

impl PactoConfig {
    /// Parses a config document; the shape is checked by hand first, so an error never
    /// quotes a value (values are credentials). An empty document is an empty config.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, ConfigError> {
        let root = parse_document(path, bytes)?;
        // The shape was checked: the conversion cannot meet a value of the wrong type.
        serde_json::from_value(Value::Object(root)).map_err(|_| ConfigError::Format {
            path: path.to_owned(),
            reason: "the document does not have pacto's config shape".to_owned(),
        })
    }

    /// The credential stored for `registry`: the entry under its normalised name first,
    /// then entries under its aliases in key order; entries whose `auth` does not decode
    /// are skipped.
    pub fn credential(&self, registry: &str) -> Option<Credential> {
        let host = normalize_registry(registry);
        let mut keys: Vec<&String> = self
            .auths
            .keys()
            .filter(|key| normalize_registry(key) == host)
            .collect();
        keys.sort_by_key(|key| key.as_str() != host);
        keys.into_iter().find_map(|key| {
            let found = self.auths[key].credential();
            if found.is_none() {
                tracing::debug!(
                    key = %key,
                    "pacto config entry has no usable auth value (base64 of user:password); skipping it"
                );
            }
            found
        })
    }

    /// Stores `username`/`password` under `registry`'s normalised name, replacing entries
    /// under its aliases and keeping the entry's unknown keys; returns the number of alias
    /// entries replaced.
    pub fn set_basic(&mut self, registry: &str, username: &str, password: &Secret) -> usize {
        let host = normalize_registry(registry);
        let aliases: Vec<String> = self
            .auths
            .keys()
            .filter(|key| **key != host && normalize_registry(key) == host)
            .cloned()
            .collect();
        for alias in &aliases {
            self.auths.remove(alias);
        }
        let entry = self.auths.entry(host).or_default();
        entry.auth = PactoAuth::basic(username, password).auth;
        aliases.len()
    }

    /// Removes `registry`'s entries (under its name and its aliases); returns how many.
    pub fn remove(&mut self, registry: &str) -> usize {
        let host = normalize_registry(registry);
        let before = self.auths.len();
        self.auths.retain(|key, _| normalize_registry(key) != host);
        before - self.auths.len()
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, PactoAuth>, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_default())
}

/// An `Option<Secret>` as a JSON string or null, for the `auth` field only (a `Secret`
/// itself has no serde impls, so it cannot be serialized by accident).
mod secret_string {
    use super::Secret;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Secret>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => serializer.serialize_str(secret.expose()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.map(Secret::new))
    }
}

/// Pacto's credential file at a given path.
///
/// Reading is for the keychain, which fails open on any error; [`login`] and
/// [`logout`] fail closed: an unreadable or unparseable file is reported and left
/// untouched, never replaced by one holding only the new entry.
///
/// Registry names are normalised with [`normalize_registry`] on write and on read,
/// so `docker.io`, `index.docker.io` and `https://index.docker.io/v1/` are one entry.
///
/// [`login`]: PactoConfigFile::login
/// [`logout`]: PactoConfigFile::logout
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PactoConfigFile {
    path: PathBuf,
}

impl PactoConfigFile {
    /// The file at [`pacto_config_path`].
    pub fn default_location() -> Result<Self, ConfigError> {
        pacto_config_path().map(Self::at)
    }

    /// The file at `path` (which need not exist yet).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The path this file lives at (possibly a symlink).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored credential for `registry`, if any.
    ///
    /// A missing file means `Ok(None)`. An entry stored under an alias of the
    /// registry (say `docker.io` for `index.docker.io`) matches too; the entry
    /// under the normalised name wins.
    pub fn credential(&self, registry: &str) -> Result<Option<Credential>, ConfigError> {
        let host = normalize_registry(registry);
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(PactoConfig::parse(&self.path, &bytes)?.credential(&host)),
            Err(err) if is_absent(&err) => Ok(None),
            Err(source) => Err(ConfigError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Stores `username` and `password` for `registry` (`pacto login`).
    ///
    /// Other registries' entries and unknown keys are kept; entries stored under
    /// an alias of the same registry are replaced by the one under its normalised
    /// name. The file is written atomically (a temporary file in the same
    /// directory, then a rename) with mode 0600, also when the old file was more
    /// permissive. When the path is a symlink its target is rewritten and the link
    /// stays. Missing directories are created with mode 0700.
    pub fn login(
        &self,
        registry: &str,
        username: &str,
        password: &Secret,
    ) -> Result<(), ConfigError> {
        let host = checked_registry(registry)?;
        if username.is_empty() || username.contains(':') {
            return Err(ConfigError::InvalidUsername { registry: host });
        }
        if password.is_empty() {
            return Err(ConfigError::EmptyPassword { registry: host });
        }
        let target = resolve_symlinks(&self.path)?;
        let mut config = read_for_update(&target)?.unwrap_or_default();
        let aliases = config.set_basic(&host, username, password);
        write_atomic(&target, &config)?;
        tracing::debug!(
            path = %target.display(),
            registry = %host,
            replaced_aliases = aliases,
            "stored pacto login credentials"
        );
        Ok(())
    }

    /// Removes `registry`'s entry (and entries under its aliases) (`pacto logout`).
    ///
    /// Returns whether anything was removed. A missing file, or one without an
    /// entry for the registry, is left as it is and gives `Ok(false)`.
    pub fn logout(&self, registry: &str) -> Result<bool, ConfigError> {
        let host = checked_registry(registry)?;
        let target = resolve_symlinks(&self.path)?;
        let Some(mut config) = read_for_update(&target)? else {
            return Ok(false);
        };
        let removed = config.remove(&host);
        if removed == 0 {
            return Ok(false);
        }
        write_atomic(&target, &config)?;
        tracing::debug!(
            path = %target.display(),
            registry = %host,
            removed,
            "removed pacto login credentials"
        );
        Ok(true)
    }
}

/// The normalised registry, or an error when nothing is left of it.
fn checked_registry(registry: &str) -> Result<String, ConfigError> {
    let host = normalize_registry(registry);
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::InvalidRegistry {
            registry: registry.to_owned(),
        });
    }
    Ok(host)
}

/// Parses and checks the file's shape: an object whose `auths` (if present and not
/// null) is an object of objects whose `auth` (if present and not null) is a string.
/// An empty file is an empty config.
fn parse_document(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>, ConfigError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|err| ConfigError::Parse {
        path: path.to_owned(),
        line: err.line(),
        column: err.column(),
        source: Box::new(err),
    })?;
    let format = |reason: String| ConfigError::Format {
        path: path.to_owned(),
        reason,
    };
    let Value::Object(root) = value else {
        return Err(format("the top level is not a JSON object".to_owned()));
    };
    match root.get("auths") {
        None | Some(Value::Null) => {}
        Some(Value::Object(auths)) => {
            for (key, entry) in auths {
                let Value::Object(entry) = entry else {
                    return Err(format(format!(
                        "the entry for {key:?} under \"auths\" is not a JSON object"
                    )));
                };
                if !matches!(
                    entry.get("auth"),
                    None | Some(Value::Null | Value::String(_))
                ) {
                    return Err(format(format!(
                        "the \"auth\" value of the entry for {key:?} is not a string"
                    )));
                }
            }
        }
        Some(_) => return Err(format("\"auths\" is not a JSON object".to_owned())),
    }
    Ok(root)
}

/// The checked document at `path`, `None` when the file does not exist; any other
/// failure to read or parse is an error (fail closed).
fn read_for_update(path: &Path) -> Result<Option<PactoConfig>, ConfigError> {
    match std::fs::read(path) {
        Ok(bytes) => PactoConfig::parse(path, &bytes).map(Some),
        Err(err) if is_absent(&err) => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Whether `err` says there is no file at the path: it does not exist, or a
/// component of its directory is not a directory (then creating the directory is
/// what fails, with the clearer error).
fn is_absent(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Follows `path` through symlinks to the file that holds the data (which may not
/// exist yet: a dangling link is written through to its target).
fn resolve_symlinks(path: &Path) -> Result<PathBuf, ConfigError> {
    let mut current = path.to_owned();
    for _ in 0..MAX_SYMLINK_HOPS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(|source| ConfigError::Read {
                    path: current.clone(),
                    source,
                })?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(err) if is_absent(&err) => return Ok(current),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: current,
                    source,
                });
            }
        }
    }
    Err(ConfigError::Read {
        path: path.to_owned(),
        source: io::Error::other("too many levels of symbolic links"),
    })
}

/// Replaces `target` with `config` atomically and privately: a 0600 file in the same
/// directory (0700 when created), synced, renamed over the target (pacto-fs' one policy).
fn write_atomic(target: &Path, config: &PactoConfig) -> Result<(), ConfigError> {
    let write_error = |source: io::Error| ConfigError::Write {
        path: target.to_owned(),
        source,
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    pacto_fs::create_dir_all(&dir, Mode::Private).map_err(|source| ConfigError::CreateDir {
        path: dir.clone(),
        source,
    })?;
    let mut bytes =
        serde_json::to_vec_pretty(config).map_err(|e| write_error(io::Error::other(e)))?;
    bytes.push(b'\n');
    let written = AtomicFile::create_in(&dir, Mode::Private).and_then(|mut file| {
        file.write_all(&bytes)?;
        file.commit(target)
    });
    // The buffer held credentials.
    bytes.iter_mut().for_each(|b| *b = 0);
    written.map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_name_the_key_not_the_value() {
        let path = Path::new("/nowhere/config.json");
        let table: [(&str, &str); 4] = [
            ("[]", "the top level is not a JSON object"),
            (r#"{"auths":"hunter2"}"#, "\"auths\" is not a JSON object"),
            (
                r#"{"auths":{"ghcr.io":"hunter2"}}"#,
                "the entry for \"ghcr.io\" under \"auths\" is not a JSON object",
            ),
            (
                r#"{"auths":{"ghcr.io":{"auth":["hunter2"]}}}"#,
                "the \"auth\" value of the entry for \"ghcr.io\" is not a string",
            ),
        ];
        for (input, want) in table {
            match parse_document(path, input.as_bytes()) {
                Err(ConfigError::Format { reason, .. }) => {
                    assert_eq!(reason, want, "input {input}");
                }
                other => panic!("input {input}: expected a format error, got {other:?}"),
            }
        }
    }

    #[test]
    fn empty_and_null_documents_are_empty() {
        let path = Path::new("/nowhere/config.json");
        for input in ["", "  \n", "{}", r#"{"auths":null}"#] {
            let root = parse_document(path, input.as_bytes());
            assert!(root.is_ok(), "input {input:?} should parse, got {root:?}");
        }
    }

    #[test]
    fn exact_key_wins_over_alias() {
        let doc = format!(
            r#"{{"auths":{{"docker.io":{{"auth":"{}"}},"index.docker.io":{{"auth":"{}"}}}}}}"#,
            basic::encode("old", &Secret::new("p1")).expose(),
            basic::encode("new", &Secret::new("p2")).expose(),
        );
        let config = PactoConfig::parse(Path::new("c.json"), doc.as_bytes()).unwrap();
        assert_eq!(
            config.credential("index.docker.io"),
            Some(Credential::basic("new", "p2"))
        );
    }
}
