//! The progress observer: it sees every byte of a push and of a pull, to and from registries
//! and layouts, and changes no request.

use crate::runtime;
use pacto_oci::refs::Digest;
use pacto_oci::registry::Direction;
use pacto_oci::{Bundle, Client, Progress, ProgressEvent, ResolveMode};
use pacto_test_support::TestRegistry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What an observer saw of each blob and direction: announced size, bytes counted, done.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Seen {
    blobs: BTreeMap<(Digest, Way), (u64, u64, bool)>,
    /// The largest `BlobBytes` seen.
    largest_step: u64,
}

/// A [`Direction`] that orders (the map's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Way {
    Down,
    Up,
}

fn way(direction: Direction) -> Way {
    match direction {
        Direction::Download => Way::Down,
        Direction::Upload => Way::Up,
        other => panic!("a direction this test does not know: {other:?}"),
    }
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
                    .insert((digest.clone(), way(*direction)), (*size, 0, false));
            }
            ProgressEvent::BlobBytes {
                digest,
                n,
                direction,
            } => {
                seen.largest_step = seen.largest_step.max(*n);
                let blob = seen.blobs.get_mut(&(digest.clone(), way(*direction)));
                blob.expect("bytes after a start").1 += n;
            }
            ProgressEvent::BlobDone { digest, direction } => {
                let blob = seen.blobs.get_mut(&(digest.clone(), way(*direction)));
                blob.expect("done after a start").2 = true;
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
        .map(|blob| ((blob.digest.clone(), Way::Up), (blob.size, blob.size, true)))
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
            (layer.digest.clone(), Way::Down),
            (layer.size, layer.size, true)
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

#[test]
fn a_progress_observer_sees_layout_pushes_pulls_and_copies_by_direction() {
    let temp = tempfile::tempdir().unwrap();
    // Over two MiB steps: the layer is reported in several `BlobBytes`.
    let bundle = Bundle::from_files(
        [
            (
                "pacto.yaml".to_owned(),
                "pactoVersion: \"1.0\"\nservice:\n  name: big\n  version: 1.0.0\n".into(),
            ),
            ("data/noise.bin".to_owned(), noise(3 * 1024 * 1024).into()),
        ]
        .into(),
    )
    .unwrap();
    let client = |cache: &str, progress: Progress| {
        Client::builder()
            .cache_dir(temp.path().join(cache))
            .progress(progress)
            .build()
            .unwrap()
    };
    let rt = runtime();
    let source = format!("oci-layout:{}", temp.path().join("source").display());
    let copy = format!("oci-layout:{}", temp.path().join("copy").display());

    // Push: the layer and the config written, as uploads, each in full.
    let (progress, seen) = observer();
    let pushed = rt
        .block_on(client("push", progress).push(&source, &bundle, false))
        .unwrap();
    let (progress, _) = observer();
    let manifest = rt
        .block_on(client("inspect", progress).inspect(
            &format!("{source}:1.0.0"),
            "",
            ResolveMode::RemoteAllowed,
        ))
        .unwrap()
        .manifest;
    let blobs = |way: Way| -> BTreeMap<_, _> {
        manifest
            .blobs()
            .into_iter()
            .map(|blob| ((blob.digest.clone(), way), (blob.size, blob.size, true)))
            .collect()
    };
    let seen_push = seen.lock().unwrap().clone();
    assert_eq!(seen_push.blobs, blobs(Way::Up), "push of {pushed:?}");
    assert_eq!(
        seen_push.largest_step,
        1024 * 1024,
        "steps of at most a MiB"
    );

    // Pull (a fresh cache): the layer read, as a download.
    let (progress, seen) = observer();
    rt.block_on(client("pull", progress).pull(
        &format!("{source}:1.0.0"),
        "",
        ResolveMode::RemoteAllowed,
    ))
    .unwrap();
    let layer = &manifest.layer;
    assert_eq!(
        seen.lock().unwrap().blobs,
        BTreeMap::from([(
            (layer.digest.clone(), Way::Down),
            (layer.size, layer.size, true)
        )])
    );

    // Copy: each blob read from the source and written to the destination, the same
    // digest counted once each way.
    let (progress, seen) = observer();
    rt.block_on(client("copy", progress).copy(&format!("{source}:1.0.0"), &copy, false))
        .unwrap();
    let mut both = blobs(Way::Down);
    both.extend(blobs(Way::Up));
    assert_eq!(seen.lock().unwrap().blobs, both);
}
