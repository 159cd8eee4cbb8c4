//! The comparison's results: a markdown table for people, a JSON document for programs.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::run::Cell;

/// The name of our tool in every row.
pub(crate) const PACTO: &str = "pacto-oci";
/// The table's tool columns, ours first.
pub(crate) const COLUMNS: [&str; 4] = [PACTO, "skopeo", "oras-py", "GNU tar"];

/// One operation measured by one or more tools.
#[derive(Debug)]
pub(crate) struct Row {
    /// A stable key for programs, e.g. `pull.small.latency`.
    pub(crate) key: String,
    /// The section number (1 to 6).
    pub(crate) section: u8,
    /// What was measured, for people.
    pub(crate) label: String,
    /// `loopback`, `+20 ms` or `local` (no network).
    pub(crate) network: &'static str,
    /// Each tool's result, by column name.
    pub(crate) cells: Vec<(&'static str, Cell)>,
    /// What a reader needs to read the row right (printed once per section, under the table).
    pub(crate) note: Option<String>,
    /// A row-specific figure shown next to the ratios.
    pub(crate) detail: Option<String>,
}

impl Row {
    /// A row without note.
    pub(crate) fn new(
        key: impl Into<String>,
        section: u8,
        label: impl Into<String>,
        network: &'static str,
        cells: Vec<(&'static str, Cell)>,
    ) -> Row {
        Row {
            key: key.into(),
            section,
            label: label.into(),
            network,
            cells,
            note: None,
            detail: None,
        }
    }

    /// The same row with a note.
    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Row {
        self.note = Some(note.into());
        self
    }

    /// The same row with a figure next to its ratios.
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Row {
        self.detail = Some(detail.into());
        self
    }

    /// The cell of `tool`, if it has one.
    pub(crate) fn cell(&self, tool: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|(name, _)| *name == tool)
            .map(|(_, c)| c)
    }

    /// `peer / pacto-oci` for time (median) or memory: above 1, pacto-oci is faster or smaller.
    pub(crate) fn ratio(&self, peer: &str) -> Option<f64> {
        let ours = self.cell(PACTO)?;
        let theirs = self.cell(peer)?;
        match (ours, theirs) {
            (Cell::Memory(a), Cell::Memory(b)) if *a > 0 => Some(*b as f64 / *a as f64),
            _ => {
                let (a, b) = (ours.median()?, theirs.median()?);
                (!a.is_zero()).then(|| b.as_secs_f64() / a.as_secs_f64())
            }
        }
    }

    /// Every peer with a ratio, in column order.
    fn ratios(&self) -> Vec<(&'static str, f64)> {
        COLUMNS[1..]
            .iter()
            .filter_map(|peer| self.ratio(peer).map(|r| (*peer, r)))
            .collect()
    }
}

/// Whether a goal was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Reached.
    Met,
    /// Not reached: shown, never hidden.
    Missed,
    /// A tool it needs was skipped or failed.
    NotMeasured,
}

impl Status {
    /// The verdict of two checks together: a miss outweighs a gap, a gap outweighs a pass.
    pub(crate) fn and(self, other: Status) -> Status {
        let rank = |s: Status| match s {
            Status::Met => 0,
            Status::NotMeasured => 1,
            Status::Missed => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    fn text(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "MISSED",
            Status::NotMeasured => "not measured",
        }
    }
}

/// A goal of the issue and what this run measured against it.
#[derive(Debug)]
pub(crate) struct Goal {
    /// The goal as the issue states it.
    pub(crate) goal: String,
    /// The numbers it was judged on.
    pub(crate) measured: String,
    /// The verdict.
    pub(crate) status: Status,
}

/// A tool's presence and version, for the report.
#[derive(Debug)]
pub(crate) struct ToolInfo {
    /// Column name.
    pub(crate) name: &'static str,
    /// `--version` output, or the reason it was skipped.
    pub(crate) detail: String,
    /// Whether it ran.
    pub(crate) present: bool,
}

/// Everything one run measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// `YYYY-MM-DD` (UTC).
    pub(crate) date: String,
    /// Machine facts: `(name, value)`, e.g. `("cores", "2")`.
    pub(crate) machine: Vec<(&'static str, String)>,
    /// The tools and their versions.
    pub(crate) tools: Vec<ToolInfo>,
    /// How the run was set up: `(name, value)`.
    pub(crate) setup: Vec<(&'static str, String)>,
    /// The rows, in table order.
    pub(crate) rows: Vec<Row>,
    /// The goals, judged.
    pub(crate) goals: Vec<Goal>,
    /// Total wall time of the comparison.
    pub(crate) elapsed: Duration,
}

/// `1.23 ms`, `45.6 ms`, `789 ms`, `1.23 s`.
pub(crate) fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// `38.2 MiB`.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Timed { requests, .. } => {
            let time = cell.median().map_or_else(|| "-".to_owned(), millis);
            match requests {
                Some(n) => format!("{time} · {n} req"),
                None => time,
            }
        }
        Cell::Memory(bytes) => mib(*bytes),
        Cell::Skipped(_) => "skipped".to_owned(),
        Cell::Failed(_) => "**FAILED**".to_owned(),
    }
}

