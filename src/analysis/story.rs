//! How one run went, from its own rows: its class (no outage, degraded, outage), when checkout
//! went down, whether it stayed down until the mitigation or climbed out before it, when it
//! recovered, and each `[story]` checkpoint met or missed with the run's own time.
//!
//! "Down" is read from the shoppers, as the postmortem counts it ("users couldn't complete
//! their purchases"): the share of checkout's shoppers who could buy, of those who finished
//! (bought or ran out of attempts) within [`SMOOTH_SECS`] of the incident clock centred on each
//! window, so one bad window is not an outage and one good window inside an outage does not end
//! it. Runs written before shoppers were counted are read from attempts' success instead.

use serde::{Deserialize, Serialize};

use super::AlertSpan;
use crate::results::{EventKind, EventRow, WindowRow, clock_secs};
use crate::scenario::{Mark, Story};

/// Checkout is down while fewer than this share of its shoppers could buy: most of them could
/// not (the postmortem's "fully down", about 75% of active users). Attempts' success ratio is
/// no measure of it: with three retries a shopper is lost only when all four attempts fail, so
/// attempts at 0.5 lose about 6% of the shoppers.
pub const DOWN_BELOW: f64 = 0.5;
/// The checkpoint "down after the change, by the postmortem's time" (`whatif` counts it).
pub const DOWN_CHECKPOINT: &str = "down";
/// The smoothing: 5 incident minutes, centred.
pub const SMOOTH_SECS: f64 = 300.0;
/// The share of the minutes from going down to the mitigation a run must be down to have held,
/// when its story names none.
pub const HELD_SHARE: f64 = 0.9;
/// An outage that ended at least this long (incident seconds) before the mitigation climbed out.
const CLIMB_OUT_SECS: f64 = 300.0;

/// A run's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// No alert fired and checkout never went down.
    NoOutage,
    /// An alert fired, but checkout never went down.
    Degraded,
    /// Checkout went down (fewer than half of its shoppers could buy, over 5 minutes).
    Outage,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Outage, Class::Degraded, Class::NoOutage];

    /// Its key in `ensemble.json`'s `classes` (as serde writes it).
    pub fn key(self) -> &'static str {
        match self {
            Class::NoOutage => "no_outage",
            Class::Degraded => "degraded",
            Class::Outage => "outage",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::NoOutage => "no outage",
            Class::Degraded => "degraded",
            Class::Outage => "outage",
        }
    }
}

/// One checkpoint of the story, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `first_alert`, `down`, `held`, `improving` or `restored`.
    pub name: String,
    /// What the postmortem says, e.g. "12:45 ± 10 min".
    pub postmortem: String,
    /// The run's own time (or share, for `held`), if it has one.
    pub run: Option<String>,
    pub met: bool,
}

/// How one run went (in `summary.json` as `outcome`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub class: Class,
    /// When checkout first went down.
    pub down_at: Option<String>,
    /// Incident minutes checkout was down.
    pub down_minutes: f64,
    /// When the mitigation (the first rollback, or a detected mitigation) was sent.
    pub mitigated_at: Option<String>,
    /// Down from going down until the mitigation: the share of those minutes down is at least
    /// the story's `held` (0.9 without one), and it did not climb out before it; `None` when it
    /// never went down or nothing mitigated.
    pub held: Option<bool>,
    /// Share of the minutes from going down to the mitigation that were down.
    pub held_share: Option<f64>,
    /// When it climbed out on its own, at least 5 incident minutes before the mitigation.
    pub climbed_out_at: Option<String>,
    /// The first window after the run's last down window (none: down until the end).
    pub recovered_at: Option<String>,
    /// When every alert had resolved, after the mitigation.
    pub restored_at: Option<String>,
    /// The `[story]` checkpoints scored (empty without a story).
    pub checkpoints: Vec<Checkpoint>,
    /// Every checkpoint met (`None` without a story).
    pub whole_story: Option<bool>,
}

