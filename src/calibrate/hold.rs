//! The sustained capacity: what the scenario's peak holds for as long as the peak lasts. A
//! 3-second step's knee overstates it (on SQLite, 0.92 of the knee went down with no fault
//! within the two-hour peak, 0.83 held: docs/measurements/2026-11-26-capacity-checkout-peak.md):
//! over minutes, checkpoints, vacuum and the host's stalls come, and the shoppers' retries turn
//! a stall into an outage. So the rate is held flat for the peak's own length, with the
//! scenario's speed, retries, timeouts and alert rules and no fault, from [`FIRST`] of the knee
//! down by [`STEP`] at a time, then once halfway back up ([`next_fraction`]); the highest rate
//! at which checkout never goes down — as a run's outcome reads it: most shoppers unable to buy
//! over 5 incident minutes — is the sustained capacity, the same test the no-faults control
//! applies to the peak. Alerts are not the test:
//! on SQLite (2 cores) p99 alerts fired in holds at every fraction from 0.95 down to 0.70 of
//! the knee, at 0.70 and 0.80 with no shopper lost, so "no alert" held nowhere
//! (docs/measurements/2026-12-06-report-interrupt.md).
//!
//! With a change, the holds ask what the story asks of it: the change goes in as the hold
//! reaches its rate, as the scenario sends it at the peak, so its build's stall takes checkout
//! down; the hold climbed out when checkout was down for less than 90% of the minutes after (a
//! run's `held` checkpoint asks 90% or more). The highest rate, from a step under the sustained
//! fraction down, from which checkout climbs out is what the peak sustains with the change:
//! above it, the change keeps an outage going once one started. (With the change built before
//! the hold, a hold measured only whether the host's own stalls start an outage: on SQLite
//! 1,550/s held that way, while runs at 1,632/s climbed out after the builds;
//! docs/measurements/2026-12-06-hold-search.md.)

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::Windows;
use crate::analysis::{AlertEvaluator, FOCUS_OP, story};
use crate::faults::Fault;
use crate::replay::{ProgressSink, Replay};
use crate::results::{CapacityHold, WindowRow};
use crate::scenario::{ClockTime, FaultStep, LoadCurve, LoadUnit, Scenario};
use crate::store::Store;

/// The first hold, as a fraction of the knee: 0.90 and 0.95 went down in the four first-run
/// calibrations of 2026-12-06 13:28–16:48 on SQLite (one that morning, of an earlier design of
/// the scenario, would have held at 0.95: the step above a first hold that held covers that).
pub const FIRST: f64 = 0.85;
/// Each hold that went down is followed by one this many times lower: the knee overstated the
/// sustained rate by 1.18 to 1.61 times in five calibrations on one quiet machine within four
/// hours (SQLite, 2026-12-06: knees 2,400 to 4,200/s, sustained 2,040 to 2,730/s).
pub const STEP: f64 = 0.90;
/// No hold below this (of the knee): a machine that holds less is too busy to measure on.
pub const LOWEST: f64 = 0.40;

/// No hold with a fault below this (of the knee without it): a change that leaves the peak
/// less than a quarter of the knee needs no finer figure.
pub const LOWEST_WITH_FAULT: f64 = 0.25;

/// The next fraction of the knee to hold after `done`, or `None` when the search is over: from
/// `first` down by [`STEP`] while holds go down (not under `lowest`), then once more: halfway
/// (in ratio) between the first that held and the one above it that went down, so the
/// sustained rate is known to about 5% with one hold rather than three at 5% steps; or, when
/// the first hold held, one step above it.
pub fn next_fraction(first: f64, lowest: f64, done: &[CapacityHold]) -> Option<f64> {
    let Some(last) = done.last() else {
        return Some(hundredths(first));
    };
    match (done.iter().filter(|h| h.held).count(), last.held) {
        (0, _) => Some(hundredths(last.fraction * STEP)).filter(|f| *f >= lowest - 1e-9),
        (1, true) => {
            let above = done
                .iter()
                .filter(|h| !h.held && h.fraction > last.fraction)
                .map(|h| h.fraction)
                .reduce(f64::min);
            let Some(above) = above else {
                return Some(hundredths(last.fraction / STEP));
            };
            let middle = hundredths((last.fraction * above).sqrt());
            (middle > last.fraction && middle < above).then_some(middle)
        }
        _ => None,
    }
}

/// The most holds a search from `first` can take: every hold down to `lowest` went down but
/// the last, and the one between it and the hold above. (The fewest is two.)
pub fn most_holds(first: f64, lowest: f64) -> usize {
    let mut done = Vec::new();
    while let Some(fraction) = next_fraction(first, lowest, &done) {
        done.push(CapacityHold {
            fraction,
            rate_per_s: 0.0,
            real_secs: 0.0,
            held: false,
            why: String::new(),
            shoppers_lost: None,
        });
    }
    done.len() + 1
}

