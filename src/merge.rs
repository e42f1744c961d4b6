//! Joins the run directories of a sharded run (`run --shard K/N`) into one: per window and
//! operation the shards' latency histograms are added (so percentiles are exact, never an
//! average of percentiles) and their counters summed; the fault timeline and the database
//! monitor come from shard 0, which ran the faults; the alert rules are judged again on the
//! merged windows.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use crate::analysis::{AlertEvaluator, AlertTransition};
use crate::metrics::OpWindow;
use crate::results::hlog::{self, HlogWriter, LATENCY_HLOG};
use crate::results::{
    CsvLog, DB_CSV, EVENTS_CSV, EventKind, EventRow, META_JSON, Meta, RunDir, SCENARIO_TOML, WINDOWS_CSV,
};

/// One shard's run directory, read whole.
struct ShardRun {
    dir: PathBuf,
    meta: Meta,
    windows: Vec<crate::results::WindowRow>,
    latency: hlog::Log,
}

/// Merges `dirs` (one per shard, any order) into the new run directory `out`; returns it for
/// analysis and drawing. Errors name the directory and what does not fit.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<RunDir> {
    let mut shards = dirs.iter().map(|d| read_shard(d)).collect::<Result<Vec<_>>>()?;
    shards.sort_by_key(|s| s.meta.shard.map(|k| k.index));
    check_complete(&shards)?;
    if out.exists() {
        bail!("--out {}: exists already; give a new directory", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let run = RunDir {
        path: out.to_path_buf(),
    };
    let first = &shards[0];
    std::fs::copy(first.dir.join(SCENARIO_TOML), run.file(SCENARIO_TOML))
        .with_context(|| format!("cannot copy {}", first.dir.join(SCENARIO_TOML).display()))?;
    let rules = crate::report::rules_of(&run)?;
    let mut meta = first.meta.clone();
    meta.shard = None;
    meta.merged_from = shards.iter().map(|s| s.dir.display().to_string()).collect();
    run.write_json(META_JSON, &meta)?;

    let windows = CsvLog::create(&run.file(WINDOWS_CSV))?;
    let started = chrono::DateTime::parse_from_rfc3339(&meta.started_at).map_or(SystemTime::now(), SystemTime::from);
    let mut latency = HlogWriter::create(&run.file(LATENCY_HLOG), started)?;
    let mut alerts = AlertEvaluator::new(&rules);
    let sim_secs = meta.window_ms as f64 / 1000.0 * meta.speed;
    let mut judged = Vec::new();
    for (i, row) in first.windows.iter().enumerate() {
        let interval = first.latency.get(i)?;
        let (start, length) = (
            Duration::from_secs_f64(interval.start_s),
            Duration::from_secs_f64(interval.length_s),
        );
        let (merged, histogram) = merged_row(&shards, i, interval.histogram)?;
        latency.append(start, length, [(row.op.as_str(), &histogram)])?;
        for t in alerts.observe(&merged, sim_secs) {
            judged.push(alert_event(&merged, t));
        }
        windows.append(std::slice::from_ref(&merged))?;
    }
    let events = merged_events(&shards, judged)?;
    CsvLog::create(&run.file(EVENTS_CSV))?.append(&events)?;
    let db = RunDir {
        path: first.dir.clone(),
    }
    .read_db_samples()?;
    CsvLog::create(&run.file(DB_CSV))?.append(&db)?;
    Ok(run)
}

fn read_shard(dir: &Path) -> Result<ShardRun> {
    let run = RunDir::open(dir)?;
    let meta: Meta = run.read_json(META_JSON)?;
    if meta.shard.is_none() {
        bail!(
            "{}: not a shard (its meta.json has no shard; run with --shard K/N)",
            dir.display()
        );
    }
    let windows = run.read_windows()?;
    let latency = hlog::Log::open(&run.file(LATENCY_HLOG))?;
    if latency.len() != windows.len() {
        bail!(
            "{}: {} histograms in {LATENCY_HLOG} but {} rows in {WINDOWS_CSV}",
            dir.display(),
            latency.len(),
            windows.len()
        );
    }
    Ok(ShardRun {
        dir: dir.to_path_buf(),
        meta,
        windows,
        latency,
    })
}

/// Every shard 0..N once, of the same scenario, seed and clock, with the same windows.
fn check_complete(shards: &[ShardRun]) -> Result<()> {
    let first = &shards[0];
    let of = first.meta.shard.map_or(0, |s| s.of);
    let indices: Vec<u32> = shards.iter().filter_map(|s| s.meta.shard.map(|k| k.index)).collect();
    if indices != (0..of).collect::<Vec<_>>() || shards.iter().any(|s| s.meta.shard.map(|k| k.of) != Some(of)) {
        let have: Vec<String> = shards
            .iter()
            .filter_map(|s| s.meta.shard.map(|k| k.to_string()))
            .collect();
        bail!(
            "expected shards 0/{of} to {}/{of} once each, got {}",
            of.saturating_sub(1),
            have.join(", ")
        );
    }
    let key = |m: &Meta| {
        (
            m.scenario.clone(),
            m.seed,
            m.window_ms,
            m.speed.to_bits(),
            m.clock_start.clone(),
            m.capacity_per_s.map(f64::to_bits),
        )
    };
    for s in &shards[1..] {
        if key(&s.meta) != key(&first.meta) {
            bail!(
                "{}: not the same run as {} (scenario, seed, window, speed, clock or capacity differ)",
                s.dir.display(),
                first.dir.display()
            );
        }
        if s.windows.len() != first.windows.len() {
            bail!(
                "{}: {} window rows, {} has {}: did a shard stop early?",
                s.dir.display(),
                s.windows.len(),
                first.dir.display(),
                first.windows.len()
            );
        }
    }
    Ok(())
}

/// Row `i` of every shard added: counters summed, histograms added, percentiles taken anew.
/// `first` is shard 0's histogram of the row, already decoded.
fn merged_row(
    shards: &[ShardRun],
    i: usize,
    first: hdrhistogram::Histogram<u64>,
) -> Result<(crate::results::WindowRow, hdrhistogram::Histogram<u64>)> {
    let mut row = shards[0].windows[i].clone();
    let mut histogram = first;
    for s in &shards[1..] {
        row.add_counts(&s.windows[i]);
        histogram.add(&s.latency.get(i)?.histogram)?;
    }
    let mut w = OpWindow::default();
    w.set_percentiles(&histogram);
    (row.p50_ms, row.p95_ms, row.p99_ms, row.max_ms) = (w.p50_ms, w.p95_ms, w.p99_ms, w.max_ms);
    Ok((row, histogram))
}

fn alert_event(row: &crate::results::WindowRow, t: AlertTransition) -> EventRow {
    let (kind, name, detail) = match t {
        AlertTransition::Fired { name, detail } => (EventKind::AlertFired, name, detail),
        AlertTransition::Resolved { name } => (EventKind::AlertResolved, name, String::new()),
    };
    EventRow {
        t_s: row.t_s,
        clock: row.clock.clone(),
        kind,
        name,
        detail,
    }
}

/// Shard 0's events (its faults, start and end) with the alerts judged on the merged windows
/// instead of each shard's own, and the other shards' events that are neither, in time order.
fn merged_events(shards: &[ShardRun], alerts: Vec<EventRow>) -> Result<Vec<EventRow>> {
    let mut events = alerts;
    for (k, s) in shards.iter().enumerate() {
        let own = RunDir { path: s.dir.clone() }.read_events()?;
        events.extend(own.into_iter().filter(|e| {
            let alert = matches!(e.kind, EventKind::AlertFired | EventKind::AlertResolved);
            let run = matches!(e.kind, EventKind::RunStart | EventKind::RunEnd);
            !alert && (k == 0 || !run)
        }));
    }
    events.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    Ok(events)
}
