//! The interactive charts of `report.html`: checkout's rates and latency on the incident clock,
//! drawn by uPlot (MIT, inlined from `vendor/`, so the page stays one file that works offline):
//! drag to zoom (both charts follow, double-click resets), hover to read a window's values,
//! click a legend entry to toggle its series, click an event to read its detail and zoom to it.

use serde::Serialize;

use super::html::escape;
use crate::analysis::FOCUS_OP;
use crate::results::{EventKind, EventRow, WindowRow};
use crate::scenario::ClockTime;

const UPLOT_JS: &str = include_str!("vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uPlot.min.css");
const CHARTS_JS: &str = include_str!("interactive.js");

/// The data the page's script draws: one column per series, `x` in seconds of the incident
/// day (drawn as UTC times, so they read as the incident clock).
#[derive(Serialize, Default)]
struct Data {
    x: Vec<u32>,
    offered: Vec<f64>,
    ok: Vec<f64>,
    failed: Vec<f64>,
    p50: Vec<Option<f64>>,
    p99: Vec<Option<f64>>,
    events: Vec<Event>,
}

#[derive(Serialize)]
struct Event {
    x: u32,
    clock: String,
    what: String,
    detail: String,
}

fn secs(clock: &str) -> Option<u32> {
    clock.parse::<ClockTime>().ok().map(ClockTime::secs)
}

/// What an event is called on the chart, or `None` for those it leaves out.
fn what(e: &EventRow) -> Option<String> {
    use EventKind::*;
    Some(match e.kind {
        FaultApplySent => format!("{} applied", e.name),
        FaultRollbackSent => format!("rollback of {} sent", e.name),
        FaultRollbackDone => format!("{} rolled back", e.name),
        FaultFailed => format!("{} failed", e.name),
        AlertFired => format!("alert: {}", e.name),
        AlertResolved => format!("resolved: {}", e.name),
        TraineeDiagnosis => format!("trainee: diagnose {}", e.name),
        TraineeAction => format!("trainee: {}", e.name),
        MitigationDetected => format!("mitigated: {}", e.name),
        _ => return None,
    })
}

fn data(windows: &[WindowRow], events: &[EventRow]) -> Data {
    let mut d = Data::default();
    let mut last_t = 0.0;
    for w in windows.iter().filter(|w| w.op == FOCUS_OP) {
        let (Some(x), real) = (secs(&w.clock), w.t_s - last_t) else {
            continue;
        };
        last_t = w.t_s;
        let per_s = |n: u64| {
            if real > 0.0 {
                (n as f64 / real * 10.0).round() / 10.0
            } else {
                0.0
            }
        };
        d.x.push(x);
        d.offered.push(per_s(w.offered));
        d.ok.push(per_s(w.ok));
        d.failed.push(per_s(w.failed + w.timed_out + w.dropped));
        d.p50.push(w.p50_ms);
        d.p99.push(w.p99_ms);
    }
    d.events = events
        .iter()
        .filter_map(|e| {
            Some(Event {
                x: secs(&e.clock)?,
                clock: e.clock.clone(),
                what: what(e)?,
                detail: e.detail.clone(),
            })
        })
        .collect();
    d
}

/// The section: two charts, the event list and the detail box, with uPlot and the data inline.
pub fn section(windows: &[WindowRow], events: &[EventRow]) -> String {
    let d = data(windows, events);
    let items: String = d
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("<li data-i=\"{i}\">{} {}</li>", escape(&e.clock), escape(&e.what)))
        .collect();
    // `</` cannot end the script early: the JSON's slashes are escaped.
    let json = serde_json::to_string(&d).unwrap_or_default().replace("</", "<\\/");
    format!(
        "<style>{UPLOT_CSS}#os-events li{{cursor:pointer;color:#236}}#os-events li:hover{{text-decoration:underline}}\
         #os-detail{{background:#f4f4f4;padding:.5em 1em;min-height:1.5em}}</style>\n\
         <p>Drag across a chart to zoom (both follow; double-click to reset), hover to read a window, \
         click a legend entry to hide or show it, click an event to read it.</p>\n\
         <div id=\"os-rate\"></div>\n<div id=\"os-latency\"></div>\n\
         <div id=\"os-detail\">Click an event to read its detail.</div>\n<ul id=\"os-events\">{items}</ul>\n\
         <script type=\"application/json\" id=\"os-data\">{json}</script>\n\
         <script>{UPLOT_JS}</script>\n<script>{CHARTS_JS}</script>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t_s: f64, clock: &str, ok: u64) -> WindowRow {
        WindowRow {
            t_s,
            clock: clock.into(),
            op: FOCUS_OP.into(),
            offered: ok + 2,
            ok,
            failed: 1,
            timed_out: 1,
            dropped: 0,
            retries: 0,
            in_flight: 0,
            p50_ms: Some(3.0),
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            ..WindowRow::default()
        }
    }

    #[test]
    fn rates_are_per_real_second_and_events_are_named_on_the_incident_clock() {
        let windows = [row(0.5, "12:00:30", 100), row(1.0, "12:01:00", 50)];
        let events = [
            EventRow {
                t_s: 0.7,
                clock: "12:00:42".into(),
                kind: EventKind::FaultApplySent,
                name: "reporting-index".into(),
                detail: "CREATE INDEX </script>".into(),
            },
            EventRow {
                t_s: 0.8,
                clock: "12:00:48".into(),
                kind: EventKind::FaultApplyLocked,
                name: "reporting-index".into(),
                detail: String::new(),
            },
        ];
        let d = data(&windows, &events);
        assert_eq!(d.x, [43230, 43260]);
        assert_eq!((d.ok.clone(), d.failed.clone()), (vec![200.0, 100.0], vec![4.0, 4.0]));
        assert_eq!(d.events.len(), 1, "locks are left to the timeline");
        let html = section(&windows, &events);
        assert!(
            html.contains("reporting-index applied") && !html.contains("INDEX </script>"),
            "{html}"
        );
    }
}
