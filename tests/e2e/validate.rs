//! `validate DIR|FILE.tar.gz` (issue 15): everything push checks plus the files pacto.yaml
//! references; `pack` and `push` refuse the same bundles with the same message.

use crate::common::{Sandbox, write_bundle};

const REFERENCING: &str = "pactoVersion: \"1.0\"
service:
  name: checked
  version: 1.0.0
interfaces:
  - name: api
    type: http
    contract: api/openapi.yaml
  - name: events
    type: event
    contract: ./api/events.yaml
configuration:
  schema: config/schema.json
";

#[test]
fn a_complete_bundle_validates_as_a_directory_and_as_its_tar_gz() {
    let sandbox = Sandbox::new();
    let dir = write_bundle(
        &sandbox.path("bundles"),
        "checked",
        "1.0.0",
        &[
            ("api/openapi.yaml", b"openapi: 3.0.0\n"),
            ("api/events.yaml", b"asyncapi: 2.6.0\n"),
            ("config/schema.json", b"{}"),
        ],
    );
    std::fs::write(dir.join("pacto.yaml"), REFERENCING).unwrap();
    let dir = dir.to_str().expect("utf-8").to_owned();
    let run = sandbox.run(&["validate", &dir, "--json"]).expect(0);
    let json = run.json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["name"], "checked");
    assert_eq!(json["references"], 3);
    assert_eq!(json["files"], 4);

    let tarball = sandbox.path("checked.tar.gz");
    let tarball = tarball.to_str().expect("utf-8");
    sandbox.run(&["pack", &dir, "-o", tarball]).expect(0);
    let run = sandbox.run(&["validate", tarball]).expect(0);
    assert!(
        run.stdout.starts_with("Valid: checked@1.0.0"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_referenced_files_fail_validate_pack_and_push_alike() {
    let sandbox = Sandbox::new();
    let dir = write_bundle(
        &sandbox.path("bundles"),
        "checked",
        "1.0.0",
        &[("api/openapi.yaml", b"openapi: 3.0.0\n")],
    );
    std::fs::write(dir.join("pacto.yaml"), REFERENCING).unwrap();
    let dir = dir.to_str().expect("utf-8").to_owned();
    let expected = "pacto.yaml references 2 files the bundle does not hold: ./api/events.yaml \
                    (interfaces[1].contract), config/schema.json (configuration.schema)";

    let run = sandbox
        .run(&["validate", &dir, "--json"])
        .expect_error(6, "invalid_bundle");
    assert!(run.message().ends_with(expected), "{}", run.message());

    let output = sandbox.path("never.tar.gz");
    let run = sandbox
        .run(&[
            "pack",
            &dir,
            "-o",
            output.to_str().expect("utf-8"),
            "--json",
        ])
        .expect_error(6, "invalid_bundle");
    assert_eq!(run.message(), format!("cannot pack: {expected}"));
    assert!(!output.exists(), "nothing written");

    let layout = sandbox.path("layout");
    let reference = format!("oci-layout:{}", layout.display());
    let run = sandbox
        .run(&["push", &dir, &reference, "--json"])
        .expect_error(6, "invalid_bundle");
    assert_eq!(run.message(), format!("cannot push: {expected}"));
    assert!(!layout.exists(), "nothing pushed");
}

#[test]
fn validate_applies_the_pull_limits() {
    let sandbox = Sandbox::new();
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let dir = write_bundle(
        &sandbox.path("bundles"),
        "big",
        "1.0.0",
        &[("blob.bin", &big)],
    );
    let run = sandbox
        .run(&["validate", dir.to_str().expect("utf-8"), "--json"])
        .expect_error(6, "invalid_bundle");
    assert!(run.message().contains("blob.bin"), "{}", run.message());
}
