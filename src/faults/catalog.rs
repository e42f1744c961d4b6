//! The fault catalog: `schema/faults/<dialect>/<name>.up.sql` and `.down.sql`, built into the
//! binary so a run needs no files besides its scenario.

/// A reversible migration that hurts.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub name: String,
    /// The header comment of the up migration.
    pub description: String,
    pub up: String,
    pub down: String,
    /// The up SQL opens a transaction that stays open on its own session until the rollback
    /// runs the down SQL there (`-- outage-sim: hold-session` in the up file's header).
    pub holds_session: bool,
}

/// Whether `up` asks for its session to be held open until the rollback.
pub(super) fn holds_session(up: &str) -> bool {
    up.lines()
        .take_while(|l| l.starts_with("--"))
        .any(|l| l.trim_start_matches('-').trim() == "outage-sim: hold-session")
}

struct Builtin {
    dialect: &'static str,
    name: &'static str,
    up: &'static str,
    down: &'static str,
}

/// One catalog entry per dialect and name, from `schema/faults/<dialect>/<name>.{up,down}.sql`.
macro_rules! builtin {
    ($dialect:literal, $name:literal) => {
        Builtin {
            dialect: $dialect,
            name: $name,
            up: include_str!(concat!("../../schema/faults/", $dialect, "/", $name, ".up.sql")),
            down: include_str!(concat!("../../schema/faults/", $dialect, "/", $name, ".down.sql")),
        }
    };
}

const BUILTIN: &[Builtin] = &[
    builtin!("sqlite", "reporting-index"),
    builtin!("sqlite", "reporting-indexes"),
    builtin!("postgres", "reporting-index"),
    builtin!("postgres", "reporting-index-online"),
    builtin!("postgres", "reporting-indexes"),
    builtin!("postgres", "reporting-indexes-online"),
    builtin!("mysql", "reporting-index"),
    builtin!("mysql", "reporting-index-online"),
    builtin!("mysql", "reporting-indexes"),
    builtin!("mysql", "reporting-indexes-online"),
    builtin!("postgres", "long-report"),
    builtin!("postgres", "long-batch"),
    builtin!("mysql", "long-report"),
    builtin!("mysql", "long-batch"),
    builtin!("sqlite", "write-stall"),
    builtin!("postgres", "write-stall"),
    builtin!("mysql", "write-stall"),
];

/// Every built-in fault for `dialect`, in catalog order.
pub fn list(dialect: &str) -> Vec<Fault> {
    BUILTIN
        .iter()
        .filter(|b| b.dialect == dialect)
        .map(|b| find(dialect, b.name).expect("listed, so found"))
        .collect()
}

/// The fault `name` for `dialect`, or an error listing the ones there are.
pub fn find(dialect: &str, name: &str) -> Result<Fault, String> {
    BUILTIN
        .iter()
        .find(|b| b.dialect == dialect && b.name == name)
        .map(|b| Fault {
            name: b.name.to_string(),
            description: header_comment(b.up),
            up: b.up.to_string(),
            down: b.down.to_string(),
            holds_session: holds_session(b.up),
        })
        .ok_or_else(|| {
            let known: Vec<&str> = BUILTIN
                .iter()
                .filter(|b| b.dialect == dialect)
                .map(|b| b.name)
                .collect();
            format!(
                "no fault named {name:?} for {dialect}; expected one of: {}",
                known.join(", ")
            )
        })
}

fn header_comment(sql: &str) -> String {
    sql.lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| l.trim_start_matches('-').trim())
        .filter(|l| !l.starts_with("outage-sim:"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_builtin_faults_and_lists_the_known_ones_otherwise() {
        let f = find("sqlite", "reporting-index").unwrap();
        assert!(f.up.contains("CREATE INDEX orders_reporting"));
        assert!(f.down.contains("DROP INDEX"));
        assert!(f.description.starts_with("reporting-index:"));
        let err = find("sqlite", "nope").unwrap_err();
        assert!(err.contains("reporting-index"), "{err}");
        for dialect in ["postgres", "mysql"] {
            for name in ["reporting-index", "reporting-index-online"] {
                let f = find(dialect, name).unwrap();
                assert!(f.description.starts_with(&format!("{name}:")), "{dialect}/{name}");
                assert!(f.up.contains("orders_reporting") && f.down.contains("orders_reporting"));
            }
        }
        for dialect in ["sqlite", "postgres", "mysql"] {
            let f = find(dialect, "write-stall").unwrap();
            assert!(f.holds_session, "{dialect}: a write stall is a session held open");
            assert!(f.description.starts_with("write-stall:"), "{dialect}");
        }
        assert!(
            find("postgres", "reporting-index-online")
                .unwrap()
                .up
                .contains("CONCURRENTLY")
        );
    }
}
