//! Interoperability with skopeo: our layouts and registry artifacts are standard.

use crate::common::{bundle, client, reference, runtime};
use pacto_registry::{BundleStore, LayoutStore, PushOptions};
use pacto_test_support::{TestRegistry, require_tool};
use std::process::Command;

fn skopeo(args: &[&str]) {
    require_tool("skopeo", "skopeo");
    let output = Command::new("skopeo")
        .args(["--insecure-policy"])
        .args(args)
        .output()
        .expect("skopeo runs");
    assert!(
        output.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn skopeo_copies_our_layout_to_a_registry_and_back() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let ours = temp.path().join("ours");
    let original = bundle("payments", "1.0.0");
    let pushed = rt
        .block_on(LayoutStore::new().push(
            &reference(&format!("oci-layout:{}:1.0.0", ours.display())),
            &original,
            PushOptions::default(),
        ))
        .expect("layout push");

    // layout -> registry with skopeo, then our client pulls it.
    let remote = format!("{}/interop/payments:1.0.0", registry.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1.0.0", ours.display()),
        &format!("docker://{remote}"),
    ]);
    let pulled = rt
        .block_on(client().pull_pinned(&reference(&remote)))
        .expect("pull what skopeo pushed");
    assert_eq!(pulled.bundle.files(), original.files());
    assert_eq!(
        pulled.digest, pushed.digest,
        "skopeo kept the manifest byte for byte"
    );

    // registry -> a new layout with skopeo, then our layout store reads it.
    let theirs = temp.path().join("theirs");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{remote}"),
        &format!("oci:{}:copied", theirs.display()),
    ]);
    let from_skopeo = rt
        .block_on(LayoutStore::new().pull_pinned(&reference(&format!(
            "oci-layout:{}:copied",
            theirs.display()
        ))))
        .expect("pull the layout skopeo wrote");
    assert_eq!(from_skopeo.bundle.files(), original.files());
    assert_eq!(from_skopeo.digest, pushed.digest);
}

#[test]
fn skopeo_reads_what_our_client_pushed() {
    let registry = TestRegistry::plain();
    let rt = runtime();
    let temp = tempfile::tempdir().expect("tempdir");
    let original = bundle("ledger", "2.1.0");
    let remote = format!("{}/interop/ledger:2.1.0", registry.host());
    rt.block_on(client().push(&reference(&remote), &original, PushOptions::default()))
        .expect("push");
    let out = temp.path().join("copy");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{remote}"),
        &format!("oci:{}:2.1.0", out.display()),
    ]);
    // Our layout store pushes into the layout skopeo created, next to its tag.
    let store = LayoutStore::new();
    rt.block_on(store.push(
        &reference(&format!("oci-layout:{}:extra", out.display())),
        &bundle("ledger", "2.2.0"),
        PushOptions::default(),
    ))
    .expect("push into a skopeo layout");
    let mut tags = rt
        .block_on(store.list_tags(&reference(&format!("oci-layout:{}", out.display()))))
        .expect("tags");
    tags.sort();
    assert_eq!(tags, vec!["2.1.0".to_owned(), "extra".to_owned()]);
    let pulled = rt
        .block_on(store.pull(&reference(&format!("oci-layout:{}:2.1.0", out.display()))))
        .expect("pull");
    assert_eq!(pulled.files(), original.files());
    // And skopeo can still read the layout after our write.
    skopeo(&["inspect", "--raw", &format!("oci:{}:extra", out.display())]);
}
