//! Results the ecosystem reads (HdrHistogram interval logs, OpenMetrics), production's own
//! curve, and shards merged exactly. The Python readers are independent implementations; the
//! tests that need them are ignored unless asked for, and CI runs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use outage_sim::results::hlog;
use outage_sim::results::{RunDir, WindowRow};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outage-sim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("OUTAGE_SIM_DATABASE_URL");
    cmd
}

/// Prepares a small SQLite database for `scenario` in `dir`; returns its `--db` URL.
fn prepared(dir: &Path, scenario: &Path) -> String {
    let db = format!("sqlite:{}", dir.join("db.sqlite").display());
    let out = bin()
        .args(["prepare"])
        .arg(scenario)
        .args(["--db", &db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    db
}

fn run(scenario: &Path, db: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let o = bin()
        .arg("run")
        .arg(scenario)
        .args(["--db", db, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    common::run_dir(out).unwrap()
}

fn python() -> String {
    match std::env::var("OUTAGE_SIM_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "OUTAGE_SIM_TEST_PYTHON is not set: this test needs a Python with tests/py/requirements.txt (.ci/run sets it)"
        ),
    }
}

fn python_check(script: &str, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script);
    let out = Command::new(python()).arg(&script).args(args).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{}: {said}", script.display());
    eprintln!("{said}");
}

#[test]
#[ignore = "needs Python with hdrhistogram (OUTAGE_SIM_TEST_PYTHON; .ci/run sets it)"]
fn latency_hlog_is_read_by_pythons_hdrhistogram_with_windows_csvs_p99s() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "hlog", 20_000, "reporting-index");
    let db = prepared(tmp.path(), &scenario);
    let run_dir = run(&scenario, &db, &tmp.path().join("out"), &[]);
    python_check("check_hlog.py", &[run_dir.to_str().unwrap()]);
}

#[test]
#[ignore = "needs Python with prometheus-client (OUTAGE_SIM_TEST_PYTHON; .ci/run sets it)"]
fn live_metrics_are_scraped_during_a_run_and_agree_with_windows_csv_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "metrics", 20_000, "reporting-index");
    let db = prepared(tmp.path(), &scenario);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = tmp.path().join("out");
    let mut child = bin()
        .arg("run")
        .arg(&scenario)
        .args(["--db", &db, "--metrics-addr", &addr, "--metrics-linger", "10", "--out"])
        .arg(&out)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    python_check(
        "scrape_metrics.py",
        &[&format!("http://{addr}/metrics"), out.to_str().unwrap()],
    );
    assert!(child.wait().unwrap().success());
}

#[test]
#[ignore = "needs Python with kubernetes-validate (OUTAGE_SIM_TEST_PYTHON; .ci/run sets it)"]
fn kubernetes_manifests_pass_offline_validation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    assert!(files.len() >= 3, "{files:?}");
    let out = Command::new(python())
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(&files)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.matches(" passed for resource").count() >= files.len(), "{said}");
}

/// A curve with a clear shape: a ramp, a dip and a peak, as a production export would have.
fn write_curve(dir: &Path) -> PathBuf {
    let path = dir.join("curve.csv");
    let mut text = String::from("time,rate\n");
    for minute in 0..=100 {
        let x = f64::from(minute) / 100.0;
        let rate = 60.0 + 340.0 * (x * std::f64::consts::PI * 2.5).sin().abs() * x.max(0.3);
        text += &format!("2024-06-08T{:02}:{:02}:00Z,{rate:.1}\n", 12 + minute / 60, minute % 60);
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn curve_scenario(dir: &Path) -> PathBuf {
    write_curve(dir);
    let small = common::small_scenario(dir, "curve-base", 20_000, "");
    let text = std::fs::read_to_string(&small).unwrap();
    let text = text
        .replace(
            "points = [{ at = \"12:00\", value = 150.0 }, { at = \"13:40\", value = 150.0 }]",
            "curve = \"curve.csv\"\npeak = 400",
        )
        .replace("window_ms = 250", "window_ms = 500")
        .replace("name = \"curve-base\"", "name = \"curve\"\n[checkout]\nretries = 0");
    let path = dir.join("curve.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_recorded_curve_sets_the_offered_rate_of_every_window() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = curve_scenario(tmp.path());
    let db = prepared(tmp.path(), &scenario);
    let run_dir = run(&scenario, &db, &tmp.path().join("out"), &[]);
    // The run's scenario.toml holds the curve as it was read: points on the incident clock.
    let as_run = outage_sim::scenario::Scenario::load(&run_dir.join("scenario.toml")).unwrap();
    assert!(as_run.load.points.len() > 90, "{} points", as_run.load.points.len());
    let rows = RunDir::open(&run_dir).unwrap().read_windows().unwrap();
    let window_s = 0.5;
    let mut pairs = Vec::new();
    for w in rows.chunks(3) {
        let offered: u64 = w.iter().map(|r: &WindowRow| r.offered - r.retries).sum();
        let mid_sim = outage_sim::results::clock_secs(&w[0].clock) - window_s * 600.0 / 2.0;
        pairs.push((offered as f64 / window_s, as_run.load.value_at(mid_sim)));
    }
    let r = correlation(&pairs);
    eprintln!("{} windows, correlation {r:.3}", pairs.len());
    assert!(r >= 0.95, "correlation {r:.3} of offered rate and curve: {pairs:?}");
}

fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn two_shards_merged_send_one_generators_arrivals_with_exact_percentiles() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "shards", 20_000, "reporting-index");
    let db = prepared(tmp.path(), &scenario);
    merged_shards_are_one_generator(tmp.path(), &scenario, &["--db", &db]);
}

#[test]
#[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
fn two_shards_on_postgres_merged_send_one_generators_arrivals() {
    let url = common::server_url("OUTAGE_SIM_TEST_POSTGRES_URL");
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "pgshards", 20_000, "reporting-index");
    let db = ["--db", url.as_str(), "--schema", "ost_shards"];
    let o = bin().arg("prepare").arg(&scenario).args(db).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    merged_shards_are_one_generator(tmp.path(), &scenario, &db);
}

