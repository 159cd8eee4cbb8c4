//! One test per refusal, each building its hostile archive byte by byte.

//!
//! Every vector goes through `unpack` and `write_layer` alike ([`unpack_both`],
//! [`unpack_streams`]): the same refusal, and nothing left on disk.

use crate::support::{
    FailingReader, MIB, Piece, RawHeader, Tar, YAML, gzip, gzip_pieces, pax_records, unpack_both,
    unpack_streams, unpack_tar,
};
use pacto_archive::{ExtensionProblem, Limits, NameExtension, UnpackError, unpack};
use pacto_contract::{ContractError, PathError};

/// Unpacks and returns the error, checking it is an invalid-bundle error.
async fn refused(tar: &[u8]) -> UnpackError {
    let err = unpack_tar(tar)
        .await
        .expect_err("the archive must be refused");
    assert!(err.is_invalid_bundle(), "{err:?}");
    err
}

fn file(name: &str) -> Vec<u8> {
    Tar::with_contract().file(name, b"data").finish()
}

#[tokio::test]
async fn parent_traversal() {
    let err = refused(&file("../x")).await;
    assert!(
        matches!(&err, UnpackError::PathTraversal { entry, .. } if entry == "../x"),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"../x\""), "{err}");
}

#[tokio::test]
async fn absolute_path() {
    let err = refused(&file("/etc/passwd")).await;
    assert!(
        matches!(&err, UnpackError::AbsolutePath { entry, .. } if entry == "/etc/passwd"),
        "{err:?}"
    );
}

#[tokio::test]
async fn traversal_in_the_middle() {
    let err = refused(&file("a/../../b")).await;
    assert!(
        matches!(&err, UnpackError::PathTraversal { entry, .. } if entry == "a/../../b"),
        "{err:?}"
    );
}

#[tokio::test]
async fn traversal_through_the_ustar_prefix() {
    let mut header = RawHeader::ustar(b"etc/passwd", b'0', 1);
    header.prefix(b"..");
    let mut tar = Tar::with_contract();
    tar.entry(&header, b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::PathTraversal { entry, .. } if entry == "../etc/passwd"),
        "{err:?}"
    );
}

#[tokio::test]
async fn pax_path_with_a_ustar_prefix_must_match_exactly() {
    // With a prefix, the header holds a full name: a truncated form is no excuse.
    let long = format!("dir/{}", "n".repeat(150));
    let mut header = RawHeader::ustar(&long.as_bytes()[..100], b'0', 1);
    header.prefix(b"dir");
    let mut tar = Tar::with_contract();
    tar.pax(&[("path", long.as_bytes())]);
    tar.entry(&header, b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            &err,
            UnpackError::NameOverride {
                extension: NameExtension::PaxPath,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn traversal_in_a_directory_entry() {
    let tar = Tar::with_contract().dir("../up/").finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::PathTraversal { entry, .. } if entry == "../up/"),
        "{err:?}"
    );
}

#[tokio::test]
async fn backslash() {
    let err = refused(&file("..\\windows\\x")).await;
    assert!(
        matches!(&err, UnpackError::Backslash { entry, .. } if entry == "..\\windows\\x"),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_path_rules() {
    for (name, expected) in [("a//b", "empty"), ("a/./b", "current"), ("dir/", "empty")] {
        let err = refused(&file(name)).await;
        let kind = match &err {
            UnpackError::InvalidPath {
                source: PathError::EmptyComponent { .. },
                ..
            } => "empty",
            UnpackError::InvalidPath {
                source: PathError::CurrentComponent { .. },
                ..
            } => "current",
            _ => "other",
        };
        assert_eq!(kind, expected, "{name}: {err:?}");
    }
}

#[tokio::test]
async fn non_utf8_name() {
    let mut tar = Tar::with_contract();
    tar.entry(&RawHeader::ustar(b"caf\xe9.md", b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::NonUtf8Name { entry_lossy, .. } if entry_lossy == "caf\u{fffd}.md"),
        "{err:?}"
    );
}

async fn refused_type(typeflag: u8, kind: &str) {
    let mut tar = Tar::with_contract();
    let mut header = RawHeader::ustar(b"special", typeflag, 0);
    header.put(157, b"pacto.yaml"); // link target, for the link types
    tar.entry(&header, b"");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::UnsupportedEntryType { entry, kind: k, .. } if entry == "special" && k == kind),
        "{err:?}"
    );
}

#[tokio::test]
async fn symlink() {
    refused_type(b'2', "symlink").await;
}

#[tokio::test]
async fn hardlink() {
    refused_type(b'1', "hard link").await;
}

#[tokio::test]
async fn char_device() {
    refused_type(b'3', "character device").await;
}

#[tokio::test]
async fn block_device() {
    refused_type(b'4', "block device").await;
}

#[tokio::test]
async fn fifo() {
    refused_type(b'6', "fifo").await;
}

#[tokio::test]
async fn contiguous_and_unknown_types() {
    refused_type(b'7', "contiguous file").await;
    refused_type(b'S', "GNU sparse file").await;
    refused_type(b'V', "entry of type 'V'").await;
}

#[tokio::test]
async fn file_one_byte_over_the_limit() {
    let big = vec![b'x'; 10 * MIB + 1];
    let tar = Tar::with_contract().file("big.bin", &big).finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::FileTooLarge { entry, size, limit, .. }
            if entry == "big.bin" && *size == (10 * MIB + 1) as u64 && *limit == (10 * MIB) as u64),
        "{err:?}"
    );
}

