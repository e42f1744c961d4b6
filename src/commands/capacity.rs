//! `outage-sim capacity`: the headroom of a scenario's peak, without its faults and with them:
//! bisection over the load scale, each scale an ensemble of gated replays on one capacity.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::calibrate::headroom;
use crate::cli::HeadroomArgs;
use crate::ensemble;
use crate::plan::{FaultPlan, RunPlan};
use crate::region::{self, Cell, ChangeStall, RegionFile};
use crate::results::RunDir;
use crate::session::EXIT_INTERRUPTED;

pub async fn capacity(args: HeadroomArgs) -> Result<ExitCode> {
    let database = super::database(&args.db)?;
    let loaded = RunPlan::load(&args.scenario, database, args.out.clone())?;
    let speed = loaded.scenario.clock.speed * args.compress;
    // One capacity for every replay: the same experiment at each scale.
    let base = loaded.with_overrides(Some(speed), None)?;
    if args.map {
        let base = base
            .with_faults(FaultPlan::Scenario)?
            .with_capacity(args.capacity, false)
            .await?;
        return map(&args, base).await;
    }
    let base = base.gated(true)?.with_capacity(args.capacity, false).await?;
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

/// `capacity --map`: a hold per load and stall ([`region`]), `--repeat` replays each, and the
/// scenario's own change replayed once at the peak for its stall; region.json, region.md and
/// region.png rewritten after every cell, so Ctrl-C keeps what finished.
async fn map(args: &HeadroomArgs, base: RunPlan) -> Result<ExitCode> {
    let started = Instant::now();
    let (name, peak) = (base.scenario.name.clone(), base.highest_load());
    let dir = RunDir::create(&args.out, &format!("map-{name}"), chrono::Utc::now())?.path;
    let n = args.repeat as usize;
    let rate = |load: f64| base.capacity_per_s().map(|c| c * load);
    let mut file = RegionFile {
        tool: "outage-sim".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        scenario: name.clone(),
        backend: base.database.dialect().to_string(),
        capacity_per_s: base.capacity_per_s(),
        peak,
        speed: base.scenario.clock.speed,
        after_s: region::after_secs(&base.scenario),
        repeat: n,
        cells: Vec::new(),
        rows: Vec::new(),
        change: None,
        answer: String::new(),
        interrupted: false,
        total_s: 0.0,
    };
    let cells = args.loads.len() * args.stalls.len();
    eprintln!(
        "map: {} loads x {} write stalls, {n} replays per cell ({} replays, each the stall and {:.0} s after it), in {}",
        args.loads.len(),
        args.stalls.len(),
        cells * n,
        file.after_s,
        dir.display()
    );
    let write = |file: &mut RegionFile| {
        file.rows = RegionFile::rows_of(&file.cells);
        file.answer = file.answer();
        file.total_s = started.elapsed().as_secs_f64();
        region::write(&dir, file)?;
        crate::charts::render_region(&dir, &region::heatmap(file))
    };
    if let Some(change) = base.faults.first().filter(|_| base.migration().is_none()) {
        let plan = base
            .clone()
            .with_scenario(|s| region::change_scenario(s, peak, &change.name))?;
        let sub = dir.join("change");
        let e = ensemble::run(&plan, 1, &sub, &format!("map: {} at the peak", change.name)).await?;
        if e.interrupted() {
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        let events = RunDir::open(&sub.join(&e.file.runs[0].dir))?.read_events()?;
        file.change = region::ddl_span(&events).map(|(span_s, done)| ChangeStall {
            name: change.name.clone(),
            span_s,
            done,
            replays: 1,
        });
    }
    for (i, (scale, stall)) in args
        .loads
        .iter()
        .flat_map(|l| args.stalls.iter().map(move |s| (*l, *s)))
        .enumerate()
    {
        let load = peak * scale;
        let plan = base.clone().with_scenario(|s| region::cell_scenario(s, load, stall))?;
        let sub = format!("load-{scale:.2}-stall-{stall:.0}s");
        let label = format!("map cell {} of {cells} ({load:.2} load, {stall:.0} s stall)", i + 1);
        let e = ensemble::run(&plan, n, &dir.join(&sub), &label).await?;
        let cell = Cell::of(scale, load, rate(load), stall, sub, &e.file);
        crate::progress::line(&format!("{label}: stayed down in {}", cell.stayed_down));
        file.cells.push(cell);
        file.interrupted = e.interrupted();
        write(&mut file)?;
        if file.interrupted {
            break;
        }
    }
    write(&mut file)?;
    println!("\n{}", file.answer);
    println!("written: {}", dir.join(region::REGION_MD).display());
    Ok(match file.interrupted {
        true => ExitCode::from(EXIT_INTERRUPTED),
        false => ExitCode::SUCCESS,
    })
}
