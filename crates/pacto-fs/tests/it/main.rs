//! pacto-fs against a real file system.

use pacto_fs::{
    AtomicFile, BlobCheck, BlobDir, BlobError, BlobRead, Mismatch, Mode, OBSERVE_STEP, blocking,
    sha256, write_atomic,
};
use std::future::Future as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The mode std gives a new file under this process's umask (0o666 & !umask).
fn umask_file_mode(dir: &Path) -> u32 {
    let probe = dir.join("probe");
    std::fs::write(&probe, b"").unwrap();
    let mode = mode_of(&probe);
    std::fs::remove_file(probe).unwrap();
    mode
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn blobs_round_trip_under_their_digest() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobDir::new(temp.path().join("blobs"), Mode::Shared);
    let digest = blobs.write(b"hello").unwrap();
    assert_eq!(digest, sha256(b"hello"));
    assert_eq!(
        blobs.path(&digest),
        temp.path().join("blobs/sha256").join(digest.hex())
    );
    assert!(blobs.contains(&digest, Some(5)));
    assert!(!blobs.contains(&digest, Some(6)));
    assert_eq!(
        blobs.read(&digest, 5).unwrap(),
        BlobRead::Intact(b"hello".to_vec())
    );
    assert_eq!(
        blobs.read_sized(&digest, 5).unwrap(),
        BlobRead::Intact(b"hello".to_vec())
    );
    // Writing it again is a no-op; nothing but the blob is in the directory.
    blobs.write(b"hello").unwrap();
    assert_eq!(entries(&temp.path().join("blobs/sha256")), [digest.hex()]);
    let missing = sha256(b"absent");
    assert_eq!(blobs.read(&missing, 100).unwrap(), BlobRead::Missing);
}

#[test]
fn a_check_hashes_in_bounded_steps_and_finds_what_a_read_finds() {
    let temp = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    /// Stored bytes, bytes the name claims, size asked, expected answer.
    type Case<'a> = (&'a [u8], &'a [u8], u64, fn(&BlobCheck) -> bool);
    let cases: [Case<'_>; 5] = [
        (&big, &big, big.len() as u64, |c| *c == BlobCheck::Intact),
        (b"tampered", b"original", 8, |c| {
            matches!(c, BlobCheck::Corrupt(Mismatch::Digest { .. }))
        }),
        (b"short", b"short", 6, |c| {
            matches!(
                c,
                BlobCheck::Corrupt(Mismatch::Size {
                    expected: 6,
                    actual: 5,
                    ..
                })
            )
        }),
        (
            &big,
            &big,
            1000,
            |c| matches!(c, BlobCheck::Corrupt(Mismatch::Size { expected: 1000, actual, .. }) if *actual > 1000),
        ),
        (b"", b"", 0, |c| *c == BlobCheck::Intact),
    ];
    for (keep, remove) in [(true, false), (false, true)] {
        let root = temp.path().join(format!("keep-{keep}"));
        let blobs = BlobDir::new(&root, Mode::Shared);
        let blobs = if keep { blobs.keep_corrupt() } else { blobs };
        for (stored, named, size, expected) in cases {
            let digest = sha256(named);
            std::fs::create_dir_all(root.join("sha256")).unwrap();
            std::fs::write(blobs.path(&digest), stored).unwrap();
            let found = blobs.check_sized(&digest, size).unwrap();
            assert!(
                expected(&found),
                "{} bytes as {size}: {found:?}",
                stored.len()
            );
            let corrupt = found != BlobCheck::Intact;
            assert_eq!(blobs.path(&digest).exists(), !(corrupt && remove));
        }
        assert_eq!(
            blobs.check_sized(&sha256(b"absent"), 6).unwrap(),
            BlobCheck::Missing
        );
    }
}

