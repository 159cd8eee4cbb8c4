//! Archives that must be accepted: limits exactly reached, Go pacto's layers, GNU tar's,
//! and unusual-but-legal names; each through `unpack` and `write_layer` ([`unpack_both`]).

use crate::support::{
    MIB, RawHeader, Tar, YAML, gzip, gzip_level, pax_records, unpack_both, unpack_tar,
};
use bytes::Bytes;
use pacto_archive::{Limits, pack};
use pacto_contract::BundlePath;
use std::process::Command;

fn keys(bundle: &pacto_contract::Bundle) -> Vec<&str> {
    bundle.files().keys().map(BundlePath::as_str).collect()
}

#[tokio::test]
async fn limits_are_inclusive() {
    // A file of exactly 10 MiB, and files adding up to exactly 50 MiB.
    let yaml_len = YAML.len();
    let mut tar = Tar::with_contract();
    let ten = vec![b'a'; 10 * MIB];
    for i in 0..4 {
        tar.file(&format!("part-{i}"), &ten);
    }
    tar.file("rest", &vec![b'b'; 10 * MIB - yaml_len]);
    let gz = gzip_level(&tar.finish(), flate2::Compression::fast());
    let bundle = unpack_both(&gz, &Limits::default()).await.unwrap();
    assert_eq!(bundle.total_size(), (50 * MIB) as u64);
    assert_eq!(bundle.files()["part-0"].len(), 10 * MIB);

    // Exactly 10,000 entries: pacto.yaml, one directory and 9,998 files in it.
    let mut tar = Tar::with_contract();
    tar.dir("f");
    for i in 0..9_998 {
        tar.file(&format!("f/{i:04}"), b"");
    }
    let bundle = unpack_tar(&tar.finish()).await.unwrap();
    assert_eq!(bundle.files().len(), 9_999);
    // Our own archive of it has exactly as many entries, and reads back.
    let packed = pack(&bundle, &Limits::default()).await.unwrap();
    assert_eq!(
        unpack_both(&packed.bytes, &Limits::default())
            .await
            .unwrap(),
        bundle
    );
}

#[tokio::test]
async fn names_with_dots_are_fine() {
    let tar = Tar::with_contract()
        .file("my..file.yaml", b"1")
        .file("..hidden.txt", b"2")
        .file(".github/ci.yaml", b"3")
        .file("./dot-slash.txt", b"4")
        .finish();
    let bundle = unpack_tar(&tar).await.unwrap();
    assert_eq!(
        keys(&bundle),
        [
            "..hidden.txt",
            ".github/ci.yaml",
            "dot-slash.txt",
            "my..file.yaml",
            "pacto.yaml"
        ]
    );
}

/// A header laid out as Go's `archive/tar` writes it for pacto (`FormatUSTAR`): every
/// numeric field octal and NUL-terminated, device numbers included.
fn go_header(name: &[u8], typeflag: u8, size: u64) -> RawHeader {
    let mut h = RawHeader::ustar(name, typeflag, size);
    h.octal(100, 8, if typeflag == b'5' { 0o755 } else { 0o644 });
    h.octal(329, 8, 0).octal(337, 8, 0);
    h
}

#[tokio::test]
async fn go_pacto_layers_are_read() {
    // fs.WalkDir order, directory entries without trailing slash, gzip BestSpeed, and a
    // PAX header for a non-ASCII name whose ustar name Go strips to ASCII.
    let mut tar = Tar::new();
    tar.entry(&go_header(b"api", b'5', 0), b"");
    tar.entry(&go_header(b"api/openapi.yaml", b'0', 7), b"openapi");
    let records = pax_records(&[("path", "docs/caf\u{e9}.md".as_bytes())]);
    tar.entry(
        &go_header(b"docs/PaxHeaders.0/caf.md", b'x', records.len() as u64),
        &records,
    );
    tar.entry(&go_header(b"docs/caf.md", b'0', 5), b"menu!");
    tar.entry(
        &go_header(b"pacto.yaml", b'0', YAML.len() as u64),
        YAML.as_bytes(),
    );
    let gz = gzip_level(&tar.finish(), flate2::Compression::fast());
    let bundle = unpack_both(&gz, &Limits::default()).await.unwrap();
    assert_eq!(
        keys(&bundle),
        ["api/openapi.yaml", "docs/caf\u{e9}.md", "pacto.yaml"]
    );
    assert_eq!(
        bundle.files()["docs/caf\u{e9}.md"],
        Bytes::from_static(b"menu!")
    );
    assert_eq!(bundle.name(), "orders");
}

