//! `pacto.yaml` parsing: bounded YAML into [`Contract`], with typed errors.

use crate::model::Contract;
use serde_saphyr::{DefaultMessageFormatter, Error as YamlError, MessageFormatter};

/// Alias replay allowed on top of one event per input byte (the billion-laughs bound).
///
/// Replaying an alias re-emits the anchored events, so a few hundred bytes of nested
/// aliases can ask for billions of events. Replays are capped at this many events plus the
/// input length: a contract that uses anchors normally stays far below it, a bomb is
/// refused after a few milliseconds and a few megabytes.
pub const ALIAS_REPLAY_BUDGET: usize = 100_000;

/// Nesting depth (mappings and sequences) a `pacto.yaml` may use.
pub const MAX_DEPTH: usize = 64;

/// Errors from [`parse`]: why a `pacto.yaml` is not a Pacto contract.
///
/// Lines and columns are 1-based; 0 means the parser could not tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The bytes are not UTF-8.
    #[error("pacto.yaml is not valid UTF-8 (invalid byte at offset {offset}); save it as UTF-8")]
    #[non_exhaustive]
    NotUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// The YAML does not parse, or its root is not a mapping.
    #[error("parse error at line {line}, column {column}: {message}")]
    #[non_exhaustive]
    Syntax {
        /// 1-based line of the error.
        line: u64,
        /// 1-based column of the error.
        column: u64,
        /// What the YAML parser reported.
        message: String,
    },
    /// A required field is missing, `null` or empty.
    #[error("parse error at {path}: {path} is required")]
    #[non_exhaustive]
    MissingField {
        /// Dotted path of the field, e.g. `service.name`.
        path: String,
    },
    /// A field has the wrong type or an invalid value.
    #[error("parse error at {path} (line {line}, column {column}): {message}")]
    #[non_exhaustive]
    InvalidField {
        /// Path of the field, e.g. `interfaces[0].port`.
        path: String,
        /// 1-based line of the error.
        line: u64,
        /// 1-based column of the error.
        column: u64,
        /// What is wrong with the value.
        message: String,
    },
    /// The document crossed a parsing bound: alias expansion (billion laughs), nesting
    /// depth, or node count.
    #[error(
        "pacto.yaml is too complex to parse safely (line {line}, column {column}): {message}; \
         reduce alias use or nesting"
    )]
    #[non_exhaustive]
    TooComplex {
        /// 1-based line where the bound was crossed.
        line: u64,
        /// 1-based column where the bound was crossed.
        column: u64,
        /// Which bound was crossed.
        message: String,
    },
}

/// Parses a `pacto.yaml` into a [`Contract`].
///
/// - Required: `pactoVersion`, `service.name`, `service.version`; a missing, `null` or
///   empty value is [`ContractError::MissingField`] naming its path.
/// - Unknown keys are kept in the `extra` maps, never rejected.
/// - `scaling.replicas: n` is normalised to `min = max = n`.
/// - Parsing is bounded: alias replay is capped at [`ALIAS_REPLAY_BUDGET`] events plus
///   one per input byte, nesting at [`MAX_DEPTH`], and node and event counts grow with the
///   input size, so the cost stays proportional to the input.
///
/// ```
/// let yaml = b"pactoVersion: '1.0'\nservice:\n  name: payments\n  version: 1.2.0\n";
/// let contract = pacto_contract::parse(yaml).unwrap();
/// assert_eq!(contract.service.name, "payments");
///
/// let err = pacto_contract::parse(b"pactoVersion: '1.0'\nservice:\n  version: 1.0.0\n").unwrap_err();
/// assert_eq!(err.to_string(), "parse error at service.name: service.name is required");
/// ```
pub fn parse(bytes: &[u8]) -> Result<Contract, ContractError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ContractError::NotUtf8 {
            offset: e.valid_up_to(),
        });
    }
    let mut failed_at: Option<String> = None;
    let parsed = serde_saphyr::with_deserializer_from_slice_with_options(
        bytes,
        options(bytes.len()),
        |de| {
            serde_path_to_error::deserialize::<_, Contract>(de).map_err(|e| {
                failed_at = Some(e.path().to_string());
                e.into_inner()
            })
        },
    );
    let contract = parsed.map_err(|e| classify(e, failed_at.as_deref()))?;
    check_required(&contract)?;
    Ok(contract)
}

impl Contract {
    /// Parses a `pacto.yaml`; see [`parse`].
    pub fn parse(bytes: &[u8]) -> Result<Contract, ContractError> {
        parse(bytes)
    }
}

fn check_required(contract: &Contract) -> Result<(), ContractError> {
    let required = [
        ("pactoVersion", &contract.pacto_version),
        ("service.name", &contract.service.name),
        ("service.version", &contract.service.version),
    ];
    match required.into_iter().find(|(_, value)| value.is_empty()) {
        Some((path, _)) => Err(ContractError::MissingField {
            path: path.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Parser options whose bounds grow with the input, so that only aliases can amplify.
fn options(len: usize) -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_events: len.max(1_000_000),
            max_nodes: (len / 2).max(250_000),
            // The replay cap below bounds the real cost of aliases; the ratio heuristic
            // would refuse a legitimate anchor reused a hundred times.
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: ALIAS_REPLAY_BUDGET.saturating_add(len),
        },
        with_snippet: false,
    }
}

fn classify(err: YamlError, path: Option<&str>) -> ContractError {
    let err = match err {
        YamlError::AliasError { error, .. } => *error,
        other => other,
    };
    let (line, column) = err
        .location()
        .map_or((0, 0), |loc| (loc.line(), loc.column()));
    let message = clean(&DefaultMessageFormatter.format_message(&err));
    match &err {
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => ContractError::TooComplex {
            line,
            column,
            message,
        },
        YamlError::Message { .. }
        | YamlError::SerdeInvalidType { .. }
        | YamlError::SerdeInvalidValue { .. }
        | YamlError::SerdeInvalidLength { .. }
        | YamlError::SerdeUnknownVariant { .. }
        | YamlError::SerdeMissingField { .. }
        | YamlError::Unexpected { .. }
        | YamlError::NullIntoString { .. }
        | YamlError::InvalidScalar { .. }
        | YamlError::InvalidBooleanStrict { .. }
        | YamlError::NonFiniteFloat { .. }
            if path.is_some_and(|p| p != ".") =>
        {
            ContractError::InvalidField {
                path: path.unwrap_or_default().to_owned(),
                line,
                column,
                message,
            }
        }
        _ => ContractError::Syntax {
            line,
            column,
            message,
        },
    }
}

/// Parser messages may quote the input: keep them on one line.
fn clean(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
