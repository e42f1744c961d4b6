//! What-if replays: a scenario's ensemble as it is and, on the same seeds, with one factor
//! changed at a time (the trigger, the retries, the app's guards, the mitigation, the lull),
//! so what made an outage and what ended it are read from counts with intervals, not from one
//! run. Each variant is a scenario edit made through the file's own keys, so its run
//! directories' `scenario.toml` says what ran.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::analysis::story::{Class, DOWN_CHECKPOINT};
use crate::charts::WhatifRow;
use crate::ensemble::{EnsembleFile, Proportion, Spread};
use crate::plan::RunPlan;
use crate::scenario::{ClockTime, Scenario};

pub const WHATIF_JSON: &str = "whatif.json";
pub const WHATIF_MD: &str = "whatif.md";

/// The retry budget the `retry-budget` variant gives an app that has none: 10% of requests,
/// Finagle's default `percentCanRetry` is 20%; gRPC's examples throttle at about 10%.
pub const VARIANT_RETRY_BUDGET: f64 = 0.1;
/// How long after the first alert the `rollback-at-alert` variant rolls back.
pub const VARIANT_ROLLBACK_AFTER: &str = "10m";

/// One factor changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    AsIs,
    NoBuild,
    BuildOnly,
    NoRetries,
    RetryBudget,
    ShedAtAlert,
    RollbackAtAlert,
    NoRollback,
    NoLull,
}

impl Variant {
    pub const ALL: [Variant; 9] = [
        Variant::AsIs,
        Variant::NoBuild,
        Variant::BuildOnly,
        Variant::NoRetries,
        Variant::RetryBudget,
        Variant::ShedAtAlert,
        Variant::RollbackAtAlert,
        Variant::NoRollback,
        Variant::NoLull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::AsIs => "as-is",
            Variant::NoBuild => "no-build",
            Variant::BuildOnly => "build-only",
            Variant::NoRetries => "no-retries",
            Variant::RetryBudget => "retry-budget",
            Variant::ShedAtAlert => "shed-at-alert",
            Variant::RollbackAtAlert => "rollback-at-alert",
            Variant::NoRollback => "no-rollback",
            Variant::NoLull => "no-lull",
        }
    }

    /// What it changes, in a line.
    pub fn what(self) -> String {
        match self {
            Variant::AsIs => "the scenario as it is".into(),
            Variant::NoBuild => {
                "the change's steady cost without its build stall: in place before the run starts".into()
            }
            Variant::BuildOnly => {
                "the change's build stall without its steady cost: rolled back as soon as it is built".into()
            }
            Variant::NoRetries => "shoppers and the app never retry a checkout".into(),
            Variant::RetryBudget => format!(
                "the app retries only while retries are under {:.0}% of its requests",
                VARIANT_RETRY_BUDGET * 100.0
            ),
            Variant::ShedAtAlert => {
                "from the first alert the app admits only what the database served before it".into()
            }
            Variant::RollbackAtAlert => format!("the rollback {VARIANT_ROLLBACK_AFTER} after the first alert"),
            Variant::NoRollback => "the change is never rolled back".into(),
            Variant::NoLull => "the peak held to the end (no afternoon lull)".into(),
        }
    }

    /// A guard or an earlier action added to the scenario, where the others take a factor away.
    pub fn adds(self) -> bool {
        matches!(
            self,
            Variant::RetryBudget | Variant::ShedAtAlert | Variant::RollbackAtAlert
        )
    }

    pub fn parse(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The plan with this factor changed, or why it changes nothing in this scenario.
    pub fn plan(self, base: &RunPlan) -> Result<Result<RunPlan, String>> {
        let s = &base.scenario;
        let no_change = s.faults.is_empty() || base.faults.is_empty();
        let no_rollback = s.faults.iter().all(|f| f.rollback.is_none());
        let why_not = match self {
            Variant::AsIs => None,
            Variant::NoBuild | Variant::BuildOnly | Variant::RollbackAtAlert | Variant::NoRollback if no_change => {
                Some("the plan applies no change".to_string())
            }
            Variant::NoRollback if no_rollback => Some("the scenario never rolls its change back".to_string()),
            Variant::NoRetries | Variant::RetryBudget if s.checkout.retries == 0 => {
                Some("its shoppers do not retry (checkout.retries = 0): the same as as-is".to_string())
            }
            Variant::RetryBudget if s.limits.retry_budget.is_some() => {
                Some("the scenario already has a retry budget".to_string())
            }
            Variant::ShedAtAlert if s.limits.shed_at_alert => {
                Some("the scenario already sheds at its first alert".into())
            }
            Variant::ShedAtAlert | Variant::RollbackAtAlert if s.alerts.is_empty() => {
                Some("the scenario has no alert rules".to_string())
            }
            _ => None,
        };
        if let Some(why) = why_not {
            return Ok(Err(why));
        }
        let plan = base.clone();
        Ok(Ok(match self {
            Variant::AsIs => plan,
            Variant::NoRollback => plan.without_rollback(),
            Variant::NoLull => plan.with_scenario(|s| Ok(s.clone().held_at_peak()))?,
            _ => plan.with_scenario(|s| s.edited(|t| self.edit(s, t)))?,
        }))
    }

    /// The variant as edits to the scenario file's keys.
    fn edit(self, s: &Scenario, table: &mut toml::Table) {
        let section = |t: &mut toml::Table, name: &str| -> toml::Table {
            t.get(name).and_then(|v| v.as_table()).cloned().unwrap_or_default()
        };
        let mut set = |name: &str, key: &str, value: toml::Value| {
            let mut sec = section(table, name);
            sec.insert(key.into(), value);
            table.insert(name.into(), toml::Value::Table(sec));
        };
        match self {
            Variant::NoRetries => set("checkout", "retries", toml::Value::Integer(0)),
            Variant::RetryBudget => set("limits", "retry_budget", toml::Value::Float(VARIANT_RETRY_BUDGET)),
            Variant::ShedAtAlert => set("limits", "shed_at_alert", toml::Value::Boolean(true)),
            Variant::NoBuild | Variant::BuildOnly | Variant::RollbackAtAlert => {
                let Some(faults) = table.get_mut("faults").and_then(|f| f.as_array_mut()) else {
                    return;
                };
                for (fault, step) in faults.iter_mut().zip(&s.faults) {
                    let Some(fault) = fault.as_table_mut() else { continue };
                    if self == Variant::NoBuild {
                        fault.insert("apply".into(), toml::Value::String("before".into()));
                    } else if self == Variant::BuildOnly {
                        // Sent a minute after the apply, it waits for the build to finish.
                        let at = ClockTime::from_secs(step.apply.secs() + 60);
                        fault.insert("rollback".into(), toml::Value::String(at.to_string()));
                    } else if step.rollback.is_some() {
                        let after = toml::Value::String(VARIANT_ROLLBACK_AFTER.into());
                        fault.insert("rollback_after_alert".into(), after);
                    }
                }
            }
            Variant::AsIs | Variant::NoRollback | Variant::NoLull => {}
        }
    }
}