#[test]
fn observed_reads_and_writes_report_every_byte_in_bounded_steps() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobDir::new(temp.path().join("blobs"), Mode::Shared);
    // Two and a half steps: two full steps and the rest.
    let data: Vec<u8> = (0..OBSERVE_STEP * 5 / 2).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&data);
    let mut written = Vec::new();
    blobs
        .write_expected_observed(&digest, &data, |n| written.push(n))
        .unwrap();
    let half = OBSERVE_STEP / 2;
    assert_eq!(written, [OBSERVE_STEP, OBSERVE_STEP, half]);
    let mut read = Vec::new();
    assert_eq!(
        blobs
            .read_sized_observed(&digest, data.len() as u64, |n| read.push(n))
            .unwrap(),
        BlobRead::Intact(data.clone())
    );
    assert_eq!(read, [OBSERVE_STEP, OBSERVE_STEP, half]);
    // An intact copy is kept: reported whole, once.
    let mut again = Vec::new();
    blobs
        .write_expected_observed(&digest, &data, |n| again.push(n))
        .unwrap();
    assert_eq!(again, [data.len() as u64]);
    // Bytes that do not match are refused before anything is reported.
    let mut refused = Vec::new();
    assert!(matches!(
        blobs.write_expected_observed(&sha256(b"other"), &data, |n| refused.push(n)),
        Err(BlobError::DigestMismatch { .. })
    ));
    assert!(refused.is_empty());
}

#[test]
fn a_damaged_or_oversized_blob_is_corrupt_and_removed() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobDir::new(temp.path(), Mode::Shared);
    let digest = blobs.write(b"original").unwrap();
    std::fs::write(blobs.path(&digest), b"tampered").unwrap();
    let tampered = sha256(b"tampered");
    assert!(matches!(
        blobs.read(&digest, 100).unwrap(),
        BlobRead::Corrupt(Mismatch::Digest { actual, .. }) if actual == tampered
    ));
    assert!(!blobs.path(&digest).exists());

    let digest = blobs.write(b"0123456789").unwrap();
    assert!(matches!(
        blobs.read(&digest, 4).unwrap(),
        BlobRead::Corrupt(Mismatch::Size {
            expected: 4,
            actual: 5,
            ..
        })
    ));
    let digest = blobs.write(b"0123456789").unwrap();
    assert!(matches!(
        blobs.read_sized(&digest, 11).unwrap(),
        BlobRead::Corrupt(Mismatch::Size {
            expected: 11,
            actual: 10,
            ..
        })
    ));
}

#[test]
fn a_directory_that_keeps_corrupt_blobs_reports_them_and_a_write_repairs_them() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobDir::new(temp.path(), Mode::Shared).keep_corrupt();
    let digest = blobs.write(b"original").unwrap();
    std::fs::write(blobs.path(&digest), b"tampered").unwrap();
    assert!(matches!(
        blobs.read_sized(&digest, 8).unwrap(),
        BlobRead::Corrupt(Mismatch::Digest { .. })
    ));
    assert_eq!(std::fs::read(blobs.path(&digest)).unwrap(), b"tampered");
    // The same size, other bytes: a write hashes what is there and replaces it.
    blobs.write_expected(&digest, b"original").unwrap();
    assert_eq!(
        blobs.read_sized(&digest, 8).unwrap(),
        BlobRead::Intact(b"original".to_vec())
    );
}

#[test]
fn bytes_that_do_not_match_are_never_stored() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobDir::new(temp.path(), Mode::Shared);
    let expected = sha256(b"expected");
    let error = blobs
        .write_expected(&expected, b"something else")
        .unwrap_err();
    assert!(
        matches!(&error, BlobError::DigestMismatch { expected: e, actual, .. } if *e == expected && *actual == sha256(b"something else")),
        "{error:?}"
    );

    let mut writer = blobs.writer().unwrap();
    writer.write_all(b"streamed").unwrap();
    assert_eq!(writer.size(), 8);
    let error = writer.finish(None, Some(9)).unwrap_err();
    assert!(matches!(
        error,
        BlobError::SizeMismatch {
            expected: 9,
            actual: 8,
            ..
        }
    ));

    let mut writer = blobs.writer().unwrap();
    writer.write_all(b"abandoned").unwrap();
    drop(writer);

    assert_eq!(entries(&temp.path().join("sha256")), Vec::<String>::new());
}

