//! The house rules of docs/development.md, read from the sources: no command imports another,
//! and the top-level modules (stages) import each other without a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// A file's code: its tests and comment lines left out.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `crate::NAME` paths in `text` whose NAME is one of `names`.
fn mentions<'a>(text: &str, names: &'a BTreeSet<String>) -> BTreeSet<&'a str> {
    names
        .iter()
        .filter(|n| {
            text.match_indices(&format!("crate::{n}")).any(|(at, m)| {
                let next = text[at + m.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .map(String::as_str)
        .collect()
}

#[test]
fn no_command_imports_another() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let commands: BTreeSet<String> = sources(&dir)
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| s != "mod")
        .collect();
    for file in sources(&dir) {
        let text = code(&file);
        for other in &commands {
            for path in [format!("super::{other}::"), format!("commands::{other}::")] {
                assert!(!text.contains(&path), "{} uses {path}", file.display());
            }
        }
    }
}

#[test]
fn the_stages_import_each_other_without_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let stages: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|n| n != "lib" && n != "main")
        .collect();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for file in sources(&src) {
        let stage = file
            .strip_prefix(&src)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let stage = stage.trim_end_matches(".rs").to_string();
        let Some(stage) = stages.get(&stage) else { continue };
        let used = mentions(&code(&file), &stages);
        edges
            .entry(stage)
            .or_default()
            .extend(used.into_iter().filter(|u| *u != stage));
    }
    // Depth-first search for a back edge; the path to it is the circle.
    fn visit<'a>(
        at: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(i) = path.iter().position(|p| *p == at) {
            panic!("an import circle: {} -> {at}", path[i..].join(" -> "));
        }
        if !done.insert(at) && !path.is_empty() {
            return;
        }
        path.push(at);
        for next in edges.get(at).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for stage in &stages {
        visit(stage, &edges, &mut Vec::new(), &mut done);
    }
    // The reading side's bottom imports nothing above it.
    let results = edges.get("results").cloned().unwrap_or_default();
    assert!(
        results.iter().all(|u| ["metrics", "scenario"].contains(u)),
        "results uses {results:?}"
    );
}
