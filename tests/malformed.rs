//! Damaged scenarios: every one is refused with exit code 2 and one line that names the file;
//! none panics. Named kinds of damage through the real binary, then arbitrary bytes and random
//! mutations of every shipped workload through the same validation.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use outage_sim::faults::{self, Choice};
use outage_sim::scenario::Scenario;
use proptest::prelude::*;

const PEAK: &str = include_str!("../workloads/checkout-peak.toml");

fn workloads() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// `PEAK` with `from` replaced by `to` (which must be there).
fn peak_with(from: &str, to: &str) -> Vec<u8> {
    assert!(PEAK.contains(from), "{from:?} is not in checkout-peak.toml");
    PEAK.replacen(from, to, 1).into_bytes()
}

/// More than forty kinds of damage to checkout-peak.toml.
fn damaged() -> Vec<(&'static str, Vec<u8>)> {
    let alert = "[[alerts]]\nname = \"checkout p99 above 250 ms\"";
    vec![
        ("empty file", Vec::new()),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x9f, b'\n']),
        (
            "cut in the middle of a line",
            PEAK.as_bytes()[..PEAK.find("apply = \"12:4").unwrap() + 12].to_vec(),
        ),
        ("no [clock]", peak_with("[clock]", "[clocks]")),
        ("no [load]", peak_with("[load]", "[loads]")),
        ("no [mix]", peak_with("[mix]", "[mixes]")),
        ("start 25:00", peak_with("start = \"12:00\"", "start = \"25:00\"")),
        ("end before start", peak_with("end = \"16:30\"", "end = \"11:00\"")),
        ("speed 0", peak_with("speed = 60", "speed = 0")),
        ("speed negative", peak_with("speed = 60", "speed = -1")),
        ("speed nan", peak_with("speed = 60", "speed = nan")),
        ("speed 1e300", peak_with("speed = 60", "speed = 1e300")),
        ("speed 1e-300", peak_with("speed = 60", "speed = 1e-300")),
        ("speed a string", peak_with("speed = 60", "speed = \"fast\"")),
        ("bad date", peak_with("date = \"2024-06-08\"", "date = \"2024-13-40\"")),
        ("unknown load unit", peak_with("unit = \"capacity\"", "unit = \"rps\"")),
        ("no load points", peak_with("points = [", "points = []\nold_points = [")),
        ("negative load", peak_with("value = 0.30", "value = -5")),
        ("infinite load", peak_with("value = 0.30", "value = inf")),
        ("load beyond bounds", peak_with("value = 0.30", "value = 1e12")),
        (
            "load points out of order",
            peak_with("{ at = \"12:40\"", "{ at = \"11:40\""),
        ),
        ("load time not a time", peak_with("{ at = \"12:00\"", "{ at = \"noon\"")),
        (
            "mix all zero",
            peak_with("browse = 0.2995\ncheckout = 0.70", "browse = 0\ncheckout = 0")
                .iter()
                .copied()
                .collect::<Vec<u8>>()
                .then_replace("report = 0.0005", "report = 0"),
        ),
        ("mix negative", peak_with("checkout = 0.70", "checkout = -1")),
        (
            "mix unknown op",
            peak_with("report = 0.0005", "report = 0.0005\nrefund = 1"),
        ),
        ("items_min 0", peak_with("items_min = 1", "items_min = 0")),
        ("items_max 17", peak_with("items_max = 5", "items_max = 17")),
        ("items_max below items_min", peak_with("items_min = 1", "items_min = 9")),
        ("zipf_s 0", peak_with("zipf_s = 1.1", "zipf_s = 0")),
        ("retries beyond bounds", peak_with("retries = 0", "retries = 100000")),
        ("backoff negative", peak_with("backoff_ms = 500", "backoff_ms = -1")),
        ("orders 0", peak_with("orders = 2_000_000", "orders = 0")),
        ("orders negative", peak_with("orders = 2_000_000", "orders = -3")),
        ("orders a float", peak_with("orders = 2_000_000", "orders = 2.5")),
        ("customers 0", peak_with("customers = 200_000", "customers = 0")),
        (
            "fewer products than a cart",
            peak_with("products = 10_000", "products = 2"),
        ),
        (
            "history_days huge",
            peak_with("history_days = 90", "history_days = 100000000"),
        ),
        ("pool_size 0", peak_with("pool_size = 8", "pool_size = 0")),
        (
            "request timeout 0",
            peak_with("request_timeout_ms = 500", "request_timeout_ms = 0"),
        ),
        (
            "app timeout under the request timeout",
            peak_with("app_timeout_ms = 30_000", "app_timeout_ms = 100"),
        ),
        ("window 0", peak_with("window_ms = 1000", "window_ms = 0")),
        (
            "window longer than the run",
            peak_with("window_ms = 1000", "window_ms = 1000000000"),
        ),
        ("probe 0", peak_with("probe_ms = 4000", "probe_ms = 0")),
        ("seed negative", peak_with("seed = 42", "seed = -1")),
        (
            "report range 0",
            peak_with("report_range_minutes = 15", "report_range_minutes = 0"),
        ),
        (
            "unknown fault",
            peak_with("name = \"reporting-indexes\"", "name = \"nope\""),
        ),
        (
            "fault outside the clock",
            peak_with("apply = \"12:40\"", "apply = \"18:40\""),
        ),
        (
            "rollback before apply",
            peak_with("rollback = \"15:00\"", "rollback = \"12:10\""),
        ),
        (
            "lock timeout 0",
            peak_with("rollback = \"15:00\"", "rollback = \"15:00\"\nlock_timeout_ms = 0"),
        ),
        (
            "alert metric unknown",
            peak_with("metric = \"p99_ms\"", "metric = \"p42\""),
        ),
        (
            "alert above and below",
            peak_with("above = 250", "above = 250\nbelow = 3"),
        ),
        ("alert for not a duration", peak_with("for = \"5m\"", "for = \"soon\"")),
        ("alert op unknown", peak_with("op = \"checkout\"", "op = \"pay\"")),
        ("alert threshold nan", peak_with("above = 250", "above = nan")),
        (
            "keep_firing_for negative",
            peak_with(alert, &format!("{alert}\nkeep_firing_for = \"-5m\"")),
        ),
        (
            "unknown top-level key",
            peak_with("name = \"checkout-peak\"", "name = \"checkout-peak\"\ncolour = \"red\""),
        ),
        ("duplicate key", peak_with("speed = 60", "speed = 60\nspeed = 30")),
        (
            "gate not a bool",
            [PEAK.as_bytes(), b"\n[gate]\nenabled = \"yes\"\n"].concat(),
        ),
        ("unclosed bracket", peak_with("[checkout]", "[checkout")),
        (
            "unclosed string",
            peak_with("name = \"checkout-peak\"", "name = \"checkout-peak"),
        ),
    ]
}

