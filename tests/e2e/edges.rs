//! Safe edges (issue 12): where `pull` and `pack` write, and what they never touch.
//!
//! - the default output directory (the service name) is never merged into, and a hostile name
//!   (`.git`, `.ssh`, `-rf`, `CON`, ...) is never used, not even with `--force`;
//! - `pull -o DIR` refuses a non-empty DIR, a file or a symlink before downloading anything,
//!   fills an empty one in place, and `--force` swaps in exactly the bundle, atomically (a pull
//!   killed with `kill -9` leaves the old tree or the new one);
//! - files and directories get the umask; staging directories of dead pulls are removed;
//! - `pack -o -` is standard output; devices, FIFOs, sockets and symlinks are never replaced;
//! - `pack` and `pull` both create missing parent directories;
//! - arguments that are not UTF-8: paths work, anything else is a usage error, nothing panics.
//!
//! Each test asserts the exit code, the message and the file system afterwards.

use crate::common::{
    FakeServer, Kind, Reply, Run, Sandbox, finish, run_binary, snapshot, spawn, under_umask,
    write_bundle,
};
use crate::hostile::{Ctx, Tar};
use pacto_test_support::{RegistryOptions, TestRegistry};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A process id that cannot exist: Linux pids stay below `PID_MAX_LIMIT` (2^22).
const NEVER_A_PID: u32 = 1 << 22;

/// `pacto.yaml` of service `name` (any string: written as a JSON string, which YAML reads).
fn contract_named(name: &str) -> String {
    let quoted = serde_json::to_string(name).expect("json string");
    format!("pactoVersion: \"1.0\"\nservice:\n  name: {quoted}\n  version: 1.0.0\n")
}

/// Pushes a bundle of service `name` with `files` by raw HTTP to `hostile/<slug>:1.0.0`.
fn push_bundle(
    registry: &TestRegistry,
    sandbox: &Sandbox,
    slug: &str,
    name: &str,
    files: &[(&str, &[u8])],
) -> String {
    let mut tar = Tar::new();
    tar.file("pacto.yaml", contract_named(name).as_bytes());
    for (path, bytes) in files {
        tar.file(path, bytes);
    }
    let ctx = Ctx {
        registry,
        sandbox,
        name: slug.to_owned(),
    };
    ctx.push_layer(&tar.end().gzip())
}

/// One entry of a directory tree, as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
    Special,
}

/// Everything under `root` (relative path -> entry), symlinks not followed.
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    snapshot(root)
        .into_iter()
        .map(|(rel, kind)| {
            let path = root.join(&rel);
            let entry = match kind {
                Kind::Dir => Entry::Dir,
                Kind::File => Entry::File(fs::read(&path).expect("readable file")),
                Kind::Symlink => Entry::Link(fs::read_link(&path).expect("a link")),
                Kind::Other => Entry::Special,
            };
            (rel, entry)
        })
        .collect()
}

/// The tree a bundle of service `name` with `files` is written as.
fn bundle_tree(name: &str, files: &[(&str, &[u8])]) -> BTreeMap<String, Entry> {
    let mut tree = BTreeMap::new();
    tree.insert(
        "pacto.yaml".to_owned(),
        Entry::File(contract_named(name).into_bytes()),
    );
    for (path, bytes) in files {
        let mut parent = Path::new(path).parent();
        while let Some(dir) = parent.filter(|p| !p.as_os_str().is_empty()) {
            tree.insert(dir.to_str().expect("utf-8").to_owned(), Entry::Dir);
            parent = dir.parent();
        }
        tree.insert((*path).to_owned(), Entry::File(bytes.to_vec()));
    }
    tree
}

/// Asserts that `dir` is a real directory holding exactly `expected`.
fn assert_tree(dir: &Path, expected: &BTreeMap<String, Entry>) {
    let meta = fs::symlink_metadata(dir).expect("the output exists");
    assert!(meta.is_dir(), "{} is a real directory", dir.display());
    assert_eq!(&tree(dir), expected, "{}", dir.display());
}

