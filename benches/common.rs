//! Shared set-up of the benchmarks: the checkout-peak scenario and its cached base database.

use std::path::{Path, PathBuf};

use outage_sim::scenario::Scenario;
use outage_sim::store::seed::History;
use outage_sim::store::sqlite::{self, SqliteStore};

pub fn scenario() -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/checkout-peak.toml")).expect("valid workload")
}

/// A private copy of the seeded base database (seeding it into results/.cache the first time).
pub async fn store(scenario: &Scenario, dir: &Path) -> SqliteStore {
    let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results/.cache");
    let bar = indicatif::ProgressBar::hidden();
    let base = sqlite::ensure_base(&cache, &History::of(scenario), &bar)
        .await
        .expect("seed");
    let file = dir.join("bench.db");
    std::fs::copy(&base, &file).expect("copy");
    std::fs::File::open(&file).and_then(|f| f.sync_all()).expect("sync");
    SqliteStore::open(&file, scenario.limits.pool_size).await.expect("open")
}

/// This process's user + system CPU seconds, from /proc/self/stat (clock ticks of 1/100 s).
pub fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}
