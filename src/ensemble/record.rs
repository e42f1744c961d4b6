//! `ensemble.json`: each run judged from its own files, and the ensemble's counts with their
//! intervals. Written after every run, so an interrupted ensemble keeps what finished; read
//! back (and re-judged from the runs' files) by `plot`, `compare` and `merge`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::odds::{Proportion, Spread};
use crate::analysis::story::{Class, Outcome};
use crate::analysis::{self, FOCUS_OP};
use crate::results::{EventKind, META_JSON, Meta, RunDir, Verdict};

pub const ENSEMBLE_JSON: &str = "ensemble.json";
pub const ENSEMBLE_MD: &str = "ensemble.md";
/// Without the rollback, an outage still on this long (incident seconds) after the rollback's
/// time is the change's, not ended by the afternoon's lull.
pub const STILL_DOWN_AFTER_S: f64 = 1800.0;

/// One run of an ensemble, judged from its own files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub seed: u64,
    /// The run directory, relative to the ensemble's.
    pub dir: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The alert rules' verdict.
    pub verdict: Verdict,
    /// A migration's lock stall, when a gated migration blocked checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// Checkout success (all attempts) while the fault was in place, or over the whole run.
    pub fault_success: f64,
    /// The run had no fault (`--no-faults`, or none in the scenario): `fault_success` is over
    /// the whole run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_fault: bool,
    /// Checkout's shoppers, and the share who could not check out (absent in older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shoppers: Option<analysis::Shoppers>,
    /// Replayed without its rollback (`--no-rollback`): still down [`STILL_DOWN_AFTER_S`] after
    /// the rollback's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub still_down: Option<bool>,
    /// Real seconds to reset the data before the run (copy or server reset).
    #[serde(default)]
    pub reset_s: Option<f64>,
    /// Real seconds the replay ran.
    pub run_s: f64,
}

impl RunRecord {
    /// Judges the run in `ensemble/dir` from its files alone.
    pub fn judge(ensemble: &Path, dir: &str) -> Result<RunRecord> {
        let run = RunDir::open(&ensemble.join(dir))?;
        let meta: Meta = run.read_json(META_JSON)?;
        let rules = crate::report::rules_of(&run)?;
        let story = crate::report::story_of(&run);
        let windows = run.read_windows()?;
        let events = run.read_events()?;
        let summary = analysis::summarize(&windows, &events, &rules, story.as_ref(), meta.gated);
        let migration = meta.faults.iter().any(|f| f.starts_with("migration "));
        let blocked = match meta.gated && migration {
            true => analysis::blocked(
                &events,
                &windows,
                &run.read_db_samples()?,
                meta.window_ms as f64 / 1000.0,
            ),
            false => None,
        };
        let phase = |name: &str| summary.phases.iter().find(|p| p.phase == name);
        let fault_success = phase("fault_active")
            .or_else(|| phase("whole_run"))
            .map_or(1.0, |p| p.success_ratio);
        let focus: Vec<_> = windows.iter().filter(|w| w.op == FOCUS_OP).collect();
        let still_down = meta
            .rollback_removed
            .as_deref()
            .map(|t| analysis::story::down_at(&focus, crate::results::clock_secs(t) + STILL_DOWN_AFTER_S));
        let last_window = windows.iter().rev().find(|w| w.op == FOCUS_OP).map_or(0.0, |w| w.t_s);
        let run_s = events
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::RunEnd)
            .map_or(last_window, |e| e.t_s);
        Ok(RunRecord {
            seed: meta.seed,
            dir: dir.to_string(),
            outcome: summary.outcome.context("the analysis gives every run an outcome")?,
            verdict: summary.verdict,
            blocked: blocked.map(|b| b.to_string()),
            fault_success,
            no_fault: meta.faults.is_empty(),
            shoppers: summary.shoppers,
            still_down,
            reset_s: meta.reset_s,
            run_s,
        })
    }
}

/// A checkpoint's rate over the ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRate {
    pub name: String,
    pub postmortem: String,
    pub met: Proportion,
}

/// The cause control's count: runs without the rollback still down after its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StillDown {
    /// The incident time looked at: the rollback's time plus [`STILL_DOWN_AFTER_S`].
    pub at: String,
    pub runs: Proportion,
}

