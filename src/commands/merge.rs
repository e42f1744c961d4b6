//! `outage-sim merge`: join a sharded run's directories, then analyse and draw the result as
//! any run; or (`--ensemble`) collect whole runs made on several machines into one ensemble.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::BadInput;
use crate::results::{META_JSON, Meta, RunDir};
use crate::{ensemble, merge, report};

pub fn merge(dirs: &[PathBuf], out: &Path, as_ensemble: bool) -> Result<ExitCode> {
    if as_ensemble {
        return collect(dirs, out);
    }
    let run = merge::merge(dirs, out).map_err(|e| BadInput(format!("{e:#}")))?;
    let (summary, meta) = report::render_run(&run)?;
    eprintln!("merged {} shards into {}", meta.merged_from.len(), run.path.display());
    print!("{}", report::terminal_summary(&summary, &meta, &run.path));
    Ok(ExitCode::SUCCESS)
}

/// Copies each run into `out/seed-S` (S from its meta.json) and counts them as an ensemble.
/// The runs must be of one scenario, backend and faults, each seed once.
fn collect(dirs: &[PathBuf], out: &Path) -> Result<ExitCode> {
    if out.exists() {
        return Err(BadInput(format!("--out {}: exists already; give a new directory", out.display())).into());
    }
    let mut metas: Vec<(PathBuf, Meta)> = Vec::new();
    for dir in dirs {
        let run = RunDir::open(dir).map_err(|e| BadInput(format!("{e:#}")))?;
        let meta: Meta = run
            .read_json(META_JSON)
            .map_err(|e| BadInput(format!("{}: {e:#}", dir.display())))?;
        if let Some((first, m)) = metas.first() {
            let same = (&m.scenario, &m.backend, &m.faults, m.speed)
                == (&meta.scenario, &meta.backend, &meta.faults, meta.speed);
            if !same {
                let msg = format!(
                    "{}: not a run of the same ensemble as {} (scenario, backend, faults and speed must match)",
                    dir.display(),
                    first.display()
                );
                return Err(BadInput(msg).into());
            }
        }
        if let Some((other, _)) = metas.iter().find(|(_, m)| m.seed == meta.seed) {
            let msg = format!(
                "{} and {} are both seed {}: each seed once",
                other.display(),
                dir.display(),
                meta.seed
            );
            return Err(BadInput(msg).into());
        }
        metas.push((dir.clone(), meta));
    }
    metas.sort_by_key(|(_, m)| m.seed);
    for (dir, meta) in &metas {
        copy_run(dir, &out.join(format!("seed-{}", meta.seed)))?;
    }
    let file = ensemble::record::read(out)?;
    ensemble::write_file(out, &file)?;
    println!("{}: {}", ensemble::title(&file), file.headline());
    println!("collected {} runs into {}", file.n, out.display());
    Ok(ExitCode::SUCCESS)
}

/// A run directory's files (it has no subdirectories), copied.
fn copy_run(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let name = path.file_name().context("a file has a name")?;
            std::fs::copy(&path, to.join(name)).with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}
