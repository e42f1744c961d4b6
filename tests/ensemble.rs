//! Ensembles from the command line: `run --repeat`, the same seeds run one per "pod" and
//! collected with `merge --ensemble`, `plot` and `compare` of ensembles, Ctrl-C between runs.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{outage_sim, small_scenario};
use outage_sim::results::RunDir;

/// A small scenario with the index and a `[story]`, on a SQLite file of the test's own.
fn scenario(dir: &Path) -> PathBuf {
    let path = small_scenario(dir, "small", 3000, "reporting-index");
    let story = "\n[story]\nfirst_alert = { at = \"12:25\", tolerance = \"10m\" }\ndown = { at = \"12:30\", tolerance = \"10m\" }\n\
                 held = { share = 0.9 }\nrestored = { at = \"13:10\", tolerance = \"10m\" }\n";
    let text = std::fs::read_to_string(&path).unwrap() + story;
    std::fs::write(&path, text).unwrap();
    path
}

fn ensemble_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("ensemble.json").is_file() || p.file_name().unwrap().to_string_lossy().contains("-ensemble-"))
        .expect("an ensemble directory")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Per window, the first attempts (offered minus retries) of every operation: the arrival
/// schedule as the run recorded it.
fn first_attempts(run: &Path) -> BTreeMap<(String, String), u64> {
    let windows = RunDir::open(run).unwrap().read_windows().unwrap();
    windows
        .iter()
        .map(|w| ((w.clock.clone(), w.op.clone()), w.offered - w.retries))
        .collect()
}

/// The same arrival schedule, as two runs record it: the same first attempts per operation in
/// every window (each is filed by its intended start, not by when a loaded machine sent it).
fn same_schedule(a: &BTreeMap<(String, String), u64>, b: &BTreeMap<(String, String), u64>, seed: u64) {
    assert_eq!(a, b, "seed {seed}: first attempts per window and operation");
    assert!(a.values().sum::<u64>() > 0, "seed {seed}: some arrivals");
}

#[test]
fn an_ensemble_counts_its_runs_and_pods_merged_into_one_equal_it() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = scenario(tmp.path());
    let db = format!("sqlite:{}", tmp.path().join("small.db").display());
    let local = tmp.path().join("local");
    let s = scenario.to_str().unwrap();
    let o = outage_sim(&["run", s, "--db", &db, "--repeat", "2", "--out", local.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("the whole story in ") && stdout.contains(" of 2 ["),
        "{stdout}"
    );
    let ens = ensemble_dir(&local);
    let e = json(&ens.join("ensemble.json"));
    assert_eq!((e["n"].as_u64(), e["requested"].as_u64()), (Some(2), Some(2)));
    let seeds: Vec<u64> = e["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [42, 43]);
    let whole = &e["whole_story"];
    assert_eq!(whole["n"].as_u64(), Some(2));
    assert!(whole["low"].as_f64().unwrap() <= whole["high"].as_f64().unwrap());
    assert_eq!(e["checkpoints"].as_array().unwrap().len(), 4, "{e}");
    for f in [
        "ensemble.md",
        "ensemble.png",
        "ensemble.svg",
        "seed-42/timeline.md",
        "seed-43/summary.json",
    ] {
        assert!(ens.join(f).is_file(), "{f}");
    }
    let timeline = std::fs::read_to_string(ens.join("seed-42/timeline.md")).unwrap();
    assert!(
        timeline.contains("| checkpoint | postmortem | this run | met |"),
        "{timeline}"
    );

    // The same seeds, one per "pod", each with its own database, collected into one ensemble.
    let mut pods = Vec::new();
    for (i, seed) in ["42", "43"].iter().enumerate() {
        let own = format!("sqlite:{}", tmp.path().join(format!("pod-{i}.db")).display());
        let out = tmp.path().join(format!("pod-{i}"));
        let o = outage_sim(&["run", s, "--db", &own, "--seed", seed, "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        pods.push(std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path());
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge", "--ensemble"];
    args.extend(pods.iter().rev().map(|p| p.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let o = outage_sim(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = json(&merged.join("ensemble.json"));
    let merged_seeds: Vec<u64> = m["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(merged_seeds, seeds);
    for seed in seeds {
        let dir = format!("seed-{seed}");
        same_schedule(
            &first_attempts(&merged.join(&dir)),
            &first_attempts(&ens.join(&dir)),
            seed,
        );
    }

    // Redrawn from the runs' files, and compared.
    std::fs::remove_file(ens.join("ensemble.png")).unwrap();
    let o = outage_sim(&["plot", ens.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ens.join("ensemble.png").is_file());
    let cmp = tmp.path().join("cmp");
    let o = outage_sim(&[
        "compare",
        ens.to_str().unwrap(),
        merged.to_str().unwrap(),
        "--out",
        cmp.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        said.contains("| outage | ") && said.contains("within the noise"),
        "{said}"
    );
}

#[test]
fn ctrl_c_in_the_third_run_keeps_and_counts_the_two_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = scenario(tmp.path());
    let db = format!("sqlite:{}", tmp.path().join("small.db").display());
    let out = tmp.path().join("results");
    let child = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", scenario.to_str().unwrap(), "--db", &db, "--repeat", "5", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let third_started = || {
        std::fs::read_dir(&out)
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path()).filter(|p| p.join("seed-44").is_dir())))
            .is_some()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while !third_started() {
        assert!(Instant::now() < deadline, "the third run never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("the 2 finished runs of 5 are kept"), "{stderr}");
    let e = json(&ensemble_dir(&out).join("ensemble.json"));
    assert_eq!(
        (e["n"].as_u64(), e["requested"].as_u64(), e["interrupted"].as_bool()),
        (Some(2), Some(5), Some(true))
    );
}

#[test]
fn whatif_runs_its_variants_seed_by_seed_and_counts_each() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = scenario(tmp.path());
    let db = format!("sqlite:{}", tmp.path().join("small.db").display());
    let out = tmp.path().join("results");
    let s = scenario.to_str().unwrap();
    let args = ["whatif", s, "--db", &db, "--repeat", "2", "--only", "no-rollback"];
    let o = outage_sim(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let study = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    let w = json(&study.join("whatif.json"));
    let ran: Vec<(&str, u64)> = w["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["not_run"].is_null())
        .map(|v| (v["name"].as_str().unwrap(), v["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(ran, [("as-is", 2), ("no-rollback", 2)], "{w}");
    assert_eq!(
        w["variants"][0]["down_after_change"]["n"].as_u64(),
        Some(2),
        "the story's count: {w}"
    );
    // Seed by seed: as-is 42, no-rollback 42, as-is 43, no-rollback 43.
    let started = |variant: &str, seed: u64| {
        let meta = json(&study.join(variant).join(format!("seed-{seed}/meta.json")));
        chrono::DateTime::parse_from_rfc3339(meta["started_at"].as_str().unwrap()).unwrap()
    };
    let order = [
        started("as-is", 42),
        started("no-rollback", 42),
        started("as-is", 43),
        started("no-rollback", 43),
    ];
    assert!(order.is_sorted(), "{order:?}");
    // `plot` counts each variant again from its runs and says the same.
    std::fs::remove_file(study.join("whatif.png")).unwrap();
    let mut old = w.clone();
    old["said"] = serde_json::json!([]);
    std::fs::write(study.join("whatif.json"), old.to_string()).unwrap();
    let o = outage_sim(&["plot", study.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = json(&study.join("whatif.json"));
    assert_eq!((&again["said"], &again["variants"]), (&w["said"], &w["variants"]));
    assert!(study.join("whatif.png").is_file());
}
