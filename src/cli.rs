//! The command line (clap types only).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Replay a production database outage end to end on a real database.
///
/// outage-sim drives peak-hour checkout traffic against a real orders schema, injects a
/// database fault on the incident clock (first: the "reporting" index of the 2024-06-08
/// checkout outage) and rolls it back, and writes the latency and throughput of every window
/// to a run directory with charts and a timeline.
///
/// Exit codes: 0 success, 1 runtime error, 2 bad usage or bad input (a bad scenario file, an
/// unknown fault, an unsupported --db), 3 alert rules breached while gating is on (`run --gate`
/// or `[gate] enabled = true` in the scenario), 130 interrupted (the fault was rolled back and the
/// partial results were written).
#[derive(Debug, Parser)]
#[command(name = "outage-sim", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a scenario against a database and write results/<scenario>-<UTC time>/.
    ///
    /// Example: outage-sim run workloads/checkout-peak.toml
    ///
    /// With no --db, the run uses an embedded SQLite file in the run directory, copied from a
    /// seeded base database kept in --cache (seeded once, then reused so every run starts from
    /// the same data). Ctrl-C stops the run, rolls back any applied fault and keeps the partial
    /// results (exit code 130).
    Run(RunArgs),
    /// Validate a scenario file without running anything.
    ///
    /// Example: outage-sim check workloads/smoke.toml
    Check {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
    /// Overlay several runs on the incident clock (e.g. the incident and its fix).
    ///
    /// Example: outage-sim compare results/checkout-peak-A results/checkout-peak-B
    ///
    /// Writes compare.png, compare.svg and compare.html (per-phase deltas against the first
    /// run, time to detect / mitigate / recover side by side) into --out.
    Compare {
        /// Two or more run directories; the first is the baseline of the deltas.
        #[arg(required = true, num_args = 2..)]
        run_dirs: Vec<PathBuf>,
        /// Where to write the comparison. Default: results/compare-<UTC time>/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Redraw the charts, summary and timeline of a run directory from its files alone.
    ///
    /// Example: outage-sim plot results/checkout-peak-20260101T120000Z
    Plot {
        /// A run directory written by `outage-sim run`.
        run_dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML), e.g. workloads/checkout-peak.toml.
    pub scenario: PathBuf,
    /// Database URL. Default: an embedded SQLite file in the run directory.
    /// `sqlite:PATH` uses (and if missing, prepares) that file instead.
    // A String, parsed by the run command rather than clap, so a bad URL's password is never echoed.
    #[arg(long, env = "OUTAGE_SIM_DATABASE_URL", hide_env_values = true)]
    pub db: Option<String>,
    /// Override the scenario's clock speed (simulated seconds per real second).
    #[arg(long, value_parser = positive_f64)]
    pub speed: Option<f64>,
    /// Override the scenario's seed (the arrival schedule depends only on scenario and seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run directories are created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Where seeded base databases are kept and reused across runs (SQLite).
    #[arg(long, default_value = "results/.cache")]
    pub cache: PathBuf,
    /// Exit with code 3 when any alert rule fired (for CI gates). Also on with
    /// `[gate] enabled = true` in the scenario.
    #[arg(long)]
    pub gate: bool,
    /// Keep the run's SQLite file in the run directory (it is deleted by default; it is a
    /// copy of the cached base database plus what the run wrote).
    #[arg(long)]
    pub keep_db: bool,
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "expected a number > 0 (simulated seconds per real second), got {s:?}"
        )),
    }
}
