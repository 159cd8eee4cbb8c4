//! `Client::push_dir`: a bundle directory pushed from a packed scratch file has the manifest
//! digest, status and request counts of the same directory read into a `Bundle` and pushed,
//! leaves no scratch file behind, and is refused as the directory read refuses it.

use crate::{runtime, source_chain};
use pacto_oci::{Bundle, Client, ErrorKind, PushStatus};
use pacto_test_support::TestRegistry;
use std::path::Path;

fn write_dir(root: &Path, files: &[(&str, &[u8])]) {
    for (path, bytes) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

const YAML: &str = "pactoVersion: \"1.0\"\nservice:\n  name: payments\n  version: 1.2.0\n\
                    interfaces:\n  - name: api\n    type: http\n    port: 8080\n    contract: api/openapi.yaml\n";

/// The registry's requests, method, path shape and status, with upload requests sorted
/// (config and layer go up concurrently) and the repository name dropped.
fn shape(registry: &TestRegistry, repository: &str) -> Vec<String> {
    let mut lines: Vec<String> = registry
        .requests()
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or_default();
            let path = path.replace(repository, "<repo>");
            let path = match path.find("/blobs/uploads/") {
                Some(i) if path.len() > i + "/blobs/uploads/".len() => {
                    format!("{}/blobs/uploads/<id>", &path[..i])
                }
                _ => path,
            };
            format!("{} {} {}", r.method, path, r.status)
        })
        .collect();
    let uploads: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].contains("/blobs/uploads/"))
        .collect();
    if let (Some(first), Some(last)) = (uploads.first(), uploads.last()) {
        lines[*first..=*last].sort();
    }
    lines
}

#[test]
fn push_dir_pushes_as_push_of_the_bundle_read_from_the_directory() {
    let registry = TestRegistry::plain();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("bundle");
    write_dir(
        &dir,
        &[
            ("pacto.yaml", YAML.as_bytes()),
            ("api/openapi.yaml", b"openapi: 3.0.0\n"),
            ("docs/readme.md", b"# payments\n"),
        ],
    );
    let cache = temp.path().join("cache");
    let client = Client::builder().cache_dir(&cache).build().unwrap();
    let rt = runtime();
    let bundle = Bundle::from_dir_with_limits(&dir, client.limits()).unwrap();
    let layout = |name: &str| format!("oci-layout:{}", temp.path().join(name).display());
    let targets = [
        (
            format!("{}/team/from-dir", registry.host()),
            format!("{}/team/from-bundle", registry.host()),
        ),
        (layout("from-dir"), layout("from-bundle")),
    ];
    for (from_dir, from_bundle) in targets {
        registry.clear_requests();
        let pushed = rt
            .block_on(client.push_dir(&dir, &from_dir, false))
            .unwrap();
        let dir_requests = shape(&registry, "team/from-dir");
        registry.clear_requests();
        let expected = rt
            .block_on(client.push(&from_bundle, &bundle, false))
            .unwrap();
        let bundle_requests = shape(&registry, "team/from-bundle");
        assert_eq!(pushed.status, PushStatus::Pushed, "{from_dir}");
        assert_eq!(pushed.digest, expected.digest, "{from_dir}: same manifest");
        assert_eq!(pushed.reference.tag(), Some("1.2.0"), "{from_dir}");
        assert_eq!(dir_requests, bundle_requests, "{from_dir}: same requests");
        if !from_dir.starts_with("oci-layout:") {
            assert_eq!(dir_requests.len(), 7, "{dir_requests:?}");
        }
        let again = rt
            .block_on(client.push_dir(&dir, &from_dir, false))
            .unwrap();
        assert_eq!(again.status, PushStatus::Unchanged, "{from_dir}");
        let pulled = rt
            .block_on(client.pull(
                &format!("{from_dir}:1.2.0"),
                "",
                pacto_oci::ResolveMode::RemoteAllowed,
            ))
            .unwrap();
        assert_eq!(pulled.bundle.files(), bundle.files(), "{from_dir}");
    }
    // The layer is packed in the cache's tmp directory, and goes with its value.
    let tmp = cache.join("v1").join("tmp");
    let mut reported = 0;
    let packed = rt
        .block_on(client.pack_dir(&dir, |n| reported += n))
        .unwrap();
    assert_eq!(reported, bundle.total_size());
    assert_eq!((packed.name(), packed.version()), ("payments", "1.2.0"));
    assert_eq!(packed.files(), 3);
    let path = packed.layer().path.clone();
    assert!(path.starts_with(&tmp), "{}", path.display());
    assert!(path.is_file());
    drop(packed);
    assert!(!path.exists());
    // The scratch files of the pushes went with them too.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|list| list.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", tmp.display());
}

#[test]
fn push_dir_refuses_what_reading_the_directory_refuses() {
    let registry = TestRegistry::plain();
    let temp = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .cache_dir(temp.path().join("cache"))
        .build()
        .unwrap();
    let rt = runtime();
    let target = format!("{}/team/refused", registry.host());

    // A contract naming a file the directory lacks: refused as push refuses the bundle.
    let missing = temp.path().join("missing");
    write_dir(&missing, &[("pacto.yaml", YAML.as_bytes())]);
    let bundle = Bundle::from_dir(&missing).unwrap();
    let expected = rt
        .block_on(client.push(&target, &bundle, false))
        .unwrap_err();
    registry.clear_requests();
    let error = rt
        .block_on(client.push_dir(&missing, &target, false))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidBundle);
    assert_eq!(
        error.to_string() + &source_chain(&error),
        expected.to_string() + &source_chain(&expected)
    );

    // A symbolic link and a missing pacto.yaml: from_dir's errors, as the source.
    let linked = temp.path().join("linked");
    write_dir(&linked, &[("pacto.yaml", YAML.as_bytes())]);
    std::os::unix::fs::symlink("/etc/hostname", linked.join("link")).unwrap();
    let bare = temp.path().join("bare");
    write_dir(&bare, &[("readme.md", b"no contract")]);
    for dir in [&linked, &bare] {
        let expected = pacto_oci::Error::from(Bundle::from_dir(dir).unwrap_err());
        let error = rt
            .block_on(client.push_dir(dir, &target, false))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidBundle, "{}", dir.display());
        assert_eq!(
            error.to_string() + &source_chain(&error),
            expected.to_string() + &source_chain(&expected)
        );
    }
    assert_eq!(registry.requests(), [], "a refused push sent requests");
}
