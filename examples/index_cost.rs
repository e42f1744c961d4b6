//! How much of SQLite's checkout capacity the reporting index costs, on a copy of the cached
//! base database: checkout-only capacity without the index, the build time, then with it.
//!
//! cargo run --release --example index_cost -- [BASE_DB] [SECONDS]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use outage_sim::faults;
use outage_sim::scenario::{Mix, Scenario};
use outage_sim::store::Store;
use outage_sim::store::sqlite::SqliteStore;
use outage_sim::traffic::{RequestFactory, measure_capacity};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let base = PathBuf::from(args.get(1).expect("BASE_DB"));
    let secs: f64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(5.0);
    let scenario = Scenario::load(std::path::Path::new("workloads/checkout-peak.toml"))?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench.db");
    std::fs::copy(&base, &file)?;
    let store = Arc::new(SqliteStore::open(&file, 8).await?);
    let requests = RequestFactory::new(&scenario);
    let checkout_only = Mix { weights: [0.0, 1.0, 0.0] };
    let len = Duration::from_secs_f64(secs);
    let before = measure_capacity(store.clone(), &requests, &checkout_only, 16, len, 1).await;
    let fault = faults::find("sqlite", "reporting-index").unwrap();
    let t = Instant::now();
    store.run_ddl(&fault.up, &|| {}).await?;
    let build = t.elapsed();
    let after = measure_capacity(store.clone(), &requests, &checkout_only, 16, len, 2).await;
    store.run_ddl(&fault.down, &|| {}).await?;
    let again = measure_capacity(store.clone(), &requests, &checkout_only, 16, len, 3).await;
    println!("checkouts/s without index {before:.0}, with {after:.0} (ratio {:.2}), after rollback {again:.0}; build {:.2} s",
        after / before, build.as_secs_f64());
    Ok(())
}
