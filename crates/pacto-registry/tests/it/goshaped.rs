//! Artifacts shaped by others, placed by raw HTTP: what Go pacto pushes pulls fine, and
//! broken ones are typed invalid bundles.

use crate::common::{assert_kind, bundle, client, reference, runtime};
use pacto_registry::{BundleStore, ErrorKind, PushOptions};
use pacto_test_support::{TestRegistry, digest, push_raw};
use std::io::Write as _;

/// A ustar header + data for `name` (a directory when `data` is None), as Go's archive/tar
/// writes them: mode 0644/0755, mtime 0, uid/gid 0.
fn tar_entry(out: &mut Vec<u8>, name: &str, data: Option<&[u8]>) {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let (mode, size, kind) = match data {
        Some(d) => ("0000644", d.len(), b'0'),
        None => ("0000755", 0, b'5'),
    };
    let octal =
        |field: &mut [u8], value: String| field[..value.len()].copy_from_slice(value.as_bytes());
    octal(&mut header[100..108], format!("{mode}\0"));
    octal(&mut header[108..116], "0000000\0".into());
    octal(&mut header[116..124], "0000000\0".into());
    octal(&mut header[124..136], format!("{size:011o}\0"));
    octal(&mut header[136..148], "00000000000\0".into());
    header[156] = kind;
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    octal(&mut header[148..156], format!("{sum:06o}\0 "));
    out.extend_from_slice(&header);
    if let Some(data) = data {
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
}

fn gzip_level_1(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Pushes a Go-pacto-shaped artifact: Docker config media type inside an OCI manifest,
/// `created` timestamps in the config, a level-1 gzip layer with `./` names and directory
/// entries. Returns the manifest digest.
fn push_go_shaped(
    registry: &TestRegistry,
    repository: &str,
    files: &[(&str, Option<&[u8]>)],
) -> String {
    let mut tar = Vec::new();
    for (name, data) in files {
        tar_entry(&mut tar, name, *data);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let layer = gzip_level_1(&tar);
    let config = format!(
        r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{"Labels":{{"io.pacto.name":"payments","io.pacto.pactoVersion":"1.0","io.pacto.version":"1.0.0"}}}}}}"#,
        digest(&tar)
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{}"}},"layers":[{{"mediaType":"application/vnd.pacto.bundle.layer.v1.tar+gzip","size":{},"digest":"{}"}}]}}"#,
        config.len(),
        digest(config.as_bytes()),
        layer.len(),
        digest(&layer)
    );
    push_raw(
        registry,
        repository,
        "1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
        &[config.as_bytes(), &layer],
        None,
    )
}

const YAML: &[u8] = b"pactoVersion: \"1.0\"\nservice:\n  name: payments\n  version: 1.0.0\n";

#[test]
fn a_go_pacto_artifact_pulls_fine() {
    let registry = TestRegistry::plain();
    let pushed = push_go_shaped(
        &registry,
        "go/payments",
        &[
            ("./", None),
            ("./api", None),
            ("./api/openapi.yaml", Some(b"openapi: 3.0.0\n")),
            ("./pacto.yaml", Some(YAML)),
        ],
    );
    let pulled = runtime()
        .block_on(client().pull_pinned(&reference(&format!(
            "{}/go/payments:1.0.0",
            registry.host()
        ))))
        .expect("a Go-shaped artifact pulls");
    assert_eq!(pulled.digest, pushed);
    assert_eq!(pulled.bundle.name(), "payments");
    let names: Vec<&str> = pulled.bundle.files().keys().map(|p| p.as_str()).collect();
    assert_eq!(names, ["api/openapi.yaml", "pacto.yaml"]);
}

#[test]
fn an_artifact_without_pacto_yaml_is_an_invalid_bundle() {
    let registry = TestRegistry::plain();
    push_go_shaped(
        &registry,
        "go/empty",
        &[("./README.md", Some(b"no contract"))],
    );
    let error = assert_kind(
        runtime()
            .block_on(client().pull(&reference(&format!("{}/go/empty:1.0.0", registry.host())))),
        ErrorKind::InvalidBundle,
    );
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("pacto.yaml")),
        "{error}: {cause:?}"
    );
}

#[test]
fn a_corrupt_blob_in_the_registry_storage_is_refused() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let target = reference(&format!("{}/team/payments:1.0.0", registry.host()));
    rt.block_on(client().push(
        &target,
        &bundle("payments", "1.0.0"),
        PushOptions::default(),
    ))
    .expect("push");
    let layer_digest = rt
        .block_on(client().pull_pinned(&target))
        .expect("pull")
        .layer_digest;
    let path = registry.blob_path(&layer_digest);
    let mut bytes = std::fs::read(&path).expect("blob in storage");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let error = assert_kind(
        rt.block_on(client().pull(&target)),
        ErrorKind::InvalidBundle,
    );
    assert!(error.to_string().contains("digest mismatch"), "{error}");
}
