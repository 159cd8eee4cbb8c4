//! One set of limits in both directions: `pack` refuses, before writing a byte, exactly the
//! bundles that `unpack` with the same limits would refuse (and `write_layer` agrees with
//! `unpack`: [`unpack_both`]).

use crate::support::{Tar, YAML, bundle, gzip, unpack_both};
use pacto_archive::{
    ArchiveError, LimitError, Limits, UnpackError, pack, pack_to_file, pack_to_writer,
};
use pacto_contract::Bundle;

/// Packs with limits raised out of the way, so the archive exists, then asks both sides.
async fn verdicts(
    bundle: &Bundle,
    limits: &Limits,
) -> (Result<(), LimitError>, Result<(), String>) {
    let unlimited = Limits::default()
        .with_max_file_size(u64::MAX)
        .with_max_total_size(u64::MAX)
        .with_max_entries(u64::MAX)
        .with_max_depth(u64::MAX);
    let packed = pack(bundle, &unlimited)
        .await
        .expect("packs without limits");
    let pull = unpack_both(&packed.bytes, limits)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    (bundle.check_limits(limits), pull)
}

/// Files of a bundle, by path.
type Files = Vec<(String, Vec<u8>)>;

/// Around each limit, one under and one over: `pack` and `unpack` agree on every bundle.
#[tokio::test]
async fn pack_and_unpack_agree_at_every_limit() {
    let deep = |depth: usize| format!("{}f", "d/".repeat(depth - 1));
    // pacto.yaml, then directories a, a/b and files under them: 1 + 2 + n entries.
    let entries =
        |n: usize| -> Files { (0..n).map(|i| (format!("a/b/{i}"), Vec::new())).collect() };
    let cases: Vec<(&str, Files, Limits, bool)> = vec![
        (
            "file at limit",
            vec![("x".into(), vec![1; 100])],
            Limits::default().with_max_file_size(100),
            true,
        ),
        (
            "file over",
            vec![("x".into(), vec![1; 101])],
            Limits::default().with_max_file_size(100),
            false,
        ),
        (
            "total at limit",
            vec![("x".into(), vec![1; 50]), ("y".into(), vec![1; 50])],
            Limits::default().with_max_total_size(100 + YAML.len() as u64),
            true,
        ),
        (
            "total over",
            vec![("x".into(), vec![1; 50]), ("y".into(), vec![1; 51])],
            Limits::default().with_max_total_size(100 + YAML.len() as u64),
            false,
        ),
        (
            "entries at limit",
            entries(7),
            Limits::default().with_max_entries(10),
            true,
        ),
        (
            "entries over",
            entries(8),
            Limits::default().with_max_entries(10),
            false,
        ),
        (
            "depth at limit",
            vec![(deep(5), Vec::new())],
            Limits::default().with_max_depth(5),
            true,
        ),
        (
            "depth over",
            vec![(deep(6), Vec::new())],
            Limits::default().with_max_depth(5),
            false,
        ),
    ];
    for (name, files, limits, accepted) in cases {
        let files: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        let b = bundle(&files);
        let (push, pull) = verdicts(&b, &limits).await;
        assert_eq!(push.is_ok(), accepted, "{name}: check_limits {push:?}");
        assert_eq!(pull.is_ok(), accepted, "{name}: unpack {pull:?}");
        let packed = pack(&b, &limits).await;
        assert_eq!(packed.is_ok(), accepted, "{name}: pack");
        if let Err(error) = packed {
            assert!(
                matches!(&error, ArchiveError::OverLimit(e) if Err(e.clone()) == push),
                "{name}: {error:?}"
            );
            assert!(error.is_invalid_bundle(), "{name}");
        }
    }
}

#[tokio::test]
async fn pack_names_the_file_and_the_limit() {
    let b = bundle(&[("big.bin", &[0; 101]), ("small.txt", b"x")]);
    let error = pack(&b, &Limits::default().with_max_file_size(100))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "bundle file \"big.bin\" is 101 bytes, over the 100-byte per-file limit"
    );
    let deep = format!("{}leaf.txt", "d/".repeat(128));
    let error = pack(&bundle(&[(deep.as_str(), b"x")]), &Limits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ArchiveError::OverLimit(LimitError::TooDeep { path, depth: 129, limit: 128, .. }) if *path == deep),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("over the 128-level depth limit"),
        "{error}"
    );
}

