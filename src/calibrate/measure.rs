//! One calibration, measured and written: the database opened once (seeded, faults left
//! applied rolled back), then `repeat` searches, alternating without and with the fault, each
//! step on fresh data; then the holds for the peak, without the fault and with it in place;
//! `capacity.json` and its chart in a new directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::host::{self, HostLoad};
use super::{Plan, Slo, cached, hold};
use crate::error::BadInput;
use crate::faults::{self, Fault};
use crate::results::{CAPACITY_JSON, Calibration, Capacity, CapacityHold, RunDir};
use crate::scenario::Scenario;
use crate::store::Database;
use crate::store::seed::History;
use crate::store::{self, Store, sqlite};
use crate::{charts, progress, with_store};

/// What one calibration measures, where, and how.
#[derive(Debug, Clone)]
pub struct CalibrationPlan {
    pub scenario: Scenario,
    pub database: Database,
    /// Also measured with this fault in place (an index, not a held transaction).
    pub fault: Option<Fault>,
    /// Searches per configuration; the knee is their median.
    pub repeat: u32,
    /// Real milliseconds of each step's warm-up, and of its measured window.
    pub step_ms: u64,
    pub slo: Slo,
    /// Where the calibration directory is created.
    pub out: PathBuf,
}

/// Calibrates and writes capacity.json and its chart into a new directory under `--out`;
/// returns the file and what it holds.
pub async fn calibrate_and_write(args: &CalibrationPlan) -> Result<(PathBuf, Capacity)> {
    let scenario = &args.scenario;
    let fault = args.fault.clone();
    if fault.as_ref().is_some_and(|f| f.holds_session) {
        return Err(BadInput(
            "--fault: calibrate measures a fault that stays in place (an index), not a held transaction".into(),
        )
        .into());
    }
    let dir = RunDir::create(&args.out, &format!("calibrate-{}", scenario.name), chrono::Utc::now())?;
    let (start, copy) = (dir.file("start.db"), dir.file("step.db"));
    let measured = measure(args, fault, (&start, &copy)).await;
    for f in [&start, &copy] {
        sqlite::remove_files(f);
    }
    let capacity = match measured {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir.path);
            return Err(e);
        }
    };
    eprintln!("calibration directory: {}", dir.path.display());
    dir.write_json(CAPACITY_JSON, &capacity)?;
    let title = format!("{} on {}: capacity of the mix", capacity.scenario, capacity.backend);
    charts::render_capacity(&dir.path, &title, &capacity.calibrations)?;
    Ok((dir.file(CAPACITY_JSON), capacity))
}

