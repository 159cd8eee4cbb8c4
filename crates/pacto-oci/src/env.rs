//! The `PACTO_*` environment, read and parsed in this one place: by
//! [`ClientBuilder::from_env`](crate::ClientBuilder::from_env) and by the `pacto-oci` CLI
//! (which lays its flags over the [`Settings`] it reads here), so a variable means the same
//! to both.
//!
//! An empty value (or only spaces) counts as unset, as in Go pacto. A value that is set but
//! cannot be used is an error ([`InvalidSetting`]), never silently ignored. The credential
//! variables (`PACTO_REGISTRY_USERNAME`, `PACTO_REGISTRY_PASSWORD`, `PACTO_REGISTRY_TOKEN`,
//! `PACTO_REGISTRY_HOSTS`) belong to the keychain: see
//! [`CredentialOptions::from_env`](pacto_auth::CredentialOptions::from_env).

use pacto_registry::{InvalidDuration, parse_duration};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// `PACTO_NO_CACHE`: do not read the disk cache (a switch, see [`parse_switch`]).
pub const NO_CACHE: &str = "PACTO_NO_CACHE";
/// `PACTO_CACHE_DIR`: the cache root.
pub const CACHE_DIR: &str = "PACTO_CACHE_DIR";
/// `PACTO_INSECURE_REGISTRIES`: hosts spoken to over plain HTTP (a comma list).
pub const INSECURE_REGISTRIES: &str = "PACTO_INSECURE_REGISTRIES";
/// `PACTO_CA_FILE`: extra trusted root certificates (PEM).
pub const CA_FILE: &str = "PACTO_CA_FILE";
/// `PACTO_CONCURRENCY`: parallel pulls of a fetch-all (see [`parse_concurrency`]).
pub const CONCURRENCY: &str = "PACTO_CONCURRENCY";
/// `PACTO_TIMEOUT`: the bound on each operation (`500ms`, `30s`, `5m`, `1h30m`).
pub const TIMEOUT: &str = "PACTO_TIMEOUT";
/// `PACTO_REGISTRY_MIRRORS`: `REGISTRY=MIRROR` entries (a comma list, see [`parse_mirror`]).
pub const MIRRORS: &str = "PACTO_REGISTRY_MIRRORS";
/// `PACTO_MIRROR_DIGESTS_ONLY`: take only content named by digest from mirrors (a switch).
pub const MIRROR_DIGESTS_ONLY: &str = "PACTO_MIRROR_DIGESTS_ONLY";

/// A value that does not have the form its setting needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {expected}")]
#[non_exhaustive]
pub struct InvalidValue {
    /// The value as given.
    pub value: String,
    /// What was expected instead.
    pub expected: &'static str,
}

impl InvalidValue {
    fn new(value: &str, expected: &'static str) -> Self {
        InvalidValue {
            value: value.to_owned(),
            expected,
        }
    }
}

/// Why a value was refused: the source of an [`InvalidSetting`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingProblem {
    /// A switch, number, mirror or text that does not have the form needed.
    #[error(transparent)]
    Value(#[from] InvalidValue),
    /// A duration that does not parse.
    #[error(transparent)]
    Duration(#[from] InvalidDuration),
}

/// A `PACTO_*` variable is set to a value that cannot be used; the source says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name}")]
#[non_exhaustive]
pub struct InvalidSetting {
    /// The variable (`PACTO_CONCURRENCY`, ...).
    pub name: &'static str,
    /// What is wrong with its value.
    #[source]
    pub problem: SettingProblem,
}

const SWITCH: &str = "on or off (1, true, yes, on; 0, false, no, off)";
const CONCURRENCY_FORM: &str =
    "a number of parallel transfers (a whole number of at least 1, such as 8)";
const MIRROR_FORM: &str = "REGISTRY=MIRROR (e.g. docker.io=mirror.corp:5000)";
const TEXT: &str = "UTF-8 text";

/// A switch: `1`, `true`, `yes`, `on` (also `y`, `t`) are on; `0`, `false`, `no`, `off`
/// (also `n`, `f`) are off; case and surrounding spaces do not matter.
pub fn parse_switch(value: &str) -> Result<bool, InvalidValue> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        "0" | "false" | "no" | "off" | "n" | "f" => Ok(false),
        _ => Err(InvalidValue::new(value, SWITCH)),
    }
}