#[test]
fn a_streamed_blob_appears_whole_under_its_digest() {
    let temp = tempfile::tempdir().unwrap();
    let blobs =
        BlobDir::new(temp.path().join("b"), Mode::Shared).with_temp_dir(temp.path().join("tmp"));
    let mut writer = blobs.writer().unwrap();
    for chunk in [b"part one, ".as_slice(), b"part two"] {
        writer.write_all(chunk).unwrap();
        assert!(entries(&temp.path().join("b/sha256")).is_empty());
    }
    let expected = sha256(b"part one, part two");
    let digest = writer.finish(Some(&expected), Some(18)).unwrap();
    assert_eq!(digest, expected);
    assert_eq!(
        std::fs::read(blobs.path(&digest)).unwrap(),
        b"part one, part two"
    );
    assert!(entries(&temp.path().join("tmp")).is_empty());
}

#[test]
fn shared_files_follow_the_umask_and_private_ones_are_0600() {
    let temp = tempfile::tempdir().unwrap();
    let shared = umask_file_mode(temp.path());

    write_atomic(&temp.path().join("shared"), b"x", Mode::Shared).unwrap();
    assert_eq!(mode_of(&temp.path().join("shared")), shared);
    write_atomic(&temp.path().join("private"), b"x", Mode::Private).unwrap();
    assert_eq!(mode_of(&temp.path().join("private")), 0o600);

    let blobs = BlobDir::new(temp.path().join("blobs"), Mode::Shared);
    let digest = blobs.write(b"blob").unwrap();
    assert_eq!(mode_of(&blobs.path(&digest)), shared);

    pacto_fs::create_dir_all(&temp.path().join("p/q"), Mode::Private).unwrap();
    assert_eq!(mode_of(&temp.path().join("p/q")), 0o700);
}

#[test]
fn an_atomic_file_replaces_its_destination_only_at_commit() {
    let temp = tempfile::tempdir().unwrap();
    let dest = temp.path().join("config.json");
    std::fs::write(&dest, b"old").unwrap();
    let mut file = AtomicFile::create_for(&dest, Mode::Private).unwrap();
    file.write_all(b"new").unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    file.commit(&dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    assert_eq!(entries(temp.path()), ["config.json"]);

    // A symlink at the destination is replaced, never followed.
    let target = temp.path().join("target");
    std::fs::write(&target, b"untouched").unwrap();
    let link = temp.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    write_atomic(&link, b"written", Mode::Shared).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
    assert!(
        !std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_work_runs_off_the_executor_and_panics_propagate() {
    // The blocking work waits for a message that only a task on this single-threaded
    // executor sends: were the work run on the executor thread, the sender could never run.
    let (tx, rx) = std::sync::mpsc::channel();
    let sender = tokio::spawn(async move { tx.send("from the executor").unwrap() });
    let received = blocking(move || rx.recv_timeout(std::time::Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(received, Ok("from the executor"));
    sender.await.unwrap();

    let outcome =
        tokio::spawn(async { blocking(|| panic!("inside the blocking work")).await }).await;
    let error = outcome.expect_err("the panic reached the awaiting task");
    assert!(error.is_panic());
}

#[test]
fn blocking_work_runs_inline_without_a_runtime() {
    // A future polled by an executor that is not tokio's: no pool to hand the work to.
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(blocking(|| 6 * 7));
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => assert_eq!(value.unwrap(), 42),
        std::task::Poll::Pending => panic!("inline work is ready at the first poll"),
    }
}
