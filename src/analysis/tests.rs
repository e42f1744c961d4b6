use super::*;
use crate::scenario::{AlertMetric, ClockTime, Op};

fn row(i: u32, ok: u64, offered: u64, p99: Option<f64>) -> WindowRow {
    // One window per incident minute, starting 12:01.
    let clock = ClockTime::from_secs(12 * 3600 + (i + 1) * 60).to_string();
    WindowRow {
        t_s: f64::from(i + 1),
        clock,
        op: "checkout".into(),
        offered,
        ok,
        failed: 0,
        timed_out: offered - ok,
        dropped: 0,
        retries: 0,
        in_flight: 0,
        p50_ms: p99.map(|p| p / 2.0),
        p95_ms: p99,
        p99_ms: p99,
        max_ms: p99,
    }
}

fn p99_rule(for_min: f64) -> AlertRule {
    AlertRule {
        name: "slow".into(),
        op: Op::Checkout,
        metric: AlertMetric::P99Ms,
        above: true,
        threshold: 1000.0,
        for_sim_secs: for_min * 60.0,
    }
}

fn series(p99s: &[f64]) -> Vec<WindowRow> {
    p99s.iter()
        .enumerate()
        .map(|(i, &p)| row(i as u32, 10, 10, Some(p)))
        .collect()
}

#[test]
fn an_alert_fires_after_exactly_its_duration_and_resolves() {
    // Breached from the 3rd window (12:03) on: a 3-minute rule fires at the window ending 12:05.
    let w = series(&[5.0, 5.0, 2000.0, 2000.0, 2000.0, 2000.0, 5.0, 5.0]);
    let spans = AlertEvaluator::spans(&[p99_rule(3.0)], &w);
    assert_eq!(
        spans,
        vec![AlertSpan {
            name: "slow".into(),
            fired: "12:05:00".into(),
            resolved: Some("12:07:00".into())
        }]
    );
}

#[test]
fn a_breach_shorter_than_the_duration_never_fires() {
    let w = series(&[5.0, 2000.0, 2000.0, 5.0, 2000.0, 2000.0, 5.0]);
    assert!(AlertEvaluator::spans(&[p99_rule(3.0)], &w).is_empty());
}

#[test]
fn a_flapping_metric_fires_and_resolves_each_time() {
    let w = series(&[2000.0, 5.0, 2000.0, 5.0]);
    let spans = AlertEvaluator::spans(&[p99_rule(1.0)], &w);
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.resolved.is_some()));
}

#[test]
fn windows_with_offers_but_no_answers_count_as_breached() {
    let w = vec![row(0, 10, 10, Some(5.0)), row(1, 0, 10, None), row(2, 0, 10, None)];
    let spans = AlertEvaluator::spans(&[p99_rule(2.0)], &w);
    assert_eq!(spans[0].fired, "12:03:00");
}

#[test]
fn summary_splits_phases_at_the_fault_events_and_times_the_response() {
    // 10 windows; fault applied after window 2, rolled back after window 6.
    let mut w = Vec::new();
    for i in 0..10 {
        let bad = (2..6).contains(&i);
        w.push(row(
            i,
            if bad { 2 } else { 10 },
            10,
            Some(if bad { 2000.0 } else { 4.0 }),
        ));
    }
    let ev = |t_s: f64, min: u32, kind: &str| EventRow {
        t_s,
        clock: ClockTime::from_secs(12 * 3600 + min * 60).to_string(),
        kind: kind.into(),
        name: "reporting-index".into(),
        detail: String::new(),
    };
    let events = vec![
        ev(2.0, 2, "fault_apply_sent"),
        ev(2.1, 2, "fault_apply_locked"),
        ev(4.5, 4, "fault_apply_done"),
        ev(6.0, 6, "fault_rollback_sent"),
        ev(6.0, 6, "fault_rollback_done"),
    ];
    let s = summarize(&w, &events, &[p99_rule(1.0)]);
    let phase = |n: &str| s.phases.iter().find(|p| p.phase == n).unwrap().clone();
    assert_eq!(phase("before_fault").windows, 2);
    // Only the window ending at t = 4 (3..4 s) lies at least 90% inside the lock hold 2.1..4.5 s.
    assert_eq!(phase("apply_locked").windows, 1);
    assert_eq!(phase("apply_locked").from_clock, phase("apply_locked").to_clock);
    assert_eq!(phase("fault_active").windows, 4);
    assert!((phase("fault_active").success_ratio - 0.2).abs() < 1e-9);
    assert_eq!(phase("after_rollback").success_ratio, 1.0);
    assert_eq!(phase("fault_active").median_p99_ms, Some(2000.0));
    assert_eq!(s.outage, Some(("12:03:00".into(), "12:06:00".into())));
    // Alert fires at 12:03 (one minute breached), resolves 12:07.
    assert_eq!(s.time_to_detect_min, Some(1.0));
    assert_eq!(s.time_to_mitigate_min, Some(3.0));
    assert_eq!(s.time_to_recover_min, Some(1.0));
    assert_eq!(s.verdict, "fail");
}
