//! The open-loop engine. Each arrival is sent at its intended time whatever earlier requests are
//! doing, and its latency is measured from that intended time, so queueing in the client counts
//! (no coordinated omission). A request over the shopper's timeout counts as timed out; the app
//! works on a checkout until its own timeout (`limits.app_timeout_ms`), since it never learns
//! that the shopper left; arrivals beyond `max_in_flight` are dropped at once; failed checkouts
//! are retried after a backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::admission::Guards;
use super::{Arrival, RequestFactory};
use crate::metrics::{Outcome, Recorder};
use crate::scenario::{Limits, Op};
use crate::store::{Request, Store};

/// How shoppers retry a checkout that failed, timed out or was dropped.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub retries: u32,
    /// Mean wait before a retry; each wait is jittered ±50%.
    pub backoff: Duration,
}

/// Sends arrivals to a store and records what happened.
pub struct Engine<S> {
    store: Arc<S>,
    recorder: Arc<Recorder>,
    requests: RequestFactory,
    /// The shopper's timeout: after it the attempt has failed, whatever the app goes on doing.
    timeout: Duration,
    /// The app's own timeout: it stops working on a checkout then.
    app_timeout: Duration,
    max_in_flight: usize,
    retry: RetryPolicy,
    stopping: AtomicBool,
    /// Users whose last attempt has not ended yet (in flight or waiting to retry).
    users: AtomicI64,
    /// Requests the app still works on after their shoppers timed out: they hold their place in
    /// the database's queues and count against `max_in_flight`.
    orphans: AtomicI64,
    /// The app's retry budget, retries switched off, load shedding at the door: from the
    /// scenario's `[limits]`, or switched on mid-run (the AppSink, a trainee).
    guards: Arc<Guards>,
}

impl<S: Store> Engine<S> {
    pub fn new(
        store: Arc<S>,
        recorder: Arc<Recorder>,
        requests: RequestFactory,
        limits: &Limits,
        retry: RetryPolicy,
    ) -> Arc<Self> {
        Arc::new(Engine {
            store,
            recorder,
            requests,
            timeout: limits.request_timeout,
            app_timeout: limits.app_timeout,
            max_in_flight: limits.max_in_flight,
            retry,
            stopping: AtomicBool::new(false),
            users: AtomicI64::new(0),
            orphans: AtomicI64::new(0),
            guards: Arc::new(Guards::new(limits.retry_budget)),
        })
    }

    /// The app's guards, to switch on while the run goes.
    pub fn guards(&self) -> Arc<Guards> {
        self.guards.clone()
    }

    /// Sends every arrival of `schedule` at `start + arrival.offset`; returns when the schedule
    /// is exhausted or [`Engine::stop`] was called. Requests still in flight go on.
    pub async fn drive(self: &Arc<Self>, schedule: impl Iterator<Item = Arrival>, start: Instant) {
        let mut pacer = super::pacer::Pacer::new();
        let mut now = Instant::now();
        for arrival in schedule {
            if self.stopping.load(Ordering::Relaxed) {
                break;
            }
            // Arrivals come in time order: every one before this is recorded.
            self.recorder.all_arrived_before(arrival.offset);
            let intended = start + arrival.offset;
            let wake = pacer.aim(intended);
            if wake > now {
                now = Instant::now(); // read the clock only when the last reading is too early
                if wake > now {
                    pacer.sleep_until(wake).await;
                    now = Instant::now();
                }
            }
            self.recorder.arrived(arrival.op, arrival.offset);
            let this = Arc::clone(self);
            self.users.fetch_add(1, Ordering::Relaxed);
            // Boxed: the task then moves a pointer, not the whole user's state, as it is spawned.
            tokio::spawn(Box::pin(async move {
                this.user(arrival, intended).await;
                this.users.fetch_sub(1, Ordering::Relaxed);
            }));
        }
        self.recorder.all_arrived_before(Duration::MAX);
    }

