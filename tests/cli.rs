//! The command line as a user meets it: help, validation errors and exit codes.

use assert_cmd::Command;
use predicates::prelude::*;

fn outage_sim() -> Command {
    Command::cargo_bin("outage-sim").unwrap()
}

fn workload(name: &str) -> String {
    format!("{}/workloads/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn help_teaches_each_command_with_an_example() {
    outage_sim()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    outage_sim()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Example: outage-sim run workloads/checkout-peak.toml",
        ))
        .stdout(predicate::str::contains("--speed"));
}

#[test]
fn check_accepts_the_shipped_workloads() {
    for (w, db) in [
        ("smoke.toml", "sqlite:x.db"),
        ("checkout-peak.toml", "sqlite:x.db"),
        ("checkout-peak.toml", "mysql://u@h/db"),
        ("checkout-peak-lockqueue.toml", "postgres://u@h/db"),
        ("checkout-peak-lockqueue.toml", "mysql://u@h/db"),
    ] {
        outage_sim()
            .args(["check", &workload(w), "--db", db])
            .assert()
            .success()
            .stdout(predicate::str::contains("ok"));
    }
    // The lock-queue story needs a server: on SQLite, check says which fault is missing.
    outage_sim()
        .args(["check", &workload("checkout-peak-lockqueue.toml")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no fault named \"long-report\" for sqlite"));
}

/// Each bad scenario fails with one line naming file:line and the field, exit code 2, and
/// `run` creates nothing (no run directory, no database).
#[test]
fn bad_scenarios_fail_before_anything_is_written() {
    let good = std::fs::read_to_string(workload("smoke.toml")).unwrap();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("speed = 600", "speed = 600\nsped = 1")], "sped"),
        (&[("value = 0.30 }", "value = -0.3 }")], "load.points[0].value"),
        (&[("apply = \"12:40\"", "apply = \"11:40\"")], "faults[0].apply"),
        (&[("start = \"12:00\"", "start = \"12h00\"")], "clock.start"),
        (
            &[("rollback = \"15:00\"", "rollback = \"12:00\"")],
            "faults[0].rollback",
        ),
        (
            &[
                ("browse = 0.28", "browse = 0"),
                ("checkout = 0.70", "checkout = 0"),
                ("report = 0.02", "report = 0"),
            ],
            "mix",
        ),
    ];
    for (edits, field) in cases {
        let mut text = good.clone();
        for (from, to) in edits {
            assert!(text.contains(from), "{from}");
            text = text.replacen(from, to, 1);
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = dir.path().join("results");
        let assert = outage_sim()
            .args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .assert()
            .code(2);
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(&format!("{}:", file.display())),
            "names the file: {stderr}"
        );
        assert!(stderr.contains(field), "names {field}: {stderr}");
        assert!(!out.exists(), "nothing written for {field}");
    }
}