/// The staging entries (`.pacto-pull-*`) in `parent`.
fn staging_entries(parent: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(parent)
        .expect("readable")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(".pacto-pull-"))
        .collect();
    names.sort();
    names
}

/// Removes whatever is at `path` (a link itself, never its target).
fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).expect("remove dir"),
        Ok(_) => fs::remove_file(path).expect("remove"),
        Err(_) => {}
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// Asserts a refusal: exit 2, the JSON usage error, and `words` in the message.
fn assert_refused(run: Run, words: &[&str]) {
    let run = run.expect_error(2, "usage");
    let message = run.message();
    for word in words {
        assert!(message.contains(word), "{word:?} not in: {message}");
    }
}

// ---------------------------------------------------------------------------------------
// The default output directory.

#[test]
fn pull_refuses_hidden_default_dir() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    // The user runs the pull in a git checkout.
    let git = sandbox.work().join(".git");
    fs::create_dir_all(git.join("hooks")).expect("mkdir");
    let config = b"[core]\n\trepositoryformatversion = 0\n\tbare = false\n";
    fs::write(git.join("config"), config).expect("config");
    let hostile_config: &[u8] = b"[core]\n\tfsmonitor = \"sh -c 'touch pwned'\"\n";
    let dot_git = push_bundle(
        &registry,
        &sandbox,
        "dot-git",
        ".git",
        &[
            ("config", hostile_config),
            ("hooks/pre-commit", b"#!/bin/sh\ntouch pwned\n"),
        ],
    );
    let dot_ssh = push_bundle(
        &registry,
        &sandbox,
        "dot-ssh",
        ".ssh",
        &[("authorized_keys", b"ssh-ed25519 AAAAC3Nza attacker\n")],
    );
    let before = tree(&sandbox.work());
    for (reference, name) in [(&dot_git, "\".git\""), (&dot_ssh, "\".ssh\"")] {
        for force in [false, true] {
            let mut args = vec!["pull", reference.as_str(), "--json"];
            if force {
                args.push("--force");
            }
            assert_refused(
                sandbox.run(&args),
                &[name, "hidden", "not even with --force", "-o DIR"],
            );
            assert_eq!(
                fs::read(git.join("config")).expect("config"),
                config,
                ".git/config is byte-identical"
            );
            assert_eq!(tree(&sandbox.work()), before, "nothing written, {args:?}");
        }
    }
    // The control: the same bundle goes where the user points it.
    sandbox
        .run(&["pull", &dot_git, "-o", "inspect", "-q"])
        .expect(0);
    assert_eq!(
        fs::read(sandbox.work().join("inspect/config")).expect("written"),
        hostile_config
    );
}

#[test]
fn pull_refuses_unsafe_default_names_even_with_force() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let names = [
        ("dash", "-rf"),
        ("dots", ".."),
        ("slash", "a/b"),
        ("backslash", "a\\b"),
        ("tab", "a\tb"),
        ("con", "CON"),
        ("nul-ext", "nul.txt"),
        ("com1", "Com1"),
        ("lpt9", "LPT9.log"),
        ("colon", "a:b"),
        ("pipe", "a|b"),
        ("question", "a?b"),
        ("star", "a*b"),
        ("less", "a<b"),
        ("quote", "a\"b"),
        ("dot-end", "name."),
        ("space-end", "name "),
    ];
    let before = tree(&sandbox.work());
    for (slug, name) in names {
        let reference = push_bundle(&registry, &sandbox, slug, name, &[]);
        for force in [false, true] {
            let mut args = vec!["pull", reference.as_str(), "--json"];
            if force {
                args.push("--force");
            }
            let quoted = format!("{name:?}");
            assert_refused(
                sandbox.run(&args),
                &[&quoted, "not a safe directory name", "-o DIR"],
            );
            assert_eq!(
                tree(&sandbox.work()),
                before,
                "nothing written for {name:?}"
            );
        }
    }
    // The control: a plain name is the default directory.
    let reference = push_bundle(&registry, &sandbox, "plain", "plain-name", &[]);
    sandbox.run(&["pull", &reference, "-q"]).expect(0);
    assert_tree(
        &sandbox.work().join("plain-name"),
        &bundle_tree("plain-name", &[]),
    );
}