/// What the ensemble's time went to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Real seconds the runs took, each reset included (0 when re-read).
    pub total_s: f64,
    /// The runs' replays, summed.
    pub runs_s: f64,
    /// Each reset between runs: median and range.
    pub reset_s: Option<Spread>,
}

/// `ensemble.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleFile {
    pub tool: String,
    pub version: String,
    pub scenario: String,
    pub backend: String,
    /// The faults, as the runs' meta.json names them ("no fault" for none).
    pub faults: String,
    /// Finished runs.
    pub n: usize,
    /// Runs asked for.
    pub requested: usize,
    pub first_seed: u64,
    /// Stopped (Ctrl-C) before every run asked for had finished.
    pub interrupted: bool,
    pub runs: Vec<RunRecord>,
    /// `outage`, `degraded`, `no_outage`: each with its interval.
    pub classes: BTreeMap<String, Proportion>,
    /// Of the runs that went down, those down until the mitigation.
    pub held: Option<Proportion>,
    /// Runs a gated migration blocked (validate).
    pub blocked: Proportion,
    pub checkpoints: Vec<CheckpointRate>,
    /// Every checkpoint met (`null` without a `[story]`).
    pub whole_story: Option<Proportion>,
    /// Incident minutes down, over the runs that went down.
    pub down_minutes: Option<Spread>,
    /// Checkout success while the fault was in place, over all runs.
    pub fault_success: Option<Spread>,
    /// The share of checkout's shoppers who could not check out: over each whole run, and over
    /// the outage of each run that had one.
    #[serde(default)]
    pub shoppers_lost: Option<Spread>,
    #[serde(default)]
    pub outage_shoppers_lost: Option<Spread>,
    /// Replayed without the rollback: the runs still down 30 incident minutes after its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub still_down: Option<StillDown>,
    pub timing: Timing,
}

impl EnsembleFile {
    /// The counts of `runs` (of `requested`) and what they took.
    pub fn of(runs: Vec<RunRecord>, requested: usize, about: &Meta, total_s: f64) -> EnsembleFile {
        let n = runs.len();
        let count = |f: &dyn Fn(&RunRecord) -> bool| runs.iter().filter(|r| f(r)).count();
        let classes = Class::ALL
            .iter()
            .map(|c| {
                (
                    c.key().to_string(),
                    Proportion::of(count(&|r| r.outcome.class == *c), n),
                )
            })
            .collect();
        let went_down = count(&|r| r.outcome.held.is_some());
        let held = (went_down > 0).then(|| Proportion::of(count(&|r| r.outcome.held == Some(true)), went_down));
        let checkpoints = runs.first().map_or(Vec::new(), |first| {
            first
                .outcome
                .checkpoints
                .iter()
                .enumerate()
                .map(|(i, c)| CheckpointRate {
                    name: c.name.clone(),
                    postmortem: c.postmortem.clone(),
                    met: Proportion::of(count(&|r| r.outcome.checkpoints.get(i).is_some_and(|c| c.met)), n),
                })
                .collect()
        });
        let has_story = runs.iter().any(|r| r.outcome.whole_story.is_some());
        let down: Vec<f64> = runs
            .iter()
            .filter(|r| r.outcome.class == Class::Outage)
            .map(|r| r.outcome.down_minutes)
            .collect();
        let resets: Vec<f64> = runs.iter().filter_map(|r| r.reset_s).collect();
        let shoppers: Vec<analysis::Shoppers> = runs.iter().filter_map(|r| r.shoppers).collect();
        let faults = if about.faults.is_empty() {
            "no fault".to_string()
        } else {
            about.faults.join(" + ")
        };
        EnsembleFile {
            tool: "outage-sim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scenario: about.scenario.clone(),
            backend: about.backend.clone(),
            faults,
            n,
            requested,
            first_seed: runs.iter().map(|r| r.seed).min().unwrap_or(about.seed),
            interrupted: n < requested,
            classes,
            held,
            blocked: Proportion::of(count(&|r| r.blocked.is_some()), n),
            checkpoints,
            whole_story: has_story.then(|| Proportion::of(count(&|r| r.outcome.whole_story == Some(true)), n)),
            down_minutes: Spread::of(&down),
            fault_success: Spread::of(&runs.iter().map(|r| r.fault_success).collect::<Vec<_>>()),
            shoppers_lost: Spread::of(&shoppers.iter().map(|s| s.lost_share).collect::<Vec<_>>()),
            outage_shoppers_lost: Spread::of(&shoppers.iter().filter_map(|s| s.outage_lost_share).collect::<Vec<_>>()),
            still_down: about.rollback_removed.as_deref().map(|t| StillDown {
                at: crate::scenario::ClockTime::from_secs((crate::results::clock_secs(t) + STILL_DOWN_AFTER_S) as u32)
                    .to_string(),
                runs: Proportion::of(count(&|r| r.still_down == Some(true)), n),
            }),
            timing: Timing {
                total_s,
                runs_s: runs.iter().map(|r| r.run_s).sum(),
                reset_s: Spread::of(&resets),
            },
            runs,
        }
    }

