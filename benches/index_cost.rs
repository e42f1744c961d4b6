//! What the reporting index costs SQLite: checkout-only capacity without it, with it, and after
//! rolling it back, measured in one run on a copy of the checkout-peak base database, reported
//! as ratios to the first; and how long the build holds the write lock.
//!
//! cargo bench --bench index_cost [-- SECONDS]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use outage_sim::faults;
use outage_sim::scenario::Mix;
use outage_sim::store::Store;
use outage_sim::traffic::{RequestFactory, measure_capacity};

#[tokio::main]
async fn main() {
    let secs: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10.0);
    let scenario = common::scenario();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(common::store(&scenario, dir.path()).await);
    let requests = RequestFactory::new(&scenario);
    let checkouts = Mix {
        weights: [0.0, 1.0, 0.0],
    };
    let probe = |seed| {
        measure_capacity(
            store.clone(),
            &requests,
            &checkouts,
            16,
            Duration::from_secs_f64(secs),
            seed,
        )
    };
    let probe = |seed| async move { probe(seed).await.per_s };
    let fault = faults::find("sqlite", "reporting-index").unwrap();

    let before = probe(1).await;
    let t = Instant::now();
    store.run_ddl(&fault.up, None, &|_| {}).await.unwrap();
    let build = t.elapsed().as_secs_f64();
    let with = probe(2).await;
    store.run_ddl(&fault.down, None, &|_| {}).await.unwrap();
    let after = probe(3).await;
    println!("index_cost: checkouts/s without the index {before:.0} (baseline)");
    println!("index_cost: with the index {with:.0} (ratio {:.2})", with / before);
    println!("index_cost: after rollback {after:.0} (ratio {:.2})", after / before);
    println!(
        "index_cost: build held the write lock {build:.2} s on {} orders",
        scenario.data.orders
    );
}
