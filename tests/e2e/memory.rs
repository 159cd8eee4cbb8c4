//! Pull and push memory (issue 14): a pull streams the layer into the cache (or a scratch
//! directory) and unpacks it from that verified file entry by entry; a push packs the
//! directory into a scratch file file by file and uploads (or copies) it from there a chunk
//! at a time. So the peak resident memory of `pull` and `push` does not grow with the
//! bundle. Measured on the real binary from the kernel's high-water mark (`VmHWM` in
//! `/proc/PID/status`), against real registries and layouts.

use crate::common::{Sandbox, assert_same_files, noise, write_bundle};
use pacto_test_support::TestRegistry;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The growth allowed from a tiny bundle to a 40 MiB one: generous (the bench reports the
/// exact figures), but far below the layer's size, which a pull or push holding it would
/// add.
const MAX_GROWTH_KIB: u64 = 24 * 1024;

/// A bundle with five 8 MiB files of noise (40 MiB), or none.
fn bundle(sandbox: &Sandbox, version: &str, big: bool) -> PathBuf {
    let files: Vec<(String, Vec<u8>)> = if big {
        (0..5)
            .map(|i| (format!("data/blob-{i}.bin"), noise(70 + i, 8 << 20)))
            .collect()
    } else {
        Vec::new()
    };
    let extra: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
        .collect();
    write_bundle(&sandbox.path("bundles"), "mem", version, &extra)
}

/// The high-water mark of the resident set of the process `pid`, in KiB, while it lives.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd` to success and returns its peak resident memory in KiB: the last high-water
/// mark read before it exited (it only grows, and is read every millisecond).
fn peak_rss_kib(mut cmd: Command) -> u64 {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = vm_hwm_kib(child.id()) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the command did not finish"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let stderr = std::io::read_to_string(child.stderr.take().expect("piped")).unwrap_or_default();
    assert!(status.success(), "the command failed: {stderr}");
    assert!(peak > 0, "no memory reading");
    peak
}

fn pull_command(sandbox: &Sandbox, global: &[&str], reference: &str, out: &Path) -> Command {
    let mut args: Vec<&str> = global.to_vec();
    args.extend(["pull", reference, "-o", out.to_str().expect("utf-8"), "-q"]);
    sandbox.command(&args)
}

#[test]
fn pull_memory_does_not_grow_with_the_bundle() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let publisher = Sandbox::new();
    let layout = publisher.path("layout");
    let layout_repo = format!("oci-layout:{}", layout.display());
    let (small, big) = (
        bundle(&publisher, "1.0.0", false),
        bundle(&publisher, "2.0.0", true),
    );
    for source in [&small, &big] {
        let source = source.to_str().expect("utf-8");
        publisher
            .run(&[
                "--plain-http",
                &host,
                "push",
                source,
                &format!("{host}/mem/b"),
            ])
            .expect(0);
        publisher.run(&["push", source, &layout_repo]).expect(0);
    }
    let plain = ["--plain-http", host.as_str()];
    let cases: [(&str, &[&str], String); 2] = [
        ("registry", &plain, format!("{host}/mem/b")),
        ("layout", &[], layout_repo.clone()),
    ];
    for (store, global, repo) in cases {
        let mut peaks = Vec::new();
        for (version, source) in [("1.0.0", &small), ("2.0.0", &big)] {
            // A fresh sandbox: a cold cache, the download included.
            let puller = Sandbox::new();
            let out = puller.work().join("out");
            let reference = format!("{repo}:{version}");
            let peak = peak_rss_kib(pull_command(&puller, global, &reference, &out));
            assert_same_files(source, &out);
            peaks.push(peak);
        }
        let growth = peaks[1].saturating_sub(peaks[0]);
        assert!(
            growth < MAX_GROWTH_KIB,
            "{store}: pulling 40 MiB grew the peak by {growth} KiB (tiny: {} KiB, 40 MiB: {} KiB)",
            peaks[0],
            peaks[1]
        );
    }
}

