//! `cargo xtask deny`: cargo-deny, fully offline.
//!
//! cargo-deny looks for its advisory database at `<db-path>/advisory-db-<hash of the URL>`
//! and, offline, reads it as a git repository whose HEAD commit date tells its age.
//! We materialise the snapshot in `../shared/advisory-db/` there as a one-commit repository
//! dated as the snapshot says (`SNAPSHOT.txt`), so `maximum-db-staleness` is measured
//! against the snapshot, not against the time of the copy.

use crate::{Result, cargo, root, run, tools};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory name cargo-deny derives from the default advisory-db URL.
const DB_DIR: &str = "advisory-db-3157b0e258782691";
/// Where `deny.toml`'s `db-path` points, relative to the workspace root.
const DB_PATH: &str = "target/advisory-dbs";

pub(crate) fn task() -> Result {
    if !tools::have("cargo-deny") {
        return Err(
            "cargo-deny is not installed; install it with `cargo install --locked cargo-deny`"
                .into(),
        );
    }
    materialise_db()?;
    run(cargo().args(["fetch", "--locked"]))?;
    run(cargo().args(["deny", "--offline", "check"]))
}

fn snapshot_dir() -> Result<PathBuf> {
    let dir = root().join("../shared/advisory-db");
    if dir.join("SNAPSHOT.txt").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "the advisory-db snapshot is missing at {}; it ships in ../shared beside the checkout",
            dir.display()
        ))
    }
}

/// `(commit, date)` from the snapshot's `SNAPSHOT.txt`.
fn snapshot_identity(snapshot: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(snapshot.join("SNAPSHOT.txt"))
        .map_err(|e| format!("cannot read SNAPSHOT.txt: {e}"))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| format!("SNAPSHOT.txt has no `{name}` line"))
    };
    Ok((field("Commit:")?, field("Commit date:")?))
}

fn materialise_db() -> Result {
    let snapshot = snapshot_dir()?;
    let (commit, date) = snapshot_identity(&snapshot)?;
    let db = root().join(DB_PATH).join(DB_DIR);
    let marker = format!("advisory-db snapshot {commit}");
    if head_message(&db).is_some_and(|m| m.trim() == marker) {
        eprintln!("xtask: advisory db already at snapshot {commit}");
        return Ok(());
    }
    if db.exists() {
        std::fs::remove_dir_all(&db).map_err(|e| format!("cannot remove {}: {e}", db.display()))?;
    }
    std::fs::create_dir_all(db.parent().expect("db dir has a parent"))
        .map_err(|e| format!("cannot create {DB_PATH}: {e}"))?;
    run(Command::new("cp").arg("-R").arg(&snapshot).arg(&db))?;
    let git = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&db)
            .args(["-c", "user.name=xtask", "-c", "user.email=xtask@localhost"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date);
        cmd
    };
    run(&mut git(&["init", "-q", "-b", "main"]))?;
    run(&mut git(&["add", "-A"]))?;
    run(&mut git(&["commit", "-q", "--no-verify", "-m", &marker]))?;
    Ok(())
}

fn head_message(db: &Path) -> Option<String> {
    // Without its own `.git`, `git -C` would find the workspace's repository above it.
    if !db.join(".git").is_dir() {
        return None;
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(db)
        .args(["log", "-1", "--format=%s"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
