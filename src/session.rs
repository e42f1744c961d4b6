//! One run of one plan: opens the store (seeding or resetting it), owns the run directory
//! (removed when nothing ran), writes `scenario.toml` and `meta.json`, attaches the standard
//! sinks (results, alerts, progress, live metrics), replays, closes the store, then analyses
//! and draws the run directory and judges it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::analysis::{self, Summary};
use crate::calibrate::cached::Source;
use crate::error::BadInput;
use crate::faults;
use crate::plan::RunPlan;
use crate::replay::{self, AlertSink, Ending, ProgressSink, Replay, ResultsSink, Sink};
use crate::results::{META_JSON, Meta, RunDir, SCENARIO_TOML};
use crate::scenario::Scenario;
use crate::store::{self, Store, sqlite};
use crate::{exporter, report, with_store};

/// Exit code when gating is on and the alert rules were breached.
pub const EXIT_GATE_FAILED: u8 = 3;
/// Exit code of a run stopped by Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// How a gated run failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Checkout stalled behind the migration's lock.
    Blocked(analysis::Blocked),
    /// No lock stall, but an alert rule fired.
    Degraded,
}

/// A run that ended: where its files are, how it ended, and its verdict.
#[derive(Debug)]
pub struct Finished {
    pub dir: RunDir,
    pub ending: Ending,
    pub failure: Option<Failure>,
    pub summary: Summary,
    /// Real seconds to open the store: the copy of the SQLite base, or the server's reset.
    pub reset_s: f64,
}

impl Finished {
    /// The process exit code: 130 interrupted, 3 a gate failed, 0 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match (&self.ending, &self.failure) {
            (Ending::Interrupted, _) => ExitCode::from(EXIT_INTERRUPTED),
            (_, Some(_)) => ExitCode::from(EXIT_GATE_FAILED),
            _ => ExitCode::SUCCESS,
        }
    }
}

/// Runs `plan` once.
pub async fn run(plan: &RunPlan) -> Result<Finished> {
    let run = match &plan.dir_name {
        Some(name) => RunDir::create_named(&plan.out, name)?,
        None => RunDir::create(&plan.out, &plan.scenario.name, chrono::Utc::now())?,
    };
    // Before the database is touched: a port that cannot be served is found at once.
    let exporter = match &plan.metrics {
        Some(m) => match exporter::serve(&m.addr, metric_labels(&run, &plan.scenario)).await {
            Ok(serving) => Some(serving),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&run.path); // nothing ran: leave no empty run behind
                return Err(BadInput(format!("{e:#}")).into());
            }
        },
        None => None,
    };
    let copy = run.file("run.db");
    let at = store::Where {
        db: plan.database.url.clone(),
        schema: &plan.database.schema,
        cache: &plan.database.cache,
        copy: &copy,
        prepare: plan.shard.is_none_or(|s| s.index == 0),
        copy_own: plan.fresh_copy,
    };
    let opening = Instant::now();
    let (opened, target) = match store::open(at, &plan.scenario).await {
        Ok(opened) => opened,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&run.path); // nothing ran: leave no empty run behind
            return Err(e);
        }
    };
    let reset_s = opening.elapsed().as_secs_f64();
    if !plan.quiet {
        eprintln!("run directory: {}", run.path.display());
    }
    let opened_run = OpenedRun { run, target, reset_s };
    let result = with_store!(opened, store => replay_and_report(plan, store, opened_run, exporter).await);
    if !plan.keep_db {
        sqlite::remove_files(&copy); // the copy of the SQLite base, if there is one
    }
    result
}

/// The run directory and store of a run about to replay.
struct OpenedRun {
    run: RunDir,
    target: store::Target,
    reset_s: f64,
}

/// Gets ready, replays (publishing to the metrics server too, when there is one), closes the
/// store, then analyses, draws and judges the run directory.
async fn replay_and_report<S: Store>(
    plan: &RunPlan,
    store: Arc<S>,
    OpenedRun { run, target, reset_s }: OpenedRun,
    exporter: Option<(exporter::MetricsSink, exporter::Server)>,
) -> Result<Finished> {
    let scenario = &plan.scenario;
    let ready = async {
        let capacity = ready(&store, scenario, !plan.faults.is_empty(), &plan.capacity).await?;
        wait_for_start(plan.start_at).await?;
        anyhow::Ok(capacity)
    };
    let capacity = match ready.await {
        Ok(c) => c,
        Err(e) => {
            store.close().await;
            let _ = std::fs::remove_dir_all(&run.path); // nothing ran: leave no empty run behind
            return Err(e);
        }
    };
    std::fs::write(run.file(SCENARIO_TOML), scenario.to_toml_resolved(capacity))?;
    let mut meta = Meta::of_run(
        scenario,
        (store.dialect(), target.url, target.schema),
        capacity,
        plan.fault_names(),
        plan.gated,
    );
    meta.capacity_source = capacity.and(plan.capacity.label());
    meta.shard = plan.shard;
    meta.reset_s = Some(reset_s);
    meta.rollback_removed = plan.rollback_removed.map(|t| t.to_string());
    run.write_json(META_JSON, &meta)?;

    for (step, fault) in scenario.faults.iter().zip(&plan.faults) {
        if step.before_start {
            eprintln!("applying {} before the run (apply = \"before\")", fault.name);
            faults::apply_before_start(&*store, fault).await?;
        }
    }
    let mut replay = Replay::new(scenario, store.clone(), plan.faults.clone(), capacity);
    if let Some(shard) = plan.shard {
        replay = replay.only_shard(shard);
    }
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(ResultsSink::create(&run, replay.started_at())?),
        Box::new(AlertSink::new(&scenario.alerts, replay.bus())),
        Box::new(ProgressSink::new(replay::windows_in(scenario), scenario.run.window)),
    ];
    if let Some((sink, server)) = &exporter {
        eprintln!("metrics: http://{}/metrics", server.addr);
        sinks.push(Box::new(sink.clone()));
    }
    let ending = replay.run(sinks).await;
    if let Some((_, server)) = exporter {
        linger(server, plan.metrics.as_ref().map_or(0.0, |m| m.linger_s)).await;
    }
    // Bounded: after a second Ctrl-C, requests may still wait behind the DDL that was left.
    let _ = tokio::time::timeout(Duration::from_secs(10), store.close()).await;
    let ending = ending?;
    let (summary, meta) = report::render_run(&run)?;
    if !plan.quiet {
        print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    }
    let failure = judge(plan, &run, ending, summary.gate_failed())?;
    Ok(Finished {
        dir: run,
        ending,
        failure,
        summary,
        reset_s,
    })
}

