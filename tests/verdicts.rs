//! No silent pass: every path that cannot judge says so and exits non-zero.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use outage_sim::analysis::Summary;
use outage_sim::results::{RunDir, Verdict};
use predicates::prelude::*;

fn outage_sim() -> Command {
    let mut c = Command::cargo_bin("outage-sim").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("OUTAGE_SIM_DATABASE_URL");
    c
}

/// A copy of the committed example run.
fn example_copy(into: &Path, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/example");
    let to = into.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for f in ["windows.csv", "events.csv", "db.csv", "meta.json", "scenario.toml"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    to
}

#[test]
fn a_run_whose_scenario_does_not_load_is_not_judged_and_one_without_it_is_judged_by_its_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = example_copy(tmp.path(), "run");
    let path = run.to_str().unwrap();
    outage_sim()
        .args(["plot", path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("verdict: fail"));
    let judged: Summary = RunDir::open(&run).unwrap().read_json("summary.json").unwrap();
    assert_eq!(judged.rules.len(), 2, "summary.json carries the rules it judged");

    // A damaged scenario.toml: no verdict, exit 2, for plot and for compare.
    std::fs::write(run.join("scenario.toml"), "[clock\nbroken").unwrap();
    outage_sim()
        .args(["plot", path])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot judge").and(predicate::str::contains("scenario.toml")));
    let other = example_copy(tmp.path(), "other");
    let out = tmp.path().join("cmp");
    outage_sim()
        .args(["compare", other.to_str().unwrap(), path, "--out", out.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot judge"));

    // Without scenario.toml, the rules summary.json recorded judge it the same way.
    std::fs::remove_file(run.join("scenario.toml")).unwrap();
    outage_sim()
        .args(["plot", path])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("verdict: fail"));
    let again: Summary = RunDir::open(&run).unwrap().read_json("summary.json").unwrap();
    assert_eq!((again.verdict, again.rules), (Verdict::Fail, judged.rules));

    // With neither, nothing can judge it.
    std::fs::remove_file(run.join("summary.json")).unwrap();
    outage_sim()
        .args(["plot", path])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no rules"));
}

const NO_ALERTS: &str = r#"
[clock]
start = "12:00"
end = "12:02"
speed = 60
[load]
unit = "arrivals_per_second"
points = [ { at = "12:00", value = 50 } ]
[mix]
checkout = 1
[data]
orders = 2000
customers = 100
products = 100
"#;

#[test]
fn a_gate_with_no_alert_rules_refuses_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("no-alerts.toml");
    std::fs::write(&file, NO_ALERTS).unwrap();
    let gated = tmp.path().join("gated.toml");
    std::fs::write(&gated, format!("{NO_ALERTS}[gate]\nenabled = true\n")).unwrap();
    let out = tmp.path().join("results");
    let run = |args: &[&str]| {
        let mut all = vec![
            "run",
            "--out",
            out.to_str().unwrap(),
            "--cache",
            tmp.path().to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        outage_sim().args(all).assert()
    };
    run(&[file.to_str().unwrap(), "--gate"])
        .code(2)
        .stderr(predicate::str::contains("no [[alerts]] rule"));
    run(&[gated.to_str().unwrap()])
        .code(2)
        .stderr(predicate::str::contains("no [[alerts]] rule"));
    assert!(
        !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
        "nothing ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_completes_nothing_stops_the_run_and_names_its_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("probe.toml");
    let text = NO_ALERTS.replace(
        "unit = \"arrivals_per_second\"\npoints = [ { at = \"12:00\", value = 50 } ]",
        "unit = \"capacity\"\npoints = [ { at = \"12:00\", value = 0.5 } ]",
    );
    std::fs::write(&scenario, format!("{text}[run]\nprobe_ms = 500\n")).unwrap();
    let db = tmp.path().join("broken.db");
    let url = format!("sqlite:{}", db.display());
    outage_sim()
        .args(["prepare", scenario.to_str().unwrap(), "--db", &url])
        .assert()
        .code(0);
    // Every checkout now fails inside the database.
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("DROP TABLE payments").execute(&mut c).await.unwrap();
    }
    let out = tmp.path().join("results");
    outage_sim()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--probe",
            "--db",
            &url,
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("capacity probe completed 0 requests")
                .and(predicate::str::contains("no such table: payments")),
        );
}

#[test]
fn compare_labels_each_run_by_backend_and_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let blocking = example_copy(tmp.path(), "blocking");
    let online = example_copy(tmp.path(), "online");
    let meta = online.join("meta.json");
    let text = std::fs::read_to_string(&meta)
        .unwrap()
        .replace("\"backend\": \"sqlite\"", "\"backend\": \"postgres\"")
        .replace("\"reporting-indexes\"", "\"reporting-indexes-online\"");
    std::fs::write(&meta, text).unwrap();
    let out = tmp.path().join("cmp");
    outage_sim()
        .args([
            "compare",
            blocking.to_str().unwrap(),
            online.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("checkout-peak on sqlite, reporting-indexes (").and(predicate::str::contains(
                "checkout-peak on postgres, reporting-indexes-online (",
            )),
        );
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(
        html.contains("on postgres, reporting-indexes-online"),
        "the page labels runs the same way"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gated_run_whose_fault_never_applied_is_an_error_not_a_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("unapplied.toml");
    let rules = "[[faults]]\nname = \"reporting-index\"\napply = \"12:00:30\"\nrollback = \"12:01:30\"\n\
                 [[alerts]]\nname = \"slow\"\nop = \"checkout\"\nmetric = \"p99_ms\"\nabove = 1000\nfor = \"1m\"\n";
    std::fs::write(&scenario, format!("{NO_ALERTS}{rules}")).unwrap();
    let db = tmp.path().join("indexed.db");
    let url = format!("sqlite:{}", db.display());
    outage_sim()
        .args(["prepare", scenario.to_str().unwrap(), "--db", &url])
        .assert()
        .code(0);
    // The index the fault creates is there already, so its CREATE INDEX fails.
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE INDEX orders_reporting ON orders (status)")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let out = tmp.path().join("results");
    let run = |gate: bool| {
        let mut args = vec![
            "run",
            scenario.to_str().unwrap(),
            "--db",
            &url,
            "--out",
            out.to_str().unwrap(),
        ];
        if gate {
            args.push("--gate");
        }
        outage_sim().args(args).assert()
    };
    run(true).code(1).stderr(
        predicate::str::contains("reporting-index never applied").and(predicate::str::contains("already exists")),
    );
    // Not gated: the run is reported as it happened, and its summary says what did not apply.
    run(false).code(0);
}
