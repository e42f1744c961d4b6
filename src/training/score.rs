//! The score of a training run, read from its events alone, and the debrief that sets it
//! beside the postmortem's own times and the trainee's best earlier attempt.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Story;
use crate::analysis::story::{self, DOWN_BELOW};
use crate::results::{EventKind, EventRow, WindowRow, clock_secs};
use crate::scenario::{ClockTime, Reference};
use crate::whatif::{WHATIF_JSON, WhatifFile};

/// Incident seconds within which checkout coming back is the doing of an action taken while it
/// was down: twice the 5 minutes over which "down" is smoothed, so the smoothing's own lag
/// (half of them) and a queue's drain fit in it.
pub const ENDED_WITHIN_S: f64 = 600.0;

/// `score.json` of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub scenario: String,
    pub seed: u64,
    pub story: String,
    /// When the hidden fault started, on the incident clock.
    pub fault_at: String,
    pub first_alert: Option<String>,
    /// The first right diagnosis.
    pub diagnosed: Option<String>,
    /// When the culprit was found gone (by a command, or from the database); or, when an
    /// app-side action ended the outage (`retries off`, `shed`, `retry-budget`: see [`Ended`]),
    /// when it was taken.
    pub mitigated: Option<String>,
    /// When, after the mitigation, no alert was firing any more.
    pub recovered: Option<String>,
    /// Incident minutes from the first alert (from the fault, when no alert fired).
    pub detect_min: Option<f64>,
    pub mitigate_min: Option<f64>,
    pub recover_min: Option<f64>,
    /// `clock cause` of each wrong diagnosis.
    pub wrong_diagnoses: Vec<String>,
    /// `clock action: outcome` of each action that had no effect or failed.
    pub wasted_actions: Vec<String>,
    /// `clock cause` of each diagnosis made before the hidden fault began: a guess, not a
    /// detection, so it is not timed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guesses: Vec<String>,
    /// What ended checkout's last outage, from its windows (absent in older scores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
}

/// Checkout's last outage, read from its windows, and the action that ended it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    /// When the last outage began (`None`: checkout never went down).
    pub down_at: Option<String>,
    /// When checkout came back (`None`: still down at the end).
    pub back_at: Option<String>,
    /// The action that ended it: the last one taken while checkout was down, at most
    /// [`ENDED_WITHIN_S`] before it came back (`None`: it came back on its own, or never).
    pub by: Option<String>,
    pub by_at: Option<String>,
}

/// The actions that changed something: the trainee's commands that had an effect (not quit)
/// and the culprit found gone, with their incident seconds.
fn effective_actions(events: &[EventRow]) -> Vec<(f64, String)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::TraineeAction
                if e.name != "quit" && !e.detail.starts_with("no effect") && !e.detail.starts_with("failed") =>
            {
                Some((clock_secs(&e.clock), e.name.clone()))
            }
            EventKind::MitigationDetected => Some((clock_secs(&e.clock), format!("{} {}", e.name, e.detail))),
            _ => None,
        })
        .collect()
}

/// What ended checkout's last outage: its windows say when it was down (most shoppers unable
/// to buy over 5 incident minutes, as a run's outcome reads it) and when it came back; the
/// action is the last effective one taken while it was down, within [`ENDED_WITHIN_S`] of
/// coming back.
pub fn what_ended(events: &[EventRow], checkout: &[&WindowRow]) -> Ended {
    let series = story::smoothed_served(checkout);
    let down = |i: usize| series[i].1 < DOWN_BELOW;
    let Some(last) = (0..series.len()).rev().find(|i| down(*i)) else {
        return Ended {
            down_at: None,
            back_at: None,
            by: None,
            by_at: None,
        };
    };
    let first = (0..=last).rev().take_while(|i| down(*i)).last().unwrap_or(last);
    let (began, back) = (series[first].0, series.get(last + 1).map(|w| w.0));
    let by = back.and_then(|back| {
        effective_actions(events)
            .into_iter()
            .rev()
            .find(|(t, _)| *t >= began && *t <= back && back - t <= ENDED_WITHIN_S)
    });
    Ended {
        down_at: Some(story::clock(began)),
        back_at: back.map(story::clock),
        by_at: by.as_ref().map(|(t, _)| story::clock(*t)),
        by: by.map(|(_, what)| what),
    }
}

