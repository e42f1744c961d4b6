//! The app's own guards in front of the database: a retry budget (retries only while they are
//! a small share of the requests, as Finagle's `RetryBudget` and gRPC's retry throttling do)
//! and load shedding (admit at most a set rate, as an adaptive concurrency or rate limiter
//! does). Both read tokio's clock, so tests run them on a paused one.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::scenario::Op;

/// How far back a retry budget counts requests and retries (Finagle's default TTL).
const BUDGET_SPAN: Duration = Duration::from_secs(10);
/// The budget's buckets: one a second over the span.
const BUDGET_BUCKET: Duration = Duration::from_secs(1);

/// The app's guards a run can switch on while it runs: the scenario's keys set them at the
/// start, a trainee's `retries off`, `retry-budget P` and `shed` later.
#[derive(Default)]
pub struct Guards {
    /// No retry is sent: a failed checkout's shopper leaves.
    retries_off: AtomicBool,
    pub budget: RetryBudget,
    pub shed: Shedder,
}

impl Guards {
    pub fn new(retry_budget: Option<f64>) -> Self {
        let guards = Guards::default();
        if let Some(share) = retry_budget {
            guards.budget.set(share);
        }
        guards
    }

    pub fn retries_off(&self) {
        self.retries_off.store(true, Ordering::Relaxed);
    }

    /// Whether a retry may be sent now (counted against the budget when one is on).
    pub fn may_retry(&self, now: Instant) -> bool {
        !self.retries_off.load(Ordering::Relaxed) && (!self.budget.is_on() || self.budget.try_retry(now))
    }
}

/// Retries allowed only while the retries sent over the last [`BUDGET_SPAN`] are under `share`
/// of the first attempts sent over it. Off (counting nothing) until a share is set.
#[derive(Default)]
pub struct RetryBudget {
    /// The share's bits; read only while `on`.
    share: AtomicU64,
    on: AtomicBool,
    /// (bucket start, first attempts, retries), oldest first.
    buckets: Mutex<VecDeque<(Instant, u64, u64)>>,
}

impl RetryBudget {
    pub fn new(share: f64) -> Self {
        let budget = RetryBudget::default();
        budget.set(share);
        budget
    }

    /// From now on retries are budgeted at `share` (counting from now when it was off).
    pub fn set(&self, share: f64) {
        self.share.store(share.to_bits(), Ordering::Relaxed);
        self.on.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// A first attempt was sent.
    pub fn request(&self, now: Instant) {
        self.count(now, |b| b.1 += 1);
    }

    /// Whether a retry may be sent now; counts it when it may.
    pub fn try_retry(&self, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        Self::expire(&mut buckets, now);
        let (requests, retries) = buckets.iter().fold((0, 0), |(q, r), b| (q + b.1, r + b.2));
        let share = f64::from_bits(self.share.load(Ordering::Relaxed));
        let allowed = ((retries + 1) as f64) <= share * requests as f64;
        if allowed {
            Self::bucket(&mut buckets, now).2 += 1;
        }
        allowed
    }

    fn count(&self, now: Instant, add: impl FnOnce(&mut (Instant, u64, u64))) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        Self::expire(&mut buckets, now);
        add(Self::bucket(&mut buckets, now));
    }

    fn expire(buckets: &mut VecDeque<(Instant, u64, u64)>, now: Instant) {
        while buckets.front().is_some_and(|b| now.duration_since(b.0) >= BUDGET_SPAN) {
            buckets.pop_front();
        }
    }

    fn bucket(buckets: &mut VecDeque<(Instant, u64, u64)>, now: Instant) -> &mut (Instant, u64, u64) {
        if buckets.back().is_none_or(|b| now.duration_since(b.0) >= BUDGET_BUCKET) {
            buckets.push_back((now, 0, 0));
        }
        buckets.back_mut().expect("just pushed")
    }
}

/// A token bucket per operation; unlimited until a rate is set.
#[derive(Default)]
pub struct Shedder {
    /// Set with the first limit, so requests pass without a lock until then.
    on: AtomicBool,
    buckets: Mutex<[Option<Bucket>; Op::ALL.len()]>,
}

struct Bucket {
    per_s: f64,
    tokens: f64,
    last: Instant,
}

impl Shedder {
    /// From now on admit at most `per_s` requests a second of `op` (bursts up to a tenth of a
    /// second's worth).
    pub fn limit(&self, op: Op, per_s: f64, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets[op.index()] = Some(Bucket {
            per_s,
            tokens: burst(per_s),
            last: now,
        });
        self.on.store(true, Ordering::Relaxed);
    }

    /// Whether a request of `op` is admitted now.
    pub fn admit(&self, op: Op, now: Instant) -> bool {
        if !self.on.load(Ordering::Relaxed) {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = buckets[op.index()].as_mut() else {
            return true;
        };
        let refill = now.saturating_duration_since(b.last).as_secs_f64() * b.per_s;
        b.tokens = (b.tokens + refill).min(burst(b.per_s));
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether any limit is set.
    pub fn shedding(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }
}

fn burst(per_s: f64) -> f64 {
    (per_s / 10.0).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_budget_allows_retries_up_to_its_share_of_recent_requests() {
        let budget = RetryBudget::new(0.1);
        let t0 = Instant::now();
        for _ in 0..100 {
            budget.request(t0);
        }
        let allowed = (0..50).filter(|_| budget.try_retry(t0)).count();
        assert_eq!(allowed, 10, "10% of 100 requests");
        // Ten seconds on, the old requests no longer count: no retry without new requests.
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!budget.try_retry(Instant::now()));
        for _ in 0..20 {
            budget.request(Instant::now());
        }
        assert_eq!((0..10).filter(|_| budget.try_retry(Instant::now())).count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shed_limit_admits_its_rate_and_nothing_is_shed_before_it() {
        let shed = Shedder::default();
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| shed.admit(Op::Checkout, t0)), "no limit yet");
        shed.limit(Op::Checkout, 100.0, t0);
        assert!(shed.shedding());
        // 1,000 attempts a second for 10 s, one every millisecond: about 100 a second pass.
        let mut admitted = 0;
        for ms in 0..10_000u64 {
            let now = t0 + Duration::from_millis(ms);
            admitted += u32::from(shed.admit(Op::Checkout, now));
        }
        assert!((995..=1_010).contains(&admitted), "{admitted}");
        assert!(shed.admit(Op::Browse, t0), "other operations are not limited");
    }

    #[tokio::test(start_paused = true)]
    async fn guards_switched_on_mid_run_stop_or_budget_the_retries_from_then_on() {
        let guards = Guards::new(None);
        let t0 = Instant::now();
        assert!((0..100).all(|_| guards.may_retry(t0)), "no guard yet");
        guards.budget.set(0.1);
        (0..100).for_each(|_| guards.budget.request(t0));
        assert_eq!((0..50).filter(|_| guards.may_retry(t0)).count(), 10);
        guards.retries_off();
        tokio::time::advance(Duration::from_secs(11)).await;
        (0..100).for_each(|_| guards.budget.request(Instant::now()));
        assert!(!guards.may_retry(Instant::now()), "retries are off");
    }
}
