//! Safe edges (issue #12): one set of limits in both directions, layouts readable as the
//! umask allows, `tags` of a huge layout, credential helpers killed with their children, and
//! the race of two pushes to one tag reported instead of hidden.

use crate::common::{Run, Sandbox, mode, noise, run_with_umask, wait_until, write_bundle};
use crate::hostile::{Ctx, OCI_MANIFEST, bundle_tar, config, manifest};
use pacto_test_support::{
    ExtraRequest, Fault, FaultProxy, RegistryOptions, RequestMatch, TestRegistry, digest, push_raw,
};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A sparse file of `len` bytes: its size is what the limits look at, and nothing is read.
fn sparse(path: &Path, len: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("parent directory");
    }
    std::fs::File::create(path)
        .and_then(|file| file.set_len(len))
        .expect("sparse file");
}

/// Asserts an invalid-bundle refusal (exit 6) whose message names `path` and the `limit`.
fn assert_refused(run: Run, path: &str, limit: &str) {
    let run = run.expect_error(6, "invalid_bundle");
    let message = run.message();
    assert!(
        message.contains(&format!("{path:?}")),
        "the message names {path:?}: {message}"
    );
    assert!(
        message.contains(limit),
        "the message names the limit ({limit}): {message}"
    );
}

/// A bundle directory whose one file has a bundle path of 4,097 bytes: 20 directories of 199
/// bytes and a 97-byte file name. Its absolute path is longer than `PATH_MAX`, so the file
/// is created from inside its directory.
fn too_long_path_bundle(dir: &Path) -> (PathBuf, String) {
    let root = write_bundle(dir, "e2e-long", "1.0.0", &[]);
    let component = "p".repeat(199);
    let rel_dir = vec![component.as_str(); 20].join("/");
    let name = "f".repeat(97);
    let rel = format!("{rel_dir}/{name}");
    assert_eq!(rel.len(), 4_097);
    let abs_dir = root.join(&rel_dir);
    assert!(
        abs_dir.as_os_str().len() < 4_000 + 90,
        "the sandbox path is too long for this test: {}",
        root.display()
    );
    std::fs::create_dir_all(&abs_dir).expect("nested directories");
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("printf x > \"$0\"")
        .arg(&name)
        .current_dir(&abs_dir)
        .status()
        .expect("sh runs");
    assert!(status.success(), "creating the file failed");
    (root, rel)
}