/// Makes something at a path.
type Make<'a> = dyn Fn(&Path) + 'a;

#[test]
fn pull_refuses_an_existing_default_dir_in_any_form() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let files: &[(&str, &[u8])] = &[("api/openapi.yaml", b"openapi: 3.0.0\n")];
    let reference = push_bundle(&registry, &sandbox, "svc", "svc", files);
    let outside = sandbox.path("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::write(outside.join("keep.txt"), b"keep").expect("write");
    let outside_before = tree(&outside);
    let target = sandbox.work().join("svc");
    let make: [(&str, &Make<'_>); 5] = [
        ("an empty directory", &|p| fs::create_dir(p).expect("mkdir")),
        ("a directory that is not empty", &|p| {
            fs::create_dir(p).expect("mkdir");
            fs::write(p.join("mine.txt"), b"mine").expect("write");
        }),
        ("a file", &|p| fs::write(p, b"a file").expect("write")),
        ("a symlink", &|p| {
            std::os::unix::fs::symlink(&outside, p).expect("link");
        }),
        ("a symlink", &|p| {
            std::os::unix::fs::symlink("nowhere", p).expect("dangling link");
        }),
    ];
    for (found, make) in make {
        remove(&target);
        make(&target);
        let before = tree(&sandbox.work());
        assert_refused(
            sandbox.run(&["pull", &reference, "--json"]),
            &["svc already exists", found, "-o DIR", "--force"],
        );
        assert_eq!(
            tree(&sandbox.work()),
            before,
            "nothing written over {found}"
        );
        // --force: exactly the bundle in its place; a link's target is untouched.
        sandbox
            .run(&["pull", &reference, "--force", "--json"])
            .expect(0);
        assert_tree(&target, &bundle_tree("svc", files));
        assert_eq!(tree(&outside), outside_before, "{found}: target untouched");
        assert_eq!(staging_entries(&sandbox.work()), Vec::<String>::new());
    }
}

// ---------------------------------------------------------------------------------------
// pull -o DIR.

#[test]
fn pull_into_a_non_empty_dir_is_refused_before_any_download() {
    let server = FakeServer::start(|_| Reply::new(404));
    let reference = format!("{}/edges/app:1.0.0", server.host());
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    fs::create_dir(work.join("full")).expect("mkdir");
    fs::write(work.join("full/mine.txt"), b"mine").expect("write");
    fs::create_dir(work.join("elsewhere")).expect("mkdir");
    fs::write(work.join("file"), b"a file").expect("write");
    std::os::unix::fs::symlink("elsewhere", work.join("link")).expect("link");
    std::os::unix::fs::symlink("nowhere", work.join("dangling")).expect("link");
    let before = tree(&work);
    for (dir, found) in [
        ("full", "a directory that is not empty"),
        ("file", "a file"),
        ("link", "a symlink"),
        ("link/", "a symlink"),
        ("dangling", "a symlink"),
    ] {
        assert_refused(
            sandbox.run(&["pull", &reference, "-o", dir, "--json"]),
            &[dir.trim_end_matches('/'), found, "--force"],
        );
    }
    assert_eq!(tree(&work), before, "nothing written");
    assert!(
        server.requests().is_empty(),
        "refused before any request: {:?}",
        server.requests()
    );
    // The control: with --force the pull goes ahead (and fails at the registry, which has
    // nothing), leaving the file alone.
    sandbox
        .run(&["pull", &reference, "-o", "file", "--force", "--json"])
        .expect_error(3, "not_found");
    assert!(!server.requests().is_empty());
    assert_eq!(tree(&work), before);
}

#[test]
fn pull_fills_an_empty_dir_in_place() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let files: &[(&str, &[u8])] = &[("docs/README.md", b"# read me\n")];
    let reference = push_bundle(&registry, &sandbox, "fill", "fill", files);
    let out = sandbox.work().join("mount-point");
    fs::create_dir(&out).expect("mkdir");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o750)).expect("chmod");
    let inode = fs::metadata(&out).expect("stat").ino();
    let run = sandbox
        .run(&["pull", &reference, "-o", "mount-point", "--json"])
        .expect(0);
    assert_eq!(run.json()["dir"], "mount-point");
    assert_tree(&out, &bundle_tree("fill", files));
    // The same directory, filled: its inode and mode are kept.
    assert_eq!(fs::metadata(&out).expect("stat").ino(), inode);
    assert_eq!(mode(&out), 0o750);
    // Now it is not empty: refused.
    assert_refused(
        sandbox.run(&["pull", &reference, "-o", "mount-point", "--json"]),
        &["mount-point already exists", "not empty", "--force"],
    );
}

