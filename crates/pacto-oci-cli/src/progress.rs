//! Transfers people can watch: a status line, one bar per blob (bytes done/total, rate,
//! ETA) and, for fetch-all, an overall bar of versions, drawn with indicatif on stderr from
//! the library's [`ProgressEvent`]s; and `pack`'s bar over a big bundle's file bytes. Only made on a terminal without `--quiet`/`--json`
//! ([`crate::output::Output`] decides).

use crate::human::format_size;
use indicatif::{MultiProgress, ProgressBar, ProgressFinish, ProgressState, ProgressStyle};
use pacto_oci::refs::Digest;
use pacto_oci::registry::Direction;
use pacto_oci::{Progress, ProgressEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The bars of the running command; the observer handed to the client draws into them.
#[derive(Clone, Default)]
pub(crate) struct Transfers {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Whether a command is watching (events outside [`Transfers::watch`] are not shown).
    active: bool,
    multi: MultiProgress,
    /// What the command is doing (`pulling REF`), with a spinner and the time spent.
    status: Option<ProgressBar>,
    /// The status to show once the first upload starts (`checking` turns into `pushing`).
    on_upload: Option<String>,
    blobs: HashMap<(Direction, Digest), ProgressBar>,
    /// The bytes of a layer uploaded while it is packed (no digest, no size yet).
    streamed: Option<ProgressBar>,
    /// Bars the command drives itself ([`Transfers::bar`]).
    others: Vec<ProgressBar>,
    versions: Option<ProgressBar>,
}

/// Clears every bar of a transfer when dropped (the command's result follows).
pub(crate) struct Watching {
    transfers: Transfers,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut state = self.transfers.lock();
        for (_, bar) in state.blobs.drain() {
            bar.finish_and_clear();
        }
        if let Some(bar) = state.versions.take() {
            bar.finish_and_clear();
        }
        if let Some(bar) = state.streamed.take() {
            bar.finish_and_clear();
        }
        for bar in state.others.drain(..) {
            bar.finish_and_clear();
        }
        if let Some(bar) = state.status.take() {
            bar.finish_and_clear();
        }
        state.on_upload = None;
        state.active = false;
        let _ = state.multi.clear();
    }
}

/// `format_size` of a byte count, for the templates.
fn size_key(
    value: fn(&ProgressState) -> u64,
) -> impl Fn(&ProgressState, &mut dyn std::fmt::Write) + Send + Sync + Clone + 'static {
    move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&format_size(value(state)));
    }
}

fn blob_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix} [{bar:24.cyan/blue}] {done}/{total} {rate} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("done", size_key(|s| s.pos()))
        .with_key("total", size_key(|s| s.len().unwrap_or(0)))
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", format_size(state.per_sec() as u64));
            },
        )
        .progress_chars("=> ")
}

/// Bundles of at least this many file bytes get a bar while `pack` packs them.
///
/// A size, not a delay: at gzip level 1 (about 57 MB/s on incompressible files, see
/// docs/architecture.md) 8 MiB take about 150 ms, under which a bar drawn at indicatif's 20
/// frames a second would only flash; and the same bundle shows a bar or not whatever the
/// machine's load (a bar shown only after some time, as cargo does, would make pack's
/// output on a terminal depend on it).
pub(crate) const PACK_BAR_FROM: u64 = 8 * 1024 * 1024;

/// A bar over the `total` file bytes of `what` (`name@version`) being packed, in the style
/// of the blob bars; it clears itself when dropped.
pub(crate) fn pack_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total).with_finish(ProgressFinish::AndClear);
    bar.set_style(blob_style());
    bar.set_prefix(format!("packing {what}"));
    bar.tick();
    bar
}

/// A layer's bytes going up while it is packed: how many and how fast, no total.
fn streamed_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix} {done} {rate}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("done", size_key(|s| s.pos()))
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", format_size(state.per_sec() as u64));
            },
        )
}