impl Ended {
    /// The debrief's sentence.
    pub fn said(&self) -> String {
        let within = ENDED_WITHIN_S / 60.0;
        match (&self.down_at, &self.back_at, &self.by, &self.by_at) {
            (None, ..) => "Checkout never went down: most shoppers could buy in every 5 incident minutes.".into(),
            (Some(down), None, ..) => {
                format!("Checkout was down from {down} until the run ended: none of your actions ended the outage.")
            }
            (Some(down), Some(back), Some(by), Some(at)) => format!(
                "Checkout was down from {down} and came back at {back}, {:.0} min after `{by}` at {at}: that action ended the outage.",
                (clock_secs(back) - clock_secs(at)) / 60.0
            ),
            (Some(down), Some(back), ..) => format!(
                "Checkout was down from {down} and came back at {back} with no action of yours in the {within:.0} minutes before: it ended on its own (the load fell, or the fault ended by itself)."
            ),
        }
    }
}

/// The trainee's actions on the app's side (not on the culprit), which can end an outage the
/// culprit's removal would not.
const APP_SIDE_ACTIONS: &[&str] = &["shed", "retries off", "retry-budget"];

/// The actions a trainee can take, and the `whatif` variant that plays each from the first
/// alert on.
const ACTION_VARIANTS: &[(&str, &str)] = &[
    ("rollback", "rollback-at-alert"),
    ("shed", "shed-at-alert"),
    ("retries off", "no-retries"),
    ("retry-budget", "retry-budget"),
];

/// What the scenario's latest `whatif` study under `out` says each of the trainee's kinds of
/// action would have done, beside the scenario as it is; or how to get one from `file`, the
/// run's scenario with its fault revealed.
pub fn whatif_said(out: &Path, scenario: &str, file: &Path, actions: &[String]) -> String {
    let latest = std::fs::read_dir(out).ok().and_then(|dirs| {
        dirs.filter_map(|d| d.ok().map(|d| d.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("whatif-{scenario}-")))
            })
            .filter(|p| p.join(WHATIF_JSON).is_file())
            .max()
    });
    let Some(dir) = latest else {
        let only: Vec<&str> = ACTION_VARIANTS.iter().map(|a| a.1).collect();
        return format!(
            "No `whatif` study of {scenario} under {}: `outage-sim whatif {} --only {}` replays this run's fault with each of them from the first alert on, with odds.",
            out.display(),
            file.display(),
            only.join(",")
        );
    };
    let Some(study) = std::fs::read_to_string(dir.join(WHATIF_JSON))
        .ok()
        .and_then(|t| serde_json::from_str::<WhatifFile>(&t).ok())
    else {
        return format!("{} cannot be read.", dir.join(WHATIF_JSON).display());
    };
    let mut names = vec!["as-is"];
    for (action, variant) in ACTION_VARIANTS {
        if actions.iter().any(|a| a.starts_with(action)) {
            names.push(variant);
        }
    }
    let mut md = format!("From {}:\n\n", dir.display());
    for v in study.variants.iter().filter(|v| names.contains(&v.name.as_str())) {
        let outage = v.outage.map_or("not run".into(), |p| format!("outage in {p}"));
        let minutes = v.outage_minutes.map_or(String::new(), |m| {
            format!(", down {:.0} ({:.0}–{:.0}) min", m.median, m.low, m.high)
        });
        md += &format!("- {}: {outage}{minutes}\n", v.name);
    }
    md
}

fn at(clock: &str) -> Option<u32> {
    clock.parse::<ClockTime>().ok().map(ClockTime::secs)
}

fn minutes(from: Option<u32>, to: Option<u32>) -> Option<f64> {
    Some((to? as f64 - from? as f64) / 60.0)
}

