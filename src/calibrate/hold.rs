//! The sustained capacity: what the scenario's peak holds for as long as the peak lasts. A
//! 3-second step's knee overstates it (on SQLite, 0.92 of the knee went down with no fault
//! within the two-hour peak, 0.83 held: docs/measurements/2026-11-26-capacity-checkout-peak.md):
//! over minutes, checkpoints, vacuum and the host's stalls come, and the shoppers' retries turn
//! a stall into an outage. So the rate is held flat for the peak's own length, with the
//! scenario's speed, retries, timeouts and alert rules and no fault, from [`FIRST`] of the knee
//! down in steps of [`STEP`]; the first rate at which checkout never goes down — as a run's
//! outcome reads it: most shoppers unable to buy over 5 incident minutes — is the sustained
//! capacity, the same test the no-faults control applies to the peak. Alerts are not the test:
//! on SQLite (2 cores) p99 alerts fired in holds at every fraction from 0.95 down to 0.70 of
//! the knee, at 0.70 and 0.80 with no shopper lost, so "no alert" held nowhere
//! (docs/measurements/2026-12-06-report-interrupt.md).
//!
//! With a fault, the same holds run with it in place, from a step under the sustained fraction
//! down: the first that holds is what the peak sustains with the change, so its cost is in the
//! units a peak is a fraction of.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::Windows;
use crate::analysis::{AlertEvaluator, FOCUS_OP, story};
use crate::replay::{ProgressSink, Replay};
use crate::results::{CapacityHold, WindowRow};
use crate::scenario::{ClockTime, LoadCurve, LoadUnit, Scenario};
use crate::store::Store;

/// The first hold, as a fraction of the knee: the knee itself is the edge of the SLO for 3 s.
pub const FIRST: f64 = 0.95;
/// Each hold that went down is followed by one this much lower (of the knee).
pub const STEP: f64 = 0.05;
/// No hold below this: a machine that holds less is too busy to measure on.
pub const LOWEST: f64 = 0.70;

/// No hold with a fault in place below this (of the knee without it): a change that takes
/// more than two thirds of the capacity needs no finer figure.
pub const LOWEST_WITH_FAULT: f64 = 0.30;

/// The fractions of the knee held, in order.
pub fn fractions() -> impl Iterator<Item = f64> {
    steps_down(FIRST, LOWEST)
}

/// The fractions of the knee held with a fault in place, in order: one [`STEP`] under the
/// sustained fraction without it, down. A hold with the fault at the rate held without it
/// would only say what the change costs is not negative.
pub fn fractions_with_fault(sustained_without: f64) -> impl Iterator<Item = f64> {
    steps_down(sustained_without - STEP, LOWEST_WITH_FAULT)
}

fn steps_down(first: f64, lowest: f64) -> impl Iterator<Item = f64> {
    // Rounded to the hundredth, so capacity.json says 0.8, not 0.7999999999999999.
    (0..)
        .map(move |i| ((first - STEP * f64::from(i)) * 100.0).round() / 100.0)
        .take_while(move |f| *f >= lowest - 1e-9)
}

/// Real seconds the scenario's peak lasts: the span its load is within 5% of its highest value,
/// at its speed (at least 10 s, at most 300 s).
pub fn peak_real_secs(s: &Scenario) -> f64 {
    let (from, to) = (s.clock.start.secs(), s.clock.end.secs());
    let top = s.load.max_value();
    let at_peak = (from..to)
        .filter(|t| s.load.value_at(f64::from(*t)) >= 0.95 * top)
        .count();
    (at_peak as f64 / s.clock.speed).clamp(10.0, 300.0)
}

/// Real seconds of the ramp before a hold: a sixth of the hold.
fn ramp_real_secs(real_secs: f64) -> f64 {
    real_secs / 6.0
}