#[test]
fn pull_force_replaces_with_exactly_the_bundle() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    let outside = sandbox.path("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::write(outside.join("victim.txt"), b"untouched").expect("write");
    let outside_before = tree(&outside);
    let v1: &[(&str, &[u8])] = &[
        ("api/openapi.yaml", b"openapi: 3.0.0\n"),
        ("only-in-v1.md", b"gone after v2\n"),
    ];
    let v2: &[(&str, &[u8])] = &[("api/openapi.yaml", b"openapi: 3.1.0\n")];
    let first = push_bundle(&registry, &sandbox, "replace-v1", "replace", v1);
    let second = push_bundle(&registry, &sandbox, "replace-v2", "replace", v2);

    // A pulled tree plus stale files and a planted link, replaced by the next version.
    sandbox.run(&["pull", &first, "-o", "out", "-q"]).expect(0);
    assert_tree(&work.join("out"), &bundle_tree("replace", v1));
    fs::write(work.join("out/stale.txt"), b"stale").expect("write");
    fs::create_dir_all(work.join("out/sub/deep")).expect("mkdir");
    std::os::unix::fs::symlink(&outside, work.join("out/api/escape")).expect("link");
    sandbox
        .run(&["pull", &second, "-o", "out", "--force", "--json"])
        .expect(0);
    assert_tree(&work.join("out"), &bundle_tree("replace", v2));

    // A symlink to a directory and a file are replaced by the directory, the link's target
    // untouched; a trailing slash still names the link.
    std::os::unix::fs::symlink(&outside, work.join("link")).expect("link");
    fs::write(work.join("file"), b"a file").expect("write");
    for dir in ["link/", "file"] {
        sandbox
            .run(&["pull", &second, "-o", dir, "--force", "-q"])
            .expect(0);
        assert_tree(
            &work.join(dir.trim_end_matches('/')),
            &bundle_tree("replace", v2),
        );
    }
    assert_eq!(
        tree(&outside),
        outside_before,
        "nothing written through a link"
    );
    assert_eq!(staging_entries(&work), Vec::<String>::new());

    // `.`, `..` and `/` are never replaced: they have no name of their own.
    fs::create_dir_all(work.join("cwd")).expect("mkdir");
    fs::write(work.join("cwd/mine.txt"), b"mine").expect("write");
    let before = tree(&work);
    for dir in [".", ".."] {
        let mut cmd = sandbox.command(&["pull", &second, "-o", dir, "--force", "--json"]);
        cmd.current_dir(work.join("cwd"));
        assert_refused(sandbox.run_with(cmd), &["name the directory itself"]);
    }
    assert_eq!(tree(&work), before);
}

/// Sends `signal` to `pid` with `kill(1)`; the process may be gone already.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

