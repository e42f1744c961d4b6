use super::*;
use crate::results::EventKind;
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
        ..WindowRow::default()
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
        keep_firing_for_sim_secs: 0.0,
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
    use EventKind::*;
    let events = vec![
        ev(2.0, 2, FaultApplySent),
        ev(2.1, 2, FaultApplyLocked),
        ev(4.5, 4, FaultApplyDone),
        ev(6.0, 6, FaultRollbackSent),
        ev(6.0, 6, FaultRollbackDone),
    ];
    let s = summarize(&w, &events, &[p99_rule(1.0)], None, true);
    let phase = |n: &str| s.phases.iter().find(|p| p.phase == n).unwrap().clone();
    assert_eq!(phase("before_fault").windows, 2);
    // Only the window ending at t = 4 (3..4 s) lies at least 90% inside the lock hold 2.1..4.5 s.
    assert_eq!(phase("apply_locked").windows, 1);
    assert_eq!(phase("apply_locked").from_clock, phase("apply_locked").to_clock);
    assert_eq!(phase("fault_active").windows, 4);
    assert!((phase("fault_active").success_ratio - 0.2).abs() < 1e-9);
    assert_eq!(phase("after_rollback").success_ratio, 1.0);
    assert_eq!(phase("fault_active").median_p99_ms, Some(2000.0));
    // Down over 5 minutes centred on each window: 12:04 and 12:05 (18 of 50 attempts ok).
    assert_eq!(s.outage, Some(("12:04:00".into(), "12:05:00".into())));
    // Alert fires at 12:03 (one minute breached), resolves 12:07.
    assert_eq!(s.time_to_detect_min, Some(1.0));
    assert_eq!(s.time_to_mitigate_min, Some(3.0));
    assert_eq!(s.time_to_recover_min, Some(1.0));
    assert_eq!(s.verdict, Verdict::Fail);
    assert!(s.gate_failed());
    assert_eq!(s.rules, vec![p99_rule(1.0)], "the rules judged are in the summary");
}

fn ev(t_s: f64, min: u32, kind: EventKind) -> EventRow {
    EventRow {
        t_s,
        clock: ClockTime::from_secs(12 * 3600 + min * 60).to_string(),
        kind,
        name: "reporting-index".into(),
        detail: String::new(),
    }
}

#[test]
fn a_run_without_rules_is_not_judged_and_fails_a_gate() {
    let s = summarize(&series(&[5.0, 5.0]), &[], &[], None, true);
    assert_eq!(s.verdict, Verdict::NotJudged);
    assert!(s.gate_failed());
    assert!(!summarize(&series(&[5.0]), &[], &[p99_rule(1.0)], None, true).gate_failed());
}

#[test]
fn a_fault_that_failed_to_apply_starts_no_phase_and_detects_nothing() {
    // A migration with a syntax error at 12:02; an unrelated alert at 12:05.
    let w = series(&[5.0, 5.0, 5.0, 2000.0, 2000.0, 5.0]);
    let events = vec![
        ev(2.0, 2, EventKind::FaultApplySent),
        ev(2.0, 2, EventKind::FaultFailed),
    ];
    let s = summarize(&w, &events, &[p99_rule(1.0)], None, false);
    assert_eq!(s.alerts.len(), 1);
    assert_eq!(s.time_to_detect_min, None);
    assert!(s.phases.iter().all(|p| p.phase != "fault_active"), "{:?}", s.phases);
    assert_eq!(s.faults_not_applied, vec!["reporting-index".to_string()]);
    // A guarded try that timed out, then a try that applied: applied.
    let retried = [
        ev(2.0, 2, EventKind::FaultApplySent),
        ev(2.2, 2, EventKind::FaultFailed),
        ev(3.0, 3, EventKind::FaultApplySent),
        ev(3.5, 3, EventKind::FaultApplyDone),
    ];
    assert!(not_applied(&retried).is_empty());
}

#[test]
fn keep_firing_for_makes_a_value_hovering_at_the_threshold_one_alert() {
    // Success 0.43-0.49 against 0.5, with single windows just above it, as in the lock-queue run.
    let ratios = [
        0.9, 0.45, 0.43, 0.51, 0.47, 0.49, 0.52, 0.44, 0.46, 0.9, 0.95, 0.97, 0.98, 0.99,
    ];
    let w: Vec<WindowRow> = ratios
        .iter()
        .enumerate()
        .map(|(i, r)| row(i as u32, (r * 100.0) as u64, 100, Some(5.0)))
        .collect();
    let mut rule = AlertRule {
        name: "checkout success".into(),
        op: Op::Checkout,
        metric: AlertMetric::SuccessRatio,
        above: false,
        threshold: 0.5,
        for_sim_secs: 60.0,
        keep_firing_for_sim_secs: 0.0,
    };
    assert_eq!(
        AlertEvaluator::spans(&[rule.clone()], &w).len(),
        3,
        "without hysteresis it flaps"
    );
    rule.keep_firing_for_sim_secs = 180.0;
    let spans = AlertEvaluator::spans(&[rule], &w);
    assert_eq!(spans.len(), 1, "{spans:?}");
    // Clear from the window ending 12:10 on (began 12:09); resolved 3 minutes later.
    assert_eq!(spans[0].resolved.as_deref(), Some("12:12:00"));
}

#[test]
fn an_outage_that_flapped_lists_its_gaps_and_counts_the_shoppers_who_could_not_buy() {
    // Shoppers who could buy, per incident minute from 12:01: down 12:11–12:20, up 12:21–12:30,
    // down 12:31–12:40, up after. Down is read over 5 minutes, centred.
    let ratios: Vec<f64> = (0..50)
        .map(|i| {
            if (10..20).contains(&i) || (30..40).contains(&i) {
                0.1
            } else {
                1.0
            }
        })
        .collect();
    let windows: Vec<WindowRow> = (0..50u32)
        .map(|i| {
            let r = ratios[i as usize];
            let completed = (10.0 * r) as u64;
            WindowRow {
                shoppers: 10,
                completed,
                gave_up: 10 - completed,
                ..row(i, (100.0 * r) as u64, 100, Some(5.0))
            }
        })
        .collect();
    let s = summarize(&windows, &[], &[], None, false);
    // The 5 minutes centred on 12:11 hold 3 down minutes: 23 of 50 shoppers bought, so down.
    assert_eq!(s.outage, Some(("12:11:00".into(), "12:40:00".into())));
    assert_eq!(s.outage_gaps, vec![("12:21:00".to_string(), "12:30:00".to_string())]);
    let shoppers = s.shoppers.unwrap();
    assert_eq!(
        (shoppers.arrived, shoppers.completed, shoppers.gave_up),
        (500, 320, 180)
    );
    // The outage's windows, 12:11 to 12:40: 20 down minutes (9 lost of 10), 10 up.
    assert_eq!(shoppers.outage_lost_share, Some(180.0 / 300.0));
}
