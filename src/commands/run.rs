//! `outage-sim run` and `validate`: open the store, measure capacity, replay the scenario with
//! its faults (the replay stage, publishing to the results, alert and progress sinks), then
//! analyse and draw the run directory.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::{BadInput, EXIT_GATE_FAILED};
use crate::calibrate::cached::{self, Source};
use crate::calibrate::host::HostLoad;
use crate::cli::{CalibrateArgs, RunArgs, ValidateArgs};
use crate::faults::{self, Choice, Fault};
use crate::replay::{self, AlertSink, Ending, ProgressSink, Replay, ResultsSink, Sink};
use crate::results::{META_JSON, Meta, RunDir, SCENARIO_TOML};
use crate::scenario::{LoadUnit, Scenario};
use crate::store::{self, DbUrl, Store, sqlite};
use crate::{analysis, exporter, report, with_store};

/// `outage-sim validate`: `run` with the migration as the fault and the gate on, at the
/// validate peak (a stated headroom, `--peak` to change it); the migration is tried on an empty
/// copy of the schema first.
pub async fn validate(args: ValidateArgs) -> Result<ExitCode> {
    if args.envelope {
        return super::headroom::envelope(&args).await;
    }
    let (migration, scenario) = (
        args.migration.display().to_string(),
        args.scenario.display().to_string(),
    );
    let (code, failure) = run_judged(validate_args(&args, args.peak)?).await?;
    if failure == Some(Failure::Degraded) {
        baseline_holds(&args, &migration, &scenario).await?;
    }
    match failure {
        None if code == ExitCode::SUCCESS => {
            println!("validate: PASS: {migration} under the peak of {scenario}: no lock stall, no alert rule fired")
        }
        Some(Failure::Blocked(b)) => println!("validate: FAIL ({b}) under the peak of {scenario}"),
        Some(Failure::Degraded) => println!(
            "validate: FAIL (degraded: alert rules fired, see above; checkout was not blocked on its lock): {migration} under the peak of {scenario}"
        ),
        None => {}
    }
    Ok(code)
}

/// After a degraded FAIL: the same peak without the migration. If that fails its alert rules
/// too, the migration was not what broke them, and the verdict is no verdict (exit 2).
async fn baseline_holds(args: &ValidateArgs, migration: &str, scenario: &str) -> Result<()> {
    eprintln!(
        "validate: alert rules fired; replaying the same peak without the migration, to see whether it is the cause"
    );
    let baseline = RunArgs {
        fault_dir: None,
        no_faults: true,
        ..validate_args(args, args.peak)?
    };
    let (code, _) = run_judged(baseline).await?;
    if code == ExitCode::from(EXIT_GATE_FAILED) {
        let msg = format!(
            "validate: cannot judge {migration}: the peak of {scenario} fires its alert rules without the migration too \
             (see the baseline run above), so this database has less headroom than the peak asks; lower --peak or calibrate again"
        );
        return Err(BadInput(msg).into());
    }
    Ok(())
}

/// The gated run that validates the migration, its peak held at `peak` of capacity if given.
pub(crate) fn validate_args(args: &ValidateArgs, peak: Option<f64>) -> Result<RunArgs> {
    let load_scale = match peak {
        Some(peak) => Some(peak_scale(&args.scenario, peak)?),
        None => None,
    };
    Ok(RunArgs {
        fault_dir: Some(args.migration.clone()),
        capacity: args.capacity,
        load_scale,
        ..RunArgs::gated(args.scenario.clone(), args.db.clone(), args.out.clone())
    })
}

/// The load scale that holds a scenario's peak (its highest load point) at `peak` of capacity.
fn peak_scale(file: &std::path::Path, peak: f64) -> Result<f64> {
    let scenario = Scenario::load(file)?;
    let highest = scenario.load.points.iter().map(|p| p.1).fold(0.0, f64::max);
    if scenario.load.unit != LoadUnit::Capacity || highest <= 0.0 {
        let msg = format!(
            "--peak: {} does not give its load in capacity fractions",
            file.display()
        );
        return Err(BadInput(msg).into());
    }
    Ok(peak / highest)
}

/// How a gated run failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Checkout stalled behind the migration's lock.
    Blocked(analysis::Blocked),
    /// No lock stall, but an alert rule fired.
    Degraded,
}

/// What one run is: the scenario, what stands in for its faults, and how it is judged.
struct Plan<'a> {
    args: &'a RunArgs,
    scenario: Scenario,
    faults: Vec<Fault>,
    fault_names: Vec<String>,
    gated: bool,
    capacity: Source,
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    run_judged(args).await.map(|(code, _)| code)
}

