//! `outage-sim merge`: join a sharded run's directories, then analyse and draw the result as
//! any run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::report;
use crate::results::merge;

pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<ExitCode> {
    let run = merge::merge(dirs, out).map_err(|e| super::BadInput(format!("{e:#}")))?;
    let (summary, meta) = report::render_run(&run)?;
    eprintln!("merged {} shards into {}", meta.merged_from.len(), run.path.display());
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    Ok(ExitCode::SUCCESS)
}
