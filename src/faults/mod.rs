//! Faults: reversible migrations applied on the incident clock, and always rolled back.

mod catalog;
mod injector;
pub mod migration_dir;
pub mod precheck;

pub use catalog::{Fault, find, list};
pub use injector::{Injector, TimelineStep, apply_before_start, roll_back_leftovers};

use std::path::Path;

use crate::scenario::Scenario;

/// What stands in for the scenario's `[[faults]]` steps.
#[derive(Debug, Clone, Copy)]
pub enum Choice<'a> {
    /// The catalog faults the scenario names.
    Scenario,
    /// This catalog fault at every step (`--fault`).
    Catalog(&'a str),
    /// A user's migration directory at every step (`--fault-dir`, `validate --migration`).
    MigrationDir(&'a Path),
}

impl Choice<'_> {
    /// What the run's faults are, for labels: `None` for the scenario's own.
    pub fn label(&self) -> Option<String> {
        match self {
            Choice::Scenario => None,
            Choice::Catalog(name) => Some((*name).to_string()),
            Choice::MigrationDir(dir) => Some(format!("migration {}", dir.display())),
        }
    }
}

/// The faults of `scenario`'s steps for `dialect`, one per step; every problem names the file
/// or option at fault and what was expected.
pub fn for_steps(scenario: &Scenario, dialect: &str, choice: Choice) -> Result<Vec<Fault>, String> {
    let file = scenario.source.display();
    let option = match choice {
        Choice::Scenario => None,
        Choice::Catalog(_) => Some("--fault"),
        Choice::MigrationDir(_) => Some("--fault-dir"),
    };
    if let (Some(option), true) = (option, scenario.faults.is_empty()) {
        return Err(format!("{option}: {file} has no [[faults]] step to put it in"));
    }
    let stand_in = match choice {
        Choice::Scenario => None,
        Choice::Catalog(name) => Some(find(dialect, name).map_err(|e| format!("--fault: {e}"))?),
        Choice::MigrationDir(dir) => Some(migration_dir::load(dir)?),
    };
    scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, step)| match &stand_in {
            Some(fault) => Ok(fault.clone()),
            None => find(dialect, &step.name).map_err(|e| format!("{file}: faults[{i}].name: {e}")),
        })
        .collect()
}

/// The index a fault's SQL creates (`CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name`
/// or MySQL's `ADD INDEX name`), so its presence can be looked up in the database.
pub fn index_created(sql: &str) -> Option<String> {
    let code: Vec<&str> = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(str::split_whitespace)
        .collect();
    let at = code.iter().position(|w| w.eq_ignore_ascii_case("index"))?;
    let skipped = ["concurrently", "if", "not", "exists"];
    let name = code[at + 1..]
        .iter()
        .find(|w| !skipped.iter().any(|s| w.eq_ignore_ascii_case(s)))?;
    let name = name.split('(').next()?.trim_matches(|c| c == '"' || c == '`');
    (!name.is_empty() && !name.eq_ignore_ascii_case("on")).then(|| name.to_string())
}

#[cfg(test)]
mod index_tests {
    #[test]
    fn the_index_a_fault_creates_is_read_from_its_sql() {
        let cases = [
            (
                "-- a comment with INDEX in it\nCREATE INDEX orders_reporting ON orders (status);",
                "orders_reporting",
            ),
            ("CREATE INDEX CONCURRENTLY IF NOT EXISTS \"r\" ON orders (a);", "r"),
            (
                "ALTER TABLE orders ADD INDEX orders_reporting (status, created_at), LOCK=SHARED;",
                "orders_reporting",
            ),
        ];
        for (sql, name) in cases {
            assert_eq!(super::index_created(sql).as_deref(), Some(name), "{sql}");
        }
        assert_eq!(super::index_created("BEGIN; SELECT 1;"), None);
    }
}
