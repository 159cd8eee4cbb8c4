//! `pack` is a function of the bundle's paths and bytes only.

use crate::support::{YAML, bundle, gunzip, list_tar};
use pacto_archive::{
    LAYER_MEDIA_TYPE, Limits, PROGRESS_STEP, pack, pack_to_file, pack_to_file_with_progress,
    pack_to_writer, pack_to_writer_with_progress,
};
use pacto_contract::Bundle;
use pacto_fs::sha256;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn write_tree(root: &Path, files: &[(&str, &str)], mtime: SystemTime, mode: u32) {
    for (rel, content) in files {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(mtime).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

#[tokio::test]
async fn same_content_from_different_trees_packs_identically() {
    let files = [
        ("pacto.yaml", YAML),
        ("api.md", "# api"),
        ("api/openapi.yaml", "openapi: 3.1.0"),
        ("api/v2/openapi.yaml", "openapi: 3.1.0 # v2"),
        ("schemas/config.json", "{}"),
    ];
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let reversed: Vec<_> = files.iter().rev().copied().collect();
    write_tree(
        first.path(),
        &files,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1),
        0o600,
    );
    write_tree(second.path(), &reversed, SystemTime::now(), 0o755);
    #[cfg(unix)]
    {
        // Owners never reach the bundle; as root, prove it with a foreign owner.
        let meta = fs::metadata(first.path().join("pacto.yaml")).unwrap();
        if std::os::unix::fs::MetadataExt::uid(&meta) == 0 {
            for (rel, _) in &files {
                std::os::unix::fs::chown(second.path().join(rel), Some(4242), Some(4343)).unwrap();
            }
        }
    }
    let a = pack(&Bundle::from_dir(first.path()).unwrap(), &Limits::default())
        .await
        .unwrap();
    let b = pack(
        &Bundle::from_dir(second.path()).unwrap(),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.diff_id, b.diff_id);
    let again = pack(&Bundle::from_dir(first.path()).unwrap(), &Limits::default())
        .await
        .unwrap();
    assert_eq!(again, a);
}

#[tokio::test]
async fn one_byte_changes_the_digests() {
    let a = pack(
        &bundle(&[("api/openapi.yaml", b"openapi: 3.1.0")]),
        &Limits::default(),
    )
    .await
    .unwrap();
    let b = pack(
        &bundle(&[("api/openapi.yaml", b"openapi: 3.1.1")]),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert_ne!(a.digest, b.digest);
    assert_ne!(a.diff_id, b.diff_id);
    let renamed = pack(
        &bundle(&[("api/openapi.yml", b"openapi: 3.1.0")]),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert_ne!(a.digest, renamed.digest);
}

#[tokio::test]
async fn digests_describe_the_bytes() {
    let packed = pack(&bundle(&[("a.txt", b"a")]), &Limits::default())
        .await
        .unwrap();
    assert_eq!(packed.digest, sha256(&packed.bytes));
    assert_eq!(packed.diff_id, sha256(&gunzip(&packed.bytes)));
    assert_eq!(packed.size, packed.bytes.len() as u64);
    assert_eq!(
        LAYER_MEDIA_TYPE,
        "application/vnd.pacto.bundle.layer.v1.tar+gzip"
    );
    // Fixed gzip header: deflate, no flags, mtime 0, OS byte 255.
    assert_eq!(&packed.bytes[..8], &[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]);
    assert_eq!(packed.bytes[9], 0xff);
}

#[tokio::test]
async fn entries_follow_go_walkdir_order_with_canonical_headers() {
    let b = bundle(&[
        ("api.md", b"md"),
        ("api/x.yaml", b"x"),
        ("api/v1/y.yaml", b"y"),
        ("api-v2/z.yaml", b"z"),
        ("Zeta.txt", b"Z"),
        ("a.txt", b"a"),
    ]);
    let tar = gunzip(&pack(&b, &Limits::default()).await.unwrap().bytes);
    let names: Vec<_> = list_tar(&tar)
        .into_iter()
        .map(|(n, t, _)| format!("{t} {n}"))
        .collect();
    assert_eq!(
        names,
        [
            "0 Zeta.txt",
            "0 a.txt",
            "5 api",
            "5 api/v1",
            "0 api/v1/y.yaml",
            "0 api/x.yaml",
            "5 api-v2",
            "0 api-v2/z.yaml",
            "0 api.md",
            "0 pacto.yaml",
        ]
    );
    // Every header: ustar magic, fixed mode, owner 0, mtime 0, empty user/group names.
    let mut offset = 0;
    for (_, typeflag, size) in list_tar(&tar) {
        let h = &tar[offset..offset + 512];
        let mode: &[u8] = if typeflag == '5' {
            b"0000755\0"
        } else {
            b"0000644\0"
        };
        assert_eq!(&h[100..108], mode);
        assert_eq!(&h[108..116], b"0000000\0");
        assert_eq!(&h[116..124], b"0000000\0");
        assert_eq!(&h[136..148], b"00000000000\0");
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert!(h[265..329].iter().all(|b| *b == 0), "uname/gname");
        offset += 512 + usize::try_from(size.div_ceil(512) * 512).unwrap();
    }
    // Two zero blocks, no record padding.
    assert_eq!(tar.len(), offset + 1024);
    assert!(tar[offset..].iter().all(|b| *b == 0));
}

#[tokio::test]
async fn long_paths_use_ustar_prefix_then_one_pax_record() {
    let (d, e) = ("d".repeat(60), "e".repeat(60));
    let splittable = format!("{d}/{e}/{}", "f".repeat(90));
    let long_leaf = format!("dir/{}", "l".repeat(150));
    let b = bundle(&[
        (splittable.as_str(), b"split"),
        (long_leaf.as_str(), b"pax"),
    ]);
    let packed = pack(&b, &Limits::default()).await.unwrap();
    let tar = gunzip(&packed.bytes);
    let listed = list_tar(&tar);
    let names: Vec<_> = listed.iter().map(|(n, t, _)| (n.clone(), *t)).collect();
    let truncated = String::from_utf8(long_leaf.as_bytes()[..100].to_vec()).unwrap();
    let expected = [
        (d.clone(), '5'),
        (format!("{d}/{e}"), '5'),
        (splittable.clone(), '0'),
        ("dir".to_owned(), '5'),
        ("././@PaxHeader".to_owned(), 'x'),
        (truncated, '0'),
        ("pacto.yaml".to_owned(), '0'),
    ];
    assert_eq!(names, expected);
    // The 212-byte path went into prefix (121 bytes) and name (90 bytes).
    let header = &tar[1024..1536];
    assert_eq!(&header[345..466], format!("{d}/{e}").as_bytes());
    assert_eq!(&header[..90], "f".repeat(90).as_bytes());
    let record = format!("{} path={long_leaf}\n", 6 + long_leaf.len() + 4);
    let pax_offset = tar
        .windows(record.len())
        .position(|w| w == record.as_bytes())
        .expect("the PAX record is in the tar");
    assert_eq!(pax_offset % 512, 0);
    // And it reads back as the same bundle.
    let back = pacto_archive::unpack_bytes(&packed.bytes, &Default::default())
        .await
        .unwrap();
    assert_eq!(back, b);
}

#[tokio::test]
async fn gnu_tar_lists_our_long_names() {
    let long_leaf = format!("dir/{}", "l".repeat(150));
    let packed = pack(&bundle(&[(long_leaf.as_str(), b"x")]), &Limits::default())
        .await
        .unwrap();
    let out = std::process::Command::new("tar")
        .args(["-tzf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&packed.bytes)?;
            child.wait_with_output()
        })
        .expect("GNU tar is needed for this test (apt-get install tar)");
    assert!(out.status.success());
    let listing = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        listing.lines().collect::<Vec<_>>(),
        ["dir", long_leaf.as_str(), "pacto.yaml"]
    );
}

#[tokio::test]
async fn pack_to_file_and_writer_match_pack() {
    let b = bundle(&[("docs/readme.md", b"hello")]);
    let packed = pack(&b, &Limits::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("orders-1.4.2.tar.gz");
    fs::write(&target, b"old content is replaced").unwrap();
    let info = pack_to_file(&b, &target, &Limits::default()).await.unwrap();
    assert_eq!(fs::read(&target).unwrap(), packed.bytes);
    assert_eq!(
        (info.digest.as_str(), info.diff_id.as_str(), info.size),
        (packed.digest.as_str(), packed.diff_id.as_str(), packed.size)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("orders-1.4.2.tar.gz")]);

    let mut sink = Vec::new();
    let info = pack_to_writer(&b, &mut sink, &Limits::default())
        .await
        .unwrap();
    assert_eq!(sink, packed.bytes);
    assert_eq!(info.digest, packed.digest);

    let missing_dir = dir.path().join("absent/out.tar.gz");
    assert!(matches!(
        pack_to_file(&b, &missing_dir, &Limits::default()).await.unwrap_err(),
        pacto_archive::ArchiveError::Io { path: Some(p), .. } if p == missing_dir
    ));
}

/// Packing with a progress observer writes the very bytes of `pack`, and the observer hears
/// of every file byte, about a step at a time.
#[tokio::test]
async fn progress_counts_every_file_byte_and_changes_no_output_byte() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..PROGRESS_STEP * 7 / 2)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let b = bundle(&[
        ("data/noise.bin", noise.as_slice()),
        ("api.md", b"# api\n"),
        ("data/small.txt", b"small\n"),
    ]);
    let limits = Limits::default();
    let expected = pack(&b, &limits).await.unwrap();

    let mut calls = Vec::new();
    let mut written = Vec::new();
    let info = pack_to_writer_with_progress(&b, &mut written, &limits, |n| calls.push(n))
        .await
        .unwrap();
    assert_eq!(written, expected.bytes.as_ref());
    assert_eq!(info.digest, expected.digest);
    assert_eq!(calls.iter().sum::<u64>(), b.total_size());
    assert!(calls.len() >= 3, "{calls:?}");
    // Every call but the last waited for a step.
    let (_, reports) = calls.split_last().unwrap();
    assert!(reports.iter().all(|n| *n >= PROGRESS_STEP), "{calls:?}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.tar.gz");
    let mut total = 0;
    let info = pack_to_file_with_progress(&b, &path, &limits, |n| total += n)
        .await
        .unwrap();
    assert_eq!(fs::read(&path).unwrap(), expected.bytes.as_ref());
    assert_eq!(info.digest, expected.digest);
    assert_eq!(total, b.total_size());
}
