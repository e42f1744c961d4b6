//! The per-window recorder: one HdrHistogram of latency and a set of counters per operation.
//!
//! Recording takes a short lock and touches only preallocated memory, so the hot path does not
//! allocate; at the end of each window the owner calls [`Recorder::take_window`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
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
    /// Attempts that arrived in the window, retries included.
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
}

/// Shared by every request task; cheap to record into.
pub struct Recorder {
    ops: [Mutex<Accumulator>; 3],
    in_flight: [AtomicI64; 3],
    /// How late each user started against its intended start, over the whole run (µs).
    schedule_lag_us: Mutex<Histogram<u64>>,
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

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        let acc = || {
            Mutex::new(Accumulator {
                latency_us: latency_histogram(),
                counts: OpWindow::default(),
            })
        };
        Recorder {
            ops: [acc(), acc(), acc()],
            in_flight: Default::default(),
            schedule_lag_us: Mutex::new(latency_histogram()),
        }
    }

    fn with<R>(&self, op: Op, f: impl FnOnce(&mut Accumulator) -> R) -> R {
        let mut acc = self.ops[op.index()].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut acc)
    }

    /// An attempt arrived (sent or dropped).
    pub fn offered(&self, op: Op, is_retry: bool) {
        self.with(op, |a| {
            a.counts.offered += 1;
            a.counts.retries += u64::from(is_retry);
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

    /// Closes the current window: returns its figures per operation and starts a new one.
    pub fn take_window(&self) -> [OpWindow; 3] {
        self.take_window_and_latency().map(|(w, _)| w)
    }

    /// As [`Recorder::take_window`], with each operation's latency histogram (microseconds)
    /// of the window, for the interval log and exact merges.
    pub fn take_window_and_latency(&self) -> [(OpWindow, Histogram<u64>); 3] {
        Op::ALL.map(|op| {
            self.with(op, |a| {
                let mut w = std::mem::take(&mut a.counts);
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
        let r = Recorder::new();
        for i in 0..100u64 {
            r.offered(Op::Checkout, i % 10 == 0);
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
        r.offered(Op::Checkout, false);
        r.dropped(Op::Checkout);
        r.offered(Op::Browse, false);
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
}
