//! Reads a run's windows and events and says what happened: phases, alerts, the outage window,
//! time to detect / mitigate / recover, and the verdict. Reads only `results` rows.

mod alerts;
mod blocked;
pub mod story;

pub use alerts::{AlertEvaluator, AlertSpan, AlertTransition};
pub use blocked::{Blocked, LOCK_WAIT_METRICS, blocked};

use serde::{Deserialize, Serialize};

use crate::results::{EventKind, EventRow, Verdict, WindowRow, clock_secs, window_secs};
use crate::scenario::{AlertRule, Story};

/// The operation the incident is about.
pub const FOCUS_OP: &str = "checkout";

/// Checkout figures over one stretch of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    /// `before_fault`, `apply_locked` (the windows at least 90% inside the time the fault's DDL
    /// held its lock: from `fault_apply_locked` to `fault_apply_done`), `fault_active`,
    /// `after_rollback` or `last_10pct`.
    pub phase: String,
    pub from_clock: String,
    pub to_clock: String,
    pub windows: usize,
    /// Attempts per real second, retries included.
    pub offered_per_s: f64,
    pub ok_per_s: f64,
    /// ok / offered over the phase.
    pub success_ratio: f64,
    /// Median over the phase's windows of each window's p50 / p99, in milliseconds.
    pub median_p50_ms: Option<f64>,
    pub median_p99_ms: Option<f64>,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub op: String,
    pub phases: Vec<PhaseStats>,
    pub alerts: Vec<AlertSpan>,
    /// First and last window in which checkout was down: fewer than half of its shoppers could
    /// buy, over 5 incident minutes (`story::DOWN_BELOW`).
    pub outage: Option<(String, String)>,
    /// Where checkout was not down between those two windows: the first and last window of
    /// each gap (empty when the outage held without one).
    #[serde(default)]
    pub outage_gaps: Vec<(String, String)>,
    /// Checkout's shoppers, over the run and over the outage (`None` for runs older than the
    /// shopper columns).
    #[serde(default)]
    pub shoppers: Option<Shoppers>,
    /// Incident-clock minutes: fault applied → first alert.
    pub time_to_detect_min: Option<f64>,
    /// First alert → rollback sent.
    pub time_to_mitigate_min: Option<f64>,
    /// Rollback sent → every alert resolved (`None` when they resolved before the rollback).
    pub time_to_recover_min: Option<f64>,
    /// The alert rules judged, so a copied run can be judged again without its scenario.
    pub rules: Vec<AlertRule>,
    /// `pass` when rules were judged and none fired, `fail` when one did, `not_judged` when
    /// there were no rules.
    pub verdict: Verdict,
    /// Whether the run was gated (`--gate`, `validate`, `[gate]`), and so failed on `fail`.
    pub gated: bool,
    /// The gate's outcome: `off`, `pass`, or `fail` (a rule fired, or there were none to judge).
    #[serde(default)]
    pub gate: Gate,
    /// Faults that were sent and never applied (a failed migration, a guard out of tries): the
    /// run did not replay what it set out to.
    #[serde(default)]
    pub faults_not_applied: Vec<String>,
    /// How the run went: its class, when it went down, whether it held until the mitigation,
    /// and the `[story]` checkpoints scored.
    #[serde(default)]
    pub outcome: Option<story::Outcome>,
    /// The story the run was scored against, so a copied run can be scored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<Story>,
}

/// Checkout's shoppers: each one's first attempt and retries, ending completed or given up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shoppers {
    pub arrived: u64,
    pub completed: u64,
    /// Shoppers who ran out of attempts: they could not check out.
    pub gave_up: u64,
    /// `gave_up / (completed + gave_up)` over the run.
    pub lost_share: f64,
    /// The same share over the outage's windows (first to last); `None` without an outage.
    pub outage_lost_share: Option<f64>,
}

impl Shoppers {
    /// From the checkout rows of a run, and the outage's first and last window; `None` when the
    /// rows have no shopper columns.
    fn of(focus: &[&WindowRow], outage: Option<&(String, String)>) -> Option<Shoppers> {
        let sum = |rows: &mut dyn Iterator<Item = &&WindowRow>| {
            rows.fold(WindowRow::default(), |mut all, w| {
                all.add_counts(w);
                all
            })
        };
        let all = sum(&mut focus.iter());
        if all.shoppers == 0 {
            return None;
        }
        let outage_lost_share = outage
            .and_then(|(from, to)| sum(&mut focus.iter().filter(|w| w.clock >= *from && w.clock <= *to)).lost_share());
        Some(Shoppers {
            arrived: all.shoppers,
            completed: all.completed,
            gave_up: all.gave_up,
            lost_share: all.lost_share().unwrap_or(0.0),
            outage_lost_share,
        })
    }
}