    pub fn class(&self, class: Class) -> Proportion {
        self.classes
            .get(class.key())
            .copied()
            .unwrap_or(Proportion::of(0, self.n))
    }

    /// The run whose checkout did worst while the fault was in place (a blocked run first).
    pub fn worst(&self) -> Option<&RunRecord> {
        self.runs.iter().min_by(|a, b| {
            (a.blocked.is_none(), a.fault_success)
                .partial_cmp(&(b.blocked.is_none(), b.fault_success))
                .unwrap()
        })
    }

    /// One line: "the whole story in 3 of 10 [0.11–0.60]; outage 6 of 10 […], …".
    pub fn headline(&self) -> String {
        let mut parts = Vec::new();
        if let Some(w) = &self.whole_story {
            parts.push(format!("the whole story in {w}"));
        }
        for c in Class::ALL {
            parts.push(format!("{} {}", c.name(), self.class(c)));
        }
        if self.blocked.count > 0 {
            parts.push(format!("blocked by the migration {}", self.blocked));
        }
        if let Some(s) = &self.still_down {
            parts.push(format!(
                "without the rollback still down at {} {}",
                short_time(&s.at),
                s.runs
            ));
        }
        parts.join("; ")
    }
}

/// The run directories of an ensemble: those `ensemble.json` lists, or else every
/// subdirectory with a `windows.csv`, by seed.
pub fn run_dirs(ensemble: &Path) -> Result<Vec<String>> {
    let listed: Option<EnsembleFile> = std::fs::read_to_string(ensemble.join(ENSEMBLE_JSON))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(file) = listed {
        return Ok(file.runs.into_iter().map(|r| r.dir).collect());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(ensemble)
        .with_context(|| format!("cannot read {}", ensemble.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(crate::results::WINDOWS_CSV).is_file())
        .collect();
    dirs.sort();
    Ok(dirs
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}

/// Whether `dir` is an ensemble directory.
pub fn is_ensemble(dir: &Path) -> bool {
    dir.join(ENSEMBLE_JSON).is_file()
}

/// Reads an ensemble directory, judging every run again from its files (a newer analysis, or
/// runs copied in by `merge`), keeping the timing it recorded.
pub fn read(ensemble: &Path) -> Result<EnsembleFile> {
    let recorded: Option<EnsembleFile> = std::fs::read_to_string(ensemble.join(ENSEMBLE_JSON))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut runs = Vec::new();
    for dir in run_dirs(ensemble)? {
        runs.push(RunRecord::judge(ensemble, &dir).with_context(|| format!("{}/{dir}", ensemble.display()))?);
    }
    runs.sort_by_key(|r| r.seed);
    let first = runs
        .first()
        .with_context(|| format!("{}: no finished run in it", ensemble.display()))?;
    let about: Meta = RunDir::open(&ensemble.join(&first.dir))?.read_json(META_JSON)?;
    let requested = recorded.as_ref().map_or(runs.len(), |r| r.requested.max(runs.len()));
    let total_s = recorded.as_ref().map_or(0.0, |r| r.timing.total_s);
    Ok(EnsembleFile::of(runs, requested, &about, total_s))
}

/// "15:30" of "15:30:00".
fn short_time(t: &str) -> &str {
    t.get(..5).unwrap_or(t)
}
