//! outage-sim's own side of the driver-efficiency comparison with pgbench (scripts/bench runs
//! both, alternated, against the same PostgreSQL): the checkout transaction with 3-item Zipf
//! carts through the real store, either closed loop with N clients (as `pgbench -c N`) or
//! open loop at a fixed rate (as `pgbench -R`). Also the tool's own CPU, from /proc.
//!
//! cargo bench --bench driver -- --db URL [--clients 8] [--secs 20] [--rate R]
//!
//! Prints `bench NAME VALUE` lines: tps, CPU seconds per 1,000 checkouts, and with --rate the
//! mean and p99 latency (ms, from the intended start).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use outage_sim::replay::{Replay, ResultsSink, Sink};
use outage_sim::results::{RunDir, hlog};
use outage_sim::scenario::Scenario;
use outage_sim::store::{self, DbUrl, Store, Where};
use outage_sim::traffic::{RequestFactory, measure_capacity};
use outage_sim::with_store;

#[allow(dead_code)]
mod common;
use common::cpu_secs;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// checkout-peak's data (so the seeded schema is shared), checkout only, 3 items, `clients`
/// connections, a flat `rate` (open loop) over `secs`.
fn scenario(clients: u32, secs: u32, rate: f64) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/checkout-peak.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mix = "[mix]\nbrowse = 0.28\ncheckout = 0.70      # a checkout rush: the single writer is the bottleneck\nreport = 0.02";
    assert!(
        text.contains(mix),
        "checkout-peak's [mix] changed: update benches/driver.rs"
    );
    let load_start = text.find("[load]").unwrap();
    let load_end = text.find("[mix]").unwrap();
    let text = format!(
        "{}[load]\nunit = \"arrivals_per_second\"\npoints = [{{ at = \"12:00\", value = {rate} }}]\n\n{}",
        &text[..load_start],
        &text[load_end..]
    )
    .replace(mix, "[mix]\ncheckout = 1")
    .replace("items_min = 1", "items_min = 3")
    .replace("items_max = 5", "items_max = 3")
    .replace("retries = 3 ", "retries = 0 ")
    .replace("pool_size = 8 ", &format!("pool_size = {clients} "))
    .replace("end = \"16:30\"", &format!("end = \"12:{:02}\"", secs))
    .replace("speed = 60 ", "speed = 60 ");
    let text = text
        .lines()
        .filter(|l| !l.starts_with("[[faults]]") && !l.starts_with("apply =") && !l.starts_with("rollback ="))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("name = \"reporting-index\"\n", "");
    Scenario::parse(&text, Path::new("driver-bench.toml")).expect("valid bench scenario")
}

/// On the tool's own runtime, so the figures are the tool's.
fn main() -> anyhow::Result<()> {
    outage_sim::commands::runtime()?.block_on(measure())
}

async fn measure() -> anyhow::Result<()> {
    let url = arg("--db").unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let clients: u32 = arg("--clients").map_or(8, |c| c.parse().unwrap());
    let secs: u32 = arg("--secs").map_or(20, |s| s.parse().unwrap());
    let rate: Option<f64> = arg("--rate").map(|r| r.parse().unwrap());
    let scenario = scenario(clients, secs, rate.unwrap_or(1.0));
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("run.db");
    let at = Where {
        db: Some(url.parse::<DbUrl>().map_err(anyhow::Error::msg)?),
        schema: "outage_sim",
        cache: &PathBuf::from("results/.cache"),
        copy: &copy,
        prepare: true,
        copy_own: false,
    };
    let (opened, _) = store::open(at, &scenario).await?;
    with_store!(opened, store => bench(store, &scenario, clients, rate, dir.path()).await)
}

async fn bench<S: Store>(
    store: Arc<S>,
    scenario: &Scenario,
    clients: u32,
    rate: Option<f64>,
    dir: &Path,
) -> anyhow::Result<()> {
    let before = cpu_secs();
    let wall = std::time::Instant::now();
    let (done, latency) = match rate {
        None => {
            let length = scenario.clock.real_duration();
            let requests = RequestFactory::new(scenario);
            let probe = measure_capacity(store.clone(), &requests, &scenario.mix, clients as usize, length, 7).await;
            // It counts after a fifth of the length (a warm-up); the CPU is over all of it.
            (probe.per_s * length.as_secs_f64(), None)
        }
        Some(_) => {
            let run = RunDir::create(dir, "driver", chrono::Utc::now())?;
            let replay = Replay::new(scenario, store.clone(), Vec::new(), None);
            let sinks: Vec<Box<dyn Sink>> = vec![Box::new(ResultsSink::create(&run, replay.started_at())?)];
            replay.run(sinks).await?;
            let mut total = outage_sim::metrics::latency_histogram();
            let mut ok = 0;
            for (row, interval) in run.read_windows()?.iter().zip(hlog::read(&run.file("latency.hlog"))?) {
                ok += row.ok;
                total.add(&interval.histogram)?;
            }
            (ok as f64, Some(total))
        }
    };
    let cpu = cpu_secs() - before;
    let secs = wall.elapsed().as_secs_f64();
    store.close().await;
    println!("bench driver_tps {:.1}", done / secs);
    println!("bench driver_cpu_s_per_1000 {:.4}", cpu / done * 1000.0);
    if let Some(h) = latency {
        println!("bench driver_latency_mean_ms {:.3}", h.mean() / 1000.0);
        println!(
            "bench driver_latency_p99_ms {:.3}",
            h.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
    Ok(())
}
