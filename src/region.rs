//! The vulnerable-region map (`capacity --map`): the scenario's mix held flat at several loads,
//! writes stalled for S real seconds (the catalog's `write-stall`) as each hold reaches its
//! rate, N replays per cell. A replay *stayed down* when checkout was still down at its end,
//! [`after_secs`] after the stall ended: the outage outlived its trigger, the mark of a
//! metastable failure (Bronson et al., HotOS '21; Huang et al., OSDI '22, whose artifact maps
//! trigger size against load with one run per point). Here each point is a proportion with its
//! interval. A load is *stable* when no stall tried kept it down in most replays, *vulnerable*
//! from the shortest stall that did, and *down without a trigger* when the hold with no stall
//! (a stall of 0 s, the control) stayed down.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::calibrate::hold;
use crate::charts::{HeatCell, HeatRow, Heatmap};
use crate::ensemble::{EnsembleFile, Proportion, RunRecord, Spread};
use crate::results::{EventKind, EventRow};
use crate::scenario::{ClockTime, Scenario};

/// The catalog fault every cell's stall is.
pub const STALL_FAULT: &str = "write-stall";
pub const REGION_JSON: &str = "region.json";
pub const REGION_MD: &str = "region.md";

/// Real seconds the hold goes on after the stall ends: twice the app's own timeout, at least
/// 30 s. By then every checkout queued during the stall has been served or dropped by the app,
/// and so has every one that queued behind those, so checkout still down then is kept down by
/// the arrivals themselves, not by the stall's leftovers.
pub fn after_secs(s: &Scenario) -> f64 {
    (2.0 * s.limits.app_timeout.as_secs_f64()).max(30.0)
}

/// One cell's scenario: `s` held flat at `load` (its own load unit) after a ramp, with writes
/// stalled for `stall_s` real seconds as the ramp ends (none for 0 s), then [`after_secs`]
/// more. Speed, mix, limits, retries and alert rules are the file's; it is an edit of the
/// file's keys, so each run's `scenario.toml` says what ran.
pub fn cell_scenario(s: &Scenario, load: f64, stall_s: f64) -> Result<Scenario, String> {
    let stall = (stall_s > 0.0).then_some((STALL_FAULT, Some(stall_s)));
    held(s, load, stall_s + after_secs(s), stall)
}

/// The hold at `load` with the scenario's own change `fault` sent as the ramp ends and left in
/// place: its DDL's span under that load is the change's stall, drawn on the map.
pub fn change_scenario(s: &Scenario, load: f64, fault: &str) -> Result<Scenario, String> {
    held(s, load, after_secs(s), Some((fault, None)))
}

/// `s` from 12:00, ramped from 0.3 of `load` to it over a sixth of `real_s` (as calibrate's
/// holds are), then held `real_s` real seconds; `fault` sent as the ramp ends and rolled back
/// after its real seconds, if it has them. No story: a hold tells none.
fn held(s: &Scenario, load: f64, real_s: f64, fault: Option<(&str, Option<f64>)>) -> Result<Scenario, String> {
    let incident = |real: f64| (real * s.clock.speed).round() as u32;
    let start = ClockTime::from_secs(12 * 3600);
    let at = |secs: u32| toml::Value::String(ClockTime::from_secs(start.secs() + secs).to_string());
    let ramp = incident(hold::ramp_real_secs(real_s));
    let end = ramp + incident(real_s);
    let point = |secs: u32, value: f64| {
        let mut p = toml::Table::new();
        p.insert("at".into(), at(secs));
        p.insert("value".into(), toml::Value::Float(value));
        toml::Value::Table(p)
    };
    s.edited(|t| {
        let mut set = |section: &str, key: &str, value: toml::Value| {
            let mut sec = t.get(section).and_then(|v| v.as_table()).cloned().unwrap_or_default();
            sec.insert(key.into(), value);
            t.insert(section.into(), toml::Value::Table(sec));
        };
        set("clock", "start", at(0));
        set("clock", "end", at(end));
        set(
            "load",
            "points",
            toml::Value::Array(vec![point(0, 0.3 * load), point(ramp, load)]),
        );
        t.remove("story");
        t.remove("faults");
        if let Some((name, stall_s)) = fault {
            let mut step = toml::Table::new();
            step.insert("name".into(), toml::Value::String(name.into()));
            step.insert("apply".into(), at(ramp));
            if let Some(stall_s) = stall_s {
                step.insert("rollback".into(), at(ramp + incident(stall_s)));
            }
            t.insert("faults".into(), toml::Value::Array(vec![toml::Value::Table(step)]));
        }
    })
}

