//! The run directory: the contract between running and reading.
//!
//! Everything after a run (analysis, charts, report) reads only these files, so an old run can
//! be re-plotted without a database. CSV files are appended and flushed as the run goes.

pub mod hlog;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const WINDOWS_CSV: &str = "windows.csv";
pub const EVENTS_CSV: &str = "events.csv";
pub const DB_CSV: &str = "db.csv";
pub const META_JSON: &str = "meta.json";
pub const SUMMARY_JSON: &str = "summary.json";
pub const SCENARIO_TOML: &str = "scenario.toml";
pub const CAPACITY_JSON: &str = "capacity.json";

/// One row of `windows.csv`: one window and one operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowRow {
    /// Real seconds since the run started, at the window's end.
    pub t_s: f64,
    /// Incident clock at the window's end, `HH:MM:SS`.
    pub clock: String,
    pub op: String,
    pub offered: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub dropped: u64,
    pub retries: u64,
    pub in_flight: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Shoppers whose first attempt was due in the window (`offered - retries`); absent in runs
    /// older than the column, as are the two below.
    #[serde(default)]
    pub shoppers: u64,
    /// Shoppers whose last attempt succeeded in the window.
    #[serde(default)]
    pub completed: u64,
    /// Shoppers who ran out of attempts in the window: for checkout, shoppers who could not buy.
    #[serde(default)]
    pub gave_up: u64,
}

impl WindowRow {
    /// The share of the shoppers done in the window who gave up; `None` when none were done.
    pub fn lost_share(&self) -> Option<f64> {
        let done = self.completed + self.gave_up;
        (done > 0).then(|| self.gave_up as f64 / done as f64)
    }

    /// Adds `other`'s counters (offered, ok, failed, timed out, dropped, retries, in flight,
    /// shoppers) to this row's; percentiles are left alone (they add only as histograms).
    pub fn add_counts(&mut self, other: &WindowRow) {
        self.shoppers += other.shoppers;
        self.completed += other.completed;
        self.gave_up += other.gave_up;
        self.offered += other.offered;
        self.ok += other.ok;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.dropped += other.dropped;
        self.retries += other.retries;
        self.in_flight += other.in_flight;
    }
}

/// What happened, as written to `events.csv` (`kind`, snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    RunStart,
    RunEnd,
    FaultApplySent,
    FaultApplyLocked,
    FaultApplyDone,
    FaultRollbackSent,
    FaultRollbackLocked,
    FaultRollbackDone,
    FaultFailed,
    AlertFired,
    AlertResolved,
    TraineeDiagnosis,
    TraineeAction,
    MitigationDetected,
    /// The app began shedding load (`limits.shed_at_alert`, a trainee's `shed`).
    AppShed,
}

/// A run's verdict on its alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Rules were judged and none fired.
    Pass,
    /// At least one rule fired.
    Fail,
    /// There was nothing to judge with: the run had no alert rules.
    NotJudged,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotJudged => "not judged (no alert rules)",
        })
    }
}

/// One row of `events.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Real seconds since the run started.
    pub t_s: f64,
    /// Incident clock, `HH:MM:SS`.
    pub clock: String,
    pub kind: EventKind,
    /// The fault's or alert's name.
    pub name: String,
    pub detail: String,
}

/// One row of `db.csv`: a sample from the database monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbSample {
    pub t_s: f64,
    pub clock: String,
    pub metric: String,
    pub value: f64,
}

