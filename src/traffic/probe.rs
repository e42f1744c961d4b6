//! The capacity probe: how many arrivals per second of the scenario's mix the store sustains.
//!
//! A short closed loop (each worker sends its next request as soon as the last one finishes),
//! so the store is saturated; the first fifth of the probe warms caches and is not counted.
//! A probe that completed too little has measured nothing, and says why.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::RequestFactory;
use crate::scenario::Mix;
use crate::store::{Store, StoreError};

/// Fewer completions than this in the counted part of a probe is no measurement.
pub const MIN_COMPLETIONS: u64 = 50;

/// What a probe saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// Completed operations per second in the counted part.
    pub per_s: f64,
    pub completed: u64,
    /// Requests that failed or timed out, by kind of error.
    pub errors: BTreeMap<String, u64>,
}

/// The probe could not measure a capacity.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the capacity probe completed {completed} requests in {secs:.1} s (at least {MIN_COMPLETIONS} are needed to measure a capacity); {errors}"
)]
pub struct ProbeFailed {
    pub completed: u64,
    pub secs: f64,
    pub errors: String,
}

impl Probe {
    /// The capacity, or why there is none: too few completions, by the errors seen.
    pub fn capacity(&self, length: Duration) -> Result<f64, ProbeFailed> {
        if self.completed >= MIN_COMPLETIONS && self.per_s > 0.0 {
            return Ok(self.per_s);
        }
        let mut errors: Vec<(&String, &u64)> = self.errors.iter().collect();
        errors.sort_by(|a, b| b.1.cmp(a.1));
        let errors = if errors.is_empty() {
            "no request failed or hung: the probe was too short for this store".to_string()
        } else {
            let seen: Vec<String> = errors.iter().take(4).map(|(k, n)| format!("{n} × {k}")).collect();
            format!("errors seen: {}", seen.join("; "))
        };
        Err(ProbeFailed {
            completed: self.completed,
            secs: length.as_secs_f64(),
            errors,
        })
    }
}

/// The kind of a request's error, without the parts that differ from one request to another.
fn kind(e: &StoreError) -> String {
    let inner = match e {
        StoreError::Busy(e) => return format!("database busy ({})", first_line(&e.to_string())),
        StoreError::Other(e) => e,
    };
    match inner {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("database error {code}: {}", first_line(db.message())),
            None => format!("database error: {}", first_line(db.message())),
        },
        sqlx::Error::PoolTimedOut => "no pool connection in time".into(),
        sqlx::Error::Io(io) => format!("I/O error: {}", io.kind()),
        other => first_line(&other.to_string()),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(160).collect()
}

/// The capacity a scenario's load is a fraction of, from a probe of its mix on `store` (with a
/// spinner); `None` when the load is a rate. A probe that measured nothing is an error.
pub async fn capacity_for<S: Store>(
    store: &Arc<S>,
    scenario: &crate::scenario::Scenario,
) -> anyhow::Result<Option<f64>> {
    if scenario.load.unit != crate::scenario::LoadUnit::Capacity {
        return Ok(None);
    }
    let capacity = closed_loop(store, scenario).await?;
    eprintln!("measured capacity: {capacity:.0} arrivals/s of the scenario's mix");
    Ok(Some(capacity))
}

/// Completed operations per second of the scenario's mix with twice its pool of users in a
/// closed loop for its `probe_ms`.
pub async fn closed_loop<S: Store>(store: &Arc<S>, scenario: &crate::scenario::Scenario) -> anyhow::Result<f64> {
    let length = scenario.run.probe;
    let spinner = crate::progress::spinner(format!("measuring capacity for {:.1} s", length.as_secs_f64()));
    let workers = (scenario.limits.pool_size as usize * 2).max(4);
    let requests = RequestFactory::new(scenario);
    let probe = measure_capacity(
        store.clone(),
        &requests,
        &scenario.mix,
        workers,
        length,
        scenario.run.seed,
    )
    .await;
    spinner.finish_and_clear();
    tracing::info!(
        "capacity probe: {} completed, errors {:?}",
        probe.completed,
        probe.errors
    );
    Ok(probe.capacity(length)?)
}

/// Completed operations per second of `mix` with `workers` concurrent users for `length`.
pub async fn measure_capacity<S: Store>(
    store: Arc<S>,
    requests: &RequestFactory,
    mix: &Mix,
    workers: usize,
    length: Duration,
    seed: u64,
) -> Probe {
    let warmup = length / 5;
    let start = Instant::now();
    let (count_from, end) = (start + warmup, start + length);
    // Completions on an atomic (every request); errors, which are rare, under a lock.
    let completed = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (store, requests, mix) = (store.clone(), requests.clone(), mix.clone());
        let (completed, errors) = (completed.clone(), errors.clone());
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            while Instant::now() < end {
                let op = mix.pick(rng.random());
                let request = requests.build(op, Duration::ZERO, &mut rng);
                let error = match tokio::time::timeout_at(end, store.execute(&request, end)).await {
                    Ok(Ok(())) => {
                        if Instant::now() >= count_from {
                            completed.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                    Ok(Err(e)) => kind(&e),
                    Err(_) => "still running when the probe ended".to_string(),
                };
                *errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(error)
                    .or_default() += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let completed = completed.load(Ordering::Relaxed);
    Probe {
        per_s: completed as f64 / (length - warmup).as_secs_f64(),
        completed,
        errors: std::mem::take(&mut *errors.lock().unwrap_or_else(|p| p.into_inner())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_that_completed_too_little_names_its_errors_by_kind() {
        let probe = Probe {
            per_s: 0.0,
            completed: 0,
            errors: BTreeMap::from([
                ("database error 42P01: relation \"orders\" does not exist".into(), 812),
                ("no pool connection in time".into(), 3),
            ]),
        };
        let e = probe.capacity(Duration::from_secs(3)).unwrap_err().to_string();
        assert!(e.contains("completed 0 requests"), "{e}");
        assert!(e.contains("812 × database error 42P01"), "{e}");
        assert!(
            e.find("812").unwrap() < e.find("3 × no pool").unwrap(),
            "most frequent first: {e}"
        );
        let few = Probe {
            per_s: 4.0,
            completed: 12,
            errors: BTreeMap::new(),
        };
        assert!(few.capacity(Duration::from_secs(3)).is_err());
        let fine = Probe {
            per_s: 900.0,
            completed: 2400,
            errors: BTreeMap::new(),
        };
        assert_eq!(fine.capacity(Duration::from_secs(3)), Ok(900.0));
    }
}