/// `run`, and how its gate failed, if it did.
pub async fn run_judged(args: RunArgs) -> Result<(ExitCode, Option<Failure>)> {
    let db = super::parse_db(args.db.db.as_deref())?;
    let dialect = db.as_ref().map_or("sqlite", DbUrl::dialect);
    let scenario = Scenario::load(&args.scenario)?
        .with_overrides(args.speed, args.seed)
        .and_then(|s| s.with_load_scale(args.load_scale))
        .map_err(BadInput)?;
    if args.capacity.is_some() && scenario.load.unit != LoadUnit::Capacity {
        let msg = format!(
            "--capacity: {} gives its load in arrivals per second, not in capacity fractions",
            args.scenario.display()
        );
        return Err(BadInput(msg).into());
    }
    let choice = match (&args.fault, &args.fault_dir) {
        (Some(name), _) => Choice::Catalog(name),
        (None, Some(dir)) => Choice::MigrationDir(dir),
        (None, None) => Choice::Scenario,
    };
    if let (Some(shard), None, LoadUnit::Capacity) = (args.shard, args.capacity, scenario.load.unit) {
        let msg = format!(
            "--shard {shard}: give --capacity too, so every shard resolves {}'s load in capacity fractions to the same rates",
            args.scenario.display()
        );
        return Err(BadInput(msg).into());
    }
    if let (Some(shard), None) = (args.shard, &db) {
        let msg = format!(
            "--shard {shard}: give --db too, so the shards share one database (sqlite:FILE, prepared once, or a server)"
        );
        return Err(BadInput(msg).into());
    }
    let mut faults = faults::for_steps(&scenario, dialect, choice).map_err(BadInput)?;
    if args.no_faults || args.shard.is_some_and(|s| s.index > 0) {
        faults.clear(); // the baseline; or a shard after the first: faults run in shard 0 only
    }
    let gated = args.gate || scenario.gate;
    if gated && scenario.alerts.is_empty() {
        return Err(BadInput(format!(
            "{}: the gate is on but the scenario has no [[alerts]] rule, so it could judge nothing; add one",
            args.scenario.display()
        ))
        .into());
    }
    let fault_names = match choice.label() {
        Some(label) => vec![label],
        None => faults.iter().map(|f| f.name.clone()).collect(),
    };
    if let (Some(dir), Some(migration)) = (&args.fault_dir, faults.first()) {
        faults::precheck::on_empty_copy(dir, migration, &scenario, db.as_ref(), &args.db.schema).await?;
    }
    let capacity = capacity_source(&args, &scenario, db.as_ref()).await?;
    let plan = Plan {
        args: &args,
        scenario,
        faults,
        fault_names,
        gated,
        capacity,
    };
    let run = RunDir::create(&args.out, &plan.scenario.name, chrono::Utc::now())?;
    // Before the database is touched: a port that cannot be served is found at once.
    let exporter = match &args.metrics_addr {
        Some(addr) => match exporter::serve(addr, metric_labels(&run, &plan.scenario)).await {
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
        db,
        schema: &args.db.schema,
        cache: &args.db.cache,
        copy: &copy,
        prepare: args.shard.is_none_or(|s| s.index == 0),
    };
    let (opened, target) = match store::open(at, &plan.scenario).await {
        Ok(opened) => opened,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&run.path); // nothing ran: leave no empty run behind
            return Err(e);
        }
    };
    eprintln!("run directory: {}", run.path.display());
    let result = with_store!(opened, store => replay_and_report(&plan, store, &run, target, exporter).await);
    if !args.keep_db {
        sqlite::remove_files(&copy); // the copy of the SQLite base, if there is one
    }
    result
}

/// Probes, replays (publishing to the metrics server too, when there is one), closes the
/// store, then analyses and draws the run directory.
async fn replay_and_report<S: Store>(
    plan: &Plan<'_>,
    store: Arc<S>,
    run: &RunDir,
    target: store::Target,
    exporter: Option<(exporter::MetricsSink, exporter::Server)>,
) -> Result<(ExitCode, Option<Failure>)> {
    let scenario = &plan.scenario;
    let ready = ready(&store, scenario, !plan.faults.is_empty(), &plan.capacity);
    let ready = async {
        let capacity = ready.await?;
        wait_for_start(plan.args.start_at).await?;
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
    let target = (store.dialect(), target.url, target.schema);
    run.write_json(META_JSON, &meta_of(plan, target, capacity))?;

    let mut replay = Replay::new(scenario, store.clone(), plan.faults.clone(), capacity);
    if let Some(shard) = plan.args.shard {
        replay = replay.only_shard(shard);
    }
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(ResultsSink::create(run, replay.started_at())?),
        Box::new(AlertSink::new(&scenario.alerts, replay.bus())),
        Box::new(ProgressSink::new(replay::windows_in(scenario), scenario.run.window)),
    ];
    if let Some((sink, server)) = &exporter {
        eprintln!("metrics: http://{}/metrics", server.addr);
        sinks.push(Box::new(sink.clone()));
    }
    let ending = replay.run(sinks).await;
    if let Some((_, server)) = exporter {
        linger(server, plan.args.metrics_linger).await;
    }
    // Bounded: after a second Ctrl-C, requests may still wait behind the DDL that was left.
    let _ = tokio::time::timeout(Duration::from_secs(10), store.close()).await;
    let ending = ending?;
    let (summary, meta) = report::render_run(run)?;
    if !plan.args.quiet {
        print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    }
    judge(plan, run, ending, summary.gate_failed())
}

