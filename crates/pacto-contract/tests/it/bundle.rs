//! `Bundle`: construction from a file map and from a directory.

use bytes::Bytes;
use pacto_contract::{
    Bundle, BundleBuilder, BundleError, BundlePath, CONTRACT_FILE, ContractError, LimitError,
    Limits, PathError,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

const YAML: &str = "pactoVersion: '1.0'\nservice:\n  name: svc\n  version: 1.2.3\n";

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Bytes> {
    entries
        .iter()
        .map(|(p, c)| ((*p).to_owned(), Bytes::copy_from_slice(c.as_bytes())))
        .collect()
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn keys(bundle: &Bundle) -> Vec<&str> {
    bundle.files().keys().map(BundlePath::as_str).collect()
}

#[test]
fn from_files_normalises_and_parses() {
    let bundle = Bundle::from_files(files(&[
        ("./pacto.yaml", YAML),
        ("./api/openapi.yaml", "openapi: 3.1.0"),
        ("docs/readme.md", "# hi"),
    ]))
    .unwrap();
    assert_eq!(
        keys(&bundle),
        ["api/openapi.yaml", "docs/readme.md", "pacto.yaml"]
    );
    assert_eq!(bundle.raw_yaml(), &Bytes::from_static(YAML.as_bytes()));
    assert_eq!(&bundle.files()[CONTRACT_FILE], bundle.raw_yaml());
    assert_eq!(bundle.file(CONTRACT_FILE), Some(bundle.raw_yaml()));
    assert_eq!(bundle.file("missing"), None);
    assert_eq!(bundle.name(), "svc");
    assert_eq!(bundle.version(), "1.2.3");
    assert_eq!(bundle.total_size(), (YAML.len() + 14 + 4) as u64);
}

#[test]
fn from_files_refusals() {
    let cases: Vec<(BTreeMap<String, Bytes>, &str)> = vec![
        (files(&[("a.txt", "x")]), "missing-contract"),
        (files(&[("sub/pacto.yaml", YAML)]), "missing-contract"),
        (
            files(&[("pacto.yaml", "service: {}\n")]),
            "invalid-contract",
        ),
        (files(&[("pacto.yaml", YAML), ("../x", "")]), "traversal"),
        (
            files(&[("pacto.yaml", YAML), ("/etc/passwd", "")]),
            "absolute",
        ),
        (files(&[("pacto.yaml", YAML), ("a\\b", "")]), "backslash"),
        (
            files(&[("pacto.yaml", YAML), ("./a", ""), ("a", "")]),
            "duplicate",
        ),
        (
            files(&[("pacto.yaml", YAML), ("a", ""), ("a/b", "")]),
            "conflict",
        ),
        (
            files(&[("pacto.yaml", YAML), ("pacto.yaml/x", "")]),
            "conflict",
        ),
    ];
    for (input, expected) in cases {
        let err = Bundle::from_files(input.clone()).unwrap_err();
        let got = match &err {
            BundleError::MissingContract => "missing-contract",
            BundleError::InvalidContract {
                source: ContractError::MissingField { .. },
                ..
            } => "invalid-contract",
            BundleError::InvalidPath {
                source: PathError::ParentComponent { .. },
                ..
            } => "traversal",
            BundleError::InvalidPath {
                source: PathError::Absolute { .. },
                ..
            } => "absolute",
            BundleError::InvalidPath {
                source: PathError::Backslash { .. },
                ..
            } => "backslash",
            BundleError::DuplicatePath { path, .. } if path == "a" => "duplicate",
            BundleError::PathConflict { .. } => "conflict",
            _ => "unexpected",
        };
        assert_eq!(got, expected, "{input:?}: {err:?}");
    }
}

#[test]
fn conflicts_are_found_among_many_deep_paths() {
    // '.' and '-' sort before '/': the conflicting child is not the file's neighbour in
    // plain byte order.
    let deep = vec!["d"; 1_500].join("/");
    let mut input = files(&[("pacto.yaml", YAML), ("a", ""), ("a-b", ""), ("a.c/x", "")]);
    for i in 0..200 {
        input.insert(format!("{deep}/{i}"), Bytes::new());
    }
    input.insert("a/z".into(), Bytes::new());
    match Bundle::from_files(input).unwrap_err() {
        BundleError::PathConflict { path, child, .. } => {
            assert_eq!((path.as_str(), child.as_str()), ("a", "a/z"))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn from_dir_honours_pactoignore_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "pacto.yaml", YAML);
    write(root, "api/openapi.yaml", "openapi");
    write(root, "api/notes.tmp", "scratch");
    write(root, "build/out.bin", "binary");
    write(root, "keep/important.tmp", "kept by negation");
    write(root, ".git/HEAD", "ref: refs/heads/main");
    write(root, "sub/.git/config", "nested git dir");
    write(root, ".DS_Store", "finder");
    write(root, "docs/.DS_Store", "finder");
    write(
        root,
        ".pactoignore",
        "# comment\n*.tmp\n!keep/important.tmp\n/build/\npacto.yaml\n",
    );
    let bundle = Bundle::from_dir(root).unwrap();
    assert_eq!(
        keys(&bundle),
        ["api/openapi.yaml", "keep/important.tmp", "pacto.yaml"]
    );
    assert_eq!(
        bundle.files()["pacto.yaml"],
        Bytes::from_static(YAML.as_bytes())
    );
}

#[test]
fn from_dir_without_pactoignore_still_skips_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pacto.yaml", YAML);
    write(dir.path(), ".git/objects/ab", "x");
    write(dir.path(), "pacto.lock", "lock");
    let bundle = Bundle::from_dir(dir.path()).unwrap();
    assert_eq!(keys(&bundle), ["pacto.lock", "pacto.yaml"]);
}

#[test]
fn from_dir_is_independent_of_creation_order() {
    let names = ["b.txt", "a/z.txt", "a.txt", "a/b/c.txt", "pacto.yaml"];
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for name in names {
        write(
            first.path(),
            name,
            if name == "pacto.yaml" { YAML } else { name },
        );
    }
    for name in names.iter().rev() {
        write(
            second.path(),
            name,
            if *name == "pacto.yaml" { YAML } else { name },
        );
    }
    assert_eq!(
        Bundle::from_dir(first.path()).unwrap(),
        Bundle::from_dir(second.path()).unwrap()
    );
}

#[cfg(unix)]
#[test]
fn from_dir_refuses_symlinks_sockets_and_non_utf8_names() {
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pacto.yaml", YAML);
    std::os::unix::fs::symlink("pacto.yaml", dir.path().join("link.yaml")).unwrap();
    let err = Bundle::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, BundleError::Symlink { path, .. } if path.ends_with("link.yaml")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("link.yaml is a symbolic link"),
        "{err}"
    );

    // An ignored symlink is not looked at.
    write(dir.path(), ".pactoignore", "link.yaml\n");
    assert!(Bundle::from_dir(dir.path()).is_ok());

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pacto.yaml", YAML);
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    assert!(matches!(
        Bundle::from_dir(dir.path()).unwrap_err(),
        BundleError::NotRegularFile { path, .. } if path.ends_with("sock")
    ));

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pacto.yaml", YAML);
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff.txt");
    fs::write(dir.path().join(name), "x").unwrap();
    assert!(matches!(
        Bundle::from_dir(dir.path()).unwrap_err(),
        BundleError::NonUtf8Name { .. }
    ));
}

#[test]
fn from_dir_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "readme.md", "no contract");
    assert!(matches!(
        Bundle::from_dir(dir.path()).unwrap_err(),
        BundleError::MissingContract
    ));
    assert!(matches!(
        Bundle::from_dir(&dir.path().join("readme.md")).unwrap_err(),
        BundleError::NotADirectory { .. }
    ));
    assert!(matches!(
        Bundle::from_dir(&dir.path().join("absent")).unwrap_err(),
        BundleError::Io { .. }
    ));
    write(dir.path(), "pacto.yaml", YAML);
    write(dir.path(), ".pactoignore", "a{b\n");
    assert!(matches!(
        Bundle::from_dir(dir.path()).unwrap_err(),
        BundleError::Ignore { .. }
    ));
}

