//! The progress observer: it sees every byte of a push and of a pull, and changes no request.

use crate::runtime;
use pacto_oci::refs::Digest;
use pacto_oci::registry::Direction;
use pacto_oci::{Bundle, Client, Progress, ProgressEvent, ResolveMode};
use pacto_test_support::TestRegistry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What an observer saw of each blob: direction, announced size, bytes counted, done.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Seen {
    blobs: BTreeMap<Digest, (Option<Direction>, u64, u64, bool)>,
}

fn observer() -> (Progress, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = Arc::clone(&seen);
    let progress = Progress::new(move |event| {
        let mut seen = sink.lock().unwrap();
        match event {
            ProgressEvent::BlobStarted {
                digest,
                size,
                direction,
            } => {
                seen.blobs
                    .insert(digest.clone(), (Some(*direction), *size, 0, false));
            }
            ProgressEvent::BlobBytes { digest, n } => {
                seen.blobs.get_mut(digest).expect("bytes after a start").2 += n;
            }
            ProgressEvent::BlobDone { digest } => {
                seen.blobs.get_mut(digest).expect("done after a start").3 = true;
            }
            _ => {}
        }
    });
    (progress, seen)
}

/// Incompressible bytes, so the layer is about as large as the file.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn a_progress_observer_sees_every_byte_of_a_push_and_a_pull() {
    let registry = TestRegistry::plain();
    let temp = tempfile::tempdir().unwrap();
    // Over the 4 MiB upload chunk: the layer goes up in two PATCH bodies.
    let bundle = Bundle::from_files(
        [
            (
                "pacto.yaml".to_owned(),
                "pactoVersion: \"1.0\"\nservice:\n  name: big\n  version: 1.0.0\n".into(),
            ),
            ("data/noise.bin".to_owned(), noise(5 * 1024 * 1024).into()),
        ]
        .into(),
    )
    .unwrap();
    let client = |cache: &str, progress: Option<Progress>| {
        let mut builder = Client::builder().cache_dir(temp.path().join(cache));
        if let Some(progress) = progress {
            builder = builder.progress(progress);
        }
        builder.build().unwrap()
    };
    let rt = runtime();
    let watched = format!("{}/progress/watched", registry.host());
    let unwatched = format!("{}/progress/unwatched", registry.host());

    // Push: the config and the layer, each announced with its size and counted in full.
    let (progress, seen) = observer();
    registry.clear_requests();
    let pushed = rt
        .block_on(client("push", Some(progress)).push(&watched, &bundle, false))
        .unwrap();
    let watched_requests = registry.requests().len();
    let manifest = rt
        .block_on(client("inspect", None).inspect(
            &format!("{watched}:1.0.0"),
            "",
            ResolveMode::RemoteAllowed,
        ))
        .unwrap()
        .manifest;
    let expected: BTreeMap<_, _> = manifest
        .blobs()
        .into_iter()
        .map(|blob| {
            (
                blob.digest.clone(),
                (Some(Direction::Upload), blob.size, blob.size, true),
            )
        })
        .collect();
    assert!(manifest.layer.size > 5 * 1024 * 1024, "{manifest:?}");
    assert_eq!(seen.lock().unwrap().blobs, expected, "push of {pushed:?}");

    // The same push unobserved costs the same requests.
    registry.clear_requests();
    rt.block_on(client("push-unwatched", None).push(&unwatched, &bundle, false))
        .unwrap();
    assert_eq!(registry.requests().len(), watched_requests);

    // Pull (a fresh cache): the layer only (the config is never fetched), in full.
    let (progress, seen) = observer();
    registry.clear_requests();
    let pulled = rt
        .block_on(client("pull", Some(progress)).pull(
            &format!("{watched}:1.0.0"),
            "",
            ResolveMode::RemoteAllowed,
        ))
        .unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    let pull_requests = registry.requests().len();
    let layer = &manifest.layer;
    assert_eq!(
        seen.lock().unwrap().blobs,
        BTreeMap::from([(
            layer.digest.clone(),
            (Some(Direction::Download), layer.size, layer.size, true)
        )])
    );
    registry.clear_requests();
    rt.block_on(client("pull-unwatched", None).pull(
        &format!("{watched}:1.0.0"),
        "",
        ResolveMode::RemoteAllowed,
    ))
    .unwrap();
    assert_eq!(registry.requests().len(), pull_requests);

    // A pull served by the cache moves no blob.
    let (progress, seen) = observer();
    let cached = client("pull", Some(progress));
    rt.block_on(cached.pull(&format!("{watched}:1.0.0"), "", ResolveMode::RemoteAllowed))
        .unwrap();
    assert_eq!(seen.lock().unwrap().blobs, BTreeMap::new());
}
