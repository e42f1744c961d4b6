//! What people read: the terminal summary and the postmortem-style `timeline.md`.

mod html;
mod interactive;

pub use html::{compare_html, report_html};

use std::fmt::Write;

use crate::analysis::{PhaseStats, Summary};
use crate::results::{EventKind, EventRow, Meta};

mod render;

pub use render::{render_run, rules_of, story_of};

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

fn phase_table(phases: &[PhaseStats]) -> String {
    let mut out = String::from(
        "| phase | clock | offered/s | ok/s | success ratio | median p50 ms | median p99 ms |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for p in phases {
        let _ = writeln!(
            out,
            "| {} | {}–{} | {:.1} | {:.1} | {:.3} | {} | {} |",
            p.phase,
            p.from_clock,
            p.to_clock,
            p.offered_per_s,
            p.ok_per_s,
            p.success_ratio,
            ms(p.median_p50_ms),
            ms(p.median_p99_ms)
        );
    }
    out
}

fn minutes(v: Option<f64>) -> String {
    v.map(|m| format!("{m:.0} min")).unwrap_or_else(|| "n/a".into())
}

/// The outage (with its gaps, when it flapped) and the shoppers who could not check out, one
/// sentence each.
pub fn outage_lines(summary: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((from, to)) = &summary.outage {
        let gaps: Vec<String> = summary
            .outage_gaps
            .iter()
            .map(|(a, b)| if a == b { a.clone() } else { format!("{a}–{b}") })
            .collect();
        out.push(match gaps.len() {
            0 => format!("Checkout down (most shoppers could not buy) from {from} to {to}."),
            n => format!(
                "Checkout down (most shoppers could not buy) from {from} to {to}, back up in {n} gap{} ({}).",
                if n == 1 { "" } else { "s" },
                gaps.join(", ")
            ),
        });
    }
    if let Some(s) = &summary.shoppers {
        let during = s
            .outage_lost_share
            .map(|share| format!("; {:.0}% during the outage", share * 100.0))
            .unwrap_or_default();
        out.push(format!(
            "Shoppers who could not check out: {} of {} ({:.1}%){during}.",
            thousands(s.gave_up),
            thousands(s.completed + s.gave_up),
            s.lost_share * 100.0
        ));
    }
    out
}

/// The short summary printed at the end of a run.
pub fn terminal_summary(summary: &Summary, meta: &Meta, run_dir: &std::path::Path) -> String {
    let mut out = String::new();
    let cap = meta
        .capacity_per_s
        .map(|c| match meta.capacity_source.as_deref() {
            Some("--capacity") => format!(", capacity {c:.0} arrivals/s (given)"),
            _ => format!(", measured capacity {c:.0} arrivals/s"),
        })
        .unwrap_or_default();
    let _ = writeln!(out, "\n{} on {}{cap}", meta.scenario, meta.backend);
    let _ = writeln!(
        out,
        "{:<15} {:>9} {:>9} {:>8} {:>10} {:>10}",
        "checkout", "offered/s", "ok/s", "success", "p50 ms", "p99 ms"
    );
    for p in &summary.phases {
        let _ = writeln!(
            out,
            "{:<15} {:>9.1} {:>9.1} {:>8.3} {:>10} {:>10}",
            p.phase,
            p.offered_per_s,
            p.ok_per_s,
            p.success_ratio,
            ms(p.median_p50_ms),
            ms(p.median_p99_ms)
        );
    }
    for name in &summary.faults_not_applied {
        let _ = writeln!(
            out,
            "fault {name} never applied (see events.csv): this run replayed the peak without it"
        );
    }
    for a in &summary.alerts {
        let _ = writeln!(
            out,
            "alert {:?} fired {} resolved {}",
            a.name,
            a.fired,
            a.resolved.as_deref().unwrap_or("never")
        );
    }
    for line in outage_lines(summary) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "time to detect {}, to mitigate {}, to recover {}; verdict: {}{}",
        minutes(summary.time_to_detect_min),
        minutes(summary.time_to_mitigate_min),
        minutes(summary.time_to_recover_min),
        summary.verdict,
        if summary.gated { " (gated)" } else { "" }
    );
    let _ = writeln!(out, "results: {}", run_dir.display());
    out
}