fn versions_style() -> ProgressStyle {
    ProgressStyle::with_template("  versions [{bar:24.green/blue}] {pos}/{len} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn status_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `sha256:0123456789ab`: enough of a digest to tell blobs apart.
fn short(digest: &Digest) -> String {
    let text = digest.to_string();
    let end = text
        .find(':')
        .map_or(12, |colon| colon + 13)
        .min(text.len());
    text[..end].to_owned()
}

impl Transfers {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The observer for the client.
    pub(crate) fn observer(&self) -> Progress {
        let transfers = self.clone();
        Progress::new(move |event| transfers.on(event))
    }

    /// Shows `status` until the returned guard is dropped; once an upload starts, `then`
    /// replaces it (a re-push says `checking` while it packs and compares, `pushing` only
    /// when it sends).
    pub(crate) fn watch(&self, status: String, then: Option<String>) -> Watching {
        let mut state = self.lock();
        let bar = state.multi.add(ProgressBar::new_spinner());
        bar.set_style(status_style());
        bar.set_message(status);
        bar.enable_steady_tick(Duration::from_millis(100));
        state.status = Some(bar);
        state.on_upload = then;
        state.active = true;
        Watching {
            transfers: self.clone(),
        }
    }

    /// A bar over `total` bytes labelled `what`, drawn with the transfer's bars (the
    /// command moves it); cleared with them.
    pub(crate) fn bar(&self, total: u64, what: &str) -> ProgressBar {
        let mut state = self.lock();
        let bar = state.multi.add(ProgressBar::new(total));
        bar.set_style(blob_style());
        bar.set_prefix(what.to_owned());
        bar.tick();
        state.others.push(bar.clone());
        bar
    }

    fn on(&self, event: &ProgressEvent) {
        let mut state = self.lock();
        if !state.active {
            return;
        }
        match event {
            ProgressEvent::BlobStarted {
                digest,
                size,
                direction,
            } => {
                if *direction == Direction::Upload
                    && let Some(then) = state.on_upload.take()
                    && let Some(status) = &state.status
                {
                    status.set_message(then);
                }
                let key = (*direction, digest.clone());
                if let Some(bar) = state.blobs.get(&key) {
                    // A retried download counts again from zero.
                    bar.set_length(*size);
                    bar.reset();
                    return;
                }
                let bar = state.multi.add(ProgressBar::new(*size));
                bar.set_style(blob_style());
                let arrow = match direction {
                    Direction::Upload => "↑",
                    _ => "↓",
                };
                bar.set_prefix(format!("{arrow} {}", short(digest)));
                bar.tick();
                state.blobs.insert(key, bar);
            }
            ProgressEvent::BlobBytes {
                digest,
                n,
                direction,
            } => {
                // By direction: a copy moves the same digest down, then up.
                if let Some(bar) = state.blobs.get(&(*direction, digest.clone())) {
                    bar.inc(*n);
                }
            }
            ProgressEvent::BlobDone { digest, direction } => {
                let key = (*direction, digest.clone());
                if let Some(bar) = state.blobs.get(&key) {
                    if state.versions.is_some() {
                        // fetch-all: the versions bar counts what is done.
                        bar.finish_and_clear();
                        state.multi.remove(bar);
                        state.blobs.remove(&key);
                    } else {
                        bar.finish();
                    }
                }
            }
            ProgressEvent::StreamedBytes { n } => {
                if let Some(then) = state.on_upload.take()
                    && let Some(status) = &state.status
                {
                    status.set_message(then);
                }
                if state.streamed.is_none() {
                    let bar = state.multi.add(ProgressBar::no_length());
                    bar.set_style(streamed_style());
                    bar.set_prefix("↑ layer");
                    bar.tick();
                    state.streamed = Some(bar);
                }
                if let Some(bar) = &state.streamed {
                    bar.inc(*n);
                }
            }
            ProgressEvent::VersionsStarted { total } => {
                let bar = state.multi.add(ProgressBar::new(*total as u64));
                bar.set_style(versions_style());
                bar.tick();
                state.versions = Some(bar);
            }
            ProgressEvent::VersionDone { .. } => {
                if let Some(bar) = &state.versions {
                    bar.inc(1);
                }
            }
            _ => {}
        }
    }
}
