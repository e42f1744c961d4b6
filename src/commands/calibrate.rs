//! `outage-sim calibrate`: builds the calibration plan from the command line, hands it to the
//! calibrate stage, and prints what it found.

use std::process::ExitCode;

use anyhow::Result;

use super::BadInput;
use crate::calibrate::measure::{CalibrationPlan, calibrate_and_write};
use crate::calibrate::{self, Slo};
use crate::cli::CalibrateArgs;
use crate::faults;
use crate::results::Capacity;
use crate::scenario::Scenario;

pub async fn calibrate(args: CalibrateArgs) -> Result<ExitCode> {
    let database = super::database(&args.db)?;
    let scenario = Scenario::load(&args.scenario)?;
    let fault = match (&args.fault, &args.fault_dir) {
        (Some(name), _) => Some(faults::find(database.dialect(), name).map_err(|e| BadInput(format!("--fault: {e}")))?),
        (None, Some(dir)) => Some(faults::migration_dir::load(dir).map_err(BadInput)?),
        (None, None) => None,
    };
    let plan = CalibrationPlan {
        slo: Slo::of(&scenario, args.slo_p99_ms, args.slo_success),
        scenario,
        database,
        fault,
        repeat: args.repeat,
        step_ms: args.step_ms,
        out: args.out.clone(),
    };
    let (dir, capacity) = calibrate_and_write(&plan).await?;
    print!("{}", summary(&capacity));
    println!("written: {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The holds of a calibration without a fault, and the sustained capacity they found.
fn holds(cal: &crate::results::Calibration) -> String {
    let Some(last) = cal.holds.last() else {
        return String::new();
    };
    let tried: Vec<String> = cal
        .holds
        .iter()
        .map(|h| format!("{:.2} {}", h.fraction, if h.held { "held" } else { "went down" }))
        .collect();
    match cal.sustained_per_s {
        Some(per_s) => format!(
            "  sustained for the peak ({:.0} s with its retries, never down): {per_s:.0} arrivals/s, {:.2} of the \
             knee (holds: {}); runs take this as the capacity\n",
            last.real_secs,
            per_s / cal.knee_per_s.max(1e-9),
            tried.join(", ")
        ),
        None => format!(
            "  no rate down to {:.2} of the knee held for the peak ({}): the machine is too busy or noisy to \
             measure on; runs will not take this calibration\n",
            last.fraction,
            tried.join(", ")
        ),
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
        if let Some(warning) = calibrate::spread_warning(&cal.knees) {
            out += &format!("    {warning}\n");
        }
        out += &holds(cal);
    }
    if let [none, with, ..] = &c.calibrations[..]
        && !none.closed_loop_per_s.is_empty()
        && !with.closed_loop_per_s.is_empty()
    {
        let median = |v: &[f64]| calibrate::median_and_spread(v).0;
        let closed = median(&with.closed_loop_per_s) / median(&none.closed_loop_per_s);
        out += &format!(
            "  closed loop, the same mix: {:.0}/s without, {:.0}/s with {}: {closed:.2} (the knees: {:.2})\n",
            median(&none.closed_loop_per_s),
            median(&with.closed_loop_per_s),
            with.fault.as_deref().unwrap_or(""),
            with.knee_per_s / none.knee_per_s.max(1e-9)
        );
    }
    match c.host {
        Some(h) if h.busy() => {
            out += &format!(
                "  the machine was busy while it measured ({}): this capacity may be low, and runs will \
                 not take it; calibrate again when the machine is quiet (or: run SCENARIO --capacity N)\n",
                h.describe()
            )
        }
        Some(h) => {
            out += &format!("  the machine was quiet while it measured ({})\n", h.describe());
            out += "  runs of this workload on this database take it from now on (or: run SCENARIO --capacity N)\n";
        }
        None => out += "  runs of this workload on this database take it from now on (or: run SCENARIO --capacity N)\n",
    }
    out
}
