//! `outage-sim run`: builds the run plan from the command line, then replays it once (a
//! session) or `--repeat N` times with seeds S..S+N-1 (an ensemble).

use std::process::ExitCode;

use anyhow::Result;

use super::BadInput;
use crate::cli::RunArgs;
use crate::ensemble;
use crate::plan::{FaultPlan, Metrics, RunPlan};
use crate::scenario::LoadUnit;
use crate::session::{self, EXIT_GATE_FAILED, EXIT_INTERRUPTED};

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let plan = plan_of(&args).await?;
    match args.repeat {
        n if n > 1 => run_ensemble(&plan, n as usize).await,
        _ => Ok(session::run(&plan).await?.exit_code()),
    }
}

/// The plan `run`'s options describe.
async fn plan_of(args: &RunArgs) -> Result<RunPlan> {
    let database = super::database(&args.db)?;
    let fault_plan = match (&args.fault, &args.fault_dir, args.no_faults) {
        (_, _, true) => FaultPlan::None,
        (Some(name), _, _) => FaultPlan::Catalog(name.clone()),
        (None, Some(dir), _) => FaultPlan::Migration(dir.clone()),
        (None, None, false) => FaultPlan::Scenario,
    };
    let mut plan = RunPlan::load(&args.scenario, database, args.out.clone())?
        .with_overrides(args.speed, args.seed)?
        .rescale(args.load_scale)?
        .with_faults(fault_plan)?
        .gated(args.gate)?;
    if args.no_rollback {
        plan = plan.without_rollback();
    }
    if let Some(shard) = args.shard {
        check_shard(&plan, shard, args.capacity)?;
        if shard.index > 0 {
            plan.faults.clear(); // faults run in shard 0 only
        }
    }
    plan.keep_db = args.keep_db;
    plan.shard = args.shard;
    plan.start_at = args.start_at;
    plan.metrics = args.metrics_addr.clone().map(|addr| Metrics {
        addr,
        linger_s: args.metrics_linger,
    });
    plan.check_migration().await?;
    plan.with_capacity(args.capacity, args.probe).await
}

/// A shard must resolve capacity fractions to the same rates as the others, and share their
/// database.
fn check_shard(plan: &RunPlan, shard: crate::results::Shard, capacity: Option<f64>) -> Result<()> {
    if capacity.is_none() && plan.scenario.load.unit == LoadUnit::Capacity {
        let msg = format!(
            "--shard {shard}: give --capacity too, so every shard resolves {}'s load in capacity fractions to the same rates",
            plan.file().display()
        );
        return Err(BadInput(msg).into());
    }
    if plan.database.url.is_none() {
        let msg = format!(
            "--shard {shard}: give --db too, so the shards share one database (sqlite:FILE, prepared once, or a server)"
        );
        return Err(BadInput(msg).into());
    }
    Ok(())
}

/// `--repeat N`: the ensemble, its headline, and where it is. Exit 130 when interrupted; with
/// the gate on, 3 when any run failed it.
async fn run_ensemble(plan: &RunPlan, n: usize) -> Result<ExitCode> {
    let dir = ensemble::new_dir(&plan.out, &plan.scenario.name)?;
    eprintln!(
        "ensemble: {n} runs of {} with seeds {}–{} in {}",
        plan.scenario.name,
        plan.seed(),
        plan.seed() + n as u64 - 1,
        dir.display()
    );
    let e = ensemble::run(plan, n, &dir, "ensemble").await?;
    println!("\n{}: {}", ensemble::title(&e.file), e.file.headline());
    if let Some(d) = &e.file.down_minutes {
        println!(
            "down for a median of {:.0} incident minutes (range {:.0}–{:.0}) in the {} runs that went down",
            d.median, d.low, d.high, d.n
        );
    }
    println!("written: {} (ensemble.md, ensemble.png)", e.dir.display());
    if e.interrupted() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let failed = e.failures.iter().filter(|(_, f)| f.is_some()).count();
    if plan.gated && failed > 0 {
        eprintln!(
            "gate: {failed} of {} runs breached the alert rules; exit code {EXIT_GATE_FAILED}",
            e.file.n
        );
        return Ok(ExitCode::from(EXIT_GATE_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
