//! Ctrl-C during an applied fault: the fault is rolled back, the partial run is readable.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use outage_sim::results::{EventKind, RunDir};
use sqlx::Connection;

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_dir(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_an_applied_fault_rolls_it_back_and_keeps_the_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let mut child = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "workloads/smoke.toml",
            "--probe",
            "--keep-db",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let applied = || {
        run_dir(&out)
            .and_then(|d| RunDir::open(&d).ok()?.read_events().ok())
            .is_some_and(|events| events.iter().any(|e| e.kind == EventKind::FaultApplyDone))
    };
    wait_for("the fault to be applied", Duration::from_secs(120), applied);
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut status = None;
    wait_for("the run to stop", Duration::from_secs(60), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(130));

    let dir = run_dir(&out).unwrap();
    let run = RunDir::open(&dir).unwrap();
    let events = run.read_events().unwrap();
    assert!(
        events.iter().any(|e| e.kind == EventKind::FaultRollbackDone),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::RunEnd && e.detail == "interrupted"),
        "{events:?}"
    );
    assert!(!run.read_windows().unwrap().is_empty());
    assert!(dir.join("summary.json").is_file() && dir.join("dashboard.png").is_file());

    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite:{}", dir.join("run.db").display()))
        .await
        .unwrap();
    let indexes: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index'")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(
        indexes.iter().any(|n| n == "orders_created"),
        "the schema is there: {indexes:?}"
    );
    assert!(
        !indexes.iter().any(|n| n == "orders_reporting"),
        "the fault was rolled back: {indexes:?}"
    );
}

/// A database outage-sim did not prepare gets no fault DDL: exit 2, nothing changed, no run left.
#[tokio::test(flavor = "multi_thread")]
async fn faults_are_refused_on_a_database_the_tool_did_not_prepare() {
    use sqlx::ConnectOptions;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("theirs.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true);
    let mut db = opts.connect().await.unwrap();
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        .execute(&mut db)
        .await
        .unwrap();
    let out = tmp.path().join("results");
    let status = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "workloads/smoke.toml", "--probe", "--out", out.to_str().unwrap()])
        .arg(format!("--db=sqlite:{}", file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    assert!(run_dir(&out).is_none(), "no run directory is left behind");
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(tables, vec!["orders".to_string()], "the database is untouched");
}

/// SIGKILL while the fault is applied leaves the index in the database and a record of it;
/// the next run on that database rolls it back before it starts, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_with_its_fault_applied_is_cleaned_up_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kept.db");
    let db = format!("--db=sqlite:{}", file.display());
    let with_fault = common::small_scenario(tmp.path(), "killed", 20_000, "reporting-index");
    let without = common::small_scenario(tmp.path(), "next", 20_000, "");
    let out = tmp.path().join("results");
    let mut child = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", with_fault.to_str().unwrap(), &db, "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_event(&out, EventKind::FaultApplyDone, Duration::from_secs(120));
    common::signal(child.id(), "-KILL");
    child.wait().unwrap();

    let reporting = async || {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", file.display()))
            .await
            .unwrap();
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sqlite_master WHERE name = 'orders_reporting'")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(reporting().await, 1, "killed: the index is still there");

    let next = common::outage_sim(&["run", without.to_str().unwrap(), &db, "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&next.stderr);
    assert_eq!(next.status.code(), Some(0), "{err}");
    assert!(err.contains("left fault reporting-index applied"), "{err}");
    assert!(err.contains("fault reporting-index rolled back"), "{err}");
    assert_eq!(reporting().await, 0, "the next run rolled it back");
}
