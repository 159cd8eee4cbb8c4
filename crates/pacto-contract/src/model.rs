//! The typed Pacto v1 contract model (`pacto.yaml`).
//!
//! Field names follow the YAML spelling (`pactoVersion`, `dataCriticality`, ...). Every
//! struct keeps the keys it does not know in `extra`, so a contract written by a newer
//! Pacto still loads and serializes back with those keys intact.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Keys of a mapping that the model does not know, kept as JSON values.
pub type Extra = Map<String, Value>;

/// A parsed `pacto.yaml`: the root of the Pacto v1 contract model.
///
/// Only [`Contract::pacto_version`], [`Service::name`] and [`Service::version`] are
/// required (see [`crate::parse`]); every other section is optional so that partial or
/// newer contracts still load. Semantic validation (allowed values, cross references) is
/// not this crate's business.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    /// `pactoVersion`: the version of the Pacto specification the contract follows.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub pacto_version: String,
    /// `service`: the service's identity.
    #[serde(default, deserialize_with = "null_as_default")]
    pub service: Service,
    /// `interfaces`: the interfaces the service exposes.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub interfaces: Vec<Interface>,
    /// `configuration`: the service's configuration model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Configuration>,
    /// `dependencies`: other services this one depends on.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub dependencies: Vec<Dependency>,
    /// `runtime`: how the service behaves at runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    /// `scaling`: replica bounds (`replicas: n` is normalised to `min = max = n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Scaling>,
    /// `metadata`: free-form key/value data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Top-level keys this model does not know (kept, never rejected).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `service`: the identity of the service a contract describes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `service.name` (required).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: String,
    /// `service.version` (required), the semver of the service contract.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub version: String,
    /// `service.owner`: a team name, or the structured form newer Pacto versions write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// `service.image`: the container image that runs the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `service.owner`: Pacto v1 writes a string (`team/payments`); newer versions may write
/// a mapping (`{team, dri, contacts}`), which is kept as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Owner {
    /// The v1 form: a free-form owner string.
    Name(String),
    /// The structured form of newer Pacto versions, kept verbatim.
    Structured(Map<String, Value>),
}

impl Owner {
    /// The owner string of the v1 form; `None` for the structured form.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Owner::Name(name) => Some(name),
            Owner::Structured(_) => None,
        }
    }
}

/// `service.image`: the container image of the service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// `ref`: the image reference.
    #[serde(rename = "ref", default, deserialize_with = "null_as_empty")]
    pub reference: String,
    /// `private`: whether pulling the image needs credentials.
    #[serde(default, skip_serializing_if = "is_false")]
    pub private: bool,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An entry of `interfaces`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    /// `name`: the interface's name, referenced by `runtime.health.interface`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: String,
    /// `type`: `http`, `grpc` or `event` in Pacto v1.
    #[serde(rename = "type", default, deserialize_with = "null_as_empty")]
    pub kind: String,
    /// `port`: the port the interface listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `visibility`: `public` or `internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// `contract`: bundle-relative path of the interface contract (OpenAPI, proto, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `configuration`: the service's configuration model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// `schema`: bundle-relative path of the JSON Schema of the configuration.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub schema: String,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An entry of `dependencies`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// `ref`: the OCI reference of the dependency's contract bundle.
    #[serde(rename = "ref", default, deserialize_with = "null_as_empty")]
    pub reference: String,
    /// `required`: whether the service cannot run without it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// `compatibility`: the semver constraint the dependency must satisfy.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub compatibility: String,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `runtime`: how the service behaves at runtime.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runtime {
    /// `workload`: `service`, `job` or `scheduled`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub workload: String,
    /// `state`: the state semantics of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// `lifecycle`: upgrade and shutdown behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// `health`: the health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `runtime.state`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// `type`: `stateless`, `stateful` or `hybrid`.
    #[serde(rename = "type", default, deserialize_with = "null_as_empty")]
    pub kind: String,
    /// `persistence`: where and how long state lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    /// `dataCriticality`: `low`, `medium` or `high`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub data_criticality: String,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `runtime.state.persistence`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persistence {
    /// `scope`: `local` or `shared`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub scope: String,
    /// `durability`: `ephemeral` or `persistent`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub durability: String,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `runtime.lifecycle`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    /// `upgradeStrategy`: `rolling`, `recreate` or `ordered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_strategy: Option<String>,
    /// `gracefulShutdownSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_shutdown_seconds: Option<u32>,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `runtime.health`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `interface`: the name of the interface that serves the check.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub interface: String,
    /// `path`: the HTTP path of the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `initialDelaySeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `scaling`: replica bounds.
///
/// The YAML may say `replicas: n` (fixed size) or `min`/`max`; both are read into
/// `min`/`max` (`replicas: 3` becomes `min = max = 3`) and written back as `min`/`max`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "RawScaling")]
pub struct Scaling {
    /// `min` (or `replicas`).
    pub min: u32,
    /// `max` (or `replicas`).
    pub max: u32,
    /// Keys this model does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `scaling` as written, before `replicas` is normalised.
#[derive(Deserialize)]
struct RawScaling {
    #[serde(default)]
    replicas: Option<u32>,
    #[serde(default)]
    min: Option<u32>,
    #[serde(default)]
    max: Option<u32>,
    #[serde(flatten)]
    extra: Extra,
}

impl TryFrom<RawScaling> for Scaling {
    type Error = String;

    fn try_from(raw: RawScaling) -> Result<Self, Self::Error> {
        let (min, max) = match (raw.replicas, raw.min, raw.max) {
            (Some(n), None, None) => (n, n),
            (Some(n), min, max) if min.unwrap_or(n) == n && max.unwrap_or(n) == n => (n, n),
            (Some(n), min, max) => {
                return Err(format!(
                    "replicas ({n}) disagrees with min/max ({}/{}); give either replicas or min and max",
                    show(min),
                    show(max)
                ));
            }
            (None, Some(min), Some(max)) => (min, max),
            (None, min, max) => {
                return Err(format!(
                    "scaling needs replicas, or both min and max (min: {}, max: {})",
                    show(min),
                    show(max)
                ));
            }
        };
        Ok(Scaling {
            min,
            max,
            extra: raw.extra,
        })
    }
}

fn show(value: Option<u32>) -> String {
    value.map_or_else(|| "unset".to_owned(), |v| v.to_string())
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Reads a string that may be missing or `null`; both become the empty string, which the
/// required-field check then reports with its path (as Go pacto does).
fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a value that may be `null`, which becomes the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