/// `meta.json`: what was run, where and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub tool: String,
    pub version: String,
    pub scenario: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub backend: String,
    /// The database URL with any password replaced by `***`.
    pub db_url: String,
    /// The schema (PostgreSQL) or database (MySQL) outage-sim worked in, on a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_schema: Option<String>,
    pub seed: u64,
    /// UTC, RFC 3339.
    pub started_at: String,
    /// Sustainable throughput of the scenario's mix, arrivals per second, that a load in
    /// capacity fractions was taken of.
    pub capacity_per_s: Option<f64>,
    /// Where `capacity_per_s` came from: `calibrate:FILE` (a capacity.json), `--capacity` or `probe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_source: Option<String>,
    /// Simulated seconds per real second.
    pub speed: f64,
    pub window_ms: u64,
    pub clock_start: String,
    pub clock_end: String,
    pub orders_seeded: u64,
    /// What was applied at the scenario's fault steps: catalog names, or `migration DIR`.
    #[serde(default)]
    pub faults: Vec<String>,
    /// Whether a breached alert rule failed the run (`--gate`, `validate`, `[gate]`).
    #[serde(default)]
    pub gated: bool,
    /// The part of a sharded run's arrivals this run drove (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// For a merged run: the shard run directories it joins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// Real seconds it took to open the store before the run: the copy of the SQLite base or
    /// the server schema's reset to the seeded data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_s: Option<f64>,
    /// Replayed without its rollbacks (`--no-rollback`): the scenario's first rollback time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_removed: Option<String>,
}

impl Meta {
    /// What a run about to start is: `target` is the backend, the redacted URL and the schema.
    pub fn of_run(
        scenario: &crate::scenario::Scenario,
        (backend, db_url, db_schema): (&str, String, Option<String>),
        capacity_per_s: Option<f64>,
        faults: Vec<String>,
        gated: bool,
    ) -> Meta {
        Meta {
            tool: "outage-sim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scenario: scenario.name.clone(),
            backend: backend.into(),
            db_url,
            db_schema,
            seed: scenario.run.seed,
            started_at: chrono::Utc::now().to_rfc3339(),
            capacity_per_s,
            capacity_source: None,
            speed: scenario.clock.speed,
            window_ms: scenario.run.window.as_millis() as u64,
            clock_start: scenario.clock.start.to_string(),
            clock_end: scenario.clock.end.to_string(),
            orders_seeded: scenario.data.orders,
            faults,
            gated,
            shard: None,
            merged_from: Vec::new(),
            reset_s: None,
            rollback_removed: None,
        }
    }

    /// How a run is named on charts and in comparisons: scenario, backend, faults, start.
    pub fn label(&self) -> String {
        let faults = if self.faults.is_empty() {
            "no fault".to_string()
        } else {
            self.faults.join(" + ")
        };
        format!(
            "{} on {}, {faults} ({})",
            self.scenario,
            self.backend,
            self.started_at.get(..16).unwrap_or(&self.started_at)
        )
    }
}

/// Which part of a sharded run's arrivals one process drove (`run --shard K/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub of: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// `capacity.json`: what `calibrate` measured, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub tool: String,
    pub version: String,
    pub scenario: String,
    /// The mix, cart shape, limits and SLO measured (`calibrate::cached::workload_fingerprint`):
    /// a run of another scenario with the same ones takes this capacity too.
    #[serde(default)]
    pub workload_fingerprint: String,
    pub backend: String,
    /// The database URL with any password replaced by `***`.
    pub db_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_schema: Option<String>,
    pub server_version: String,
    /// The seeded history's fingerprint: a capacity holds for this data only.
    pub data_fingerprint: String,
    pub cores: usize,
    /// UTC, RFC 3339.
    pub measured_at: String,
    /// Checkout p99 at most `slo_p99_ms` and success at least `slo_success`, and the generator
    /// sent at least 98% of its arrivals.
    pub slo_p99_ms: f64,
    pub slo_success: f64,
    /// Without a fault first, then with each fault asked for.
    pub calibrations: Vec<Calibration>,
    /// What other work took of the machine while it measured (absent where /proc is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostLoad>,
}

