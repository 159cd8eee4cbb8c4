//! The confined bundle writer through the public API: refusals, the forced exact swap, and
//! hostile default names.

use crate::support::{bundle, tree};
use pacto_archive::{
    Found, WriteError, WriteOptions, check_output, default_output_name, write_bundle,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The names under `parent` other than `keep`: staging directories left behind.
fn leftovers(parent: &Path, keep: &str) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != keep)
        .collect()
}

#[test]
fn a_non_empty_directory_is_refused_then_replaced_exactly_with_force() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("out");
    fs::create_dir_all(dir.join("old/nested")).unwrap();
    fs::write(dir.join("old/nested/keep.txt"), b"mine").unwrap();
    fs::write(dir.join("pacto.yaml"), b"not the bundle's").unwrap();
    let before = tree(&dir);
    let bundle = bundle(&[("docs/readme.md", b"# orders\n")]);

    // Refused without force, by the check and by the write, and nothing is touched.
    for refused in [
        check_output(&dir, WriteOptions::chosen_dir()),
        write_bundle(&bundle, &dir, WriteOptions::chosen_dir()).map(drop),
        write_bundle(&bundle, &dir, WriteOptions::default_dir()).map(drop),
    ] {
        let error = refused.unwrap_err();
        assert!(error.is_refusal(), "{error}");
        assert!(
            matches!(&error, WriteError::Exists { path, found: Found::Directory } if *path == dir),
            "{error:?}"
        );
        // The library's message names no CLI flag: the CLI adds its own hints.
        assert!(!error.to_string().contains("--"), "{error}");
    }
    assert_eq!(tree(&dir), before);
    assert_eq!(leftovers(temp.path(), "out"), Vec::<String>::new());

    // With force: exactly the bundle, nothing of the old tree, no staging directory left.
    let written = write_bundle(&bundle, &dir, WriteOptions::chosen_dir().with_force(true)).unwrap();
    assert_eq!(written, ["docs/readme.md", "pacto.yaml"]);
    let expected: BTreeMap<String, Vec<u8>> = bundle
        .files()
        .iter()
        .map(|(path, bytes)| (path.to_string(), bytes.to_vec()))
        .collect();
    assert_eq!(tree(&dir), expected);
    assert!(!dir.join("old").exists());
    assert_eq!(leftovers(temp.path(), "out"), Vec::<String>::new());
}

#[test]
fn an_empty_chosen_directory_is_filled_but_a_default_one_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("empty");
    fs::create_dir(&dir).unwrap();
    let bundle = bundle(&[]);
    let error = write_bundle(&bundle, &dir, WriteOptions::default_dir()).unwrap_err();
    assert!(
        matches!(
            error,
            WriteError::Exists {
                found: Found::EmptyDirectory,
                ..
            }
        ),
        "{error:?}"
    );
    write_bundle(&bundle, &dir, WriteOptions::chosen_dir()).unwrap();
    assert_eq!(tree(&dir).keys().collect::<Vec<_>>(), ["pacto.yaml"]);
}

#[test]
fn a_missing_directory_and_its_parents_are_created() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("a/b/orders");
    write_bundle(&bundle(&[]), &dir, WriteOptions::default_dir()).unwrap();
    assert_eq!(tree(&dir).keys().collect::<Vec<_>>(), ["pacto.yaml"]);
    assert_eq!(
        leftovers(&temp.path().join("a/b"), "orders"),
        Vec::<String>::new()
    );
}

#[test]
fn hostile_default_names_are_refused() {
    assert_eq!(default_output_name("orders").unwrap(), Path::new("orders"));
    for hostile in [
        ".git",
        "..",
        "-rf",
        "a/b",
        "a\\b",
        "a\u{1b}[31m",
        "CON",
        "nul.txt",
        "name.",
    ] {
        let error = default_output_name(hostile).unwrap_err();
        assert_eq!(error.name, hostile);
        assert!(
            error.to_string().contains("is not a safe directory name"),
            "{error}"
        );
        assert!(!error.to_string().contains("--"), "{error}");
    }
    assert_eq!(
        default_output_name(".git").unwrap_err().reason,
        "is hidden (starts with `.`)"
    );
}