/// Real seconds from the first DDL sent to the last one done, and whether it was done before
/// the run ended.
pub fn ddl_span(events: &[EventRow]) -> Option<(f64, bool)> {
    let sent = events.iter().find(|e| e.kind == EventKind::FaultApplySent)?.t_s;
    let done = events.iter().rev().find(|e| e.kind == EventKind::FaultApplyDone);
    let end = events.last().map_or(sent, |e| e.t_s);
    Some(match done {
        Some(d) => (d.t_s - sent, true),
        None => (end - sent, false),
    })
}

/// A replay whose checkout was down at its end: the outage outlived the stall.
pub fn stayed_down(r: &RunRecord) -> bool {
    r.outcome.down_at.is_some() && r.outcome.recovered_at.is_none()
}

/// One cell: a load and a stall, and how its replays ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Of the scenario's peak.
    pub load_scale: f64,
    /// In the scenario's load unit (a fraction of capacity for the built-in scenarios).
    pub load: f64,
    pub rate_per_s: Option<f64>,
    pub stall_s: f64,
    /// Replays still down [`after_secs`] after the stall ended.
    pub stayed_down: Proportion,
    /// Incident minutes down per replay (the stall's own included).
    pub down_minutes: Option<Spread>,
    /// The share of shoppers who could not check out, per replay.
    pub shoppers_lost: Option<Spread>,
    /// The cell's ensemble directory, relative to the map's.
    pub dir: String,
}

impl Cell {
    pub fn of(
        load_scale: f64,
        load: f64,
        rate_per_s: Option<f64>,
        stall_s: f64,
        dir: String,
        e: &EnsembleFile,
    ) -> Cell {
        let down = e.runs.iter().filter(|r| stayed_down(r)).count();
        Cell {
            load_scale,
            load,
            rate_per_s,
            stall_s,
            stayed_down: Proportion::of(down, e.runs.len()),
            down_minutes: e.down_minutes,
            shoppers_lost: e.shoppers_lost,
            dir,
        }
    }

    /// Most of its replays stayed down.
    pub fn tipped(&self) -> bool {
        2 * self.stayed_down.count > self.stayed_down.n
    }
}

/// What a load is, from its row of cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// No stall tried kept checkout down in most replays.
    Stable,
    /// The shortest stall that did, and every longer one tried, is in `from_s`.
    Vulnerable { from_s: f64 },
    /// It stayed down with no stall at all.
    DownWithoutTrigger,
}

impl Region {
    pub fn of(row: &[&Cell]) -> Region {
        let tipped = |c: &&&Cell| c.tipped();
        match row.iter().filter(tipped).map(|c| c.stall_s).reduce(f64::min) {
            None => Region::Stable,
            Some(s) if s <= 0.0 => Region::DownWithoutTrigger,
            Some(s) => Region::Vulnerable { from_s: s },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Region::Stable => "stable".into(),
            Region::Vulnerable { from_s } => format!("vulnerable from {from_s:.0} s"),
            Region::DownWithoutTrigger => "down without a trigger".into(),
        }
    }
}

/// One load's row: its region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub load_scale: f64,
    pub load: f64,
    pub region: Region,
}

/// The scenario's own change, replayed once at the peak: how long its DDL ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeStall {
    pub name: String,
    /// Real seconds from its first DDL sent to its last done, at the peak, in one replay.
    pub span_s: f64,
    /// Whether the DDL was done before the replay ended (otherwise the span is a floor).
    pub done: bool,
    pub replays: usize,
}

