//! `pack_dir_to_file`: a directory packed from disk, file by file, gives the bytes `pack`
//! gives for `Bundle::from_dir` of it, refuses what `from_dir` (and `check_references`)
//! refuse with the same errors, and fails when a file changes under it.

use crate::support::{MIB, YAML};
use pacto_archive::{
    ArchiveError, Durability, LayerWatch, Limits, PROGRESS_STEP, PackDirError, Written, list_dir,
    pack, pack_dir_to_file, pack_listing, pack_to_file,
};
use pacto_contract::Bundle;
use std::fs;
use std::path::Path;

/// Deterministic noise (xorshift), incompressible.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (path, bytes) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// A bundle directory's files: path and bytes.
type Files = Vec<(String, Vec<u8>)>;

/// The bundle directories packed both ways: each by name, with its files.
fn cases() -> Vec<(&'static str, Files)> {
    let long = format!("schemas/{}.json", "very-long-name".repeat(10));
    let deep = format!("{}/leaf.txt", ["d"; 60].join("/"));
    let text: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i}: {}\n", i.wrapping_mul(2_654_435_761) % 997).into_bytes())
        .collect();
    let owned = |files: &[(&str, &[u8])]| -> Files {
        files
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.to_vec()))
            .collect()
    };
    vec![
        ("contract only", owned(&[("pacto.yaml", YAML.as_bytes())])),
        (
            // The golden bundle of golden.rs, as a directory.
            "golden example",
            owned(&[
                ("pacto.yaml", YAML.as_bytes()),
                (
                    "api/openapi.yaml",
                    b"openapi: 3.1.0\ninfo:\n  title: orders\n  version: 1.4.2\n",
                ),
                ("api.md", b"# Orders API\n"),
                ("docs/runbook.md", b"Restart with care.\n"),
                ("pacto.lock", b"{}\n"),
                (long.as_str(), b"{\"type\": \"object\"}\n"),
            ]),
        ),
        (
            "several MiB, ignored files, deep and empty files",
            owned(&[
                ("pacto.yaml", YAML.as_bytes()),
                ("data/noise.bin", &noise(1, 3 * MIB + 12_345)),
                ("data/text.txt", &text),
                ("data/empty", b""),
                (deep.as_str(), b"deep\n"),
                (".pactoignore", b"*.tmp\nbuild/\n"),
                ("scratch.tmp", b"ignored"),
                ("build/out.bin", b"ignored"),
                (".git/HEAD", b"ignored"),
            ]),
        ),
    ]
}

#[tokio::test]
async fn packs_the_bytes_pack_gives_for_from_dir() {
    for (name, files) in cases() {
        let dir = tempfile::tempdir().unwrap();
        let borrowed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        write_tree(dir.path(), &borrowed);
        let bundle = Bundle::from_dir(dir.path()).unwrap();
        let expected = pack(&bundle, &Limits::default()).await.unwrap();

        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("layer.tar.gz");
        let mut reported = 0;
        let packed = pack_dir_to_file(dir.path(), &path, &Limits::default(), |n| reported += n)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Not assert_eq!: a mismatch would print megabytes.
        assert!(
            fs::read(&path).unwrap() == expected.bytes,
            "{name}: bytes differ"
        );
        assert_eq!(packed.layer.digest, expected.digest, "{name}");
        assert_eq!(packed.layer.diff_id, expected.diff_id, "{name}");
        assert_eq!(packed.layer.size, expected.size, "{name}");
        assert_eq!(packed.contract, *bundle.contract(), "{name}");
        assert_eq!(packed.files, bundle.files().len(), "{name}");
        assert_eq!(packed.total_size, bundle.total_size(), "{name}");
        assert_eq!(reported, bundle.total_size(), "{name}: progress");

        // And pack_to_file of the bundle agrees, to the byte.
        let again = out.path().join("again.tar.gz");
        pack_to_file(&bundle, &again, &Limits::default())
            .await
            .unwrap();
        assert!(
            fs::read(&again).unwrap() == expected.bytes,
            "{name}: bytes differ"
        );
    }
}

