//! `outage-sim compare`: several runs on one incident clock (e.g. the incident and its fix).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::results::{META_JSON, Meta, RunDir};
use crate::{analysis, charts, ensemble, report};

use super::BadInput;

pub fn compare(dirs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    if dirs.len() < 2 {
        return Err(BadInput("compare: give at least two run directories".into()).into());
    }
    let out = match out {
        Some(o) => o.to_path_buf(),
        None => PathBuf::from("results").join(format!("compare-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))),
    };
    match dirs.iter().filter(|d| ensemble::is_ensemble(d)).count() {
        0 => {}
        2 if dirs.len() == 2 => return compare_ensembles(&dirs[0], &dirs[1], &out),
        _ => {
            let msg = "compare: give two ensemble directories, or two or more run directories, not a mix";
            return Err(BadInput(msg.into()).into());
        }
    }
    let mut windows = Vec::new();
    let mut summaries = Vec::new();
    for dir in dirs {
        let run = RunDir::open(dir).map_err(|e| BadInput(format!("{e:#}")))?;
        let meta: Meta = run.read_json(META_JSON)?;
        let rules = report::rules_of(&run)?;
        let rows = run.read_windows()?;
        let story = report::story_of(&run);
        let summary = analysis::summarize(&rows, &run.read_events()?, &rules, story.as_ref(), meta.gated);
        let label = unique_label(&meta.label(), &summaries);
        windows.push((label.clone(), rows));
        summaries.push((label, summary));
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    charts::render_compare(&out, &windows)?;
    let svg = std::fs::read_to_string(out.join("compare.svg"))?;
    std::fs::write(out.join("compare.html"), report::compare_html(&summaries, &svg))?;
    print!("{}", report::compare_summary(&summaries));
    println!("written: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Two ensembles side by side (`compare.md`), each figure with its interval or range.
fn compare_ensembles(a: &Path, b: &Path, out: &Path) -> Result<ExitCode> {
    let read = |d: &Path| ensemble::record::read(d).map_err(|e| BadInput(format!("{}: {e:#}", d.display())));
    let (fa, fb) = (read(a)?, read(b)?);
    let text = ensemble::compare_md((&ensemble::title(&fa), &fa), (&ensemble::title(&fb), &fb));
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join("compare.md"), &text)?;
    print!("{text}");
    println!("written: {}", out.join("compare.md").display());
    Ok(ExitCode::SUCCESS)
}

/// `label`, numbered when an earlier run already has it (the same run given twice).
fn unique_label<T>(label: &str, earlier: &[(String, T)]) -> String {
    let same = earlier.iter().filter(|(l, _)| l.starts_with(label)).count();
    if same == 0 {
        label.to_string()
    } else {
        format!("{label} #{}", same + 1)
    }
}
