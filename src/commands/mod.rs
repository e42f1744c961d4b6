//! One file per subcommand; each composes the stages.

mod check;
mod compare;
mod plot;
mod run;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Bad usage or bad input (exit code 2), as opposed to a failure while running (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Runs one subcommand.
pub fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { scenario } => check::check(&scenario),
        Command::Plot { run_dir } => plot::plot(&run_dir),
        Command::Compare { run_dirs, out } => compare::compare(&run_dirs, out.as_deref()),
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(run::run(args))
        }
    }
}

/// Exit code when gating is on and the alert rules were breached.
pub const EXIT_GATE_FAILED: u8 = 3;

/// The process exit code for an error: 2 for bad input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad_input = e
        .chain()
        .any(|c| c.is::<BadInput>() || c.is::<crate::scenario::ScenarioError>());
    if bad_input { 2 } else { 1 }
}