/// What a calibration of `scenario` on `db` holds for (see [`cached::Key`]).
pub fn key_for(scenario: &Scenario, slo: &Slo, database: &Database) -> cached::Key {
    let history = History::of(scenario);
    let db = database.url.as_ref();
    let (db_url, db_schema) = match db {
        None => (
            store::DbUrl::Sqlite(sqlite::base_file(&database.cache, &history)).to_string(),
            None,
        ),
        Some(url @ store::DbUrl::Sqlite(_)) => (url.to_string(), None),
        Some(url) => (store::redact(&url.to_string()), Some(database.schema.clone())),
    };
    cached::Key {
        workload: cached::workload_fingerprint(scenario, slo),
        backend: db.map_or("sqlite", store::DbUrl::dialect).into(),
        db_url,
        db_schema,
        data_fingerprint: history.fingerprint(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// The data every step starts from. Each step opens it afresh — a new copy of the SQLite file
/// as the search began, or the server's schema reset to the seeded data — because a step
/// inherits what earlier ones did to the database: on SQLite, six 6 s steps at 3,200/s in a row
/// took the same rate's p50 from 22 ms to 322 ms, and on the same file reopened it stayed at
/// 500 ms, while a fresh copy passed at 2 ms.
struct Data<'a> {
    at: store::Where<'a>,
    /// SQLite: the file as the search began, copied to `at`'s file before each step.
    sqlite_start: Option<&'a Path>,
    server_version: String,
}

/// Opens the database once (seeding it if needed, rolling back faults left applied), then
/// runs the searches, alternating without and with the fault.
async fn measure(args: &CalibrationPlan, fault: Option<Fault>, (start, copy): (&Path, &Path)) -> Result<Capacity> {
    let (scenario, db) = (&args.scenario, args.database.url.clone());
    let at = store::Where {
        db: db.clone(),
        schema: &args.database.schema,
        cache: &args.database.cache,
        copy: start,
        prepare: true,
        copy_own: false,
    };
    let (opened, _) = store::open(at, scenario).await?;
    let server_version = with_store!(opened, store => {
        let checked = first_look(&*store, fault.is_some()).await;
        store.close().await;
        checked?
    });
    let slo = args.slo;
    let key = key_for(scenario, &slo, &args.database);
    let sqlite_start = match &db {
        None => Some(start),
        Some(store::DbUrl::Sqlite(own)) => {
            std::fs::copy(own, start).with_context(|| format!("cannot copy {}", own.display()))?;
            Some(start)
        }
        Some(_) => None,
    };
    let data = Data {
        at: store::Where {
            db: if sqlite_start.is_some() {
                Some(store::DbUrl::Sqlite(copy.to_path_buf()))
            } else {
                db
            },
            schema: &args.database.schema,
            cache: &args.database.cache,
            copy,
            prepare: true,
            copy_own: false,
        },
        sqlite_start,
        server_version,
    };
    let mut configs = vec![Config::of(None)];
    if let Some(f) = fault {
        configs.push(Config::of(Some(f)));
    }
    // With a fault, each search is followed by a closed-loop probe in the same configuration,
    // so the capacity ratio can be checked against a measurement of another kind.
    let closed_loop_too = configs.len() > 1;
    let before = host::now();
    for search in 1..=args.repeat as usize {
        for c in configs.iter_mut() {
            let start = c.knees.last().map_or(50.0, |k: &f64| (k / 2.0).max(1.0));
            let plan = Plan {
                slo,
                step: Duration::from_millis(args.step_ms),
                start_per_s: start,
                resolution: 0.05,
                max_steps: 24,
                search,
            };
            let found = one_search(&data, scenario, &plan, c.fault.as_ref()).await?;
            c.knees.push(found.knee_per_s);
            c.steps.extend(found.steps);
            if closed_loop_too {
                let per_s = closed_loop(&data, scenario, c.fault.as_ref()).await?;
                let name = c.fault.as_ref().map_or("no fault", |f| f.name.as_str());
                progress::line(&format!("search {search} ({name}): closed loop {per_s:.0}/s"));
                c.closed_loop.push(per_s);
            }
        }
    }
    let knee = super::median_and_spread(&configs[0].knees).0;
    configs[0].holds = holds(&data, scenario, knee, None, (hold::FIRST, hold::LOWEST)).await?;
    // The change's cost in the units a peak is a fraction of: the rate the peak climbs out from
    // after the change goes in at it. A knee with it is a 3 s latency edge, which the change moves
    // less than the rate it sustains (SQLite, 2026-12-06: knees said 0.19 of the capacity).
    let sustained = hold::sustained(&configs[0].holds).map(|h| h.fraction);
    if let (Some(without), [_, with]) = (sustained, &mut configs[..]) {
        let from = (hold::first_with_fault(without), hold::LOWEST_WITH_FAULT);
        with.holds = holds(&data, scenario, knee, with.fault.as_ref(), from).await?;
    }
    let host = before.zip(host::now()).map(|(a, b)| host::between(&a, &b, key.cores));
    Ok(record(scenario, key, data, slo, configs, host))
}

/// The holds of fractions of the knee from `first` down, not under `lowest`, as
/// [`hold::next_fraction`] picks them, each on fresh data, `fault` sent as the rate is reached
/// if there is one (then a hold holds when checkout climbs out).
async fn holds(
    data: &Data<'_>,
    scenario: &Scenario,
    knee: f64,
    fault: Option<&Fault>,
    (first, lowest): (f64, f64),
) -> Result<Vec<CapacityHold>> {
    let mut holds = Vec::new();
    let with = fault.map_or(String::new(), |f| {
        format!(" with {} sent as the rate is reached", f.name)
    });
    let retries = match scenario.checkout.retries {
        0 => "no retries".to_string(),
        n => format!("{n} retries"),
    };
    let (secs, most) = (hold::duration(scenario).as_secs_f64(), hold::most_holds(first, lowest));
    progress::line(&format!(
        "holds{with}: from {first:.2} of the knee, each {:.2} of the one before, until one holds, then one between: \
         2 to {most} holds of {secs:.0} s plus a reset each, {:.1}–{:.1} min",
        hold::STEP,
        2.0 * secs / 60.0,
        most as f64 * secs / 60.0
    ));
    while let Some(fraction) = hold::next_fraction(first, lowest, &holds) {
        progress::line(&format!(
            "hold{with}: {:.0}/s ({fraction:.2} of the knee {knee:.0}/s) for the peak, {secs:.0} s, {retries}",
            knee * fraction,
        ));
        let h = with_store!(open_fresh(data, scenario).await?, store => {
            let h = hold::hold(&store, scenario, (knee, fraction), fault).await;
            store.close().await;
            h?
        });
        let lost = h
            .shoppers_lost
            .map_or(String::new(), |l| format!(", {:.1}% of shoppers lost", l * 100.0));
        let word = hold::verdict(h.held, fault.is_some());
        let verdict = match (h.held, h.why.is_empty(), fault.is_some()) {
            (true, true, _) => "held, no alert".to_string(),
            (true, false, false) => format!("held (not down; alerts: {})", h.why),
            (true, false, true) => format!("{word} ({})", h.why),
            (false, _, _) => format!("{word}: {}", h.why),
        };
        progress::line(&format!("hold{with}: {:.0}/s: {verdict}{lost}", h.rate_per_s));
        holds.push(h);
    }
    Ok(holds)
}

/// Checks that a fault may be applied, rolls back faults left applied, and reads the server's
/// version.
async fn first_look<S: Store>(store: &S, with_fault: bool) -> Result<String> {
    if with_fault && !store.is_prepared().await? {
        return Err(
            BadInput("this database was not prepared by outage-sim, so no fault will be applied to it".into()).into(),
        );
    }
    faults::roll_back_leftovers(store).await?;
    Ok(store.server_version().await.unwrap_or_default())
}

/// Opens the data afresh: a new copy of the SQLite file as the search began (flushed), or the
/// server's schema reset to the seeded data.
async fn open_fresh(data: &Data<'_>, scenario: &Scenario) -> Result<store::Opened> {
    if let Some(start) = data.sqlite_start {
        sqlite::remove_files(data.at.copy);
        std::fs::copy(start, data.at.copy).with_context(|| format!("cannot copy {}", start.display()))?;
        // Flushed now, so the kernel's write-back of the copy does not compete with the step.
        std::fs::File::open(data.at.copy)?.sync_all()?;
    }
    let at = store::Where {
        db: data.at.db.clone(),
        ..data.at
    };
    Ok(store::open(at, scenario).await?.0)
}

/// The closed-loop probe (the same mix, twice the pool of users as fast as they go) on fresh
/// data with the fault in place, if there is one.
async fn closed_loop(data: &Data<'_>, scenario: &Scenario, fault: Option<&Fault>) -> Result<f64> {
    with_store!(open_fresh(data, scenario).await?, store => {
        let measured = with_fault(&store, fault, || crate::traffic::closed_loop(&store, scenario)).await;
        store.close().await;
        measured
    })
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

async fn one_search(data: &Data<'_>, scenario: &Scenario, plan: &Plan, fault: Option<&Fault>) -> Result<super::Search> {
    let name = fault.map_or("no fault".to_string(), |f| f.name.clone());
    let mut shown = |s: &super::Step| {
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
    let step = async |rate| {
        with_store!(open_fresh(data, scenario).await?, store => {
            let step = with_fault(&store, fault, || super::step(&store, scenario, rate, plan)).await;
            store.close().await;
            step
        })
    };
    super::search(plan, step, &mut shown).await
}

/// One configuration's searches so far.
struct Config {
    fault: Option<Fault>,
    knees: Vec<f64>,
    steps: Vec<super::Step>,
    closed_loop: Vec<f64>,
    holds: Vec<CapacityHold>,
}

impl Config {
    fn of(fault: Option<Fault>) -> Config {
        Config {
            fault,
            knees: Vec::new(),
            steps: Vec::new(),
            closed_loop: Vec::new(),
            holds: Vec::new(),
        }
    }
}

fn record(
    scenario: &Scenario,
    key: cached::Key,
    data: Data<'_>,
    slo: Slo,
    configs: Vec<Config>,
    host: Option<HostLoad>,
) -> Capacity {
    Capacity {
        tool: "outage-sim".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.name.clone(),
        workload_fingerprint: key.workload,
        backend: key.backend,
        db_url: key.db_url,
        db_schema: key.db_schema,
        server_version: data.server_version,
        data_fingerprint: key.data_fingerprint,
        cores: key.cores,
        measured_at: chrono::Utc::now().to_rfc3339(),
        slo_p99_ms: slo.p99_ms,
        slo_success: slo.success,
        calibrations: configs
            .into_iter()
            .map(|c| {
                let (knee_per_s, spread) = super::median_and_spread(&c.knees);
                Calibration {
                    fault: c.fault.map(|f| f.name),
                    knee_per_s,
                    spread,
                    knees: c.knees,
                    steps: c.steps,
                    closed_loop_per_s: c.closed_loop,
                    sustained_per_s: hold::sustained(&c.holds).map(|h| h.rate_per_s),
                    holds: c.holds,
                }
            })
            .collect(),
        host,
    }
}