#[test]
fn an_unknown_fault_is_bad_input() {
    let good = std::fs::read_to_string(workload("smoke.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.toml");
    std::fs::write(
        &file,
        good.replace("name = \"reporting-index\"", "name = \"no-such-fault\""),
    )
    .unwrap();
    outage_sim()
        .args(["check", file.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("faults[0].name").and(predicate::str::contains("reporting-index")));
}

#[test]
fn plot_of_a_directory_that_is_not_a_run_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    outage_sim()
        .args(["plot", dir.path().to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a run directory"));
}

const HEALTHY: &str = r#"
name = "healthy"
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
[[alerts]]
name = "slow"
op = "checkout"
metric = "p99_ms"
above = 1000
for = "1m"
"#;

#[test]
fn gating_a_healthy_run_exits_0_and_a_runtime_failure_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("healthy.toml");
    std::fs::write(&file, HEALTHY).unwrap();
    let out = dir.path().join("results");
    let cache = dir.path().join("cache");
    let args = |out: &str| {
        vec![
            "run".to_string(),
            file.display().to_string(),
            "--gate".into(),
            "--out".into(),
            out.into(),
            "--cache".into(),
            cache.display().to_string(),
        ]
    };
    outage_sim()
        .args(args(out.to_str().unwrap()))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("verdict: pass"));
    // A run directory that cannot be created is a runtime error, not bad input.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "").unwrap();
    outage_sim()
        .args(args(blocked.join("results").to_str().unwrap()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot create"));
}

#[test]
fn a_bad_url_or_an_unreachable_server_never_prints_the_password() {
    // A scheme outage-sim does not know is bad input (2); a server that does not answer (port 9:
    // nothing listens) is a runtime error (1), said in one line.
    for (url, code) in [
        ("oracle://app:s3cret@127.0.0.1/db", 2),
        ("postgres://app:s3cret@127.0.0.1:9/test", 1),
        ("mysql://app:s3cret@127.0.0.1:9/test", 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let assert = outage_sim()
            .args([
                "run",
                &workload("smoke.toml"),
                "--probe",
                "--db",
                url,
                "--out",
                dir.path().to_str().unwrap(),
            ])
            .assert()
            .code(code)
            .stderr(predicate::str::contains("app:***@127.0.0.1"));
        let out = assert.get_output();
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("s3cret")
                && !String::from_utf8_lossy(&out.stdout).contains("s3cret")
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "no run directory for {url}"
        );
    }
}

#[test]
fn faults_lists_each_backend_catalog_with_its_descriptions() {
    outage_sim()
        .args(["faults", "--db", "postgres://app:pw@127.0.0.1:9/test"])
        .assert()
        .success()
        .stdout(predicate::str::contains("reporting-index-online"))
        .stdout(predicate::str::contains("CONCURRENTLY"))
        .stdout(predicate::str::contains("pw@").not());
    outage_sim()
        .args(["faults"])
        .assert()
        .success()
        .stdout(predicate::str::contains("faults for sqlite"))
        .stdout(predicate::str::contains("reporting-index"))
        .stdout(predicate::str::contains("online").not());
}

#[test]
fn log_messages_reach_stderr_filtered_by_rust_log() {
    // Nothing at the default level (warn) for a good scenario; its info lines with RUST_LOG.
    outage_sim()
        .args(["check", &workload("smoke.toml")])
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    outage_sim()
        .args(["check", &workload("smoke.toml")])
        .env("RUST_LOG", "info")
        .assert()
        .success()
        .stderr(predicate::str::contains("INFO").and(predicate::str::contains("fault step(s) found")));
}

#[test]
fn a_given_capacity_skips_the_probe_and_the_load_scales() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("planned.toml");
    let text = HEALTHY.replace(
        "unit = \"arrivals_per_second\"\npoints = [ { at = \"12:00\", value = 50 } ]",
        "unit = \"capacity\"\npoints = [ { at = \"12:00\", value = 0.25 } ]",
    );
    std::fs::write(&file, &text).unwrap();
    let (out, cache) = (dir.path().join("results"), dir.path().join("cache"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        outage_sim().args(args).assert()
    };
    run(&["--capacity", "200", "--load-scale", "1.5"]).code(0).stderr(
        predicate::str::contains("from --capacity (no probe)").and(predicate::str::contains("measuring").not()),
    );
    let run_dir = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    let meta = std::fs::read_to_string(run_dir.join("meta.json")).unwrap();
    assert!(
        meta.contains("\"capacity_per_s\": 200.0") && meta.contains("\"capacity_source\": \"--capacity\""),
        "{meta}"
    );
    // 0.25 of 200/s, times 1.5.
    let scenario = std::fs::read_to_string(run_dir.join("scenario.toml")).unwrap();
    assert!(scenario.contains("value = 75.0"), "{scenario}");
    // Out of bounds, or meaningless for the scenario: bad input before anything runs.
    run(&["--capacity", "200", "--load-scale", "1000"])
        .code(2)
        .stderr(predicate::str::contains("--load-scale 1000"));
    let rates = dir.path().join("rates.toml");
    std::fs::write(&rates, HEALTHY).unwrap();
    outage_sim()
        .args([
            "run",
            rates.to_str().unwrap(),
            "--capacity",
            "200",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--capacity"));
}