/// Scores a run's events for `story`, hidden at `fault_at`; `ended` is what ended checkout's
/// last outage ([`what_ended`]). The mitigation is the culprit found gone, or an app-side
/// action that ended the outage, timed and followed to recovery as a rollback is: `retries off`
/// that ends a retry storm mitigates it as surely as a rollback ends a lock, and a rollback that
/// changed nothing before it does not. A rollback or kill that ended it stays timed by the
/// culprit gone.
pub fn score(
    events: &[EventRow],
    story: &Story,
    fault_at: ClockTime,
    scenario: &str,
    seed: u64,
    ended: Option<Ended>,
) -> Score {
    // Nothing before the fault began detects or mitigates it.
    let after_fault = |e: &&EventRow| at(&e.clock).is_some_and(|t| t >= fault_at.secs());
    let first = |kind: EventKind, name: Option<&str>| {
        events
            .iter()
            .filter(after_fault)
            .find(|e| e.kind == kind && name.is_none_or(|n| e.name == n))
            .map(|e| e.clock.clone())
    };
    let first_alert = first(EventKind::AlertFired, None);
    let diagnosed = first(EventKind::TraineeDiagnosis, Some(story.cause));
    let app_side = |by: &str| APP_SIDE_ACTIONS.iter().any(|a| by.starts_with(a));
    let mitigated = match &ended {
        Some(Ended {
            by: Some(by), by_at, ..
        }) if app_side(by) => by_at.clone(),
        _ => first(EventKind::MitigationDetected, None),
    };
    let recovered = mitigated.as_deref().and_then(|m| recovered_after(events, m));
    // Timed from the first alert, or from the fault for what came before any alert.
    let alert_at = first_alert.as_deref().and_then(at);
    let since = |t: Option<&String>| {
        let t = t.and_then(|t| at(t))?;
        minutes(alert_at.filter(|a| *a <= t).or(Some(fault_at.secs())), Some(t))
    };
    let of_kind = |kind: EventKind| events.iter().filter(move |e| e.kind == kind);
    Score {
        scenario: scenario.into(),
        seed,
        story: story.name.into(),
        fault_at: fault_at.to_string(),
        detect_min: since(diagnosed.as_ref()),
        mitigate_min: since(mitigated.as_ref()),
        recover_min: since(recovered.as_ref()),
        first_alert,
        diagnosed,
        mitigated,
        recovered,
        ended,
        guesses: of_kind(EventKind::TraineeDiagnosis)
            .filter(|e| !after_fault(e))
            .map(|e| format!("{} {}", e.clock, e.name))
            .collect(),
        wrong_diagnoses: of_kind(EventKind::TraineeDiagnosis)
            .filter(after_fault)
            .filter(|e| e.name != story.cause)
            .map(|e| format!("{} {}", e.clock, e.name))
            .collect(),
        wasted_actions: of_kind(EventKind::TraineeAction)
            .filter(|e| e.detail.starts_with("no effect") || e.detail.starts_with("failed"))
            .map(|e| format!("{} {}: {}", e.clock, e.name, e.detail))
            .collect(),
    }
}

/// The first time, from the mitigation at `from` on, when no alert is firing.
fn recovered_after(events: &[EventRow], from: &str) -> Option<String> {
    let from = at(from)?;
    let mut firing = std::collections::BTreeSet::new();
    for e in events {
        match e.kind {
            EventKind::AlertFired => {
                firing.insert(e.name.as_str());
            }
            EventKind::AlertResolved => {
                firing.remove(e.name.as_str());
            }
            _ => {}
        }
        if at(&e.clock).is_some_and(|t| t >= from) && firing.is_empty() {
            return Some(e.clock.clone());
        }
    }
    None
}

