//! The injector: applies and rolls back faults on the incident clock, records when each DDL was
//! sent, got its lock and finished, and always rolls back what it applied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::results::{EventKind, EventLog};
use crate::scenario::LockGuard;
use crate::store::{Store, is_lock_timeout};

use super::Fault;

/// One action on the fault timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum TimelineStep {
    Apply {
        at: Duration,
        fault: Fault,
        guard: Option<LockGuard>,
    },
    Rollback {
        at: Duration,
        name: String,
    },
}

impl TimelineStep {
    fn at(&self) -> Duration {
        match self {
            TimelineStep::Apply { at, .. } | TimelineStep::Rollback { at, .. } => *at,
        }
    }
}

/// Applies faults to one store. A fault is listed as applied from the moment its DDL is sent
/// (an interrupted build may still finish in the database) until its rollback is done, so
/// rollbacks must be idempotent (`DROP INDEX IF EXISTS`).
pub struct Injector<S> {
    store: Arc<S>,
    events: Arc<EventLog>,
    /// With the guard its rollback uses too.
    applied: Mutex<Vec<(Fault, Option<LockGuard>)>>,
}

impl<S: Store> Injector<S> {
    pub fn new(store: Arc<S>, events: Arc<EventLog>) -> Self {
        Injector {
            store,
            events,
            applied: Mutex::new(Vec::new()),
        }
    }

    /// The faults applied and not yet rolled back.
    pub fn applied(&self) -> Vec<Fault> {
        let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Runs the timeline: each step at its real offset from `start`.
    pub async fn run_timeline(&self, mut steps: Vec<TimelineStep>, start: tokio::time::Instant) {
        steps.sort_by_key(TimelineStep::at);
        for step in steps {
            tokio::time::sleep_until(start + step.at()).await;
            match step {
                TimelineStep::Apply { fault, guard, .. } => self.apply(fault, guard).await,
                TimelineStep::Rollback { name, .. } => self.rollback(&name).await,
            }
        }
    }

    async fn apply(&self, fault: Fault, guard: Option<LockGuard>) {
        self.applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((fault.clone(), guard));
        self.record(&fault.name, Some(&fault.down)).await;
        let kinds = [
            EventKind::FaultApplySent,
            EventKind::FaultApplyLocked,
            EventKind::FaultApplyDone,
        ];
        if !self.ddl(&fault.name, &fault.up, kinds, guard).await {
            // A migration of several statements may have run in part: undo it. A single
            // statement failed as a whole, so nothing is left applied.
            if crate::store::split_statements(&fault.up).len() > 1 {
                self.rollback(&fault.name).await;
                return;
            }
            self.applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(f, _)| f.name != fault.name);
            self.record(&fault.name, None).await;
        }
    }

    /// Rolls back the fault `name` if it is applied.
    pub async fn rollback(&self, name: &str) {
        let found = {
            let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            applied.iter().find(|(f, _)| f.name == name).cloned()
        };
        let Some((fault, guard)) = found else { return };
        let kinds = [
            EventKind::FaultRollbackSent,
            EventKind::FaultRollbackLocked,
            EventKind::FaultRollbackDone,
        ];
        if self.ddl(&fault.name, &fault.down, kinds, guard).await {
            self.applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(f, _)| f.name != name);
            self.record(name, None).await;
        }
    }

    /// Keeps the database's record of applied faults; a failure to write it does not stop the run.
    async fn record(&self, name: &str, down: Option<&str>) {
        if let Err(e) = self.store.record_applied(name, down).await {
            tracing::warn!("cannot record fault {name} in the database: {e}");
        }
    }

    /// Rolls back everything still applied, newest first.
    pub async fn rollback_all(&self) {
        for fault in self.applied().into_iter().rev() {
            self.rollback(&fault.name).await;
        }
    }

    /// Runs one DDL, with its guard's tries: each try is sent, may get its lock, and is done
    /// or failed (a lock timeout with tries left is retried after the backoff).
    async fn ddl(&self, name: &str, sql: &str, [sent, locked, done]: [EventKind; 3], guard: Option<LockGuard>) -> bool {
        let tries = guard.map_or(1, |g| g.retries + 1);
        for attempt in 1..=tries {
            self.events.emit(sent, name, &first_statement(sql));
            let on_locked = || self.events.emit(locked, name, "");
            match self.store.run_ddl(sql, guard.map(|g| g.timeout), &on_locked).await {
                Ok(()) => {
                    self.events.emit(done, name, "");
                    return true;
                }
                Err(e) if attempt < tries && is_lock_timeout(&e) => {
                    let g = guard.expect("more than one try only with a guard");
                    let detail = format!(
                        "lock timeout after {} ms (try {attempt} of {tries}; next in {} ms): {e}",
                        g.timeout.as_millis(),
                        g.backoff.as_millis()
                    );
                    self.events
                        .emit(EventKind::FaultFailed, name, &detail.replace('\n', " "));
                    tokio::time::sleep(g.backoff).await;
                }
                Err(e) => {
                    self.events
                        .emit(EventKind::FaultFailed, name, &e.to_string().replace('\n', " "));
                    tracing::error!("fault {name} failed: {e}");
                    return false;
                }
            }
        }
        false
    }
}

/// The first SQL statement, without comments, for the event's detail column.
fn first_statement(sql: &str) -> String {
    sql.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ")
        .split(';')
        .next()
        .unwrap_or("")
        .to_string()
}
