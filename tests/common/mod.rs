//! Helpers shared by the server tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use outage_sim::results::{EventKind, EventRow, RunDir};

/// Every event sent so far on a bus.
pub fn received(rx: &mut tokio::sync::mpsc::UnboundedReceiver<EventRow>) -> Vec<EventRow> {
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}

/// The URL of a test server from `var`. The tests that call it are `#[ignore]`d, so they run
/// only when asked for (`cargo test -- --include-ignored`, as `.ci/run` does): then a missing
/// variable is a failure, never a silent pass.
pub fn server_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{var} is not set: this test needs a real server (see README, Tests; .ci/run sets it)"),
    }
}

/// A small scenario: little data, a short clock (10 s real), the given fault applied at 12:20
/// and rolled back at 13:00, or no fault when `fault` is empty.
pub fn small_scenario(dir: &Path, name: &str, orders: u64, fault: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let faults = match fault {
        "" => String::new(),
        f => format!("[[faults]]\nname = \"{f}\"\napply = \"12:20\"\nrollback = \"13:00\"\n"),
    };
    let text = format!(
        r#"name = "{name}"
[clock]
date = "2024-06-08"
start = "12:00"
end = "13:40"
speed = 600
[load]
unit = "arrivals_per_second"
points = [{{ at = "12:00", value = 150.0 }}, {{ at = "13:40", value = 150.0 }}]
[mix]
browse = 0.3
checkout = 0.65
report = 0.05
[data]
orders = {orders}
customers = 500
products = 200
history_days = 5
[limits]
pool_size = 4
request_timeout_ms = 1000
[run]
window_ms = 250
probe_ms = 1000
{faults}
[[alerts]]
name = "checkout success below 0.5"
op = "checkout"
metric = "success_ratio"
below = 0.5
for = "2m"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub fn outage_sim(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("OUTAGE_SIM_DATABASE_URL")
        .output()
        .unwrap()
}

/// The single run directory under `out`.
pub fn run_dir(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

/// `url` with `password` put in as the user's password.
pub fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

pub async fn pg_scalar(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut c)
        .await
        .unwrap()
}

pub async fn my_scalar(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut c)
        .await
        .unwrap()
}

/// Waits until `events.csv` of the single run under `out` holds an event of `kind`.
pub fn wait_for_event(out: &Path, kind: EventKind, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let found = run_dir(out)
            .and_then(|d| RunDir::open(&d).ok()?.read_events().ok())
            .is_some_and(|events| events.iter().any(|e| e.kind == kind));
        if found {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {kind:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
