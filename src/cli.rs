//! The command line (clap types only).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::results::Shard;

/// Replay a production database outage end to end on a real database.
///
/// outage-sim drives peak-hour checkout traffic against a real orders schema, injects a
/// database fault on the incident clock (first: the "reporting" index of the 2024-06-08
/// checkout outage) and rolls it back, and writes the latency and throughput of every window
/// to a run directory with charts and a timeline.
///
/// Exit codes: 0 success, 1 runtime error (e.g. a server that does not answer), 2 bad usage or
/// bad input (a bad scenario file, an unknown fault, a bad --db URL, a server schema outage-sim
/// did not prepare), 3 alert rules breached while gating is on (`run --gate`
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
    /// Example: outage-sim run workloads/checkout-peak.toml --repeat 10   (the odds, not one draw)
    ///
    /// With no --db, the run uses an embedded SQLite file in the run directory, copied from a
    /// seeded base database kept in --cache (seeded once, then reused so every run starts from
    /// the same data). With --db postgres://… or mysql://… it works in a schema of its own
    /// (--schema): seeded on first use (as `prepare` does), reset to the seeded data before each
    /// later run. Ctrl-C stops the run, rolls back any applied fault and keeps the partial
    /// results (exit code 130).
    ///
    /// The fix, replayed: outage-sim run workloads/checkout-peak.toml --db URL --fault reporting-index-online
    Run(RunArgs),
    /// Measure the capacity of a database for a scenario's mix: an open-loop step search,
    /// repeated, with and without a fault.
    ///
    /// Example: outage-sim calibrate workloads/checkout-peak.toml --fault reporting-index
    ///
    /// Each step sends a flat rate of the scenario's mix for one window to warm up, then
    /// measures one: it passes when checkout meets the SLO (the scenario's checkout alert
    /// thresholds, or --slo-p99-ms / --slo-success) and the generator sent at least 98% of its
    /// arrivals. The rate doubles until a step fails twice in a row (a stall of the shared host can
    /// fail a step, never pass one), then is bisected to 5%. The knee is the
    /// median of --repeat searches, with their spread. Then fractions of the knee are held for
    /// the scenario's peak, from 0.85 down by a tenth at a time until checkout never goes down,
    /// then once halfway back up: the highest that held is the sustained
    /// capacity runs take. With --fault the searches alternate without and with the fault in
    /// place, so drift of the host cancels in their ratio, and the holds go on with the fault
    /// sent as each reaches its rate, as a scenario sends it at the peak, from a step under the
    /// sustained fraction down, until checkout climbs out after it: the change's cost in the
    /// units a peak is a fraction of. Writes capacity.json and capacity.png/.svg (p50 and p99
    /// against the offered rate).
    Calibrate(CalibrateArgs),
    /// The headroom: the largest load scale at which the scenario's peak still passes its alert
    /// rules, without its faults and with them, found by bisection over compressed replays.
    ///
    /// Example: outage-sim capacity workloads/checkout-peak.toml
    ///
    /// Each replay is `run --load-scale X --gate` (at --compress times the scenario's speed), on
    /// the calibrated capacity (calibrating first if there is none). The scale grows or shrinks
    /// by half until the verdict flips, then is bisected. Each scale tried is an ensemble of
    /// --repeat replays (seeds S..S+N-1) and holds only when all of them pass: "holds at 0.85×
    /// (3 of 3 passed); fails at 0.92× (1 of 3 passed: …)"; at most --max-replays per
    /// configuration. Every replay's run directory is kept under the study's directory.
    ///
    /// Example: outage-sim capacity --map --capacity 2600 --loads 1,1.5 --stalls 0,20 --repeat 2
    ///
    /// With --map it maps the vulnerable region instead: the scenario's mix held flat at each
    /// load (a multiple of its peak), writes to orders stalled for each number of real seconds
    /// as the hold reaches its rate (the catalog's write-stall; 0 is the control with no
    /// stall), --repeat replays per cell on the same seeds. A replay stayed down when checkout
    /// was still down twice the app's timeout after the stall ended (at least 30 s). Writes
    /// region.json, region.md and region.png (the heatmap, each load's region, the peak and the
    /// scenario's own change's DDL span drawn on it) and prints the planner's answer in a line.
    Capacity(HeadroomArgs),
    /// Create and seed the database a scenario runs on, without running it.
    ///
    /// Example: outage-sim prepare --db postgres://postgres@127.0.0.1:5432/test
    ///
    /// On PostgreSQL it creates a schema of its own (--schema) in the URL's database, on
    /// MySQL/MariaDB a database of its own, loads the scenario's order history into it (COPY on
    /// PostgreSQL, multi-row inserts on MySQL) and marks it as prepared by outage-sim. `run` does
    /// the same when needed, and otherwise resets it to the seeded data; faults are only ever
    /// applied to a schema outage-sim prepared. Without --db it fills the SQLite cache.
    Prepare(PrepareArgs),
    /// Validate a scenario file without running anything.
    ///
    /// Example: outage-sim check workloads/smoke.toml --db postgres://localhost/test
    ///
    /// The faults it names must exist for the backend of --db (SQLite without it); nothing is
    /// connected to.
    Check {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Check the faults against this backend (only the URL's scheme is used).
        #[arg(long, env = "OUTAGE_SIM_DATABASE_URL", hide_env_values = true)]
        db: Option<String>,
    },
    /// Validate a schema change under peak load: replay a scenario with your migration applied
    /// mid-peak, and pass or fail it on checkout's lock stalls and the scenario's alert rules.
    ///
    /// Example: outage-sim validate --migration examples/migrations/postgres/online --db postgres://localhost/test
    ///
    /// Example: outage-sim validate --migration DIR --peak 0.8 --repeat 5
    ///
    /// The migration runs against outage-sim's own orders schema (schema/<dialect>/schema.sql),
    /// so it must name those tables. It is first tried on an empty copy of the schema and rolled
    /// back, so one that cannot apply is found before any load. Then it stands in for the
    /// scenario's fault, at its times (validate-peak, the default: applied at 12:40 with the
    /// lunch peak held at 0.7 of calibrated capacity, and kept), in --repeat runs (default 3)
    /// with seeds S..S+N-1. The rule: FAIL (blocked) when any run stalled checkout on the
    /// migration's lock (checkouts timed out waiting for it: deterministic, one is enough);
    /// otherwise, when alert rules fired in k of N runs (degraded), the same peak is replayed
    /// on the same seeds without the migration: FAIL (degraded) when that fires them in fewer
    /// runs, "cannot judge" (exit 2) when as many or more; PASS when no run was blocked or
    /// degraded. Every count is printed with its Wilson 95% interval, and the worst run's seed
    /// with the command that replays it alone. Exit code 0 on PASS, 3 on
    /// FAIL, 2 when the migration is malformed or fails to apply (what part of it ran is rolled
    /// back) or cannot be judged, 1 on other errors. The run directory is written as for `run`.
    Validate(ValidateArgs),
    /// Postmortem training: a fault is hidden in the scenario's peak; find it, mitigate it,
    /// and be debriefed against what really happened.
    ///
    /// Example: outage-sim train workloads/training.toml --seed 7
    ///
    /// The fault is drawn (by --seed, so a class can face the same one) from the scenario's
    /// [training] candidates, at a time drawn within its window. On a terminal a live console
    /// shows checkout, the alerts, the database monitor and the session holding others up;
    /// type commands on its input line: `diagnose CAUSE` (`--causes` lists them),
    /// `rollback FAULT`, `kill PID`, and the app's own guards: `shed` (admit only what the
    /// database served before the trouble), `retries off`, `retry-budget P` (retries only while
    /// under P of the requests, e.g. 0.1 or 10%); `quit`. Without a terminal, give the same
    /// commands on stdin, one a line:
    ///
    ///   (sleep 20; echo diagnose index-build; echo rollback reporting-index) | outage-sim train
    ///
    /// On a server you may act from psql or mysql instead (DROP INDEX, pg_terminate_backend,
    /// KILL): the mitigation is detected from the database within one window. The run ends
    /// when checkout has recovered after the cause is gone, when you quit, or at the clock's
    /// end; then it writes debrief.md (your times beside the postmortem's and your best earlier
    /// attempt with the same seed; which of your actions ended the outage, read from checkout's
    /// windows; what the scenario's latest `whatif` study says each would have done),
    /// score.json, and the usual run directory.
    Train(TrainArgs),
    /// What made the outage and what ended it: the scenario's ensemble as it is and, on the
    /// same seeds, with one factor changed at a time.
    ///
    /// Example: outage-sim whatif workloads/checkout-peak.toml --repeat 5
    ///
    /// Example: outage-sim whatif workloads/smoke.toml --repeat 3 --only as-is,no-retries,retry-budget
    ///
    /// The variants: as-is; no-build (the change in place before the run starts, `apply =
    /// "before"`: its steady cost without its build stall); build-only (the change rolled back as soon as it is built: its
    /// stall without its steady cost); no-retries; retry-budget (the app retries only while
    /// retries are under 10% of its requests, `limits.retry_budget`); shed-at-alert (from the
    /// first alert the app admits only what the database served before it,
    /// `limits.shed_at_alert`); rollback-at-alert (the rollback 10 incident minutes after the
    /// first alert, `rollback_after_alert`); no-rollback; no-lull (the peak held to the end). A
    /// variant that changes nothing in the scenario (no-retries when shoppers never retry) is
    /// listed as not run, with why. The runs go seed by seed across the variants, so the
    /// host's drift falls on all alike. Writes whatif.json, whatif.md and each variant's ensemble
    /// in results/whatif-<scenario>-<UTC time>/, and says from the counts, in two sentences,
    /// which changes prevented the outage beyond the intervals and which kept it going longer
    /// beyond the ranges.
    Whatif(WhatifArgs),
    /// List the faults a backend offers, with what each does, why it hurts and the safer way.
    ///
    /// Example: outage-sim faults --db postgres://localhost/test   (only the URL's scheme is used)
    ///
    /// Each is `schema/faults/<dialect>/<name>.up.sql` and `.down.sql`, built into the binary.
    Faults {
        /// The backend whose faults to list (SQLite without it); nothing is connected to.
        #[arg(long, env = "OUTAGE_SIM_DATABASE_URL", hide_env_values = true)]
        db: Option<String>,
    },
    /// Overlay several runs on the incident clock (e.g. the incident and its fix), or compare
    /// two ensembles.
    ///
    /// Example: outage-sim compare results/checkout-peak-A results/checkout-peak-B
    ///
    /// Writes compare.png, compare.svg and compare.html (per-phase deltas against the first
    /// run, time to detect / mitigate / recover side by side) into --out. Given two ensemble
    /// directories (`run --repeat`), it writes compare.md: each figure's count and interval (or
    /// median and range) side by side, and "within the noise" where the intervals overlap.
    Compare {
        /// Two or more run directories; the first is the baseline of the deltas.
        #[arg(required = true, num_args = 2..)]
        run_dirs: Vec<PathBuf>,
        /// Where to write the comparison. Default: results/compare-<UTC time>/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Join the run directories of a sharded run (`run --shard K/N`) into one run directory.
    ///
    /// Example: outage-sim merge results/shards/0/* results/shards/1/* --out results/merged
    ///
    /// Adds the shards' latency histograms per window and operation (latency.hlog: exact
    /// percentiles, not averages of percentiles), sums their counters, joins their events and
    /// database samples, then analyses and draws the merged run as any other.
    ///
    /// With --ensemble, the run directories are whole runs of one ensemble made on several
    /// machines (one seed each, e.g. the pods of deploy/k8s/ensemble-job.yaml): they are copied
    /// into one ensemble directory and counted as `run --repeat` counts them.
    ///
    /// Example: outage-sim merge --ensemble results/pods/*/seed-* --out results/ensemble
    Merge {
        /// Every shard's run directory, one per shard (with --ensemble: one per seed).
        #[arg(required = true, num_args = 1..)]
        run_dirs: Vec<PathBuf>,
        /// The merged run directory to write (created; must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Collect whole runs (one seed each) into an ensemble instead of joining shards.
        #[arg(long)]
        ensemble: bool,
    },
    /// Redraw the charts, summary and timeline of a run directory from its files alone; for an
    /// ensemble directory, judge every run again and redraw ensemble.json, .md and the chart; for
    /// a whatif directory, the same for each variant, then whatif.json, .md, the chart and its
    /// two sentences.
    ///
    /// Example: outage-sim plot results/checkout-peak-20260101T120000Z
    ///
    /// Example: outage-sim plot results/checkout-peak-ensemble-20260101T120000Z
    ///
    /// Example: outage-sim plot results/whatif-checkout-peak-20260101T120000Z
    Plot {
        /// A run directory written by `outage-sim run`, an ensemble directory (`run --repeat`), or a
        /// whatif directory (`whatif`: each variant counted again from its runs).
        run_dir: PathBuf,
    },
}

/// Where a run's data lives; shared by `run` and `prepare`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL. Default: an embedded SQLite file in the run directory.
    /// `sqlite:PATH` uses (and if missing, prepares) that file instead;
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB` and `mysql://USER[:PASSWORD]@HOST:PORT/DB`
    /// (or `mariadb://…`) use a server. Passwords are never printed or written.
    // A String, parsed by the command rather than clap, so a bad URL's password is never echoed.
    #[arg(long, env = "OUTAGE_SIM_DATABASE_URL", hide_env_values = true)]
    pub db: Option<String>,
    /// On a server, the schema (PostgreSQL) or database (MySQL) outage-sim creates, seeds and
    /// owns. It refuses one that exists without its marker.
    #[arg(long, default_value = "outage_sim", value_parser = schema_name)]
    pub schema: String,
    /// Where seeded base databases are kept and reused across runs (SQLite).
    #[arg(long, default_value = "results/.cache")]
    pub cache: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PrepareArgs {
    /// The scenario whose data sizes and seed shape the history.
    #[arg(default_value = "workloads/checkout-peak.toml")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// The scenario whose mix, data and limits are measured.
    #[arg(default_value = "workloads/checkout-peak.toml")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Also measure with this catalog fault in place (an index: not a held transaction).
    #[arg(long, value_name = "NAME", conflicts_with = "fault_dir")]
    pub fault: Option<String>,
    /// Also measure with your migration in place.
    #[arg(long, value_name = "DIR")]
    pub fault_dir: Option<PathBuf>,
    /// Searches per configuration; the knee is their median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,
    /// Real milliseconds of each step's warm-up, and of its measured window.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1000..=60_000))]
    pub step_ms: u64,
    /// Checkout p99 a step must stay under (default: the scenario's p99 alert threshold).
    #[arg(long, value_parser = positive_f64)]
    pub slo_p99_ms: Option<f64>,
    /// Checkout success ratio a step must reach (default: the scenario's alert threshold, or 0.99).
    #[arg(long, value_parser = positive_f64)]
    pub slo_success: Option<f64>,
    /// Where the calibration directory is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The scenario whose [training] section says what may be hidden.
    #[arg(default_value = "workloads/training.toml")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Draws the hidden fault and its time (default: a random seed, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Incident seconds per real second (default 6: one incident minute per 10 s).
    #[arg(long, default_value_t = 6.0, value_parser = positive_f64)]
    pub speed: f64,
    /// The capacity in arrivals/s (default: the latest calibration, made first if none).
    #[arg(long, value_name = "PER_S", value_parser = positive_f64, conflicts_with = "probe")]
    pub capacity: Option<f64>,
    /// Measure capacity with the short closed-loop probe instead of a calibration.
    #[arg(long)]
    pub probe: bool,
    /// Print the causes `diagnose` takes and exit.
    #[arg(long)]
    pub causes: bool,
    /// Where the run directory is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct HeadroomArgs {
    /// The scenario whose peak is scaled and whose alert rules judge each replay.
    #[arg(default_value = "workloads/checkout-peak.toml")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Replays run at this many times the scenario's speed. Above 1, every stall that lasts a
    /// fixed real time (a DDL holding its lock) lasts that many times longer on the incident
    /// clock the alert rules judge, so the faults look worse than they are.
    #[arg(long, default_value_t = 1.0, value_parser = positive_f64)]
    pub compress: f64,
    /// Replays per scale tried, with seeds S..S+N-1; a scale holds when all of them pass.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// At most this many replays per configuration (without and with the faults): --repeat per
    /// scale tried.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=400))]
    pub max_replays: u32,
    /// The capacity the load is a fraction of, instead of the latest calibration.
    #[arg(long, value_name = "PER_S", value_parser = positive_f64)]
    pub capacity: Option<f64>,
    /// Where the study's directory is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Map load against write-stall length (see above) instead of searching the headroom.
    #[arg(long)]
    pub map: bool,
    /// With --map: the loads, as multiples of the scenario's peak, comma-separated (the
    /// default: the planner's scales, from the peak to where the load alone goes down).
    #[arg(long, requires = "map", value_delimiter = ',', default_value = "1,1.25,1.5,1.75", value_parser = positive_f64)]
    pub loads: Vec<f64>,
    /// With --map: the write stalls, real seconds, comma-separated (0: no stall, the control).
    #[arg(long, requires = "map", value_delimiter = ',', default_value = "0,5,10,20,40", value_parser = stall_secs)]
    pub stalls: Vec<f64>,
}

#[derive(Debug, clap::Args)]
pub struct WhatifArgs {
    /// The scenario whose outage is asked about.
    #[arg(default_value = "workloads/checkout-peak.toml")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Runs per variant, with seeds S..S+N-1 (the same in every variant).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// The first seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Only these variants, comma-separated (as-is always runs too, first in each round of seeds).
    #[arg(long, value_delimiter = ',', value_parser = variant_name)]
    pub only: Vec<String>,
    /// The capacity in arrivals/s (default: the latest calibration, made first if none).
    #[arg(long, value_name = "PER_S", value_parser = positive_f64)]
    pub capacity: Option<f64>,
    /// Where the study's directory is created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

fn variant_name(s: &str) -> Result<String, String> {
    match crate::whatif::Variant::parse(s) {
        Some(v) => Ok(v.name().to_string()),
        None => {
            let names: Vec<&str> = crate::whatif::Variant::ALL.iter().map(|v| v.name()).collect();
            Err(format!("expected one of {}", names.join(", ")))
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The scenario whose peak and alert rules judge the migration. The default holds the lunch
    /// peak at 0.7 of calibrated capacity, a production headroom.
    #[arg(default_value = "workloads/validate-peak.toml")]
    pub scenario: PathBuf,
    /// A directory of `<VERSION>_<DESCRIPTION>.up.sql` / `.down.sql` files.
    #[arg(long, value_name = "DIR")]
    pub migration: PathBuf,
    /// Hold the scenario's peak at this fraction of capacity instead, e.g. 0.8.
    #[arg(long, value_name = "F", value_parser = positive_f64, conflicts_with = "envelope")]
    pub peak: Option<f64>,
    /// Find the highest peak fraction at which the migration still passes in every run of its
    /// ensemble (--repeat; bisection over validations, at most --max-replays runs), e.g. "safe
    /// up to a peak of 0.80 of capacity (3 of 3 passed; fails at 0.88: …)".
    /// A degraded lowest failure is replayed once more without the migration, to tell its cost
    /// from the peak's.
    #[arg(long)]
    pub envelope: bool,
    /// Runs per validation, with seeds S..S+N-1. One run blocked on the migration's lock fails
    /// it; degraded runs fail it only when the peak alone, on the same seeds, fires its alert
    /// rules in fewer runs. Example: --repeat 5
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// The first seed (default: the scenario's): `--seed S --repeat 1` replays one run of an
    /// earlier validation alone, with the same arrival schedule.
    #[arg(long)]
    pub seed: Option<u64>,
    /// With --envelope: at most this many runs in all (--repeat per peak tried), plus those
    /// without the migration.
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u32).range(2..=200))]
    pub max_replays: u32,
    /// The capacity the peak is a fraction of, instead of the latest calibration.
    #[arg(long, value_name = "PER_S", value_parser = positive_f64)]
    pub capacity: Option<f64>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Where run directories are created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML), e.g. workloads/checkout-peak.toml.
    pub scenario: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    /// Apply this catalog fault instead of the scenario's, at the same times: e.g.
    /// `--fault reporting-index-online` replays the fix (PostgreSQL and MySQL).
    #[arg(long, value_name = "NAME", conflicts_with = "fault_dir")]
    pub fault: Option<String>,
    /// Apply your own migration instead of the scenario's fault, at the same times: a directory
    /// of `<VERSION>_<DESCRIPTION>.up.sql` / `.down.sql` files (sqlx reversible migrations).
    #[arg(long, value_name = "DIR")]
    pub fault_dir: Option<PathBuf>,
    /// Override the scenario's clock speed (simulated seconds per real second).
    #[arg(long, value_parser = positive_f64)]
    pub speed: Option<f64>,
    /// Override the scenario's seed (the arrival schedule depends only on scenario and seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The capacity (arrivals per second of the scenario's mix) that a load given in capacity
    /// fractions is taken of. Default: the latest `calibrate` of this scenario on this database
    /// and data (capacity.json under --out); without one, the run calibrates first (one search)
    /// and keeps it for the next runs. Example: --capacity 2400
    #[arg(long, value_name = "PER_S", value_parser = positive_f64, conflicts_with = "probe")]
    pub capacity: Option<f64>,
    /// Measure the capacity with the old short closed-loop probe instead (its figure spreads
    /// ±15–20% from run to run; docs/capacity.md).
    #[arg(long)]
    pub probe: bool,
    /// Multiply the load curve, e.g. 1.5 to replay the peak at 1.5x (capacity planning).
    #[arg(long, value_name = "X", value_parser = positive_f64)]
    pub load_scale: Option<f64>,
    /// Where run directories are created.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Exit with code 3 when any alert rule fired (for CI gates). Also on with
    /// `[gate] enabled = true` in the scenario.
    #[arg(long)]
    pub gate: bool,
    /// Replay the baseline: the scenario's load without any of its faults.
    #[arg(long, conflicts_with_all = ["fault", "fault_dir"])]
    pub no_faults: bool,
    /// The cause control: the faults stay in place until the end of the run, so an outage that
    /// ends anyway ended with the load, not the rollback. With --repeat, ensemble.md counts the
    /// runs still down 30 incident minutes after the rollback's time.
    #[arg(long, conflicts_with = "no_faults")]
    pub no_rollback: bool,
    /// Keep the run's SQLite file in the run directory (it is deleted by default; it is a
    /// copy of the cached base database plus what the run wrote).
    #[arg(long)]
    pub keep_db: bool,
    /// Serve live OpenMetrics text on http://HOST:PORT/metrics while the run goes (for
    /// Prometheus; see deploy/). Example: --metrics-addr 127.0.0.1:9464
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Seconds to keep serving /metrics after the run, so the last scrape sees the end.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = linger_secs)]
    pub metrics_linger: f64,
    /// Drive only shard K of N of the scenario's seeded arrivals (K from 0): N shards together
    /// send exactly the arrivals of one generator. Faults run in shard 0 only. Join the run
    /// directories with `outage-sim merge`. Example: --shard 0/2
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Start the run's clock at this UTC time (RFC 3339), so shards' windows line up; at most
    /// an hour ahead. Example: --start-at 2026-11-26T10:00:00Z
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Replay it N times, with seeds S, S+1, …, S+N-1 (S: --seed or the scenario's), the data
    /// reset before each, into one ensemble directory: each run classified (outage, degraded,
    /// no outage) and scored against the scenario's [story], every proportion with its Wilson
    /// 95% interval (ensemble.json, ensemble.md, ensemble.png). Ctrl-C keeps the finished runs.
    /// Example: --repeat 10
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000),
          conflicts_with_all = ["shard", "start_at"])]
    pub repeat: u32,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let expected = || format!("expected K/N with 0 <= K < N <= 1000, e.g. 0/2, got {s:?}");
    let (k, n) = s.split_once('/').ok_or_else(expected)?;
    let (index, of) = (
        k.trim().parse().map_err(|_| expected())?,
        n.trim().parse().map_err(|_| expected())?,
    );
    if index >= of || of > 1000 {
        return Err(expected());
    }
    Ok(Shard { index, of })
}

fn parse_start_at(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("expected a UTC time as RFC 3339, e.g. 2026-11-26T10:00:00Z, got {s:?}: {e}"))
}

fn linger_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("expected seconds from 0 to 3600, got {s:?}")),
    }
}

fn schema_name(s: &str) -> Result<String, String> {
    crate::store::check_schema_name(s).map(|()| s.to_string())
}

/// A write stall's real seconds: 0 (the control) to an hour.
fn stall_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected seconds, e.g. 20, not {s:?}"))?;
    (0.0..=3600.0)
        .contains(&v)
        .then_some(v)
        .ok_or_else(|| format!("expected 0 to 3600 seconds, not {v}"))
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("expected a number > 0, got {s:?}")),
    }
}