/// A number of parallel transfers: a whole number (0 counts as 1, as
/// [`ClientBuilder::concurrency`](crate::ClientBuilder::concurrency) takes it).
pub fn parse_concurrency(value: &str) -> Result<usize, InvalidValue> {
    // 0 transfers at a time would never finish.
    match value.trim().parse() {
        Ok(0) | Err(_) => Err(InvalidValue::new(value, CONCURRENCY_FORM)),
        Ok(n) => Ok(n),
    }
}

/// `REGISTRY=MIRROR`, both sides non-empty (as `--mirror` and `PACTO_REGISTRY_MIRRORS` take
/// it); the sides are trimmed.
pub fn parse_mirror(entry: &str) -> Result<(String, String), InvalidValue> {
    match entry.split_once('=') {
        Some((registry, mirror)) if !registry.trim().is_empty() && !mirror.trim().is_empty() => {
            Ok((registry.trim().to_owned(), mirror.trim().to_owned()))
        }
        _ => Err(InvalidValue::new(entry, MIRROR_FORM)),
    }
}

/// A comma list: entries trimmed, empty ones dropped.
pub fn parse_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The settings a `PACTO_*` environment gives, each `None` (or empty) when its variable is
/// unset. The CLI overrides fields with its flags before handing them to
/// [`ClientBuilder::settings`](crate::ClientBuilder::settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// [`NO_CACHE`].
    pub no_cache: Option<bool>,
    /// [`CACHE_DIR`].
    pub cache_dir: Option<PathBuf>,
    /// [`INSECURE_REGISTRIES`].
    pub insecure_hosts: Vec<String>,
    /// [`CA_FILE`].
    pub ca_file: Option<PathBuf>,
    /// [`CONCURRENCY`].
    pub concurrency: Option<usize>,
    /// [`TIMEOUT`].
    pub timeout: Option<Duration>,
    /// [`MIRRORS`], `(registry, mirror)` in order.
    pub mirrors: Vec<(String, String)>,
    /// [`MIRROR_DIGESTS_ONLY`].
    pub mirror_digests_only: Option<bool>,
}

impl Settings {
    /// The settings of the process environment.
    pub fn from_env() -> Result<Settings, InvalidSetting> {
        Settings::from_lookup(|name| std::env::var_os(name))
    }

    /// The settings `lookup` gives (a variable's value, `None` when unset): for tests and
    /// for programs that keep their configuration elsewhere.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, InvalidSetting> {
        let env = Lookup(&lookup);
        let switch = |name| env.parsed(name, |v| Ok(parse_switch(v)?));
        Ok(Settings {
            no_cache: switch(NO_CACHE)?,
            cache_dir: env.set(CACHE_DIR).map(PathBuf::from),
            insecure_hosts: env
                .parsed(INSECURE_REGISTRIES, |v| Ok(parse_list(v)))?
                .unwrap_or_default(),
            ca_file: env.set(CA_FILE).map(PathBuf::from),
            concurrency: env.parsed(CONCURRENCY, |v| Ok(parse_concurrency(v)?))?,
            timeout: env.parsed(TIMEOUT, |v| Ok(parse_duration(v)?))?,
            mirrors: env
                .parsed(MIRRORS, |list| {
                    let entries = parse_list(list).into_iter();
                    Ok(entries
                        .map(|e| parse_mirror(&e))
                        .collect::<Result<_, _>>()?)
                })?
                .unwrap_or_default(),
            mirror_digests_only: switch(MIRROR_DIGESTS_ONLY)?,
        })
    }
}

/// The variables as a lookup gives them.
struct Lookup<'a>(&'a dyn Fn(&str) -> Option<OsString>);