fn section_title(section: u8) -> &'static str {
    match section {
        1 => "1. Push and pull, loopback",
        2 => "2. Push and pull, 20 ms each way",
        3 => "3. Resolve among 300 tags, fetch-all of 50 versions",
        4 => "4. Pack and unpack, peak memory, start-up",
        5 => "5. Cache (pacto-oci only)",
        6 => "6. A fleet through a registry mirror (pacto-oci only)",
        _ => "other",
    }
}

impl Report {
    /// The markdown fragment: run facts, the table, the goals and what was skipped.
    pub(crate) fn to_markdown(&self) -> String {
        let mut out = String::new();
        let machine: Vec<String> = self
            .machine
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "Measured on {} ({}).", self.date, machine.join(", "));
        let _ = writeln!(out);
        for tool in &self.tools {
            let state = if tool.present { "" } else { " (skipped)" };
            let _ = writeln!(out, "- {}{state}: {}", tool.name, tool.detail);
        }
        for (k, v) in &self.setup {
            let _ = writeln!(out, "- {k}: {v}");
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Cells: median wall time of the whole process · registry requests per operation \
             (from the registry's access log). Ratio: peer ÷ pacto-oci, above 1 means \
             pacto-oci is faster (or smaller)."
        );
        let mut sections: Vec<u8> = self.rows.iter().map(|row| row.section).collect();
        sections.dedup();
        for section in sections {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.section == section).collect();
            let _ = writeln!(out);
            let _ = writeln!(out, "#### {}", section_title(section));
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| operation | network | {} | peer ÷ pacto-oci |",
                COLUMNS.join(" | ")
            );
            let _ = writeln!(out, "|---|---|{}---|", "---:|".repeat(COLUMNS.len()));
            for row in &rows {
                let cells: Vec<String> = COLUMNS
                    .iter()
                    .map(|tool| row.cell(tool).map(cell_text).unwrap_or_default())
                    .collect();
                let mut ratio: Vec<String> = row
                    .ratios()
                    .iter()
                    .map(|(peer, r)| format!("{peer} {r:.2}x"))
                    .collect();
                ratio.extend(row.detail.clone());
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    row.label,
                    row.network,
                    cells.join(" | "),
                    ratio.join(", ")
                );
            }
            let mut notes: Vec<&str> = Vec::new();
            for note in rows.iter().filter_map(|row| row.note.as_deref()) {
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            if !notes.is_empty() {
                let _ = writeln!(out);
                for note in notes {
                    let _ = writeln!(out, "- {note}");
                }
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "#### Goals");
        let _ = writeln!(out);
        let _ = writeln!(out, "| goal | measured | status |");
        let _ = writeln!(out, "|---|---|---|");
        for goal in &self.goals {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                goal.goal,
                goal.measured,
                goal.status.text()
            );
        }
        let problems: Vec<String> = self
            .rows
            .iter()
            .flat_map(|row| {
                row.cells.iter().filter_map(move |(tool, cell)| match cell {
                    Cell::Skipped(why) => Some(format!("- {} / {tool}: skipped: {why}", row.key)),
                    Cell::Failed(why) => Some(format!("- {} / {tool}: FAILED: {why}", row.key)),
                    _ => None,
                })
            })
            .collect();
        if !problems.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "Skipped or failed:");
            let _ = writeln!(out);
            for line in problems {
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "The comparison took {:.0} s.",
            self.elapsed.as_secs_f64()
        );
        out
    }

    /// The JSON document written to `target/bench/report.json`.
    pub(crate) fn to_json(&self) -> Value {
        let pairs = |list: &[(&'static str, String)]| -> Value {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let results: serde_json::Map<String, Value> = row
                    .cells
                    .iter()
                    .map(|(tool, cell)| ((*tool).to_owned(), cell_json(cell)))
                    .collect();
                let ratios: serde_json::Map<String, Value> = row
                    .ratios()
                    .into_iter()
                    .map(|(peer, r)| (peer.to_owned(), json!(round(r, 3))))
                    .collect();
                json!({
                    "key": row.key,
                    "section": row.section,
                    "label": row.label,
                    "network": row.network,
                    "results": results,
                    "ratio_peer_over_pacto": ratios,
                    "note": row.note,
                    "detail": row.detail,
                })
            })
            .collect();
        let goals: Vec<Value> = self
            .goals
            .iter()
            .map(|g| json!({"goal": g.goal, "measured": g.measured, "status": g.status.text()}))
            .collect();
        let tools: Vec<Value> = self
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "present": t.present, "detail": t.detail}))
            .collect();
        json!({
            "schema": 1,
            "date": self.date,
            "machine": pairs(&self.machine),
            "tools": tools,
            "setup": pairs(&self.setup),
            "rows": rows,
            "goals": goals,
            "elapsed_s": round(self.elapsed.as_secs_f64(), 1),
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0, 3)
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Timed { samples, requests } => {
            let min = samples.iter().min().copied().unwrap_or_default();
            let max = samples.iter().max().copied().unwrap_or_default();
            json!({
                "status": "ok",
                "median_ms": cell.median().map(ms),
                "min_ms": ms(min),
                "max_ms": ms(max),
                "runs": samples.len(),
                "samples_ms": samples.iter().copied().map(ms).collect::<Vec<_>>(),
                "requests": requests,
            })
        }
        Cell::Memory(bytes) => json!({"status": "ok", "peak_rss_bytes": bytes}),
        Cell::Skipped(why) => json!({"status": "skipped", "reason": why}),
        Cell::Failed(why) => json!({"status": "failed", "error": why}),
    }
}
