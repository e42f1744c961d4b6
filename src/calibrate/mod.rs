//! Calibration: the highest open-loop rate of the scenario's mix the store serves within the
//! SLO, found by steps (Nighthawk's adaptive load controller is the model): the rate grows
//! exponentially until a step breaks the SLO, then is bisected between the last step that met
//! it and the first that did not. Each step is a short replay at a flat rate — the real engine,
//! store and recorder — with a warm-up window, then a measured one. The search is repeated, and
//! the knee is the median of the searches, with their spread. Then the knee's fractions are
//! held for the scenario's peak ([`hold`]): the highest that holds is the sustained capacity
//! runs take.

pub mod cached;
pub mod headroom;
pub mod hold;
pub mod host;
pub mod measure;
mod source;

pub use source::source_for;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::replay::{Replay, Sink, Window};
use crate::scenario::{AlertMetric, ClockTime, LoadCurve, LoadUnit, Op, Scenario};
use crate::store::Store;
use crate::traffic::ArrivalSchedule;

/// The service level a step must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// Checkout p99 at most this (milliseconds).
    pub p99_ms: f64,
    /// Checkout success ratio at least this.
    pub success: f64,
}

impl Slo {
    /// The scenario's checkout alert thresholds (p99 above, success below), or the defaults
    /// of its request timeout and 0.99 where it has no such rule; `p99_ms` and `success`
    /// override them.
    pub fn of(scenario: &Scenario, p99_ms: Option<f64>, success: Option<f64>) -> Slo {
        let rule = |metric: AlertMetric| {
            scenario
                .alerts
                .iter()
                .find(|r| r.op == Op::Checkout && r.metric == metric)
                .map(|r| r.threshold)
        };
        Slo {
            p99_ms: p99_ms
                .or(rule(AlertMetric::P99Ms))
                .unwrap_or(scenario.limits.request_timeout.as_secs_f64() * 1000.0),
            success: success.or(rule(AlertMetric::SuccessRatio)).unwrap_or(0.99),
        }
    }
}

pub use crate::results::CapacityStep as Step;

/// How steps are run and the search is bounded.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub slo: Slo,
    /// Each step warms up for one window this long, then measures one.
    pub step: Duration,
    /// The first rate tried.
    pub start_per_s: f64,
    /// Bisection stops when the bracket is narrower than this fraction of its low end.
    pub resolution: f64,
    /// At most this many steps per search.
    pub max_steps: usize,
    /// Which search this is (1-based), for the steps' record.
    pub search: usize,
}

/// One search's steps and the knee it found (the highest rate that passed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub knee_per_s: f64,
    pub steps: Vec<Step>,
}

/// Judges a step's measured window: the generator kept up (≥ 98% of the arrivals it was
/// meant to send) and checkout met the SLO.
pub fn judge(offered_per_s: f64, intended: u64, window: &Window, slo: &Slo) -> Step {
    // Steps run at speed 1: the window's incident seconds are real seconds.
    let secs = window.sim_secs;
    let sent: u64 = window.rows.iter().map(|r| r.offered).sum();
    let c = window.op(Op::Checkout);
    let success = if c.offered > 0 {
        c.ok as f64 / c.offered as f64
    } else {
        0.0
    };
    let mut why = Vec::new();
    if (sent as f64) < 0.98 * intended as f64 {
        why.push(format!(
            "the generator sent {sent} of {intended} arrivals (invalid step)"
        ));
    }
    if success < slo.success {
        why.push(format!("checkout success {success:.3} < {}", slo.success));
    }
    match c.p99_ms {
        Some(p) if p > slo.p99_ms => why.push(format!("checkout p99 {p:.0} ms > {} ms", slo.p99_ms)),
        None if c.offered > 0 => why.push("no checkout finished".into()),
        _ => {}
    }
    Step {
        search: 0,
        offered_per_s,
        achieved_per_s: sent as f64 / secs,
        success,
        p50_ms: c.p50_ms,
        p99_ms: c.p99_ms,
        passed: why.is_empty(),
        why: why.join("; "),
    }
}

/// The scenario as one step: `rate` arrivals/s of its mix, flat, for two windows of `step`,
/// at speed 1, no faults, no alerts, no retries (every attempt is an arrival).
pub fn step_scenario(scenario: &Scenario, rate: f64, step: Duration) -> Scenario {
    let mut s = scenario.clone();
    let start = ClockTime::from_secs(12 * 3600);
    s.clock.start = start;
    s.clock.end = ClockTime::from_secs(start.secs() + 2 * step.as_secs().max(1) as u32);
    s.clock.speed = 1.0;
    s.load = LoadCurve {
        unit: LoadUnit::ArrivalsPerSecond,
        points: vec![(start, rate)],
    };
    s.run.window = Duration::from_secs(step.as_secs().max(1));
    s.checkout.retries = 0;
    s.faults.clear();
    s.alerts.clear();
    s
}

