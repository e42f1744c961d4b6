//! `outage-sim capacity`: the headroom of a scenario's peak, without its faults and with them,
//! by bisection over compressed, gated replays (each a `run`), on one calibrated capacity.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::EXIT_GATE_FAILED;
use super::run::{Failure, run_judged};
use crate::calibrate::headroom::{self, Replay};
use crate::cli::{HeadroomArgs, RunArgs, ValidateArgs};
use crate::results::RunDir;
use crate::scenario::Scenario;

pub async fn capacity(args: HeadroomArgs) -> Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    let speed = scenario.clock.speed * args.compress;
    // One capacity for every replay: the same experiment at each scale.
    let mut base = replay_args(&args, speed);
    let capacity = fixed_capacity(&base, &scenario).await?;
    base.capacity = Some(capacity);
    let study = RunDir::create(&args.out, &format!("capacity-{}", scenario.name), chrono::Utc::now())?;
    eprintln!(
        "capacity study: {} (capacity {capacity:.0}/s, replays at {speed}× speed)",
        study.path.display()
    );
    let mut found = Vec::new();
    for with_faults in [false, true] {
        if with_faults && scenario.faults.is_empty() {
            continue;
        }
        let label = if with_faults {
            "with its faults"
        } else {
            "without faults"
        };
        let out = study.path.join(if with_faults { "with-faults" } else { "no-faults" });
        let h = headroom::search(args.max_replays as usize, 1.1, async |scale| {
            let r = one_replay(&base, scale, !with_faults, &out).await?;
            crate::progress::line(&format!("capacity ({label}): {scale:.2}× the load: {}", r.verdict()));
            Ok(r)
        })
        .await?;
        found.push((label, h));
    }
    study.write_json(
        "headroom.json",
        &found
            .iter()
            .map(|(l, h)| (l.to_string(), h.clone()))
            .collect::<Vec<_>>(),
    )?;
    println!("\n{}: the peak at {capacity:.0}/s capacity", scenario.name);
    for (label, h) in &found {
        println!("  {label}: {}", h.describe());
    }
    println!("written: {}", study.path.display());
    Ok(ExitCode::SUCCESS)
}

/// The one capacity every replay of a study takes (given, or calibrated now if need be), so each
/// scale is the same experiment.
async fn fixed_capacity(base: &RunArgs, scenario: &Scenario) -> Result<f64> {
    let db = super::parse_db(base.db.db.as_deref())?;
    let source = super::run::capacity_source(base, scenario, db.as_ref()).await?;
    source.per_s().ok_or_else(|| {
        let msg = format!("{}: its load is not in capacity fractions", base.scenario.display());
        super::BadInput(msg).into()
    })
}

fn replay_args(args: &HeadroomArgs, speed: f64) -> RunArgs {
    RunArgs {
        speed: Some(speed),
        capacity: args.capacity,
        ..RunArgs::gated(args.scenario.clone(), args.db.clone(), args.out.clone())
    }
}

/// One gated replay at `scale`, its run directory under `out`.
async fn one_replay(base: &RunArgs, scale: f64, no_faults: bool, out: &Path) -> Result<Replay> {
    let (code, failure) = run_judged(RunArgs {
        load_scale: Some(scale),
        no_faults,
        fault_dir: if no_faults { None } else { base.fault_dir.clone() },
        out: out.to_path_buf(),
        quiet: true,
        ..base.clone()
    })
    .await?;
    let passed = code == ExitCode::SUCCESS;
    if !passed && code != ExitCode::from(EXIT_GATE_FAILED) {
        anyhow::bail!("the replay at {scale:.2}× ended without a verdict ({code:?})");
    }
    let run_dir = newest_dir(out).unwrap_or_default();
    let blocked = matches!(failure, Some(Failure::Blocked(_)));
    let fired = match failure {
        Some(Failure::Blocked(b)) => Some(b.to_string()),
        _ => first_alert(&run_dir),
    };
    Ok(Replay {
        scale,
        passed,
        fired: (!passed).then_some(fired).flatten(),
        blocked,
        run_dir: run_dir.display().to_string(),
    })
}

fn newest_dir(out: &Path) -> Option<std::path::PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// The rule of the first alert in a run's summary.
fn first_alert(run_dir: &Path) -> Option<String> {
    let dir = RunDir {
        path: run_dir.to_path_buf(),
    };
    let summary: crate::analysis::Summary = dir.read_json(crate::results::SUMMARY_JSON).ok()?;
    summary.alerts.first().map(|a| format!("{} at {}", a.name, a.fired))
}

