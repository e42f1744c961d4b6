//! The database boundary: one type per backend behind the small [`Store`] trait.
//!
//! A store owns its schema, seeding, the SQL of each operation and its monitor. It knows
//! nothing of traffic: it executes one [`Request`] at a time, as many at once as it is asked.

/// Runs `sql` on a connection (`&mut` one) one statement at a time (see [`split_statements`]).
/// A macro, not a generic function: the `Executor` bound on `&mut C` cannot be stated so that
/// the future stays `Send`.
macro_rules! run_statements {
    ($conn:expr, $sql:expr) => {{
        let conn = $conn;
        let sql: &str = $sql;
        async move {
            for statement in $crate::store::split_statements(sql) {
                sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(sqlx::AssertSqlSafe(statement))).await?;
            }
            Ok::<(), sqlx::Error>(())
        }
    }};
}

pub mod mysql;
pub mod null;
pub mod postgres;
pub mod seed;
mod server;
pub mod sqlite;
mod url;

pub use server::{Prepared, ServerStore, prepare_shown};
pub use url::{DbUrl, redact};

use std::future::Future;

/// One product in a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartItem {
    pub product_id: i64,
    pub qty: i64,
}

/// One user operation with its parameters, chosen by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Look at a product and its stock, and at the customer's recent orders.
    Browse { product_id: i64, customer_id: i64 },
    /// Reserve stock, create the order (pending), its items and payment, mark it paid.
    Checkout {
        customer_id: i64,
        items: Vec<CartItem>,
        now_unix: i64,
    },
    /// Revenue by status and hour over `[since_unix, until_unix)`.
    Report { since_unix: i64, until_unix: i64 },
}

/// Why a request failed inside the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported it was locked or busy.
    #[error("database busy: {0}")]
    Busy(sqlx::Error),
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

/// A real database that can serve the workload and take fault DDL.
pub trait Store: Send + Sync + 'static {
    /// `sqlite`, `postgres` or `mysql`; also the fault catalog's folder name.
    fn dialect(&self) -> &'static str;

    /// Runs one operation. The caller stops waiting at `deadline` (the request timed out); a
    /// store may use it to give up waiting for a connection, but never to cut a query short.
    fn execute(
        &self,
        request: &Request,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Runs fault DDL the way an operator would: it waits its turn for the write lock like any
    /// writer, calls `locked` with the time it got it (at once, or when the DDL is done if the
    /// server only lets that be told afterwards), and runs `sql` (one or more statements). With
    /// `lock_timeout`, each wait for a lock gives up after that long ([`is_lock_timeout`]).
    fn run_ddl(
        &self,
        sql: &str,
        lock_timeout: Option<std::time::Duration>,
        locked: &(dyn Fn(tokio::time::Instant) + Sync),
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// A session of a fault's own that stays open between its apply and its rollback (a
    /// long transaction).
    type Session: Send + 'static;

    /// Opens a session outside the traffic pool.
    fn open_session(&self) -> impl Future<Output = Result<Self::Session, sqlx::Error>> + Send;

    /// Runs `sql` (one or more statements, one at a time) on `session`.
    fn run_in_session(
        &self,
        session: &mut Self::Session,
        sql: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Whether this database was prepared by outage-sim (faults are applied only then).
    fn is_prepared(&self) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Records in the database that the fault `name` is being applied (with the SQL that
    /// undoes it), or with `down = None` that it was rolled back: a run that is killed leaves
    /// the record, and the next run rolls the fault back before it starts.
    fn record_applied(&self, name: &str, down: Option<&str>) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The faults an earlier run recorded as applied and never rolled back: (name, down SQL).
    fn left_applied(&self) -> impl Future<Output = Result<Vec<(String, String)>, sqlx::Error>> + Send;

    /// One monitor sample: (metric, value) pairs for `db.csv`. Names ending in `_total` are
    /// counters; names with a `:` break a gauge down (by state, wait event…) and stay out of
    /// the dashboard.
    fn sample(&self) -> impl Future<Output = Vec<(String, f64)>> + Send;

    /// Closes the pools, waiting for connections in use to come back.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// The table of faults being applied, created on first use (databases prepared before it
/// existed have none). The same text works on every backend.
pub const APPLIED_TABLE: &str = "CREATE TABLE IF NOT EXISTS outage_sim_applied \
    (name VARCHAR(200) PRIMARY KEY, down_sql TEXT NOT NULL, applied_at BIGINT NOT NULL)";

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether a DDL gave up waiting for its lock: PostgreSQL `lock_not_available`, MySQL's lock
/// wait timeout (1205), or SQLite's writer not free in time.
pub fn is_lock_timeout(e: &sqlx::Error) -> bool {
    if matches!(e, sqlx::Error::PoolTimedOut) {
        return true;
    }
    let Some(db) = e.as_database_error() else { return false };
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return my.number() == 1205;
    }
    db.code().as_deref() == Some("55P03")
}

/// SQL whose text depends only on how many items a cart holds: built once for each size (0 to
/// [`crate::scenario::MAX_CART_ITEMS`]) on first use, then looked up on every checkout.
pub(crate) fn per_cart_size<T: Send + Sync>(
    cache: &'static std::sync::OnceLock<Vec<T>>,
    items: usize,
    build: impl Fn(usize) -> T,
) -> &'static T {
    let max = crate::scenario::MAX_CART_ITEMS as usize;
    let all = cache.get_or_init(|| (0..=max).map(build).collect());
    &all[items.min(max)]
}

/// The database refused to be used: it holds a schema outage-sim did not prepare (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotPrepared(pub String);

/// A valid SQL identifier for the schema (PostgreSQL) or database (MySQL) outage-sim owns.
pub fn check_schema_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected a lower-case name of letters, digits and _ (at most 48), got {name:?}"
        ))
    }
}

