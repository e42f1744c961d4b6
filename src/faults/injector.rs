//! The injector: applies and rolls back faults on the incident clock, records when each DDL was
//! sent, got its lock and finished, and always rolls back what it applied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::results::{EventBus, EventKind};
use crate::scenario::LockGuard;
use crate::store::{Store, error_text, is_lock_timeout};

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
pub struct Injector<S: Store> {
    store: Arc<S>,
    events: EventBus,
    /// The sessions of applied faults that hold one (long transactions). Each is locked while
    /// it opens, so a rollback that comes meanwhile waits for it rather than missing it.
    held: Mutex<std::collections::HashMap<String, HeldSession<S>>>,
    /// With the guard its rollback uses too.
    applied: Mutex<Vec<(Fault, Option<LockGuard>)>>,
    /// The server's id of each held session, by fault.
    session_ids: Mutex<std::collections::HashMap<String, i64>>,
    /// One turn per fault: its rollback waits while its DDL is being applied. A `DROP INDEX IF
    /// EXISTS` sent during the build finds no index yet and succeeds, and the build then
    /// leaves it in place (seen at replay speeds where the rollback is due within the build).
    turns: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A fault's turn, shared by whoever runs its DDL: the turn ends when the last holder lets go.
type Turn = Arc<tokio::sync::OwnedMutexGuard<()>>;

type HeldSession<S> = Arc<tokio::sync::Mutex<Option<<S as Store>::Session>>>;

impl<S: Store> Injector<S> {
    pub fn new(store: Arc<S>, events: EventBus) -> Self {
        Injector {
            store,
            events,
            held: Mutex::new(Default::default()),
            applied: Mutex::new(Vec::new()),
            session_ids: Mutex::new(Default::default()),
            turns: Mutex::new(Default::default()),
        }
    }

    /// Waits for the fault's turn and takes it.
    async fn turn(&self, name: &str) -> Turn {
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            turns.entry(name.to_string()).or_default().clone()
        };
        Arc::new(turn.lock_owned().await)
    }

    /// The server's id of the session the fault `name` holds open, while it does.
    pub fn held_session_id(&self, name: &str) -> Option<i64> {
        let applied = self.applied().iter().any(|f| f.name == name);
        let ids = self.session_ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.get(name).copied().filter(|_| applied)
    }

    /// The faults applied and not yet rolled back.
    pub fn applied(&self) -> Vec<Fault> {
        let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Runs the timeline: each step at its real offset from `start`, each on its own, so a
    /// step that waits (a rollback stuck behind a long transaction) does not hold back the
    /// steps after it (the end of that transaction).
    pub async fn run_timeline(&self, steps: Vec<TimelineStep>, start: tokio::time::Instant) {
        let steps = steps.into_iter().map(|step| async move {
            tokio::time::sleep_until(start + step.at()).await;
            match step {
                TimelineStep::Apply { fault, guard, .. } => self.apply(fault, guard).await,
                TimelineStep::Rollback { name, .. } => self.rollback(&name).await,
            }
        });
        futures_util::future::join_all(steps).await;
    }

    async fn apply(&self, fault: Fault, guard: Option<LockGuard>) {
        if fault.holds_session {
            // Its rollback waits for the session instead (`held`), not for a turn.
            self.push_applied(&fault, guard);
            return self.open_held(fault).await;
        }
        let turn = self.turn(&fault.name).await;
        self.push_applied(&fault, guard);
        self.record(&fault.name, Some(&fault.down)).await;
        let kinds = [
            EventKind::FaultApplySent,
            EventKind::FaultApplyLocked,
            EventKind::FaultApplyDone,
        ];
        if !self.ddl(&fault.name, &fault.up, kinds, guard, &turn).await {
            // A migration of several statements may have run in part: undo it. A single
            // statement failed as a whole, so nothing is left applied.
            if crate::store::split_statements(&fault.up).len() > 1 {
                self.rollback_in_turn(&fault.name, &turn).await;
                return;
            }
            self.applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(f, _)| f.name != fault.name);
            self.record(&fault.name, None).await;
        }
    }