#[test]
fn pull_force_killed_midway_leaves_the_old_or_the_new_dir() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    // Many files, so writing and verifying the staged tree takes a while.
    let bodies: Vec<(String, Vec<u8>)> = (0..1500)
        .map(|i| (format!("data/{:02}/f{i:04}.txt", i % 40), vec![b'x'; 2048]))
        .collect();
    let old_files: Vec<(&str, &[u8])> = vec![("old.md", b"old\n")];
    let mut new_files: Vec<(&str, &[u8])> = bodies
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    new_files.push(("new.md", b"new\n"));
    let old = push_bundle(&registry, &sandbox, "killed-old", "killed", &old_files);
    let new = push_bundle(&registry, &sandbox, "killed-new", "killed", &new_files);
    let old_tree = bundle_tree("killed", &old_files);
    let new_tree = bundle_tree("killed", &new_files);
    // The bundle is cached once, so each attempt spends its time writing.
    sandbox.run(&["pull", &new, "-o", "warm", "-q"]).expect(0);
    let out = work.join("out");
    let mut caught = 0;
    for _ in 0..20 {
        remove(&out);
        sandbox.run(&["pull", &old, "-o", "out", "-q"]).expect(0);
        let started = Instant::now();
        let child = spawn(sandbox.command(&["pull", &new, "-o", "out", "--force", "-q"]));
        let pid = child.id();
        let mut child = child;
        let staging = format!(".pacto-pull-{pid}-");
        // Freeze the pull again and again; caught with its staging directory present, it is
        // writing or swapping: kill it there.
        let killed = loop {
            if child.try_wait().expect("wait").is_some() {
                break false;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the pull hangs"
            );
            signal(pid, "STOP");
            let caught_staging = staging_entries(&work)
                .into_iter()
                .find(|n| n.starts_with(&staging));
            if let Some(name) = caught_staging {
                // While the new tree is still being written, no one else may enter it.
                let staged = tree(&work.join(&name));
                if staged.contains_key("data") && staged.len() < new_tree.len() {
                    assert_eq!(mode(&work.join(&name)), 0o700, "{name} is private");
                }
                signal(pid, "KILL");
                break true;
            }
            signal(pid, "CONT");
        };
        let run = finish(child, started, Duration::from_secs(60));
        let now = tree(&out);
        assert!(
            now == old_tree || now == new_tree,
            "after {} the output is neither the old tree nor the new one ({} entries)",
            if killed { "kill -9" } else { "the pull" },
            now.len()
        );
        if !killed {
            assert_eq!(run.code, 0, "{}", run.stderr);
            continue;
        }
        caught += 1;
        assert_eq!(run.code, -1, "killed by a signal");
        // The next pull into the same parent removes what the killed one left.
        sandbox
            .run(&["pull", &new, "-o", "out", "--force", "-q"])
            .expect(0);
        assert_tree(&out, &new_tree);
        assert_eq!(staging_entries(&work), Vec::<String>::new());
        if caught >= 3 {
            break;
        }
    }
    assert!(caught > 0, "no pull was ever caught while writing");
}

#[test]
fn pull_cleans_staging_dirs_of_dead_pulls_only() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    let reference = push_bundle(&registry, &sandbox, "clean", "clean", &[]);
    let outside = sandbox.path("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::write(outside.join("victim.txt"), b"untouched").expect("write");
    let dead = format!(".pacto-pull-{NEVER_A_PID}-a1B2c3");
    let dead_file = format!(".pacto-pull-{NEVER_A_PID}-file");
    let dead_link = format!(".pacto-pull-{NEVER_A_PID}-link");
    let live = format!(".pacto-pull-{}-x9Y8z7", std::process::id());
    let unrelated = ".pacto-pull-notapid";
    for dir in [&dead, &live, &unrelated.to_owned()] {
        fs::create_dir_all(work.join(dir).join("api")).expect("mkdir");
        fs::write(work.join(dir).join("api/half.yaml"), b"half").expect("write");
    }
    fs::write(work.join(&dead_file), b"half").expect("write");
    std::os::unix::fs::symlink(&outside, work.join(&dead_link)).expect("link");
    sandbox
        .run(&["pull", &reference, "-o", "out", "-q"])
        .expect(0);
    let mut expected = vec![live.clone(), unrelated.to_owned()];
    expected.sort();
    assert_eq!(
        staging_entries(&work),
        expected,
        "only the dead pull's entries go"
    );
    assert_eq!(
        fs::read(work.join(&live).join("api/half.yaml")).expect("kept"),
        b"half"
    );
    assert_eq!(
        fs::read(outside.join("victim.txt")).expect("a link is removed, not followed"),
        b"untouched"
    );
}