impl Lookup<'_> {
    /// The value of `name`; empty or blank counts as unset.
    fn set(&self, name: &str) -> Option<OsString> {
        (self.0)(name).filter(|value| !value.to_string_lossy().trim().is_empty())
    }

    /// The value of `name` as `parse` reads it (which sees UTF-8 text only).
    fn parsed<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, SettingProblem>,
    ) -> Result<Option<T>, InvalidSetting> {
        let Some(value) = self.set(name) else {
            return Ok(None);
        };
        let problem = match value.into_string() {
            Ok(text) => match parse(&text) {
                Ok(parsed) => return Ok(Some(parsed)),
                Err(problem) => problem,
            },
            Err(value) => InvalidValue::new(&value.to_string_lossy(), TEXT).into(),
        };
        Err(InvalidSetting { name, problem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, InvalidSetting> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn switches_read_on_and_off_words_alike() {
        for on in ["1", "true", "YES", " on ", "y", "T"] {
            assert_eq!(parse_switch(on), Ok(true), "{on:?}");
        }
        for off in ["0", "false", "No", "OFF", "n", "f"] {
            assert_eq!(parse_switch(off), Ok(false), "{off:?}");
        }
        let error = parse_switch("maybe").unwrap_err();
        assert_eq!(error.value, "maybe");
        assert!(error.to_string().contains("on or off"), "{error}");
    }

    #[test]
    fn unset_and_empty_variables_leave_everything_unset() {
        assert_eq!(settings(&[]), Ok(Settings::default()));
        let empty: Vec<_> = [NO_CACHE, CACHE_DIR, CONCURRENCY, TIMEOUT, MIRRORS]
            .into_iter()
            .map(|name| (name, "  "))
            .collect();
        assert_eq!(settings(&empty), Ok(Settings::default()));
    }

    #[test]
    fn every_variable_is_read() {
        let read = settings(&[
            (NO_CACHE, "on"),
            (CACHE_DIR, "/tmp/cache"),
            (INSECURE_REGISTRIES, "a:5000, ,b:5000"),
            (CA_FILE, "/etc/ca.pem"),
            (CONCURRENCY, " 3 "),
            (TIMEOUT, "1m30s"),
            (MIRRORS, "docker.io=m1:5000,ghcr.io = m2:5000"),
            (MIRROR_DIGESTS_ONLY, "off"),
        ])
        .expect("valid");
        assert_eq!(read.no_cache, Some(true));
        assert_eq!(read.cache_dir, Some(PathBuf::from("/tmp/cache")));
        assert_eq!(read.insecure_hosts, ["a:5000", "b:5000"]);
        assert_eq!(read.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(read.concurrency, Some(3));
        assert_eq!(read.timeout, Some(Duration::from_secs(90)));
        assert_eq!(
            read.mirrors,
            [
                ("docker.io".to_owned(), "m1:5000".to_owned()),
                ("ghcr.io".to_owned(), "m2:5000".to_owned())
            ]
        );
        assert_eq!(read.mirror_digests_only, Some(false));
    }

    #[test]
    fn an_unusable_value_is_an_error_naming_its_variable() {
        for (name, value, says) in [
            (CONCURRENCY, "eight", "a number of parallel transfers"),
            (CONCURRENCY, "-1", "a number of parallel transfers"),
            (NO_CACHE, "maybe", "on or off"),
            (MIRROR_DIGESTS_ONLY, "2", "on or off"),
            (TIMEOUT, "5", "e.g. 500ms, 30s, 5m, 1h30m"),
            (MIRRORS, "docker.io=m:5000,nothing", "REGISTRY=MIRROR"),
        ] {
            let error = settings(&[(name, value)]).unwrap_err();
            assert_eq!(error.name, name);
            assert_eq!(error.to_string(), format!("invalid {name}"));
            let source = std::error::Error::source(&error)
                .expect("a source")
                .to_string();
            assert!(source.contains(says), "{name}={value}: {source}");
        }
    }
}