    fn push_applied(&self, fault: &Fault, guard: Option<LockGuard>) {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        applied.push((fault.clone(), guard));
    }

    /// Takes `fault`, applied before the clock started ([`apply_before_start`]), as applied:
    /// its events say so at the clock's start, and it is rolled back as any other.
    pub fn adopt(&self, fault: &Fault) {
        self.push_applied(fault, None);
        let detail = "in place before the run (apply = \"before\")";
        self.events.emit(EventKind::FaultApplySent, &fault.name, detail);
        self.events.emit(EventKind::FaultApplyDone, &fault.name, detail);
    }

    /// Rolls back the fault `name` if it is applied, once its apply is done.
    pub async fn rollback(&self, name: &str) {
        let turn = self.turn(name).await;
        self.rollback_in_turn(name, &turn).await;
    }

    async fn rollback_in_turn(&self, name: &str, turn: &Turn) {
        let found = {
            let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            applied.iter().find(|(f, _)| f.name == name).cloned()
        };
        let Some((fault, guard)) = found else { return };
        if fault.holds_session {
            let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
            // Waits while the session is still opening.
            let session = match held {
                Some(held) => held.lock().await.take(),
                None => None,
            };
            if let Some(session) = session {
                self.close_held(&fault, session).await;
            }
            return;
        }
        let kinds = [
            EventKind::FaultRollbackSent,
            EventKind::FaultRollbackLocked,
            EventKind::FaultRollbackDone,
        ];
        if self.ddl(&fault.name, &fault.down, kinds, guard, turn).await {
            self.applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(f, _)| f.name != name);
            self.record(name, None).await;
        }
    }

    /// Opens the fault's session and runs its up SQL there, leaving its transaction open.
    async fn open_held(&self, fault: Fault) {
        let name = &fault.name;
        let slot: HeldSession<S> = Default::default();
        let mut opening = slot.clone().lock_owned().await;
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), slot);
        self.events
            .emit(EventKind::FaultApplySent, name, &first_statement(&fault.up));
        let opened = async {
            let mut session = self.store.open_session().await?;
            if let Some(id) = self.store.session_id(&mut session).await? {
                let mut ids = self.session_ids.lock().unwrap_or_else(|p| p.into_inner());
                ids.insert(name.clone(), id);
            }
            self.store.run_in_session(&mut session, &fault.up).await?;
            Ok::<_, sqlx::Error>(session)
        };
        match opened.await.map_err(|e| error_text(&e, &fault.up)) {
            Ok(session) => {
                self.events.emit(EventKind::FaultApplyLocked, name, "");
                self.events.emit(EventKind::FaultApplyDone, name, "transaction open");
                *opening = Some(session);
            }
            Err(e) => {
                self.events.emit(EventKind::FaultFailed, name, &e);
                self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
                self.applied
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|(f, _)| f.name != *name);
            }
        }
    }

    /// Runs the fault's down SQL on its session and closes it; closing ends the transaction
    /// even when the down SQL fails, so the fault is gone either way.
    async fn close_held(&self, fault: &Fault, mut session: S::Session) {
        let name = &fault.name;
        self.events
            .emit(EventKind::FaultRollbackSent, name, &first_statement(&fault.down));
        match self.store.run_in_session(&mut session, &fault.down).await {
            Ok(()) => self
                .events
                .emit(EventKind::FaultRollbackDone, name, "transaction ended"),
            Err(e) => self
                .events
                .emit(EventKind::FaultFailed, name, &error_text(&e, &fault.down)),
        }
        drop(session);
        self.applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(f, _)| f.name != *name);
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
    async fn ddl(
        &self,
        name: &str,
        sql: &str,
        [sent, locked, done]: [EventKind; 3],
        guard: Option<LockGuard>,
        turn: &Turn,
    ) -> bool {
        let tries = guard.map_or(1, |g| g.retries + 1);
        for attempt in 1..=tries {
            self.events.emit(sent, name, &first_statement(sql));
            match self.try_ddl(name, sql, [locked, done], guard, turn).await {
                Ok(()) => return true,
                Err(e) if attempt < tries && is_lock_timeout(&e) => {
                    let g = guard.expect("more than one try only with a guard");
                    let detail = format!(
                        "lock timeout after {} ms (try {attempt} of {tries}; next in {} ms): {}",
                        g.timeout.as_millis(),
                        g.backoff.as_millis(),
                        error_text(&e, sql)
                    );
                    self.events.emit(EventKind::FaultFailed, name, &detail);
                    tokio::time::sleep(g.backoff).await;
                }
                Err(e) => {
                    self.events.emit(EventKind::FaultFailed, name, &error_text(&e, sql));
                    return false;
                }
            }
        }
        false
    }

    /// One try of a DDL, on a task of its own that keeps the fault's turn until the server
    /// answers: when the run is interrupted mid-build, the build still finishes in the
    /// database, and the rollback must wait for it (the race `turns` describes).
    async fn try_ddl(
        &self,
        name: &str,
        sql: &str,
        [locked, done]: [EventKind; 2],
        guard: Option<LockGuard>,
        turn: &Turn,
    ) -> Result<(), sqlx::Error> {
        let (store, events, turn) = (self.store.clone(), self.events.clone(), turn.clone());
        let (name, sql) = (name.to_string(), sql.to_string());
        let task = tokio::spawn(async move {
            let on_locked = |at| events.emit_at(locked, &name, "", at);
            let result = store.run_ddl(&sql, guard.map(|g| g.timeout), &on_locked).await;
            if result.is_ok() {
                events.emit(done, &name, "");
            }
            drop(turn);
            result
        });
        task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// Applies `fault` before a replay's clock starts (`apply = "before"`), recorded as applied
/// first, as the injector does, so a run killed later still rolls it back next time.
pub async fn apply_before_start<S: Store>(store: &S, fault: &Fault) -> anyhow::Result<()> {
    if fault.holds_session {
        anyhow::bail!(crate::error::BadInput(format!(
            "{}: apply = \"before\" is for a change that stays (DDL), not a transaction held open",
            fault.name
        )));
    }
    store.record_applied(&fault.name, Some(&fault.down)).await?;
    let sql = &fault.up;
    store
        .run_ddl(sql, None, &|_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", fault.name, error_text(&e, sql)))
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

/// Rolls back the faults an earlier run recorded as applied and never rolled back (it was
/// killed), and says so, before anything else runs.
pub async fn roll_back_leftovers<S: Store>(store: &S) -> anyhow::Result<()> {
    use anyhow::Context;
    let left = store
        .left_applied()
        .await
        .context("reading the record of applied faults")?;
    for (name, down) in left {
        eprintln!("an earlier run left fault {name} applied (it was killed before its rollback); rolling it back now");
        store
            .run_ddl(&down, None, &|_| {})
            .await
            .with_context(|| format!("rolling back fault {name} left by an earlier run"))?;
        store.record_applied(&name, None).await?;
        eprintln!("fault {name} rolled back");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use tokio::sync::mpsc::UnboundedReceiver;

    use super::*;
    use crate::results::{EventBus, EventRow, Timebase};
    use crate::store::null::NullStore;

    /// An injector on `store`, the receiver of its events and its start (paused clock).
    fn injector_on(store: Arc<NullStore>) -> (Injector<NullStore>, UnboundedReceiver<EventRow>, tokio::time::Instant) {
        let start = tokio::time::Instant::now();
        let clock = crate::scenario::IncidentClock {
            date: "2024-06-08".into(),
            start: "12:00".parse().unwrap(),
            end: "13:00".parse().unwrap(),
            speed: 1.0,
        };
        let (bus, events) = EventBus::new(Timebase { start, clock });
        (Injector::new(store, bus), events, start)
    }

    fn kinds(mut events: UnboundedReceiver<EventRow>) -> Vec<EventKind> {
        let mut kinds = Vec::new();
        while let Ok(e) = events.try_recv() {
            kinds.push(e.kind);
        }
        kinds
    }

    fn apply_at_zero(fault: Fault) -> TimelineStep {
        TimelineStep::Apply {
            at: Duration::ZERO,
            fault,
            guard: None,
        }
    }

    /// The catalog's kind of index build, taking 5 s on a NullStore.
    fn five_second_build() -> (Arc<NullStore>, Fault) {
        let store = Arc::new(NullStore {
            ddl_time: Duration::from_secs(5),
            ..Default::default()
        });
        let fault = Fault {
            name: "reporting-index".into(),
            description: String::new(),
            up: "CREATE INDEX orders_reporting ON orders (status);\n".into(),
            down: "DROP INDEX IF EXISTS orders_reporting;\n".into(),
            holds_session: false,
        };
        (store, fault)
    }

    /// Runs `fault` applied at 0 s and rolled back at 1 s on `store`; returns the injector and
    /// the kinds of the events it emitted.
    async fn apply_then_roll_back(store: Arc<NullStore>, fault: Fault) -> (Injector<NullStore>, Vec<EventKind>) {
        let (injector, events, start) = injector_on(store);
        let name = fault.name.clone();
        let steps = vec![
            apply_at_zero(fault),
            TimelineStep::Rollback {
                at: Duration::from_secs(1),
                name,
            },
        ];
        injector.run_timeline(steps, start).await;
        (injector, kinds(events))
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_that_comes_while_a_held_session_opens_waits_and_closes_it() {
        let store = Arc::new(NullStore {
            session_open_delay: Duration::from_secs(5),
            ..Default::default()
        });
        let fault = Fault {
            name: "long-report".into(),
            description: String::new(),
            up: "BEGIN;\nSELECT 1;\n".into(),
            down: "COMMIT;\n".into(),
            holds_session: true,
        };
        let (injector, kinds) = apply_then_roll_back(store.clone(), fault).await;
        assert_eq!(
            store.open_sessions.load(Ordering::SeqCst),
            0,
            "the held transaction was left open"
        );
        assert!(injector.applied().is_empty());
        assert_eq!(kinds.last(), Some(&EventKind::FaultRollbackDone), "{kinds:?}");
    }

    fn assert_dropped_after_the_build(kinds: &[EventKind]) {
        let at = |k: EventKind| kinds.iter().position(|x| *x == k);
        assert!(
            at(EventKind::FaultApplyDone).is_some(),
            "the build never finished: {kinds:?}"
        );
        assert!(
            at(EventKind::FaultApplyDone) < at(EventKind::FaultRollbackSent),
            "the rollback was sent before the build was done: {kinds:?}"
        );
        assert_eq!(kinds.last(), Some(&EventKind::FaultRollbackDone), "{kinds:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_due_while_the_build_runs_waits_for_it_then_drops_it() {
        let (store, fault) = five_second_build();
        let (injector, kinds) = apply_then_roll_back(store, fault).await;
        assert_dropped_after_the_build(&kinds);
        assert!(injector.applied().is_empty());
    }

    /// Ctrl-C drops the timeline mid-build; the build still finishes in the database.
    #[tokio::test(start_paused = true)]
    async fn a_run_stopped_mid_build_rolls_back_once_the_build_is_done() {
        let (store, fault) = five_second_build();
        let (injector, events, start) = injector_on(store);
        tokio::select! {
            _ = injector.run_timeline(vec![apply_at_zero(fault)], start) => panic!("the build ended early"),
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        injector.rollback_all().await;
        assert_dropped_after_the_build(&kinds(events));
        assert!(injector.applied().is_empty());
    }
}
