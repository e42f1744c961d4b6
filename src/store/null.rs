//! A store that does no database work: every request succeeds after `service` time. It
//! measures the tool itself (the generator's headroom in benchmarks) and drives the replay's
//! own timing in tests; nothing a user runs uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::{Request, Store, StoreError};

/// How long each kind of call takes (zero by default).
#[derive(Debug, Clone, Default)]
pub struct NullStore {
    pub service: Duration,
    pub sample_delay: Duration,
    pub session_open_delay: Duration,
    /// How long each DDL runs.
    pub ddl_time: Duration,
    /// Bookkeeping fails as when the connection drops (the marker cannot be read).
    pub bookkeeping_fails: bool,
    /// Sessions open now.
    pub open_sessions: Arc<AtomicI64>,
}

/// A session that counts itself open until dropped.
pub struct NullSession(Arc<AtomicI64>);

impl Drop for NullSession {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Store for NullStore {
    fn dialect(&self) -> &'static str {
        "sqlite"
    }

    async fn execute(&self, _request: &Request, _deadline: tokio::time::Instant) -> Result<(), StoreError> {
        if !self.service.is_zero() {
            tokio::time::sleep(self.service).await;
        }
        Ok(())
    }

    async fn run_ddl(
        &self,
        _sql: &str,
        _lock_timeout: Option<Duration>,
        locked: &(dyn Fn(tokio::time::Instant) + Sync),
    ) -> Result<(), sqlx::Error> {
        locked(tokio::time::Instant::now());
        tokio::time::sleep(self.ddl_time).await;
        Ok(())
    }

    type Session = NullSession;

    async fn open_session(&self) -> Result<NullSession, sqlx::Error> {
        tokio::time::sleep(self.session_open_delay).await;
        self.open_sessions.fetch_add(1, Ordering::SeqCst);
        Ok(NullSession(self.open_sessions.clone()))
    }

    async fn session_id(&self, _session: &mut NullSession) -> Result<Option<i64>, sqlx::Error> {
        Ok(None)
    }

    async fn run_in_session(&self, _session: &mut NullSession, _sql: &str) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn bookkeeping(&self, sql: &str, _: Vec<super::Param>) -> Result<Vec<Vec<String>>, sqlx::Error> {
        if self.bookkeeping_fails {
            return Err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()));
        }
        // It was prepared by outage-sim, and has nothing left applied.
        let marker = sql.contains("prepared_by");
        Ok(if marker {
            vec![vec!["outage-sim".into()]]
        } else {
            Vec::new()
        })
    }

    async fn sample(&self) -> Vec<(String, f64)> {
        tokio::time::sleep(self.sample_delay).await;
        vec![("sessions_active".into(), 1.0)]
    }

    async fn close(&self) {}
}