#[test]
fn push_memory_does_not_grow_with_the_bundle() {
    let registry = TestRegistry::plain();
    let host = registry.host();
    let publisher = Sandbox::new();
    let (small, big) = (
        bundle(&publisher, "1.0.0", false),
        bundle(&publisher, "2.0.0", true),
    );
    let layout = publisher.path("layout");
    let layout_repo = format!("oci-layout:{}", layout.display());
    let plain = ["--plain-http", host.as_str()];
    let cases: [(&str, &[&str], String); 2] = [
        ("registry", &plain, format!("{host}/mem/p")),
        ("layout", &[], layout_repo),
    ];
    for (store, global, repo) in cases {
        let mut peaks = Vec::new();
        for source in [&small, &big] {
            // A fresh sandbox: a cold cache, whose tmp directory holds the packed layer.
            let pusher = Sandbox::new();
            let mut args: Vec<&str> = global.to_vec();
            args.extend(["push", source.to_str().expect("utf-8"), &repo, "-q"]);
            peaks.push(peak_rss_kib(pusher.command(&args)));
        }
        // What was pushed is the bundle, byte for byte.
        let puller = Sandbox::new();
        let out = puller.work().join("out");
        let peak = peak_rss_kib(pull_command(
            &puller,
            global,
            &format!("{repo}:2.0.0"),
            &out,
        ));
        assert!(peak > 0);
        assert_same_files(&big, &out);
        let growth = peaks[1].saturating_sub(peaks[0]);
        assert!(
            growth < MAX_GROWTH_KIB,
            "{store}: pushing 40 MiB grew the peak by {growth} KiB (tiny: {} KiB, 40 MiB: {} KiB)",
            peaks[0],
            peaks[1]
        );
    }
}

/// The growth allowed for the library's pull, whose bundle holds its files in memory by
/// design: one and a half times the bundle. Holding the layer beside the files (as the
/// pull did before it went through a file) takes twice the bundle and more.
const MAX_LIBRARY_GROWTH_KIB: u64 = 3 * BIG_BUNDLE_KIB / 2;

/// The five 8 MiB files of the big bundle.
const BIG_BUNDLE_KIB: u64 = 40 * 1024;

#[test]
fn library_pull_holds_the_bundle_once() {
    // `inspect` reads the bundle through `Client::inspect`: the library's pull, the files
    // in memory, through the cache.
    let registry = TestRegistry::plain();
    let host = registry.host();
    let publisher = Sandbox::new();
    let layout = publisher.path("layout");
    let layout_repo = format!("oci-layout:{}", layout.display());
    let (small, big) = (
        bundle(&publisher, "1.0.0", false),
        bundle(&publisher, "2.0.0", true),
    );
    for source in [&small, &big] {
        let source = source.to_str().expect("utf-8");
        publisher
            .run(&[
                "--plain-http",
                &host,
                "push",
                source,
                &format!("{host}/mem/i"),
            ])
            .expect(0);
        publisher.run(&["push", source, &layout_repo]).expect(0);
    }
    let plain = ["--plain-http", host.as_str()];
    let cases: [(&str, &[&str], String); 2] = [
        ("registry", &plain, format!("{host}/mem/i")),
        ("layout", &[], layout_repo.clone()),
    ];
    for (store, global, repo) in cases {
        let mut peaks = Vec::new();
        for version in ["1.0.0", "2.0.0"] {
            // A fresh sandbox: a cold cache, the download included.
            let inspector = Sandbox::new();
            let reference = format!("{repo}:{version}");
            let mut args: Vec<&str> = global.to_vec();
            args.extend(["inspect", &reference, "--json"]);
            peaks.push(peak_rss_kib(inspector.command(&args)));
        }
        let growth = peaks[1].saturating_sub(peaks[0]);
        assert!(
            growth < MAX_LIBRARY_GROWTH_KIB,
            "{store}: inspecting 40 MiB grew the peak by {growth} KiB, over {MAX_LIBRARY_GROWTH_KIB} KiB (tiny: {} KiB, 40 MiB: {} KiB)",
            peaks[0],
            peaks[1]
        );
    }
}