/// One variant's ensemble, counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantResult {
    pub name: String,
    pub what: String,
    /// Why it was not run (it changes nothing in this scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// Its ensemble's directory, relative to the what-if's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    pub n: usize,
    pub outage: Option<Proportion>,
    /// Runs down after the change by the story's time (its `down` checkpoint); `null` without one.
    #[serde(default)]
    pub down_after_change: Option<Proportion>,
    pub whole_story: Option<Proportion>,
    /// Incident minutes down per run (0 for a run that never went down).
    pub outage_minutes: Option<Spread>,
    /// The share of checkout's shoppers who could not check out, per run.
    pub shoppers_lost: Option<Spread>,
}

impl VariantResult {
    pub fn not_run(v: Variant, why: String) -> Self {
        VariantResult {
            name: v.name().into(),
            what: v.what(),
            not_run: Some(why),
            dir: None,
            n: 0,
            outage: None,
            down_after_change: None,
            whole_story: None,
            outage_minutes: None,
            shoppers_lost: None,
        }
    }

    pub fn of(v: Variant, dir: &str, e: &EnsembleFile) -> Self {
        let minutes: Vec<f64> = e
            .runs
            .iter()
            .map(|r| {
                if r.outcome.class == Class::Outage {
                    r.outcome.down_minutes
                } else {
                    0.0
                }
            })
            .collect();
        VariantResult {
            name: v.name().into(),
            what: v.what(),
            not_run: None,
            dir: Some(dir.into()),
            n: e.n,
            outage: Some(e.class(Class::Outage)),
            down_after_change: e.checkpoints.iter().find(|c| c.name == DOWN_CHECKPOINT).map(|c| c.met),
            whole_story: e.whole_story,
            outage_minutes: Spread::of(&minutes),
            shoppers_lost: e.shoppers_lost,
        }
    }
}

