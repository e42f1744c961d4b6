//! `outage-sim capacity`: the headroom of a scenario's peak, without its faults and with them:
//! bisection over the load scale, each scale an ensemble of gated replays on one capacity.

use std::process::ExitCode;

use anyhow::Result;

use crate::calibrate::headroom;
use crate::cli::HeadroomArgs;
use crate::ensemble;
use crate::plan::RunPlan;
use crate::results::RunDir;

pub async fn capacity(args: HeadroomArgs) -> Result<ExitCode> {
    let database = super::database(&args.db)?;
    let loaded = RunPlan::load(&args.scenario, database, args.out.clone())?;
    let speed = loaded.scenario.clock.speed * args.compress;
    // One capacity for every replay: the same experiment at each scale.
    let base = loaded.with_overrides(Some(speed), None)?.gated(true)?;
    let base = base.with_capacity(args.capacity, false).await?;
    let Some(capacity) = base.capacity_per_s() else {
        let msg = format!("{}: its load is not in capacity fractions", base.file().display());
        return Err(super::BadInput(msg).into());
    };
    let name = &base.scenario.name;
    let study = RunDir::create(&args.out, &format!("capacity-{name}"), chrono::Utc::now())?;
    let n = args.repeat as usize;
    let max_scales = (args.max_replays / args.repeat).max(1) as usize;
    eprintln!(
        "capacity study: {} (capacity {capacity:.0}/s, replays at {speed}× speed, {n} per scale, at most {max_scales} scales)",
        study.path.display()
    );
    let mut found = Vec::new();
    for with_faults in [false, true] {
        if with_faults && base.faults.is_empty() {
            continue;
        }
        let (label, sub) = match with_faults {
            true => ("with its faults", "with-faults"),
            false => ("without faults", "no-faults"),
        };
        let plan = if with_faults {
            base.clone()
        } else {
            base.without_faults()
        };
        let out = study.path.join(sub);
        let h = headroom::search(max_scales, 1.1, async |scale| {
            let r = ensemble::at_scale(&plan, scale, n, &out, &format!("capacity ({label}, {scale:.2}×)")).await?;
            crate::progress::line(&format!("capacity ({label}): {scale:.2}× the load: {}", r.verdict()));
            Ok(r)
        })
        .await?;
        found.push((label, h));
    }
    let named: Vec<(String, headroom::Headroom)> = found.iter().map(|(l, h)| (l.to_string(), h.clone())).collect();
    study.write_json("headroom.json", &named)?;
    println!("\n{name}: the peak at {capacity:.0}/s capacity ({n} replays per scale; a scale holds when all pass)");
    for (label, h) in &found {
        println!("  {label}: {}", h.describe());
    }
    println!("written: {}", study.path.display());
    Ok(ExitCode::SUCCESS)
}
