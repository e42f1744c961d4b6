//! `outage-sim plot`: redraw everything a person reads from a run directory's files alone.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::analysis::{self, Summary};
use crate::results::{Meta, RunDir, META_JSON, SCENARIO_TOML, SUMMARY_JSON};
use crate::scenario::Scenario;
use crate::{charts, report};

/// Writes summary.json, timeline.md and the dashboard from windows.csv and events.csv.
pub fn render(run: &RunDir, title: &str) -> Result<Summary> {
    let windows = run.read_windows()?;
    let events = run.read_events()?;
    let rules = Scenario::load(&run.file(SCENARIO_TOML)).map(|s| s.alerts).unwrap_or_default();
    let summary = analysis::summarize(&windows, &events, &rules);
    run.write_json(SUMMARY_JSON, &summary)?;
    std::fs::write(run.file("timeline.md"), report::timeline_md(title, &events, &summary))?;
    charts::render_dashboard(&run.path, &windows, &events, title)?;
    Ok(summary)
}

pub fn plot(dir: &Path) -> Result<ExitCode> {
    let run = RunDir::open(dir).map_err(|e| super::BadInput(format!("{e:#}")))?;
    let meta: Meta = run.read_json(META_JSON)?;
    let summary = render(&run, &format!("{} on {}", meta.scenario, meta.backend))?;
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    Ok(ExitCode::SUCCESS)
}