/// `validate --envelope`: the highest peak fraction at which the migration still passes,
/// bisected over validations on one capacity. When the lowest failure was degraded (alert rules,
/// no lock stall), the same peak is replayed without the migration, as `validate` does: if that
/// fails too, the bound found is the database's own, not the migration's.
pub async fn envelope(args: &ValidateArgs) -> Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    let highest = scenario.load.points.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut base = super::run::validate_args(args, None)?;
    let migration = crate::faults::migration_dir::load(&args.migration).map_err(super::BadInput)?;
    let db = super::parse_db(args.db.db.as_deref())?;
    crate::faults::precheck::on_empty_copy(&args.migration, &migration, &scenario, db.as_ref(), &args.db.schema)
        .await?;
    base.capacity = Some(fixed_capacity(&base, &scenario).await?);
    let out = args
        .out
        .join(format!("envelope-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
    let migration = args.migration.display().to_string();
    let h = headroom::search(args.max_replays as usize, 1.1, async |scale| {
        let peak = scale * highest;
        let r = one_replay(&base, scale, false, &out).await?;
        crate::progress::line(&format!(
            "envelope: {migration} at a peak of {peak:.2}: {}",
            r.verdict()
        ));
        Ok(r)
    })
    .await?;
    let baseline = match h
        .fails_from
        .filter(|f| h.replays.iter().any(|r| r.scale == *f && !r.passed && !r.blocked))
    {
        Some(f) => Some(peak_alone(&base, f, highest, &out).await?),
        None => None,
    };
    let said = envelope_said(&h, baseline.as_ref(), highest);
    println!(
        "validate --envelope: {migration}: {said} ({} validations in {})",
        h.replays.len() + baseline.iter().count(),
        out.display()
    );
    match (&baseline, h.passes_up_to) {
        (Some(b), None) if !b.passed => {
            let msg = format!(
                "validate --envelope: cannot judge {migration}: even the lowest peak tried fails its alert rules without it"
            );
            Err(super::BadInput(msg).into())
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The peak at `scale` without the migration, after the migration failed there degraded: did
/// the peak alone break the rules?
async fn peak_alone(base: &RunArgs, scale: f64, highest: f64, out: &Path) -> Result<Replay> {
    let peak = scale * highest;
    eprintln!("envelope: the failure at a peak of {peak:.2} was degraded; replaying that peak without the migration");
    let r = one_replay(base, scale, true, &out.join("without-migration")).await?;
    crate::progress::line(&format!(
        "envelope: without the migration at a peak of {peak:.2}: {}",
        r.verdict()
    ));
    Ok(r)
}

/// The envelope's answer in a line: where the migration is safe, and where and how it failed;
/// `baseline` is the peak that failed degraded, replayed without the migration.
fn envelope_said(h: &headroom::Headroom, baseline: Option<&Replay>, highest: f64) -> String {
    let fired = |f: f64| h.fired_at(f);
    let own_limit = baseline.is_some_and(|b| !b.passed);
    match (h.passes_up_to.map(|p| p * highest), h.fails_from) {
        (Some(p), Some(f)) if own_limit => format!(
            "safe up to a peak of {p:.2} of capacity at least: at {:.2} the peak fails its alert rules without the migration too \
             ({}), so that is the database's limit, not the migration's",
            f * highest,
            baseline.map_or(String::new(), Replay::verdict)
        ),
        (Some(p), Some(f)) => format!(
            "safe up to a peak of {p:.2} of capacity (fails at {:.2}{}{})",
            f * highest,
            fired(f),
            if baseline.is_some() {
                "; without the migration that peak passes"
            } else {
                ""
            }
        ),
        (Some(p), None) => format!("safe up to a peak of {p:.2} of capacity at least (nothing higher was tried)"),
        (None, Some(f)) if own_limit => format!(
            "no verdict: at {:.2} of capacity, the lowest peak tried, the peak fails its alert rules without the migration too",
            f * highest
        ),
        (None, Some(f)) => format!(
            "fails at every peak tried, down to {:.2} of capacity{}",
            f * highest,
            fired(f)
        ),
        (None, None) => "nothing ran".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(scale: f64, passed: bool, blocked: bool) -> Replay {
        Replay {
            scale,
            passed,
            fired: (!passed).then(|| if blocked { "blocked 2.0 s" } else { "p99 at 12:45" }.to_string()),
            blocked,
            run_dir: String::new(),
        }
    }

    fn found(replays: Vec<Replay>) -> headroom::Headroom {
        let best = |pass: bool| replays.iter().filter(move |r| r.passed == pass).map(|r| r.scale);
        headroom::Headroom {
            passes_up_to: best(true).reduce(f64::max),
            fails_from: best(false).reduce(f64::min),
            replays,
        }
    }

    #[test]
    fn a_degraded_failure_that_the_peak_alone_repeats_is_the_databases_limit() {
        let h = found(vec![replay(1.0, false, false), replay(0.8, true, false)]);
        let said = envelope_said(&h, Some(&replay(1.0, false, false)), 0.7);
        assert!(
            said.starts_with("safe up to a peak of 0.56 of capacity at least"),
            "{said}"
        );
        assert!(said.contains("database's limit"), "{said}");
        let said = envelope_said(&h, Some(&replay(1.0, true, false)), 0.7);
        assert!(
            said.starts_with("safe up to a peak of 0.56 of capacity (fails at 0.70: p99 at 12:45"),
            "{said}"
        );
        assert!(said.ends_with("without the migration that peak passes)"), "{said}");
    }

    #[test]
    fn a_blocked_migration_fails_without_a_baseline_and_nothing_passing_is_no_verdict() {
        let h = found(vec![replay(1.0, false, true), replay(0.5, false, true)]);
        let said = envelope_said(&h, None, 0.7);
        assert_eq!(
            said,
            "fails at every peak tried, down to 0.35 of capacity: blocked 2.0 s"
        );
        let h = found(vec![replay(1.0, false, false), replay(0.5, false, false)]);
        let said = envelope_said(&h, Some(&replay(0.5, false, false)), 0.7);
        assert!(said.starts_with("no verdict: at 0.35 of capacity"), "{said}");
    }
}
