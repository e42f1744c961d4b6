//! What the server stores share: deciding, from what the database holds under outage-sim's
//! schema name, whether to seed it, reset it, or refuse it.

use std::future::Future;

use super::seed::History;
use super::{NotPrepared, Request, Store};

/// A store on a database server: connected by URL, working in a schema of its own.
pub trait ServerStore: Store + Sized {
    /// What that schema is called on this server: `schema` or `database`.
    const SCHEMA_KIND: &'static str;

    /// Connects (a clear one-line error if the server is down) with `pool_size` traffic
    /// connections, a request waiting at most `pool_wait` for one. Creates nothing yet.
    fn connect(
        url: &str,
        schema: &str,
        pool_size: u32,
        pool_wait: std::time::Duration,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Makes the schema hold exactly `history`: seeds it if it is missing or holds other data,
    /// else resets it to the seeded data. Refuses a schema outage-sim did not make.
    fn prepare(
        &self,
        history: &History,
        url: &str,
        progress: &indicatif::ProgressBar,
    ) -> impl Future<Output = anyhow::Result<Prepared>> + Send;
}

/// Seeds or resets outage-sim's schema on a server with a progress bar, and says what it did.
pub async fn prepare_shown<S: ServerStore>(store: &S, url: &str, history: &History) -> anyhow::Result<Prepared> {
    let seeding = crate::progress::bar(history.data.orders, "{msg:>26} [{bar:40}] {pos}/{len} orders ({eta})");
    seeding.enable_steady_tick(std::time::Duration::from_millis(200));
    let prepared = store.prepare(history, url, &seeding).await;
    seeding.finish_and_clear();
    if let Ok(p) = &prepared {
        eprintln!("database: {p}");
    }
    prepared
}

/// Runs one request on a task of its own, as an application server would: it waits for a
/// pool connection for at most `pool_wait` (and never past the request's `deadline`), and
/// once it has one its queries run to completion even if the caller stops waiting, so the
/// connection goes back to the pool whole. (Dropping sqlx futures mid-query under load leaked
/// pool connections until the pool was empty.) A checkout timeout shorter than the request
/// timeout is what lets a server recover from a backlog: waiting for a connection until the
/// very deadline, every request got one too late to finish in time, and the database spent
/// all its work on requests nobody waited for any more.
pub async fn detached<DB, F, Fut>(
    pool: sqlx::Pool<DB>,
    request: Request,
    (deadline, pool_wait): (tokio::time::Instant, std::time::Duration),
    run: F,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    F: FnOnce(sqlx::pool::PoolConnection<DB>, Request) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), sqlx::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        let wait_until = deadline.min(tokio::time::Instant::now() + pool_wait);
        let conn = match tokio::time::timeout_at(wait_until, pool.acquire()).await {
            Ok(conn) => conn?,
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        run(conn, request).await
    })
    .await
    .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("request task failed: {e}"))))
}

/// What a server database holds under the schema name outage-sim was given.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaState {
    Missing,
    /// It exists but has no outage-sim marker: someone else's.
    Foreign,
    /// outage-sim made it; `history` is the fingerprint of a completed seed, if there was one.
    Ours {
        history: Option<String>,
    },
}

impl SchemaState {
    /// From the marker rows of an existing schema.
    pub fn read(prepared_by: Option<String>, history: Option<String>) -> SchemaState {
        match prepared_by.as_deref() {
            Some("outage-sim") => SchemaState::Ours { history },
            _ => SchemaState::Foreign,
        }
    }
}

/// What preparing will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Create the schema (dropping an outdated or half-seeded one of ours) and load the history.
    Seed,
    /// Delete what earlier runs added, back to the seeded state.
    Reset,
}

/// What preparing did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prepared {
    Seeded { rows: u64, secs: f64 },
    Reset { deleted: u64, secs: f64 },
}

impl std::fmt::Display for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prepared::Seeded { rows, secs } => write!(
                f,
                "seeded {rows} rows in {secs:.1} s ({:.0} rows/s)",
                *rows as f64 / secs.max(1e-9)
            ),
            Prepared::Reset { deleted, secs } => {
                write!(
                    f,
                    "reset to the seeded data ({deleted} rows from earlier runs deleted) in {secs:.1} s"
                )
            }
        }
    }
}

/// Seed, reset, or refuse (`what` names the schema and the redacted URL).
pub fn plan(state: SchemaState, history: &History, what: &str) -> Result<Plan, NotPrepared> {
    match state {
        SchemaState::Missing => Ok(Plan::Seed),
        SchemaState::Foreign => Err(not_prepared(what)),
        SchemaState::Ours { history: Some(h) } if h == history.fingerprint() => Ok(Plan::Reset),
        SchemaState::Ours { .. } => Ok(Plan::Seed),
    }
}

pub fn not_prepared(what: &str) -> NotPrepared {
    NotPrepared(format!(
        "{what} exists but was not prepared by outage-sim (it has no outage_sim_meta marker), so \
         outage-sim will neither seed it nor apply faults to it; name a schema of outage-sim's own \
         with --schema NAME (it is created and seeded), or prepare one with \
         `outage-sim prepare --db URL --schema NAME`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::DataSize;

    fn history(orders: u64) -> History {
        History {
            data: DataSize {
                orders,
                customers: 10,
                products: 10,
                history_days: 1,
            },
            seed: 1,
            end_unix: 0,
        }
    }

    #[test]
    fn seeds_missing_or_stale_schemas_resets_current_ones_and_refuses_foreign_ones() {
        let h = history(100);
        assert_eq!(plan(SchemaState::Missing, &h, "x").unwrap(), Plan::Seed);
        let current = SchemaState::read(Some("outage-sim".into()), Some(h.fingerprint()));
        assert_eq!(plan(current, &h, "x").unwrap(), Plan::Reset);
        let stale = SchemaState::read(Some("outage-sim".into()), Some(history(200).fingerprint()));
        assert_eq!(plan(stale, &h, "x").unwrap(), Plan::Seed);
        let half_seeded = SchemaState::read(Some("outage-sim".into()), None);
        assert_eq!(plan(half_seeded, &h, "x").unwrap(), Plan::Seed);
        let foreign = SchemaState::read(None, None);
        let err = plan(foreign, &h, "schema \"app\"").unwrap_err().to_string();
        assert!(err.contains("schema \"app\"") && err.contains("--schema"), "{err}");
    }
}
