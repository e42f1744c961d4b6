//! An ensemble: one plan replayed with seeds S, S+1, …, S+N-1 (each seed its own arrival
//! schedule and retry jitter), one after another so runs never share the database, each
//! starting from the same seeded data (the store's reset), each a normal run directory
//! `seed-<S>` inside the ensemble's directory and judged from its own files. Proportions carry
//! N and a Wilson 95% interval; durations a median and range.

mod markdown;
pub mod odds;
pub mod record;

pub use markdown::{compare_md, ensemble_md};
pub use odds::{Proportion, Spread};
pub use record::{ENSEMBLE_JSON, ENSEMBLE_MD, EnsembleFile, RunRecord, is_ensemble};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::calibrate::headroom::Replay;
use crate::plan::RunPlan;
use crate::replay::Ending;
use crate::results::{META_JSON, Meta, RunDir};
use crate::session::{self, Failure};

/// A finished (or interrupted) ensemble.
#[derive(Debug)]
pub struct Ensemble {
    pub dir: PathBuf,
    pub file: EnsembleFile,
    /// Each finished run's gate failure, by seed (validate and capacity judge by them).
    pub failures: Vec<(u64, Option<Failure>)>,
}

impl Ensemble {
    pub fn interrupted(&self) -> bool {
        self.file.interrupted
    }
}

/// The name of an ensemble's directory under `out`: `<scenario>-ensemble-<UTC time>`.
pub fn new_dir(out: &Path, scenario: &str) -> Result<PathBuf> {
    Ok(RunDir::create(out, &format!("{scenario}-ensemble"), chrono::Utc::now())?.path)
}

/// Replays `plan` `n` times with seeds from the plan's own, into `dir`; `label` starts each
/// progress line. Ctrl-C stops after the run it interrupts (that run's partial directory is
/// kept, not counted); every finished run is kept and counted.
pub async fn run(plan: &RunPlan, n: usize, dir: &Path, label: &str) -> Result<Ensemble> {
    let stop = stop_on_ctrl_c();
    let mut runs = Runs::new(plan, n, dir, label);
    while !stop.load(Ordering::Relaxed) && runs.next().await? {}
    runs.finish()
}

/// An ensemble built one run at a time, so a study can interleave several seed by seed
/// (`whatif`: the host's drift over hours then falls on every variant alike).
pub struct Runs {
    plan: RunPlan,
    n: usize,
    dir: PathBuf,
    label: String,
    runs: Vec<RunRecord>,
    failures: Vec<(u64, Option<Failure>)>,
    about: Option<Meta>,
    /// Real seconds spent in this ensemble's runs, resets included.
    spent_s: f64,
    interrupted: bool,
}

impl Runs {
    pub fn new(plan: &RunPlan, n: usize, dir: &Path, label: &str) -> Runs {
        Runs {
            plan: plan.clone(),
            n,
            dir: dir.to_path_buf(),
            label: label.to_string(),
            runs: Vec::new(),
            failures: Vec::new(),
            about: None,
            spent_s: 0.0,
            interrupted: false,
        }
    }

    /// Replays the next seed and rewrites the ensemble's files: true when a run finished;
    /// false once all `n` have run or the run was interrupted (its partial directory kept,
    /// not counted).
    pub async fn next(&mut self) -> Result<bool> {
        let i = self.runs.len();
        if i >= self.n || self.interrupted {
            return Ok(false);
        }
        let (n, label, dir) = (self.n, &self.label, &self.dir);
        let started = Instant::now();
        let seed = self.plan.seed() + i as u64;
        crate::progress::line(&format!("{label}: run {} of {n} (seed {seed}) starting", i + 1));
        let name = format!("seed-{seed}");
        let mut one = self.plan.with_seed(seed).in_dir(dir, Some(name.clone()));
        one.quiet = true;
        one.fresh_copy = true;
        let finished = session::run(&one).await?;
        if finished.ending == Ending::Interrupted {
            self.interrupted = true;
            return Ok(false);
        }
        let record = RunRecord::judge(dir, &name)?;
        let meta: Meta = finished.dir.read_json(META_JSON)?;
        crate::progress::line(&format!(
            "{label}: run {} of {n} (seed {seed}): {}",
            i + 1,
            said(&record)
        ));
        self.runs.push(record);
        self.failures.push((seed, finished.failure));
        self.spent_s += started.elapsed().as_secs_f64();
        let file = write(dir, self.runs.clone(), n, &meta, self.spent_s)?;
        crate::progress::line(&format!("{label}: so far {}", file.headline()));
        self.about = Some(meta);
        Ok(true)
    }

    /// The counts so far, or `None` before the first run finished.
    pub fn file(&self) -> Option<EnsembleFile> {
        let about = self.about.as_ref()?;
        Some(EnsembleFile::of(self.runs.clone(), self.n, about, self.spent_s))
    }

    /// The finished ensemble; an error when no run finished.
    pub fn finish(self) -> Result<Ensemble> {
        let Some(file) = self.file() else {
            anyhow::bail!(
                "interrupted before the first run of the ensemble finished; nothing to count in {}",
                self.dir.display()
            );
        };
        write_file(&self.dir, &file)?;
        if file.interrupted {
            eprintln!(
                "interrupted: the {} finished runs of {} are kept and counted in {}",
                file.n,
                self.n,
                self.dir.join(ENSEMBLE_JSON).display()
            );
        }
        Ok(Ensemble {
            dir: self.dir,
            file,
            failures: self.failures,
        })
    }
}

/// Sets a flag on Ctrl-C or SIGTERM, so the ensemble starts no run after it.
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        crate::replay::shutdown_signal().await;
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

