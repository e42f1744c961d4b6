//! `outage-sim plot`: redraw everything a person reads from a run directory's files alone, or
//! an ensemble's files from its runs' files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::results::RunDir;
use crate::{ensemble, report};

pub fn plot(dir: &Path) -> Result<ExitCode> {
    if ensemble::is_ensemble(dir) {
        let file = ensemble::record::read(dir).map_err(|e| super::BadInput(format!("{e:#}")))?;
        ensemble::write_file(dir, &file)?;
        println!("{}: {}", ensemble::title(&file), file.headline());
        println!(
            "redrawn from its {} runs' files: {} (ensemble.json, ensemble.md, ensemble.png)",
            file.n,
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let run = RunDir::open(dir).map_err(|e| super::BadInput(format!("{e:#}")))?;
    let (summary, meta) = report::render_run(&run)?;
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    Ok(ExitCode::SUCCESS)
}