/// The fraction the holds with a fault start from: one [`STEP`] under the sustained fraction
/// without it. A hold with the fault at the rate held without it would only say what the
/// change costs is not negative.
pub fn first_with_fault(sustained_without: f64) -> f64 {
    sustained_without * STEP
}

/// A hold's outcome in a word: held or went down, or with a change, climbed out or stayed down.
pub fn verdict(held: bool, with_change: bool) -> &'static str {
    match (held, with_change) {
        (true, false) => "held",
        (false, false) => "went down",
        (true, true) => "climbed out",
        (false, true) => "stayed down",
    }
}

/// The hold that gives the sustained rate: the highest that held.
pub fn sustained(holds: &[CapacityHold]) -> Option<&CapacityHold> {
    holds
        .iter()
        .filter(|h| h.held)
        .max_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s))
}

/// Rounded to the hundredth, so capacity.json says 0.8, not 0.7999999999999999.
fn hundredths(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
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
pub(crate) fn ramp_real_secs(real_secs: f64) -> f64 {
    real_secs / 6.0
}

/// The scenario held flat at `rate` arrivals/s for `real_secs`, after a ramp from 0.3 of it:
/// its own speed, window, retries, limits and alert rules; no fault but `change`, sent as the
/// ramp ends and never rolled back.
pub fn hold_scenario(scenario: &Scenario, rate: f64, real_secs: f64, change: Option<&str>) -> Scenario {
    let mut s = scenario.clone();
    let start = ClockTime::from_secs(12 * 3600);
    let ramp = (ramp_real_secs(real_secs) * s.clock.speed) as u32;
    s.clock.start = start;
    s.clock.end = ClockTime::from_secs(start.secs() + ramp + (real_secs * s.clock.speed) as u32);
    s.load = LoadCurve {
        unit: LoadUnit::ArrivalsPerSecond,
        points: vec![(start, 0.3 * rate), (ClockTime::from_secs(start.secs() + ramp), rate)],
    };
    s.faults = change
        .map(|name| FaultStep {
            name: name.to_string(),
            apply: ClockTime::from_secs(start.secs() + ramp),
            before_start: false,
            rollback: None,
            guard: scenario.faults.iter().find(|f| f.name == name).and_then(|f| f.guard),
            rollback_after_alert: None,
        })
        .into_iter()
        .collect();
    s.story = None;
    s
}

/// Holds `fraction` of `knee` on `store`, `change` sent as the rate is reached, and judges it:
/// held when checkout never went down, or with a change, when it climbed out.
pub async fn hold<S: Store>(
    store: &Arc<S>,
    scenario: &Scenario,
    (knee, fraction): (f64, f64),
    change: Option<&Fault>,
) -> Result<CapacityHold> {
    let real_secs = peak_real_secs(scenario);
    let s = hold_scenario(scenario, knee * fraction, real_secs, change.map(|f| f.name.as_str()));
    let windows = Windows::default();
    // Minutes of work: a progress bar, or a plain line every 10 s in a CI log.
    let progress = ProgressSink::new(crate::replay::windows_in(&s), s.run.window);
    let ending = Replay::new(&s, store.clone(), change.into_iter().cloned().collect(), None)
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

/// A hold held when checkout never went down; with a change, when it climbed out: down for
/// less than the story's share of the minutes from going down to the end (the test a run's
/// `held` checkpoint applies, so a hold that stayed down is one a story would count as held).
/// When it first went down, and the alerts that fired, are named either way.
pub fn judge(fraction: f64, rate_per_s: f64, real_secs: f64, s: &Scenario, rows: &[WindowRow]) -> CapacityHold {
    let checkout: Vec<&WindowRow> = rows.iter().filter(|w| w.op == FOCUS_OP).collect();
    let served = story::smoothed_served(&checkout);
    let first_down = served.iter().position(|(_, share)| *share < story::DOWN_BELOW);
    let down_share = first_down.map(|i| {
        let after = &served[i..];
        after.iter().filter(|(_, share)| *share < story::DOWN_BELOW).count() as f64 / after.len() as f64
    });
    let held = down_share.is_none_or(|share| !s.faults.is_empty() && share < story::HELD_SHARE);
    let mut why: Vec<String> = first_down
        .map(|i| format!("down at {}", story::clock(served[i].0)))
        .into_iter()
        .chain(
            down_share
                .filter(|_| !s.faults.is_empty())
                .map(|share| format!("down for {:.0}% of the minutes after", share * 100.0)),
        )
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
        held,
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

    fn done(holds: &[(f64, bool)]) -> Vec<CapacityHold> {
        holds
            .iter()
            .map(|&(fraction, held)| CapacityHold {
                fraction,
                rate_per_s: 1000.0 * fraction,
                real_secs: 150.0,
                held,
                why: String::new(),
                shoppers_lost: None,
            })
            .collect()
    }

    #[test]
    fn the_most_holds_are_every_step_down_and_one_between() {
        // 0.85, 0.77, 0.69, 0.62, 0.56, 0.50, 0.45, 0.41, then one between the last two.
        assert_eq!(most_holds(FIRST, LOWEST), 9);
        assert_eq!(most_holds(0.50, 0.45), 3);
    }

    #[test]
    fn holds_go_down_by_a_ratio_then_halve_the_last_gap_once() {
        let next = |h: &[(f64, bool)]| next_fraction(FIRST, LOWEST, &done(h));
        assert_eq!(next(&[]), Some(0.85));
        assert_eq!(next(&[(0.85, false)]), Some(0.77));
        assert_eq!(next(&[(0.85, false), (0.77, false)]), Some(0.69));
        // Held at 0.69 under 0.77 that went down: once between them, then done either way.
        assert_eq!(next(&[(0.85, false), (0.77, false), (0.69, true)]), Some(0.73));
        assert_eq!(next(&[(0.77, false), (0.69, true), (0.73, true)]), None);
        assert_eq!(next(&[(0.77, false), (0.69, true), (0.73, false)]), None);
        // The first held: one step above it, then done either way.
        assert_eq!(next(&[(0.85, true)]), Some(0.94));
        assert_eq!(next(&[(0.85, true), (0.94, false)]), None);
        assert_eq!(next(&[(0.85, true), (0.94, true)]), None);
        // Down to the lowest, not under it: a machine that holds less is not measured on.
        assert_eq!(next(&[(0.44, false)]), Some(0.40));
        assert_eq!(next(&[(0.42, false)]), None);
        assert_eq!(
            sustained(&done(&[(0.77, false), (0.69, true), (0.73, true)]))
                .unwrap()
                .fraction,
            0.73
        );
        assert!(sustained(&done(&[(0.85, false)])).is_none());
    }

    #[test]
    fn holds_with_a_fault_start_a_step_under_the_sustained_fraction() {
        assert!((first_with_fault(0.85) - 0.765).abs() < 1e-9);
        assert_eq!(
            next_fraction(first_with_fault(0.85), LOWEST_WITH_FAULT, &[]),
            Some(0.77)
        );
    }

    #[test]
    fn a_hold_lasts_the_peak_and_keeps_the_scenarios_retries_and_alerts() {
        let s = Scenario::load(std::path::Path::new("workloads/checkout-peak.toml")).unwrap();
        let secs = peak_real_secs(&s);
        assert!((10.0..=300.0).contains(&secs), "{secs}");
        let h = hold_scenario(&s, 1000.0, secs, None);
        assert_eq!(h.checkout.retries, s.checkout.retries);
        assert_eq!(h.alerts, s.alerts);
        assert!(h.faults.is_empty() && h.story.is_none());
        assert_eq!(h.load.max_value(), 1000.0);
    }

    #[test]
    fn a_change_goes_in_as_the_rate_is_reached_and_a_hold_that_climbed_out_held() {
        let s = Scenario::load(std::path::Path::new("workloads/checkout-peak.toml")).unwrap();
        let h = hold_scenario(&s, 1000.0, 90.0, Some("reporting-indexes"));
        let change = &h.faults[..];
        assert_eq!(change.len(), 1);
        let reached = h.load.points[1].0;
        assert_eq!((change[0].apply, change[0].rollback), (reached, None));
        let row = |t: u32, completed: u64, gave_up: u64| WindowRow {
            clock: ClockTime::from_secs(t).to_string(),
            op: FOCUS_OP.into(),
            completed,
            gave_up,
            ..WindowRow::default()
        };
        // One window a minute; down from the change for `minutes`, then up to the end.
        let down_for = |minutes: u32| -> Vec<WindowRow> {
            (h.clock.start.secs()..h.clock.end.secs())
                .step_by(60)
                .map(|t| {
                    let down = t > reached.secs() && t <= reached.secs() + minutes * 60;
                    if down { row(t, 0, 10) } else { row(t, 10, 0) }
                })
                .collect()
        };
        // The flat part is 90 incident minutes: down for 60 of them climbed out, for all did not.
        let climbed = judge(0.7, 1000.0, 90.0, &h, &down_for(60));
        assert!(climbed.held, "{climbed:?}");
        assert!(climbed.why.starts_with("down at") && climbed.why.contains("% of the minutes after"));
        let stayed = judge(0.7, 1000.0, 90.0, &h, &down_for(90));
        assert!(!stayed.held, "{stayed:?}");
        // Without a change, any time down fails a hold.
        let plain = hold_scenario(&s, 1000.0, 90.0, None);
        assert!(!judge(0.7, 1000.0, 90.0, &plain, &down_for(10)).held);
    }
}
