//! Fixtures shared by the tests.

use bytes::Bytes;
use pacto_contract::Bundle;
use pacto_ref::{ArtifactRef, ParseOptions};
use pacto_registry::{RegistryClient, StoreError};
use pacto_test_support::LoggedRequest;
use std::collections::BTreeMap;

/// A multi-file bundle for `name` at `version`.
pub(crate) fn bundle(name: &str, version: &str) -> Bundle {
    let yaml = format!(
        "pactoVersion: \"1.0\"\nservice:\n  name: {name}\n  version: {version}\n  owner: team-payments\n\
         interfaces:\n  - name: api\n    type: http\n    port: 8080\n    contract: api/openapi.yaml\n"
    );
    let mut files = BTreeMap::new();
    files.insert("pacto.yaml".to_owned(), Bytes::from(yaml));
    files.insert(
        "api/openapi.yaml".to_owned(),
        Bytes::from_static(
            b"openapi: 3.0.0\ninfo:\n  title: payments\n  version: 1.0.0\npaths: {}\n",
        ),
    );
    files.insert(
        "schemas/config.schema.json".to_owned(),
        Bytes::from_static(b"{\"type\":\"object\"}\n"),
    );
    files.insert(
        "README.md".to_owned(),
        Bytes::from(format!("# {name} {version}\n")),
    );
    Bundle::from_files(files).expect("fixture bundle is valid")
}

pub(crate) fn reference(text: &str) -> ArtifactRef {
    ArtifactRef::parse(text, &ParseOptions::untagged()).expect("test reference parses")
}

pub(crate) fn client() -> RegistryClient {
    RegistryClient::builder().build().expect("client builds")
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `METHOD path-without-query status` for each request, for exact comparisons.
pub(crate) fn summary(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or_default();
            // Upload session ids differ per run; keep the shape.
            let path = match path.find("/blobs/uploads/") {
                Some(i) if path.len() > i + "/blobs/uploads/".len() => {
                    format!("{}/blobs/uploads/<id>", &path[..i])
                }
                _ => path.to_owned(),
            };
            let path = shorten_digests(&path);
            format!("{} {} {}", r.method, path, r.status)
        })
        .collect()
}

/// `summary` with its blob upload requests (`/blobs/uploads/`) sorted in place: a push
/// uploads the config and the layer concurrently, so their requests interleave in any order.
pub(crate) fn uploads_sorted(mut summary: Vec<String>) -> Vec<String> {
    let is_upload = |line: &String| line.contains("/blobs/uploads/");
    if let (Some(first), Some(last)) = (
        summary.iter().position(is_upload),
        summary.iter().rposition(is_upload),
    ) {
        summary[first..=last].sort();
    }
    summary
}

fn shorten_digests(path: &str) -> String {
    match path.find("sha256:") {
        Some(i) => format!(
            "{}sha256:<d>{}",
            &path[..i],
            &path[(i + 71).min(path.len())..]
        ),
        None => path.to_owned(),
    }
}

pub(crate) fn assert_kind(
    result: Result<impl std::fmt::Debug, StoreError>,
    kind: pacto_registry::ErrorKind,
) -> StoreError {
    match result {
        Ok(value) => panic!("expected a {kind} error, got {value:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong kind for: {e}");
            e
        }
    }
}
