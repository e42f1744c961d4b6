//! The generator must never be what limits the database. Measures, in one run, how many
//! arrivals per second one core can schedule, turn into requests and record (no database), against
//! the SQLite capacity for the checkout-peak mix (the baseline). Target: ratio ≥ 10.
//!
//! cargo bench --bench generator

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use outage_sim::metrics::{Outcome, Recorder};
use outage_sim::scenario::{LoadCurve, LoadUnit};
use outage_sim::traffic::{ArrivalSchedule, RequestFactory, measure_capacity};
use rand::SeedableRng;

#[tokio::main]
async fn main() {
    let scenario = common::scenario();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(common::store(&scenario, dir.path()).await);
    let requests = RequestFactory::new(&scenario);
    let capacity = measure_capacity(store, &requests, &scenario.mix, 16, Duration::from_secs(5), 1)
        .await
        .per_s;

    // Ten times the measured capacity, flat over the whole clock.
    let curve = LoadCurve {
        unit: LoadUnit::ArrivalsPerSecond,
        points: vec![(scenario.clock.start, capacity * 10.0)],
    };
    let recorder = Recorder::new();
    let start = Instant::now();
    let mut n = 0u64;
    for arrival in ArrivalSchedule::new(curve, scenario.clock.clone(), &scenario.mix, 7).take(2_000_000) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(arrival.seed);
        let request = requests.build(arrival.op, arrival.offset, &mut rng);
        std::hint::black_box(&request);
        recorder.offered(arrival.op, false);
        recorder.started(arrival.op);
        recorder.finished(arrival.op, Outcome::Ok, Duration::from_micros(1500));
        n += 1;
    }
    let generated = n as f64 / start.elapsed().as_secs_f64();
    println!("generator: SQLite capacity for the mix {capacity:.0} arrivals/s (baseline)");
    println!(
        "generator: schedule + request + record {generated:.0} arrivals/s on one core (ratio {:.1}, target ≥ 10)",
        generated / capacity
    );
}