/// A file over the limit is refused from its size on the file system, before it is read:
/// here a sparse `pacto.yaml` of 64 GiB, which reading would exhaust memory with.
#[test]
fn from_dir_refuses_an_oversized_file_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = fs::File::create(dir.path().join("pacto.yaml")).unwrap();
    yaml.set_len(64 << 30).unwrap();
    let err = Bundle::from_dir(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "bundle file \"pacto.yaml\" is {} bytes, over the {}-byte per-file limit",
            64u64 << 30,
            10 * 1024 * 1024
        )
    );
    assert!(
        matches!(
            &err,
            BundleError::OverLimit(LimitError::FileTooLarge { path, limit, .. })
                if path == "pacto.yaml" && *limit == Limits::default().max_file_size
        ),
        "{err:?}"
    );
}

#[test]
fn from_dir_applies_every_limit_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pacto.yaml", YAML);
    write(dir.path(), "a/b/c.txt", &"c".repeat(100));
    write(dir.path(), "a/d.txt", "123");
    write(dir.path(), "ignored/huge.bin", &"x".repeat(1000));
    write(dir.path(), ".pactoignore", "ignored/\n");
    // pacto.yaml, a, a/b, a/b/c.txt, a/d.txt: 5 entries, 3 deep, files of 100 bytes and
    // less.
    assert!(YAML.len() < 100);
    let exact = Limits::default()
        .with_max_entries(5)
        .with_max_depth(3)
        .with_max_file_size(100)
        .with_max_total_size(YAML.len() as u64 + 103);
    let bundle = Bundle::from_dir_with_limits(dir.path(), &exact).unwrap();
    assert_eq!(keys(&bundle), ["a/b/c.txt", "a/d.txt", "pacto.yaml"]);
    assert_eq!(bundle.check_limits(&exact), Ok(()));
    let over = |limits: Limits| match Bundle::from_dir_with_limits(dir.path(), &limits) {
        Err(BundleError::OverLimit(e)) => {
            assert!(bundle.check_limits(&limits).is_err(), "{e}");
            e
        }
        other => panic!("{limits:?}: {other:?}"),
    };
    assert!(matches!(
        over(exact.with_max_entries(4)),
        LimitError::TooManyEntries { limit: 4, .. }
    ));
    assert!(matches!(
        over(exact.with_max_depth(2)),
        LimitError::TooDeep { path, depth: 3, limit: 2, .. } if path == "a/b/c.txt"
    ));
    assert!(matches!(
        over(exact.with_max_file_size(99)),
        LimitError::FileTooLarge { path, size: 100, limit: 99, .. } if path == "a/b/c.txt"
    ));
    assert!(matches!(
        over(exact.with_max_total_size(YAML.len() as u64 + 102)),
        LimitError::TotalTooLarge { .. }
    ));
    // The default limits are Go pacto's, with a depth of 128.
    assert_eq!(
        Limits::default(),
        Limits::GO_PACTO
            .with_max_file_size(10 << 20)
            .with_max_total_size(50 << 20)
            .with_max_entries(10_000)
            .with_max_depth(128)
    );
}

#[test]
fn the_builder_takes_checked_paths_once_each() {
    let path = |p: &str| BundlePath::parse(p).unwrap();
    let mut builder = BundleBuilder::new();
    builder.insert(path("pacto.yaml"), YAML.into()).unwrap();
    builder.insert(path("a/b.txt"), "b".into()).unwrap();
    assert!(matches!(
        builder.insert(path("./a/b.txt"), "again".into()),
        Err(BundleError::DuplicatePath { path, .. }) if path == "a/b.txt"
    ));
    let bundle = builder.clone().build().unwrap();
    assert_eq!(keys(&bundle), ["a/b.txt", "pacto.yaml"]);
    assert_eq!(bundle.contract().service.name, "svc");

    builder.insert(path("a/b.txt/c"), "c".into()).unwrap();
    assert!(matches!(
        builder.build(),
        Err(BundleError::PathConflict { path, child, .. }) if path == "a/b.txt" && child == "a/b.txt/c"
    ));
    let mut no_contract = BundleBuilder::new();
    no_contract.insert(path("a"), Bytes::new()).unwrap();
    assert!(matches!(
        no_contract.build(),
        Err(BundleError::MissingContract)
    ));
}
