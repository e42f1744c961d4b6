//! `outage-sim whatif`: one plan, its variants (one factor changed each), an ensemble of each
//! on the same seeds, and what the counts say made the outage and ended it.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Result;

use crate::cli::WhatifArgs;
use crate::ensemble;
use crate::plan::{FaultPlan, RunPlan};
use crate::results::RunDir;
use crate::session::EXIT_INTERRUPTED;
use crate::whatif::{self, Variant, VariantResult, WhatifFile};

pub async fn whatif(args: WhatifArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let database = super::database(&args.db)?;
    let base = RunPlan::load(&args.scenario, database, args.out.clone())?
        .with_overrides(None, args.seed)?
        .with_faults(FaultPlan::Scenario)?
        .with_capacity(args.capacity, false)
        .await?;
    let dir = RunDir::create(&args.out, &format!("whatif-{}", base.scenario.name), chrono::Utc::now())?.path;
    let n = args.repeat as usize;
    let chosen: Vec<Variant> = Variant::ALL
        .into_iter()
        .filter(|v| *v == Variant::AsIs || args.only.is_empty() || args.only.iter().any(|o| o == v.name()))
        .collect();
    eprintln!(
        "whatif: {} variants of {}, {n} runs each with seeds {}–{}, in {}",
        chosen.len(),
        base.scenario.name,
        base.seed(),
        base.seed() + n as u64 - 1,
        dir.display()
    );
    let mut file = WhatifFile {
        tool: "outage-sim".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: base.scenario.name.clone(),
        backend: base.database.dialect().to_string(),
        first_seed: base.seed(),
        repeat: n,
        capacity_per_s: base.capacity_per_s(),
        variants: Vec::new(),
        said: Vec::new(),
        total_s: 0.0,
    };
    // Rewritten after every round, so an interrupted study keeps what finished.
    let write = |file: &mut WhatifFile| {
        file.said = whatif::said(&file.variants);
        file.total_s = started.elapsed().as_secs_f64();
        whatif::write(&dir, file)
    };
    // Seed by seed across the variants (round-robin), so the host's drift over the hours of
    // a study falls on every variant alike instead of on the ones that run last.
    let mut ensembles = Vec::new();
    let mut not_run = Vec::new();
    for v in chosen {
        match v.plan(&base)? {
            Ok(plan) => {
                let sub = dir.join(v.name());
                std::fs::create_dir_all(&sub)?;
                ensembles.push((v, ensemble::Runs::new(&plan, n, &sub, &format!("whatif {}", v.name()))));
            }
            Err(why) => {
                eprintln!("whatif: {}: not run: {why}", v.name());
                not_run.push(VariantResult::not_run(v, why));
            }
        }
    }
    let replay_s = base.scenario.clock.real_duration().as_secs_f64();
    let replays = ensembles.len() * n;
    eprintln!(
        "whatif: {replays} replays of {replay_s:.0} s: at least {:.0} min, plus a reset before each",
        replays as f64 * replay_s / 60.0
    );
    let stop = ensemble::stop_on_ctrl_c();
    let mut interrupted = false;
    'rounds: for _ in 0..n {
        for (_, runs) in &mut ensembles {
            if stop.load(Ordering::Relaxed) || !runs.next().await? {
                interrupted = true;
                break 'rounds;
            }
        }
        file.variants = counted(&ensembles, &not_run);
        write(&mut file)?;
    }
    file.variants = counted(&ensembles, &not_run);
    for (v, runs) in ensembles {
        match runs.finish() {
            Ok(e) => eprintln!("whatif: {}: {}", v.name(), e.file.headline()),
            Err(e) => eprintln!("whatif: {}: {e:#}", v.name()),
        }
    }
    write(&mut file)?;
    println!();
    for s in &file.said {
        println!("{s}");
    }
    println!(
        "written: {} ({}, {})",
        dir.display(),
        whatif::WHATIF_MD,
        whatif::WHATIF_JSON
    );
    Ok(if interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Each variant's counts so far (those with a finished run) and those not run, in the order
/// of `Variant::ALL`.
fn counted(ensembles: &[(Variant, ensemble::Runs)], not_run: &[VariantResult]) -> Vec<VariantResult> {
    let ran = ensembles
        .iter()
        .filter_map(|(v, runs)| Some(VariantResult::of(*v, v.name(), &runs.file()?)));
    let mut all: Vec<VariantResult> = ran.chain(not_run.iter().cloned()).collect();
    all.sort_by_key(|r| Variant::ALL.iter().position(|v| v.name() == r.name));
    all
}