/// Before a replay: refuses faults on a database outage-sim did not prepare, rolls back faults
/// an earlier run left applied, says where the capacity comes from and resolves it (probing
/// when asked to). Shared by `run` and `train`.
pub(crate) async fn ready<S: Store>(
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

/// Where the run's capacity comes from: `--capacity`, `--probe`, the latest calibration of the
/// scenario's workload on this database and data, or one made now (a single search) and kept for the next
/// runs, since a first run must be as trustworthy as any.
pub(crate) async fn capacity_source(args: &RunArgs, scenario: &Scenario, db: Option<&DbUrl>) -> Result<Source> {
    if scenario.load.unit != LoadUnit::Capacity {
        return Ok(Source::NotNeeded);
    }
    if let Some(per_s) = args.capacity {
        return Ok(Source::Given(per_s));
    }
    if args.probe {
        return Ok(Source::Probe);
    }
    let slo = crate::calibrate::Slo::of(scenario, None, None);
    let key = super::calibrate::key_for(scenario, &slo, db, &args.db);
    if let Some(source) = cached::latest(&args.out, &key).and_then(|(file, c)| Source::calibrated(file, &c)) {
        return Ok(source);
    }
    match cached::latest_busy(&args.out, &key) {
        Some((file, host)) => eprintln!(
            "capacity: the latest calibration of {} on this database and data ({}) was made while the \
             machine was busy ({}), so it is not taken: calibrating again, one search",
            scenario.name,
            file.display(),
            host.describe()
        ),
        None => eprintln!(
            "capacity: {} has not been calibrated on this database and data (no capacity.json under {}): \
             calibrating first, one search (`outage-sim calibrate` makes three); later runs reuse it",
            scenario.name,
            args.out.display()
        ),
    }
    let (file, c) = super::calibrate::calibrate_and_write(&CalibrateArgs {
        scenario: args.scenario.clone(),
        db: args.db.clone(),
        fault: None,
        fault_dir: None,
        repeat: 1,
        step_ms: 3000,
        slo_p99_ms: None,
        slo_success: None,
        out: args.out.clone(),
    })
    .await?;
    if let Some(host) = c.host.filter(HostLoad::busy) {
        eprintln!(
            "capacity: warning: the machine was busy while calibrating ({}): this run's load is a \
             fraction of a capacity that may be low, and the next run calibrates again",
            host.describe()
        );
    }
    Source::calibrated(file, &c).ok_or_else(|| anyhow::anyhow!("the calibration found no capacity without a fault"))
}

/// `meta.json` of the run about to start.
fn meta_of(plan: &Plan, target: (&str, String, Option<String>), capacity: Option<f64>) -> Meta {
    let mut meta = Meta::of_run(&plan.scenario, target, capacity, plan.fault_names.clone(), plan.gated);
    meta.capacity_source = capacity.and(plan.capacity.label());
    meta.shard = plan.args.shard;
    meta
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

/// The exit code: a migration that failed to apply is bad input, a gated run whose fault never
/// applied judged nothing (an error, not a pass), then Ctrl-C, then the gate.
fn judge(plan: &Plan, run: &RunDir, ending: Ending, gate_failed: bool) -> Result<(ExitCode, Option<Failure>)> {
    let not_applied = analysis::not_applied(&run.read_events()?);
    if let (Some(dir), Some((_, detail))) = (&plan.args.fault_dir, not_applied.first()) {
        return Err(BadInput(faults::migration_dir::failed(dir, detail)).into());
    }
    if let (true, Some((name, detail))) = (plan.gated && ending == Ending::Completed, not_applied.first()) {
        anyhow::bail!("fault {name} never applied ({detail}), so the gate has judged a run without it");
    }
    if ending == Ending::Interrupted {
        eprintln!("interrupted: partial results kept in {}", run.path.display());
        return Ok((ExitCode::from(130), None));
    }
    // A migration under a gate also fails when it stalled checkout on its lock.
    let blocked = match (plan.gated, &plan.args.fault_dir) {
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
        Some(Failure::Blocked(b)) => eprintln!("gate: {b}; exit code {EXIT_GATE_FAILED}"),
        Some(Failure::Degraded) => eprintln!("gate: alert rules breached; exit code {EXIT_GATE_FAILED}"),
        None => return Ok((ExitCode::SUCCESS, None)),
    }
    Ok((ExitCode::from(EXIT_GATE_FAILED), failure))
}