/// `whatif.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhatifFile {
    pub tool: String,
    pub version: String,
    pub scenario: String,
    pub backend: String,
    pub first_seed: u64,
    /// Runs per variant asked for.
    pub repeat: usize,
    pub capacity_per_s: Option<f64>,
    pub variants: Vec<VariantResult>,
    /// What made it an outage and what ended it, from the counts.
    pub said: Vec<String>,
    pub total_s: f64,
}

/// The two sentences: the factors whose removal prevents the outage beyond the intervals, and
/// those that moved its length beyond the ranges.
pub fn said(variants: &[VariantResult]) -> Vec<String> {
    let Some(base) = variants.iter().find(|v| v.name == Variant::AsIs.name()) else {
        return vec!["as-is was not run: nothing to compare with".into()];
    };
    let (Some(outage), Some(minutes)) = (base.outage, base.outage_minutes) else {
        return vec!["as-is has no finished run: nothing to compare with".into()];
    };
    if outage.count == 0 {
        return vec![format!(
            "As it is, checkout did not go down ({}): there is no outage to explain.",
            outage
        )];
    }
    let others: Vec<&VariantResult> = variants
        .iter()
        .filter(|v| v.not_run.is_none() && v.name != base.name)
        .collect();
    let counted = Counted::of(has_story(variants));
    vec![what_made_it(&others, base, &counted), what_ended_it(&others, minutes)]
}

/// Whether the scenario has a `[story]`: its variants then carry the story's counts.
fn has_story(variants: &[VariantResult]) -> bool {
    variants.iter().any(|v| v.down_after_change.is_some())
}

/// The outage the first sentence and the chart's left panel count: with a story, down after the
/// change by the story's time (an outage of the rollback's own work, hours later, is not the
/// change's); without one, any outage.
#[derive(Clone, Copy)]
struct Counted {
    measure: fn(&VariantResult) -> Option<Proportion>,
    when: &'static str,
    noun: &'static str,
    panel: &'static str,
}

impl Counted {
    fn of(story: bool) -> Self {
        if story {
            Counted {
                measure: |v| v.down_after_change,
                when: " after the change by the story's time",
                noun: "down after the change",
                panel: "Runs down after the change by the story's time (95% interval)",
            }
        } else {
            Counted {
                measure: |v| v.outage,
                when: "",
                noun: "outage",
                panel: "Runs with an outage (95% interval)",
            }
        }
    }
}

/// The variants whose outage interval lies wholly below as-is's; when none, those with fewer
/// outages inside it (with 3 runs a variant, 0 of 3 and 3 of 3 overlap), for more runs to test.
/// With a story the outage counted is the one it tells, down after the change by its time: an
/// outage of the rollback's own work, hours later, is not the change's.
fn what_made_it(others: &[&VariantResult], base: &VariantResult, counted: &Counted) -> String {
    let Counted {
        measure, when, noun, ..
    } = *counted;
    let Some(outage) = measure(base) else {
        return "as-is has no finished run: nothing to compare with".into();
    };
    let head = format!("As it is, checkout went down{when} in {outage}; ");
    if outage.count == 0 {
        return format!("{head}the story's outage did not happen, so nothing here made it.");
    }
    let counted = others.iter().filter_map(|v| measure(v).map(|o| (v, o)));
    let prevents: Vec<String> = counted
        .clone()
        .filter(|(_, o)| o.high < outage.low)
        .map(|(v, o)| format!("{} ({}: {noun} {o})", v.name, v.what))
        .collect();
    let fewer: Vec<String> = counted
        .filter(|(_, o)| o.count * outage.n < outage.count * o.n && o.high >= outage.low)
        .map(|(v, o)| format!("{} {o}", v.name))
        .collect();
    if !prevents.is_empty() {
        format!(
            "{head}it was prevented, beyond the intervals, by {}.",
            prevents.join("; ")
        )
    } else if !fewer.is_empty() {
        format!(
            "{head}no single change tried took the odds of an outage below that interval (fewer, but within it: {}; more runs would tell).",
            fewer.join(", ")
        )
    } else {
        format!("{head}no single change tried took the odds of an outage below that interval.")
    }
}