/// Before a replay: refuses faults on a database outage-sim did not prepare, rolls back faults
/// an earlier run left applied, says where the capacity comes from and resolves it (probing
/// when asked to). `train` calls it too.
pub async fn ready<S: Store>(
    store: &Arc<S>,
    scenario: &Scenario,
    with_faults: bool,
    capacity: &Source,
) -> Result<Option<f64>> {
    if with_faults && !store.is_prepared().await? {
        return Err(BadInput(
            "this database was not prepared by outage-sim, so no fault will be applied to it; \
             run without --db, or with --db sqlite:NEW_FILE to let outage-sim prepare one"
                .into(),
        )
        .into());
    }
    faults::roll_back_leftovers(&**store).await?;
    if let Some(said) = capacity.describe() {
        eprintln!("{said}");
    }
    match capacity {
        Source::Probe => crate::traffic::capacity_for(store, scenario).await,
        known => Ok(known.per_s()),
    }
}

/// The labels on every live metric: the run directory's name and the scenario.
fn metric_labels(run: &RunDir, scenario: &Scenario) -> Vec<(String, String)> {
    let name = run
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    vec![("run".into(), name), ("scenario".into(), scenario.name.clone())]
}

/// Waits for `--start-at` (Ctrl-C stops the wait); a time already past cannot line windows up.
async fn wait_for_start(at: Option<chrono::DateTime<chrono::Utc>>) -> Result<()> {
    let Some(at) = at else { return Ok(()) };
    let ahead = (at - chrono::Utc::now()).to_std();
    let wait = match ahead {
        Ok(d) if d <= Duration::from_secs(3600) => d,
        Ok(_) => return Err(BadInput(format!("--start-at {at}: more than an hour ahead")).into()),
        Err(_) if chrono::Utc::now() - at <= chrono::TimeDelta::seconds(1) => Duration::ZERO,
        Err(_) => return Err(BadInput(format!("--start-at {at}: that time has passed")).into()),
    };
    eprintln!("waiting {:.1} s for --start-at {at}", wait.as_secs_f64());
    tokio::select! {
        _ = tokio::time::sleep(wait) => Ok(()),
        _ = replay::shutdown_signal() => anyhow::bail!("interrupted before --start-at"),
    }
}

/// Serves the final metrics a little longer, so a scrape after the last window sees them.
async fn linger(server: exporter::Server, secs: f64) {
    if secs > 0.0 {
        eprintln!("metrics: serving the final values for {secs} s more (--metrics-linger)");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {}
            _ = replay::shutdown_signal() => {}
        }
    }
    drop(server);
}

/// How a run failed its gate, if it did: a migration that failed to apply is bad input, a
/// gated run whose fault never applied judged nothing (an error, not a pass); an interrupted
/// run is not judged; then a migration's lock stall, then the alert rules.
fn judge(plan: &RunPlan, run: &RunDir, ending: Ending, gate_failed: bool) -> Result<Option<Failure>> {
    let not_applied = analysis::not_applied(&run.read_events()?);
    if let (Some(dir), Some((_, detail))) = (plan.migration(), not_applied.first()) {
        return Err(BadInput(faults::migration_dir::failed(dir, detail)).into());
    }
    if let (true, Some((name, detail))) = (plan.gated && ending == Ending::Completed, not_applied.first()) {
        anyhow::bail!("fault {name} never applied ({detail}), so the gate has judged a run without it");
    }
    if ending == Ending::Interrupted {
        eprintln!("interrupted: partial results kept in {}", run.path.display());
        return Ok(None);
    }
    let blocked = match (plan.gated, plan.migration()) {
        (true, Some(_)) => analysis::blocked(
            &run.read_events()?,
            &run.read_windows()?,
            &run.read_db_samples()?,
            plan.scenario.run.window.as_secs_f64(),
        ),
        _ => None,
    };
    let failure = match blocked {
        Some(b) => Some(Failure::Blocked(b)),
        None if gate_failed => Some(Failure::Degraded),
        None => None,
    };
    match &failure {
        Some(Failure::Blocked(b)) if !plan.quiet => eprintln!("gate: {b}; exit code {EXIT_GATE_FAILED}"),
        Some(Failure::Degraded) if !plan.quiet => {
            eprintln!("gate: alert rules breached; exit code {EXIT_GATE_FAILED}")
        }
        _ => {}
    }
    Ok(failure)
}
