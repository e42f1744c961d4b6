use std::sync::Arc;
use std::time::Duration;
use outage_sim::scenario::Scenario;
use outage_sim::store::sqlite::SqliteStore;
use outage_sim::traffic::{RequestFactory, measure_capacity};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let scenario = Scenario::load(std::path::Path::new("workloads/checkout-peak.toml"))?;
    let dir = tempfile::tempdir_in("results")?;
    let file = dir.path().join("bench.db");
    std::fs::copy(&args[1], &file)?;
    if args.len() > 2 { std::fs::File::open(&file)?.sync_all()?; }
    let store = Arc::new(SqliteStore::open(&file, 8).await?);
    let requests = RequestFactory::new(&scenario);
    for w in [16, 16, 16, 32, 64] {
        let c = measure_capacity(store.clone(), &requests, &scenario.mix, w, Duration::from_secs(4), 1).await;
        println!("workers {w}: {c:.0}");
    }
    Ok(())
}