#[tokio::test]
async fn six_files_of_ten_mib() {
    let mut pieces = vec![Piece::Bytes(Tar::with_contract().bytes)];
    for i in 0..6 {
        let header = RawHeader::ustar(format!("part-{i}.bin").as_bytes(), b'0', 10 * MIB as u64);
        pieces.push(Piece::Bytes(header.block().to_vec()));
        pieces.push(Piece::ZeroMib(10));
    }
    let err = unpack_streams(|| gzip_pieces(pieces.clone()))
        .await
        .result
        .unwrap_err();
    // pacto.yaml plus five parts is over 50 MiB by the YAML's size: the fifth part crosses.
    assert!(
        matches!(&err, UnpackError::TotalTooLarge { entry, limit, .. }
            if entry == "part-4.bin" && *limit == (50 * MIB) as u64),
        "{err:?}"
    );
}

#[tokio::test]
async fn ten_thousand_and_one_entries() {
    let mut tar = Tar::with_contract();
    for i in 0..10_000 {
        tar.file(&format!("f/{i:05}"), b"");
    }
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(err, UnpackError::TooManyEntries { limit: 10_000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn implied_directories_count_as_entries() {
    // 5,000 files, each alone in a directory the archive never lists: 10,001 entries once
    // the directories are counted, as the canonical re-pack would write them.
    let mut tar = Tar::with_contract();
    for i in 0..5_000 {
        tar.file(&format!("d{i:04}/f"), b"");
    }
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(err, UnpackError::TooManyEntries { limit: 10_000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn extension_headers_add_up_to_a_limit() {
    // Each PAX header is under the 1 MiB cap; together they pass the total limit.
    let comment = vec![b'c'; 600 * 1024];
    let mut tar = Tar::with_contract();
    for name in ["a", "b"] {
        tar.pax(&[("comment", &comment)]);
        tar.file(name, b"x");
    }
    let limits = Limits::default().with_max_total_size(MIB as u64);
    let err = unpack_both(&gzip(&tar.finish()), &limits)
        .await
        .unwrap_err();
    assert!(
        matches!(err, UnpackError::BadExtension { problem: ExtensionProblem::TooMuchInTotal { limit, .. }, .. } if limit == MIB as u64),
        "{err:?}"
    );
}

#[tokio::test]
async fn deeply_nested_paths_are_cheap_to_refuse() {
    // Paths of thousands of components: refused past 4096 bytes, and below that the
    // bookkeeping is linear in the path length.
    let deep = vec!["d"; 2_100].join("/");
    let mut tar = Tar::with_contract();
    for i in 0..3 {
        tar.gnu_long_name(format!("{deep}/{i}").as_bytes());
        tar.entry(&RawHeader::gnu(&deep.as_bytes()[..100], b'0', 0), b"");
    }
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::InvalidPath {
                source: PathError::TooLong { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let deep = vec!["d"; 1_500].join("/");
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(deep.as_bytes());
    tar.entry(&RawHeader::gnu(&deep.as_bytes()[..100], b'0', 0), b"");
    tar.gnu_long_name(format!("{deep}/x").as_bytes());
    tar.entry(&RawHeader::gnu(&deep.as_bytes()[..100], b'0', 0), b"");
    let tar = gzip(&tar.finish());
    // The default depth limit refuses the first entry at once...
    let err = unpack_both(&tar, &Limits::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::TooDeep {
                depth: 1_500,
                limit: 128,
                ..
            }
        ),
        "{err:?}"
    );
    // ...and with the depth limit lifted, the conflict is found by linear bookkeeping.
    let lifted = Limits::default().with_max_depth(u64::MAX);
    let err = unpack_both(&tar, &lifted).await.unwrap_err();
    assert!(
        matches!(&err, UnpackError::PathConflict { file, .. } if *file == deep),
        "{err:?}"
    );
}

#[tokio::test]
async fn duplicate_path() {
    let tar = Tar::with_contract()
        .file("a.txt", b"one")
        .file("./a.txt", b"two")
        .finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::DuplicatePath { entry, .. } if entry == "a.txt"),
        "{err:?}"
    );
}

#[tokio::test]
async fn duplicate_contract() {
    let evil = "pactoVersion: '1.0'\nservice:\n  name: evil\n  version: 6.6.6\n";
    let tar = Tar::with_contract()
        .file("pacto.yaml", evil.as_bytes())
        .finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::DuplicatePath { entry, .. } if entry == "pacto.yaml"),
        "{err:?}"
    );
}

#[tokio::test]
async fn duplicate_directory() {
    let tar = Tar::with_contract().dir("api").dir("api/").finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::DuplicatePath { entry, .. } if entry == "api"),
        "{err:?}"
    );
}

#[tokio::test]
async fn file_used_as_a_directory() {
    let tar = Tar::with_contract()
        .file("api", b"file")
        .file("api/x", b"x")
        .finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::PathConflict { entry, file, .. } if entry == "api/x" && file == "api"),
        "{err:?}"
    );
    let tar = Tar::with_contract()
        .file("api/x", b"x")
        .file("api", b"file")
        .finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::PathConflict { entry, file, .. } if entry == "api/x" && file == "api"),
        "{err:?}"
    );
    let tar = Tar::with_contract()
        .file("api", b"file")
        .dir("api")
        .finish();
    let err = refused(&tar).await;
    assert!(
        matches!(&err, UnpackError::DuplicatePath { entry, .. } if entry == "api"),
        "{err:?}"
    );
}

