//! The bundles the comparison moves around, made on disk from the demo bundle.

use std::path::{Path, PathBuf};

/// Bytes of each generated data file of the large bundle: exactly Go pacto's per-file limit.
const DATA_FILE: usize = 10 * 1024 * 1024;
/// Data files in the large bundle (40 MiB of data, under the 50 MiB total limit).
const DATA_FILES: usize = 4;

/// The demo bundle (`examples/bundles/payments-1.0.0`).
pub(crate) fn demo_bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles/payments-1.0.0")
}

/// Copies the directory tree `from` to `to` (regular files and directories only).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot stat {}: {e}", entry.path().display()))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// The demo bundle with `service.version` set to `version`, at `to`.
pub(crate) fn versioned_bundle(to: &Path, version: &str) -> Result<(), String> {
    copy_dir(&demo_bundle(), to)?;
    let manifest = to.join("pacto.yaml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let original = "  version: 1.0.0\n";
    if !text.contains(original) {
        return Err(format!(
            "{} no longer holds `{}`: update the bench fixture",
            manifest.display(),
            original.trim()
        ));
    }
    let text = text.replacen(original, &format!("  version: {version}\n"), 1);
    std::fs::write(&manifest, text).map_err(|e| format!("cannot write {}: {e}", manifest.display()))
}

/// The demo bundle plus 40 MiB of incompressible data in `data/`, at `to`: the layer is as
/// large on the wire as on disk.
pub(crate) fn large_bundle(to: &Path) -> Result<(), String> {
    data_bundle(to, DATA_FILES, DATA_FILE)
}

/// The demo bundle plus 4 MiB of incompressible data: the small end of the memory rows,
/// which show that peak memory does not grow with the bundle.
pub(crate) fn medium_bundle(to: &Path) -> Result<(), String> {
    data_bundle(to, 1, 4 * 1024 * 1024)
}

/// The demo bundle plus `files` files of `size` incompressible bytes in `data/`.
fn data_bundle(to: &Path, files: usize, size: usize) -> Result<(), String> {
    copy_dir(&demo_bundle(), to)?;
    let data = to.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for index in 0..files {
        let mut bytes = Vec::with_capacity(size + 8);
        while bytes.len() < size {
            // splitmix64: deterministic, fast, and incompressible for gzip.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        bytes.truncate(size);
        let file = data.join(format!("part-{index}.bin"));
        std::fs::write(&file, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    Ok(())
}

/// Regular files under `dir` and their total size in bytes.
pub(crate) fn dir_size(dir: &Path) -> Result<(usize, u64), String> {
    let mut files = 0;
    let mut bytes = 0;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let meta = entry
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", entry.path().display()))?;
        if meta.is_dir() {
            let (f, b) = dir_size(&entry.path())?;
            files += f;
            bytes += b;
        } else if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

/// The tags of the 300-tag repository: `MAJOR.MINOR.PATCH` for majors 0-5, minors 0-9,
/// patches 0-4.
pub(crate) fn many_tags() -> Vec<String> {
    let mut tags = Vec::with_capacity(300);
    for major in 0..6 {
        for minor in 0..10 {
            for patch in 0..5 {
                tags.push(format!("{major}.{minor}.{patch}"));
            }
        }
    }
    tags
}

/// The tag `^MAJOR.MINOR` picks among `tags` (plain `X.Y.Z` tags only): the highest with the
/// same major and at least the minor. What the peers' scripts compute; pacto-oci does it
/// itself with full semver rules.
pub(crate) fn caret_best(tags: &[String], major: u64, minor: u64) -> Option<String> {
    tags.iter()
        .filter_map(|tag| {
            let parts: Vec<u64> = tag
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            (parts.len() == 3 && parts[0] == major && parts[1] >= minor)
                .then(|| ((parts[0], parts[1], parts[2]), tag.clone()))
        })
        .max()
        .map(|(_, tag)| tag)
}

/// Writes to `to` a copy of the OCI layout `from` (one manifest, tagged `1.0.0`) whose
/// config and layer blobs are new to every registry and every client-side cache, while
/// holding the same bundle: the config gets a `benchVariant` field and the layer an empty
/// gzip member (a valid multi-member gzip stream) whose header time is `variant`.
///
/// skopeo remembers where it pushed a blob (as root, in `/var/lib/containers/cache`) and
/// mounts it from there instead of uploading it again; unique blobs keep every push of the
/// comparison a real upload.
pub(crate) fn layout_variant(from: &Path, to: &Path, variant: u32) -> Result<(), String> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let json = |bytes: &[u8], path: &Path| {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))
    };
    let blob_path = |root: &Path, digest: &str| {
        root.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index_path = from.join("index.json");
    let mut index = json(&read(&index_path)?, &index_path)?;
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .ok_or_else(|| format!("{} names no manifest", index_path.display()))?
        .to_owned();
    let manifest_path = blob_path(from, &manifest_digest);
    let mut manifest = json(&read(&manifest_path)?, &manifest_path)?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let layer_digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap_or("")
        .to_owned();

    let config_path = blob_path(from, &config_digest);
    let mut config = json(&read(&config_path)?, &config_path)?;
    let Some(fields) = config.as_object_mut() else {
        return Err(format!("{} is not a JSON object", config_path.display()));
    };
    fields.insert("benchVariant".to_owned(), variant.into());
    let config = serde_json::to_vec(&config).map_err(|e| format!("config: {e}"))?;

    let mut layer = read(&blob_path(from, &layer_digest))?;
    let mtime = variant.to_le_bytes();
    layer.extend_from_slice(&[0x1f, 0x8b, 0x08, 0x00]);
    layer.extend_from_slice(&mtime);
    layer.extend_from_slice(&[0x00, 0x03, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);

    let mut blobs = Vec::new();
    for (key, bytes) in [("config", config), ("layer", layer)] {
        let digest = pacto_test_support::digest(&bytes);
        let descriptor = if key == "config" {
            &mut manifest["config"]
        } else {
            &mut manifest["layers"][0]
        };
        descriptor["digest"] = digest.clone().into();
        descriptor["size"] = bytes.len().into();
        blobs.push((digest, bytes));
    }
    let manifest = serde_json::to_vec(&manifest).map_err(|e| format!("manifest: {e}"))?;
    index["manifests"][0]["digest"] = pacto_test_support::digest(&manifest).into();
    index["manifests"][0]["size"] = manifest.len().into();
    blobs.push((pacto_test_support::digest(&manifest), manifest));
    let index = serde_json::to_vec(&index).map_err(|e| format!("index: {e}"))?;

    let blob_dir = to.join("blobs/sha256");
    std::fs::create_dir_all(&blob_dir)
        .map_err(|e| format!("cannot create {}: {e}", blob_dir.display()))?;
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    for (digest, bytes) in &blobs {
        write(&blob_path(to, digest), bytes)?;
    }
    write(&to.join("index.json"), &index)?;
    write(&to.join("oci-layout"), &read(&from.join("oci-layout"))?)
}