/// The knee of one configuration (no fault, or one fault in place) over repeated searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `None`: no fault.
    pub fault: Option<String>,
    /// Median of the searches' knees, arrivals per second of the scenario's mix.
    pub knee_per_s: f64,
    /// Highest knee / lowest knee.
    pub spread: f64,
    pub knees: Vec<f64>,
    /// Every step of every search, in order.
    pub steps: Vec<CapacityStep>,
    /// With a fault asked for: after each search, the closed-loop probe's completions per
    /// second in the same configuration, for a check of the ratio by another kind of measurement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed_loop_per_s: Vec<f64>,
    /// Without a fault: the knee's fractions held for the scenario's peak (`calibrate::hold`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<CapacityHold>,
    /// The rate of the first hold that held: what the peak sustains, and what runs take as the
    /// capacity their load is a fraction of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustained_per_s: Option<f64>,
}

/// One hold of a calibration: a fraction of the knee held flat for the scenario's peak, with its
/// retries and alert rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityHold {
    /// Of the knee.
    pub fraction: f64,
    pub rate_per_s: f64,
    /// How long the rate was held, real seconds (after a ramp a sixth as long).
    pub real_secs: f64,
    /// Checkout never went down (most shoppers unable to buy over 5 incident minutes); in a hold
    /// with a fault, sent as the rate was reached: checkout climbed out (down for less than 90%
    /// of the minutes after it went down).
    pub held: bool,
    /// When it went down, and the alerts that fired (empty: neither).
    pub why: String,
    /// Checkout's shoppers who could not buy, over the hold.
    pub shoppers_lost: Option<f64>,
}

/// One step of a calibration search: a flat rate, warmed up, then measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Which search (1-based).
    pub search: usize,
    /// The rate asked for, arrivals per second (every operation of the mix).
    pub offered_per_s: f64,
    /// Arrivals the generator really sent in the measured window, per second.
    pub achieved_per_s: f64,
    /// Checkout: ok / attempts in the measured window.
    pub success: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub passed: bool,
    /// Why it did not pass (empty when it did).
    pub why: String,
}

/// An append-only CSV file, flushed after every batch so a crash loses at most one window.
pub struct CsvLog<T> {
    path: PathBuf,
    writer: Mutex<csv::Writer<File>>,
    _row: std::marker::PhantomData<fn(T)>,
}

impl<T: Serialize> CsvLog<T> {
    pub fn create(path: &Path) -> Result<Arc<Self>> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Arc::new(CsvLog {
            path: path.to_path_buf(),
            writer: Mutex::new(csv::Writer::from_writer(file)),
            _row: Default::default(),
        }))
    }

    /// Appends rows and flushes them to the file; an error names the file.
    pub fn append(&self, rows: &[T]) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let written = rows
            .iter()
            .try_for_each(|row| w.serialize(row))
            .map_err(anyhow::Error::from);
        written
            .and_then(|()| Ok(w.flush()?))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Stamps rows with real seconds since the run started and the incident-clock reading.
#[derive(Debug, Clone)]
pub struct Timebase {
    pub start: tokio::time::Instant,
    pub clock: crate::scenario::IncidentClock,
}

impl Timebase {
    /// (`t_s`, `clock`) for now.
    pub fn now(&self) -> (f64, String) {
        self.at(tokio::time::Instant::now())
    }

    /// (`t_s`, `clock`) for `instant`.
    pub fn at(&self, instant: tokio::time::Instant) -> (f64, String) {
        let real = instant.saturating_duration_since(self.start);
        (round_ms(real.as_secs_f64()), self.clock.at(real).to_string())
    }
}

/// A `clock` column (`HH:MM:SS`) as incident-clock seconds since midnight; 0 if malformed.
pub fn clock_secs(clock: &str) -> f64 {
    clock
        .parse::<crate::scenario::ClockTime>()
        .map(|c| f64::from(c.secs()))
        .unwrap_or(0.0)
}

/// Real seconds per window, from the `t_s` of one operation's consecutive rows.
pub fn window_secs(rows: &[&WindowRow]) -> f64 {
    match rows {
        [a, b, ..] => (b.t_s - a.t_s).max(1e-3),
        [a] => a.t_s.max(1e-3),
        [] => 1.0,
    }
}

