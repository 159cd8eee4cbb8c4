//! `unpack(pack(b, &Limits::default())) == b`, for hand-picked and random bundles, and
//! `write_layer` writes the same files ([`unpack_both`]).

use crate::support::{YAML, bundle, unpack_both};
use bytes::Bytes;
use pacto_archive::{Limits, pack, unpack_bytes};
use pacto_contract::Bundle;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[tokio::test]
async fn round_trip_keeps_every_byte() {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let b = bundle(&[
        ("api/openapi.yaml", b"openapi: 3.1.0\n"),
        ("api.md", b""),
        ("bin/blob", &binary),
        ("pacto.lock", b"lock"),
        ("docs/caf\u{e9} menu.md", "\u{1f600}".as_bytes()),
    ]);
    let packed = pack(&b, &Limits::default()).await.unwrap();
    let back = unpack_both(&packed.bytes, &Limits::default())
        .await
        .unwrap();
    assert_eq!(back, b);
    assert_eq!(back.raw_yaml(), &Bytes::from_static(YAML.as_bytes()));
    // And reading is not sensitive to how the bytes arrive.
    let chunks: Vec<Vec<u8>> = packed.bytes.chunks(7).map(<[u8]>::to_vec).collect();
    let streamed = crate::support::unpack_streams(|| {
        crate::support::Generated::new(chunks.clone().into_iter())
    })
    .await;
    assert_eq!(streamed.result.unwrap(), b);
}

#[tokio::test]
async fn deepest_legal_paths_round_trip() {
    // 2,047 nested directories: the longest path of one-byte components that the path
    // rules allow, with the depth limit lifted. Nothing here may recurse once per level.
    let deep = vec!["d"; 2_047].join("/") + "/f";
    assert!(deep.len() <= pacto_contract::MAX_PATH_LEN);
    let b = bundle(&[(deep.as_str(), b"deep")]);
    let lifted = Limits::default().with_max_depth(u64::MAX);
    let packed = pack(&b, &lifted).await.unwrap();
    // unpack only: the path is longer than a file system path may be (PATH_MAX).
    let back = unpack_bytes(&packed.bytes, &lifted).await.unwrap();
    assert_eq!(back, b);
}

#[tokio::test]
async fn raw_yaml_is_kept_byte_for_byte() {
    let yaml = "# a comment that parsing drops\npactoVersion: \"1.0\"   \r\nservice: {name: x, version: 1.0.0}\nfuture: [1, 2]\n";
    let mut files = BTreeMap::new();
    files.insert(
        "pacto.yaml".to_owned(),
        Bytes::copy_from_slice(yaml.as_bytes()),
    );
    let b = Bundle::from_files(files).unwrap();
    let back = unpack_both(
        &pack(&b, &Limits::default()).await.unwrap().bytes,
        &Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(back.raw_yaml().as_ref(), yaml.as_bytes());
    assert_eq!(back.contract(), b.contract());
}

/// Path components: short names, dot names, and long ones that need ustar prefixes or PAX.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_-]{1,12}",
        1 => "\\.[a-z]{1,5}",
        1 => "[a-z]{1,3}\\.\\.[a-z]{1,3}",
        1 => "[a-zé😀]{1,6}",
        1 => "[a-z]{90,130}",
    ]
}

fn tree() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    let path = prop::collection::vec(component(), 1..4).prop_map(|c| c.join("/"));
    let content = prop::collection::vec(any::<u8>(), 0..2000);
    prop::collection::btree_map(path, content, 0..12)
}

/// Drops files whose path is a directory of another file (not a valid bundle).
fn to_bundle(tree: BTreeMap<String, Vec<u8>>) -> Bundle {
    let mut files: BTreeMap<String, Bytes> = BTreeMap::new();
    files.insert("pacto.yaml".into(), Bytes::from_static(YAML.as_bytes()));
    for (path, content) in tree {
        if path == "pacto.yaml" || path.starts_with("pacto.yaml/") {
            continue;
        }
        let clashes = files
            .keys()
            .any(|k| k.starts_with(&format!("{path}/")) || path.starts_with(&format!("{k}/")));
        if !clashes {
            files.insert(path, Bytes::from(content));
        }
    }
    Bundle::from_files(files).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_trees_round_trip(tree in tree()) {
        let b = to_bundle(tree);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (packed, again, back) = runtime.block_on(async {
            let packed = pack(&b, &Limits::default()).await.unwrap();
            let again = pack(&b, &Limits::default()).await.unwrap();
            let back = unpack_both(&packed.bytes, &Limits::default()).await.unwrap();
            (packed, again, back)
        });
        prop_assert_eq!(&packed, &again);
        prop_assert_eq!(back, b);
    }
}
