//! Everything a person reads, drawn again from a run directory's files alone (`run` at its
//! end, `plot` at any time).

use anyhow::Result;

use crate::analysis::{self, FOCUS_OP, Summary};
use crate::charts::{self, Annotations};
use crate::error::BadInput;
use crate::results::{META_JSON, Meta, RunDir, SCENARIO_TOML, SUMMARY_JSON};
use crate::scenario::{AlertMetric, AlertRule, Scenario, Story};

/// The alert rules to judge a run by: its `scenario.toml`'s, or, when that file is gone, the
/// rules its `summary.json` recorded. A run with neither cannot be judged: an error, never a
/// pass.
pub fn rules_of(run: &RunDir) -> Result<Vec<AlertRule>> {
    let scenario = run.file(SCENARIO_TOML);
    if scenario.exists() {
        return Scenario::load(&scenario)
            .map(|s| s.alerts)
            .map_err(|e| BadInput(format!("cannot judge the run: its scenario does not load: {e}")).into());
    }
    match run.read_json::<Summary>(SUMMARY_JSON) {
        Ok(summary) => Ok(summary.rules),
        Err(e) => Err(BadInput(format!(
            "cannot judge the run in {}: it has no {SCENARIO_TOML}, and its {SUMMARY_JSON} gives no rules ({e:#})",
            run.path.display()
        ))
        .into()),
    }
}

/// The story to score a run against: its `scenario.toml`'s `[story]`, or the one its
/// `summary.json` recorded.
pub fn story_of(run: &RunDir) -> Option<Story> {
    match Scenario::load(&run.file(SCENARIO_TOML)) {
        Ok(s) => s.story,
        Err(_) => run.read_json::<Summary>(SUMMARY_JSON).ok()?.story,
    }
}

/// Writes summary.json, timeline.md, the dashboard and report.html from the run's files.
pub fn render_run(run: &RunDir) -> Result<(Summary, Meta)> {
    let meta: Meta = run.read_json(META_JSON)?;
    let rules = rules_of(run)?;
    let windows = run.read_windows()?;
    let events = run.read_events()?;
    let db = run.read_db_samples()?;
    let title = meta.label();
    let story = story_of(run);
    let summary = analysis::summarize(&windows, &events, &rules, story.as_ref(), meta.gated);
    run.write_json(SUMMARY_JSON, &summary)?;
    let timeline = super::timeline_md(&title, &events, &summary);
    std::fs::write(run.file("timeline.md"), &timeline)?;
    let scenario = Scenario::load(&run.file(SCENARIO_TOML)).ok();
    let timeout_ms = scenario
        .as_ref()
        .map(|s| s.limits.request_timeout.as_secs_f64() * 1000.0);
    let notes = annotations(&summary, &rules, story.as_ref(), timeout_ms);
    let chart_title = match &scenario {
        Some(sc) => format!("{title}: the incident of {}", sc.clock.date),
        None => title.clone(),
    };
    charts::render_dashboard(&run.path, &windows, &events, &db, &notes, &chart_title)?;
    let svg = std::fs::read_to_string(run.file("dashboard.svg"))?;
    let scenario_text = std::fs::read_to_string(run.file(SCENARIO_TOML)).unwrap_or_default();
    std::fs::write(
        run.file("report.html"),
        super::report_html(
            &title,
            &summary,
            &timeline,
            (&super::interactive::section(&windows, &events), &svg),
            &scenario_text,
        ),
    )?;
    Ok((summary, meta))
}

/// What the dashboard draws beside the rows: the outage, alerts and their thresholds, the
/// request timeout, and the postmortem's checkpoints from the scenario's `[story]`.
fn annotations(summary: &Summary, rules: &[AlertRule], story: Option<&Story>, timeout_ms: Option<f64>) -> Annotations {
    let thresholds = |metric: AlertMetric, above: bool| {
        rules
            .iter()
            .filter(|r| r.metric == metric && r.above == above && r.op.name() == FOCUS_OP)
            .map(|r| (r.name.clone(), r.threshold))
            .collect()
    };
    let marks = story.map_or(Vec::new(), |st| {
        [
            ("alert", st.first_alert),
            ("down", st.down),
            ("improving", st.improving),
            ("restored", st.restored),
        ]
        .into_iter()
        .filter_map(|(name, mark)| {
            let at = mark?.at.to_string();
            let label = format!("postmortem: {name} {}", at.get(..5).unwrap_or(&at));
            Some((at, label))
        })
        .collect()
    });
    Annotations {
        outage: summary.outage.clone(),
        alerts: summary.alerts.clone(),
        p99_thresholds: thresholds(AlertMetric::P99Ms, true),
        success_thresholds: thresholds(AlertMetric::SuccessRatio, false),
        timeout_ms,
        postmortem: marks,
    }
}
