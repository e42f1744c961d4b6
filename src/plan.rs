//! The run plan: everything one replay needs, typed and resolved once — the scenario (loaded
//! once, with its seed, speed and load scale), the database, the faults that stand in for its
//! steps, the capacity and where it came from, the gate, and where its run directory goes.
//! Commands build plans; a session runs one, an
//! ensemble many.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::calibrate::cached::Source;
use crate::error::BadInput;
use crate::faults::{self, Choice, Fault};
use crate::results::Shard;
use crate::scenario::{ClockTime, LoadUnit, Scenario};
use crate::store::Database;

/// What stands in for the scenario's fault steps.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultPlan {
    /// The scenario's own catalog faults.
    Scenario,
    /// One catalog fault at every step (`--fault`).
    Catalog(String),
    /// A user's migration directory at every step (`--fault-dir`, `validate --migration`).
    Migration(PathBuf),
    /// None: the baseline (`--no-faults`).
    None,
}

/// Live metrics for Prometheus while the run goes.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub addr: String,
    /// Seconds to keep serving after the run.
    pub linger_s: f64,
}

/// One replay, resolved.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The scenario as it will run: seed, speed and load scale applied.
    pub scenario: Scenario,
    /// The same before its load scale, so a study can scale it again.
    unscaled: Scenario,
    pub load_scale: Option<f64>,
    pub database: Database,
    pub fault_plan: FaultPlan,
    pub faults: Vec<Fault>,
    pub capacity: Source,
    pub gated: bool,
    /// Where the run directory is created.
    pub out: PathBuf,
    /// The run directory's name (default: `<scenario>-<UTC time>`; an ensemble's runs are
    /// `seed-<S>`).
    pub dir_name: Option<String>,
    pub keep_db: bool,
    /// With `--db sqlite:FILE`, run on a copy of the file (an ensemble's runs each start from
    /// the same data).
    pub fresh_copy: bool,
    /// One line per run instead of the run's summary (studies of many runs).
    pub quiet: bool,
    pub shard: Option<Shard>,
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    pub metrics: Option<Metrics>,
    /// The scenario's first rollback time, when the run replays its faults without their
    /// rollbacks (`--no-rollback`).
    pub rollback_removed: Option<ClockTime>,
}

impl RunPlan {
    /// The scenario in `file` with its own faults, ungated, its capacity not yet resolved.
    pub fn load(file: &Path, database: Database, out: PathBuf) -> Result<RunPlan> {
        let scenario = Scenario::load(file)?;
        let faults = faults::for_steps(&scenario, database.dialect(), Choice::Scenario).map_err(BadInput)?;
        Ok(RunPlan {
            unscaled: scenario.clone(),
            scenario,
            load_scale: None,
            database,
            fault_plan: FaultPlan::Scenario,
            faults,
            capacity: Source::NotNeeded,
            gated: false,
            out,
            dir_name: None,
            keep_db: false,
            fresh_copy: false,
            quiet: false,
            shard: None,
            start_at: None,
            metrics: None,
            rollback_removed: None,
        })
    }

    /// The scenario's file, for messages.
    pub fn file(&self) -> &Path {
        &self.scenario.source
    }

    pub fn seed(&self) -> u64 {
        self.scenario.run.seed
    }

    /// At another speed or seed (`--speed`, `--seed`), bounded as in the file.
    pub fn with_overrides(mut self, speed: Option<f64>, seed: Option<u64>) -> Result<RunPlan> {
        self.unscaled = self.unscaled.with_overrides(speed, seed).map_err(BadInput)?;
        let scale = self.load_scale;
        self.rescale(scale)
    }

    /// The same plan with another seed: the arrival schedule and the retries' jitter follow it.
    pub fn with_seed(&self, seed: u64) -> RunPlan {
        let mut plan = self.clone();
        plan.scenario = plan
            .scenario
            .with_overrides(None, Some(seed))
            .expect("a seed is always valid");
        plan.unscaled = plan
            .unscaled
            .with_overrides(None, Some(seed))
            .expect("a seed is always valid");
        plan
    }

    /// The load curve times `scale` (`--load-scale`), within the file's bounds.
    pub fn rescale(mut self, scale: Option<f64>) -> Result<RunPlan> {
        self.scenario = self.unscaled.clone().with_load_scale(scale).map_err(BadInput)?;
        self.load_scale = scale;
        Ok(self)
    }

    /// What stands in for the scenario's fault steps.
    pub fn with_faults(mut self, plan: FaultPlan) -> Result<RunPlan> {
        let dialect = self.database.dialect();
        let choice = match &plan {
            FaultPlan::Scenario | FaultPlan::None => Choice::Scenario,
            FaultPlan::Catalog(name) => Choice::Catalog(name),
            FaultPlan::Migration(dir) => Choice::MigrationDir(dir),
        };
        self.faults = match plan {
            FaultPlan::None => Vec::new(),
            _ => faults::for_steps(&self.scenario, dialect, choice).map_err(BadInput)?,
        };
        self.fault_plan = plan;
        Ok(self)
    }

    /// The cause control: the same faults, never rolled back before the end of the run, so a
    /// recovery can only come from the load.
    pub fn without_rollback(mut self) -> RunPlan {
        let first = self.scenario.faults.iter().filter_map(|f| f.rollback).min();
        for s in [&mut self.scenario, &mut self.unscaled] {
            s.faults.iter_mut().for_each(|f| f.rollback = None);
        }
        self.rollback_removed = first;
        self
    }