/// The variants whose outage minutes lie beyond as-is's range, read by kind: a factor taken
/// away that kept checkout down longer is what ended it; a guard added that shortened it helped.
fn what_ended_it(others: &[&VariantResult], minutes: Spread) -> String {
    let beyond = |adds: bool, longer: bool| -> Vec<String> {
        let out = |m: &Spread| {
            if longer {
                m.low > minutes.high
            } else {
                m.high < minutes.low
            }
        };
        others
            .iter()
            .filter(|v| Variant::parse(&v.name).is_some_and(|k| k.adds() == adds))
            .filter_map(|v| {
                let m = v.outage_minutes.filter(out)?;
                Some(format!(
                    "{} ({}: {:.0} min, range {:.0}–{:.0})",
                    v.name, v.what, m.median, m.low, m.high
                ))
            })
            .collect()
    };
    let clauses: Vec<String> = [
        (
            false,
            true,
            "taking these away kept checkout down longer, so they ended it",
        ),
        (
            false,
            false,
            "without these it was shorter, so they added to the outage",
        ),
        (true, false, "these shortened it"),
        (true, true, "these made it longer"),
    ]
    .into_iter()
    .filter_map(|(adds, longer, says)| {
        let named = beyond(adds, longer);
        (!named.is_empty()).then(|| format!("{says}: {}", named.join("; ")))
    })
    .collect();
    let head = format!(
        "Down {:.0} min as it is (range {:.0}–{:.0}); ",
        minutes.median, minutes.low, minutes.high
    );
    if clauses.is_empty() {
        format!("{head}no variant moved that beyond the ranges, so nothing here shows what ended it.")
    } else {
        format!("{head}{}.", clauses.join("; "))
    }
}

/// `whatif.md`: the table and the two sentences.
pub fn markdown(f: &WhatifFile) -> String {
    let mut md = format!(
        "# What if: {} on {}\n\n{} runs per variant, seeds {}–{}, the same seeds in every variant{}.\n\n",
        f.scenario,
        f.backend,
        f.repeat,
        f.first_seed,
        f.first_seed + f.repeat as u64 - 1,
        f.capacity_per_s
            .map(|c| format!(", at a capacity of {c:.0} arrivals/s"))
            .unwrap_or_default()
    );
    for s in &f.said {
        md += &format!("{s}\n\n");
    }
    // The story's two columns only when the scenario has a story.
    let story = has_story(&f.variants);
    let mut head = vec!["variant", "what changes", "outage"];
    if story {
        head.push("down after the change by the story's time");
    }
    head.push("outage minutes, median (range)");
    if story {
        head.push("whole story");
    }
    head.push("shoppers who could not buy, median (range)");
    md += &format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    let cell = |p: Option<Proportion>| p.map_or("–".to_string(), |p| p.to_string());
    for v in &f.variants {
        let mut row = vec![v.name.clone(), v.what.clone()];
        if let Some(why) = &v.not_run {
            row.push(format!("not run: {why}"));
            row.resize(head.len(), String::new());
        } else {
            row[0] = format!("[{}]({}/ensemble.md)", v.name, v.dir.as_deref().unwrap_or("."));
            row.push(cell(v.outage));
            if story {
                row.push(cell(v.down_after_change));
            }
            row.push(v.outage_minutes.map_or("–".into(), |m| {
                format!("{:.0} ({:.0}–{:.0})", m.median, m.low, m.high)
            }));
            if story {
                row.push(cell(v.whole_story));
            }
            row.push(v.shoppers_lost.map_or("–".into(), |m| {
                format!("{:.1}% ({:.1}–{:.1}%)", m.median * 100.0, m.low * 100.0, m.high * 100.0)
            }));
        }
        md += &format!("| {} |\n", row.join(" | "));
    }
    md += &format!("\nTotal time: {:.0} min.\n", f.total_s / 60.0);
    md
}

