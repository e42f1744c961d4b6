use std::path::Path;

use super::*;
use crate::store::null::NullStore;

/// A store that answers every request in 100 ms, behind an app that admits 100 at a time:
/// it serves at most 1,000 arrivals/s.
fn scenario() -> Scenario {
    let text = r#"
[clock]
start = "12:00"
end = "12:10"
speed = 60
[load]
unit = "capacity"
points = [{ at = "12:00", value = 0.5 }]
[mix]
checkout = 1
[limits]
max_in_flight = 100
[[alerts]]
name = "slow"
op = "checkout"
metric = "p99_ms"
above = 500
for = "1m"
"#;
    Scenario::parse(text, Path::new("t.toml")).unwrap()
}

fn plan(s: &Scenario) -> Plan {
    Plan {
        slo: Slo::of(s, None, None),
        step: Duration::from_secs(2),
        start_per_s: 100.0,
        resolution: 0.05,
        max_steps: 20,
        search: 1,
    }
}

#[test]
fn the_slo_comes_from_the_alert_rules_unless_given() {
    let s = scenario();
    assert_eq!(
        Slo::of(&s, None, None),
        Slo {
            p99_ms: 500.0,
            success: 0.99
        }
    );
    assert_eq!(
        Slo::of(&s, Some(250.0), Some(0.9)),
        Slo {
            p99_ms: 250.0,
            success: 0.9
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_search_doubles_then_bisects_to_the_knee_of_the_store() {
    let s = scenario();
    let store = Arc::new(NullStore {
        service: Duration::from_millis(100),
        ..Default::default()
    });
    let mut seen = Vec::new();
    let p = plan(&s);
    let found = search(&p, async |rate| step(&store, &s, rate, &p).await, &mut |step| {
        seen.push(step.offered_per_s)
    })
    .await
    .unwrap();
    // 100, 200, 400, 800 pass; 1,600 does not, twice; then bisection between 800 and 1,600,
    // each failed rate tried twice.
    assert_eq!(&seen[..6], &[100.0, 200.0, 400.0, 800.0, 1600.0, 1600.0]);
    assert_eq!(seen[6..8], [1200.0, 1200.0]);
    assert!((800.0..1000.0).contains(&found.knee_per_s), "{found:#?}");
    assert!(
        found
            .steps
            .iter()
            .filter(|s| s.passed)
            .all(|s| s.p99_ms.unwrap() < 500.0)
    );
    let last = found.steps.last().unwrap();
    let (lo, hi) = (found.knee_per_s, last.offered_per_s.max(found.knee_per_s));
    assert!(
        hi / lo <= 1.0 + 0.05 + 1e-9 || found.steps.len() == 20,
        "bisected to 5%: {found:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_store_that_fails_everything_has_no_knee() {
    let s = scenario();
    let store = Arc::new(NullStore {
        service: Duration::from_secs(3),
        ..Default::default()
    });
    let p = plan(&s);
    let err = search(&p, async |rate| step(&store, &s, rate, &p).await, &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("even 100 arrivals/s broke the SLO"), "{err}");
}

#[test]
fn searches_that_spread_widely_are_warned_of() {
    assert_eq!(spread_warning(&[2000.0, 2100.0, 2200.0]), None);
    assert_eq!(spread_warning(&[2700.0]), None);
    let w = spread_warning(&[2700.0, 1772.0, 2104.0]).unwrap();
    assert!(
        w.contains("spread 1.52 (1772–2700/s)") && w.contains("median (2104/s)"),
        "{w}"
    );
}

#[test]
fn median_and_spread_of_knees() {
    assert_eq!(median_and_spread(&[900.0, 1000.0, 950.0]), (950.0, 1000.0 / 900.0));
    assert_eq!(median_and_spread(&[900.0, 1000.0]).0, 950.0);
}

/// A passing step at `rate`, or a failing one.
fn judged(rate: f64, passed: bool) -> Step {
    Step {
        search: 0,
        offered_per_s: rate,
        achieved_per_s: rate,
        success: if passed { 1.0 } else { 0.0 },
        p50_ms: Some(1.0),
        p99_ms: Some(1.0),
        passed,
        why: String::new(),
    }
}

#[tokio::test]
async fn a_rate_fails_only_when_its_step_fails_twice() {
    let s = scenario();
    let p = Plan {
        start_per_s: 1000.0,
        ..plan(&s)
    };
    // The store's knee is 2,500/s, and the first step at 2,000/s meets a stall of the host.
    let mut stalled = false;
    let found = search(
        &p,
        async |rate| {
            let stall = rate == 2000.0 && !stalled;
            stalled |= stall;
            Ok(judged(rate, rate <= 2500.0 && !stall))
        },
        &mut |_| {},
    )
    .await
    .unwrap();
    let rates: Vec<f64> = found.steps.iter().map(|s| s.offered_per_s).collect();
    assert_eq!(&rates[..5], &[1000.0, 2000.0, 2000.0, 4000.0, 4000.0], "{rates:?}");
    assert!((2375.0..=2500.0).contains(&found.knee_per_s), "{rates:?}");
}