/// Over a limit, `pack_to_file` creates no file (not even a temporary one) and
/// `pack_to_writer` writes nothing.
#[tokio::test]
async fn nothing_is_written_over_a_limit() {
    let b = bundle(&[("big.bin", &[0; 101])]);
    let limits = Limits::default().with_max_file_size(100);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.tar.gz");
    let error = pack_to_file(&b, &target, &limits).await.unwrap_err();
    assert!(
        matches!(
            error,
            ArchiveError::OverLimit(LimitError::FileTooLarge {
                size: 101,
                limit: 100,
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a file was created"
    );
    let mut sink = Vec::new();
    let error = pack_to_writer(&b, &mut sink, &limits).await.unwrap_err();
    assert!(matches!(error, ArchiveError::OverLimit(_)), "{error:?}");
    assert!(sink.is_empty(), "{} bytes written", sink.len());
}

/// Entries count the directories a bundle's paths imply.
#[tokio::test]
async fn implied_directories_are_entries() {
    let b = bundle(&[("z/0", b"x"), ("z/1", b"x"), ("z/2", b"x")]);
    // pacto.yaml, z, z/0..2: 5 entries.
    assert!(
        pack(&b, &Limits::default().with_max_entries(5))
            .await
            .is_ok()
    );
    let error = pack(&b, &Limits::default().with_max_entries(4))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ArchiveError::OverLimit(LimitError::TooManyEntries { path, limit: 4, .. }) if path == "z/2"),
        "{error:?}"
    );
}

#[tokio::test]
async fn unpack_refuses_paths_deeper_than_the_limit() {
    let limits = Limits::default().with_max_depth(3);
    let ok = Tar::with_contract().file("a/b/c", b"x").finish();
    assert!(unpack_both(&gzip(&ok), &limits).await.is_ok());
    let file = Tar::with_contract().file("a/b/c/d", b"x").finish();
    let error = unpack_both(&gzip(&file), &limits).await.unwrap_err();
    assert!(
        matches!(&error, UnpackError::TooDeep { entry, depth: 4, limit: 3, .. } if entry == "a/b/c/d"),
        "{error:?}"
    );
    assert!(error.is_invalid_bundle());
    // An empty directory entry counts as well.
    let dir = Tar::with_contract().dir("a/b/c/d").finish();
    let error = unpack_both(&gzip(&dir), &limits).await.unwrap_err();
    assert!(
        matches!(error, UnpackError::TooDeep { depth: 4, .. }),
        "{error:?}"
    );
}

/// A path that fits no ustar header is written with a PAX record, and `unpack` counts those
/// records against the total size limit: `pack` counts them the same way.
#[tokio::test]
async fn pax_records_of_long_paths_count_as_unpack_counts_them() {
    let names: Vec<String> = (0..3).map(|i| format!("{i}{}", "n".repeat(299))).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let b = bundle(&files);
    // "310 path=<300 bytes>\n" per file.
    let records = 3 * 310;
    for (limit, accepted) in [(records, true), (records - 1, false)] {
        let limits = Limits::default().with_max_total_size(limit);
        assert!(
            b.check_limits(&limits).is_ok(),
            "the files alone fit in {limit}"
        );
        // `unpack` alone: no file system takes a 300-byte file name (NAME_MAX is 255), so
        // `write_layer` would fail on the first file whatever the limit.
        let unlimited = Limits::default().with_max_total_size(u64::MAX);
        let packed = pack(&b, &unlimited).await.unwrap();
        let pull = pacto_archive::unpack_bytes(&packed.bytes, &limits).await;
        assert_eq!(pull.is_ok(), accepted, "unpack at {limit}: {pull:?}");
        match pack(&b, &limits).await {
            Ok(_) => assert!(accepted, "pack at {limit}"),
            Err(error) => {
                assert!(!accepted, "pack at {limit}: {error}");
                assert!(
                    matches!(&error, ArchiveError::OverLimit(LimitError::TotalTooLarge { path, .. }) if *path == names[2]),
                    "{error:?}"
                );
            }
        }
    }
}
