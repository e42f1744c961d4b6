use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::results::{RunDir, WINDOWS_CSV};
use crate::store::null::NullStore;

/// 2 minutes of incident clock at 60x: 2 s real, 250 ms windows, a fault from 12:00:30 to
/// 12:01:30 when `fault` is set.
fn scenario(fault: bool) -> Scenario {
    let faults = if fault {
        "[[faults]]\nname = \"reporting-index\"\napply = \"12:00:30\"\nrollback = \"12:01:30\"\n"
    } else {
        ""
    };
    at_200_per_s("12:02", "", faults)
}

/// 200 checkouts a second from 12:00 to `end` in 250 ms windows, with `limits` in `[limits]`
/// and `rest` (faults, alerts) after.
fn at_200_per_s(end: &str, limits: &str, rest: &str) -> Scenario {
    let text = format!(
        r#"[clock]
start = "12:00"
end = "{end}"
speed = 60
[load]
unit = "arrivals_per_second"
points = [{{ at = "12:00", value = 200.0 }}]
[mix]
checkout = 1
[limits]
{limits}
[run]
window_ms = 250
{rest}"#
    );
    Scenario::parse(&text, Path::new("test.toml")).unwrap()
}

/// Keeps what it is given.
#[derive(Clone, Default)]
struct Collect {
    windows: Arc<Mutex<Vec<Window>>>,
    db: Arc<Mutex<Vec<DbSample>>>,
    events: Arc<Mutex<Vec<EventRow>>>,
}

impl Sink for Collect {
    fn window(&mut self, w: &Window) -> Result<()> {
        self.windows.lock().unwrap().push(w.clone());
        Ok(())
    }
    fn event(&mut self, e: &EventRow) -> Result<()> {
        self.events.lock().unwrap().push(e.clone());
        Ok(())
    }
    fn db(&mut self, d: &[DbSample]) -> Result<()> {
        self.db.lock().unwrap().extend_from_slice(d);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_monitor_never_stretches_a_window() {
    let scenario = scenario(false);
    // Each sample takes three and a half windows.
    let store = Arc::new(NullStore {
        sample_delay: Duration::from_millis(875),
        ..Default::default()
    });
    let seen = Collect::default();
    let ending = Replay::new(&scenario, store, vec![], None)
        .run(vec![Box::new(seen.clone())])
        .await
        .unwrap();
    assert_eq!(ending, Ending::Completed);
    let windows = seen.windows.lock().unwrap();
    assert_eq!(windows.len(), 8);
    for (k, w) in windows.iter().enumerate() {
        assert_eq!(w.rows[0].t_s, 0.25 * (k + 1) as f64, "window {k} ended late");
    }
    assert!(windows.iter().map(|w| w.op(Op::Checkout).offered).sum::<u64>() > 300);
    let db = seen.db.lock().unwrap();
    let samples: Vec<&DbSample> = db.iter().filter(|s| s.metric == "sessions_active").collect();
    assert!((1..8).contains(&samples.len()), "{} samples", samples.len());
    assert!(db.iter().any(|s| s.metric == "monitor_sample_s" && s.value >= 0.875));
}

#[tokio::test(start_paused = true)]
async fn a_results_file_that_cannot_be_written_stops_the_run_after_the_rollback() {
    let scenario = scenario(true);
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path(), "t", chrono::Utc::now()).unwrap();
    // Every write of windows.csv fails as on a full disk.
    std::os::unix::fs::symlink("/dev/full", run.file(WINDOWS_CSV)).unwrap();
    let fault = crate::faults::find("sqlite", "reporting-index").unwrap();
    let replay = Replay::new(&scenario, Arc::new(NullStore::default()), vec![fault], None);
    let seen = Collect::default();
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(ResultsSink::create(&run, replay.started_at()).unwrap()),
        Box::new(seen.clone()),
    ];
    let err = replay.run(sinks).await.unwrap_err();
    assert!(format!("{err:#}").contains("windows.csv"), "{err:#}");
    let events = seen.events.lock().unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.last(), Some(&EventKind::RunEnd), "{kinds:?}");
    assert_eq!(events.last().unwrap().detail, "a results sink failed");
    assert!(
        events.last().unwrap().t_s < 1.0,
        "the run stopped at the failure, not at its end"
    );
    let written = run.read_events().unwrap();
    assert_eq!(
        written.last().map(|e| e.kind),
        Some(EventKind::RunEnd),
        "the other files are still written"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_after_a_fault_rolls_it_back_first() {
    /// Fails at the window after the fault went in.
    struct FailAfterFault(bool);
    impl Sink for FailAfterFault {
        fn event(&mut self, e: &EventRow) -> Result<()> {
            self.0 |= e.kind == EventKind::FaultApplyDone;
            Ok(())
        }
        fn window(&mut self, _: &Window) -> Result<()> {
            anyhow::ensure!(!self.0, "cannot write the test sink");
            Ok(())
        }
    }
    let scenario = scenario(true);
    let fault = crate::faults::find("sqlite", "reporting-index").unwrap();
    let replay = Replay::new(&scenario, Arc::new(NullStore::default()), vec![fault], None);
    let seen = Collect::default();
    let err = replay
        .run(vec![Box::new(FailAfterFault(false)), Box::new(seen.clone())])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("test sink"));
    let kinds: Vec<EventKind> = seen.events.lock().unwrap().iter().map(|e| e.kind).collect();
    let done = kinds
        .iter()
        .position(|k| *k == EventKind::FaultRollbackDone)
        .expect("rolled back");
    assert!(done < kinds.iter().position(|k| *k == EventKind::RunEnd).unwrap());
}

