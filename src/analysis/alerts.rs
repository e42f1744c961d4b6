//! Alert rules over the window series: an alert fires once its condition has held for the
//! rule's duration (`for`) on the incident clock, and resolves once it has not held for the
//! rule's `keep_firing_for` (Prometheus' hysteresis; 0: at the first window it no longer holds).

use serde::{Deserialize, Serialize};

use crate::results::{WindowRow, clock_secs};
use crate::scenario::{AlertMetric, AlertRule};

/// When one alert fired and resolved (incident clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSpan {
    pub name: String,
    pub fired: String,
    pub resolved: Option<String>,
}

/// A change of an alert's state at a window.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertTransition {
    Fired { name: String, detail: String },
    Resolved { name: String },
}

struct RuleState {
    rule: AlertRule,
    breach_since: Option<f64>,
    /// While firing: since when the condition has not held.
    clear_since: Option<f64>,
    firing: bool,
}

/// Feeds on windows as they close, one rule state per alert.
pub struct AlertEvaluator {
    rules: Vec<RuleState>,
}

fn value(rule: &AlertRule, w: &WindowRow) -> Option<f64> {
    match rule.metric {
        // A window in which requests were offered but none finished is as bad as it gets.
        AlertMetric::P99Ms => w.p99_ms.or(if w.offered > 0 { Some(f64::INFINITY) } else { None }),
        AlertMetric::SuccessRatio => (w.offered > 0).then(|| w.ok as f64 / w.offered as f64),
    }
}

impl AlertEvaluator {
    pub fn new(rules: &[AlertRule]) -> Self {
        AlertEvaluator {
            rules: rules
                .iter()
                .map(|r| RuleState {
                    rule: r.clone(),
                    breach_since: None,
                    clear_since: None,
                    firing: false,
                })
                .collect(),
        }
    }

    /// Takes one window row (of any operation) and returns the alerts it fires or resolves.
    /// `window_sim_s` is the window's length on the incident clock.
    pub fn observe(&mut self, w: &WindowRow, window_sim_s: f64) -> Vec<AlertTransition> {
        let now = clock_secs(&w.clock);
        let mut out = Vec::new();
        for s in self.rules.iter_mut().filter(|s| s.rule.op.name() == w.op) {
            let v = value(&s.rule, w);
            let breached = v.is_some_and(|v| {
                if s.rule.above {
                    v > s.rule.threshold
                } else {
                    v < s.rule.threshold
                }
            });
            if breached {
                s.clear_since = None;
                // The window's condition held over the whole window, which began window_sim_s ago.
                let since = *s.breach_since.get_or_insert(now - window_sim_s);
                if !s.firing && now - since >= s.rule.for_sim_secs - 1e-6 {
                    s.firing = true;
                    let shown = v
                        .map(|v| {
                            if v.is_finite() {
                                format!("{v:.3}")
                            } else {
                                "no response".into()
                            }
                        })
                        .unwrap_or_default();
                    out.push(AlertTransition::Fired {
                        name: s.rule.name.clone(),
                        detail: format!("value {shown}"),
                    });
                }
            } else {
                s.breach_since = None;
                let clear_since = *s.clear_since.get_or_insert(now - window_sim_s);
                if s.firing && now - clear_since >= s.rule.keep_firing_for_sim_secs - 1e-6 {
                    s.firing = false;
                    s.clear_since = None;
                    out.push(AlertTransition::Resolved {
                        name: s.rule.name.clone(),
                    });
                }
            }
        }
        out
    }

    /// Every alert span over a whole series of windows.
    pub fn spans(rules: &[AlertRule], windows: &[WindowRow]) -> Vec<AlertSpan> {
        let secs = |w: &WindowRow| clock_secs(&w.clock);
        // Window length on the incident clock: the step between the first two distinct clocks.
        let first = windows.first().map(secs).unwrap_or(0.0);
        let window_sim_s = windows.iter().map(secs).find(|&t| t > first).map_or(0.0, |t| t - first);
        let mut eval = AlertEvaluator::new(rules);
        let mut spans: Vec<AlertSpan> = Vec::new();
        for w in windows {
            for t in eval.observe(w, window_sim_s) {
                match t {
                    AlertTransition::Fired { name, .. } => spans.push(AlertSpan {
                        name,
                        fired: w.clock.clone(),
                        resolved: None,
                    }),
                    AlertTransition::Resolved { name } => {
                        if let Some(s) = spans.iter_mut().rev().find(|s| s.name == name && s.resolved.is_none()) {
                            s.resolved = Some(w.clock.clone());
                        }
                    }
                }
            }
        }
        spans
    }
}
