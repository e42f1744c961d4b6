//! `ensemble.md`: what a reader needs from an ensemble, every proportion with N and its
//! interval, every duration as median and range.

use std::fmt::Write;

use super::record::EnsembleFile;
use crate::analysis::story::{Class, DOWN_BELOW, SMOOTH_SECS};

pub fn ensemble_md(f: &EnsembleFile) -> String {
    let mut out = format!("# Ensemble: {}\n\n", super::title(f));
    let _ = writeln!(
        out,
        "{} runs with seeds {}–{}{}, each from the same seeded data. Proportions are \"k of N\" with \
         their Wilson 95% interval; durations are the median and range. Checkout is *down* while fewer \
         than {DOWN_BELOW} of its shoppers who finished within {:.0} incident minutes could buy.\n",
        f.n,
        f.first_seed,
        f.first_seed + f.n.saturating_sub(1) as u64,
        if f.interrupted {
            format!(" (interrupted: {} of the {} asked for finished)", f.n, f.requested)
        } else {
            String::new()
        },
        SMOOTH_SECS / 60.0
    );
    if let Some(w) = &f.whole_story {
        let _ = writeln!(out, "**The whole story in {w}.**\n");
    }
    out += "| outcome | runs |\n|---|---|\n";
    for c in Class::ALL {
        let _ = writeln!(out, "| {} | {} |", c.name(), f.class(c));
    }
    if let Some(h) = &f.held {
        let _ = writeln!(out, "| of those down, down until the mitigation | {h} |");
    }
    if let Some(s) = &f.still_down {
        let _ = writeln!(
            out,
            "| without the rollback, still down at {} (30 min after its time) | {} |",
            s.at.get(..5).unwrap_or(&s.at),
            s.runs
        );
    }
    if f.blocked.count > 0 {
        let _ = writeln!(out, "| blocked by the migration's lock | {} |", f.blocked);
    }
    if let Some(d) = &f.down_minutes {
        let _ = writeln!(
            out,
            "\nIncident minutes down, over the {} runs that went down: median {:.0}, range {:.0}–{:.0}.",
            d.n, d.median, d.low, d.high
        );
    }
    if let Some(s) = &f.fault_success {
        let _ = writeln!(
            out,
            "Checkout success {}: median {:.2}, range {:.2}–{:.2}.",
            if f.runs.iter().all(|r| r.no_fault) {
                "over each run (no fault)"
            } else {
                "while the fault was in place"
            },
            s.median,
            s.low,
            s.high
        );
    }
    if let Some(s) = &f.shoppers_lost {
        let _ = writeln!(
            out,
            "Shoppers who could not check out, over each run: median {}, range {}–{}.",
            percent(s.median),
            percent(s.low),
            percent(s.high)
        );
    }
    if let Some(s) = &f.outage_shoppers_lost {
        let _ = writeln!(
            out,
            "The same over each outage ({} runs): median {}, range {}–{}.",
            s.n,
            percent(s.median),
            percent(s.low),
            percent(s.high)
        );
    }
    if !f.checkpoints.is_empty() {
        out += "\n## The story's checkpoints\n\n| checkpoint | postmortem | met |\n|---|---|---|\n";
        for c in &f.checkpoints {
            let _ = writeln!(out, "| {} | {} | {} |", c.name, c.postmortem, c.met);
        }
    }
    out += "\n## Runs\n\n| seed | class | down at | down min | held | climbed out | recovered | story | success with the fault | shoppers lost | run |\n|---|---|---|---:|---|---|---|---|---:|---:|---|\n";
    for r in &f.runs {
        let o = &r.outcome;
        let met = o.checkpoints.iter().filter(|c| c.met).count();
        let story = match o.whole_story {
            Some(w) => format!("{met}/{}{}", o.checkpoints.len(), if w { " whole" } else { "" }),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {}{} | {} | {:.0} | {} | {} | {} | {story} | {:.3} | {} | [{}]({}/timeline.md) |",
            r.seed,
            o.class.name(),
            r.blocked.as_ref().map_or(String::new(), |b| format!(" ({b})")),
            o.down_at.as_deref().unwrap_or("-"),
            o.down_minutes,
            o.held.map_or("-", |h| if h { "yes" } else { "no" }),
            o.climbed_out_at.as_deref().unwrap_or("-"),
            o.recovered_at.as_deref().unwrap_or("-"),
            r.fault_success,
            r.shoppers.map_or("-".to_string(), |s| percent(s.lost_share)),
            r.dir,
            r.dir
        );
    }
    let t = &f.timing;
    let _ = write!(out, "\n## Time\n\nThe runs' replays took {:.0} s in all", t.runs_s);
    if t.total_s > 0.0 {
        let _ = write!(out, "; with the resets and the judging, {:.0} s", t.total_s);
    }
    if let Some(r) = &t.reset_s {
        let _ = write!(
            out,
            "; resetting the data before each run took median {:.2} s (range {:.2}–{:.2}), {:.1}% of a run's replay",
            r.median,
            r.low,
            r.high,
            100.0 * r.median / (t.runs_s / f.n.max(1) as f64).max(1e-9)
        );
    }
    out + ".\n\n![every run's share of shoppers who could buy, the median and the 10–90% band](ensemble.png)\n"
}

/// Two ensembles side by side: each class, checkpoint and the whole story as counts with
/// intervals, durations as median and range, and "within the noise" where they overlap.
pub fn compare_md((la, a): (&str, &EnsembleFile), (lb, b): (&str, &EnsembleFile)) -> String {
    let mut out = format!(
        "# Two ensembles\n\n- A: {la}\n- B: {lb}\n\n\"Within the noise\" when the two Wilson 95% intervals (or ranges) overlap.\n\n| figure | A | B | |\n|---|---|---|---|\n"
    );
    let mut row = |name: &str, x: Option<super::Proportion>, y: Option<super::Proportion>| {
        if let (Some(x), Some(y)) = (x, y) {
            let noise = if x.overlaps(&y) { "within the noise" } else { "differs" };
            let _ = writeln!(out, "| {name} | {x} | {y} | {noise} |");
        }
    };
    row("the whole story", a.whole_story, b.whole_story);
    for c in Class::ALL {
        row(c.name(), Some(a.class(c)), Some(b.class(c)));
    }
    row("blocked by the migration", Some(a.blocked), Some(b.blocked));
    for ca in &a.checkpoints {
        let cb = b.checkpoints.iter().find(|c| c.name == ca.name);
        row(&format!("checkpoint {}", ca.name), Some(ca.met), cb.map(|c| c.met));
    }
    let spread = |s: &Option<super::Spread>, digits: usize| {
        s.map_or("-".to_string(), |s| {
            format!(
                "median {:.*} ({:.*}–{:.*}, {} runs)",
                digits, s.median, digits, s.low, digits, s.high, s.n
            )
        })
    };
    for (name, x, y, digits) in [
        ("incident minutes down", &a.down_minutes, &b.down_minutes, 0),
        ("checkout success with the fault", &a.fault_success, &b.fault_success, 3),
    ] {
        let noise = match (x, y) {
            (Some(x), Some(y)) if x.overlaps(y) => "within the noise",
            (Some(_), Some(_)) => "differs",
            _ => "",
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {noise} |",
            spread(x, digits),
            spread(y, digits)
        );
    }
    out
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}