/// The golden digest of golden.rs, reached from a directory.
#[tokio::test]
async fn the_golden_example_keeps_its_digest_from_a_directory() {
    let (_, files) = cases().swap_remove(1);
    let dir = tempfile::tempdir().unwrap();
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    write_tree(dir.path(), &borrowed);
    let out = tempfile::tempdir().unwrap();
    let packed = pack_dir_to_file(
        dir.path(),
        &out.path().join("l"),
        &Limits::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        packed.layer.digest,
        "sha256:2ea795bef317dcefeb49527ec1ac06052e8d8f2ff27327fd1cf5f3b3cc8ca523"
    );
    assert_eq!(packed.layer.size, 582);
}

/// Each broken directory is refused with the error `from_dir` (then `check_references`)
/// gives, and no layer file is left behind.
#[tokio::test]
async fn refuses_what_from_dir_refuses_with_the_same_error() {
    type Setup = fn(&Path);
    const WITH_REFS: &str = "pactoVersion: '1.0'\nservice:\n  name: orders\n  version: 1.4.2\n\
                             interfaces:\n  - name: api\n    type: http\n    contract: api/openapi.yaml\n";
    let cases: Vec<(&str, Limits, Setup, &str)> = vec![
        (
            "no pacto.yaml",
            Limits::default(),
            |d| write_tree(d, &[("readme.md", b"x")]),
            "",
        ),
        (
            "invalid contract",
            Limits::default(),
            |d| write_tree(d, &[("pacto.yaml", b"service: [")]),
            "",
        ),
        (
            "symbolic link",
            Limits::default(),
            |d| {
                write_tree(d, &[("pacto.yaml", YAML.as_bytes())]);
                std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap();
            },
            "",
        ),
        (
            "file over the per-file limit",
            Limits::default().with_max_file_size(10),
            |d| write_tree(d, &[("pacto.yaml", b"x"), ("big.bin", &[0; 11])]),
            "",
        ),
        (
            "contract over the per-file limit",
            Limits::default().with_max_file_size(10),
            |d| write_tree(d, &[("pacto.yaml", YAML.as_bytes())]),
            "",
        ),
        (
            "over the total",
            Limits::default().with_max_total_size(100),
            |d| write_tree(d, &[("pacto.yaml", YAML.as_bytes()), ("a/b.bin", &[1; 60])]),
            "",
        ),
        (
            "too many entries",
            Limits::default().with_max_entries(3),
            |d| write_tree(d, &[("pacto.yaml", YAML.as_bytes()), ("a/b/c.txt", b"c")]),
            "",
        ),
        (
            "too deep",
            Limits::default().with_max_depth(2),
            |d| write_tree(d, &[("pacto.yaml", YAML.as_bytes()), ("a/b/c.txt", b"c")]),
            "",
        ),
        (
            "bad ignore pattern",
            Limits::default(),
            |d| {
                write_tree(
                    d,
                    &[("pacto.yaml", YAML.as_bytes()), (".pactoignore", b"a{b\n")],
                )
            },
            "",
        ),
        (
            "missing reference",
            Limits::default(),
            |d| write_tree(d, &[("pacto.yaml", WITH_REFS.as_bytes())]),
            "references",
        ),
    ];
    for (name, limits, setup, special) in cases {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let expected = match Bundle::from_dir_with_limits(dir.path(), &limits) {
            Err(e) => e.to_string(),
            Ok(bundle) => bundle
                .check_references()
                .expect_err("the case is refused")
                .to_string(),
        };
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("layer.tar.gz");
        let error = pack_dir_to_file(dir.path(), &path, &limits, |_| {})
            .await
            .expect_err(name);
        assert_eq!(error.to_string(), expected, "{name}");
        let matches = if special == "references" {
            matches!(error, PackDirError::MissingReferences(_))
        } else {
            matches!(error, PackDirError::Bundle(_))
        };
        assert!(matches, "{name}: {error:?}");
        assert!(error.is_invalid_bundle(), "{name}");
        assert_eq!(
            fs::read_dir(out.path()).unwrap().count(),
            0,
            "{name}: left a file"
        );
    }
    // Not a directory, or absent: the same errors too.
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("pacto.yaml", YAML.as_bytes())]);
    for target in [dir.path().join("pacto.yaml"), dir.path().join("absent")] {
        let expected = Bundle::from_dir(&target).unwrap_err().to_string();
        let error = pack_dir_to_file(&target, &dir.path().join("l"), &Limits::default(), |_| {})
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
}