/// Runs `scenario` as two shards started together and once whole, on the database `db` names,
/// then merges the shards and checks the merge against the whole run and the shards' logs.
fn merged_shards_are_one_generator(tmp: &Path, scenario: &Path, db: &[&str]) {
    let start = (chrono::Utc::now() + chrono::TimeDelta::seconds(4)).to_rfc3339();
    let shard_out = |k: usize| tmp.join(format!("shard-{k}"));
    let shards: Vec<_> = (0..2)
        .map(|k| {
            let shard = format!("{k}/2");
            bin()
                .arg("run")
                .arg(scenario)
                .args(db)
                .args(["--shard", &shard, "--start-at", &start, "--out"])
                .arg(shard_out(k))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in shards {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let dirs: Vec<PathBuf> = (0..2).map(|k| common::run_dir(&shard_out(k)).unwrap()).collect();
    let o = bin()
        .arg("run")
        .arg(scenario)
        .args(db)
        .arg("--out")
        .arg(tmp.join("single"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let single = common::run_dir(&tmp.join("single")).unwrap();

    // One shard alone is refused, naming what is missing.
    let merged = tmp.join("merged");
    let o = bin()
        .arg("merge")
        .arg(&dirs[1])
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected shards 0/2 to 1/2"));

    let o = bin()
        .arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The merged arrivals are exactly one generator's for the same seed, window by window
    // (each first attempt is filed in the window it was due in).
    // windows.csv as written (read_windows would take the percentiles from latency.hlog).
    let read = |d: &Path| -> Vec<WindowRow> {
        let mut r = csv::Reader::from_path(d.join("windows.csv")).unwrap();
        r.deserialize().map(|row| row.unwrap()).collect()
    };
    let (merged_rows, single_rows) = (read(&merged), read(&single));
    let first_attempts = |rows: &[WindowRow]| -> Vec<(String, String, u64, u64)> {
        let per_window = rows
            .iter()
            .map(|r| (r.clock.clone(), r.op.clone(), r.offered - r.retries, r.shoppers));
        per_window.collect()
    };
    assert_eq!(first_attempts(&merged_rows), first_attempts(&single_rows));
    assert!(merged_rows.iter().all(|r| r.offered - r.retries == r.shoppers));
    assert!(merged_rows.iter().map(|r| r.shoppers).sum::<u64>() > 0);

    // Each merged p99 is the p99 of the shards' histograms added, not an average of p99s.
    let logs: Vec<_> = dirs
        .iter()
        .map(|d| hlog::read(&d.join("latency.hlog")).unwrap())
        .collect();
    let merged_log = hlog::read(&merged.join("latency.hlog")).unwrap();
    assert_eq!(merged_log.len(), merged_rows.len());
    for (i, row) in merged_rows.iter().enumerate() {
        let mut added = logs[0][i].histogram.clone();
        added.add(&logs[1][i].histogram).unwrap();
        assert_eq!(merged_log[i].histogram, added, "window row {i}");
        let p99 = (!added.is_empty()).then(|| added.value_at_quantile(0.99) as f64 / 1000.0);
        assert_eq!(row.p99_ms, p99, "window row {i} ({} {})", row.clock, row.op);
    }

    // The merged run reads like any run: the fault from shard 0, a verdict, a report.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("summary.json")).unwrap()).unwrap();
    assert!(summary["verdict"].is_string(), "{summary}");
    let phases: Vec<&str> = summary["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(phases.contains(&"fault_active"), "{phases:?}");
    for file in ["report.html", "dashboard.png", "timeline.md", "events.csv", "db.csv"] {
        assert!(merged.join(file).is_file(), "no {file}");
    }
    let o = bin().arg("plot").arg(&merged).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
