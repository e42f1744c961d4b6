//! A server restarted mid-run: errors are counted in their windows, the pools reconnect, the
//! run finishes with whole results, and the fault is rolled back. The test restarts the real
//! server with the command in OUTAGE_SIM_TEST_POSTGRES_RESTART / OUTAGE_SIM_TEST_MYSQL_RESTART
//! (CI sets them); it is its own test binary so no other test sees the restart.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use outage_sim::results::{EventKind, EventRow, RunDir, WindowRow};

async fn restart_mid_run(url_var: &str, restart_var: &str, schema: &str, indexes: &str) -> (String, String) {
    let url = common::server_url(url_var);
    let restart = common::server_url(restart_var);
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "restart", 20_000, "reporting-index");
    let out = tmp.path().join("results");
    // Prepared first, so the run's clock starts at once.
    let prep = common::outage_sim(&["prepare", scenario.to_str().unwrap(), "--db", &url, "--schema", schema]);
    assert!(prep.status.success(), "{}", String::from_utf8_lossy(&prep.stderr));
    let child = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", scenario.to_str().unwrap(), "--db", &url, "--schema", schema])
        .args(["--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run lasts 10 s after a 1 s probe; restart the server 4 s into the replay (12:40).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !common::run_dir(&out).is_some_and(|d| d.join("windows.csv").exists()) {
        assert!(Instant::now() < deadline, "the run never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = Command::new("sh").args(["-c", &restart]).status().unwrap();
    assert!(status.success(), "restart command failed: {restart}");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");

    let run = RunDir::open(&common::run_dir(&out).unwrap()).unwrap();
    let windows: Vec<WindowRow> = run.read_windows().unwrap();
    let events: Vec<EventRow> = run.read_events().unwrap();
    let checkout: Vec<&WindowRow> = windows.iter().filter(|w| w.op == "checkout").collect();
    assert_eq!(checkout.len(), 40, "every window of the 10 s run is there");
    assert!(
        checkout.iter().any(|w| w.failed > 0),
        "the restart's errors are counted"
    );
    assert!(
        checkout[36..].iter().all(|w| w.ok > 0),
        "the pool reconnected: {:?}",
        &checkout[36..]
    );
    assert!(events.iter().any(|e| e.kind == EventKind::RunEnd));
    let rolled_back = events.iter().any(|e| e.kind == EventKind::FaultRollbackDone);
    assert!(rolled_back, "the fault was rolled back: {events:?}");
    (url, indexes.to_string())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL and a restart command: OUTAGE_SIM_TEST_POSTGRES_URL, OUTAGE_SIM_TEST_POSTGRES_RESTART (.ci/run)"]
async fn postgres_restarted_mid_run() {
    let indexes =
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'ost_pg_restart' AND indexname = 'orders_reporting'";
    let pg = ("OUTAGE_SIM_TEST_POSTGRES_URL", "OUTAGE_SIM_TEST_POSTGRES_RESTART");
    let (url, sql) = restart_mid_run(pg.0, pg.1, "ost_pg_restart", indexes).await;
    assert_eq!(common::pg_scalar(&url, &sql).await, 0, "the reporting index is absent");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL/MariaDB and a restart command: OUTAGE_SIM_TEST_MYSQL_URL, OUTAGE_SIM_TEST_MYSQL_RESTART (.ci/run)"]
async fn mysql_restarted_mid_run() {
    let indexes = "SELECT count(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS \
                   WHERE TABLE_SCHEMA = 'ost_my_restart' AND INDEX_NAME = 'orders_reporting'";
    let my = ("OUTAGE_SIM_TEST_MYSQL_URL", "OUTAGE_SIM_TEST_MYSQL_RESTART");
    let (url, sql) = restart_mid_run(my.0, my.1, "ost_my_restart", indexes).await;
    assert_eq!(common::my_scalar(&url, &sql).await, 0, "the reporting index is absent");
}
