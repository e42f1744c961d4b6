//! Where a run's capacity comes from: `--capacity`, `--probe`, the latest calibration of the
//! scenario's workload on this database and data, or one made now (a single search) and kept
//! for the next runs, since a first run must be as trustworthy as any.

use std::path::Path;

use anyhow::Result;

use super::Slo;
use super::cached::{self, Source};
use super::host::HostLoad;
use super::measure::{CalibrationPlan, calibrate_and_write, key_for};
use crate::scenario::{LoadUnit, Scenario};
use crate::store::Database;

/// The capacity source of a run of `scenario` on `database`; calibrations live under `out`.
pub async fn source_for(
    scenario: &Scenario,
    database: &Database,
    out: &Path,
    given: Option<f64>,
    probe: bool,
) -> Result<Source> {
    if scenario.load.unit != LoadUnit::Capacity {
        return Ok(Source::NotNeeded);
    }
    if let Some(per_s) = given {
        return Ok(Source::Given(per_s));
    }
    if probe {
        return Ok(Source::Probe);
    }
    let slo = Slo::of(scenario, None, None);
    let key = key_for(scenario, &slo, database);
    if let Some(source) = cached::latest(out, &key).and_then(|(file, c)| Source::calibrated(file, &c)) {
        return Ok(source);
    }
    match cached::latest_busy(out, &key) {
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
            out.display()
        ),
    }
    let (file, c) = calibrate_and_write(&CalibrationPlan {
        scenario: scenario.clone(),
        database: database.clone(),
        fault: None,
        repeat: 1,
        step_ms: 3000,
        slo,
        out: out.to_path_buf(),
    })
    .await?;
    if let Some(host) = c.host.filter(HostLoad::busy) {
        eprintln!(
            "capacity: warning: the machine was busy while calibrating ({}): this run's load is a \
             fraction of a capacity that may be low, and the next run calibrates again",
            host.describe()
        );
    }
    Source::calibrated(file, &c).ok_or_else(|| {
        anyhow::anyhow!(
            "capacity: no rate down to {:.2} of the knee held for {}'s peak without a fault ({}): the machine \
             is too busy or noisy to replay on; try again when it is quiet, or give --capacity N",
            super::hold::LOWEST,
            scenario.name,
            holds_tried(&c)
        )
    })
}

/// The holds of a calibration, for an error: "0.85: down at 12:24:00; 0.77: …".
fn holds_tried(c: &crate::results::Capacity) -> String {
    let holds = c
        .calibrations
        .iter()
        .find(|c| c.fault.is_none())
        .map_or(&[][..], |c| &c.holds[..]);
    holds
        .iter()
        .map(|h| format!("{:.2}: {}", h.fraction, if h.held { "held" } else { h.why.as_str() }))
        .collect::<Vec<_>>()
        .join("; ")
}