/// Every bundle a pull with the default limits would refuse: `pack` exits 6 naming the file
/// and the limit and writes nothing; `push` exits 6 the same way, and not one request
/// reaches the registry.
#[test]
fn push_and_pack_refuse_what_a_pull_would_refuse_before_any_request() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let bundles = sandbox.path("bundles");

    let big_file = write_bundle(&bundles, "e2e-big-file", "1.0.0", &[]);
    sparse(&big_file.join("data/big.bin"), 11 * MIB);

    let huge_yaml = sandbox.path("bundles/e2e-huge-yaml");
    sparse(&huge_yaml.join("pacto.yaml"), 100 * 1000 * 1000);

    // pacto.yaml, the directory f and 9,999 files in it: 10,001 entries.
    let many = write_bundle(&bundles, "e2e-many", "1.0.0", &[]);
    std::fs::create_dir_all(many.join("f")).expect("f/");
    for i in 0..9_999 {
        std::fs::write(many.join(format!("f/{i:04}")), b"").expect("small file");
    }

    let deep_rel = format!("{}leaf.txt", "d/".repeat(128));
    let deep = write_bundle(&bundles, "e2e-deep", "1.0.0", &[(&deep_rel, b"x")]);

    // Six files of 9 MiB, each under the per-file limit, 54 MiB in all.
    let total = write_bundle(&bundles, "e2e-total", "1.0.0", &[]);
    for i in 0..6 {
        sparse(&total.join(format!("part-{i}.bin")), 9 * MIB);
    }

    let (long, long_rel) = too_long_path_bundle(&bundles);

    let cases: [(&str, &Path, &str, &str); 6] = [
        (
            "11 MiB file",
            &big_file,
            "data/big.bin",
            "over the 10485760-byte per-file limit",
        ),
        (
            "100 MB pacto.yaml",
            &huge_yaml,
            "pacto.yaml",
            "over the 10485760-byte per-file limit",
        ),
        (
            "10,001 entries",
            &many,
            "f/9998",
            "over its limit of 10000 entries",
        ),
        (
            "129 levels",
            &deep,
            &deep_rel,
            "is 129 levels deep, over the 128-level depth limit",
        ),
        (
            "54 MiB in all",
            &total,
            "part-5.bin",
            "over its 52428800-byte total size limit",
        ),
        (
            "4,097-byte path",
            &long,
            &long_rel,
            "bundle path of 4097 bytes is longer than the 4096-byte limit",
        ),
    ];
    for (case, dir, path, limit) in cases {
        let before = sandbox.snapshot();
        let out = sandbox.work().join("out.tar.gz");
        let run = sandbox.run(&["pack", text(dir), "-o", text(&out), "--json"]);
        assert_refused(run, path, limit);
        assert!(!out.exists(), "{case}: pack wrote {}", out.display());
        assert_eq!(
            sandbox.new_paths(&before),
            [],
            "{case}: pack wrote something"
        );

        let mark = registry.mark();
        let reference = format!("{}/e2e/limits:1.0.0", registry.host());
        let run = sandbox.run(&["push", text(dir), &reference, "--json"]);
        assert_refused(run, path, limit);
        assert_eq!(
            registry.requests_since(mark),
            [],
            "{case}: a refused push reached the registry"
        );
    }

    // A `.tar.gz` source over the limits (made by hand: `pack` would refuse it).
    let archive = sandbox.path("bundles/big.tar.gz");
    let mut tar = bundle_tar("e2e-archive");
    tar.zero_file("big.bin", 11, 0).end();
    std::fs::write(&archive, tar.gzip()).expect("write the archive");
    let mark = registry.mark();
    let reference = format!("{}/e2e/limits:1.0.0", registry.host());
    let run = sandbox.run(&["push", text(&archive), &reference, "--json"]);
    assert_refused(run, "big.bin", "over the 10485760-byte file limit");
    assert_eq!(
        registry.requests_since(mark),
        [],
        "a refused archive reached the registry"
    );
    // Nothing was ever pushed.
    sandbox
        .run(&["tags", &format!("{}/e2e/limits", registry.host()), "--json"])
        .expect_error(3, "not_found");
}

/// The new depth limit holds in the other direction too: a layer with a path 129 levels
/// deep (pushed by hand) is refused by `pull`, exit 6, and nothing is written or cached.
#[test]
fn pull_refuses_a_path_deeper_than_the_limit() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let deep = format!("{}leaf.txt", "d/".repeat(128));
    let mut tar = bundle_tar("e2e-deep-pull");
    // The path needs a PAX record; the header holds its first 100 bytes, as tar writers do.
    tar.pax(b'x', &[("path", deep.as_str())]);
    tar.raw(&deep.as_bytes()[..100], b'0', 1, b"", b"x");
    let ctx = Ctx {
        registry: &registry,
        sandbox: &sandbox,
        name: "e2e-deep-pull".to_owned(),
    };
    let reference = ctx.push_layer(&tar.end().gzip());
    let before = sandbox.snapshot();
    let run = sandbox.run(&["pull", &reference, "-o", "out", "--json"]);
    assert_refused(
        run,
        &deep,
        "is 129 levels deep, over the 128-level depth limit",
    );
    let written: Vec<_> = sandbox
        .new_paths(&before)
        .into_iter()
        .filter(|(path, _)| !path.starts_with("cache"))
        .collect();
    assert_eq!(written, [], "a refused pull wrote files");
    let cached = sandbox.run(&["cache", "ls", "--json"]).expect(0).json();
    assert_eq!(cached, serde_json::json!([]), "a refused pull was cached");
}

/// Mode bits of every file and directory of a layout, by relative path (`.` is the root).
fn modes(root: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(".".to_owned(), mode(root))];
    out.extend(
        crate::common::snapshot(root)
            .into_keys()
            .map(|rel| (rel.clone(), mode(&root.join(rel)))),
    );
    out
}

