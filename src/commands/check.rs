//! `outage-sim check`: validate a scenario, touch nothing.

use std::path::Path;
use std::process::ExitCode;

use crate::faults;
use crate::scenario::Scenario;

use super::BadInput;

/// Loads a scenario and makes sure every fault it names exists for SQLite.
pub fn load_checked(path: &Path, dialect: &str) -> anyhow::Result<(Scenario, Vec<faults::Fault>)> {
    let scenario = Scenario::load(path)?;
    let faults = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            faults::find(dialect, &f.name).map_err(|e| BadInput(format!("{}: faults[{i}].name: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((scenario, faults))
}

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let (s, _) = load_checked(path, "sqlite")?;
    println!(
        "{}: ok — {} to {} at {}x ({:.0} s real), {} fault(s), {} alert rule(s)",
        path.display(),
        s.clock.start,
        s.clock.end,
        s.clock.speed,
        s.clock.real_duration().as_secs_f64(),
        s.faults.len(),
        s.alerts.len()
    );
    Ok(ExitCode::SUCCESS)
}