#[tokio::test]
async fn directory_with_data() {
    let mut tar = Tar::with_contract();
    tar.entry(&RawHeader::ustar(b"docs", b'5', 5), b"hello");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::DirectoryWithData { entry, size: 5, .. } if entry == "docs"),
        "{err:?}"
    );
}

#[tokio::test]
async fn truncated_entry() {
    let mut tar = Tar::with_contract();
    tar.raw(&RawHeader::ustar(b"cut.bin", b'0', 4096).block());
    tar.raw(&[b'x'; 1000]);
    // No padding, no end marker: the stream just stops (inside valid gzip).
    let err = refused(&tar.bytes).await;
    assert!(
        matches!(&err, UnpackError::TruncatedEntry { entry, expected: 4096, actual: 1000, .. } if entry == "cut.bin"),
        "{err:?}"
    );
}

#[tokio::test]
async fn truncated_header() {
    let mut tar = Tar::with_contract();
    tar.raw(&RawHeader::ustar(b"half", b'0', 0).block()[..300]);
    let err = refused(&tar.bytes).await;
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_end_of_archive() {
    let tar = Tar::with_contract().bytes;
    let err = refused(&tar).await;
    assert!(matches!(err, UnpackError::MissingEndOfArchive), "{err:?}");
}

#[tokio::test]
async fn data_after_end_of_archive() {
    let mut tar = Tar::with_contract().finish();
    let second = Tar::new().file("smuggled.txt", b"x").finish();
    let offset = tar.len() as u64;
    tar.extend_from_slice(&second);
    let err = refused(&tar).await;
    assert!(
        matches!(err, UnpackError::DataAfterArchiveEnd { offset: o, .. } if o == offset),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_header_checksum() {
    let mut tar = Tar::with_contract().finish();
    tar[0] ^= 0x20; // "pacto.yaml" -> "Pacto.yaml" without fixing the checksum
    let err = refused(&tar).await;
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn corrupt_gzip() {
    let mut gz = gzip(&Tar::with_contract().file("a.txt", &[7; 5000]).finish());
    let middle = gz.len() / 2;
    gz[middle] ^= 0xff;
    let err = unpack_both(&gz, &Limits::default()).await.unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err:?}");
    assert!(err.is_invalid_bundle());

    let mut gz = gzip(&Tar::with_contract().finish());
    gz[0] = 0x1e; // not gzip at all
    let err = unpack_both(&gz, &Limits::default()).await.unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err:?}");

    let mut gz = gzip(&Tar::with_contract().finish());
    let crc = gz.len() - 8;
    gz[crc] ^= 1; // checksum mismatch
    let err = unpack_both(&gz, &Limits::default()).await.unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn truncated_gzip() {
    let gz = gzip(&Tar::with_contract().finish());
    for cut in [0, 5, gz.len() / 2, gz.len() - 4] {
        let err = unpack_both(&gz[..cut], &Limits::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UnpackError::TruncatedStream),
            "cut at {cut}: {err:?}"
        );
    }
}

#[tokio::test]
async fn trailing_garbage_after_gzip() {
    let mut gz = gzip(&Tar::with_contract().finish());
    gz.extend_from_slice(b"garbage");
    let err = unpack_both(&gz, &Limits::default()).await.unwrap_err();
    assert!(matches!(err, UnpackError::TrailingData), "{err:?}");
    let mut gz = gzip(&Tar::with_contract().finish());
    gz.extend_from_slice(&[0; 16]); // Go's gzip reader refuses trailing zeros too
    let err = unpack_both(&gz, &Limits::default()).await.unwrap_err();
    assert!(matches!(err, UnpackError::TrailingData), "{err:?}");
}

#[tokio::test]
async fn gzip_bomb_with_a_lying_header_fails_at_the_header() {
    let mut prefix = Tar::with_contract().bytes;
    prefix.extend_from_slice(&RawHeader::ustar(b"bomb.bin", b'0', 1 << 30).block());
    let pieces = vec![Piece::Bytes(prefix), Piece::ZeroMib(1024)];
    let streamed = unpack_streams(|| gzip_pieces(pieces.clone())).await;
    let err = streamed.result.unwrap_err();
    assert!(
        matches!(&err, UnpackError::FileTooLarge { entry, size, .. } if entry == "bomb.bin" && *size == 1 << 30),
        "{err:?}"
    );
    // The 1 GiB stream is about 1 MiB of gzip; the reader stopped after one buffer.
    let read = streamed.read;
    assert!(read <= 128 * 1024, "read {read} compressed bytes");
}

#[tokio::test]
async fn gzip_bomb_of_zeros_fails_after_the_padding_allowance() {
    let streamed = unpack_streams(|| gzip_pieces(vec![Piece::ZeroMib(1024)])).await;
    let err = streamed.result.unwrap_err();
    assert!(
        matches!(err, UnpackError::DataAfterArchiveEnd { .. }),
        "{err:?}"
    );
    let read = streamed.read;
    assert!(read <= 128 * 1024, "read {read} compressed bytes");
}

#[tokio::test]
async fn gzip_bomb_of_files_fails_at_the_total_limit() {
    // Forty 10 MiB files of zeros, each within the per-file limit: decompression stops at
    // the total limit, not at the end of the 400 MiB stream.
    let mut pieces = vec![Piece::Bytes(Tar::with_contract().bytes)];
    for i in 0..40 {
        let header = RawHeader::ustar(format!("zeros-{i}").as_bytes(), b'0', 10 * MIB as u64);
        pieces.push(Piece::Bytes(header.block().to_vec()));
        pieces.push(Piece::ZeroMib(10));
    }
    let streamed = unpack_streams(|| gzip_pieces(pieces.clone())).await;
    let (read, total) = (streamed.read, streamed.total);
    let err = streamed.result.unwrap_err();
    assert!(
        matches!(&err, UnpackError::TotalTooLarge { entry, .. } if entry == "zeros-4"),
        "{err:?}"
    );
    assert!(read < total / 2, "read {read} of {total} compressed bytes");
}

#[tokio::test]
async fn pax_path_override() {
    let mut tar = Tar::with_contract();
    tar.pax(&[("path", b"pacto.lock")]);
    tar.file("innocent.txt", b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::NameOverride { entry, header_name, extension: NameExtension::PaxPath, .. }
            if entry == "pacto.lock" && header_name == "innocent.txt"),
        "{err:?}"
    );
}

#[tokio::test]
async fn pax_size_override_smaller_than_header() {
    // TARmageddon: the PAX size hides the header's data from readers that honour it, and
    // the hidden data is itself a tar entry that would replace pacto.yaml.
    let inner = Tar::new().file("pacto.yaml", b"evil").bytes.clone();
    let mut tar = Tar::with_contract();
    tar.pax(&[("size", b"0")]);
    tar.entry(
        &RawHeader::ustar(b"cover.txt", b'0', inner.len() as u64),
        &inner,
    );
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::PaxSizeMismatch { entry, header_size, pax_size: 0, .. }
            if entry == "cover.txt" && *header_size == inner.len() as u64),
        "{err:?}"
    );
}

