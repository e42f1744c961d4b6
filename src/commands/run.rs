//! `outage-sim run`: prepare the store, measure capacity, replay the scenario with its faults,
//! then analyse and draw the run directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::analysis::{AlertEvaluator, AlertTransition};
use crate::cli::{RunArgs, ValidateArgs};
use crate::faults::{Injector, TimelineStep};
use crate::metrics::Recorder;
use crate::results::{
    CsvLog, DB_CSV, DbSample, EVENTS_CSV, EventKind, EventLog, META_JSON, Meta, RunDir, SCENARIO_TOML, Timebase,
    WINDOWS_CSV, WindowRow, round_ms,
};
use crate::scenario::{LoadUnit, Op, Scenario};
use crate::store::mysql::MysqlStore;
use crate::store::postgres::PostgresStore;
use crate::store::seed::History;
use crate::store::sqlite::{self, SqliteStore};
use crate::store::{DbUrl, Prepared, ServerStore, Store, redact};
use crate::traffic::{ArrivalSchedule, Engine, RequestFactory, RetryPolicy, measure_capacity};
use crate::{faults, report};

use super::BadInput;

/// `outage-sim validate`: `run` with the migration as the fault and the gate on.
pub async fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let migration = args.migration.display().to_string();
    let scenario = args.scenario.display().to_string();
    let code = run(RunArgs {
        scenario: args.scenario,
        db: args.db,
        fault: None,
        fault_dir: Some(args.migration),
        speed: None,
        seed: None,
        out: args.out,
        gate: true,
        keep_db: false,
    })
    .await?;
    if code == ExitCode::SUCCESS {
        println!("validate: PASS: {migration} under the peak of {scenario}: no alert rule fired");
    } else if code == ExitCode::from(super::EXIT_GATE_FAILED) {
        println!("validate: FAIL: {migration} under the peak of {scenario}: alert rules fired (see above)");
    }
    Ok(code)
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let db = super::parse_db(args.db.db.as_deref())?;
    let dialect = db.as_ref().map_or("sqlite", DbUrl::dialect);
    let (scenario, mut faults) = super::check::load_checked(&args.scenario, dialect, args.fault.as_deref())?;
    if let Some(dir) = &args.fault_dir {
        anyhow::ensure!(
            !scenario.faults.is_empty(),
            BadInput(format!(
                "--fault-dir: {} has no [[faults]] step to put it in",
                args.scenario.display()
            ))
        );
        let migration = faults::migration_dir::load(dir).map_err(BadInput)?;
        faults = vec![migration; scenario.faults.len()];
    }
    let scenario = scenario.with_overrides(args.speed, args.seed);
    let started = chrono::Utc::now();
    match db {
        None | Some(DbUrl::Sqlite(_)) => {
            let db_file = match db {
                Some(DbUrl::Sqlite(path)) => Some(path),
                _ => None,
            };
            let run = RunDir::create(&args.out, &scenario.name, started)?;
            eprintln!("run directory: {}", run.path.display());
            let store = open_sqlite(&scenario, &args.db.cache, &run, db_file.as_deref()).await?;
            if !faults.is_empty() && !store.is_prepared().await? {
                store.close().await;
                let _ = std::fs::remove_dir_all(&run.path); // nothing was run: leave no empty run behind
                anyhow::bail!(BadInput(
                    "this database was not prepared by outage-sim, so no fault will be applied to it; \
                     run without --db, or with --db sqlite:NEW_FILE to let outage-sim prepare one"
                        .into()
                ));
            }
            let url = DbUrl::Sqlite(store_path(&run, db_file.as_deref())).to_string();
            let result = replay_and_report(&args, &scenario, faults, Arc::new(store), &run, (url, None), started).await;
            if db_file.is_none() && !args.keep_db {
                remove_db_files(&store_path(&run, None));
            }
            result
        }
        Some(DbUrl::Postgres(url)) => on_server::<PostgresStore>(&args, &scenario, faults, url, started).await,
        Some(DbUrl::Mysql(url)) => on_server::<MysqlStore>(&args, &scenario, faults, url, started).await,
    }
}

/// Seeds or resets outage-sim's schema on a server with a progress bar, and says what it did.
pub(super) async fn prepare_server<S: ServerStore>(store: &S, url: &str, scenario: &Scenario) -> Result<Prepared> {
    let seeding = bar(scenario.data.orders, "{msg:>26} [{bar:40}] {pos}/{len} orders ({eta})");
    seeding.enable_steady_tick(Duration::from_millis(200));
    let prepared = store.prepare(&History::of(scenario), url, &seeding).await;
    seeding.finish_and_clear();
    if let Ok(p) = &prepared {
        eprintln!("database: {p}");
    }
    prepared
}

