//! `outage-sim plot`: redraw everything a person reads from a run directory's files alone.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::report;
use crate::results::RunDir;

pub fn plot(dir: &Path) -> Result<ExitCode> {
    let run = RunDir::open(dir).map_err(|e| super::BadInput(format!("{e:#}")))?;
    let (summary, meta) = report::render_run(&run)?;
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    Ok(ExitCode::SUCCESS)
}