/// The share of checkout's shoppers who could buy, smoothed, per window: (incident-clock
/// seconds, share). From attempts' success ratio when no window counted shoppers.
pub fn smoothed_served(focus: &[&WindowRow]) -> Vec<(f64, f64)> {
    let counted = focus.iter().any(|w| w.completed + w.gave_up > 0);
    let (good, all): (fn(&WindowRow) -> u64, fn(&WindowRow) -> u64) = if counted {
        (|w| w.completed, |w| w.completed + w.gave_up)
    } else {
        (|w| w.ok, |w| w.offered)
    };
    let at: Vec<f64> = focus.iter().map(|w| clock_secs(&w.clock)).collect();
    (0..focus.len())
        .map(|i| {
            let (mut g, mut n) = (0u64, 0u64);
            for (j, w) in focus.iter().enumerate() {
                if (at[j] - at[i]).abs() <= SMOOTH_SECS / 2.0 {
                    g += good(w);
                    n += all(w);
                }
            }
            (at[i], if n > 0 { g as f64 / n as f64 } else { 1.0 })
        })
        .collect()
}

/// Whether checkout was down at incident-clock second `at` (its nearest window).
pub fn down_at(focus: &[&WindowRow], at: f64) -> bool {
    smoothed_served(focus)
        .into_iter()
        .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
        .is_some_and(|(_, share)| share < DOWN_BELOW)
}

/// When the mitigation was sent: the first rollback or detected mitigation.
fn mitigation(events: &[EventRow]) -> Option<f64> {
    events
        .iter()
        .find(|e| matches!(e.kind, EventKind::FaultRollbackSent | EventKind::MitigationDetected))
        .map(|e| clock_secs(&e.clock))
}

/// When the first fault was sent.
fn change_sent(events: &[EventRow]) -> Option<f64> {
    events
        .iter()
        .find(|e| e.kind == EventKind::FaultApplySent)
        .map(|e| clock_secs(&e.clock))
}

pub(crate) fn clock(secs: f64) -> String {
    crate::scenario::ClockTime::from_secs(secs.max(0.0).round() as u32).to_string()
}