#[tokio::test]
async fn pax_size_override_larger_than_header() {
    let mut tar = Tar::with_contract();
    tar.pax(&[("size", b"1024")]);
    tar.file("cover.txt", b"");
    tar.file("hidden.txt", b"only some readers see me");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::PaxSizeMismatch { entry, header_size: 0, pax_size: 1024, .. } if entry == "cover.txt"),
        "{err:?}"
    );
}

#[tokio::test]
async fn pax_records_that_are_malformed_or_forbidden() {
    let cases: [(&[u8], &str); 6] = [
        (b"9 path\n", "malformed"),
        (b"99 path=x\n", "malformed"),
        (&pax_records(&[("size", b"12a")]), "malformed"),
        (&pax_records(&[("path", b"a"), ("path", b"a")]), "malformed"),
        (&pax_records(&[("path", b"")]), "malformed"),
        (&pax_records(&[("GNU.sparse.map", b"0,10")]), "forbidden"),
    ];
    for (records, expected) in cases {
        let mut tar = Tar::with_contract();
        tar.entry(
            &RawHeader::ustar(b"PaxHeaders/a", b'x', records.len() as u64),
            records,
        );
        tar.file("a", b"x");
        let err = refused(&tar.finish()).await;
        let got = match &err {
            UnpackError::BadExtension {
                problem: ExtensionProblem::Malformed,
                ..
            } => "malformed",
            UnpackError::ForbiddenPaxKey { key, .. } if key == "GNU.sparse.map" => "forbidden",
            _ => "other",
        };
        assert_eq!(
            got,
            expected,
            "{:?}: {err:?}",
            String::from_utf8_lossy(records)
        );
    }
}