    /// No new arrivals or retries from now on.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Stops, then waits (at most `limit`) for every user to finish: requests in flight end or
    /// time out, and users waiting to retry give up when they wake.
    pub async fn drain(&self, limit: Duration) {
        self.stop();
        let deadline = Instant::now() + limit;
        while self.users.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// One user: an attempt, and for a checkout, retries after a backoff while it fails.
    async fn user(self: &Arc<Self>, arrival: Arrival, first_intended: Instant) {
        let started = Instant::now();
        self.recorder
            .schedule_lag(started.saturating_duration_since(first_intended));
        // Latency counts from the intended start (so a late start counts, as queueing), or from
        // the real start when the pacer started this user early: never shorter than the request took.
        let first_intended = first_intended.min(started);
        let mut rng = SmallRng::seed_from_u64(arrival.seed);
        let request = Arc::new(self.requests.build(arrival.op, arrival.offset, &mut rng));
        let attempts = if arrival.op == Op::Checkout {
            1 + self.retry.retries
        } else {
            1
        };
        let mut intended = first_intended;
        for attempt in 0..attempts {
            if attempt > 0 {
                let jitter = rng.random_range(0.5..1.5);
                intended = Instant::now() + self.retry.backoff.mul_f64(jitter);
                tokio::time::sleep_until(intended).await;
                if self.stopping.load(Ordering::Relaxed) {
                    return;
                }
                // Retries off, or over the budget: no retry; the shopper gets the failure and leaves.
                if !self.guards.may_retry(intended) {
                    break;
                }
            }
            if self.attempt(arrival.op, &request, intended, attempt > 0).await == Some(Outcome::Ok) {
                return self.recorder.shopper_done(arrival.op, true);
            }
        }
        self.recorder.shopper_done(arrival.op, false);
    }

    /// One attempt; `None` when it was dropped at the door.
    async fn attempt(
        self: &Arc<Self>,
        op: Op,
        request: &Arc<Request>,
        intended: Instant,
        retry: bool,
    ) -> Option<Outcome> {
        if retry {
            self.recorder.retried(op); // a first attempt was recorded when it was due
        } else if self.guards.budget.is_on() {
            self.guards.budget.request(intended);
        }
        // The clock is read only while shedding: this runs for every attempt.
        let shed = &self.guards.shed;
        if shed.shedding() && !shed.admit(op, Instant::now()) {
            self.recorder.dropped(op);
            return None;
        }
        let in_flight = self.recorder.total_in_flight() + self.orphans.load(Ordering::Relaxed);
        if in_flight >= self.max_in_flight as i64 {
            self.recorder.dropped(op);
            return None;
        }
        self.recorder.started(op);
        // Reads stop with the shopper (their deadline reaches the database: SQLite interrupts a
        // report). Left to run on, reports starved the readers after the rollback's drops.
        let app_timeout = if op == Op::Checkout {
            self.app_timeout
        } else {
            self.timeout
        };
        let app_deadline = intended + app_timeout;
        let (this, request) = (Arc::clone(self), Arc::clone(request));
        let mut work =
            Box::pin(
                async move { tokio::time::timeout_at(app_deadline, this.store.execute(&request, app_deadline)).await },
            );
        let outcome = match tokio::time::timeout_at(intended + self.timeout, &mut work).await {
            Ok(Ok(Ok(()))) => Outcome::Ok,
            Ok(Ok(Err(_))) => Outcome::Failed,
            Ok(Err(_)) | Err(_) => Outcome::TimedOut,
        };
        self.recorder.finished(op, outcome, intended.elapsed());
        if outcome == Outcome::TimedOut && app_timeout > self.timeout {
            let this = Arc::clone(self);
            this.orphans.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = work.await;
                this.orphans.fetch_sub(1, Ordering::Relaxed);
            });
        }
        Some(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::store::{Request, StoreError};

    /// A store whose every request takes a fixed time, one at a time (a single writer).
    struct SlowStore {
        service: Duration,
        lock: tokio::sync::Mutex<()>,
        /// Requests it served to the end.
        served: AtomicI64,
    }

    impl Store for SlowStore {
        fn dialect(&self) -> &'static str {
            "fake"
        }
        async fn execute(&self, _: &Request, _: Instant) -> Result<(), StoreError> {
            let _held = self.lock.lock().await;
            tokio::time::sleep(self.service).await;
            self.served.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        async fn run_ddl(&self, _: &str, _: Option<Duration>, _: &(dyn Fn(Instant) + Sync)) -> Result<(), sqlx::Error> {
            Ok(())
        }
        async fn bookkeeping(&self, _: &str, _: Vec<crate::store::Param>) -> Result<Vec<Vec<String>>, sqlx::Error> {
            Ok(Vec::new())
        }
        async fn is_prepared(&self) -> Result<bool, sqlx::Error> {
            Ok(true)
        }
        async fn sample(&self) -> Vec<(String, f64)> {
            Vec::new()
        }
        async fn close(&self) {}
        type Session = ();
        async fn session_id(&self, _: &mut ()) -> Result<Option<i64>, sqlx::Error> {
            Ok(None)
        }
        async fn open_session(&self) -> Result<(), sqlx::Error> {
            Ok(())
        }
        async fn run_in_session(&self, _: &mut (), _: &str) -> Result<(), sqlx::Error> {
            Ok(())
        }
        async fn record_applied(&self, _: &str, _: Option<&str>) -> Result<(), sqlx::Error> {
            Ok(())
        }
        async fn left_applied(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
            Ok(Vec::new())
        }
    }

    fn factory() -> RequestFactory {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/smoke.toml");
        RequestFactory::new(&Scenario::load(&path).unwrap())
    }

    fn arrivals(n: u32, every: Duration, op: Op) -> Vec<Arrival> {
        (0..n)
            .map(|i| Arrival {
                offset: every * i,
                op,
                seed: u64::from(i),
            })
            .collect()
    }

    fn engine(
        service_ms: u64,
        timeout_ms: u64,
        max_in_flight: usize,
        retries: u32,
    ) -> (Arc<Engine<SlowStore>>, Arc<Recorder>) {
        app_engine(service_ms, timeout_ms, timeout_ms, max_in_flight, retries)
    }

    /// An engine whose app works on a request until `app_timeout_ms`.
    fn app_engine(
        service_ms: u64,
        timeout_ms: u64,
        app_timeout_ms: u64,
        max_in_flight: usize,
        retries: u32,
    ) -> (Arc<Engine<SlowStore>>, Arc<Recorder>) {
        let store = Arc::new(SlowStore {
            service: Duration::from_millis(service_ms),
            lock: Default::default(),
            served: AtomicI64::new(0),
        });
        let recorder = Arc::new(Recorder::new(Duration::from_secs(3600)));
        let retry = RetryPolicy {
            retries,
            backoff: Duration::from_millis(100),
        };
        let limits = Limits {
            pool_size: 8,
            request_timeout: Duration::from_millis(timeout_ms),
            app_timeout: Duration::from_millis(timeout_ms.max(app_timeout_ms)),
            pool_wait: Duration::from_millis(timeout_ms),
            max_in_flight,
            retry_budget: None,
            shed_at_alert: false,
        };
        let e = Engine::new(store, recorder.clone(), factory(), &limits, retry);
        (e, recorder)
    }

    #[tokio::test(start_paused = true)]
    async fn latency_counts_queueing_from_the_intended_start() {
        // 10 arrivals at once on a store that serves one per 10 ms: the last waits ~100 ms.
        let (e, rec) = engine(10, 10_000, 100, 0);
        e.drive(arrivals(10, Duration::ZERO, Op::Browse).into_iter(), Instant::now())
            .await;
        e.drain(Duration::from_secs(5)).await;
        let w = &rec.take_window()[Op::Browse.index()];
        assert_eq!((w.offered, w.ok), (10, 10));
        assert!((w.max_ms.unwrap() - 100.0).abs() < 2.0, "max {:?}", w.max_ms);
        assert!((w.p50_ms.unwrap() - 50.0).abs() < 11.0, "p50 {:?}", w.p50_ms);
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_started_late_counts_the_lateness_and_one_started_early_its_whole_request() {
        // Served in 10 ms. Started 100 ms after its intended time: latency 110 ms, lag 100 ms.
        let (e, rec) = engine(10, 10_000, 100, 0);
        let arrival = arrivals(1, Duration::ZERO, Op::Browse)[0];
        e.user(arrival, Instant::now() - Duration::from_millis(100)).await;
        let w = &rec.take_window()[Op::Browse.index()];
        assert!((w.max_ms.unwrap() - 110.0).abs() < 1.0, "late: max {:?}", w.max_ms);
        assert!((rec.schedule_lag_so_far().p99_ms - 100.0).abs() < 1.0);
        // Started 0.4 ms before its intended time: latency is the whole 10 ms, not 9.6.
        e.user(arrival, Instant::now() + Duration::from_micros(400)).await;
        let w = &rec.take_window()[Op::Browse.index()];
        assert!((w.max_ms.unwrap() - 10.0).abs() < 0.05, "early: max {:?}", w.max_ms);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_time_out_and_the_overflow_is_dropped() {
        // 20 at once, 100 ms each, timeout 250 ms, at most 5 in flight: 5 admitted, 15 dropped;
        // of the 5, two finish (100, 200 ms) and three time out.
        let (e, rec) = engine(100, 250, 5, 0);
        e.drive(arrivals(20, Duration::ZERO, Op::Browse).into_iter(), Instant::now())
            .await;
        e.drain(Duration::from_secs(5)).await;
        let w = &rec.take_window()[Op::Browse.index()];
        assert_eq!((w.offered, w.dropped, w.ok, w.timed_out), (20, 15, 2, 3));
        assert_eq!((w.shoppers, w.completed, w.gave_up), (20, 2, 18));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_checkouts_are_retried_and_counted_as_offered() {
        // Every checkout times out (1 s service, 100 ms timeout); with 2 retries each of the 3
        // users makes 3 attempts.
        let (e, rec) = engine(1000, 100, 100, 2);
        e.drive(
            arrivals(3, Duration::from_millis(1), Op::Checkout).into_iter(),
            Instant::now(),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        e.drain(Duration::from_secs(5)).await;
        let w = &rec.take_window()[Op::Checkout.index()];
        assert_eq!(e.users.load(Ordering::Relaxed), 0);
        assert_eq!((w.offered, w.retries, w.timed_out), (9, 6, 9));
        assert_eq!((w.shoppers, w.completed, w.gave_up), (3, 0, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_app_works_on_for_shoppers_who_timed_out_and_their_requests_hold_their_place() {
        // Three at once and one at 60 ms, 100 ms each, shoppers' timeout 50 ms, at most 3 in
        // flight. The app that stops with the shopper serves none; the app that works on (1 s)
        // serves the three for nobody, and they keep the fourth out.
        let mut schedule = arrivals(3, Duration::ZERO, Op::Checkout);
        schedule.push(Arrival {
            offset: Duration::from_millis(60),
            op: Op::Checkout,
            seed: 9,
        });
        for (app_timeout_ms, served, dropped) in [(50, 0, 0), (1000, 3, 1)] {
            let (e, rec) = app_engine(100, 50, app_timeout_ms, 3, 0);
            e.drive(schedule.clone().into_iter(), Instant::now()).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let w = &rec.take_window()[Op::Checkout.index()];
            assert_eq!((w.ok, w.dropped), (0, dropped), "app timeout {app_timeout_ms} ms");
            assert_eq!(
                e.store.served.load(Ordering::Relaxed),
                served,
                "app timeout {app_timeout_ms} ms"
            );
            assert_eq!(e.orphans.load(Ordering::Relaxed), 0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shopper_retries_after_the_timeout_while_the_app_works_on() {
        // 1 s service, 100 ms timeout, the app works on for 5 s: the retry comes 50-150 ms after
        // the timeout, not after the app gave up.
        let (e, rec) = app_engine(1000, 100, 5000, 100, 1);
        e.drive(arrivals(1, Duration::ZERO, Op::Checkout).into_iter(), Instant::now())
            .await;
        tokio::time::sleep(Duration::from_millis(260)).await;
        let w = &rec.take_window()[Op::Checkout.index()];
        assert_eq!((w.offered, w.retries), (2, 1), "retried by 260 ms");
        assert!(w.timed_out >= 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_budget_sends_retries_only_up_to_its_share_of_requests() {
        // 20 checkouts that all time out, two retries each: without a budget 40 retries; with
        // 10% of 20 requests, two, and every shopper leaves.
        for (budget, retries) in [(None, 40), (Some(0.1), 2)] {
            let (e, rec) = engine(1000, 100, 1000, 2);
            if let Some(share) = budget {
                e.guards().budget.set(share);
            }
            e.drive(
                arrivals(20, Duration::from_millis(1), Op::Checkout).into_iter(),
                Instant::now(),
            )
            .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            e.drain(Duration::from_secs(5)).await;
            let w = &rec.take_window()[Op::Checkout.index()];
            assert_eq!((w.offered, w.retries), (20 + retries, retries), "budget {budget:?}");
            assert_eq!((w.shoppers, w.gave_up), (20, 20));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_switched_off_while_shoppers_wait_to_retry_are_not_sent() {
        // 20 checkouts sent over 20 ms, each timing out after 100 ms; retries are switched off at
        // 130 ms, while every shopper waits out its backoff (50–150 ms): none retries.
        let (e, rec) = engine(1000, 100, 1000, 2);
        let driving = e.drive(
            arrivals(20, Duration::from_millis(1), Op::Checkout).into_iter(),
            Instant::now(),
        );
        let guards = e.guards();
        let switch = async {
            tokio::time::sleep(Duration::from_millis(130)).await;
            guards.retries_off();
        };
        tokio::join!(driving, switch);
        tokio::time::sleep(Duration::from_secs(5)).await;
        e.drain(Duration::from_secs(5)).await;
        let w = &rec.take_window()[Op::Checkout.index()];
        assert_eq!((w.offered, w.retries, w.gave_up), (20, 0, 20));
    }

    #[tokio::test(start_paused = true)]
    async fn once_a_shed_limit_is_set_arrivals_over_it_get_a_503_at_once() {
        // 1,000 checkouts a second for a second on a fast store, shed to 100 a second.
        let (e, rec) = engine(0, 1000, 10_000, 0);
        e.guards().shed.limit(Op::Checkout, 100.0, Instant::now());
        e.drive(
            arrivals(1000, Duration::from_millis(1), Op::Checkout).into_iter(),
            Instant::now(),
        )
        .await;
        e.drain(Duration::from_secs(5)).await;
        let w = &rec.take_window()[Op::Checkout.index()];
        assert_eq!(w.ok + w.dropped, 1000);
        assert!((105..=115).contains(&w.ok), "admitted {}", w.ok);
    }

    #[tokio::test(start_paused = true)]
    async fn arrivals_are_sent_on_schedule_even_when_the_store_is_stuck() {
        // A store that takes an hour: the generator must still send all 50 within 50 ms.
        let (e, rec) = engine(3_600_000, 100, 1000, 0);
        let start = Instant::now();
        e.drive(arrivals(50, Duration::from_millis(1), Op::Browse).into_iter(), start)
            .await;
        assert!(start.elapsed() < Duration::from_millis(60));
        tokio::time::sleep(Duration::from_millis(1)).await; // let the last spawned user run
        assert_eq!(rec.take_window()[Op::Browse.index()].offered, 50);
    }
}
