//! Every offline and layout command, with their JSON shapes and exit codes.

use crate::common::{Sandbox, keys};

#[test]
fn pack_push_tags_resolve_pull_on_a_layout() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", sb.path("layout").display());

    // pack: default file name, digest = the layer a push uploads.
    let packed = sb
        .run(&["pack", &Sandbox::example("1.0.0"), "--json"])
        .expect(0)
        .json();
    assert_eq!(keys(&packed), ["digest", "name", "path", "size", "version"]);
    assert_eq!(packed["path"], "payments-1.0.0.tar.gz");
    assert!(sb.work().join("payments-1.0.0.tar.gz").is_file());

    // push: untagged -> service.version; again -> unchanged; a .tar.gz from pack works too.
    let pushed = sb
        .run(&["push", &Sandbox::example("1.0.0"), &layout, "--json"])
        .expect(0)
        .json();
    assert_eq!(keys(&pushed), ["digest", "ref", "status"]);
    assert_eq!(pushed["status"], "pushed");
    assert!(pushed["ref"].as_str().unwrap().ends_with(":1.0.0"));
    let again = sb
        .run(&["push", "payments-1.0.0.tar.gz", &layout, "--json"])
        .expect(0)
        .json();
    assert_eq!(again["status"], "unchanged");
    assert_eq!(again["digest"], pushed["digest"]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            sb.path("layout/blobs/sha256").join(
                pushed["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["layers"][0]["digest"], packed["digest"],
        "pack output is the pushed layer"
    );

    for version in ["1.1.0", "2.0.0-rc.1", "2.0.0"] {
        sb.run(&["push", &Sandbox::example(version), &layout, "-q"])
            .expect(0);
    }
    // A different bundle on an existing tag: conflict (8) unless forced.
    let tagged = format!("{layout}:1.0.0");
    sb.run(&["--json", "push", &Sandbox::example("1.1.0"), &tagged])
        .expect_error(8, "conflict");
    let forced = sb
        .run(&[
            "push",
            &Sandbox::example("1.1.0"),
            &tagged,
            "--force",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(forced["status"], "overwritten");

    let tags = sb.run(&["tags", &layout, "--json"]).expect(0).json();
    assert_eq!(
        tags,
        serde_json::json!(["2.0.0", "2.0.0-rc.1", "1.1.0", "1.0.0"])
    );

    let resolved = sb
        .run(&["resolve", &layout, "--constraint", "^1", "--json"])
        .expect(0)
        .json();
    assert_eq!(keys(&resolved), ["digest", "ref"]);
    assert!(resolved["ref"].as_str().unwrap().ends_with(":1.1.0"));
    sb.run(&["resolve", &layout, "--constraint", ">5", "--json"])
        .expect_error(7, "no_matching_version");
    sb.run(&[
        "resolve",
        &layout,
        "--constraint",
        "not a constraint",
        "--json",
    ])
    .expect_error(2, "usage");

    // pull into the default directory (./<service.name>) and into -o DIR.
    let pulled = sb.run(&["pull", &layout, "--json"]).expect(0).json();
    assert_eq!(
        keys(&pulled),
        ["digest", "dir", "files", "name", "ref", "version"]
    );
    assert_eq!(pulled["dir"], "payments");
    assert_eq!(pulled["version"], "2.0.0");
    assert_eq!(
        pulled["files"],
        serde_json::json!([
            "README.md",
            "api/openapi.yaml",
            "config/schema.json",
            "pacto.yaml"
        ])
    );
    let written = std::fs::read(sb.work().join("payments/pacto.yaml")).unwrap();
    assert_eq!(
        written,
        std::fs::read(format!("{}/pacto.yaml", Sandbox::example("2.0.0"))).unwrap()
    );
    assert!(
        !sb.work().join("payments/.pactoignore").exists(),
        ".pactoignore is not shipped"
    );
    let out = sb.path("out");
    sb.run(&[
        "pull",
        &format!("{layout}:1.1.0"),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ])
    .expect(0);
    assert!(out.join("api/openapi.yaml").is_file());

    // Not found (3) and invalid references (2).
    sb.run(&["pull", &format!("{layout}:9.9.9"), "--json"])
        .expect_error(3, "not_found");
    sb.run(&["resolve", "UPPER/Case!!", "--json"])
        .expect_error(2, "invalid_reference");
}

#[test]
fn human_output_and_global_options_after_the_subcommand() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", sb.path("layout").display());
    let human = sb
        .run(&["push", &Sandbox::example("1.0.0"), &layout])
        .expect(0);
    assert!(
        human.stdout.starts_with("Pushed payments@1.0.0 -> "),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("\nManifest digest: sha256:"));
    let quiet = sb
        .run(&["push", &Sandbox::example("1.0.0"), &layout, "--quiet"])
        .expect(0);
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
    let before = sb.run(&["--json", "tags", &layout]).expect(0).json();
    let after = sb.run(&["tags", &layout, "--json"]).expect(0).json();
    assert_eq!(before, after);
}

#[test]
fn offline_helpers() {
    let sb = Sandbox::new();
    let best = sb
        .run(&[
            "semver",
            "best",
            "--constraint",
            "^1",
            "v1.0.0",
            "v1.2.0",
            "v2.0.0",
            "latest",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(best, serde_json::json!({"tag": "v1.2.0"}));
    let highest = sb
        .run(&["semver", "best", "1.0.0", "2.0.0-rc.1", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        highest["tag"], "2.0.0-rc.1",
        "no constraint: highest, prereleases included"
    );
    sb.run(&["semver", "best", "--constraint", ">3", "1.0.0", "--json"])
        .expect_error(7, "no_matching_version");
    let sorted = sb
        .run(&[
            "semver",
            "sort",
            "1.0.0-alpha",
            "latest",
            "1.0.0",
            "1.0.0-beta",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(
        sorted,
        serde_json::json!(["1.0.0", "1.0.0-beta", "1.0.0-alpha"])
    );

    let parsed = sb
        .run(&["ref", "parse", "ubuntu", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        parsed,
        serde_json::json!({"registry": "index.docker.io", "repository": "library/ubuntu", "tag": null, "digest": null, "scheme": "https"})
    );
    let local = sb
        .run(&[
            "ref",
            "parse",
            "oci://localhost:5000/team/x:1.0.0",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(local["registry"], "localhost:5000");
    assert_eq!(local["tag"], "1.0.0");
    assert_eq!(local["scheme"], "https", "loopback tries https first");
    let plain = sb
        .run(&[
            "ref",
            "parse",
            "myhost.local:5000/team/x",
            "--plain-http",
            "myhost.local:5000",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(plain["scheme"], "http");
    sb.run(&["ref", "parse", "foo bar", "--json"])
        .expect_error(2, "invalid_reference");
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    let run = sb.run(&["pull", "--json"]).expect(2);
    assert_eq!(run.json()["error"]["kind"], "usage");
    sb.run(&["no-such-command"]).expect(2);
    let help = sb.run(&["--help"]).expect(0);
    assert!(help.stdout.contains("fetch-all") && help.stdout.contains("Exit codes"));
}

#[test]
fn pull_never_writes_outside_the_output_directory() {
    let sb = Sandbox::new();
    let layout = format!("oci-layout:{}", sb.path("layout").display());
    sb.run(&["push", &Sandbox::example("1.0.0"), &layout, "-q"])
        .expect(0);
    // An existing output directory with a planted symlink where the bundle has a directory.
    let out = sb.path("out");
    let elsewhere = sb.path("elsewhere");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("api")).unwrap();
    // Not empty: refused before anything is written.
    let run = sb.run(&[
        "pull",
        &format!("{layout}:1.0.0"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert!(
        std::fs::symlink_metadata(out.join("api"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Replaced with --force: the directory holds the bundle, the link is gone, and nothing
    // was written through it.
    sb.run(&[
        "pull",
        &format!("{layout}:1.0.0"),
        "-o",
        out.to_str().unwrap(),
        "--force",
        "-q",
    ])
    .expect(0);
    assert!(std::fs::symlink_metadata(out.join("api")).unwrap().is_dir());
    assert!(out.join("api/openapi.yaml").is_file());
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

#[test]
fn an_invalid_source_is_an_invalid_bundle() {
    let sb = Sandbox::new();
    let dir = sb.path("not-a-bundle");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("README.md"), "no contract here").unwrap();
    sb.run(&["pack", dir.to_str().unwrap(), "--json"])
        .expect_error(6, "invalid_bundle");
    std::fs::write(dir.join("pacto.yaml"), "service: [unclosed").unwrap();
    let run = sb
        .run(&["push", dir.to_str().unwrap(), "oci-layout:x", "--json"])
        .expect_error(6, "invalid_bundle");
    assert!(
        run.stderr.contains("line"),
        "YAML errors have a position: {}",
        run.stderr
    );
}
