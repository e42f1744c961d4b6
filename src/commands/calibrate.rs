//! `outage-sim calibrate`: open the store, search for the knee without and with the fault,
//! write capacity.json and its chart.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::BadInput;
use crate::calibrate::{self, Plan, Slo};
use crate::cli::CalibrateArgs;
use crate::faults::{self, Fault};
use crate::results::{CAPACITY_JSON, Calibration, Capacity, RunDir};
use crate::scenario::Scenario;
use crate::store::seed::History;
use crate::store::{self, Store, Target, sqlite};
use crate::{charts, progress, with_store};

pub async fn calibrate(args: CalibrateArgs) -> Result<ExitCode> {
    let db = super::parse_db(args.db.db.as_deref())?;
    let dialect = db.as_ref().map_or("sqlite", store::DbUrl::dialect);
    let scenario = Scenario::load(&args.scenario)?;
    let fault = match (&args.fault, &args.fault_dir) {
        (Some(name), _) => Some(faults::find(dialect, name).map_err(|e| BadInput(format!("--fault: {e}")))?),
        (None, Some(dir)) => Some(faults::migration_dir::load(dir).map_err(BadInput)?),
        (None, None) => None,
    };
    if fault.as_ref().is_some_and(|f| f.holds_session) {
        return Err(BadInput(
            "--fault: calibrate measures a fault that stays in place (an index), not a held transaction".into(),
        )
        .into());
    }
    let dir = RunDir::create(&args.out, &format!("calibrate-{}", scenario.name), chrono::Utc::now())?;
    let copy = dir.file("calibrate.db");
    let at = store::Where {
        db,
        schema: &args.db.schema,
        cache: &args.db.cache,
        copy: &copy,
        prepare: true,
    };
    let (opened, target) = match store::open(at, &scenario).await {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir.path);
            return Err(e);
        }
    };
    eprintln!("calibration directory: {}", dir.path.display());
    let measured = with_store!(opened, store => measure(&args, &scenario, fault, store, target).await);
    sqlite::remove_files(&copy);
    let capacity = measured?;
    dir.write_json(CAPACITY_JSON, &capacity)?;
    let title = format!("{} on {}: capacity of the mix", capacity.scenario, capacity.backend);
    charts::render_capacity(&dir.path, &title, &capacity.calibrations)?;
    print!("{}", summary(&capacity));
    println!("written: {}", dir.path.display());
    Ok(ExitCode::SUCCESS)
}

/// The searches, alternating without and with the fault, then the record of them.
async fn measure<S: Store>(
    args: &CalibrateArgs,
    scenario: &Scenario,
    fault: Option<Fault>,
    store: Arc<S>,
    target: Target,
) -> Result<Capacity> {
    let result = async {
        if fault.is_some() && !store.is_prepared().await? {
            return Err(BadInput(
                "this database was not prepared by outage-sim, so no fault will be applied to it".into(),
            )
            .into());
        }
        faults::roll_back_leftovers(&*store).await?;
        let mut configs = vec![(None, Vec::new(), Vec::new())];
        if let Some(f) = &fault {
            configs.push((Some(f.clone()), Vec::new(), Vec::new()));
        }
        let slo = Slo::of(scenario, args.slo_p99_ms, args.slo_success);
        for search in 1..=args.repeat as usize {
            for (fault, knees, steps) in configs.iter_mut() {
                let start = knees.last().map_or(50.0, |k: &f64| (k / 2.0).max(1.0));
                let plan = Plan {
                    slo,
                    step: Duration::from_millis(args.step_ms),
                    start_per_s: start,
                    resolution: 0.05,
                    max_steps: 24,
                    search,
                };
                let found = with_fault(&store, fault.as_ref(), || {
                    one_search(&store, scenario, &plan, fault.as_ref())
                })
                .await?;
                knees.push(found.knee_per_s);
                steps.extend(found.steps);
            }
        }
        let server_version = store.server_version().await.unwrap_or_default();
        Ok(record(scenario, &*store, target, server_version, slo, configs))
    }
    .await;
    store.close().await;
    result
}