#[tokio::test]
async fn global_pax_header_may_not_rename_or_resize() {
    for key in ["path", "size", "linkpath"] {
        let records = pax_records(&[(key, b"1")]);
        let mut tar = Tar::new();
        tar.entry(
            &RawHeader::ustar(b"global", b'g', records.len() as u64),
            &records,
        );
        tar.file("pacto.yaml", YAML.as_bytes());
        let err = refused(&tar.finish()).await;
        assert!(
            matches!(&err, UnpackError::ForbiddenPaxKey { key: k, .. } if k == key),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn extension_headers_out_of_place() {
    // Two PAX headers for one entry.
    let mut tar = Tar::with_contract();
    tar.pax(&[("mtime", b"1")])
        .pax(&[("mtime", b"2")])
        .file("a", b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::BadExtension {
                problem: ExtensionProblem::Repeated,
                ..
            }
        ),
        "{err:?}"
    );
    // A PAX header at the end of the archive.
    let mut tar = Tar::with_contract();
    tar.pax(&[("mtime", b"1")]);
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::BadExtension {
                problem: ExtensionProblem::NotFollowedByEntry,
                ..
            }
        ),
        "{err:?}"
    );
    // A PAX header far larger than any legitimate one.
    let mut tar = Tar::with_contract();
    tar.entry(
        &RawHeader::ustar(b"PaxHeaders/big", b'x', 2 * MIB as u64),
        &vec![b'1'; 2 * MIB],
    );
    tar.file("a", b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(err, UnpackError::BadExtension { problem: ExtensionProblem::TooLarge { size, .. }, .. } if size == 2 * MIB as u64),
        "{err:?}"
    );
}

