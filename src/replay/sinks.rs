//! The sinks every run has: the results files, the alert evaluator and the progress line.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use indicatif::ProgressBar;

use super::{Sink, Window};
use crate::analysis::{AlertEvaluator, AlertTransition};
use crate::progress;
use crate::results::hlog::{HlogWriter, LATENCY_HLOG};
use crate::results::{
    CsvLog, DB_CSV, DbSample, EVENTS_CSV, EventBus, EventKind, EventRow, RunDir, WINDOWS_CSV, WindowRow,
};
use crate::scenario::{AlertRule, Op};

/// `windows.csv`, `db.csv`, `events.csv` and `latency.hlog`, appended and flushed as the run
/// goes.
pub struct ResultsSink {
    windows: Arc<CsvLog<WindowRow>>,
    db: Arc<CsvLog<DbSample>>,
    events: Arc<CsvLog<EventRow>>,
    latency: HlogWriter,
    /// Where the last window ended, in real seconds since the start.
    last_end_s: f64,
}

impl ResultsSink {
    /// `started` is when the replay's clock started (see [`super::Replay::started_at`]).
    pub fn create(run: &RunDir, started: SystemTime) -> Result<Self> {
        Ok(ResultsSink {
            windows: CsvLog::create(&run.file(WINDOWS_CSV))?,
            db: CsvLog::create(&run.file(DB_CSV))?,
            events: CsvLog::create(&run.file(EVENTS_CSV))?,
            latency: HlogWriter::create(&run.file(LATENCY_HLOG), started)?,
            last_end_s: 0.0,
        })
    }
}

impl Sink for ResultsSink {
    fn window(&mut self, window: &Window) -> Result<()> {
        self.windows.append(&window.rows)?;
        let end_s = window.rows.first().map_or(self.last_end_s, |r| r.t_s);
        let start = Duration::from_secs_f64(self.last_end_s);
        let length = Duration::from_secs_f64((end_s - self.last_end_s).max(0.0));
        self.last_end_s = end_s;
        let tagged = window.rows.iter().map(|r| r.op.as_str()).zip(&window.latency_us);
        self.latency.append(start, length, tagged)
    }
    fn event(&mut self, event: &EventRow) -> Result<()> {
        self.events.append(std::slice::from_ref(event))
    }
    fn db(&mut self, samples: &[DbSample]) -> Result<()> {
        self.db.append(samples)
    }
}

/// Judges each window against the alert rules and raises `alert_fired` / `alert_resolved`.
pub struct AlertSink {
    alerts: AlertEvaluator,
    bus: EventBus,
}

impl AlertSink {
    pub fn new(rules: &[AlertRule], bus: EventBus) -> Self {
        AlertSink {
            alerts: AlertEvaluator::new(rules),
            bus,
        }
    }
}

impl Sink for AlertSink {
    fn window(&mut self, window: &Window) -> Result<()> {
        for row in &window.rows {
            for t in self.alerts.observe(row, window.sim_secs) {
                match t {
                    AlertTransition::Fired { name, detail } => self.bus.emit(EventKind::AlertFired, &name, &detail),
                    AlertTransition::Resolved { name } => self.bus.emit(EventKind::AlertResolved, &name, ""),
                }
            }
        }
        Ok(())
    }
}

/// A bar with checkout's figures on a terminal; one plain line every `every` windows when
/// stderr is a file or a pipe (a CI log). Fault and alert events print as lines either way.
pub struct ProgressSink {
    bar: ProgressBar,
    every: u64,
    plain: bool,
    /// Training: the trainee finds the fault, so its events are not printed.
    hide_faults: bool,
}

impl ProgressSink {
    /// Plain lines about every 10 s of real time.
    pub fn new(windows: u64, window: std::time::Duration) -> Self {
        let bar = progress::bar(windows, "{prefix} [{bar:30}] {pos}/{len} windows  {msg}");
        ProgressSink {
            bar,
            every: (10_000 / window.as_millis().max(1) as u64).max(1),
            plain: !progress::is_terminal(),
            hide_faults: false,
        }
    }

    /// Prints no fault events (training hides the fault).
    pub fn hiding_faults(mut self) -> Self {
        self.hide_faults = true;
        self
    }
}

impl Drop for ProgressSink {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Checkout's figures of one window, for a progress line.
fn checkout_line(c: &WindowRow) -> String {
    let p99 = c.p99_ms.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into());
    format!(
        "checkout offered {} ok {} failed {} timed out {} dropped {} p99 {p99} ms",
        c.offered, c.ok, c.failed, c.timed_out, c.dropped
    )
}

impl Sink for ProgressSink {
    fn window(&mut self, window: &Window) -> Result<()> {
        let c = window.op(Op::Checkout);
        if self.plain {
            if window.index % self.every == 0 || window.index == window.of {
                eprintln!(
                    "progress: {} window {}/{}: {}",
                    c.clock,
                    window.index,
                    window.of,
                    checkout_line(c)
                );
            }
        } else {
            self.bar.set_prefix(c.clock.clone());
            self.bar.set_message(checkout_line(c));
            self.bar.set_position(window.index);
        }
        Ok(())
    }

    fn event(&mut self, e: &EventRow) -> Result<()> {
        let shown = match e.kind {
            EventKind::FaultApplySent | EventKind::FaultRollbackSent => !self.hide_faults,
            EventKind::FaultApplyDone | EventKind::FaultRollbackDone | EventKind::FaultFailed => !self.hide_faults,
            EventKind::AlertFired | EventKind::AlertResolved => true,
            _ => false,
        };
        if shown {
            let detail = if e.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", e.detail)
            };
            progress::line(&format!("{} {} {}{detail}", e.clock, kind_words(e.kind), e.name));
        }
        Ok(())
    }
}

fn kind_words(kind: EventKind) -> &'static str {
    match kind {
        EventKind::FaultApplySent => "applying",
        EventKind::FaultApplyDone => "applied",
        EventKind::FaultRollbackSent => "rolling back",
        EventKind::FaultRollbackDone => "rolled back",
        EventKind::FaultFailed => "failed:",
        EventKind::AlertFired => "ALERT fired:",
        EventKind::AlertResolved => "alert resolved:",
        _ => "",
    }
}
