//! The per-window recorder: one HdrHistogram of latency and a set of counters per operation.
//!
//! Recording takes a short lock; at the end of each window the owner calls
//! [`Recorder::take_window_and_latency`]. A shopper's first attempt is filed in the window of its
//! intended start, not of the moment it was sent, so the same seed gives the same arrivals per
//! window however late a loaded machine sends them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::scenario::Op;

/// How an attempt that reached the database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    TimedOut,
}

/// One operation's figures for one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpWindow {
    /// Attempts in the window: first attempts intended in it, and retries sent in it.
    pub offered: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Arrivals rejected at once because `max_in_flight` was reached.
    pub dropped: u64,
    /// How many of `offered` were retries.
    pub retries: u64,
    /// Requests in flight at the end of the window.
    pub in_flight: i64,
    /// Shoppers (users) whose first attempt was intended in the window: `offered - retries`.
    pub shoppers: u64,
    /// Shoppers whose last attempt succeeded in the window.
    pub completed: u64,
    /// Shoppers who ran out of attempts in the window (for a checkout: could not buy).
    pub gave_up: u64,
    /// Latency percentiles in milliseconds of attempts that finished in the window
    /// (ok, failed or timed out), from their intended start; `None` when none finished.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

struct Accumulator {
    latency_us: Histogram<u64>,
    counts: OpWindow,
    /// First attempts by the window their intended start falls in (0 = the first), until taken.
    arrivals: BTreeMap<u64, u64>,
}

/// Shared by every request task; cheap to record into.
pub struct Recorder {
    ops: [Mutex<Accumulator>; 3],
    in_flight: [AtomicI64; 3],
    /// How late each user started against its intended start, over the whole run (µs).
    schedule_lag_us: Mutex<Histogram<u64>>,
    /// The windows' length, by which first attempts are filed.
    window: Duration,
    /// Every first attempt intended before this offset (ns since the start) has been recorded.
    arrived_before_ns: AtomicU64,
}

