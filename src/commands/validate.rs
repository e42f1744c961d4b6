//! `outage-sim validate`: the migration stands in for the scenario's fault, at a stated
//! headroom, gated, as an ensemble of `--repeat` runs; judged by a stated rule. `--envelope`
//! bisects the peak fraction at which it still passes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::BadInput;
use crate::calibrate::headroom::{self, Replay};
use crate::cli::ValidateArgs;
use crate::ensemble::{self, Ensemble, Proportion};
use crate::plan::{FaultPlan, RunPlan};
use crate::results::{META_JSON, Meta, RunDir};
use crate::session::{EXIT_GATE_FAILED, EXIT_INTERRUPTED, Failure};

/// The gated plan that validates the migration, its peak held at `--peak` of capacity if given.
async fn plan_of(args: &ValidateArgs) -> Result<RunPlan> {
    let database = super::database(&args.db)?;
    let plan = RunPlan::load(&args.scenario, database, args.out.clone())?.with_overrides(None, args.seed)?;
    let scale = match args.peak {
        Some(peak) => Some(plan.peak_scale(peak)?),
        None => None,
    };
    let plan = plan
        .rescale(scale)?
        .with_faults(FaultPlan::Migration(args.migration.clone()))?
        .gated(true)?;
    plan.check_migration().await?;
    plan.with_capacity(args.capacity, false).await
}

pub async fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let plan = plan_of(&args).await?;
    if args.envelope {
        return envelope(&args, plan).await;
    }
    let (migration, scenario) = (
        args.migration.display().to_string(),
        args.scenario.display().to_string(),
    );
    let n = args.repeat as usize;
    let dir = ensemble::new_dir(&args.out, &format!("validate-{}", plan.scenario.name))?;
    eprintln!(
        "validate: {migration} under the peak of {scenario}, {n} runs (seeds {}–{}) in {}",
        plan.seed(),
        plan.seed() + n as u64 - 1,
        dir.display()
    );
    let with = ensemble::run(&plan, n, &dir.join("with-migration"), "validate").await?;
    if with.interrupted() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let blocked = count(&with, |f| matches!(f, Failure::Blocked(_)));
    let degraded = count(&with, |f| *f == Failure::Degraded);
    let worst = worst_seed(&with, &args);
    if blocked.count > 0 {
        let first = with
            .file
            .runs
            .iter()
            .find_map(|r| r.blocked.clone())
            .unwrap_or_default();
        let stall = first.trim_start_matches("blocked: ");
        println!(
            "validate: FAIL (blocked in {}; the first: {stall}): {migration} under the peak of {scenario}\n  rule: one run blocked on the migration's lock fails it\n{worst}",
            blocked
        );
        return Ok(ExitCode::from(EXIT_GATE_FAILED));
    }
    if degraded.count == 0 {
        println!(
            "validate: PASS: {migration} under the peak of {scenario}: no lock stall and no alert rule fired in {} runs \
             (degraded in {})\n  rule: PASS when no run is blocked and none fires an alert rule",
            n, degraded
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "validate: alert rules fired in {}; the same peak on the same seeds without the migration, to see whether it is the cause",
        degraded
    );
    let without = ensemble::run(
        &plan.without_faults(),
        n,
        &dir.join("without-migration"),
        "validate (without)",
    )
    .await?;
    if without.interrupted() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let baseline = count(&without, |f| *f == Failure::Degraded);
    let rule = "rule: FAIL (degraded) when the migration fires the alert rules in more runs than the peak alone on the same seeds; \
                no verdict when the peak alone fires them as often";
    if baseline.count >= degraded.count {
        let msg = format!(
            "validate: cannot judge {migration}: the peak of {scenario} fires its alert rules without the migration in {} \
             (with it: {}), so this database has less headroom than the peak asks; lower --peak or calibrate again ({rule})",
            baseline, degraded
        );
        return Err(BadInput(msg).into());
    }
    let noise = if degraded.overlaps(&baseline) {
        " (the intervals overlap: more runs would tell it from the noise)"
    } else {
        ""
    };
    println!(
        "validate: FAIL (degraded in {} with the migration, {} without it{noise}; checkout was not blocked on its lock): \
         {migration} under the peak of {scenario}\n  {rule}\n{worst}",
        degraded, baseline
    );
    Ok(ExitCode::from(EXIT_GATE_FAILED))
}

/// How many runs of an ensemble failed their gate in a way `is`.
fn count(e: &Ensemble, is: impl Fn(&Failure) -> bool) -> Proportion {
    let k = e.failures.iter().filter(|(_, f)| f.as_ref().is_some_and(&is)).count();
    Proportion::of(k, e.failures.len())
}

