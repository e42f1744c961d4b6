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

/// The holds of a calibration, and the sustained capacity they found: without a fault the one
/// runs take, with one the change's cost in the same units.
fn holds(cal: &crate::results::Calibration, sustained_without: Option<f64>) -> String {
    let Some(last) = cal.holds.last() else {
        return String::new();
    };
    let tried: Vec<String> = cal
        .holds
        .iter()
        .map(|h| {
            format!(
                "{:.2} {}",
                h.fraction,
                calibrate::hold::verdict(h.held, cal.fault.is_some())
            )
        })
        .collect();
    match (cal.sustained_per_s, &cal.fault, sustained_without) {
        (Some(per_s), None, _) => format!(
            "  sustained for the peak ({:.0} s, never down): {per_s:.0} arrivals/s, {:.2} of the knee (holds: {}); \
             runs take this as the capacity\n",
            last.real_secs,
            per_s / cal.knee_per_s.max(1e-9),
            tried.join(", ")
        ),
        (Some(per_s), Some(name), Some(without)) => format!(
            "  sustained with {name} sent at the peak (checkout climbed out after it): {per_s:.0} arrivals/s \
             (holds, of the knee without it: {}): {:.2} of the sustained capacity without it, so it costs \
             c = {:.2} of what the peak sustains\n",
            tried.join(", "),
            per_s / without,
            1.0 - per_s / without
        ),
        (None, None, _) => format!(
            "  no rate down to {:.2} of the knee held for the peak ({}): the machine is too busy or noisy to \
             measure on; runs will not take this calibration\n",
            last.fraction,
            tried.join(", ")
        ),
        (_, Some(name), _) => format!(
            "  with {name} sent at the peak checkout climbed out at no rate down to {:.2} of the knee without \
             it ({})\n",
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
    let sustained_without = c.calibrations.first().and_then(|b| b.sustained_per_s);
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
        out += &holds(cal, sustained_without);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Calibration, CapacityHold};

    fn calibration(fault: Option<&str>, knee: f64, holds: &[(f64, bool)]) -> Calibration {
        let holds: Vec<CapacityHold> = holds
            .iter()
            .map(|&(fraction, held)| CapacityHold {
                fraction,
                rate_per_s: 4000.0 * fraction,
                real_secs: 150.0,
                held,
                why: String::new(),
                shoppers_lost: None,
            })
            .collect();
        Calibration {
            fault: fault.map(String::from),
            knee_per_s: knee,
            spread: 1.0,
            knees: vec![knee],
            steps: vec![],
            closed_loop_per_s: vec![],
            sustained_per_s: crate::calibrate::hold::sustained(&holds).map(|h| h.rate_per_s),
            holds,
        }
    }

    #[test]
    fn the_change_costs_what_the_peak_sustains_with_it_against_without() {
        let without = calibration(None, 4000.0, &[(0.95, false), (0.85, true)]);
        let with = calibration(Some("idx"), 3000.0, &[(0.80, false), (0.60, true)]);
        let text = holds(&with, without.sustained_per_s);
        assert!(
            text.contains("sustained with idx sent at the peak (checkout climbed out after it): 2400 arrivals/s"),
            "{text}"
        );
        assert!(
            text.contains("0.71 of the sustained capacity without it, so it costs c = 0.29"),
            "{text}"
        );
        assert!(holds(&without, None).contains("runs take this as the capacity"));
        let never = calibration(Some("idx"), 3000.0, &[(0.30, false)]);
        assert!(holds(&never, without.sustained_per_s).contains("climbed out at no rate down to 0.30"));
    }
}