/// One run in a line: its class and what it did.
fn said(r: &RunRecord) -> String {
    let o = &r.outcome;
    let mut text = o.class.name().to_string();
    if let Some(b) = &r.blocked {
        text += &format!(" ({b})");
    }
    if let Some(at) = &o.down_at {
        text += &format!(", down at {at} for {:.0} min", o.down_minutes);
    }
    match (o.held, &o.climbed_out_at) {
        (Some(true), _) => text += ", held until the mitigation",
        (Some(false), Some(at)) => text += &format!(", climbed out at {at}"),
        _ => {}
    }
    if let Some(w) = o.whole_story {
        let met = o.checkpoints.iter().filter(|c| c.met).count();
        text += &format!(
            ", story {met}/{}{}",
            o.checkpoints.len(),
            if w { " (whole)" } else { "" }
        );
    }
    let over = if r.no_fault { "over the run" } else { "with the fault" };
    text += &format!(", success {:.2} {over}", r.fault_success);
    if let Some(s) = &r.shoppers {
        text += &format!(", {:.1}% of shoppers could not buy", s.lost_share * 100.0);
    }
    match r.reset_s {
        Some(s) => text + &format!(" (data reset in {s:.1} s, replay {:.0} s)", r.run_s),
        None => text,
    }
}

/// Writes `ensemble.json`, `ensemble.md` and the fan chart from the finished runs.
fn write(dir: &Path, runs: Vec<RunRecord>, requested: usize, about: &Meta, total_s: f64) -> Result<EnsembleFile> {
    let file = EnsembleFile::of(runs, requested, about, total_s);
    write_file(dir, &file)?;
    Ok(file)
}

/// Writes an ensemble's files from its record.
pub fn write_file(dir: &Path, file: &EnsembleFile) -> Result<()> {
    let text = serde_json::to_string_pretty(file)? + "\n";
    std::fs::write(dir.join(ENSEMBLE_JSON), text).with_context(|| format!("cannot write {ENSEMBLE_JSON}"))?;
    std::fs::write(dir.join(ENSEMBLE_MD), ensemble_md(file))?;
    let series = fan_series(dir, file)?;
    crate::charts::render_ensemble(dir, &series, &phase_marks(dir, file)?, &title(file))?;
    Ok(())
}

/// "checkout-peak on sqlite, reporting-index: 10 runs" (", never rolled back" with
/// `--no-rollback`).
pub fn title(file: &EnsembleFile) -> String {
    let kept = if file.still_down.is_some() {
        ", never rolled back"
    } else {
        ""
    };
    format!(
        "{} on {}, {}{kept}: {} runs",
        file.scenario, file.backend, file.faults, file.n
    )
}

/// Every run's smoothed share of checkout's shoppers who could buy over the incident clock (minutes).
fn fan_series(dir: &Path, file: &EnsembleFile) -> Result<Vec<Vec<(f64, f64)>>> {
    let mut all = Vec::new();
    for r in &file.runs {
        let windows = RunDir::open(&dir.join(&r.dir))?.read_windows()?;
        let focus: Vec<_> = windows.iter().filter(|w| w.op == crate::analysis::FOCUS_OP).collect();
        let series = crate::analysis::story::smoothed_served(&focus);
        all.push(series.into_iter().map(|(t, s)| (t / 60.0, s)).collect());
    }
    Ok(all)
}

/// The fault's apply and rollback, from the first run's events, as (minute, label).
fn phase_marks(dir: &Path, file: &EnsembleFile) -> Result<Vec<(f64, String)>> {
    let Some(first) = file.runs.first() else {
        return Ok(Vec::new());
    };
    let events = RunDir::open(&dir.join(&first.dir))?.read_events()?;
    use crate::results::EventKind::*;
    Ok(events
        .iter()
        .filter_map(|e| {
            let what = match e.kind {
                FaultApplySent => format!("{} sent", e.name),
                FaultRollbackSent => format!("rollback of {}", e.name),
                _ => return None,
            };
            Some((crate::results::clock_secs(&e.clock) / 60.0, what))
        })
        .collect())
}

/// One scale of a headroom study (`capacity`, `validate --envelope`): an ensemble of `n`
/// replays of `plan` at `scale`, in `out/scale-X`; it holds when every replay passes.
pub async fn at_scale(plan: &RunPlan, scale: f64, n: usize, out: &Path, label: &str) -> Result<Replay> {
    let dir = out.join(format!("scale-{scale:.3}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let e = run(&plan.clone().rescale(Some(scale))?, n, &dir, label).await?;
    if e.interrupted() {
        anyhow::bail!(
            "interrupted: the study stops (finished replays are kept in {})",
            out.display()
        );
    }
    let failed: Vec<&Failure> = e.failures.iter().filter_map(|(_, f)| f.as_ref()).collect();
    let blocked = failed.iter().find_map(|f| match f {
        Failure::Blocked(b) => Some(b.to_string()),
        Failure::Degraded => None,
    });
    let first_alert = e
        .file
        .runs
        .iter()
        .find(|r| r.verdict == crate::results::Verdict::Fail)
        .and_then(|r| first_alert(&dir.join(&r.dir)));
    Ok(Replay {
        scale,
        passed: failed.is_empty(),
        passes: e.file.n - failed.len(),
        n: e.file.n,
        fired: if failed.is_empty() {
            None
        } else {
            blocked.clone().or(first_alert)
        },
        blocked: blocked.is_some(),
        run_dir: dir.display().to_string(),
    })
}

/// The rule of the first alert in a run's summary, and when it fired.
fn first_alert(run_dir: &Path) -> Option<String> {
    let run = RunDir::open(run_dir).ok()?;
    let summary: crate::analysis::Summary = run.read_json(crate::results::SUMMARY_JSON).ok()?;
    summary.alerts.first().map(|a| format!("{} at {}", a.name, a.fired))
}
