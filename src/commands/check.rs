//! `outage-sim check` and `outage-sim faults`: validate a scenario, list a catalog; touch nothing.

use std::path::Path;
use std::process::ExitCode;

use crate::faults;
use crate::scenario::Scenario;

use super::BadInput;

pub fn check(path: &Path, db: Option<&str>) -> anyhow::Result<ExitCode> {
    let dialect = super::parse_db(db)?.map_or("sqlite", |d| d.dialect());
    let s = Scenario::load(path)?;
    let steps = faults::for_steps(&s, dialect, faults::Choice::Scenario).map_err(BadInput)?;
    crate::training::check_candidates(&s).map_err(BadInput)?;
    tracing::info!(
        "{}: {} fault step(s) found in the {dialect} catalog",
        path.display(),
        steps.len()
    );
    println!(
        "{}: ok for {dialect} — {} to {} at {}x ({:.0} s real), {} fault(s), {} alert rule(s)",
        path.display(),
        s.clock.start,
        s.clock.end,
        s.clock.speed,
        s.clock.real_duration().as_secs_f64(),
        s.faults.len(),
        s.alerts.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `outage-sim faults`: the catalog of one backend, with each fault's header comment.
pub fn list_faults(db: Option<&str>) -> anyhow::Result<ExitCode> {
    let dialect = super::parse_db(db)?.map_or("sqlite", |d| d.dialect());
    println!("faults for {dialect} (schema/faults/{dialect}/):");
    for fault in faults::list(dialect) {
        let text = fault
            .description
            .strip_prefix(&format!("{}:", fault.name))
            .unwrap_or(&fault.description);
        println!("\n{}\n{}", fault.name, wrap(text.trim(), 92, "    "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` in lines of at most `width` characters, each starting with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
        .iter()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