/// Seconds rounded to milliseconds, for readable CSV.
pub fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// Where events go as they happen: each is stamped with the run's clock and sent to the
/// replay, which publishes it to its sinks (the files among them). Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: tokio::sync::mpsc::UnboundedSender<EventRow>,
    time: Timebase,
}

impl EventBus {
    /// A bus and the receiver the replay reads it from.
    pub fn new(time: Timebase) -> (EventBus, tokio::sync::mpsc::UnboundedReceiver<EventRow>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (EventBus { tx, time }, rx)
    }

    /// Records an event now.
    pub fn emit(&self, kind: EventKind, name: &str, detail: &str) {
        self.emit_at(kind, name, detail, tokio::time::Instant::now());
    }

    /// Records an event that happened at `at` (learnt after the fact).
    pub fn emit_at(&self, kind: EventKind, name: &str, detail: &str, at: tokio::time::Instant) {
        let (t_s, clock) = self.time.at(at);
        let row = EventRow {
            t_s,
            clock,
            kind,
            name: name.into(),
            detail: detail.into(),
        };
        // The receiver lives as long as the replay; after it, nothing is listening.
        let _ = self.tx.send(row);
    }
}

/// `results/<scenario>-<UTC timestamp>/`.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new, empty run directory under `out`.
    pub fn create(out: &Path, scenario: &str, started: chrono::DateTime<chrono::Utc>) -> Result<RunDir> {
        let stamp = started.format("%Y%m%dT%H%M%SZ");
        let mut path = out.join(format!("{scenario}-{stamp}"));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = out.join(format!("{scenario}-{stamp}-{n}"));
        }
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(RunDir { path })
    }

    /// Creates a new, empty run directory `out/name` (an ensemble's `seed-S`); it must not
    /// exist yet.
    pub fn create_named(out: &Path, name: &str) -> Result<RunDir> {
        let path = out.join(name);
        anyhow::ensure!(!path.exists(), "{} exists already", path.display());
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(RunDir { path })
    }

    /// An existing run directory, for reading.
    pub fn open(path: &Path) -> Result<RunDir> {
        anyhow::ensure!(
            path.join(WINDOWS_CSV).is_file(),
            "{} is not a run directory: it has no {WINDOWS_CSV}",
            path.display()
        );
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(self.file(name), text + "\n").with_context(|| format!("cannot write {name}"))
    }

    pub fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T> {
        let text = std::fs::read_to_string(self.file(name)).with_context(|| format!("cannot read {name}"))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not valid", self.file(name).display()))
    }

    /// `windows.csv`, with the percentiles taken from `latency.hlog` (the whole distribution)
    /// when the run has one for every row; an older run, or a log cut short, keeps the CSV's.
    pub fn read_windows(&self) -> Result<Vec<WindowRow>> {
        let mut rows: Vec<WindowRow> = read_csv(&self.file(WINDOWS_CSV))?;
        let log = self.file(hlog::LATENCY_HLOG);
        if log.exists() {
            match hlog::Log::open(&log).and_then(|l| percentiles_from(&l, &mut rows)) {
                Ok(()) => {}
                Err(e) => tracing::warn!("{e:#}; percentiles from {WINDOWS_CSV}"),
            }
        }
        Ok(rows)
    }

    pub fn read_events(&self) -> Result<Vec<EventRow>> {
        read_csv(&self.file(EVENTS_CSV))
    }

    pub fn read_db_samples(&self) -> Result<Vec<DbSample>> {
        let path = self.file(DB_CSV);
        if path.exists() { read_csv(&path) } else { Ok(Vec::new()) }
    }
}