/// Scores one run: `focus` is checkout's windows, `alerts` the spans the rules gave.
pub fn outcome(focus: &[&WindowRow], events: &[EventRow], alerts: &[AlertSpan], story: Option<&Story>) -> Outcome {
    let series = smoothed_served(focus);
    let step = window_step(&series);
    let down = |r: f64| r < DOWN_BELOW;
    let down_at = series.iter().find(|(_, r)| down(*r)).map(|(t, _)| *t);
    let mitigated = mitigation(events);
    let held_needed = story.and_then(|s| s.held).unwrap_or(HELD_SHARE);
    let held_share = match (down_at, mitigated) {
        (Some(d), Some(m)) if m > d => {
            let span: Vec<_> = series.iter().filter(|(t, _)| *t >= d && *t < m).collect();
            Some(span.iter().filter(|(_, r)| down(*r)).count() as f64 / span.len().max(1) as f64)
        }
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let last_down_before = |m: f64| series.iter().rev().find(|(t, r)| *t < m && down(*r)).map(|(t, _)| *t);
    // A down window before the mitigation means it went down; out long enough before, it climbed out.
    let climbed_out_at = mitigated
        .and_then(|m| last_down_before(m).filter(|t| m - t >= CLIMB_OUT_SECS))
        .map(|t| t + step);
    let last_down = series.iter().rev().find(|(_, r)| down(*r)).map(|(t, _)| *t);
    let recovered_at = last_down.and_then(|l| series.iter().find(|(t, _)| *t > l).map(|(t, _)| *t));
    let all_resolved = super::all_resolved_at(alerts);
    let restored = all_resolved.filter(|r| mitigated.is_some_and(|m| *r >= m));
    let improving = mitigated.and_then(|m| series.iter().find(|(t, r)| *t >= m && !down(*r)).map(|(t, _)| *t));
    let first_alert = alerts.iter().map(|a| clock_secs(&a.fired)).reduce(f64::min);
    let class = match (down_at, alerts.is_empty()) {
        (Some(_), _) => Class::Outage,
        (None, false) => Class::Degraded,
        (None, true) => Class::NoOutage,
    };
    // Improving and restored are about an outage the mitigation ended: down at the mitigation.
    let down_at_mitigation = down_at.is_some() && mitigated.is_some() && climbed_out_at.is_none();
    let mut checkpoints = Vec::new();
    if let Some(s) = story {
        // The first alert and going down count only after the change went in: what came before
        // it is not the change's doing.
        let changed = change_sent(events).unwrap_or(f64::NEG_INFINITY);
        let near = |name: &str, m: &Option<Mark>, run: Option<f64>| {
            m.map(|m| {
                let at = f64::from(m.at.secs());
                Checkpoint {
                    name: name.into(),
                    postmortem: format!("{} ± {}, after the change", short(at), minutes(m.tolerance_s)),
                    run: run.map(clock),
                    met: run.is_some_and(|t| t >= changed && (t - at).abs() <= m.tolerance_s),
                }
            })
        };
        let by = |name: &str, m: &Option<Mark>, run: Option<f64>| {
            m.map(|m| {
                let deadline = f64::from(m.at.secs()) + m.tolerance_s;
                Checkpoint {
                    name: name.into(),
                    postmortem: format!("by {} (+{})", short(f64::from(m.at.secs())), minutes(m.tolerance_s)),
                    run: run.map(clock),
                    met: down_at_mitigation && run.is_some_and(|t| t <= deadline),
                }
            })
        };
        checkpoints.extend(near("first_alert", &s.first_alert, first_alert));
        // Down *by* the postmortem's time: "it became clear" then.
        checkpoints.extend(s.down.map(|m| {
            let deadline = f64::from(m.at.secs()) + m.tolerance_s;
            Checkpoint {
                name: DOWN_CHECKPOINT.into(),
                postmortem: format!(
                    "by {} (+{}), after the change",
                    short(f64::from(m.at.secs())),
                    minutes(m.tolerance_s)
                ),
                run: down_at.map(clock),
                met: down_at.is_some_and(|t| t >= changed && t <= deadline),
            }
        }));
        if let Some(share) = s.held {
            checkpoints.push(Checkpoint {
                name: "held".into(),
                postmortem: format!("down until the rollback (≥ {:.0}% of the minutes)", share * 100.0),
                run: match (held_share, climbed_out_at) {
                    (Some(h), Some(c)) => Some(format!("{:.0}%, climbed out at {}", h * 100.0, clock(c))),
                    (Some(h), None) => Some(format!("{:.0}%", h * 100.0)),
                    (None, _) => None,
                },
                met: held_share.is_some_and(|h| h >= share) && climbed_out_at.is_none(),
            });
        }
        checkpoints.extend(by("improving", &s.improving, improving));
        checkpoints.extend(by("restored", &s.restored, restored));
    }
    Outcome {
        class,
        down_at: down_at.map(clock),
        down_minutes: series.iter().filter(|(_, r)| down(*r)).count() as f64 * step / 60.0,
        mitigated_at: mitigated.map(clock),
        // Held is down until the mitigation: enough of the minutes, and not out before it.
        held: held_share.map(|h| h >= held_needed && climbed_out_at.is_none()),
        held_share,
        climbed_out_at: climbed_out_at.map(clock),
        recovered_at: recovered_at.map(clock),
        restored_at: restored.map(clock),
        whole_story: story.map(|_| checkpoints.iter().all(|c| c.met)),
        checkpoints,
    }
}

/// Incident seconds between windows (the median step; 60 when there is one window).
fn window_step(series: &[(f64, f64)]) -> f64 {
    let mut steps: Vec<f64> = series
        .windows(2)
        .map(|p| p[1].0 - p[0].0)
        .filter(|d| *d > 0.0)
        .collect();
    steps.sort_by(f64::total_cmp);
    steps.get(steps.len() / 2).copied().unwrap_or(60.0)
}

fn short(secs: f64) -> String {
    clock(secs).get(..5).unwrap_or_default().to_string()
}

fn minutes(secs: f64) -> String {
    format!("{:.0} min", secs / 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checkout windows one incident minute apart from 12:00, with these success ratios.
    fn windows(ratios: &[f64]) -> Vec<WindowRow> {
        ratios
            .iter()
            .enumerate()
            .map(|(i, r)| WindowRow {
                t_s: i as f64 + 1.0,
                clock: clock(43_200.0 + 60.0 * i as f64),
                op: "checkout".into(),
                offered: 1000,
                ok: (r * 1000.0) as u64,
                ..WindowRow::default()
            })
            .collect()
    }

    fn rollback_at(minute: u32) -> Vec<EventRow> {
        vec![EventRow {
            t_s: 0.0,
            clock: clock(43_200.0 + 60.0 * f64::from(minute)),
            kind: EventKind::FaultRollbackSent,
            name: "reporting-index".into(),
            detail: String::new(),
        }]
    }

    /// Success ratios by the minute: healthy, then down (0.2), then healthy again.
    fn up_down_up(up: usize, down: usize, after: usize) -> Vec<f64> {
        [vec![1.0; up], vec![0.2; down], vec![1.0; after]].concat()
    }

    /// The change sent at this minute after 12:00, rolled back at 13:00.
    fn changed_at(minute: u32) -> Vec<EventRow> {
        let mut events = rollback_at(60);
        events.insert(
            0,
            EventRow {
                kind: EventKind::FaultApplySent,
                clock: clock(43_200.0 + 60.0 * f64::from(minute)),
                ..events[0].clone()
            },
        );
        events
    }

    fn story() -> Story {
        let mark = |at: &str, tol_min: f64| {
            Some(Mark {
                at: at.parse().unwrap(),
                tolerance_s: tol_min * 60.0,
            })
        };
        Story {
            first_alert: mark("12:10", 5.0),
            down: mark("12:20", 5.0),
            held: Some(0.9),
            improving: mark("13:00", 10.0),
            restored: mark("13:10", 10.0),
        }
    }

    fn alert(fired: &str, resolved: Option<&str>) -> AlertSpan {
        AlertSpan {
            name: "success".into(),
            fired: fired.into(),
            resolved: resolved.map(String::from),
        }
    }

    #[test]
    fn an_outage_held_until_the_rollback_tells_the_whole_story() {
        // Healthy 12:00–12:19, down 12:20–12:59, rollback at 13:00, healthy after.
        let w = windows(&up_down_up(20, 40, 30));
        let focus: Vec<&WindowRow> = w.iter().collect();
        let alerts = [alert("12:12:00", Some("13:08:00"))];
        let o = outcome(&focus, &rollback_at(60), &alerts, Some(&story()));
        assert_eq!(o.class, Class::Outage);
        assert_eq!(o.held, Some(true));
        assert_eq!(o.climbed_out_at, None);
        assert_eq!(o.whole_story, Some(true), "{:#?}", o.checkpoints);
        let down = o.down_at.unwrap();
        // The centre of the first 5-minute span down: a minute or two after the first bad minute.
        assert!(("12:18:00"..="12:23:00").contains(&down.as_str()), "{down}");
        assert!((o.down_minutes - 40.0).abs() <= 5.0, "{}", o.down_minutes);
    }

    #[test]
    fn down_is_met_by_the_postmortems_time_and_only_after_the_change() {
        // Down from about 12:06 (the story says by 12:20 + 5 min); the change went in at 12:05,
        // or at 12:10 (after checkout was already down: not the change's doing).
        let w = windows(&up_down_up(5, 55, 30));
        let focus: Vec<&WindowRow> = w.iter().collect();
        let down_met = |applied_min: u32| {
            let o = outcome(&focus, &changed_at(applied_min), &[], Some(&story()));
            o.checkpoints.iter().find(|c| c.name == "down").unwrap().met
        };
        assert!(down_met(0), "down 15 min before the story's time, after the change");
        assert!(!down_met(10), "down before the change");
    }

    #[test]
    fn an_alert_before_the_change_is_not_the_stories_first_alert() {
        let w = windows(&[1.0; 90]);
        let focus: Vec<&WindowRow> = w.iter().collect();
        let events = changed_at(12);
        let first_alert_met = |fired: &str| {
            let o = outcome(&focus, &events, &[alert(fired, None)], Some(&story()));
            o.checkpoints.iter().find(|c| c.name == "first_alert").unwrap().met
        };
        assert!(first_alert_met("12:14:00"));
        assert!(!first_alert_met("12:11:00"), "fired before the change went in at 12:12");
    }

    #[test]
    fn an_outage_that_climbs_out_before_the_rollback_misses_held() {
        let w = windows(&up_down_up(20, 15, 55));
        let focus: Vec<&WindowRow> = w.iter().collect();
        let o = outcome(
            &focus,
            &rollback_at(60),
            &[alert("12:12:00", Some("12:45:00"))],
            Some(&story()),
        );
        assert_eq!(o.class, Class::Outage);
        assert_eq!(o.held, Some(false));
        assert!(o.climbed_out_at.is_some());
        let held = o.checkpoints.iter().find(|c| c.name == "held").unwrap();
        assert!(
            !held.met && held.run.as_deref().unwrap().contains("climbed out"),
            "{held:?}"
        );
        assert_eq!(o.whole_story, Some(false));
    }

    #[test]
    fn an_outage_that_climbs_out_just_before_the_rollback_is_not_held_however_long_it_was_down() {
        // Down 12:20–12:49, back at 12:50, rollback at 13:00: down in more than the story's
        // share (0.7 here) of the minutes to the rollback, but out before it.
        let w = windows(&up_down_up(20, 30, 40));
        let focus: Vec<&WindowRow> = w.iter().collect();
        let lenient = Story {
            held: Some(0.7),
            ..story()
        };
        let o = outcome(
            &focus,
            &rollback_at(60),
            &[alert("12:12:00", Some("12:59:00"))],
            Some(&lenient),
        );
        assert!(o.held_share.unwrap() >= 0.7, "{o:?}");
        assert!(o.climbed_out_at.is_some());
        assert_eq!(o.held, Some(false));
        assert!(!o.checkpoints.iter().find(|c| c.name == "held").unwrap().met);
    }

    #[test]
    fn down_is_read_from_the_shoppers_once_they_are_counted() {
        // Attempts succeed 0.3 of the time, yet retries let 90% of the shoppers buy: not down.
        let mut w = windows(&[0.3; 30]);
        for r in &mut w {
            (r.completed, r.gave_up) = (90, 10);
        }
        let focus: Vec<&WindowRow> = w.iter().collect();
        assert_eq!(outcome(&focus, &[], &[], None).class, Class::NoOutage);
        // 60% of them could not buy: down, whatever the attempts say.
        for r in &mut w {
            (r.ok, r.completed, r.gave_up) = (1000, 40, 60);
        }
        let focus: Vec<&WindowRow> = w.iter().collect();
        assert_eq!(outcome(&focus, &[], &[], None).class, Class::Outage);
    }

    #[test]
    fn down_at_reads_the_window_nearest_the_time() {
        let mut r = vec![1.0; 20];
        r.extend(vec![0.1; 20]);
        let w = windows(&r);
        let focus: Vec<&WindowRow> = w.iter().collect();
        assert!(!down_at(&focus, 43_200.0 + 60.0 * 5.0));
        assert!(down_at(&focus, 43_200.0 + 60.0 * 30.0));
        assert!(
            down_at(&focus, 43_200.0 + 60.0 * 500.0),
            "after the last window: the last window"
        );
    }

    #[test]
    fn one_bad_window_is_not_an_outage_and_an_alert_alone_is_degraded() {
        let mut r = vec![1.0; 30];
        r[10] = 0.0;
        let w = windows(&r);
        let focus: Vec<&WindowRow> = w.iter().collect();
        let o = outcome(&focus, &[], &[], None);
        assert_eq!((o.class, o.whole_story), (Class::NoOutage, None));
        let o = outcome(&focus, &[], &[alert("12:10:00", None)], None);
        assert_eq!(o.class, Class::Degraded);
    }

    #[test]
    fn a_run_that_never_went_down_meets_neither_improving_nor_restored() {
        let w = windows(&[1.0; 90]);
        let focus: Vec<&WindowRow> = w.iter().collect();
        let o = outcome(
            &focus,
            &rollback_at(60),
            &[alert("12:10:00", Some("13:05:00"))],
            Some(&story()),
        );
        let met: Vec<(&str, bool)> = o.checkpoints.iter().map(|c| (c.name.as_str(), c.met)).collect();
        assert_eq!(
            met,
            [
                ("first_alert", true),
                ("down", false),
                ("held", false),
                ("improving", false),
                ("restored", false)
            ]
        );
    }
}
