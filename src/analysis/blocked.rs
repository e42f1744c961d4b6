//! Whether a migration blocked checkout: while its DDL ran — queued for its lock or holding it,
//! from `fault_apply_sent` to `fault_apply_done` — checkouts timed out (waited longer than the
//! request timeout) and the database monitor saw sessions waiting for a lock on it. That fails
//! a migration even when the alert rules' windows are too coarse to see a short stall.

use crate::results::{DbSample, EventKind, EventRow, WindowRow};

use super::FOCUS_OP;

/// The monitor's count of sessions waiting for a lock the DDL takes, per backend: PostgreSQL's
/// waiters on `orders`, MySQL's metadata-lock waits, SQLite's writers queued for the write lock.
pub const LOCK_WAIT_METRICS: [&str; 3] = ["locks_waiting_orders", "metadata_lock_waits", "writers_waiting"];

/// A stall of checkout behind a migration's lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    pub name: String,
    pub from_clock: String,
    pub to_clock: String,
    /// Real seconds the DDL ran.
    pub secs: f64,
    /// Checkouts that timed out in the windows that overlap it.
    pub timed_out: u64,
    /// The most sessions the monitor saw waiting for the lock meanwhile.
    pub waiters: f64,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "blocked: while {} ran ({} to {}, {:.1} s) up to {:.0} sessions waited for its lock and {} checkouts timed out",
            self.name, self.from_clock, self.to_clock, self.secs, self.waiters, self.timed_out
        )
    }
}

/// The first apply of a fault during which checkout was blocked, if any. `window_s` is the
/// windows' real length.
pub fn blocked(events: &[EventRow], windows: &[WindowRow], samples: &[DbSample], window_s: f64) -> Option<Blocked> {
    let mut applies = events.iter().filter(|e| e.kind == EventKind::FaultApplySent);
    applies.find_map(|sent| {
        let done = events
            .iter()
            .find(|e| e.kind == EventKind::FaultApplyDone && e.name == sent.name && e.t_s >= sent.t_s)?;
        let (from, to) = (sent.t_s, done.t_s);
        let timed_out: u64 = windows
            .iter()
            .filter(|w| w.op == FOCUS_OP && w.t_s > from && w.t_s - window_s < to + window_s)
            .map(|w| w.timed_out)
            .sum();
        let waiters = samples
            .iter()
            .filter(|s| s.t_s >= from && s.t_s <= to + window_s && LOCK_WAIT_METRICS.contains(&s.metric.as_str()))
            .map(|s| s.value)
            .fold(0.0, f64::max);
        (timed_out > 0 && waiters > 0.0).then(|| Blocked {
            name: sent.name.clone(),
            from_clock: sent.clock.clone(),
            to_clock: done.clock.clone(),
            secs: to - from,
            timed_out,
            waiters,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t_s: f64, kind: EventKind) -> EventRow {
        EventRow {
            t_s,
            clock: format!("t{t_s}"),
            kind,
            name: "m".into(),
            detail: String::new(),
        }
    }

    fn window(t_s: f64, timed_out: u64) -> WindowRow {
        WindowRow {
            t_s,
            op: "checkout".into(),
            timed_out,
            ..Default::default()
        }
    }

    fn sample(t_s: f64, metric: &str, value: f64) -> DbSample {
        DbSample {
            t_s,
            clock: String::new(),
            metric: metric.into(),
            value,
        }
    }

    #[test]
    fn timeouts_while_sessions_wait_for_the_ddls_lock_are_a_block() {
        let events = [
            event(10.0, EventKind::FaultApplySent),
            event(13.5, EventKind::FaultApplyDone),
        ];
        let windows = [
            window(10.0, 0),
            window(11.0, 0),
            window(12.0, 40),
            window(14.0, 3),
            window(20.0, 9),
        ];
        let waits = [
            sample(12.0, "locks_waiting_orders", 6.0),
            sample(30.0, "locks_waiting_orders", 50.0),
        ];
        let b = blocked(&events, &windows, &waits, 1.0).unwrap();
        assert_eq!((b.timed_out, b.waiters, b.secs), (43, 6.0, 3.5));
        assert!(
            b.to_string()
                .starts_with("blocked: while m ran (t10 to t13.5, 3.5 s) up to 6 sessions")
        );
    }

    #[test]
    fn timeouts_with_no_lock_waiters_or_waiters_with_no_timeouts_are_not() {
        let events = [
            event(10.0, EventKind::FaultApplySent),
            event(13.5, EventKind::FaultApplyDone),
        ];
        let timeouts = [window(12.0, 40)];
        let no_timeouts = [window(12.0, 0)];
        let waits = [sample(12.0, "locks_waiting_orders", 6.0)];
        let other = [sample(12.0, "sessions_active", 6.0)];
        assert_eq!(blocked(&events, &timeouts, &other, 1.0), None);
        assert_eq!(blocked(&events, &no_timeouts, &waits, 1.0), None);
        // Never applied: nothing ran to block anything.
        assert_eq!(blocked(&events[..1], &timeouts, &waits, 1.0), None);
    }
}