/// `region.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionFile {
    pub tool: String,
    pub version: String,
    pub scenario: String,
    pub backend: String,
    /// What the loads are fractions of, in arrivals per second (absent for arrival-rate loads).
    pub capacity_per_s: Option<f64>,
    /// The scenario's peak, in its load unit.
    pub peak: f64,
    pub speed: f64,
    /// Real seconds each hold went on after its stall.
    pub after_s: f64,
    pub repeat: usize,
    pub cells: Vec<Cell>,
    pub rows: Vec<Row>,
    pub change: Option<ChangeStall>,
    /// The planner's answer in one line.
    pub answer: String,
    pub interrupted: bool,
    pub total_s: f64,
}

impl RegionFile {
    /// The rows from the cells, in the order of their loads.
    pub fn rows_of(cells: &[Cell]) -> Vec<Row> {
        let mut scales: Vec<f64> = cells.iter().map(|c| c.load_scale).collect();
        scales.dedup();
        scales
            .into_iter()
            .map(|scale| {
                let row: Vec<&Cell> = cells.iter().filter(|c| c.load_scale == scale).collect();
                Row {
                    load_scale: scale,
                    load: row[0].load,
                    region: Region::of(&row),
                }
            })
            .collect()
    }

    /// The row nearest the scenario's own peak (load scale 1).
    fn peak_row(&self) -> Option<&Row> {
        self.rows
            .iter()
            .min_by(|a, b| (a.load_scale - 1.0).abs().total_cmp(&(b.load_scale - 1.0).abs()))
    }

    fn load_text(&self, row: &Row) -> String {
        let rate = self.capacity_per_s.map(|c| format!(", {:.0} arrivals/s", c * row.load));
        match self.capacity_per_s {
            Some(_) => format!("{:.2} of capacity{}", row.load, rate.unwrap_or_default()),
            None => format!("{:.0} arrivals/s", row.load),
        }
    }

    /// The planner's answer, from the peak's row: the shortest stall that kept checkout down,
    /// with the proportions on either side of it.
    pub fn answer(&self) -> String {
        let Some(row) = self.peak_row() else {
            return "no cell finished".into();
        };
        let at = if (row.load_scale - 1.0).abs() < 1e-9 {
            format!("At the peak ({})", self.load_text(row))
        } else {
            format!("At {:.2}× the peak ({})", row.load_scale, self.load_text(row))
        };
        let cells: Vec<&Cell> = self.cells.iter().filter(|c| c.load_scale == row.load_scale).collect();
        let pooled = |keep: &dyn Fn(&Cell) -> bool, down: bool| {
            let picked: Vec<&&Cell> = cells.iter().filter(|c| keep(c)).collect();
            let n = picked.iter().map(|c| c.stayed_down.n).sum();
            let k: usize = picked.iter().map(|c| c.stayed_down.count).sum();
            Proportion::of(if down { k } else { n - k }, n)
        };
        let hour = self.after_s * self.speed / 60.0;
        let longest = cells.iter().map(|c| c.stall_s).fold(0.0, f64::max);
        if longest <= 0.0 && row.region == Region::Stable {
            let held = pooled(&|c| c.stall_s <= 0.0, false);
            return format!("{at}, checkout held with no stall ({held}); no stall has been tried yet.");
        }
        match row.region {
            Region::Stable => format!(
                "{at}, no write stall up to {longest:.0} s kept checkout down: it was back within {hour:.0} incident min of the stall's end in {}.",
                pooled(&|c| c.stall_s > 0.0, false)
            ),
            Region::DownWithoutTrigger => format!(
                "{at}, checkout stayed down with no stall at all ({}): the load is beyond what the database sustains.",
                pooled(&|c| c.stall_s <= 0.0, true)
            ),
            Region::Vulnerable { from_s } => {
                let shorter = pooled(&|c| c.stall_s > 0.0 && c.stall_s < from_s, false);
                let after = match shorter.n {
                    0 => String::new(),
                    _ => format!("; after shorter stalls it came back in {shorter}"),
                };
                format!(
                    "{at}, a write stall of {from_s:.0} s or more kept checkout down {hour:.0} incident min after the stall ended in {}{after}.",
                    pooled(&|c| c.stall_s >= from_s, true)
                )
            }
        }
    }
}

