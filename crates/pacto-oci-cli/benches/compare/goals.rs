//! The goals, judged on the measured rows: reported, never asserted.

use crate::CacheKind;
use crate::report::{self, Goal, PACTO, Row, Status};
use crate::run::Cell;

/// Judges the goals on the measured rows.
pub(crate) fn judge(rows: &[Row], medium_bytes: u64, large_bytes: u64) -> Vec<Goal> {
    let find = |key: &str| rows.iter().find(|row| row.key == key);
    let transfer: Vec<&Row> = rows.iter().filter(|row| row.section <= 2).collect();
    let peers = ["skopeo", "oras-py"];

    // Fewer requests than every peer, in every push and pull row.
    let mut parts = Vec::new();
    let none_yet = if transfer.is_empty() {
        Status::NotMeasured
    } else {
        Status::Met
    };
    let mut status = none_yet;
    for row in &transfer {
        let Some(ours) = row.cell(PACTO).and_then(Cell::requests) else {
            status = status.and(Status::NotMeasured);
            continue;
        };
        let mut theirs = Vec::new();
        for peer in peers {
            match row.cell(peer).and_then(Cell::requests) {
                Some(n) => {
                    let verdict = match ours.cmp(&n) {
                        std::cmp::Ordering::Less => "",
                        std::cmp::Ordering::Equal => " (tie)",
                        std::cmp::Ordering::Greater => " (more)",
                    };
                    if ours >= n {
                        status = status.and(Status::Missed);
                    }
                    theirs.push(format!("{peer} {n}{verdict}"));
                }
                None => status = status.and(Status::NotMeasured),
            }
        }
        parts.push(format!(
            "{} {}: {ours} vs {}",
            short(&row.label),
            row.network,
            theirs.join(", ")
        ));
    }
    let mut out = vec![Goal {
        goal: "push and pull: fewer requests than every peer".to_owned(),
        measured: parts.join("; "),
        status,
    }];

    // No slower than any peer.
    let mut slower = Vec::new();
    let mut lowest: Option<f64> = None;
    let mut status = none_yet;
    for row in &transfer {
        for peer in peers {
            match row.ratio(peer) {
                Some(r) => {
                    lowest = Some(lowest.map_or(r, |l| l.min(r)));
                    if r < 1.0 {
                        status = status.and(Status::Missed);
                        slower.push(format!(
                            "{} {} vs {peer} {r:.2}x",
                            short(&row.label),
                            row.network
                        ));
                    }
                }
                None => status = status.and(Status::NotMeasured),
            }
        }
    }
    out.push(Goal {
        goal: "push and pull: no slower than any peer".to_owned(),
        measured: match (slower.is_empty(), lowest) {
            (_, None) => "not measured".to_owned(),
            (true, Some(l)) => format!("every peer ÷ pacto-oci ratio at least {l:.2}x"),
            (false, Some(_)) => format!("slower in: {}", slower.join("; ")),
        },
        status,
    });

    // 1.5x faster than skopeo on pull with latency.
    out.push(threshold(
        "pull with 20 ms latency: at least 1.5x faster than skopeo",
        &[find("pull.small.latency"), find("pull.large.latency")],
        &["skopeo"],
        1.5,
    ));
    out.push(threshold(
        "fetch-all of 50 versions: at least 6x faster than a sequential loop",
        &[find("fetch-all.loopback"), find("fetch-all.latency")],
        &peers,
        6.0,
    ));
    out.push(threshold(
        "pack: no slower than `tar czf`",
        &[find("pack.small"), find("pack.large")],
        &["GNU tar"],
        1.0,
    ));

    // Listing a huge layout is linear: well under a second for 100,000 tags.
    let tags = find("tags.layout").and_then(|row| row.cell(PACTO));
    let goal = "tags of a 100,000-tag layout: under 1 s".to_owned();
    out.push(match tags.and_then(Cell::median) {
        Some(median) => Goal {
            goal,
            measured: report::millis(median),
            status: if median < std::time::Duration::from_secs(1) {
                Status::Met
            } else {
                Status::Missed
            },
        },
        None => Goal {
            goal,
            measured: "not measured".to_owned(),
            status: Status::NotMeasured,
        },
    });

    // Issue 14: speed of the 40 MiB transfers against skopeo.
    out.push(threshold(
        "pull of the 40 MiB bundle with 20 ms latency and TLS: at least as fast as skopeo",
        &[find("pull.large.latency")],
        &["skopeo"],
        1.0,
    ));
    out.push(threshold(
        "push of the 40 MiB directory on loopback: within 2x skopeo copying it from a layout",
        &[find("push.large.loopback")],
        &["skopeo"],
        0.5,
    ));
    out.push(threshold(
        "push of the 40 MiB directory with 20 ms latency: at least as fast as skopeo",
        &[find("push.large.latency")],
        &["skopeo"],
        1.0,
    ));
    let pushed_413 = find("push.large.413").and_then(|row| row.cell(PACTO));
    out.push(Goal {
        goal: "push of the 40 MiB bundle through a proxy answering 413 over 4 MiB (GHCR)"
            .to_owned(),
        measured: match pushed_413 {
            Some(Cell::Timed { samples, requests }) => format!(
                "pushed, {} · {} requests",
                samples
                    .first()
                    .map_or_else(|| "-".to_owned(), |d| report::millis(*d)),
                requests.map_or_else(|| "?".to_owned(), |n| n.to_string())
            ),
            Some(Cell::Failed(why)) => format!("failed: {why}"),
            _ => "not measured".to_owned(),
        },
        status: match pushed_413 {
            Some(Cell::Timed { .. }) => Status::Met,
            Some(Cell::Failed(_)) => Status::Missed,
            _ => Status::NotMeasured,
        },
    });

    // Issue 14: memory. Peak resident memory of whole processes (GNU time).
    let memory = |key: &str| match find(key).and_then(|row| row.cell(PACTO)) {
        Some(Cell::Memory(bytes)) => Some(*bytes),
        _ => None,
    };
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let under = |goal: &str, key: &str, limit_mib: f64| -> Goal {
        match memory(key) {
            Some(bytes) => Goal {
                goal: goal.to_owned(),
                measured: report::mib(bytes),
                status: if mib(bytes) < limit_mib {
                    Status::Met
                } else {
                    Status::Missed
                },
            },
            None => Goal {
                goal: goal.to_owned(),
                measured: "not measured".to_owned(),
                status: Status::NotMeasured,
            },
        }
    };
    out.push(under(
        "CLI pull of the 40 MiB bundle: peak memory under 32 MiB",
        "memory.pull.large",
        32.0,
    ));
    out.push(under(
        "push of the 40 MiB directory: peak memory under 48 MiB",
        "memory.push.large",
        48.0,
    ));
    // Flat: the 40 MiB pull needs at most 8 MiB more than the 4 MiB one.
    let flat = "CLI pull peak memory flat from the 4 MiB to the 40 MiB bundle (at most 8 MiB more)";
    out.push(
        match (memory("memory.pull.medium"), memory("memory.pull.large")) {
            (Some(medium), Some(large)) => Goal {
                goal: flat.to_owned(),
                measured: format!(
                    "{} for {}, {} for {}",
                    report::mib(medium),
                    report::mib(medium_bytes),
                    report::mib(large),
                    report::mib(large_bytes)
                ),
                status: if mib(large.saturating_sub(medium)) <= 8.0 {
                    Status::Met
                } else {
                    Status::Missed
                },
            },
            _ => Goal {
                goal: flat.to_owned(),
                measured: "not measured".to_owned(),
                status: Status::NotMeasured,
            },
        },
    );
    // What the pull holds: the peak over the same command's on the payments bundle (the
    // process's own memory, whatever the bundle), against the bundle's size.
    let library = "library pull of the 40 MiB bundle: memory it adds (peak over the payments bundle's) under 1.25x the bundle size";
    out.push(
        match (
            memory("memory.library-pull.small"),
            memory("memory.library-pull.large"),
        ) {
            (Some(small), Some(large)) => {
                let added = large.saturating_sub(small);
                let factor = added as f64 / large_bytes as f64;
                Goal {
                    goal: library.to_owned(),
                    measured: format!(
                        "peak {} for a {} bundle ({:.2}x), {} for the payments bundle: the pull adds {} ({factor:.2}x)",
                        report::mib(large),
                        report::mib(large_bytes),
                        large as f64 / large_bytes as f64,
                        report::mib(small),
                        report::mib(added),
                    ),
                    status: if factor < 1.25 {
                        Status::Met
                    } else {
                        Status::Missed
                    },
                }
            }
            _ => Goal {
                goal: library.to_owned(),
                measured: "not measured".to_owned(),
                status: Status::NotMeasured,
            },
        },
    );
    // The cache's documented request counts: a tag hit is one HEAD, a digest hit nothing.
    let mut parts = Vec::new();
    let mut status = Status::Met;
    for kind in [CacheKind::Tag, CacheKind::Digest, CacheKind::DigestAfterTag] {
        let expected = usize::from(kind == CacheKind::Tag);
        let cache_rows: Vec<&Row> = rows
            .iter()
            .filter(|row| row.key.starts_with(&format!("cache.{}.", kind.key())))
            .collect();
        let counts: Vec<usize> = cache_rows
            .iter()
            .filter_map(|row| row.cell(PACTO).and_then(Cell::requests))
            .collect();
        if counts.is_empty() || counts.len() < cache_rows.len() {
            status = status.and(Status::NotMeasured);
        }
        if counts.iter().any(|&n| n != expected) {
            status = status.and(Status::Missed);
        }
        let mut distinct = counts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let shown: Vec<String> = distinct.iter().map(usize::to_string).collect();
        parts.push(format!(
            "{}: {} (expected {expected})",
            kind.label(),
            if shown.is_empty() {
                "not measured".to_owned()
            } else {
                shown.join(" or ")
            }
        ));
    }
    out.push(Goal {
        goal: "cache (pacto-cache's contract, not an issue goal): requests of a warm pull"
            .to_owned(),
        measured: parts.join("; "),
        status,
    });

    out
}

/// A ratio goal over some rows and peers: every ratio at least `min`.
fn threshold(goal: &str, rows: &[Option<&Row>], peers: &[&str], min: f64) -> Goal {
    let mut parts = Vec::new();
    let mut status = Status::Met;
    for row in rows {
        let Some(row) = row else {
            status = status.and(Status::NotMeasured);
            continue;
        };
        for peer in peers {
            match row.ratio(peer) {
                Some(r) => {
                    if r < min {
                        status = status.and(Status::Missed);
                    }
                    parts.push(format!(
                        "{} {}, {peer}: {r:.2}x",
                        short(&row.label),
                        row.network
                    ));
                }
                None => {
                    status = status.and(Status::NotMeasured);
                    parts.push(format!(
                        "{} {}, {peer}: not measured",
                        short(&row.label),
                        row.network
                    ));
                }
            }
        }
    }
    Goal {
        goal: goal.to_owned(),
        measured: if parts.is_empty() {
            "not measured".to_owned()
        } else {
            parts.join("; ")
        },
        status,
    }
}

/// `pull payments (5 files, 4.2 KiB)` -> `pull payments`.
fn short(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}