/// Connects to the server, seeds or resets outage-sim's schema there, then replays.
async fn on_server<S: ServerStore>(
    args: &RunArgs,
    scenario: &Scenario,
    faults: Vec<faults::Fault>,
    url: String,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<ExitCode> {
    let limits = &scenario.limits;
    let store = S::connect(&url, &args.db.schema, limits.pool_size, limits.pool_wait).await?;
    if let Err(e) = prepare_server(&store, &url, scenario).await {
        store.close().await;
        return Err(e);
    }
    let run = RunDir::create(&args.out, &scenario.name, started)?;
    eprintln!("run directory: {}", run.path.display());
    let target = (redact(&url), Some(args.db.schema.clone()));
    replay_and_report(args, scenario, faults, Arc::new(store), &run, target, started).await
}

/// Probes, replays, closes the store, then analyses and draws the run directory.
async fn replay_and_report<S: Store>(
    args: &RunArgs,
    scenario: &Scenario,
    faults: Vec<faults::Fault>,
    store: Arc<S>,
    run: &RunDir,
    (db_url, db_schema): (String, Option<String>),
    started: chrono::DateTime<chrono::Utc>,
) -> Result<ExitCode> {
    roll_back_leftovers(&*store).await?;
    let requests = RequestFactory::new(scenario);
    let capacity = match scenario.load.unit {
        LoadUnit::Capacity => Some(probe(&store, &requests, scenario).await),
        LoadUnit::ArrivalsPerSecond => None,
    };
    std::fs::write(run.file(SCENARIO_TOML), scenario.to_toml_resolved(capacity))?;
    let meta = Meta {
        tool: "outage-sim".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.name.clone(),
        backend: store.dialect().into(),
        db_url,
        db_schema,
        seed: scenario.run.seed,
        started_at: started.to_rfc3339(),
        capacity_per_s: capacity,
        speed: scenario.clock.speed,
        window_ms: scenario.run.window.as_millis() as u64,
        clock_start: scenario.clock.start.to_string(),
        clock_end: scenario.clock.end.to_string(),
        orders_seeded: scenario.data.orders,
    };
    run.write_json(META_JSON, &meta)?;

    let outcome = replay(scenario, faults, store.clone(), requests, capacity, run).await;
    // Bounded: after a second Ctrl-C, requests may still wait behind the DDL that was left.
    let _ = tokio::time::timeout(Duration::from_secs(10), store.close()).await;
    let interrupted = outcome?;
    let summary = super::plot::render(run, &super::plot::title(&meta))?;
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    if let Some(dir) = &args.fault_dir {
        let events = run.read_events()?;
        if let Some(failed) = events.iter().find(|e| e.kind == "fault_failed") {
            return Err(BadInput(format!(
                "the migration in {} failed: {} (what part of it ran was rolled back; events in {})",
                dir.display(),
                failed.detail,
                run.file(EVENTS_CSV).display()
            ))
            .into());
        }
    }
    if interrupted {
        eprintln!("interrupted: partial results kept in {}", run.path.display());
        return Ok(ExitCode::from(130));
    }
    if (args.gate || scenario.gate) && summary.verdict != "pass" {
        eprintln!(
            "gate: alert rules breached (verdict {}); exit code {}",
            summary.verdict,
            super::EXIT_GATE_FAILED
        );
        return Ok(ExitCode::from(super::EXIT_GATE_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Rolls back the faults an earlier run recorded as applied and never rolled back (it was
/// killed), and says so, before anything else runs.
async fn roll_back_leftovers<S: Store>(store: &S) -> Result<()> {
    for (name, down) in store
        .left_applied()
        .await
        .context("reading the record of applied faults")?
    {
        eprintln!("an earlier run left fault {name} applied (it was killed before its rollback); rolling it back now");
        store
            .run_ddl(&down, None, &|_| {})
            .await
            .with_context(|| format!("rolling back fault {name} left by an earlier run"))?;
        store.record_applied(&name, None).await?;
        eprintln!("fault {name} rolled back");
    }
    Ok(())
}

fn store_path(run: &RunDir, db_file: Option<&Path>) -> PathBuf {
    db_file.map(Path::to_path_buf).unwrap_or_else(|| run.file("run.db"))
}

fn remove_db_files(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

pub(super) fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// The run's SQLite file: a copy of the cached, seeded base database (or the user's file).
pub(super) async fn open_sqlite(
    scenario: &Scenario,
    cache: &Path,
    run: &RunDir,
    db_file: Option<&Path>,
) -> Result<SqliteStore> {
    let history = History::of(scenario);
    let seeding = bar(scenario.data.orders, "{msg:>18} [{bar:40}] {pos}/{len} orders ({eta})");
    let file = store_path(run, db_file);
    match db_file {
        Some(f) if f.exists() => {}
        Some(f) => sqlite::prepare_file(f, &history, &seeding).await?,
        None => {
            let base = sqlite::ensure_base(cache, &history, &seeding)
                .await
                .context("seeding the SQLite base database")?;
            std::fs::copy(&base, &file)
                .with_context(|| format!("cannot copy {} into the run directory", base.display()))?;
            // Flush the copy now, so the kernel's write-back does not compete with the probe.
            std::fs::File::open(&file)?.sync_all()?;
        }
    }
    seeding.finish_and_clear();
    SqliteStore::open(&file, scenario.limits.pool_size).await
}

async fn probe<S: Store>(store: &Arc<S>, requests: &RequestFactory, scenario: &Scenario) -> f64 {
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "measuring capacity for {:.1} s",
        scenario.run.probe.as_secs_f64()
    ));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let workers = (scenario.limits.pool_size as usize * 2).max(4);
    let cap = measure_capacity(
        store.clone(),
        requests,
        &scenario.mix,
        workers,
        scenario.run.probe,
        scenario.run.seed,
    )
    .await;
    spinner.finish_and_clear();
    eprintln!("measured capacity: {cap:.0} arrivals/s of the scenario's mix");
    cap
}

/// Everything that runs on the incident clock. Returns whether the user interrupted it.
async fn replay<S: Store>(
    scenario: &Scenario,
    faults: Vec<faults::Fault>,
    store: Arc<S>,
    requests: RequestFactory,
    capacity: Option<f64>,
    run: &RunDir,
) -> Result<bool> {
    let windows_log = CsvLog::<WindowRow>::create(&run.file(WINDOWS_CSV))?;
    let db_log = CsvLog::<DbSample>::create(&run.file(DB_CSV))?;
    let start = Instant::now();
    let time = Timebase {
        start,
        clock: scenario.clock.clone(),
    };
    let events = Arc::new(EventLog::new(CsvLog::create(&run.file(EVENTS_CSV))?, time.clone()));
    events.emit(EventKind::RunStart, &scenario.name, "");

    let recorder = Arc::new(Recorder::new());
    let retry = RetryPolicy {
        retries: scenario.checkout.retries,
        backoff: scenario.checkout.backoff,
    };
    let engine = Engine::new(
        store.clone(),
        recorder.clone(),
        requests,
        scenario.limits.request_timeout,
        scenario.limits.max_in_flight,
        retry,
    );
    let schedule = ArrivalSchedule::new(
        scenario.load.resolved(capacity),
        scenario.clock.clone(),
        &scenario.mix,
        scenario.run.seed,
    );
    let injector = Injector::new(store.clone(), events.clone());
    let timeline = timeline(scenario, faults);
    let end = start + scenario.clock.real_duration();

    let windows = WindowLoop {
        scenario,
        recorder: &recorder,
        store: &*store,
        windows_log,
        db_log,
        events: &events,
        time,
    };
    let replay = async {
        tokio::join!(
            engine.drive(schedule, start),
            injector.run_timeline(timeline, start),
            windows.run(end)
        );
    };
    let interrupted = tokio::select! {
        _ = replay => false,
        _ = shutdown_signal() => true,
    };
    let wind_down = async {
        engine
            .drain(scenario.limits.request_timeout + Duration::from_millis(500))
            .await;
        injector.rollback_all().await;
    };
    let mut detail = String::new();
    if interrupted {
        detail.push_str("interrupted");
        if !injector.applied().is_empty() {
            eprintln!("interrupted: rolling back the applied fault (Ctrl-C again stops the rollback)");
        }
        tokio::select! {
            _ = wind_down => {}
            _ = shutdown_signal() => detail = left_applied(&injector.applied()),
        }
    } else {
        wind_down.await;
    }
    events.emit(EventKind::RunEnd, &scenario.name, &detail);
    Ok(interrupted)
}

/// Says exactly what a second Ctrl-C left applied and the SQL that undoes it; returns the
/// run_end event's detail.
fn left_applied(applied: &[faults::Fault]) -> String {
    if applied.is_empty() {
        return "interrupted twice".into();
    }
    eprintln!("rollback stopped. Still applied, with the SQL that undoes each:");
    for fault in applied {
        eprintln!("\n-- {}\n{}", fault.name, fault.down.trim());
    }
    eprintln!("\nThe next run on this database rolls them back before it starts.");
    let names: Vec<&str> = applied.iter().map(|f| f.name.as_str()).collect();
    format!("interrupted twice; left applied: {}", names.join(", "))
}

fn timeline(scenario: &Scenario, faults: Vec<faults::Fault>) -> Vec<TimelineStep> {
    let clock = &scenario.clock;
    let mut steps = Vec::new();
    for (step, fault) in scenario.faults.iter().zip(faults) {
        steps.push(TimelineStep::Apply {
            at: clock.real_offset(step.apply),
            fault: fault.clone(),
            guard: step.guard,
        });
        if let Some(rb) = step.rollback {
            steps.push(TimelineStep::Rollback {
                at: clock.real_offset(rb),
                name: fault.name,
            });
        }
    }
    steps
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sigterm = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Closes a window every `run.window`: writes its rows, samples the database, evaluates the
/// alert rules and moves the progress bar.
struct WindowLoop<'a, S> {
    scenario: &'a Scenario,
    recorder: &'a Recorder,
    store: &'a S,
    windows_log: Arc<CsvLog<WindowRow>>,
    db_log: Arc<CsvLog<DbSample>>,
    events: &'a EventLog,
    time: Timebase,
}

impl<S: Store> WindowLoop<'_, S> {
    async fn run(&self, end: Instant) {
        let window = self.scenario.run.window;
        let total = (self.scenario.clock.real_duration().as_secs_f64() / window.as_secs_f64()).ceil() as u64;
        let progress = bar(total, "{prefix} [{bar:30}] {pos}/{len} windows  {msg}");
        let mut alerts = AlertEvaluator::new(&self.scenario.alerts);
        let window_sim_s = window.as_secs_f64() * self.scenario.clock.speed;
        for k in 1..=total {
            let tick = (self.time.start + window * k as u32).min(end);
            tokio::time::sleep_until(tick).await;
            let real = tick - self.time.start;
            let clock = self.time.clock.at(real).to_string();
            let t_s = round_ms(real.as_secs_f64());
            let rows: Vec<WindowRow> = Op::ALL
                .into_iter()
                .zip(self.recorder.take_window())
                .map(|(op, w)| WindowRow {
                    t_s,
                    clock: clock.clone(),
                    op: op.name().into(),
                    offered: w.offered,
                    ok: w.ok,
                    failed: w.failed,
                    timed_out: w.timed_out,
                    dropped: w.dropped,
                    retries: w.retries,
                    in_flight: w.in_flight,
                    p50_ms: w.p50_ms,
                    p95_ms: w.p95_ms,
                    p99_ms: w.p99_ms,
                    max_ms: w.max_ms,
                })
                .collect();
            if let Err(e) = self.windows_log.append(&rows) {
                tracing::warn!("cannot write windows.csv: {e:#}");
            }
            for row in &rows {
                for t in alerts.observe(row, window_sim_s) {
                    match t {
                        AlertTransition::Fired { name, detail } => {
                            self.events.emit(EventKind::AlertFired, &name, &detail)
                        }
                        AlertTransition::Resolved { name } => self.events.emit(EventKind::AlertResolved, &name, ""),
                    }
                }
            }
            let samples: Vec<DbSample> = self
                .store
                .sample()
                .await
                .into_iter()
                .map(|(metric, value)| DbSample {
                    t_s,
                    clock: clock.clone(),
                    metric,
                    value,
                })
                .collect();
            let _ = self.db_log.append(&samples);
            let c = &rows[Op::Checkout.index()];
            progress.set_prefix(clock);
            progress.set_message(format!(
                "checkout offered {} ok {} failed {} timed out {} dropped {} p99 {} ms",
                c.offered,
                c.ok,
                c.failed,
                c.timed_out,
                c.dropped,
                c.p99_ms.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into())
            ));
            progress.set_position(k);
        }
        progress.finish();
    }
}