/// The generator's schedule lag (a user's actual start − its intended start), milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ScheduleLag {
    pub users: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Recorder {
    /// A recorder whose windows are `window` long from the run's start.
    pub fn new(window: Duration) -> Self {
        let acc = || {
            Mutex::new(Accumulator {
                latency_us: latency_histogram(),
                counts: OpWindow::default(),
                arrivals: BTreeMap::new(),
            })
        };
        Recorder {
            ops: [acc(), acc(), acc()],
            in_flight: Default::default(),
            schedule_lag_us: Mutex::new(latency_histogram()),
            window: window.max(Duration::from_nanos(1)),
            arrived_before_ns: AtomicU64::new(0),
        }
    }

    fn with<R>(&self, op: Op, f: impl FnOnce(&mut Accumulator) -> R) -> R {
        let mut acc = self.ops[op.index()].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut acc)
    }

    /// A shopper's first attempt, intended `intended` after the start (sent or dropped).
    pub fn arrived(&self, op: Op, intended: Duration) {
        let slot = (intended.as_nanos() / self.window.as_nanos()) as u64;
        self.with(op, |a| *a.arrivals.entry(slot).or_default() += 1);
    }

    /// Every first attempt intended before `offset` has been recorded (the sender's promise).
    pub fn all_arrived_before(&self, offset: Duration) {
        let ns = u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX);
        self.arrived_before_ns.store(ns, Ordering::Release);
    }

    /// Up to where the first attempts are complete: see [`Recorder::all_arrived_before`].
    pub fn arrived_before(&self) -> Duration {
        Duration::from_nanos(self.arrived_before_ns.load(Ordering::Acquire))
    }

    /// A shopper is done: it got what it came for, or ran out of attempts.
    pub fn shopper_done(&self, op: Op, completed: bool) {
        self.with(op, |a| match completed {
            true => a.counts.completed += 1,
            false => a.counts.gave_up += 1,
        });
    }

    /// A retry was sent (or dropped) now.
    pub fn retried(&self, op: Op) {
        self.with(op, |a| {
            a.counts.offered += 1;
            a.counts.retries += 1;
        });
    }

    pub fn dropped(&self, op: Op) {
        self.with(op, |a| a.counts.dropped += 1);
    }

    pub fn started(&self, op: Op) {
        self.in_flight[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt that was sent to the database ended, `latency` after its intended start.
    pub fn finished(&self, op: Op, outcome: Outcome, latency: Duration) {
        self.in_flight[op.index()].fetch_sub(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        self.with(op, |a| {
            a.latency_us.saturating_record(us);
            match outcome {
                Outcome::Ok => a.counts.ok += 1,
                Outcome::Failed => a.counts.failed += 1,
                Outcome::TimedOut => a.counts.timed_out += 1,
            }
        });
    }

    /// A user started `lag` after its intended start.
    pub fn schedule_lag(&self, lag: Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX).max(1);
        self.schedule_lag_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .saturating_record(us);
    }

    /// The schedule lag of every user so far.
    pub fn schedule_lag_so_far(&self) -> ScheduleLag {
        let h = self.schedule_lag_us.lock().unwrap_or_else(|p| p.into_inner());
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        ScheduleLag {
            users: h.len(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }

    /// Requests of every operation in flight now.
    pub fn total_in_flight(&self) -> i64 {
        self.in_flight.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// Everything recorded so far as one window (first attempts of every intended time).
    pub fn take_window(&self) -> [OpWindow; 3] {
        self.take_window_and_latency(Duration::MAX).map(|(w, _)| w)
    }

    /// Closes the window that ends `until` after the start: its figures per operation, with
    /// the first attempts intended before `until`, and each operation's latency histogram
    /// (microseconds) for the interval log and exact merges.
    pub fn take_window_and_latency(&self, until: Duration) -> [(OpWindow, Histogram<u64>); 3] {
        let window = self.window.as_nanos();
        let first_later = u64::try_from(until.as_nanos().div_ceil(window)).unwrap_or(u64::MAX);
        Op::ALL.map(|op| {
            self.with(op, |a| {
                let mut w = std::mem::take(&mut a.counts);
                let later = a.arrivals.split_off(&first_later);
                w.shoppers = std::mem::replace(&mut a.arrivals, later).values().sum();
                w.offered += w.shoppers;
                w.in_flight = self.in_flight[op.index()].load(Ordering::Relaxed);
                w.set_percentiles(&a.latency_us);
                let fresh = Histogram::new_from(&a.latency_us);
                (w, std::mem::replace(&mut a.latency_us, fresh))
            })
        })
    }
}

/// A latency histogram in microseconds, 1 µs to 1 hour at 3 significant digits: the one every
/// window records into, so windows (and shards) add exactly.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

impl OpWindow {
    /// p50, p95, p99 and max in milliseconds from a histogram in microseconds; `None` when empty.
    pub fn set_percentiles(&mut self, latency_us: &Histogram<u64>) {
        let h = latency_us;
        let ms = |us: u64| (!h.is_empty()).then(|| us as f64 / 1000.0);
        self.p50_ms = ms(h.value_at_quantile(0.50));
        self.p95_ms = ms(h.value_at_quantile(0.95));
        self.p99_ms = ms(h.value_at_quantile(0.99));
        self.max_ms = ms(h.max());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_outcome_once_and_resets_between_windows() {
        let r = Recorder::new(Duration::from_secs(1));
        for i in 0..100u64 {
            if i % 10 == 0 {
                r.retried(Op::Checkout);
            } else {
                r.arrived(Op::Checkout, Duration::from_millis(i));
            }
            r.started(Op::Checkout);
            let outcome = if i < 90 {
                Outcome::Ok
            } else if i < 95 {
                Outcome::Failed
            } else {
                Outcome::TimedOut
            };
            r.finished(Op::Checkout, outcome, Duration::from_millis(i + 1));
        }
        r.arrived(Op::Checkout, Duration::ZERO);
        r.dropped(Op::Checkout);
        r.arrived(Op::Browse, Duration::ZERO);
        r.started(Op::Browse);
        let [browse, checkout, report] = r.take_window();
        assert_eq!(
            (checkout.offered, checkout.ok, checkout.failed, checkout.timed_out),
            (101, 90, 5, 5)
        );
        assert_eq!((checkout.dropped, checkout.retries, checkout.in_flight), (1, 10, 0));
        assert!((checkout.p50_ms.unwrap() - 50.0).abs() < 0.1);
        assert!((checkout.p99_ms.unwrap() - 99.0).abs() < 0.1);
        assert!((checkout.max_ms.unwrap() - 100.0).abs() < 0.1);
        assert_eq!(browse.in_flight, 1);
        assert_eq!(browse.p99_ms, None);
        assert_eq!(report, OpWindow::default());
        let next = r.take_window();
        assert_eq!(next[1].offered, 0);
        assert_eq!(next[1].p99_ms, None);
        assert_eq!(next[0].in_flight, 1, "in flight carries over windows");
    }

    #[test]
    fn first_attempts_are_filed_by_their_intended_start_however_late_they_are_sent() {
        let r = Recorder::new(Duration::from_secs(1));
        r.arrived(Op::Checkout, Duration::from_millis(999));
        r.arrived(Op::Checkout, Duration::from_millis(1000));
        r.arrived(Op::Checkout, Duration::from_millis(2500));
        r.retried(Op::Checkout);
        let first = |w: [(OpWindow, Histogram<u64>); 3]| w[Op::Checkout.index()].0.clone();
        // The first window: the arrival at 0.999 s and the retry sent before it closed.
        assert_eq!(first(r.take_window_and_latency(Duration::from_secs(1))).offered, 2);
        // Sent late, recorded after the first window closed: each still in its own window.
        r.arrived(Op::Checkout, Duration::from_millis(1999));
        assert_eq!(first(r.take_window_and_latency(Duration::from_secs(2))).offered, 2);
        // The last window, cut short at 2.7 s, takes what was intended before its end.
        let last = first(r.take_window_and_latency(Duration::from_millis(2700)));
        assert_eq!((last.offered, last.retries), (1, 0));
    }
}