/// Keeps the windows a step publishes.
#[derive(Clone, Default)]
struct Windows(Arc<Mutex<Vec<Window>>>);

impl Sink for Windows {
    fn window(&mut self, w: &Window) -> Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(w.clone());
        Ok(())
    }
}

/// Runs one step on `store` and judges its measured (second) window.
pub async fn step<S: Store>(store: &Arc<S>, scenario: &Scenario, rate: f64, plan: &Plan) -> Result<Step> {
    let s = step_scenario(scenario, rate, plan.step);
    let windows = Windows::default();
    let ending = Replay::new(&s, store.clone(), vec![], None)
        .run(vec![Box::new(windows.clone())])
        .await?;
    anyhow::ensure!(ending == crate::replay::Ending::Completed, "calibration interrupted");
    let windows = windows.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let measured = windows
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("a calibration step at {rate:.0}/s closed no measured window"))?;
    let w = s.run.window;
    let intended = ArrivalSchedule::new(s.load.clone(), s.clock.clone(), &s.mix, s.run.seed)
        .filter(|a| a.offset >= w && a.offset < 2 * w)
        .count() as u64;
    Ok(judge(rate, intended, measured, &plan.slo))
}

/// One search: doubling from `start_per_s` until a rate fails (its step failed twice), then
/// bisecting. `run_step`
/// runs and judges the step at a rate (on a store that the caller restores first, so no step
/// inherits what an earlier one did to the data); `shown` is told of each step as it ends.
pub async fn search(
    plan: &Plan,
    mut run_step: impl AsyncFnMut(f64) -> Result<Step>,
    shown: &mut dyn FnMut(&Step),
) -> Result<Search> {
    let mut steps = Vec::new();
    let (mut pass, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = plan.start_per_s;
    while steps.len() < plan.max_steps {
        let mut s = run_step(rate).await?;
        s.search = plan.search;
        shown(&s);
        if !s.passed && steps.len() + 1 < plan.max_steps {
            // A stall of the shared host can fail a step but never pass one, so a rate fails
            // only when its step fails twice in a row.
            steps.push(s);
            s = run_step(rate).await?;
            s.search = plan.search;
            shown(&s);
        }
        if s.passed {
            pass = Some(rate);
        } else {
            fail = Some(rate);
        }
        steps.push(s);
        rate = match (pass, fail) {
            (_, None) => rate * 2.0,
            (None, Some(_)) => break,
            (Some(lo), Some(hi)) if (hi - lo) / lo <= plan.resolution => break,
            (Some(lo), Some(hi)) => (lo + hi) / 2.0,
        };
    }
    match pass {
        Some(knee) => Ok(Search {
            knee_per_s: knee,
            steps,
        }),
        None => anyhow::bail!(
            "calibration: even {:.0} arrivals/s broke the SLO ({}); nothing passed",
            plan.start_per_s,
            steps.first().map_or("", |s| s.why.as_str())
        ),
    }
}

/// Searches farther apart than this (max / min) say the machine's own speed moved while they
/// ran: a fixed CPU reference alone drifted 1.17–1.26 within one run on this repo's 2-core VMs.
pub const WIDE_SPREAD: f64 = 1.2;

/// A warning for knees that spread wider than [`WIDE_SPREAD`]: their median is not a figure to
/// trust to the percent, and a run's load on it is uncertain by as much.
pub fn spread_warning(knees: &[f64]) -> Option<String> {
    let (median, spread) = median_and_spread(knees);
    let (lo, hi) = knees
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    (knees.len() > 1 && spread > WIDE_SPREAD).then(|| {
        format!(
            "warning: the searches spread {spread:.2} ({lo:.0}–{hi:.0}/s): the machine's speed moved while \
             they ran, so a load on the median ({median:.0}/s) is uncertain by as much; calibrate again \
             when the machine is quiet, or with --repeat 5"
        )
    })
}

/// The median of the knees and their spread (max / min).
pub fn median_and_spread(knees: &[f64]) -> (f64, f64) {
    let mut k = knees.to_vec();
    k.sort_by(f64::total_cmp);
    let n = k.len();
    if n == 0 {
        return (0.0, 1.0);
    }
    let median = if n % 2 == 1 {
        k[n / 2]
    } else {
        (k[n / 2 - 1] + k[n / 2]) / 2.0
    };
    (median, k[n - 1] / k[0].max(1e-9))
}

#[cfg(test)]
mod tests;