/// The worst run and how to replay it alone.
fn worst_seed(e: &Ensemble, args: &ValidateArgs) -> String {
    let Some(w) = e.file.worst() else { return String::new() };
    let mut again = format!(
        "outage-sim validate {} --migration {} --seed {} --repeat 1",
        args.scenario.display(),
        args.migration.display(),
        w.seed
    );
    if let Some(peak) = args.peak {
        again += &format!(" --peak {peak}");
    }
    // The same capacity gives the same rates, so the same arrival schedule.
    let meta = RunDir::open(&e.dir.join(&w.dir)).and_then(|r| r.read_json::<Meta>(META_JSON));
    if let Some(c) = args.capacity.or(meta.ok().and_then(|m| m.capacity_per_s)) {
        again += &format!(" --capacity {c}");
    }
    if args.db.db.is_some() {
        again += " --db URL";
    }
    format!(
        "  worst run: seed {} (checkout success {:.3} with the migration{}), {}\n  replay it alone: {again}",
        w.seed,
        w.fault_success,
        w.blocked.as_ref().map_or(String::new(), |b| format!(", {b}")),
        e.dir.join(&w.dir).display()
    )
}

/// `validate --envelope`: the highest peak fraction at which the migration still passes in
/// every run of its ensemble, bisected on one capacity. When the lowest failure was degraded,
/// that peak is replayed without the migration: if it fails there too, the bound found is the
/// database's own, not the migration's.
async fn envelope(args: &ValidateArgs, base: RunPlan) -> Result<ExitCode> {
    let highest = base.highest_load();
    let out = args
        .out
        .join(format!("envelope-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
    let migration = args.migration.display().to_string();
    let n = args.repeat as usize;
    let max_scales = (args.max_replays / args.repeat).max(1) as usize;
    let h = headroom::search(max_scales, 1.1, async |scale| {
        let peak = scale * highest;
        let r = ensemble::at_scale(&base, scale, n, &out, &format!("envelope (peak {peak:.2})")).await?;
        crate::progress::line(&format!(
            "envelope: {migration} at a peak of {peak:.2}: {}",
            r.verdict()
        ));
        Ok(r)
    })
    .await?;
    let degraded_failure = h
        .fails_from
        .filter(|f| h.replays.iter().any(|r| r.scale == *f && !r.passed && !r.blocked));
    let baseline = match degraded_failure {
        Some(f) => Some(peak_alone(&base, f, highest, n, &out).await?),
        None => None,
    };
    let said = envelope_said(&h, baseline.as_ref(), highest);
    println!(
        "validate --envelope: {migration}: {said} ({} validations of {n} runs in {})",
        h.replays.len() + baseline.iter().count(),
        out.display()
    );
    match (&baseline, h.passes_up_to) {
        (Some(b), None) if !b.passed => {
            let msg = format!(
                "validate --envelope: cannot judge {migration}: even the lowest peak tried fails its alert rules without it"
            );
            Err(BadInput(msg).into())
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The peak at `scale` without the migration, after the migration failed there degraded: did
/// the peak alone break the rules?
async fn peak_alone(base: &RunPlan, scale: f64, highest: f64, n: usize, out: &Path) -> Result<Replay> {
    let peak = scale * highest;
    eprintln!("envelope: the failure at a peak of {peak:.2} was degraded; replaying that peak without the migration");
    let label = format!("envelope (peak {peak:.2}, without the migration)");
    let r = ensemble::at_scale(&base.without_faults(), scale, n, &out.join("without-migration"), &label).await?;
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
    let counts = |s: f64| h.counts_at(s);
    let own_limit = baseline.is_some_and(|b| !b.passed);
    let safe = h.passes_up_to.map(|s| (s * highest, counts(s)));
    match (safe, h.fails_from) {
        (Some((p, held)), Some(f)) if own_limit => format!(
            "safe up to a peak of {p:.2} of capacity at least ({held}): at {:.2} the peak fails its alert rules without the migration too \
             ({}), so that is the database's limit, not the migration's",
            f * highest,
            baseline.map_or(String::new(), Replay::verdict)
        ),
        (Some((p, held)), Some(f)) => format!(
            "safe up to a peak of {p:.2} of capacity ({held}; fails at {:.2}: {}{}{})",
            f * highest,
            counts(f),
            fired(f),
            if baseline.is_some() {
                "; without the migration that peak passes"
            } else {
                ""
            }
        ),
        (Some((p, held)), None) => {
            format!("safe up to a peak of {p:.2} of capacity at least ({held}; nothing higher was tried)")
        }
        (None, Some(f)) if own_limit => format!(
            "no verdict: at {:.2} of capacity, the lowest peak tried, the peak fails its alert rules without the migration too",
            f * highest
        ),
        (None, Some(f)) => format!(
            "fails at every peak tried, down to {:.2} of capacity ({}{})",
            f * highest,
            counts(f),
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
            passes: if passed { 3 } else { 1 },
            n: 3,
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
            said.starts_with("safe up to a peak of 0.56 of capacity at least (3 of 3 passed)"),
            "{said}"
        );
        assert!(said.contains("database's limit"), "{said}");
        let said = envelope_said(&h, Some(&replay(1.0, true, false)), 0.7);
        assert!(
            said.starts_with(
                "safe up to a peak of 0.56 of capacity (3 of 3 passed; fails at 0.70: 1 of 3 passed: p99 at 12:45"
            ),
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
            "fails at every peak tried, down to 0.35 of capacity (1 of 3 passed: blocked 2.0 s)"
        );
        let h = found(vec![replay(1.0, false, false), replay(0.5, false, false)]);
        let said = envelope_said(&h, Some(&replay(0.5, false, false)), 0.7);
        assert!(said.starts_with("no verdict: at 0.35 of capacity"), "{said}");
    }
}
