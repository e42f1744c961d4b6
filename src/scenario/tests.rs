use std::path::Path;

use super::*;

const GOOD: &str = r#"
name = "t"
[clock]
start = "12:00"
end = "13:00"
speed = 60
[load]
unit = "arrivals_per_second"
points = [ { at = "12:00", value = 10 }, { at = "13:00", value = 20 } ]
[mix]
browse = 1
checkout = 1
[[faults]]
name = "reporting-index"
apply = "12:10"
rollback = "12:50"
[[alerts]]
name = "slow"
op = "checkout"
metric = "p99_ms"
above = 1000
for = "5m"
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, Path::new("bad.toml"))
}

/// Replaces the first `from` in GOOD with `to` and returns the error it gives.
fn error_for(from: &str, to: &str) -> ScenarioError {
    assert!(GOOD.contains(from), "{from} not in GOOD");
    parse(&GOOD.replacen(from, to, 1)).expect_err("should be rejected")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle") + 1
}

#[test]
fn a_good_scenario_parses_into_types() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.clock.real_duration().as_secs(), 60);
    assert_eq!(s.mix.weight(Op::Checkout), 0.5);
    assert_eq!(s.faults[0].rollback, Some("12:50".parse().unwrap()));
    assert_eq!(s.alerts[0].for_sim_secs, 300.0);
    assert_eq!(s.checkout.retries, 2, "default retries");
}

#[test]
fn unknown_key_names_the_key_and_its_line() {
    let bad = GOOD.replacen("speed = 60", "speed = 60\nsped = 3", 1);
    let e = parse(&bad).unwrap_err();
    assert_eq!(e.line, line_of(&bad, "sped"));
    assert_eq!(e.field, "sped");
    assert!(e.message.contains("unknown field"), "{e}");
}

#[test]
fn negative_rate_is_rejected_at_its_value() {
    let e = error_for("value = 20", "value = -5");
    assert_eq!(e.field, "load.points[1].value");
    assert!(e.message.contains("≥ 0"), "{e}");
    assert_eq!(e.line, line_of(GOOD, "value = 20"));
}

#[test]
fn fault_outside_the_clock_is_rejected() {
    let e = error_for("apply = \"12:10\"", "apply = \"11:00\"");
    assert_eq!(e.field, "faults[0].apply");
    assert!(e.message.contains("within the clock"), "{e}");
    assert_eq!(e.line, line_of(GOOD, "apply ="));
}

#[test]
fn malformed_clock_time_says_the_expected_form() {
    let e = error_for("start = \"12:00\"", "start = \"noon\"");
    assert_eq!(e.field, "clock.start");
    assert!(e.message.contains("HH:MM"), "{e}");
    assert_eq!(e.line, line_of(GOOD, "start ="));
}

#[test]
fn rollback_before_apply_is_rejected() {
    let e = error_for("rollback = \"12:50\"", "rollback = \"12:05\"");
    assert_eq!(e.field, "faults[0].rollback");
    assert!(e.message.contains("after apply"), "{e}");
}

#[test]
fn empty_mix_is_rejected() {
    let e = error_for("browse = 1\ncheckout = 1", "browse = 0");
    assert_eq!(e.field, "mix");
    assert!(e.message.contains("weight > 0"), "{e}");
    assert_eq!(e.line, line_of(GOOD, "[mix]"));
}

#[test]
fn errors_are_one_line_with_file_line_and_column() {
    let e = error_for("speed = 60", "speed = -1");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("bad.toml:{}:", line_of(GOOD, "speed ="))),
        "{text}"
    );
    assert!(text.contains("clock.speed"), "{text}");
    assert!(!text.contains('\n'));
}

#[test]
fn the_shipped_workloads_are_valid() {
    for (f, fault) in [
        ("workloads/checkout-peak.toml", "reporting-indexes"),
        ("workloads/smoke.toml", "reporting-index"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.faults[0].name, fault);
    }
}

#[test]
fn the_resolved_scenario_reads_back_with_rates() {
    let s = parse(
        &GOOD
            .replace("arrivals_per_second", "capacity")
            .replace("value = 10", "value = 0.5"),
    )
    .unwrap();
    let text = s.to_toml_resolved(Some(1000.0));
    let again = parse(&text).unwrap();
    assert_eq!(again.load.unit, LoadUnit::ArrivalsPerSecond);
    assert_eq!(again.load.points[0].1, 500.0);
}

#[test]
fn carts_larger_than_the_store_allows_are_rejected() {
    let e = error_for("[mix]", "[checkout]\nitems_max = 17\n[mix]");
    assert_eq!(e.field, "checkout.items_max");
    assert!(e.message.contains("16"), "{e}");
}

#[test]
fn a_fault_may_carry_a_lock_timeout_guard() {
    assert_eq!(parse(GOOD).unwrap().faults[0].guard, None);
    let text = GOOD.replacen(
        "rollback = \"12:50\"",
        "rollback = \"12:50\"\nlock_timeout_ms = 2000",
        1,
    );
    let guard = parse(&text).unwrap().faults[0].guard.unwrap();
    assert_eq!(guard.timeout, Duration::from_millis(2000));
    assert_eq!((guard.retries, guard.backoff), (30, Duration::from_millis(1000)));
    let e = error_for("rollback = \"12:50\"", "rollback = \"12:50\"\nlock_timeout_ms = 0");
    assert!(
        e.to_string()
            .contains("faults[0].lock_timeout_ms: expected a number from 1 to"),
        "{e}"
    );
}