/// An alert that fires 45 incident seconds into the run (a 5 ms store is always over 1 ms),
/// after the fault was sent at 12:00:30; the app's guards from `limits` and `fault_extra`.
fn guarded(limits: &str, fault_extra: &str) -> Scenario {
    let rest = format!(
        "[[faults]]\nname = \"reporting-index\"\napply = \"12:00:30\"\nrollback = \"12:02:45\"\n{fault_extra}\n\
         [[alerts]]\nname = \"slow\"\nop = \"checkout\"\nmetric = \"p99_ms\"\nabove = 1\nfor = \"45s\"\n"
    );
    at_200_per_s("12:03", limits, &rest)
}

#[tokio::test(start_paused = true)]
async fn a_rollback_after_the_alert_comes_that_long_after_it_instead_of_at_its_time() {
    let scenario = guarded("", "rollback_after_alert = \"30s\"");
    let store = Arc::new(NullStore {
        service: Duration::from_millis(5),
        ..Default::default()
    });
    let fault = crate::faults::find("sqlite", "reporting-index").unwrap();
    let seen = Collect::default();
    let replay = Replay::new(&scenario, store, vec![fault], None);
    let alerts = AlertSink::new(&scenario.alerts, replay.bus());
    replay
        .run(vec![Box::new(alerts), Box::new(seen.clone())])
        .await
        .unwrap();
    let events = seen.events.lock().unwrap();
    let at = |kind| {
        events
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| crate::results::clock_secs(&e.clock))
    };
    let fired = at(EventKind::AlertFired).expect("the alert fired");
    let rollback = at(EventKind::FaultRollbackSent).expect("rolled back");
    assert!(
        (rollback - fired - 30.0).abs() <= 1.0,
        "fired {fired}, rollback sent {rollback}"
    );
    let sent = events.iter().filter(|e| e.kind == EventKind::FaultRollbackSent).count();
    assert_eq!(sent, 1, "the scheduled rollback finds nothing left to undo");
}