/// The best earlier score of the same scenario, story and seed under `out` (the fastest
/// mitigation), other than `this`.
pub fn best_earlier(out: &Path, this: &Score) -> Option<Score> {
    let dirs = std::fs::read_dir(out).ok()?;
    dirs.filter_map(|d| {
        let text = std::fs::read_to_string(d.ok()?.path().join(SCORE_JSON)).ok()?;
        serde_json::from_str::<Score>(&text).ok()
    })
    .filter(|s| s.scenario == this.scenario && s.seed == this.seed && s.story == this.story && s != this)
    .filter(|s| s.mitigate_min.is_some())
    .min_by(|a, b| {
        a.mitigate_min
            .partial_cmp(&b.mitigate_min)
            .unwrap_or(std::cmp::Ordering::Equal)
    })
}

pub const SCORE_JSON: &str = "score.json";
pub const DEBRIEF_MD: &str = "debrief.md";

fn shown(v: Option<f64>) -> String {
    v.map_or("—".into(), |m| format!("{m:.0} min"))
}

/// A row of the debrief's times: its name, the trainee's minutes, the team's time, and the
/// best earlier attempt's minutes.
type TimeRow = (&'static str, Option<f64>, Option<ClockTime>, fn(&Score) -> Option<f64>);

/// `debrief.md`: the trainee's times beside the postmortem's and their best earlier attempt,
/// the reveal, and the safer change.
pub fn debrief(
    s: &Score,
    story: &Story,
    reference: &Reference,
    best: Option<&Score>,
    explained: &str,
    whatif: &str,
) -> String {
    let r = |t: Option<ClockTime>| t.map(ClockTime::secs);
    let team = |t: Option<ClockTime>| shown(minutes(r(reference.first_alert), r(t)));
    let best_of = |f: fn(&Score) -> Option<f64>| best.map_or("—".into(), |b| shown(f(b)));
    let mut md = format!("# Debrief: {} (seed {})\n\n", s.scenario, s.seed);
    md += "| | you | the postmortem's team | your best earlier |\n|---|---|---|---|\n";
    md += &format!(
        "| first alert | {} | {} | |\n",
        s.first_alert.as_deref().unwrap_or("none fired"),
        reference.first_alert.map_or("—".into(), |t| t.to_string())
    );
    let rows: [TimeRow; 3] = [
        (
            "time to detect (first alert, or the fault if none had fired → right diagnosis)",
            s.detect_min,
            reference.diagnosed,
            |b| b.detect_min,
        ),
        (
            "time to mitigate (→ the cause gone, or the action that ended the outage)",
            s.mitigate_min,
            reference.mitigated,
            |b| b.mitigate_min,
        ),
        (
            "time to recover (→ every alert resolved)",
            s.recover_min,
            reference.recovered,
            |b| b.recover_min,
        ),
    ];
    for (what, you, theirs, earlier) in rows {
        md += &format!(
            "| {what} | {} | {} | {} |\n",
            shown(you),
            team(theirs),
            best_of(earlier)
        );
    }
    md += &format!(
        "| wrong diagnoses | {} | {} | {} |\n\n",
        s.wrong_diagnoses.len(),
        reference.wrong_leads.len(),
        best.map_or("—".into(), |b| b.wrong_diagnoses.len().to_string())
    );
    for (what, list) in [
        ("Diagnoses before the fault began (guesses, not timed)", &s.guesses),
        ("Wrong diagnoses", &s.wrong_diagnoses),
        ("Actions with no effect", &s.wasted_actions),
    ] {
        if !list.is_empty() {
            md += &format!("{what}: {}.\n\n", list.join("; "));
        }
    }
    if !reference.wrong_leads.is_empty() {
        md += &format!("The team's wrong leads: {}.\n\n", reference.wrong_leads.join("; "));
    }
    if let Some(ended) = &s.ended {
        md += &format!("## What ended the outage\n\n{}\n\n", ended.said());
    }
    if !whatif.is_empty() {
        md += &format!(
            "## What each action would have done (whatif)\n\n{}\n\n",
            whatif.trim_end()
        );
    }
    md += &format!(
        "## What it was: {} (cause: {}), from {}\n\n{}\n\n",
        story.name, story.cause, s.fault_at, story.told
    );
    md += &format!("## The fault, and the safer change\n\n{explained}\n");
    md
}
