//! `outage-sim plot`: redraw everything a person reads from a run directory's files alone.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::analysis::{self, FOCUS_OP, Summary};
use crate::charts::{self, Annotations};
use crate::report;
use crate::results::{META_JSON, Meta, RunDir, SCENARIO_TOML, SUMMARY_JSON};
use crate::scenario::{AlertMetric, Scenario};

/// Writes summary.json, timeline.md, the dashboard and report.html from the run's files.
pub fn render(run: &RunDir, title: &str) -> Result<Summary> {
    let windows = run.read_windows()?;
    let events = run.read_events()?;
    let db = run.read_db_samples()?;
    let scenario_text = std::fs::read_to_string(run.file(SCENARIO_TOML)).unwrap_or_default();
    let rules = Scenario::load(&run.file(SCENARIO_TOML))
        .map(|s| s.alerts)
        .unwrap_or_default();
    let summary = analysis::summarize(&windows, &events, &rules);
    run.write_json(SUMMARY_JSON, &summary)?;
    let timeline = report::timeline_md(title, &events, &summary);
    std::fs::write(run.file("timeline.md"), &timeline)?;
    let notes = Annotations {
        outage: summary.outage.clone(),
        p99_thresholds: rules
            .iter()
            .filter(|r| r.metric == AlertMetric::P99Ms && r.above && r.op.name() == FOCUS_OP)
            .map(|r| (r.name.clone(), r.threshold))
            .collect(),
    };
    charts::render_dashboard(&run.path, &windows, &events, &db, &notes, title)?;
    let svg = std::fs::read_to_string(run.file("dashboard.svg"))?;
    std::fs::write(
        run.file("report.html"),
        report::report_html(title, &summary, &timeline, &svg, &scenario_text),
    )?;
    Ok(summary)
}

/// The title of a run's charts and report.
pub fn title(meta: &Meta) -> String {
    format!(
        "{} on {} ({})",
        meta.scenario,
        meta.backend,
        meta.started_at.get(..16).unwrap_or(&meta.started_at)
    )
}

pub fn plot(dir: &Path) -> Result<ExitCode> {
    let run = RunDir::open(dir).map_err(|e| super::BadInput(format!("{e:#}")))?;
    let meta: Meta = run.read_json(META_JSON)?;
    let summary = render(&run, &title(&meta))?;
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    Ok(ExitCode::SUCCESS)
}
