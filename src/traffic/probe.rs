//! The capacity probe: how many arrivals per second of the scenario's mix the store sustains.
//!
//! A short closed loop (each worker sends its next request as soon as the last one finishes),
//! so the store is saturated; the first fifth of the probe warms caches and is not counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::RequestFactory;
use crate::scenario::Mix;
use crate::store::Store;

/// Completed operations per second of `mix` with `workers` concurrent users for `length`.
pub async fn measure_capacity<S: Store>(
    store: Arc<S>,
    requests: &RequestFactory,
    mix: &Mix,
    workers: usize,
    length: Duration,
    seed: u64,
) -> f64 {
    let warmup = length / 5;
    let start = Instant::now();
    let (count_from, end) = (start + warmup, start + length);
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (store, requests, mix, done) = (store.clone(), requests.clone(), mix.clone(), done.clone());
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            while Instant::now() < end {
                let op = mix.pick(rng.random());
                let request = requests.build(op, Duration::ZERO, &mut rng);
                let ok = tokio::time::timeout_at(end, store.execute(&request, end))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if ok && Instant::now() >= count_from {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    done.load(Ordering::Relaxed) as f64 / (length - warmup).as_secs_f64()
}
