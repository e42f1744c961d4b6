//! What the server stores share: deciding, from what the database holds under outage-sim's
//! schema name, whether to seed it, reset it, or refuse it.

use std::future::Future;

use anyhow::Context;
use indicatif::ProgressBar;

use super::seed::History;
use super::{NotPrepared, Param, Request, Store, is_missing_table, redact};

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

    /// The schema (PostgreSQL) or database (MySQL) outage-sim works in.
    fn schema(&self) -> &str;

    fn schema_exists(&self) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// (Re)creates the schema, marks it as outage-sim's, loads `history`, and records its
    /// fingerprint once complete; returns the rows written.
    fn seed(&self, history: &History, progress: &ProgressBar) -> impl Future<Output = anyhow::Result<u64>> + Send;

    /// Deletes the rows runs added and restores the stock; returns the rows deleted.
    fn reset(&self, history: &History) -> impl Future<Output = anyhow::Result<u64>> + Send;

    /// What the database holds under the schema name. A marker that cannot be read for any
    /// reason but its absence (the network, a permission) is an error.
    fn schema_state(&self) -> impl Future<Output = anyhow::Result<SchemaState>> + Send {
        async move {
            if !self.schema_exists().await? {
                return Ok(SchemaState::Missing);
            }
            let meta = async |key: &str| -> anyhow::Result<Option<String>> {
                let sql = r#"SELECT "value" FROM outage_sim_meta WHERE "key" = $1"#;
                match self.bookkeeping(sql, vec![Param::Text(key.into())]).await {
                    Ok(rows) => Ok(rows.into_iter().flatten().next()),
                    Err(e) if is_missing_table(&e) => Ok(None),
                    Err(e) => {
                        Err(anyhow::Error::from(e).context(format!("reading outage-sim's marker in {}", self.schema())))
                    }
                }
            };
            Ok(SchemaState::read(meta("prepared_by").await?, meta("history").await?))
        }
    }

    /// Makes the schema hold exactly `history`: seeds it if it is missing or holds other data,
    /// else resets it to the seeded data. Refuses a schema outage-sim did not make.
    fn prepare(
        &self,
        history: &History,
        url: &str,
        progress: &ProgressBar,
    ) -> impl Future<Output = anyhow::Result<Prepared>> + Send {
        async move {
            let state = self.schema_state().await?;
            let started = std::time::Instant::now();
            let what = format!("{} {:?} on {}", Self::SCHEMA_KIND, self.schema(), redact(url));
            match plan(state, history, &what)? {
                Plan::Reset => {
                    progress.set_message("resetting to the seeded data");
                    let deleted = self.reset(history).await.context("resetting outage-sim's schema")?;
                    let secs = started.elapsed().as_secs_f64();
                    Ok(Prepared::Reset { deleted, secs })
                }
                Plan::Seed => {
                    let rows = self
                        .seed(history, progress)
                        .await
                        .context("seeding outage-sim's schema")?;
                    let secs = started.elapsed().as_secs_f64();
                    Ok(Prepared::Seeded { rows, secs })
                }
            }
        }
    }
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
pub async fn detached<C: sqlx::Connection + 'static>(
    pool: super::pool::Traffic<C>,
    request: Request,
    (deadline, pool_wait): (tokio::time::Instant, std::time::Duration),
    run: super::pool::Run<C>,
) -> Result<(), sqlx::Error> {
    tokio::spawn(async move {
        let wait_until = deadline.min(tokio::time::Instant::now() + pool_wait);
        pool.run(wait_until, request, run).await
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

/// A monitor sample as the replay records it: its values, or one `monitor_errors` after a
/// warning. A sample that found the pool closed raced the end of the run, and is dropped quietly.
pub fn sample_or_error(sample: Result<Vec<(String, f64)>, sqlx::Error>) -> Vec<(String, f64)> {
    match sample {
        Ok(values) => values,
        Err(sqlx::Error::PoolClosed) => Vec::new(),
        Err(e) => {
            tracing::warn!("database monitor: {e}");
            vec![("monitor_errors".into(), 1.0)]
        }
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
    fn a_sample_that_raced_the_close_is_dropped_and_other_errors_are_counted() {
        assert!(sample_or_error(Err(sqlx::Error::PoolClosed)).is_empty());
        assert_eq!(
            sample_or_error(Err(sqlx::Error::PoolTimedOut)),
            vec![("monitor_errors".to_string(), 1.0)]
        );
        assert_eq!(
            sample_or_error(Ok(vec![("x".into(), 2.0)])),
            vec![("x".to_string(), 2.0)]
        );
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
