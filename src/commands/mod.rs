//! One file per subcommand; each composes the stages.

mod calibrate;
mod capacity;
mod check;
mod compare;
mod merge;
mod plot;
mod prepare;
mod run;
mod train;
mod validate;
mod whatif;

use std::process::ExitCode;

use crate::cli::{Cli, Command, DbArgs};
use crate::store::Database;

pub use crate::error::BadInput;
pub use crate::session::EXIT_GATE_FAILED;

/// Runs one subcommand.
pub fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { scenario, db } => check::check(&scenario, db.as_deref()),
        Command::Faults { db } => check::list_faults(db.as_deref()),
        Command::Plot { run_dir } => plot::plot(&run_dir),
        Command::Merge {
            run_dirs,
            out,
            ensemble,
        } => merge::merge(&run_dirs, &out, ensemble),
        Command::Compare { run_dirs, out } => compare::compare(&run_dirs, out.as_deref()),
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Calibrate(args) => runtime()?.block_on(calibrate::calibrate(args)),
        Command::Capacity(args) => runtime()?.block_on(capacity::capacity(args)),
        Command::Prepare(args) => runtime()?.block_on(prepare::prepare(args)),
        Command::Validate(args) => runtime()?.block_on(validate::validate(args)),
        Command::Train(args) => runtime()?.block_on(train::train(args)),
        Command::Whatif(args) => runtime()?.block_on(whatif::whatif(args)),
    }
}

/// The runtime every command runs on. One thread: the tool shares the machine's cores with the
/// database it measures, and one core sends 500,000 to 1,000,000 arrivals a second on time
/// (benches/generator),
/// while worker threads only add cross-thread wake-ups (benches/driver on PostgreSQL, two
/// alternated pairs of 8 s: with two workers 7% fewer checkouts a second and 9–17% more CPU
/// per checkout). `OUTAGE_SIM_WORKER_THREADS=N` runs N workers instead.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    match std::env::var("OUTAGE_SIM_WORKER_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) if n > 0 => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    }
}

/// The backend `--db` names (SQLite without it); a bad URL is bad input.
pub fn parse_db(db: Option<&str>) -> Result<Option<crate::store::DbUrl>, BadInput> {
    db.map(str::parse)
        .transpose()
        .map_err(|e| BadInput(format!("--db: {e}")))
}

/// Where `--db`, `--schema` and `--cache` say a run's data lives.
pub fn database(args: &DbArgs) -> Result<Database, BadInput> {
    Ok(Database {
        url: parse_db(args.db.as_deref())?,
        schema: args.schema.clone(),
        cache: args.cache.clone(),
    })
}

/// The process exit code for an error: 2 for bad input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad_input = e
        .chain()
        .any(|c| c.is::<BadInput>() || c.is::<crate::scenario::ScenarioError>() || c.is::<crate::store::NotPrepared>());
    if bad_input { 2 } else { 1 }
}
