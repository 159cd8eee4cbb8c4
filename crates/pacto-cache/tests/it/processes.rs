//! Several OS processes sharing one cache directory, and a writer killed mid-write.
//!
//! The child processes are this test binary run again with `--exact <test>` and an
//! environment variable naming the child's role; each test below starts by checking whether
//! it is such a child.

use crate::common::{bundle_with, cached, files_under, push, reference, runtime};
use pacto_registry::BundleStore;
use pacto_test_support::TestRegistry;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROLE: &str = "PACTO_CACHE_IT_ROLE";
const DIR: &str = "PACTO_CACHE_IT_DIR";
const REFERENCE: &str = "PACTO_CACHE_IT_REFERENCE";
const DIGEST: &str = "PACTO_CACHE_IT_DIGEST";

/// Starts this test binary as a child running only `test`, in `role`.
fn spawn_child(test: &str, role: &str, dir: &Path, reference: &str, digest: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ROLE, role)
        .env(DIR, dir)
        .env(REFERENCE, reference)
        .env(DIGEST, digest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child process")
}

/// Does the child's part when this process is a child; returns whether it was.
fn run_child_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let dir = PathBuf::from(std::env::var_os(DIR).expect("child gets a directory"));
    let tag = reference(&std::env::var(REFERENCE).expect("child gets a reference"));
    let digest = std::env::var(DIGEST).expect("child gets a digest");
    let rt = runtime();
    match role.as_str() {
        "pull" => {
            let pulled = rt
                .block_on(cached(&dir).pull_pinned(&tag))
                .expect("child pull");
            assert_eq!(pulled.digest, digest);
        }
        "write-forever" => loop {
            // A new store that does not read the disk: every round pulls and writes again.
            let store = cached(&dir);
            store.disable_cache();
            let pulled = rt.block_on(store.pull_pinned(&tag)).expect("child pull");
            assert_eq!(pulled.digest, digest);
        },
        other => panic!("unknown child role {other:?}"),
    }
    true
}

#[test]
fn sixteen_processes_pull_one_ref_into_a_cold_cache() {
    if run_child_role() {
        return;
    }
    let registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle_with("shared", "1.0.0", 256 * 1024);
    let digest = push(&rt, &registry, "team/shared", "1.0.0", &original);
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = format!("{}/team/shared:1.0.0", registry.host());

    let children: Vec<Child> = (0..16)
        .map(|_| {
            spawn_child(
                "processes::sixteen_processes_pull_one_ref_into_a_cold_cache",
                "pull",
                dir.path(),
                &tag,
                digest.as_str(),
            )
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().expect("wait for child");
        assert!(
            output.status.success(),
            "child {i} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let store = cached(dir.path());
    let entries = rt.block_on(store.entries()).expect("entries");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].digest, digest);
    let report = rt.block_on(store.verify()).expect("verify");
    assert_eq!(
        (
            report.ok,
            report.corrupt.len(),
            report.corrupt_blobs.len(),
            report.removed_temp_files
        ),
        (1, 0, 0, 0)
    );
    let tmp: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.starts_with("v1/tmp"))
        .collect();
    assert!(tmp.is_empty(), "no temporary file left: {tmp:?}");
    let local = rt
        .block_on(store.pull_local(&reference(&tag)))
        .expect("local")
        .expect("hit");
    assert_eq!(local.bundle, original);
}

#[test]
fn a_writer_killed_mid_write_leaves_nothing_that_is_served() {
    if run_child_role() {
        return;
    }
    let registry = TestRegistry::plain();
    let rt = runtime();
    let original = bundle_with("large", "1.0.0", 12 * 1024 * 1024);
    let digest = push(&rt, &registry, "team/large", "1.0.0", &original);
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = format!("{}/team/large:1.0.0", registry.host());
    let tmp = dir.path().join("v1/tmp");

    let mut child = spawn_child(
        "processes::a_writer_killed_mid_write_leaves_nothing_that_is_served",
        "write-forever",
        dir.path(),
        &tag,
        digest.as_str(),
    );
    // Wait (bounded) until a temporary file is partly written, then kill -9 the writer.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let writing = std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.metadata().is_ok_and(|m| m.len() > 0));
        if writing {
            break;
        }
        if let Some(status) = child.try_wait().expect("child status") {
            let output = child.wait_with_output().expect("child output");
            panic!(
                "the writer exited on its own ({status}): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "the writer never started writing a temporary file"
        );
        // Poll interval while watching another process.
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");

    // Whatever the kill left is either a whole entry or nothing that is served.
    let abandoned = std::fs::read_dir(&tmp).map_or(0, |entries| entries.count());
    let store = cached(dir.path());
    if let Some(local) = rt
        .block_on(store.pull_local(&reference(&tag)))
        .expect("local")
    {
        assert_eq!(local.digest, digest);
        assert_eq!(local.bundle, original);
    }
    let report = rt.block_on(store.verify()).expect("verify");
    assert_eq!(
        report.removed_temp_files, abandoned,
        "every temporary file of the dead writer is removed"
    );
    assert!(
        report.corrupt.is_empty() && report.corrupt_blobs.is_empty(),
        "{report:?}"
    );
    let left: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.starts_with("v1/tmp"))
        .collect();
    assert!(
        left.is_empty(),
        "verify removed the dead writer's temporary files: {left:?}"
    );

    // Pull again: served or re-pulled, always the original.
    let again = rt
        .block_on(cached(dir.path()).pull_pinned(&reference(&tag)))
        .expect("pull");
    assert_eq!(again.digest, digest);
    assert_eq!(again.bundle, original);
    let report = rt.block_on(cached(dir.path()).verify()).expect("verify");
    assert_eq!((report.ok, report.corrupt.len()), (1, 0));
}

#[test]
fn verify_keeps_a_temporary_file_that_a_live_writer_holds() {
    if run_child_role() {
        return;
    }
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = dir.path().join("v1/tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    let held = tmp.join("w-held");
    let dead = tmp.join("w-dead");
    std::fs::write(&dead, b"partial").expect("write");
    let file = std::fs::File::create(&held).expect("create");
    file.lock().expect("lock like a writer does");
    let report = rt.block_on(cached(dir.path()).verify()).expect("verify");
    assert_eq!(report.removed_temp_files, 1);
    assert!(held.exists() && !dead.exists());
    drop(file);
    let report = rt
        .block_on(cached(dir.path()).prune(u64::MAX))
        .expect("prune");
    assert!(report.removed.is_empty());
    assert!(!held.exists(), "once released, it is abandoned and removed");
}