trait ThenReplace {
    fn then_replace(self, from: &str, to: &str) -> Vec<u8>;
}

impl ThenReplace for Vec<u8> {
    fn then_replace(self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(self).unwrap().replacen(from, to, 1).into_bytes()
    }
}

#[test]
fn each_kind_of_damage_exits_2_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let kinds = damaged();
    assert!(kinds.len() > 40);
    for (i, (kind, bytes)) in kinds.iter().enumerate() {
        let file = dir.path().join(format!("damaged-{i}.toml"));
        std::fs::write(&file, bytes).unwrap();
        let out = Command::cargo_bin("outage-sim")
            .unwrap()
            .args(["check", file.to_str().unwrap()])
            .env_remove("OUTAGE_SIM_DATABASE_URL")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{kind}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{kind}: not one line: {stderr}");
        assert!(
            stderr.contains(file.to_str().unwrap()),
            "{kind}: does not name the file: {stderr}"
        );
    }
}

/// What `check` does, without a process: Ok, or one line that names the file.
fn judged(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).unwrap();
    let scenario = Scenario::load(path).map_err(|e| e.to_string())?;
    faults::for_steps(&scenario, "sqlite", Choice::Scenario)?;
    Ok(())
}

fn assert_refused_well(path: &Path, result: Result<(), String>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.contains('\n'), "not one line: {e}");
        prop_assert!(
            e.starts_with(&path.display().to_string()),
            "does not start with the file: {e}"
        );
    }
    Ok(())
}

/// One random change to a workload's text.
fn mutate(text: &str, op: u8, at: usize, with: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return with.to_string();
    }
    let i = at % lines.len();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match op % 6 {
        0 => {
            out.remove(i);
        }
        1 => out.insert(i, out[i].clone()),
        2 => {
            // Replace the line's value, if it has one.
            if let Some((key, _)) = out[i].split_once('=') {
                out[i] = format!("{key}= {with}");
            }
        }
        3 => out[i].push_str(with),
        4 => {
            let j = (at / 7) % out.len();
            out.swap(i, j);
        }
        _ => {
            let mut cut = at % text.len();
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
    }
    out.join("\n")
}

fn values() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("1e308".to_string()),
        Just("18446744073709551615".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"24:61\"".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        "[ -~]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.toml");
        assert_refused_well(&path, judged(&path, &bytes))?;
    }

    #[test]
    fn mutated_workloads_never_panic(which in 0usize..64, ops in proptest::collection::vec((any::<u8>(), any::<usize>(), values()), 1..4)) {
        let all = workloads();
        let (source, text) = &all[which % all.len()];
        let mut text = text.clone();
        for (op, at, with) in &ops {
            text = mutate(&text, *op, *at, with);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(source.file_name().unwrap());
        assert_refused_well(&path, judged(&path, text.as_bytes()))?;
    }
}