/// The statements of a migration, one by one, so each runs on its own (some DDL, such as
/// `CREATE INDEX CONCURRENTLY`, must not run inside a transaction block). Splits on `;` at a
/// line end, which is how migration files are written; comments are kept with their statement.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') && !line.trim_start().starts_with("--") {
            push_statement(&mut out, &mut current);
        }
    }
    push_statement(&mut out, &mut current);
    out
}

fn push_statement(out: &mut Vec<String>, current: &mut String) {
    let has_code = current
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
    if has_code {
        out.push(current.trim().to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_migrations_into_statements_and_drops_comment_only_parts() {
        let sql = "-- header\nCREATE INDEX CONCURRENTLY a ON t (x);\n\nDROP INDEX b;\n-- trailing note\n";
        let s = split_statements(sql);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].ends_with("CREATE INDEX CONCURRENTLY a ON t (x);"));
        assert_eq!(s[1], "DROP INDEX b;");
        assert_eq!(split_statements("SELECT 1"), vec!["SELECT 1".to_string()]);
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("outage_sim").is_ok());
        assert!(check_schema_name("Robert'); DROP").is_err());
        assert!(check_schema_name("1abc").is_err());
    }
}

/// A database error in one line, for events and messages: the server's message and code, and
/// for PostgreSQL where in `sql` it happened, as line and column of the statement. (sqlx's own
/// text adds "at line N", which is the line of PostgreSQL's C source that raised the error.)
pub fn error_text(e: &sqlx::Error, sql: &str) -> String {
    let Some(db) = e.as_database_error() else {
        return e.to_string().replace('\n', " ");
    };
    let code = db.code().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default();
    let mut text = format!("{}{code}", db.message().replace('\n', " "));
    let position = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .and_then(|pg| match pg.position() {
            Some(sqlx::postgres::PgErrorPosition::Original(p)) => Some(p),
            _ => None,
        });
    let statements = split_statements(sql);
    if let (Some(p), [statement]) = (position, statements.as_slice()) {
        let before: String = statement.chars().take(p.saturating_sub(1)).collect();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let code_line = statement.lines().nth(line - 1).unwrap_or("").trim();
        text += &format!(" at line {line}, column {column} of the statement: `{code_line}`");
    } else if let Some(p) = position {
        text += &format!(" at character {p} of the statement that failed");
    }
    text
}