/// An AppSink for `scenario` that has seen 2 incident minutes of windows of 15 incident s
/// (0.25 s real), 50 checkouts served in each (200/s), until 12:02; its guards and events.
fn app_after_two_healthy_minutes(
    scenario: &crate::scenario::Scenario,
) -> (
    app::AppSink<NullStore>,
    Arc<crate::traffic::Guards>,
    tokio::sync::mpsc::UnboundedReceiver<EventRow>,
) {
    let time = crate::results::Timebase {
        start: Instant::now(),
        clock: scenario.clock.clone(),
    };
    let (bus, events) = EventBus::new(time);
    let injector = Arc::new(Injector::new(Arc::new(NullStore::default()), bus.clone()));
    let guards = Arc::new(crate::traffic::Guards::default());
    let mut app = app::AppSink::for_scenario(scenario, guards.clone(), injector, bus);
    for k in 1..=8u64 {
        let row = |op: Op| WindowRow {
            t_s: 0.25 * k as f64,
            clock: crate::scenario::ClockTime::from_secs(12 * 3600 + 15 * k as u32).to_string(),
            op: op.name().into(),
            ok: if op == Op::Checkout { 50 } else { 0 },
            ..Default::default()
        };
        let window = Window {
            index: k,
            of: 8,
            sim_secs: 15.0,
            rows: Op::ALL.iter().map(|&op| row(op)).collect(),
            latency_us: Vec::new(),
        };
        app.window(&window).unwrap();
    }
    assert!(!guards.shed.shedding());
    (app, guards, events)
}

fn event_at(clock: &str, kind: EventKind, name: &str) -> EventRow {
    EventRow {
        t_s: 2.0,
        clock: clock.into(),
        kind,
        name: name.into(),
        detail: String::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn shedding_admits_what_was_served_before_the_alerts_condition_began() {
    let scenario = guarded("shed_at_alert = true", "");
    let (mut app, guards, mut events) = app_after_two_healthy_minutes(&scenario);
    app.event(&event_at("12:02:00", EventKind::AlertFired, "slow")).unwrap();
    assert!(guards.shed.shedding());
    let said = events.try_recv().expect("an app_shed event");
    assert_eq!(said.kind, EventKind::AppShed);
    assert!(said.detail.contains("checkout 200/s"), "{}", said.detail);
}

#[tokio::test(start_paused = true)]
async fn a_trainees_shed_command_sheds_as_the_scenarios_key_would() {
    let scenario = guarded("", "");
    let (mut app, guards, mut events) = app_after_two_healthy_minutes(&scenario);
    app.event(&event_at("12:02:00", EventKind::AlertFired, "slow")).unwrap();
    assert!(!guards.shed.shedding(), "the scenario does not shed by itself");
    app.event(&event_at("12:02:15", EventKind::TraineeAction, app::SHED_COMMAND))
        .unwrap();
    assert!(guards.shed.shedding());
    let said = events.try_recv().expect("an app_shed event");
    assert_eq!((said.kind, said.name.as_str()), (EventKind::AppShed, "shed"));
    assert!(said.detail.contains("checkout 200/s"), "{}", said.detail);
}

#[tokio::test(start_paused = true)]
async fn a_change_applied_before_the_clock_is_only_rolled_back_in_the_replay() {
    let faults = "[[faults]]\nname = \"reporting-index\"\napply = \"before\"\nrollback = \"12:01\"\n";
    let scenario = at_200_per_s("12:02", "", faults);
    let fault = crate::faults::find("sqlite", "reporting-index").unwrap();
    let seen = Collect::default();
    Replay::new(&scenario, Arc::new(NullStore::default()), vec![fault], None)
        .run(vec![Box::new(seen.clone())])
        .await
        .unwrap();
    let events = seen.events.lock().unwrap();
    let of = |kind| events.iter().filter(|e| e.kind == kind).collect::<Vec<_>>();
    let sent = of(EventKind::FaultApplySent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].clock, "12:00:00");
    assert!(sent[0].detail.contains("before the run"), "{}", sent[0].detail);
    let rolled_back = of(EventKind::FaultRollbackSent);
    assert_eq!(rolled_back.len(), 1);
    assert_eq!(rolled_back[0].clock, "12:01:00");
}