/// Runs `search` with `fault` applied (and always rolled back after), or as it is.
async fn with_fault<S: Store, T>(
    store: &Arc<S>,
    fault: Option<&Fault>,
    search: impl AsyncFnOnce() -> Result<T>,
) -> Result<T> {
    let Some(f) = fault else { return search().await };
    store.record_applied(&f.name, Some(&f.down)).await?;
    let applied = store.run_ddl(&f.up, None, &|_| {}).await;
    // A single statement that failed changed nothing; a migration of several may have
    // applied in part, so it is rolled back, as a run does.
    let result = match &applied {
        Ok(()) => search().await,
        Err(e) => Err(BadInput(format!("applying {}: {}", f.name, store::error_text(e, &f.up))).into()),
    };
    if applied.is_ok() || store::split_statements(&f.up).len() > 1 {
        store.run_ddl(&f.down, None, &|_| {}).await?;
    }
    store.record_applied(&f.name, None).await?;
    result
}

async fn one_search<S: Store>(
    store: &Arc<S>,
    scenario: &Scenario,
    plan: &Plan,
    fault: Option<&Fault>,
) -> Result<calibrate::Search> {
    let name = fault.map_or("no fault".to_string(), |f| f.name.clone());
    let mut shown = |s: &calibrate::Step| {
        let verdict = if s.passed {
            "pass".to_string()
        } else {
            format!("fail: {}", s.why)
        };
        let p99 = s.p99_ms.map_or("-".into(), |p| format!("{p:.1}"));
        progress::line(&format!(
            "search {} ({name}): {:.0}/s offered, {:.0}/s sent, success {:.3}, p99 {p99} ms: {verdict}",
            plan.search, s.offered_per_s, s.achieved_per_s, s.success
        ));
    };
    calibrate::search(store, scenario, plan, &mut shown).await
}

type Config = (Option<Fault>, Vec<f64>, Vec<calibrate::Step>);

fn record<S: Store>(
    scenario: &Scenario,
    store: &S,
    target: Target,
    server_version: String,
    slo: Slo,
    configs: Vec<Config>,
) -> Capacity {
    Capacity {
        tool: "outage-sim".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.name.clone(),
        backend: store.dialect().into(),
        db_url: target.url,
        db_schema: target.schema,
        server_version,
        data_fingerprint: History::of(scenario).fingerprint(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        measured_at: chrono::Utc::now().to_rfc3339(),
        slo_p99_ms: slo.p99_ms,
        slo_success: slo.success,
        calibrations: configs
            .into_iter()
            .map(|(fault, knees, steps)| {
                let (knee_per_s, spread) = calibrate::median_and_spread(&knees);
                Calibration {
                    fault: fault.map(|f| f.name),
                    knee_per_s,
                    spread,
                    knees,
                    steps,
                }
            })
            .collect(),
    }
}

/// What the terminal shows at the end.
fn summary(c: &Capacity) -> String {
    let mut out = format!(
        "\n{} on {} (SLO: checkout p99 ≤ {} ms, success ≥ {}):\n",
        c.scenario, c.backend, c.slo_p99_ms, c.slo_success
    );
    let base = c.calibrations.first().map_or(0.0, |b| b.knee_per_s);
    for cal in &c.calibrations {
        let name = cal.fault.as_deref().unwrap_or("no fault");
        let knees: Vec<String> = cal.knees.iter().map(|k| format!("{k:.0}")).collect();
        let ratio = if cal.fault.is_some() && base > 0.0 {
            format!(", {:.2} of no fault", cal.knee_per_s / base)
        } else {
            String::new()
        };
        out += &format!(
            "  {name}: capacity {:.0} arrivals/s (median of {} searches: {}; spread {:.2}){ratio}\n",
            cal.knee_per_s,
            cal.knees.len(),
            knees.join(", "),
            cal.spread
        );
    }
    out += &format!("  run with it: outage-sim run SCENARIO --capacity {base:.0}\n");
    out
}