fn describe(e: &EventRow) -> Option<String> {
    use EventKind::*;
    let text = match e.kind {
        RunStart => "replay started".to_string(),
        RunEnd if e.detail.is_empty() => "replay ended".to_string(),
        RunEnd => format!("replay ended ({})", e.detail),
        FaultApplySent => format!("{} applied: `{}`", e.name, e.detail),
        FaultApplyLocked => format!("{} got its lock", e.name),
        FaultApplyDone => format!("{} in place", e.name),
        FaultRollbackSent => format!("rollback of {} sent: `{}`", e.name, e.detail),
        FaultRollbackLocked => format!("rollback of {} got its lock", e.name),
        FaultRollbackDone => format!("{} rolled back", e.name),
        FaultFailed => format!("{} failed: {}", e.name, e.detail),
        AlertFired => format!("alert: {} ({})", e.name, e.detail),
        AlertResolved => format!("resolved: {}", e.name),
        TraineeDiagnosis => format!("trainee diagnosed {}", e.name),
        TraineeAction => format!("trainee: {} {}", e.name, e.detail),
        MitigationDetected => format!("mitigation detected: {} {}", e.name, e.detail),
        AppShed => format!("the app began shedding load at {}: {}", e.name, e.detail),
    };
    Some(text)
}

/// `timeline.md`: the run's events in incident-clock time, then the per-phase table.
pub fn timeline_md(title: &str, events: &[EventRow], summary: &Summary) -> String {
    let mut out = format!("# Timeline: {title}\n\n");
    out += &story_table(summary);
    out += "Incident-clock times (the replay runs faster than real time).\n\n";
    // The moment every alert is resolved again is the recovery, as a postmortem would write it.
    let recovered = if summary.alerts.iter().all(|a| a.resolved.is_some()) {
        summary.alerts.iter().filter_map(|a| a.resolved.clone()).max()
    } else {
        None
    };
    let mut recovery_written = false;
    for e in events {
        if let Some(at) = recovered
            .as_deref()
            .filter(|at| !recovery_written && e.clock.as_str() > *at)
        {
            let _ = writeln!(out, "- **{at}** recovered: every alert resolved");
            recovery_written = true;
        }
        if let Some(text) = describe(e) {
            let _ = writeln!(out, "- **{}** {}", e.clock, text);
        }
    }
    for line in outage_lines(summary) {
        let _ = writeln!(out, "\n{line}");
    }
    let _ = writeln!(
        out,
        "\nTime to detect: {}. Time to mitigate: {}. Time to recover: {}. Verdict: {}.\n\n## Checkout by phase\n",
        minutes(summary.time_to_detect_min),
        minutes(summary.time_to_mitigate_min),
        minutes(summary.time_to_recover_min),
        summary.verdict
    );
    out + &phase_table(&summary.phases)
}

/// The postmortem's checkpoints beside this run's own times, and the run's class; nothing when
/// the scenario has no `[story]`.
pub fn story_table(summary: &Summary) -> String {
    let Some(o) = &summary.outcome else {
        return String::new();
    };
    let mut out = format!("Class: **{}**", o.class.name());
    if let Some(at) = &o.down_at {
        let _ = write!(
            out,
            "; checkout down from {at} ({:.0} incident minutes down)",
            o.down_minutes
        );
    }
    out += ".\n\n";
    if o.checkpoints.is_empty() {
        return out;
    }
    let met = o.checkpoints.iter().filter(|c| c.met).count();
    let _ = writeln!(
        out,
        "## The story: {met} of {} checkpoints met{}\n\n| checkpoint | postmortem | this run | met |\n|---|---|---|---|",
        o.checkpoints.len(),
        if o.whole_story == Some(true) {
            " (the whole story)"
        } else {
            ""
        }
    );
    for c in &o.checkpoints {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.name,
            c.postmortem,
            c.run.as_deref().unwrap_or("never"),
            if c.met { "yes" } else { "no" }
        );
    }
    out + "\n"
}

/// The comparison for the terminal: verdict, response times and phases of each run.
pub fn compare_summary(runs: &[(String, Summary)]) -> String {
    let mut out = String::new();
    for (label, s) in runs {
        let _ = writeln!(
            out,
            "{label}: verdict {}, detect {}, mitigate {}, recover {}",
            s.verdict,
            minutes(s.time_to_detect_min),
            minutes(s.time_to_mitigate_min),
            minutes(s.time_to_recover_min)
        );
        for p in &s.phases {
            let p99 = p
                .median_p99_ms
                .map(|v| format!("{v:.1} ms"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(out, "  {:<15} success {:.3}  p99 {p99}", p.phase, p.success_ratio);
        }
    }
    out
}

/// 113835 as "113,835".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