#[test]
fn pulled_files_get_the_umask() {
    let registry = TestRegistry::plain();
    let files: &[(&str, &[u8])] = &[
        ("api/v1/openapi.yaml", b"openapi: 3.0.0\n"),
        ("README.md", b"# hi\n"),
    ];
    for (umask, file_mode, dir_mode) in [("022", 0o644, 0o755), ("077", 0o600, 0o700)] {
        let sandbox = Sandbox::new();
        let work = sandbox.work();
        let reference = push_bundle(
            &registry,
            &sandbox,
            &format!("umask-{umask}"),
            "perm",
            files,
        );
        let run = |args: &[&str]| {
            sandbox
                .run_with(under_umask(&sandbox.command(args), umask))
                .expect(0)
        };
        // A new directory, the default one, a replacement, and an empty directory filled.
        run(&["pull", &reference, "-o", "new", "-q"]);
        run(&["pull", &reference, "-q"]);
        run(&["pull", &reference, "-o", "new", "--force", "-q"]);
        fs::create_dir(work.join("empty")).expect("mkdir");
        fs::set_permissions(work.join("empty"), fs::Permissions::from_mode(0o750)).expect("chmod");
        run(&["pull", &reference, "-o", "empty", "-q"]);
        for out in ["new", "perm", "empty"] {
            let root = work.join(out);
            let expected_root = if out == "empty" { 0o750 } else { dir_mode };
            assert_eq!(mode(&root), expected_root, "umask {umask}: {out}/");
            for (rel, kind) in snapshot(&root) {
                let expected = if kind == Kind::Dir {
                    dir_mode
                } else {
                    file_mode
                };
                assert_eq!(
                    mode(&root.join(&rel)),
                    expected,
                    "umask {umask}: {out}/{rel} ({kind:?})"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// pack -o.

/// A bundle directory in `sandbox` and the bytes `pack` writes for it.
fn packed(sandbox: &Sandbox, name: &str) -> (PathBuf, Vec<u8>) {
    let source = write_bundle(
        &sandbox.path("bundles"),
        name,
        "1.0.0",
        &[("api/openapi.yaml", b"openapi: 3.0.0\n")],
    );
    let file = sandbox.path("reference.tar.gz");
    sandbox
        .run(&[
            "pack",
            source.to_str().expect("utf-8"),
            "-o",
            file.to_str().expect("utf-8"),
            "-q",
        ])
        .expect(0);
    let bytes = fs::read(&file).expect("packed");
    fs::remove_file(&file).expect("remove");
    (source, bytes)
}

#[test]
fn pack_to_stdout_writes_only_the_layer() {
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    let (source, layer) = packed(&sandbox, "stdout-app");
    let source = source.to_str().expect("utf-8");
    let before = tree(&work);

    let (run, bytes) = run_binary(sandbox.command(&["pack", source, "-o", "-"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(bytes == layer, "stdout is exactly the layer");
    assert!(
        run.stderr.contains("standard output") && run.stderr.contains("Layer digest: sha256:"),
        "the summary is on stderr: {}",
        run.stderr
    );
    let (run, bytes) = run_binary(sandbox.command(&["pack", source, "-o", "-", "-q"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(bytes == layer);
    assert_eq!(run.stderr, "", "quiet");
    assert_eq!(tree(&work), before, "nothing named - is written");

    // --json would mix a document into the layer: a usage error, as oras does.
    assert_refused(
        sandbox.run(&["pack", source, "-o", "-", "--json"]),
        &["--json", "-o -"],
    );
    assert_eq!(tree(&work), before);

    // Compressed bytes are not written to a terminal (as tar and gzip).
    let inner = sandbox.command(&["pack", source, "-o", "-"]);
    let line = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| format!("'{}'", a.to_str().expect("utf-8")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(&work)
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null());
    let run = sandbox.run_with(script);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("refusing to write the compressed layer to a terminal"),
        "{}",
        run.stdout
    );
    assert_eq!(tree(&work), before);

    // A file named `-` is `./-`.
    sandbox.run(&["pack", source, "-o", "./-", "-q"]).expect(0);
    assert!(fs::read(work.join("-")).expect("./-") == layer);
}

#[test]
fn pack_never_replaces_what_is_not_a_regular_file() {
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    let (source, layer) = packed(&sandbox, "special-app");
    let source = source.to_str().expect("utf-8");
    let is_char_device = |p: &Path| {
        fs::metadata(p)
            .expect("exists")
            .file_type()
            .is_char_device()
    };
    let is_link = |p: &Path| {
        fs::symlink_metadata(p)
            .expect("exists")
            .file_type()
            .is_symlink()
    };

    // /dev/null (the tests run as root, who could replace it) stays a device; so does a link
    // to it, which stays a link.
    let null = Path::new("/dev/null");
    assert!(is_char_device(null));
    sandbox
        .run(&["pack", source, "-o", "/dev/null", "--json"])
        .expect(0);
    assert!(
        is_char_device(null),
        "/dev/null is still a character device"
    );
    std::os::unix::fs::symlink(null, work.join("to-null")).expect("link");
    sandbox
        .run(&["pack", source, "-o", "to-null", "-q"])
        .expect(0);
    assert!(is_link(&work.join("to-null")) && is_char_device(null));

    // A FIFO is written into: the reader gets exactly the layer.
    let fifo = work.join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let mut reader = Command::new("cat")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat runs");
    let mut out = reader.stdout.take().expect("piped");
    let read = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut bytes).expect("read the fifo");
        bytes
    });
    let run = sandbox.run(&["pack", source, "-o", "fifo", "-q"]);
    if run.code != 0 {
        let _ = reader.kill();
    }
    let _ = reader.wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        read.join().expect("reader") == layer,
        "the FIFO carried the layer"
    );
    assert!(
        fs::symlink_metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo()
    );

    // A socket cannot be opened for writing: an error, and it stays a socket.
    let socket = work.join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let run = sandbox
        .run(&["pack", source, "-o", "socket", "--json"])
        .expect(1);
    assert!(run.message().contains("socket"), "{}", run.message());
    assert!(
        fs::symlink_metadata(&socket)
            .expect("socket")
            .file_type()
            .is_socket()
    );

    // A directory is refused.
    fs::create_dir(work.join("dir")).expect("mkdir");
    assert_refused(
        sandbox.run(&["pack", source, "-o", "dir", "--json"]),
        &["dir is a directory", "-o"],
    );
    assert_eq!(fs::read_dir(work.join("dir")).expect("dir").count(), 0);

    // A link to a regular file, or to nothing yet, is followed: the target is written, the
    // link stays a link.
    fs::write(work.join("target.tar.gz"), b"old").expect("write");
    std::os::unix::fs::symlink("target.tar.gz", work.join("to-file")).expect("link");
    std::os::unix::fs::symlink("created.tar.gz", work.join("dangling")).expect("link");
    for link in ["to-file", "dangling"] {
        sandbox.run(&["pack", source, "-o", link, "-q"]).expect(0);
        assert!(is_link(&work.join(link)), "{link} is still a link");
    }
    assert!(fs::read(work.join("target.tar.gz")).expect("target") == layer);
    assert!(fs::read(work.join("created.tar.gz")).expect("created") == layer);

    // A regular file is replaced by rename (a new inode), not rewritten in place.
    let file = work.join("target.tar.gz");
    fs::write(&file, b"old").expect("write");
    let inode = fs::metadata(&file).expect("stat").ino();
    sandbox
        .run(&["pack", source, "-o", "target.tar.gz", "-q"])
        .expect(0);
    assert_ne!(fs::metadata(&file).expect("stat").ino(), inode);
    assert!(fs::read(&file).expect("file") == layer);
}

#[test]
fn pack_and_pull_create_missing_parent_directories() {
    let registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    let (source, layer) = packed(&sandbox, "parents");
    sandbox
        .run(&[
            "pack",
            source.to_str().expect("utf-8"),
            "-o",
            "a/b/c/layer.tar.gz",
            "-q",
        ])
        .expect(0);
    assert!(fs::read(work.join("a/b/c/layer.tar.gz")).expect("packed") == layer);
    let files: &[(&str, &[u8])] = &[("api/openapi.yaml", b"openapi: 3.0.0\n")];
    let reference = push_bundle(&registry, &sandbox, "parents", "parents", files);
    sandbox
        .run(&["pull", &reference, "-o", "d/e/f", "-q"])
        .expect(0);
    assert_tree(&work.join("d/e/f"), &bundle_tree("parents", files));
}

// ---------------------------------------------------------------------------------------
// Arguments that are not UTF-8.

/// `prefix` followed by bytes that are not UTF-8.
fn not_utf8(prefix: &str) -> OsString {
    OsString::from_vec([prefix.as_bytes(), b"-\xff\xfe"].concat())
}

#[test]
fn non_utf8_arguments_never_panic() {
    let registry = TestRegistry::start(RegistryOptions::tls());
    let sandbox = Sandbox::new();
    let work = sandbox.work();
    let files: &[(&str, &[u8])] = &[("api/openapi.yaml", b"openapi: 3.0.0\n")];
    let bundle = work.join(not_utf8("bundle"));
    fs::create_dir_all(bundle.join("api")).expect("mkdir");
    fs::write(bundle.join("pacto.yaml"), contract_named("bytes")).expect("write");
    fs::write(bundle.join("api/openapi.yaml"), files[0].1).expect("write");
    let ca = work.join(not_utf8("ca"));
    fs::copy(registry.ca_file().expect("a CA"), &ca).expect("copy the CA");
    let layer = work.join(not_utf8("layer"));
    let out = work.join(not_utf8("out"));
    let cache = work.join(not_utf8("cache"));
    let repo = format!("{}/edges/bytes", registry.host());
    let os = |args: &[&std::ffi::OsStr]| sandbox.run_with(sandbox.command_os(args));
    let s = std::ffi::OsStr::new;

    // Paths: pack DIR -o FILE, push SOURCE (both kinds), pull -o DIR, --cache-dir, --ca-file.
    os(&[
        s("pack"),
        bundle.as_os_str(),
        s("-o"),
        layer.as_os_str(),
        s("-q"),
    ])
    .expect(0);
    os(&[
        s("push"),
        layer.as_os_str(),
        s(&format!("{repo}:from-file")),
        s("--ca-file"),
        ca.as_os_str(),
        s("-q"),
    ])
    .expect(0);
    os(&[
        s("push"),
        bundle.as_os_str(),
        s(&repo),
        s("--ca-file"),
        ca.as_os_str(),
        s("-q"),
    ])
    .expect(0);
    for extra in [None, Some("--force")] {
        let mut args = vec![
            s("pull"),
            s(&repo),
            s("-o"),
            out.as_os_str(),
            s("--cache-dir"),
            cache.as_os_str(),
            s("--ca-file"),
            ca.as_os_str(),
            s("--json"),
        ];
        args.extend(extra.map(s));
        let run = os(&args).expect(0);
        assert_eq!(run.json()["version"], "1.0.0");
        assert_tree(&out, &bundle_tree("bytes", files));
    }
    assert!(
        snapshot(&cache).values().any(|k| *k == Kind::File),
        "the cache is under the non-UTF-8 --cache-dir"
    );
    let (run, bytes) =
        run_binary(sandbox.command_os(&[s("pack"), bundle.as_os_str(), s("-o"), s("-")]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(fs::read(&layer).expect("packed") == bytes, "the same layer");

    // Anything else that is not UTF-8 is a usage error.
    let bad = not_utf8("bad");
    let flag = not_utf8("--bad");
    let cases: [Vec<&std::ffi::OsStr>; 6] = [
        vec![s("pull"), bad.as_os_str()],
        vec![s("resolve"), s(&repo), s("--constraint"), bad.as_os_str()],
        vec![s("tags"), bad.as_os_str()],
        vec![s("semver"), s("sort"), bad.as_os_str()],
        vec![s("--username"), bad.as_os_str(), s("tags"), s(&repo)],
        vec![s("pull"), s(&repo), flag.as_os_str()],
    ];
    for args in cases {
        let run = os(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let mut with_json = args.clone();
        with_json.push(s("--json"));
        os(&with_json).expect_error(2, "usage");
    }
    let unknown = os(&[bad.as_os_str()]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}
