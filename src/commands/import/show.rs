//! What `import` shows while it runs: the problems, the progress display, Ctrl-C, and the
//! summary.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::super::Ctx;
use crate::cli::Format;
use crate::directory::BulkControl;
use crate::error::CliError;
use crate::exit::Exit;
use crate::import::validate::Problem;
use crate::model::Value;
use crate::output::{Records, Shape};

/// Problems printed in full; the rest are counted by field (all of them are in `--report`).
pub(super) const MAX_PROBLEMS: usize = 100;

/// Prints the first [`MAX_PROBLEMS`] problems, then counts the rest by field; in JSON error
/// mode each printed one is also a JSON line.
pub(super) fn print_problems(problems: &[&Problem], json: bool, report: bool) {
    let mut err = std::io::stderr().lock();
    for p in problems.iter().take(MAX_PROBLEMS) {
        let _ = writeln!(
            err,
            "line {}: {} \"{}\": {}",
            p.line, p.field, p.input, p.message
        );
        if json {
            let _ = writeln!(err, "{}", serde_json::json!({ "problem": p }));
        }
    }
    if problems.len() > MAX_PROBLEMS {
        let mut by_field: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in &problems[MAX_PROBLEMS..] {
            *by_field.entry(p.field).or_default() += 1;
        }
        let counts: Vec<String> = by_field
            .iter()
            .map(|(f, n)| format!("{n} in {f}"))
            .collect();
        let _ = writeln!(
            err,
            "… and {} more problems: {}{}",
            problems.len() - MAX_PROBLEMS,
            counts.join(", "),
            if report {
                " (every one is in the report)"
            } else {
                " (write them all with --report)"
            }
        );
    }
    let hints: Vec<&str> = problems
        .iter()
        .filter_map(|p| p.hint.as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for h in hints.iter().take(5) {
        let _ = writeln!(err, "hint: {h}");
    }
}

/// Ctrl-C: the first stops new work, a second ends the process at once.
pub(super) fn watch_ctrl_c(cancelled: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancelled.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: finishing the requests in flight, then writing the report (Ctrl-C again to quit now)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(Exit::Interrupted.code()));
                }
            }
        });
    });
}

/// The progress display, on a terminal only: a spinner naming each phase (reading, validating,
/// opening the directory — which may wait for its lock), then a bar of rows with the counts,
/// rate and ETA. Drawn by indicatif on stderr; stdout stays data only.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Progress {
    pub(super) fn new(visible: bool) -> Self {
        let bar = visible.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, ticker: None }
    }

    pub(super) fn phase(&self, msg: impl Into<String>) {
        if let Some(b) = &self.bar {
            b.set_message(msg.into());
        }
    }

    /// Switches to the bar of rows, updated from the run's counters.
    pub(super) fn rows(&mut self, ctl: &BulkControl, total: usize) {
        let Some(bar) = self.bar.clone() else { return };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} rows · {msg} · {per_sec} · ETA {eta}",
            )
            .expect("a valid template"),
        );
        bar.set_length(total as u64);
        let stop = Arc::new(AtomicBool::new(false));
        let (ctl, flag) = (ctl.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                bar.set_position(ctl.done.load(Ordering::Relaxed) as u64);
                bar.set_message(format!(
                    "{} changed · {} failed",
                    ctl.changed.load(Ordering::Relaxed),
                    ctl.failed.load(Ordering::Relaxed)
                ));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        self.ticker = Some((stop, handle));
    }

    pub(super) fn finish(self) {}
}

/// Cleared on every way out (errors included), so messages never land after a stale line.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The process's peak resident memory in MB (Linux; `None` elsewhere).
pub(super) fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

/// What an import did, for scripts.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Summary {
    pub(super) rows: usize,
    pub(super) updated: usize,
    pub(super) unchanged: usize,
    pub(super) skipped: usize,
    pub(super) failed: usize,
    /// Rows an interruption left out.
    pub(super) not_attempted: usize,
    pub(super) seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) http_requests: Option<usize>,
    /// `--wait-for-sync`: rows whose AD writes Entra shows, and those it doesn't yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) synced: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pending: Option<usize>,
}

impl Summary {
    /// On stdout: numbers in JSON (stable key order), a one-row table or CSV/TSV otherwise.
    pub(super) fn print(&self, ctx: &mut Ctx<'_>) -> Result<(), CliError> {
        match ctx.printer.format {
            Format::Json => serde_json::to_writer_pretty(&mut *ctx.out, self),
            Format::Jsonl => serde_json::to_writer(&mut *ctx.out, self),
            _ => {
                let mut fields = vec![
                    "rows",
                    "updated",
                    "unchanged",
                    "skipped",
                    "failed",
                    "seconds",
                ];
                let counts = [
                    self.rows,
                    self.updated,
                    self.unchanged,
                    self.skipped,
                    self.failed,
                ];
                let mut row: Vec<Value> =
                    counts.iter().map(|n| Value::Text(n.to_string())).collect();
                row.push(Value::Text(format!("{:.2}", self.seconds)));
                for (name, n) in [
                    ("httpRequests", self.http_requests),
                    ("synced", self.synced),
                    ("pending", self.pending),
                ] {
                    if let Some(n) = n {
                        fields.push(name);
                        row.push(Value::Text(n.to_string()));
                    }
                }
                let records = Records {
                    fields: &fields,
                    rows: vec![row],
                };
                return Ok(ctx.printer.records(ctx.out, &records, Shape::Object)?);
            }
        }
        .map_err(std::io::Error::from)?;
        writeln!(ctx.out)?;
        Ok(())
    }
}