/// The scenario held flat at `rate` arrivals/s for `real_secs`, after a ramp from 0.3 of it:
/// its own speed, window, retries, limits and alert rules, no fault.
pub fn hold_scenario(scenario: &Scenario, rate: f64, real_secs: f64) -> Scenario {
    let mut s = scenario.clone();
    let start = ClockTime::from_secs(12 * 3600);
    let ramp = (ramp_real_secs(real_secs) * s.clock.speed) as u32;
    s.clock.start = start;
    s.clock.end = ClockTime::from_secs(start.secs() + ramp + (real_secs * s.clock.speed) as u32);
    s.load = LoadCurve {
        unit: LoadUnit::ArrivalsPerSecond,
        points: vec![(start, 0.3 * rate), (ClockTime::from_secs(start.secs() + ramp), rate)],
    };
    s.faults.clear();
    s.story = None;
    s
}

/// Holds `fraction` of `knee` on `store` and judges it: held when checkout never went down.
pub async fn hold<S: Store>(store: &Arc<S>, scenario: &Scenario, knee: f64, fraction: f64) -> Result<CapacityHold> {
    let real_secs = peak_real_secs(scenario);
    let s = hold_scenario(scenario, knee * fraction, real_secs);
    let windows = Windows::default();
    // Minutes of work: a progress bar, or a plain line every 10 s in a CI log.
    let progress = ProgressSink::new(crate::replay::windows_in(&s), s.run.window);
    let ending = Replay::new(&s, store.clone(), vec![], None)
        .run(vec![Box::new(windows.clone()), Box::new(progress)])
        .await?;
    anyhow::ensure!(ending == crate::replay::Ending::Completed, "calibration interrupted");
    let rows: Vec<WindowRow> = windows
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .flat_map(|w| w.rows.clone())
        .collect();
    Ok(judge(fraction, knee * fraction, real_secs, &s, &rows))
}

/// A hold held when checkout never went down over its windows; the alerts that fired are
/// named either way.
pub fn judge(fraction: f64, rate_per_s: f64, real_secs: f64, s: &Scenario, rows: &[WindowRow]) -> CapacityHold {
    let checkout: Vec<&WindowRow> = rows.iter().filter(|w| w.op == FOCUS_OP).collect();
    let down = story::smoothed_served(&checkout)
        .into_iter()
        .find(|(_, served)| *served < story::DOWN_BELOW);
    let mut why: Vec<String> = down
        .iter()
        .map(|(t, _)| format!("down at {}", story::clock(*t)))
        .collect();
    let fired = AlertEvaluator::spans(&s.alerts, rows);
    why.extend(fired.iter().map(|a| format!("{} at {}", a.name, a.fired)));
    let (lost, done) = checkout
        .iter()
        .fold((0, 0), |(l, d), w| (l + w.gave_up, d + w.completed + w.gave_up));
    CapacityHold {
        fraction,
        rate_per_s,
        real_secs,
        held: down.is_none(),
        why: why.join("; "),
        shoppers_lost: (done > 0).then(|| lost as f64 / done as f64),
    }
}

/// Real time a hold of `scenario` takes, for the progress line.
pub fn duration(scenario: &Scenario) -> Duration {
    let secs = peak_real_secs(scenario);
    Duration::from_secs_f64(secs + ramp_real_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_go_down_from_the_knee_in_steps_and_stop_at_the_lowest() {
        let f: Vec<f64> = fractions().collect();
        assert_eq!(f.len(), 6);
        assert!((f[0] - 0.95).abs() < 1e-9 && (f[5] - 0.70).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn holds_with_a_fault_start_a_step_under_the_sustained_fraction_and_go_lower() {
        let f: Vec<f64> = fractions_with_fault(0.85).collect();
        assert!((f[0] - 0.80).abs() < 1e-9, "{f:?}");
        assert!((f.last().unwrap() - LOWEST_WITH_FAULT).abs() < 1e-9, "{f:?}");
        assert_eq!(f.len(), 11);
    }

    #[test]
    fn a_hold_lasts_the_peak_and_keeps_the_scenarios_retries_and_alerts() {
        let s = Scenario::load(std::path::Path::new("workloads/checkout-peak.toml")).unwrap();
        let secs = peak_real_secs(&s);
        assert!((10.0..=300.0).contains(&secs), "{secs}");
        let h = hold_scenario(&s, 1000.0, secs);
        assert_eq!(h.checkout.retries, s.checkout.retries);
        assert_eq!(h.alerts, s.alerts);
        assert!(h.faults.is_empty() && h.story.is_none());
        assert_eq!(h.load.max_value(), 1000.0);
    }
}