/// `region.md`: the map as a table, one row a load, one column a stall.
pub fn markdown(f: &RegionFile) -> String {
    let mut stalls: Vec<f64> = f.cells.iter().map(|c| c.stall_s).collect();
    stalls.sort_by(f64::total_cmp);
    stalls.dedup();
    let mut md = format!(
        "# Vulnerable-region map: {} on {}\n\n{}\n\nEach cell: replays still down {:.0} real s ({:.0} incident min) after a write stall of that many real seconds ended, of {} (Wilson 95% interval). Loads are held flat at {}× speed.\n\n",
        f.scenario,
        f.backend,
        f.answer,
        f.after_s,
        f.after_s * f.speed / 60.0,
        f.repeat,
        f.speed
    );
    md += "| load | ";
    md += &stalls
        .iter()
        .map(|s| format!("{s:.0} s"))
        .collect::<Vec<_>>()
        .join(" | ");
    md += " | region |\n|---|";
    md += &"---|".repeat(stalls.len() + 1);
    md += "\n";
    for row in &f.rows {
        md += &format!("| {} ({:.2}× peak) |", f.load_text(row), row.load_scale);
        for s in &stalls {
            let cell = f
                .cells
                .iter()
                .find(|c| c.load_scale == row.load_scale && c.stall_s == *s);
            md += &match cell {
                Some(c) => format!(" {} |", c.stayed_down),
                None => " not run |".into(),
            };
        }
        md += &format!(" {} |\n", row.region.describe());
    }
    if let Some(c) = &f.change {
        let floor = if c.done { "" } else { "more than " };
        md += &format!(
            "\nThe scenario's change, {}, sent at the peak: its DDL ran {floor}{:.0} real s ({} replay).\n",
            c.name, c.span_s, c.replays
        );
    }
    if f.interrupted {
        md += "\nInterrupted: the cells above are the ones that finished.\n";
    }
    md += &format!("\nTotal time: {:.0} min.\n", f.total_s / 60.0);
    md
}

/// The heatmap's figures: a column per stall, a row per load (lowest at the bottom), the
/// peak's row outlined, the change's DDL span as the line.
pub fn heatmap(f: &RegionFile) -> Heatmap {
    let mut columns: Vec<f64> = f.cells.iter().map(|c| c.stall_s).collect();
    columns.sort_by(f64::total_cmp);
    columns.dedup();
    let index = |row: &Row| f.rows.iter().position(|r| r.load_scale == row.load_scale);
    Heatmap {
        title: format!(
            "{} on {}: where a write stall keeps checkout down",
            f.scenario, f.backend
        ),
        caption: format!(
            "Replays still down {:.0} s after the stall ended, of {} per cell",
            f.after_s, f.repeat
        ),
        rows: f
            .rows
            .iter()
            .map(|r| HeatRow {
                label: format!("{:.2} ({:.2}× peak)", r.load, r.load_scale),
                region: r.region.describe(),
                outlined: (r.load_scale - 1.0).abs() < 1e-9,
            })
            .collect(),
        cells: f
            .cells
            .iter()
            .filter_map(|c| {
                let row = f.rows.iter().find(|r| r.load_scale == c.load_scale).and_then(index)?;
                let col = columns.iter().position(|s| *s == c.stall_s)?;
                let p = c.stayed_down;
                Some(HeatCell {
                    row,
                    col,
                    count: p.count,
                    n: p.n,
                    low: p.low,
                    high: p.high,
                })
            })
            .collect(),
        line: f
            .change
            .as_ref()
            .map(|c| (c.span_s, format!("{}: DDL {:.0} s at the peak", c.name, c.span_s))),
        columns,
    }
}

/// Writes `region.json` and `region.md` into `dir`.
pub fn write(dir: &Path, f: &RegionFile) -> Result<()> {
    std::fs::write(dir.join(REGION_JSON), serde_json::to_string_pretty(f)? + "\n")?;
    std::fs::write(dir.join(REGION_MD), markdown(f))?;
    Ok(())
}

#[cfg(test)]
mod tests;