#[tokio::test]
async fn gnu_long_name_that_disagrees_with_the_header() {
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(b"pacto.lock");
    tar.entry(&RawHeader::gnu(b"innocent.txt", b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::NameOverride { entry, header_name, extension: NameExtension::GnuLongName, .. }
            if entry == "pacto.lock" && header_name == "innocent.txt"),
        "{err:?}"
    );
}

#[tokio::test]
async fn gnu_long_name_hiding_a_traversal() {
    // The header shows the harmless first 100 bytes; the long name climbs out.
    let long = format!("{}/../../../../etc/cron.d/x", "a".repeat(100));
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(long.as_bytes());
    tar.entry(&RawHeader::gnu(&long.as_bytes()[..100], b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::PathTraversal { entry, .. } if *entry == long),
        "{err:?}"
    );
}

#[tokio::test]
async fn gnu_long_name_tricks() {
    // Two long names for one entry.
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(b"first").gnu_long_name(b"second");
    tar.entry(&RawHeader::gnu(b"second", b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::BadExtension {
                problem: ExtensionProblem::Repeated,
                ..
            }
        ),
        "{err:?}"
    );
    // A long name and a PAX path for one entry.
    let mut tar = Tar::with_contract();
    tar.pax(&[("path", b"one")]).gnu_long_name(b"one");
    tar.entry(&RawHeader::gnu(b"one", b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::BadExtension {
                problem: ExtensionProblem::PaxAndGnuName,
                ..
            }
        ),
        "{err:?}"
    );
    // A long name with nothing after it.
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(b"dangling");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::BadExtension {
                problem: ExtensionProblem::NotFollowedByEntry,
                ..
            }
        ),
        "{err:?}"
    );
    // A long name with a NUL inside.
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(b"a\0b");
    tar.entry(&RawHeader::gnu(b"a", b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(matches!(err, UnpackError::NameOverride { .. }), "{err:?}");
    // A 2 MiB long name.
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(&vec![b'n'; 2 * MIB]);
    tar.entry(&RawHeader::gnu(&[b'n'; 100], b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(
            err,
            UnpackError::BadExtension {
                problem: ExtensionProblem::TooLarge { .. },
                ..
            }
        ),
        "{err:?}"
    );
    // A long name describing a symlink is still a symlink.
    let long = "l".repeat(120);
    let mut tar = Tar::with_contract();
    tar.gnu_long_name(long.as_bytes());
    tar.entry(&RawHeader::gnu(&long.as_bytes()[..100], b'2', 0), b"");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::UnsupportedEntryType { entry, kind, .. } if *entry == long && kind == "symlink"),
        "{err:?}"
    );
    // GNU long link names are only for links.
    let mut tar = Tar::with_contract();
    tar.entry(&RawHeader::gnu(b"././@LongLink", b'K', 4), b"abc\0");
    tar.entry(&RawHeader::gnu(b"x", b'0', 1), b"x");
    let err = refused(&tar.finish()).await;
    assert!(
        matches!(&err, UnpackError::UnsupportedEntryType { kind, .. } if kind == "GNU long link name"),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_contract() {
    let tar = Tar::new().file("readme.md", b"hi").finish();
    let err = refused(&tar).await;
    assert!(matches!(err, UnpackError::MissingContract), "{err:?}");
    let tar = Tar::new().file("sub/pacto.yaml", YAML.as_bytes()).finish();
    assert!(matches!(refused(&tar).await, UnpackError::MissingContract));
}

#[tokio::test]
async fn invalid_yaml() {
    let tar = Tar::new()
        .file("pacto.yaml", b"pactoVersion: '1.0\n")
        .finish();
    let err = refused(&tar).await;
    assert!(
        matches!(
            err,
            UnpackError::InvalidContract {
                source: ContractError::Syntax { line: 1, .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_required_fields() {
    let tar = Tar::new()
        .file("pacto.yaml", b"pactoVersion: '1.0'\nservice:\n  name: x\n")
        .finish();
    let err = refused(&tar).await;
    match err {
        UnpackError::InvalidContract { source, .. } => assert_eq!(
            source.to_string(),
            "parse error at service.version: service.version is required"
        ),
        other => panic!("expected an invalid contract, got {other:?}"),
    }
}

#[tokio::test]
async fn yaml_bomb_in_the_contract() {
    let mut yaml = String::from(YAML);
    yaml.push_str("metadata:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (name, prev) in [
        ("b", "a"),
        ("c", "b"),
        ("d", "c"),
        ("e", "d"),
        ("f", "e"),
        ("g", "f"),
        ("h", "g"),
    ] {
        yaml.push_str(&format!(
            "  {name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
    }
    let tar = Tar::new().file("pacto.yaml", yaml.as_bytes()).finish();
    let err = refused(&tar).await;
    assert!(
        matches!(
            err,
            UnpackError::InvalidContract {
                source: ContractError::TooComplex { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn read_errors_are_not_the_artifacts_fault() {
    let gz = gzip(&Tar::with_contract().file("a", &[1; 100_000]).finish());
    let reader = FailingReader {
        data: gz[..gz.len() / 2].to_vec(),
        pos: 0,
    };
    let err = unpack(reader, &Limits::default()).await.unwrap_err();
    assert!(
        matches!(&err, UnpackError::Read { source, .. } if source.kind() == std::io::ErrorKind::ConnectionReset),
        "{err:?}"
    );
    assert!(!err.is_invalid_bundle());
}

#[tokio::test]
async fn lowered_limits_apply() {
    let tar = Tar::with_contract()
        .file("a", &[1; 100])
        .file("b", &[1; 100])
        .finish();
    let limits = Limits::default().with_max_file_size(99);
    let err = unpack_both(&gzip(&tar), &limits).await.unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::FileTooLarge {
                size: 100,
                limit: 99,
                ..
            }
        ),
        "{err:?}"
    );
    let limits = Limits::default().with_max_total_size(YAML.len() as u64 + 199);
    let err = unpack_both(&gzip(&tar), &limits).await.unwrap_err();
    assert!(
        matches!(&err, UnpackError::TotalTooLarge { entry, .. } if entry == "b"),
        "{err:?}"
    );
    let limits = Limits::default().with_max_entries(2);
    let err = unpack_both(&gzip(&tar), &limits).await.unwrap_err();
    assert!(
        matches!(err, UnpackError::TooManyEntries { limit: 2, .. }),
        "{err:?}"
    );
}