/// Reads every row; a row cut short by a crash (the last one) is skipped, any other bad row is
/// an error naming the file and line.
/// Each row's percentiles from its interval of `log`, one histogram decoded at a time; the rows
/// are left as they are unless the log has exactly one interval a row.
fn percentiles_from(log: &hlog::Log, rows: &mut [WindowRow]) -> Result<()> {
    anyhow::ensure!(
        log.len() == rows.len(),
        "{} histograms for {} rows",
        log.len(),
        rows.len()
    );
    let mut taken = Vec::with_capacity(rows.len());
    for i in 0..rows.len() {
        let mut w = crate::metrics::OpWindow::default();
        w.set_percentiles(&log.get(i)?.histogram);
        taken.push(w);
    }
    for (row, w) in rows.iter_mut().zip(taken) {
        (row.p50_ms, row.p95_ms, row.p99_ms, row.max_ms) = (w.p50_ms, w.p95_ms, w.p99_ms, w.max_ms);
    }
    Ok(())
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    let mut records = reader.deserialize::<T>().peekable();
    while let Some(row) = records.next() {
        match row {
            Ok(r) => rows.push(r),
            Err(_) if records.peek().is_none() => break,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                anyhow::bail!("{}:{line}: {e}", path.display());
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rows_round_trip_with_empty_percentiles() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "t", chrono::Utc::now()).unwrap();
        let log = CsvLog::create(&run.file(WINDOWS_CSV)).unwrap();
        let row = WindowRow {
            t_s: 1.0,
            clock: "12:01:00".into(),
            op: "checkout".into(),
            offered: 3,
            ok: 2,
            failed: 0,
            timed_out: 1,
            dropped: 0,
            retries: 1,
            in_flight: 4,
            p50_ms: Some(1.5),
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            shoppers: 2,
            completed: 1,
            gave_up: 1,
        };
        log.append(std::slice::from_ref(&row)).unwrap();
        let text = std::fs::read_to_string(run.file(WINDOWS_CSV)).unwrap();
        assert!(text.starts_with(
            "t_s,clock,op,offered,ok,failed,timed_out,dropped,retries,in_flight,p50_ms,p95_ms,p99_ms,max_ms,\
             shoppers,completed,gave_up\n"
        ));
        assert_eq!(RunDir::open(&run.path).unwrap().read_windows().unwrap(), vec![row]);
    }

    #[test]
    fn windows_from_before_the_shopper_columns_read_as_none_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WINDOWS_CSV);
        std::fs::write(
            &path,
            "t_s,clock,op,offered,ok,failed,timed_out,dropped,retries,in_flight,p50_ms,p95_ms,p99_ms,max_ms\n\
             1.0,12:01:00,checkout,3,2,0,1,0,1,4,1.5,,,\n",
        )
        .unwrap();
        let rows: Vec<WindowRow> = read_csv(&path).unwrap();
        assert_eq!((rows[0].offered, rows[0].shoppers, rows[0].lost_share()), (3, 0, None));
    }

    #[test]
    fn a_row_cut_short_by_a_crash_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_CSV);
        std::fs::write(&path, "t_s,clock,kind,name,detail\n0.0,12:00:00,run_start,x,\n1.5,12:0").unwrap();
        let rows: Vec<EventRow> = read_csv(&path).unwrap();
        assert_eq!(rows.len(), 1);
    }
}

/// Other processes and steal together above this share of the cores make a machine busy: well
/// above what a quiet machine shows here (0.00–0.01 cores) and well below one busy process
/// (1.0 of 2 cores), which took 18% and 0% off two quick SQLite calibrations (docs/capacity.md).
pub const BUSY_SHARE: f64 = 0.15;

/// The CPU used by others while the calibration measured, in cores (averages over its time).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HostLoad {
    /// Neither this tool nor a local database server's processes.
    pub others_cores: f64,
    /// Time the hypervisor gave to other machines.
    pub steal_cores: f64,
    pub cores: usize,
}

impl HostLoad {
    pub fn busy(&self) -> bool {
        self.others_cores + self.steal_cores > BUSY_SHARE * self.cores as f64
    }

    /// "other processes used 0.92 of 2 cores, steal 0.00".
    pub fn describe(&self) -> String {
        format!(
            "other processes used {:.2} of {} cores, steal {:.2}",
            self.others_cores, self.cores, self.steal_cores
        )
    }
}