/// GOOD with its load points replaced by `load`, written next to `files` in a temporary
/// directory, then loaded.
fn with_recorded(load: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Scenario, ScenarioError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let text = GOOD.replacen(
        "points = [ { at = \"12:00\", value = 10 }, { at = \"13:00\", value = 20 } ]",
        load,
        1,
    );
    let path = dir.path().join("s.toml");
    std::fs::write(&path, &text).unwrap();
    let loaded = Scenario::load(&path);
    (dir, loaded)
}

#[test]
fn recorded_requests_become_one_rate_per_window_on_the_clock() {
    // 60 real seconds of 1 s windows; requests over 10 minutes of the file's time, twice as
    // dense in its second half.
    let times: String = (0..600)
        .chain(300..600)
        .map(|s| format!("{}\n", 1_700_000_000 + s))
        .collect();
    let (_dir, s) = with_recorded("requests = \"r.txt\"\npeak = 300", &[("r.txt", &times)]);
    let s = s.unwrap();
    assert_eq!(s.load.points.len(), 62, "60 windows, and both ends");
    let (first, last) = (s.load.points[0], s.load.points[61]);
    assert!(
        (last.1 - 300.0).abs() < 1e-9 && (first.1 - 150.0).abs() < 1e-9,
        "{first:?} {last:?}"
    );
    assert_eq!(first.0.to_string(), "12:00:00");
    assert_eq!(last.0.to_string(), "13:00:00");
    assert_eq!(s.load.points[1].0.to_string(), "12:00:30");
}

#[test]
fn a_recorded_curve_in_capacity_needs_a_peak_and_a_bad_row_names_its_file_and_line() {
    let curve = ("c.csv", "time,rate\n12:00,10\n12:30,20\n");
    let (_dir, e) = with_recorded("curve = \"c.csv\"", &[curve]);
    assert_eq!(
        e.unwrap().load.max_value(),
        20.0,
        "arrivals per second: the rates as they are"
    );
    let capacity = "curve = \"c.csv\"";
    let text = GOOD
        .replacen("unit = \"arrivals_per_second\"", "unit = \"capacity\"", 1)
        .replacen(
            "points = [ { at = \"12:00\", value = 10 }, { at = \"13:00\", value = 20 } ]",
            capacity,
            1,
        );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.csv"), curve.1).unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    let e = Scenario::load(&path).unwrap_err();
    assert_eq!(e.field, "load.peak", "{e}");
    let (_dir, e) = with_recorded("curve = \"c.csv\"", &[("c.csv", "time,rate\n12:00,10\n12:30,x\n")]);
    let e = e.unwrap_err();
    assert!(
        e.file.ends_with("c.csv") && e.line == 3 && e.field == "load.curve rate",
        "{e}"
    );
    let (_dir, e) = with_recorded("curve = \"gone.csv\"\npoints = []", &[]);
    assert_eq!(e.unwrap_err().field, "load", "two sources at once");
}

#[test]
fn the_apps_guards_are_read_and_bounded() {
    let text = GOOD
        .replacen("[mix]", "[limits]\nretry_budget = 0.2\nshed_at_alert = true\n[mix]", 1)
        .replacen(
            "rollback = \"12:50\"",
            "rollback = \"12:50\"\nrollback_after_alert = \"10m\"",
            1,
        );
    let s = parse(&text).unwrap();
    assert_eq!(s.limits.retry_budget, Some(0.2));
    assert!(s.limits.shed_at_alert);
    assert_eq!(s.faults[0].rollback_after_alert, Some(Duration::from_secs(600)));
    let defaults = parse(GOOD).unwrap();
    assert_eq!(
        (defaults.limits.retry_budget, defaults.limits.shed_at_alert),
        (None, false)
    );

    let e = error_for("[mix]", "[limits]\nretry_budget = 1.5\n[mix]");
    assert_eq!(e.field, "limits.retry_budget");
    assert!(e.message.contains("from 0 to 1"), "{e}");
    let e = error_for(
        "rollback = \"12:50\"",
        "rollback = \"12:50\"\nrollback_after_alert = \"soon\"",
    );
    assert_eq!(e.field, "faults[0].rollback_after_alert");
    assert!(e.message.contains("\"5m\""), "{e}");
}

#[test]
fn a_change_may_be_in_place_before_the_clock_starts() {
    let s = parse(&GOOD.replacen("apply = \"12:10\"", "apply = \"before\"", 1)).unwrap();
    let step = &s.faults[0];
    assert!(step.before_start);
    assert_eq!(step.apply, s.clock.start);
    assert!(!parse(GOOD).unwrap().faults[0].before_start);
    let e = error_for("apply = \"12:10\"", "apply = \"beforehand\"");
    assert_eq!(e.field, "faults[0].apply");
}
