//! A user's own migration as the fault: a directory in sqlx's reversible-migration naming
//! (`<VERSION>_<DESCRIPTION>.up.sql` and `.down.sql`), so a change can be validated under peak
//! load before it ships.

use std::path::Path;

use super::Fault;

/// The migrations in `dir` as one fault: the ups in version order, the downs in reverse. Every
/// problem names the file and what was expected.
pub fn load(dir: &Path) -> Result<Fault, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read the directory: {e}", dir.display()))?;
    let mut ups: Vec<(String, String)> = Vec::new(); // (stem, file name)
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".up.sql") {
            ups.push((stem.to_string(), name));
        } else if name.ends_with(".sql") && !name.ends_with(".down.sql") {
            return Err(format!(
                "{}: expected <VERSION>_<DESCRIPTION>.up.sql or .down.sql (sqlx reversible migrations)",
                dir.join(&name).display()
            ));
        }
    }
    if ups.is_empty() {
        return Err(format!(
            "{}: no <VERSION>_<DESCRIPTION>.up.sql migration in this directory",
            dir.display()
        ));
    }
    ups.sort_by_key(|(stem, _)| version(stem));
    let (mut up, mut downs) = (String::new(), Vec::new());
    for (stem, file) in &ups {
        let read =
            |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()));
        let down_file = format!("{stem}.down.sql");
        if !dir.join(&down_file).is_file() {
            return Err(format!(
                "{}: has no {down_file} beside it; outage-sim must be able to roll the migration back",
                dir.join(file).display()
            ));
        }
        let text = read(file)?;
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
        {
            return Err(format!("{}: expected SQL, found none", dir.join(file).display()));
        }
        up.push_str(text.trim_end());
        up.push('\n');
        downs.push(read(&down_file)?);
    }
    let last = &ups.last().expect("not empty").0;
    let name = last.split_once('_').map_or(last.as_str(), |(_, d)| d).to_string();
    let description = up
        .lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| l.trim_start_matches('-').trim())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Fault {
        holds_session: super::catalog::holds_session(&up),
        description: if description.is_empty() {
            format!("migration {}", dir.display())
        } else {
            description
        },
        name,
        up,
        down: downs.iter().rev().map(|d| d.trim_end()).collect::<Vec<_>>().join("\n") + "\n",
    })
}

/// The message for a migration in `dir` that failed with `detail` (the `fault_failed` event's),
/// starting with the file and line of the statement that failed when it can be found.
pub fn failed(dir: &Path, detail: &str) -> String {
    let code = detail.rsplit('`').nth(1).unwrap_or("");
    let place = locate(dir, code)
        .map(|(file, line)| format!("{}:{line}: ", file.display()))
        .unwrap_or_default();
    format!(
        "{place}the migration in {} failed: {detail} (what part of it ran was rolled back)",
        dir.display()
    )
}

/// The up file in `dir` and its line (1-based) that hold `code`, a line of a statement that
/// failed, so an error can point into the user's own file.
pub fn locate(dir: &Path, code: &str) -> Option<(std::path::PathBuf, usize)> {
    let code = code.trim();
    if code.is_empty() {
        return None;
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
        .collect();
    files.sort();
    files.into_iter().find_map(|f| {
        let text = std::fs::read_to_string(&f).ok()?;
        let line = text.lines().position(|l| l.trim() == code)?;
        Some((f, line + 1))
    })
}

/// The numeric version before the first `_` (files without one sort last, by name).
fn version(stem: &str) -> (u64, String) {
    let v = stem.split('_').next().and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    (v, stem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn loads_pairs_in_version_order_and_rolls_back_in_reverse() {
        let d = dir(&[
            (
                "20240608120000_add_reporting.up.sql",
                "-- the reporting index\nCREATE INDEX b ON t (x);\n",
            ),
            ("20240608120000_add_reporting.down.sql", "DROP INDEX b;\n"),
            ("20240101000000_first.up.sql", "CREATE INDEX a ON t (y);\n"),
            ("20240101000000_first.down.sql", "DROP INDEX a;\n"),
        ]);
        let f = load(d.path()).unwrap();
        assert_eq!(f.name, "add_reporting");
        assert!(
            f.up.find("INDEX a").unwrap() < f.up.find("INDEX b").unwrap(),
            "{}",
            f.up
        );
        assert!(f.down.find("DROP INDEX b").unwrap() < f.down.find("DROP INDEX a").unwrap());
    }

    #[test]
    fn says_which_file_is_wrong() {
        let d = dir(&[("1_x.up.sql", "CREATE INDEX a ON t (y);")]);
        let e = load(d.path()).unwrap_err();
        assert!(e.contains("1_x.up.sql") && e.contains("1_x.down.sql"), "{e}");
        let d = dir(&[("notes.sql", "")]);
        assert!(load(d.path()).unwrap_err().contains("notes.sql"));
        let d = dir(&[]);
        assert!(
            load(d.path())
                .unwrap_err()
                .contains("no <VERSION>_<DESCRIPTION>.up.sql")
        );
        let d = dir(&[("1_x.up.sql", "-- only a comment\n"), ("1_x.down.sql", "SELECT 1;")]);
        assert!(load(d.path()).unwrap_err().contains("expected SQL"));
    }
}