/// The gaps between stretches of `down` windows: each gap's first and last window.
fn gaps(focus: &[&WindowRow], down: &[bool]) -> Vec<(String, String)> {
    let (Some(first), Some(last)) = (down.iter().position(|d| *d), down.iter().rposition(|d| *d)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut gap: Option<(usize, usize)> = None;
    for (i, d) in down.iter().enumerate().take(last + 1).skip(first) {
        match (*d, gap) {
            (false, None) => gap = Some((i, i)),
            (false, Some((from, _))) => gap = Some((from, i)),
            (true, Some((from, to))) => {
                out.push((focus[from].clock.clone(), focus[to].clock.clone()));
                gap = None;
            }
            (true, None) => {}
        }
    }
    out
}

/// What a gate made of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    #[default]
    Off,
    Pass,
    Fail,
}

impl Summary {
    /// Whether a gated run failed its gate.
    pub fn gate_failed(&self) -> bool {
        self.gate == Gate::Fail
    }
}

/// When the first fault that was really applied (its apply finished) was sent. A fault that
/// failed to apply (a migration with a syntax error) changed nothing, so it starts no phase
/// and detects nothing.
fn first_applied(events: &[EventRow]) -> Option<&EventRow> {
    events.iter().find(|sent| {
        sent.kind == EventKind::FaultApplySent
            && events
                .iter()
                .any(|e| e.kind == EventKind::FaultApplyDone && e.name == sent.name && e.t_s >= sent.t_s)
    })
}

/// The faults sent and never applied, each with the last failure it reported.
pub fn not_applied(events: &[EventRow]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for sent in events.iter().filter(|e| e.kind == EventKind::FaultApplySent) {
        let done = events
            .iter()
            .any(|e| e.kind == EventKind::FaultApplyDone && e.name == sent.name);
        if done || out.iter().any(|(n, _)| *n == sent.name) {
            continue;
        }
        let failure = events
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::FaultFailed && e.name == sent.name)
            .map_or_else(|| "it never finished".to_string(), |e| e.detail.clone());
        out.push((sent.name.clone(), failure));
    }
    out
}

/// When every alert had resolved (incident-clock seconds); `None` while one still fires, or
/// when none fired.
pub(crate) fn all_resolved_at(alerts: &[AlertSpan]) -> Option<f64> {
    if alerts.iter().any(|a| a.resolved.is_none()) {
        return None;
    }
    alerts
        .iter()
        .filter_map(|a| a.resolved.as_deref().map(clock_secs))
        .reduce(f64::max)
}

/// Real-time bounds of the fault: first apply sent, last rollback done (or the run's end).
fn fault_bounds(events: &[EventRow], end_s: f64) -> Option<(f64, f64)> {
    let applied = first_applied(events)?.t_s;
    let rolled = events
        .iter()
        .filter(|e| e.kind == EventKind::FaultRollbackDone)
        .map(|e| e.t_s)
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    Some((applied, rolled.unwrap_or(end_s)))
}