#[tokio::test]
async fn go_long_names_truncated_to_ascii_are_read() {
    // Go puts the first 100 ASCII bytes of a long path in the name field, without a
    // trailing slash.
    let long = format!("{}/\u{e9}{}", "d".repeat(99), "x".repeat(50));
    let ascii: String = long.chars().filter(char::is_ascii).collect();
    let field = ascii[..100].trim_end_matches('/').to_owned();
    assert_eq!(field.len(), 99);
    let records = pax_records(&[("path", long.as_bytes())]);
    let mut tar = Tar::with_contract();
    tar.entry(
        &go_header(b"PaxHeaders.0/x", b'x', records.len() as u64),
        &records,
    );
    tar.entry(&go_header(field.as_bytes(), b'0', 1), b"x");
    let bundle = unpack_tar(&tar.finish()).await.unwrap();
    assert!(bundle.files().contains_key(long.as_str()));
}

#[tokio::test]
async fn pax_records_that_change_nothing_are_ignored() {
    let mut tar = Tar::with_contract();
    tar.pax(&[
        ("mtime", b"1700000000.5"),
        ("uname", b"someone"),
        ("SCHILY.xattr.user.x", b"1"),
        ("size", b"3"),
        ("path", b"same.txt"),
    ]);
    tar.file("same.txt", b"abc");
    let records = pax_records(&[("comment", b"made by git archive")]);
    tar.entry(
        &RawHeader::ustar(b"pax_global_header", b'g', records.len() as u64),
        &records,
    );
    tar.file("after-global.txt", b"d");
    let bundle = unpack_tar(&tar.finish()).await.unwrap();
    assert_eq!(
        keys(&bundle),
        ["after-global.txt", "pacto.yaml", "same.txt"]
    );
}

#[tokio::test]
async fn old_style_entries_are_read() {
    let mut tar = Tar::with_contract();
    tar.entry(&RawHeader::ustar(b"olddir/", 0, 0), b"");
    tar.entry(&RawHeader::ustar(b"olddir/file", 0, 2), b"ok");
    let mut v7 = RawHeader::ustar(b"v7.txt", b'0', 2);
    v7.put(257, &[0; 8]); // no magic: a pre-POSIX header
    tar.entry(&v7, b"v7");
    let bundle = unpack_tar(&tar.finish()).await.unwrap();
    assert_eq!(keys(&bundle), ["olddir/file", "pacto.yaml", "v7.txt"]);
}

#[tokio::test]
async fn concatenated_gzip_members_and_record_padding_are_read() {
    let mut tar = Tar::with_contract().file("a.txt", b"a").finish();
    tar.resize(10240, 0); // GNU tar's record padding
    let (first, second) = tar.split_at(700);
    let mut gz = gzip(first);
    gz.extend_from_slice(&gzip(second));
    let bundle = unpack_both(&gz, &Limits::default()).await.unwrap();
    assert_eq!(keys(&bundle), ["a.txt", "pacto.yaml"]);
}

#[tokio::test]
async fn a_single_end_block_is_enough() {
    let mut tar = Tar::with_contract().bytes;
    tar.extend_from_slice(&[0; 512]);
    assert!(unpack_tar(&tar).await.is_ok());
}

fn gnu_tar(args: &[&str], dir: &std::path::Path) -> Vec<u8> {
    let out = Command::new("tar")
        .args(args)
        .arg("-C")
        .arg(dir)
        .args(["-czf", "-", "."])
        .output()
        .expect("GNU tar is needed for this test (apt-get install tar)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn gnu_tar_archives_are_read_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("deep/{}/{}.yaml", "n".repeat(120), "leaf".repeat(20));
    for (rel, content) in [
        ("pacto.yaml", YAML),
        ("api/openapi.yaml", "openapi"),
        (long.as_str(), "long"),
        ("docs/caf\u{e9}.md", "menu"),
    ] {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    for format in ["--format=gnu", "--format=pax", "--format=posix"] {
        let gz = gnu_tar(&[format], dir.path());
        let bundle = unpack_both(&gz, &Limits::default())
            .await
            .unwrap_or_else(|e| panic!("{format}: {e:?}"));
        assert_eq!(
            keys(&bundle),
            [
                "api/openapi.yaml",
                long.as_str(),
                "docs/caf\u{e9}.md",
                "pacto.yaml"
            ],
            "{format}"
        );
    }
}

#[tokio::test]
async fn our_layers_read_back_after_gnu_tar_repacks_them() {
    // Our output is plain tar: GNU tar extracts it, and its re-pack reads back the same.
    let b = crate::support::bundle(&[("api/openapi.yaml", b"openapi"), ("api.md", b"# api")]);
    let packed = pack(&b, &Limits::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layer.tar.gz");
    std::fs::write(&archive, &packed.bytes).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&out_dir)
        .status()
        .expect("GNU tar is needed for this test (apt-get install tar)");
    assert!(status.success());
    let repacked = unpack_both(&gnu_tar(&[], &out_dir), &Limits::default())
        .await
        .unwrap();
    assert_eq!(repacked, b);
}