/// Files of an OCI layout are as readable as the umask allows (0644 and 0755 under 022, as
/// skopeo and ORAS write them), not a temporary file's 0600; a tight umask is honoured too.
#[test]
fn layout_files_are_readable_as_the_umask_allows() {
    let sandbox = Sandbox::new();
    let source = write_bundle(
        &sandbox.path("bundles"),
        "e2e-modes",
        "1.0.0",
        &[("api/openapi.yaml", b"openapi: 3.1.0\n")],
    );
    for (mask, file_mode, dir_mode) in [("022", 0o644, 0o755), ("077", 0o600, 0o700)] {
        let layout = sandbox.path(&format!("layout-{mask}"));
        let reference = format!("oci-layout:{}", layout.display());
        run_with_umask(&sandbox, mask, &["push", text(&source), &reference]).expect(0);
        // A second tag rewrites index.json: the new file gets the same mode.
        let tagged = format!("{reference}:second");
        run_with_umask(&sandbox, mask, &["push", text(&source), &tagged]).expect(0);
        let found = modes(&layout);
        let names: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        for expected in ["blobs", "blobs/sha256", "index.json", "oci-layout"] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        // The manifest, config and layer.
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("blobs/sha256/"))
                .count(),
            3,
            "{names:?}"
        );
        for (path, mode) in found {
            let is_dir = std::fs::metadata(layout.join(&path))
                .expect("exists")
                .is_dir();
            let want = if is_dir { dir_mode } else { file_mode };
            assert_eq!(
                mode, want,
                "umask {mask}: {path} is {mode:o}, expected {want:o}"
            );
        }
    }
}

/// `tags` of a layout whose index.json lists 100,000 manifests (all the one pushed bundle,
/// in an order that needs sorting, with repeated and non-semver tags): every semver tag once,
/// highest first. Listing used to compare each tag with all before it (12.8 s); the timing
/// lives in the compare bench, this test checks the answer.
#[test]
fn tags_of_a_layout_with_100000_tags() {
    let sandbox = Sandbox::new();
    let source = write_bundle(&sandbox.path("bundles"), "e2e-many-tags", "1.0.0", &[]);
    let layout = sandbox.path("layout");
    let reference = format!("oci-layout:{}", layout.display());
    sandbox.run(&["push", text(&source), &reference]).expect(0);
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("index.json")).expect("json");
    let pushed = index["manifests"][0].clone();
    let version = |i: u64| format!("{}.{}.{}", i / 10_000, (i / 100) % 100, i % 100);
    let entry = |tag: &str| {
        let mut entry = pushed.clone();
        entry["annotations"]["org.opencontainers.image.ref.name"] = tag.into();
        entry
    };
    // A fixed permutation of 0..100,000 (7,919 is prime, so coprime with 100,000).
    let mut manifests: Vec<serde_json::Value> = (0..100_000u64)
        .map(|i| entry(&version(i * 7_919 % 100_000)))
        .collect();
    manifests.push(entry("latest"));
    manifests.push(entry(&version(4_242)));
    manifests.push(entry("main"));
    assert_eq!(manifests.len(), 100_003);
    index["manifests"] = manifests.into();
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("json")).expect("write");

    let run = sandbox.run(&["tags", &reference, "--json"]).expect(0);
    let listed: Vec<String> = serde_json::from_value(run.json()).expect("a list of tags");
    let expected: Vec<String> = (0..100_000u64).rev().map(version).collect();
    assert_eq!(listed.len(), expected.len());
    assert!(listed == expected, "tags out of order or missing");
}