/// When the first fault's DDL got its lock and when it finished.
fn apply_lock_hold(events: &[EventRow]) -> Option<(f64, f64)> {
    let locked = events.iter().find(|e| e.kind == EventKind::FaultApplyLocked)?;
    let done = events
        .iter()
        .find(|e| e.kind == EventKind::FaultApplyDone && e.name == locked.name)?;
    Some((locked.t_s, done.t_s))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Checkout stats of the windows whose end lies in `(from_s, to_s]`.
pub fn phase_stats(name: &str, windows: &[&WindowRow], window_s: f64, from_s: f64, to_s: f64) -> PhaseStats {
    let rows: Vec<&&WindowRow> = windows
        .iter()
        .filter(|w| w.t_s > from_s && w.t_s <= to_s + 1e-9)
        .collect();
    let secs = rows.len() as f64 * window_s;
    let offered: u64 = rows.iter().map(|w| w.offered).sum();
    let ok: u64 = rows.iter().map(|w| w.ok).sum();
    let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    PhaseStats {
        phase: name.into(),
        from_clock: rows.first().map(|w| w.clock.clone()).unwrap_or_default(),
        to_clock: rows.last().map(|w| w.clock.clone()).unwrap_or_default(),
        windows: rows.len(),
        offered_per_s: per_s(offered),
        ok_per_s: per_s(ok),
        success_ratio: if offered > 0 { ok as f64 / offered as f64 } else { 1.0 },
        median_p50_ms: median(rows.iter().filter_map(|w| w.p50_ms).collect()),
        median_p99_ms: median(rows.iter().filter_map(|w| w.p99_ms).collect()),
    }
}

/// Everything `summary.json` holds, from a run's rows, its alert rules and whether it was gated.
pub fn summarize(
    windows: &[WindowRow],
    events: &[EventRow],
    rules: &[AlertRule],
    story: Option<&Story>,
    gated: bool,
) -> Summary {
    let focus: Vec<&WindowRow> = windows.iter().filter(|w| w.op == FOCUS_OP).collect();
    let end_s = focus.last().map(|w| w.t_s).unwrap_or(0.0);
    let window_s = window_secs(&focus);
    let mut phases = Vec::new();
    match fault_bounds(events, end_s) {
        Some((applied, rolled_back)) => {
            phases.push(phase_stats("before_fault", &focus, window_s, 0.0, applied));
            if let Some((locked, done)) = apply_lock_hold(events) {
                // The windows at least 90% inside the hold: a build can be shorter than two windows.
                let (from, to) = (locked + 0.9 * window_s, done + 0.1 * window_s);
                let held = phase_stats("apply_locked", &focus, window_s, from, to);
                if held.windows > 0 {
                    phases.push(held);
                }
            }
            phases.push(phase_stats("fault_active", &focus, window_s, applied, rolled_back));
            phases.push(phase_stats("after_rollback", &focus, window_s, rolled_back, end_s));
        }
        None => phases.push(phase_stats("whole_run", &focus, window_s, 0.0, end_s)),
    }
    phases.push(phase_stats("last_10pct", &focus, window_s, end_s * 0.9, end_s));

    let alerts = AlertEvaluator::spans(rules, windows);
    // Down as the story reads it: most of the shoppers could not buy, over 5 incident minutes.
    let down: Vec<bool> = story::smoothed_served(&focus)
        .iter()
        .map(|(_, served)| *served < story::DOWN_BELOW)
        .collect();
    let outage = match (down.iter().position(|d| *d), down.iter().rposition(|d| *d)) {
        (Some(a), Some(b)) => Some((focus[a].clock.clone(), focus[b].clock.clone())),
        _ => None,
    };
    let event_clock = |kind: EventKind| events.iter().find(|e| e.kind == kind).map(|e| clock_secs(&e.clock));
    let first_fired = alerts.iter().map(|a| clock_secs(&a.fired)).reduce(f64::min);
    let all_resolved = all_resolved_at(&alerts);
    let minutes = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / 60.0);
    let rollback_sent = event_clock(EventKind::FaultRollbackSent);
    let verdict = match (rules.is_empty(), alerts.is_empty()) {
        (true, _) => Verdict::NotJudged,
        (false, true) => Verdict::Pass,
        (false, false) => Verdict::Fail,
    };
    let applied = first_applied(events).map(|e| clock_secs(&e.clock));
    Summary {
        op: FOCUS_OP.into(),
        phases,
        verdict,
        gated,
        gate: match (gated, verdict) {
            (false, _) => Gate::Off,
            (true, Verdict::Pass) => Gate::Pass,
            (true, _) => Gate::Fail,
        },
        rules: rules.to_vec(),
        outage_gaps: gaps(&focus, &down),
        shoppers: Shoppers::of(&focus, outage.as_ref()),
        outage,
        time_to_detect_min: minutes(applied, first_fired).filter(|m| *m >= 0.0),
        time_to_mitigate_min: minutes(first_fired, rollback_sent),
        time_to_recover_min: minutes(rollback_sent, all_resolved).filter(|m| *m >= 0.0),
        faults_not_applied: not_applied(events).into_iter().map(|(name, _)| name).collect(),
        outcome: Some(story::outcome(&focus, events, &alerts, story)),
        story: story.cloned(),
        alerts,
    }
}

#[cfg(test)]
mod tests;