/// The chart's rows: each variant that ran, as-is first (as the file lists them).
pub fn chart_rows(f: &WhatifFile) -> (&'static str, Vec<WhatifRow>) {
    let counted = Counted::of(has_story(&f.variants));
    let rows = f
        .variants
        .iter()
        .filter_map(|v| {
            let p = (counted.measure)(v)?;
            Some(WhatifRow {
                name: v.name.clone(),
                outage: (p.low, p.count as f64 / p.n.max(1) as f64, p.high),
                minutes: v.outage_minutes.map(|m| (m.low, m.median, m.high)),
            })
        })
        .collect();
    (counted.panel, rows)
}

/// Writes `whatif.json`, `whatif.md` and the chart into `dir`.
pub fn write(dir: &Path, f: &WhatifFile) -> Result<()> {
    let json = serde_json::to_string_pretty(f)? + "\n";
    std::fs::write(dir.join(WHATIF_JSON), json).with_context(|| format!("cannot write {WHATIF_JSON}"))?;
    std::fs::write(dir.join(WHATIF_MD), markdown(f)).with_context(|| format!("cannot write {WHATIF_MD}"))?;
    let title = format!(
        "{} on {}: what if ({} runs per variant)",
        f.scenario, f.backend, f.repeat
    );
    let (panel, rows) = chart_rows(f);
    crate::charts::render_whatif(dir, &title, panel, &rows)
}

/// Whether `dir` holds a whatif study (`whatif.json`).
pub fn is_whatif(dir: &Path) -> bool {
    dir.join(WHATIF_JSON).is_file()
}