/// A docker credential helper that hangs (a shell with a background `sleep` and a foreground
/// one) is killed after the helper timeout (the default 5 s) together with both children;
/// the command goes on without its credential.
#[test]
fn a_hanging_credential_helper_is_killed_with_its_children() {
    let registry = TestRegistry::start(RegistryOptions::tls_basic(
        crate::common::USERS[0],
        crate::common::PASSWORD,
    ));
    let ca = registry.ca_file().expect("a CA").to_owned();
    let sandbox = Sandbox::new();
    let bin = sandbox.path("bin");
    std::fs::create_dir_all(&bin).expect("bin/");
    let pids = sandbox.path("helper.pids");
    let helper = bin.join("docker-credential-e2e-family");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n\
             sleep 300 &\n\
             echo \"$!\" >> '{pids}'\n\
             sh -c 'echo \"$$\" >> \"$0\"; exec sleep 300' '{pids}'\n",
            pids = pids.display()
        ),
    )
    .expect("helper script");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(
        sandbox.path("docker/config.json"),
        serde_json::to_vec(&serde_json::json!({
            "credHelpers": {registry.host(): "e2e-family"}
        }))
        .expect("json"),
    )
    .expect("docker config");

    let mut cmd = sandbox.command(&[
        "tags",
        &format!("{}/e2e/helper", registry.host()),
        "--ca-file",
        text(&ca),
        "--json",
    ]);
    let path = std::env::var_os("PATH").unwrap_or_default();
    cmd.env(
        "PATH",
        std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path)))
            .expect("PATH"),
    );
    // The warning about the helper comes first on stderr, so not `expect_error`.
    let run = sandbox.run_with(cmd).expect(4);
    assert_eq!(
        run.json()["error"]["kind"],
        "authentication",
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("warning: ")
            && run.stderr.contains("docker-credential-e2e-family")
            && run.stderr.contains("did not answer in time"),
        "the helper is named in a warning: {}",
        run.stderr
    );
    let children: Vec<String> = std::fs::read_to_string(&pids)
        .expect("the helper ran and wrote its children's pids")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(children.len(), 2, "{children:?}");
    for pid in children {
        let stat = PathBuf::from("/proc").join(&pid).join("stat");
        // Gone, or a zombie waiting for whoever adopted it: either way it runs no more.
        wait_until(
            &format!("the helper's child {pid} to be killed"),
            Duration::from_secs(10),
            || {
                std::fs::read_to_string(&stat).map_or(true, |text| {
                    text.rsplit_once(')')
                        .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
                })
            },
        );
    }
}

/// Two pushes of different bundles to one tag, made deterministic by a proxy that lets the
/// other push's manifest `PUT` reach the registry right after ours: the re-read after our
/// `PUT` sees the other digest, and the push exits 8 (conflict) naming it, where it used to
/// report `pushed`.
#[test]
fn a_concurrent_push_to_the_same_tag_exits_8_naming_the_winner() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    // The other push: its blobs are already in the repository, its manifest races ours.
    let layer = bundle_tar("e2e-race").end().gzip();
    let their_config = config("e2e-race");
    let their_manifest = manifest(&their_config, &[(digest(&layer), layer.len() as u64)]);
    let theirs = push_raw(
        &registry,
        "e2e/race",
        "staging",
        OCI_MANIFEST,
        &their_manifest,
        &[&their_config, &layer],
        None,
    );
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.inject_matching(
        RequestMatch::method("PUT").with_path("/manifests/1.0.0"),
        Fault::ThenSend {
            request: ExtraRequest::put_manifest("e2e/race", "1.0.0", OCI_MANIFEST, &their_manifest),
            times: 1,
        },
    );
    let ours = write_bundle(
        &sandbox.path("bundles"),
        "e2e-race",
        "1.0.0",
        &[("notes.txt", &noise(7, 64))],
    );
    let run = sandbox
        .run(&[
            "push",
            text(&ours),
            &format!("{}/e2e/race:1.0.0", proxy.host()),
            "--json",
        ])
        .expect_error(8, "conflict");
    let message = run.message();
    assert!(
        message.contains(&format!("the tag now holds {theirs}, not the sha256:")),
        "names the digest there now: {message}"
    );
    assert!(message.contains("another push changed"), "{message}");
    assert_eq!(proxy.pending_faults(), 0, "the race was run");
    // The registry holds theirs, as the message says.
    let resolved = sandbox
        .run(&[
            "resolve",
            &format!("{}/e2e/race:1.0.0", registry.host()),
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(resolved["digest"], theirs.as_str());
    // Pushed again, with no race, ours meets the ordinary conflict: the tag holds theirs.
    let again = sandbox
        .run(&[
            "push",
            text(&ours),
            &format!("{}/e2e/race:1.0.0", registry.host()),
            "--json",
        ])
        .expect_error(8, "conflict");
    assert!(again.message().contains(&theirs), "{}", again.message());
}
