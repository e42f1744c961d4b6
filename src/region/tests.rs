use super::*;
use crate::plan::workload_plan as plan;

#[test]
fn a_cell_holds_its_load_and_stalls_writes_for_its_real_seconds() {
    let base = plan("checkout-peak.toml");
    let after = after_secs(&base.scenario);
    assert_eq!(after, 60.0, "twice checkout-peak's 30 s app timeout");
    let cell = base.clone().with_scenario(|s| cell_scenario(s, 0.6, 20.0)).unwrap();
    let (s, speed) = (&cell.scenario, cell.scenario.clock.speed);
    assert_eq!(s.load.unit, base.scenario.load.unit);
    assert_eq!(s.load.points.last().unwrap().1, 0.6);
    let step = &s.faults[0];
    assert_eq!(step.name, STALL_FAULT);
    let rollback = step.rollback.unwrap().secs();
    assert_eq!(f64::from(rollback - step.apply.secs()), 20.0 * speed);
    assert_eq!(f64::from(s.clock.end.secs() - rollback), after * speed);
    assert!(cell.faults[0].holds_session, "the stall is the catalog's held session");
    assert!(s.story.is_none());
    let as_run = s.to_toml_resolved(Some(2000.0));
    assert!(
        as_run.contains("write-stall") && !as_run.contains("reporting-indexes"),
        "{as_run}"
    );
    assert!(!as_run.contains("[story"), "a hold tells no story: {as_run}");
    let control = base.with_scenario(|s| cell_scenario(s, 0.6, 0.0)).unwrap();
    assert!(control.scenario.faults.is_empty() && control.faults.is_empty());
}

fn cell(load_scale: f64, stall_s: f64, down: usize) -> Cell {
    Cell {
        load_scale,
        load: 0.8 * load_scale,
        rate_per_s: Some(2000.0 * 0.8 * load_scale),
        stall_s,
        stayed_down: Proportion::of(down, 3),
        down_minutes: None,
        shoppers_lost: None,
        dir: String::new(),
    }
}

fn file(cells: Vec<Cell>) -> RegionFile {
    let mut f = RegionFile {
        tool: "outage-sim".into(),
        version: "0".into(),
        scenario: "checkout-peak".into(),
        backend: "sqlite".into(),
        capacity_per_s: Some(2000.0),
        peak: 0.8,
        speed: 60.0,
        after_s: 60.0,
        repeat: 3,
        rows: RegionFile::rows_of(&cells),
        cells,
        change: None,
        answer: String::new(),
        interrupted: false,
        total_s: 600.0,
    };
    f.answer = f.answer();
    f
}

#[test]
fn a_load_is_stable_vulnerable_from_its_shortest_tipping_stall_or_down_without_one() {
    let f = file(vec![
        cell(0.5, 10.0, 0),
        cell(0.5, 40.0, 1),
        cell(1.0, 10.0, 1),
        cell(1.0, 20.0, 2),
        cell(1.0, 40.0, 3),
        cell(1.5, 0.0, 2),
        cell(1.5, 10.0, 3),
    ]);
    let regions: Vec<Region> = f.rows.iter().map(|r| r.region).collect();
    assert_eq!(
        regions,
        [
            Region::Stable,
            Region::Vulnerable { from_s: 20.0 },
            Region::DownWithoutTrigger
        ]
    );
    assert_eq!(
        f.answer,
        "At the peak (0.80 of capacity, 1600 arrivals/s), a write stall of 20 s or more kept checkout down 60 incident min after the stall ended in 5 of 6 [0.44–0.97]; after shorter stalls it came back in 2 of 3 [0.21–0.94]."
    );
    let md = markdown(&f);
    assert!(md.contains("| 0.40 of capacity, 800 arrivals/s (0.50× peak) | not run | 0 of 3 [0.00–0.56] | not run | 1 of 3 [0.06–0.79] | stable |"), "{md}");
    let stable = file(vec![cell(1.0, 10.0, 0), cell(1.0, 40.0, 1)]);
    assert!(
        stable.answer.contains("no write stall up to 40 s kept checkout down"),
        "{}",
        stable.answer
    );
    assert!(stable.answer.ends_with("in 5 of 6 [0.44–0.97]."), "{}", stable.answer);
}

#[test]
fn the_changes_stall_is_its_ddl_span_and_a_floor_when_unfinished() {
    let ev = |t_s: f64, kind: EventKind| EventRow {
        t_s,
        clock: "12:00:00".into(),
        kind,
        name: "reporting-indexes".into(),
        detail: String::new(),
    };
    let done = [
        ev(10.0, EventKind::FaultApplySent),
        ev(14.0, EventKind::FaultApplyDone),
        ev(20.0, EventKind::FaultApplySent),
        ev(31.5, EventKind::FaultApplyDone),
    ];
    assert_eq!(ddl_span(&done), Some((21.5, true)));
    let running = [ev(10.0, EventKind::FaultApplySent), ev(70.0, EventKind::AlertFired)];
    assert_eq!(ddl_span(&running), Some((60.0, false)));
    assert_eq!(ddl_span(&[]), None);
}

#[test]
fn the_heatmap_puts_each_cell_in_its_loads_row_and_its_stalls_column() {
    let mut f = file(vec![cell(1.0, 0.0, 0), cell(1.0, 20.0, 3), cell(1.5, 20.0, 2)]);
    f.change = Some(ChangeStall {
        name: "reporting-indexes".into(),
        span_s: 12.0,
        done: true,
        replays: 1,
    });
    let h = heatmap(&f);
    assert_eq!(h.columns, [0.0, 20.0]);
    let at: Vec<(usize, usize, usize)> = h.cells.iter().map(|c| (c.row, c.col, c.count)).collect();
    assert_eq!(at, [(0, 0, 0), (0, 1, 3), (1, 1, 2)]);
    assert!(h.rows[0].outlined && !h.rows[1].outlined, "the peak's row");
    assert_eq!(h.rows[1].region, "vulnerable from 20 s");
    assert_eq!(h.line.as_ref().map(|l| l.0), Some(12.0));
}