/// A file that grows or shrinks after the listing, while an earlier file is being packed,
/// fails the pack with `FileChanged` naming it, and leaves no layer file.
#[tokio::test]
async fn a_file_changed_between_listing_and_read_is_an_error() {
    for (name, new_len) in [("grown", 2 * MIB + 1), ("shrunk", MIB)] {
        let dir = tempfile::tempdir().unwrap();
        let first = noise(2, 2 * MIB);
        let second = noise(3, 2 * MIB);
        write_tree(
            dir.path(),
            &[
                ("pacto.yaml", YAML.as_bytes()),
                ("a.bin", &first),
                ("b.bin", &second),
            ],
        );
        let victim = dir.path().join("b.bin");
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("layer.tar.gz");
        let mut changed = false;
        // The first report comes a step into a.bin, long before b.bin is opened.
        let error = pack_dir_to_file(dir.path(), &path, &Limits::default(), |n| {
            assert!(n >= PROGRESS_STEP || changed);
            if !changed {
                fs::write(&victim, noise(4, new_len)).unwrap();
                changed = true;
            }
        })
        .await
        .unwrap_err();
        assert!(changed, "{name}");
        match &error {
            PackDirError::Archive(ArchiveError::FileChanged {
                path, listed, read, ..
            }) => {
                assert_eq!(path, &victim, "{name}");
                assert_eq!(*listed, 2 * MIB as u64, "{name}");
                let expected = (new_len as u64).min(2 * MIB as u64 + 1);
                assert_eq!(*read, expected, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(!error.is_invalid_bundle(), "{name}");
        assert!(error.to_string().contains("changed while it was packed"));
        assert_eq!(
            fs::read_dir(out.path()).unwrap().count(),
            0,
            "{name}: left a file"
        );
    }
}

/// What `pack_listing` reports while it writes is in its file: a reader following the
/// reports through the file it hands out reads, for every case, exactly the final layer;
/// unwatched (or with the watcher gone) the file is the same.
#[tokio::test]
async fn pack_listing_reports_bytes_that_are_in_the_file() {
    for (name, files) in cases() {
        let dir = tempfile::tempdir().unwrap();
        let borrowed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        write_tree(dir.path(), &borrowed);
        let limits = Limits::default();
        let listed = list_dir(dir.path(), &limits).await.unwrap();
        let reference = tempfile::tempdir().unwrap();
        let reference = reference.path().join("l");
        pack_dir_to_file(dir.path(), &reference, &limits, |_| {})
            .await
            .unwrap();
        let expected = fs::read(&reference).unwrap();
        for watched in [true, false] {
            let out = tempfile::tempdir().unwrap();
            let path = out.path().join("l");
            let (sender, mut receiver) = tokio::sync::watch::channel(Written::default());
            let watch = if watched {
                LayerWatch::to(sender)
            } else {
                drop(sender);
                LayerWatch::none()
            };
            // Reads what each report announces, from the reported file, as it comes.
            let follow = async {
                let mut got = Vec::new();
                let mut reports = 0;
                loop {
                    let written = receiver.borrow_and_update().clone();
                    if let Some(file) = &written.file {
                        let mut file: &fs::File = file;
                        let mut more = vec![0; (written.bytes as usize).saturating_sub(got.len())];
                        std::io::Read::read_exact(&mut file, &mut more).unwrap();
                        got.extend_from_slice(&more);
                        reports += 1;
                    }
                    if receiver.changed().await.is_err() {
                        break;
                    }
                }
                (got, reports)
            };
            let pack = pack_listing(&listed, &path, &limits, |_| {}, watch, Durability::Scratch);
            let (packed, (got, reports)) = tokio::join!(pack, follow);
            let packed = packed.unwrap();
            let written = fs::read(&path).unwrap();
            assert!(
                written == expected,
                "{name} watched={watched}: file differs"
            );
            assert_eq!(packed.layer.size, expected.len() as u64, "{name}");
            if watched {
                assert!(reports > 0, "{name}: reported");
                assert!(got == expected, "{name}: what was reported is the layer");
            } else {
                assert!(got.is_empty(), "{name}");
            }
        }
    }
}