    /// The same plan on a changed scenario (a what-if variant): its load scale and faults
    /// applied again.
    pub fn with_scenario(mut self, change: impl FnOnce(&Scenario) -> Result<Scenario, String>) -> Result<RunPlan> {
        let file = self.file().display().to_string();
        self.unscaled = change(&self.unscaled).map_err(|e| BadInput(format!("{file}: {e}")))?;
        let (scale, faults) = (self.load_scale, self.fault_plan.clone());
        self.rescale(scale)?.with_faults(faults)
    }

    /// The baseline: the same plan without any fault.
    pub fn without_faults(&self) -> RunPlan {
        let mut plan = self.clone();
        plan.faults.clear();
        plan.fault_plan = FaultPlan::None;
        plan
    }

    /// Gated: a breached alert rule fails the run. A scenario without rules could judge
    /// nothing, so it is refused.
    pub fn gated(mut self, gate: bool) -> Result<RunPlan> {
        self.gated = gate || self.scenario.gate;
        if self.gated && self.scenario.alerts.is_empty() {
            return Err(BadInput(format!(
                "{}: the gate is on but the scenario has no [[alerts]] rule, so it could judge nothing; add one",
                self.file().display()
            ))
            .into());
        }
        Ok(self)
    }

    /// A user's migration standing in for the faults is tried on an empty copy of the schema
    /// first, so one that cannot apply is found before any load or calibration.
    pub async fn check_migration(&self) -> Result<()> {
        if let (Some(dir), Some(migration)) = (self.migration(), self.faults.first()) {
            let (db, schema) = (self.database.url.as_ref(), &self.database.schema);
            faults::precheck::on_empty_copy(dir, migration, &self.scenario, db, schema).await?;
        }
        Ok(())
    }

    /// The capacity the load's fractions are taken of (`--capacity` given, `--probe`, or the
    /// calibrate stage's: the latest calibration, made now if there is none).
    pub async fn with_capacity(mut self, given: Option<f64>, probe: bool) -> Result<RunPlan> {
        if given.is_some() && self.scenario.load.unit != LoadUnit::Capacity {
            let msg = format!(
                "--capacity: {} gives its load in arrivals per second, not in capacity fractions",
                self.file().display()
            );
            return Err(BadInput(msg).into());
        }
        self.capacity = crate::calibrate::source_for(&self.unscaled, &self.database, &self.out, given, probe).await?;
        Ok(self)
    }

    /// Its run directory goes to `out`, named `name`.
    pub fn in_dir(&self, out: &Path, name: Option<String>) -> RunPlan {
        let mut plan = self.clone();
        plan.out = out.to_path_buf();
        plan.dir_name = name;
        plan
    }

    /// What was applied at the scenario's fault steps, for meta.json and labels.
    pub fn fault_names(&self) -> Vec<String> {
        match &self.fault_plan {
            FaultPlan::None => Vec::new(),
            FaultPlan::Catalog(name) => vec![name.clone()],
            FaultPlan::Migration(dir) => vec![format!("migration {}", dir.display())],
            FaultPlan::Scenario => self.faults.iter().map(|f| f.name.clone()).collect(),
        }
    }

    /// The user's migration standing in for the faults, if there is one.
    pub fn migration(&self) -> Option<&Path> {
        match &self.fault_plan {
            FaultPlan::Migration(dir) => Some(dir),
            _ => None,
        }
    }

    /// The capacity, when it is known before the run.
    pub fn capacity_per_s(&self) -> Option<f64> {
        self.capacity.per_s()
    }

    /// The load scale that holds the scenario's peak (its highest load point) at `peak` of
    /// capacity (`validate --peak`).
    pub fn peak_scale(&self, peak: f64) -> Result<f64> {
        let highest = self.highest_load();
        if self.unscaled.load.unit != LoadUnit::Capacity || highest <= 0.0 {
            let msg = format!(
                "--peak: {} does not give its load in capacity fractions",
                self.file().display()
            );
            return Err(BadInput(msg).into());
        }
        Ok(peak / highest)
    }

    /// The scenario's highest load point (its peak) before the load scale.
    pub fn highest_load(&self) -> f64 {
        self.unscaled.load.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }
}

/// A plan of `workloads/<file>` on the default SQLite, with the scenario's own faults: what the
/// stages' tests build their plans from.
#[cfg(test)]
pub(crate) fn workload_plan(file: &str) -> RunPlan {
    let database = Database {
        url: None,
        schema: "outage_sim".into(),
        cache: "results/.cache".into(),
    };
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads").join(file);
    RunPlan::load(&file, database, "results".into())
        .unwrap()
        .with_faults(FaultPlan::Scenario)
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_rollback_keeps_the_faults_and_names_the_rollback_it_removed() {
        let database = Database {
            url: None,
            schema: "outage_sim".into(),
            cache: "results/.cache".into(),
        };
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/checkout-peak.toml");
        let plan = RunPlan::load(&file, database, "results".into())
            .unwrap()
            .with_faults(FaultPlan::Scenario)
            .unwrap()
            .without_rollback();
        assert_eq!(
            plan.rollback_removed.map(|t| t.to_string()).as_deref(),
            Some("15:00:00")
        );
        assert!(plan.scenario.faults.iter().all(|f| f.rollback.is_none()));
        assert_eq!(plan.faults.len(), 1, "the change itself stays");
        let rescaled = plan.rescale(Some(1.5)).unwrap();
        assert!(rescaled.scenario.faults.iter().all(|f| f.rollback.is_none()));
    }
}