/// Redraws a whatif directory from its files: each variant that ran is counted again from its
/// runs' files (so a study made before a change of the rules reads by today's), the two
/// sentences are said again, and every variant's ensemble files and the whatif's are rewritten.
pub fn redraw(dir: &Path) -> Result<WhatifFile> {
    let path = dir.join(WHATIF_JSON);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut f: WhatifFile =
        serde_json::from_str(&text).with_context(|| format!("{}: not a whatif.json", path.display()))?;
    for v in f.variants.iter_mut().filter(|v| v.not_run.is_none()) {
        let (Some(kind), Some(sub)) = (Variant::parse(&v.name), v.dir.clone()) else {
            continue;
        };
        let e = crate::ensemble::record::read(&dir.join(&sub))?;
        crate::ensemble::write_file(&dir.join(&sub), &e)?;
        *v = VariantResult::of(kind, &sub, &e);
    }
    f.said = said(&f.variants);
    write(dir, &f)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::workload_plan as plan;

    fn variant(base: &RunPlan, v: Variant) -> Result<RunPlan, String> {
        v.plan(base).unwrap()
    }

    #[test]
    fn each_variant_changes_its_one_factor_through_the_files_keys() {
        let base = plan("smoke.toml");
        let s = |v| variant(&base, v).unwrap().scenario;
        assert_eq!(s(Variant::NoRetries).checkout.retries, 0);
        assert_eq!(s(Variant::RetryBudget).limits.retry_budget, Some(VARIANT_RETRY_BUDGET));
        assert!(s(Variant::ShedAtAlert).limits.shed_at_alert);
        let build_only = s(Variant::BuildOnly);
        let step = &build_only.faults[0];
        assert_eq!(step.rollback.map(|t| t.secs()), Some(step.apply.secs() + 60));
        let no_build = s(Variant::NoBuild);
        assert!(
            no_build
                .faults
                .iter()
                .all(|f| f.before_start && f.apply == no_build.clock.start)
        );
        assert_eq!(no_build.faults[0].rollback, base.scenario.faults[0].rollback);
        let at_alert = s(Variant::RollbackAtAlert);
        assert_eq!(
            at_alert.faults[0].rollback_after_alert,
            Some(std::time::Duration::from_secs(600))
        );
        assert_eq!(
            at_alert.faults[0].rollback, base.scenario.faults[0].rollback,
            "the scheduled one stays"
        );
        assert!(s(Variant::NoRollback).faults.iter().all(|f| f.rollback.is_none()));
        let no_lull = s(Variant::NoLull);
        let peak = base.scenario.load.max_value();
        assert_eq!(no_lull.load.points.last().map(|p| p.1), Some(peak));
        // Everything else stays: the seed, the mix, the data.
        assert_eq!(s(Variant::NoRetries).run.seed, base.scenario.run.seed);
        assert_eq!(s(Variant::NoRetries).mix, base.scenario.mix);
        // The edit is in the file the run writes, too.
        let toml = s(Variant::RetryBudget).to_toml_resolved(None);
        assert!(toml.contains("retry_budget = 0.1"), "{toml}");
    }

    #[test]
    fn a_variant_that_changes_nothing_says_why_it_is_not_run() {
        let base = plan("checkout-peak.toml"); // shoppers never retry there
        let why = variant(&base, Variant::NoRetries).unwrap_err();
        assert!(why.contains("checkout.retries = 0"), "{why}");
        assert!(variant(&base, Variant::RetryBudget).is_err());
        let baseline = base.without_faults();
        assert!(variant(&baseline, Variant::BuildOnly).is_err());
        assert!(variant(&base, Variant::ShedAtAlert).is_ok());
    }

    fn result(name: Variant, outage: usize, n: usize, minutes: &[f64]) -> VariantResult {
        VariantResult {
            outage: Some(Proportion::of(outage, n)),
            outage_minutes: Spread::of(minutes),
            n,
            dir: Some(name.name().into()),
            ..VariantResult::not_run(name, String::new())
        }
        .ran()
    }

    impl VariantResult {
        fn ran(mut self) -> Self {
            self.not_run = None;
            self
        }
    }

    #[test]
    fn the_two_sentences_name_only_what_is_beyond_the_intervals() {
        let variants = vec![
            result(Variant::AsIs, 5, 5, &[120.0, 125.0, 130.0, 140.0, 128.0]),
            result(Variant::NoRetries, 0, 5, &[0.0; 5]),
            result(Variant::ShedAtAlert, 3, 5, &[0.0, 0.0, 60.0, 70.0, 90.0]),
            result(Variant::NoRollback, 5, 5, &[200.0, 210.0, 205.0, 220.0, 215.0]),
            result(Variant::NoLull, 5, 5, &[125.0, 135.0, 130.0, 129.0, 131.0]),
        ];
        let said = said(&variants);
        assert!(
            said[0].contains("prevented, beyond the intervals, by no-retries"),
            "{}",
            said[0]
        );
        assert!(
            !said[0].contains("shed-at-alert"),
            "3 of 5 overlaps 5 of 5: {}",
            said[0]
        );
        // Fewer outages within the interval are named as such, never as prevented.
        let within = said_of(&[
            result(Variant::AsIs, 3, 3, &[10.0, 11.0, 11.0]),
            result(Variant::NoBuild, 0, 3, &[0.0; 3]),
            result(Variant::ShedAtAlert, 3, 3, &[10.0, 10.0, 13.0]),
        ]);
        assert!(
            within.contains("no single change tried took the odds of an outage below that interval (fewer, but within it: no-build 0 of 3 [0.00–0.56]"),
            "{within}"
        );
        assert!(!within.contains("shed-at-alert 3 of 3"), "{within}");
        assert!(said[1].contains("they ended it: no-rollback"), "{}", said[1]);
        assert!(!said[1].contains("no-lull"), "{}", said[1]);
        // The rollback itself kept it down: without it, shorter beyond the ranges.
        let shorter = said_of(&[
            result(Variant::AsIs, 3, 3, &[33.0, 33.0, 36.0]),
            result(Variant::NoRollback, 3, 3, &[18.0, 19.0, 23.0]),
            result(Variant::ShedAtAlert, 3, 3, &[30.0, 34.0, 35.0]),
        ]);
        assert!(
            shorter.contains("without these it was shorter, so they added to the outage: no-rollback"),
            "{shorter}"
        );
        assert!(!shorter.contains("shed-at-alert"), "{shorter}");
        // A guard added that shortened it is said to have shortened it, not to have been taken away.
        let guard = said_of(&[
            result(Variant::AsIs, 3, 3, &[33.0, 33.0, 36.0]),
            result(Variant::RollbackAtAlert, 3, 3, &[12.0, 14.0, 15.0]),
            result(Variant::NoLull, 3, 3, &[50.0, 55.0, 60.0]),
        ]);
        assert!(
            guard.contains("these shortened it: rollback-at-alert")
                && guard.contains("taking these away kept checkout down longer, so they ended it: no-lull"),
            "{guard}"
        );
        let quiet = said_of(&[result(Variant::AsIs, 0, 5, &[0.0; 5])]);
        assert!(quiet.contains("did not go down"), "{quiet}");
    }

    #[test]
    fn with_a_story_the_first_sentence_counts_the_outage_it_tells() {
        // no-build went down in every run, but only hours later, with the rollback's own work.
        let story = |v: Variant, outage: usize, down: usize, minutes: &[f64]| VariantResult {
            down_after_change: Some(Proportion::of(down, 5)),
            ..result(v, outage, 5, minutes)
        };
        let said = said_of(&[
            story(Variant::AsIs, 5, 5, &[28.0, 23.0, 31.0, 27.0, 29.0]),
            story(Variant::NoBuild, 5, 0, &[10.0, 8.0, 12.0, 9.0, 11.0]),
            story(Variant::ShedAtAlert, 5, 5, &[26.0, 24.0, 30.0, 25.0, 27.0]),
        ]);
        assert!(
            said.contains("went down after the change by the story's time in 5 of 5")
                && said.contains("prevented, beyond the intervals, by no-build")
                && said.contains("down after the change 0 of 5"),
            "{said}"
        );
        assert!(!said.contains("shed-at-alert"), "as-is's odds and range: {said}");
        // Counted anywhere in the run, no-build's outages would hide that.
        let anywhere = said_of(&[
            result(Variant::AsIs, 5, 5, &[28.0; 5]),
            result(Variant::NoBuild, 5, 5, &[10.0; 5]),
        ]);
        assert!(anywhere.contains("no single change tried"), "{anywhere}");
        let never = said_of(&[story(Variant::AsIs, 5, 0, &[10.0; 5])]);
        assert!(never.contains("the story's outage did not happen"), "{never}");
    }

    #[test]
    fn the_table_has_the_storys_columns_only_with_a_story() {
        let mut f = WhatifFile {
            tool: "outage-sim".into(),
            version: "0".into(),
            scenario: "training".into(),
            backend: "sqlite".into(),
            first_seed: 42,
            repeat: 5,
            capacity_per_s: None,
            variants: vec![
                result(Variant::AsIs, 5, 5, &[239.0; 5]),
                VariantResult::not_run(Variant::ShedAtAlert, "no alert rules".into()),
            ],
            said: Vec::new(),
            total_s: 60.0,
        };
        let columns = |md: &str| -> Vec<usize> {
            md.lines()
                .filter(|l| l.starts_with('|'))
                .map(|l| l.matches(" | ").count())
                .collect()
        };
        let md = markdown(&f);
        assert!(!md.contains("whole story") && !md.contains("story's time"), "{md}");
        assert_eq!(columns(&md), [4, 0, 4, 4], "{md}");
        f.variants[0].whole_story = Some(Proportion::of(0, 5));
        f.variants[0].down_after_change = Some(Proportion::of(5, 5));
        let md = markdown(&f);
        assert!(
            md.contains("| down after the change by the story's time |") && md.contains("| whole story |"),
            "{md}"
        );
        assert_eq!(columns(&md), [6, 0, 6, 6], "{md}");
    }

    #[test]
    fn the_chart_counts_the_outage_the_first_sentence_counts() {
        let story = |v: Variant, down: usize| VariantResult {
            down_after_change: Some(Proportion::of(down, 5)),
            ..result(v, 5, 5, &[30.0; 5])
        };
        let mut f = WhatifFile {
            tool: "outage-sim".into(),
            version: "0".into(),
            scenario: "checkout-peak".into(),
            backend: "sqlite".into(),
            first_seed: 42,
            repeat: 5,
            capacity_per_s: None,
            variants: vec![story(Variant::AsIs, 5), story(Variant::NoBuild, 1)],
            said: Vec::new(),
            total_s: 60.0,
        };
        let (panel, rows) = chart_rows(&f);
        assert!(panel.contains("story's time"), "{panel}");
        assert_eq!((rows[0].outage.1, rows[1].outage.1), (1.0, 0.2));
        f.variants = vec![
            result(Variant::AsIs, 5, 5, &[30.0; 5]),
            result(Variant::NoBuild, 5, 5, &[30.0; 5]),
        ];
        let (panel, rows) = chart_rows(&f);
        assert!(panel.contains("with an outage"), "{panel}");
        assert_eq!((rows[0].outage.1, rows[1].outage.1), (1.0, 1.0));
    }

    fn said_of(v: &[VariantResult]) -> String {
        said(v).join(" ")
    }
}
