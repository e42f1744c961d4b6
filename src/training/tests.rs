use std::path::Path;

use super::score::{debrief, score};
use super::*;
use crate::results::{EventKind, EventRow};
use crate::scenario::Reference;

fn text(candidates: &str) -> String {
    format!(
        r#"
[clock]
start = "12:00"
end = "16:30"
speed = 60
[load]
unit = "capacity"
points = [{{ at = "12:00", value = 0.5 }}]
[mix]
checkout = 1
[training]
candidates = {candidates}
between = ["12:30", "12:50"]
[training.reference]
first_alert = "12:45"
diagnosed = "14:30"
"#
    )
}

fn scenario(candidates: &str) -> Scenario {
    Scenario::parse(&text(candidates), Path::new("t.toml")).unwrap()
}

#[test]
fn the_same_seed_draws_the_same_fault_at_the_same_time_within_the_window() {
    let s = scenario(r#"["reporting-index", "long-report"]"#);
    let a = draw(&s, "postgres", 7).unwrap();
    assert_eq!(a, draw(&s, "postgres", 7).unwrap());
    let mut stories = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let d = draw(&s, "postgres", seed).unwrap();
        assert!(
            (12 * 3600 + 30 * 60..=12 * 3600 + 50 * 60).contains(&d.start.secs()),
            "{d:?}"
        );
        stories.insert(d.story);
    }
    assert_eq!(stories.len(), 2, "both candidates are drawn");
    // SQLite has no long-report: only the index is drawn there.
    assert!((0..20).all(|seed| draw(&s, "sqlite", seed).unwrap().story == "reporting-index"));
    let only_server = scenario(r#"["long-report"]"#);
    assert!(draw(&only_server, "sqlite", 1).unwrap_err().contains("runs on sqlite"));
}

#[test]
fn the_hidden_story_replaces_the_scenarios_faults_on_its_clock() {
    let s = scenario(r#"["long-report"]"#);
    let drawn = Drawn {
        story: "long-report",
        start: "12:40".parse().unwrap(),
    };
    let hidden = hide(&s, &drawn).unwrap();
    let file = hidden.to_toml_resolved(None);
    assert!(
        file.contains("long-report"),
        "the revealed file replays the story: {file}"
    );
    let steps: Vec<(String, String, Option<String>)> = hidden
        .faults
        .iter()
        .map(|f| (f.name.clone(), f.apply.to_string(), f.rollback.map(|r| r.to_string())))
        .collect();
    assert_eq!(
        steps,
        [
            ("reporting-index".into(), "12:40:00".into(), Some("12:50:00".into())),
            ("long-report".into(), "12:45:00".into(), None),
        ]
    );
}

#[test]
fn unknown_stories_are_refused_when_drawn_and_windows_outside_the_clock_with_their_line() {
    let err = draw(&scenario(r#"["no-such"]"#), "sqlite", 1).unwrap_err();
    assert!(err.contains("training.candidates: unknown story \"no-such\""), "{err}");
    let late = text(r#"["reporting-index"]"#).replace(r#"["12:30", "12:50"]"#, r#"["12:30", "17:00"]"#);
    let err = Scenario::parse(&late, Path::new("t.toml")).unwrap_err();
    assert_eq!(err.field, "training.between");
    assert!(err.message.contains("within the clock"), "{err}");
}

#[test]
fn commands_are_parsed_and_a_wrong_one_says_what_is_expected() {
    assert_eq!(
        "diagnose index-build".parse(),
        Ok(Command::Diagnose("index-build".into()))
    );
    assert_eq!(
        "  rollback reporting-index ".parse(),
        Ok(Command::Rollback("reporting-index".into()))
    );
    assert_eq!("kill 4242".parse(), Ok(Command::Kill(4242)));
    assert_eq!("quit".parse(), Ok(Command::Quit));
    let err = "diagnose gremlins".parse::<Command>().unwrap_err();
    assert!(
        err.contains("unknown cause \"gremlins\"") && err.contains("load-balancer"),
        "{err}"
    );
    assert!("kill me".parse::<Command>().unwrap_err().contains("a session id"));
    assert!("reboot".parse::<Command>().unwrap_err().contains("diagnose CAUSE"));
    assert_eq!("shed".parse(), Ok(Command::Shed));
    assert_eq!("retries off".parse(), Ok(Command::RetriesOff));
    assert_eq!("retry-budget 0.1".parse(), Ok(Command::RetryBudget(0.1)));
    assert_eq!("retry-budget 20%".parse(), Ok(Command::RetryBudget(0.2)));
    let err = "retry-budget 150%".parse::<Command>().unwrap_err();
    assert!(err.contains("expected a share from 0 to 1"), "{err}");
    assert!("reboot".parse::<Command>().unwrap_err().contains("retries off"));
}

fn event(clock: &str, kind: EventKind, name: &str, detail: &str) -> EventRow {
    EventRow {
        t_s: 0.0,
        clock: clock.into(),
        kind,
        name: name.into(),
        detail: detail.into(),
    }
}

#[test]
fn the_score_times_detection_mitigation_and_recovery_from_the_first_alert() {
    use EventKind::*;
    let events = [
        event("12:38:00", FaultApplySent, "reporting-index", ""),
        event("12:44:00", AlertFired, "p99", ""),
        event("12:46:00", AlertFired, "success", ""),
        event("12:48:00", TraineeDiagnosis, "load-balancer", ""),
        event("12:52:00", TraineeDiagnosis, "index-build", ""),
        event(
            "12:53:00",
            TraineeAction,
            "rollback nothing",
            "no effect: no such fault is applied",
        ),
        event("12:54:00", TraineeAction, "rollback reporting-index", "rolling back"),
        event("12:56:00", MitigationDetected, "reporting-index", "rolled back"),
        event("13:00:00", AlertResolved, "p99", ""),
        event("13:03:00", AlertResolved, "success", ""),
    ];
    let story = story("reporting-index").unwrap();
    let s = score(&events, story, "12:38".parse().unwrap(), "smoke", 7, None);
    assert_eq!(s.first_alert.as_deref(), Some("12:44:00"));
    assert_eq!(
        (s.detect_min, s.mitigate_min, s.recover_min),
        (Some(8.0), Some(12.0), Some(19.0))
    );
    assert_eq!(s.wrong_diagnoses, ["12:48:00 load-balancer"]);
    assert_eq!(s.wasted_actions.len(), 1);
    let reference = Reference {
        first_alert: Some("12:45".parse().unwrap()),
        diagnosed: Some("14:30".parse().unwrap()),
        ..Default::default()
    };
    let md = debrief(&s, story, &reference, None, "why it hurts", "");
    assert!(
        md.contains(
            "| time to detect (first alert, or the fault if none had fired → right diagnosis) | 8 min | 105 min | — |"
        ),
        "{md}"
    );
    assert!(
        md.contains("What it was: reporting-index (cause: index-build), from 12:38:00"),
        "{md}"
    );
}

#[test]
fn without_a_mitigation_nothing_is_recovered() {
    let events = [event("12:44:00", EventKind::AlertFired, "p99", "")];
    let s = score(
        &events,
        story("reporting-index").unwrap(),
        "12:38".parse().unwrap(),
        "smoke",
        1,
        None,
    );
    assert_eq!((s.detect_min, s.mitigate_min, s.recover_min), (None, None, None));
}

#[test]
fn a_diagnosis_before_the_fault_is_a_guess_and_never_a_negative_time() {
    use EventKind::*;
    // smoke, seed 7: `diagnose index-build` at 12:00, the hidden fault at 12:30, no alert.
    let events = [
        event("12:00:00", TraineeDiagnosis, "index-build", ""),
        event("12:30:00", FaultApplySent, "reporting-index", ""),
        event("12:41:00", TraineeDiagnosis, "index-build", ""),
    ];
    let story = story("reporting-index").unwrap();
    let s = score(&events, story, "12:30".parse().unwrap(), "smoke", 7, None);
    assert_eq!(s.guesses, ["12:00:00 index-build"]);
    assert_eq!((s.diagnosed.as_deref(), s.detect_min), (Some("12:41:00"), Some(11.0)));
    let md = debrief(&s, story, &Reference::default(), None, "", "");
    assert!(
        md.contains("none fired") && !md.contains("-30 min") && !md.contains("−30"),
        "{md}"
    );
    assert!(
        md.contains("before the fault began (guesses, not timed): 12:00:00 index-build"),
        "{md}"
    );
}

/// Checkout's windows a minute apart from 12:00 to 13:30, every shopper leaving from 12:40 to
/// 13:10 (or to the end).
fn checkout_down(until_end: bool) -> Vec<crate::results::WindowRow> {
    (0..=90u32)
        .map(|m| {
            let down = m >= 40 && (until_end || m <= 70);
            crate::results::WindowRow {
                clock: ClockTime::from_secs(12 * 3600 + m * 60).to_string(),
                op: "checkout".into(),
                completed: if down { 0 } else { 100 },
                gave_up: if down { 100 } else { 0 },
                ..Default::default()
            }
        })
        .collect()
}

#[test]
fn the_action_that_ended_the_outage_is_the_last_one_taken_while_down_just_before_it_came_back() {
    use EventKind::*;
    let windows = checkout_down(false);
    let checkout: Vec<_> = windows.iter().collect();
    let acted = |clock: &str, name: &str, detail: &str| vec![event(clock, TraineeAction, name, detail)];
    let ended = score::what_ended(&acted("13:05:00", "retries off", "no more retries"), &checkout);
    assert_eq!(ended.by.as_deref(), Some("retries off"), "{ended:?}");
    assert!(
        ended.said().contains("that action ended the outage"),
        "{}",
        ended.said()
    );
    // Taken before checkout went down, or with no effect: checkout came back on its own.
    for events in [
        acted("12:20:00", "retries off", "no more retries"),
        acted("13:05:00", "rollback nope", "no effect: no such fault is applied"),
    ] {
        let ended = score::what_ended(&events, &checkout);
        assert_eq!(ended.by, None, "{events:?}");
        assert!(ended.said().contains("ended on its own"), "{}", ended.said());
    }
    let windows = checkout_down(true);
    let checkout: Vec<_> = windows.iter().collect();
    let ended = score::what_ended(&acted("13:05:00", "shed", "admitting"), &checkout);
    assert_eq!((ended.back_at.as_deref(), ended.by.as_deref()), (None, None));
    assert!(ended.said().contains("until the run ended"), "{}", ended.said());
}

#[test]
fn the_action_that_ended_the_outage_is_scored_as_the_mitigation() {
    use EventKind::*;
    let events = [
        event("12:30:00", FaultApplySent, "reporting-indexes", ""),
        event("12:41:00", AlertFired, "success", ""),
        // The indexes rolled back while the retries kept checkout down: not what ended it.
        event("12:50:00", MitigationDetected, "reporting-indexes", "rolled back"),
        event("13:05:00", TraineeAction, "retries off", "no more retries"),
        event("13:16:00", AlertResolved, "success", ""),
    ];
    let windows = checkout_down(false);
    let checkout: Vec<_> = windows.iter().collect();
    let story = story("reporting-indexes").unwrap();
    let ended = Some(score::what_ended(&events, &checkout));
    let s = score(&events, story, "12:30".parse().unwrap(), "training", 7, ended);
    assert_eq!(
        (s.mitigated.as_deref(), s.recovered.as_deref()),
        (Some("13:05:00"), Some("13:16:00"))
    );
    assert_eq!((s.mitigate_min, s.recover_min), (Some(24.0), Some(35.0)));
    // When no action ended it (checkout down to the end), the mitigation is the culprit gone.
    let windows = checkout_down(true);
    let checkout: Vec<_> = windows.iter().collect();
    let ended = Some(score::what_ended(&events, &checkout));
    let s = score(&events, story, "12:30".parse().unwrap(), "training", 7, ended);
    assert_eq!((s.mitigated.as_deref(), s.mitigate_min), (Some("12:50:00"), Some(9.0)));
}

#[test]
fn without_a_whatif_study_the_debrief_says_how_to_get_one() {
    let out = tempfile::tempdir().unwrap();
    let said = score::whatif_said(out.path(), "training", Path::new("workloads/training.toml"), &[]);
    assert!(
        said.contains("outage-sim whatif workloads/training.toml --only"),
        "{said}"
    );
}
