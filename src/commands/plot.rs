//! `outage-sim plot`: redraw everything a person reads from a run directory's files alone, an
//! ensemble's files from its runs' files, or a whatif's from its variants' runs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::results::RunDir;
use crate::{ensemble, report, whatif};

pub fn plot(dir: &Path) -> Result<ExitCode> {
    if whatif::is_whatif(dir) {
        let file = whatif::redraw(dir).map_err(|e| super::BadInput(format!("{e:#}")))?;
        for s in &file.said {
            println!("{s}");
        }
        println!(
            "redrawn from its variants' runs: {} ({}, {}, whatif.png)",
            dir.display(),
            whatif::WHATIF_MD,
            whatif::WHATIF_JSON
        );
        return Ok(ExitCode::SUCCESS);
    }
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
