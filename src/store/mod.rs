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

/// Runs a bookkeeping statement on `$executor` (see [`Store::bookkeeping`]), `$sql` already in
/// the backend's placeholders and quoting.
macro_rules! bookkeeping {
    ($executor:expr, $sql:expr, $params:expr) => {{
        use sqlx::Row;
        let mut query = sqlx::query(sqlx::AssertSqlSafe($sql));
        for param in $params {
            query = match param {
                $crate::store::Param::Text(t) => query.bind(t),
                $crate::store::Param::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all($executor).await?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.try_get::<String, _>(i)).collect())
            .collect::<Result<Vec<Vec<String>>, sqlx::Error>>()
    }};
}

pub mod mysql;
pub mod null;
mod open;
mod pool;
pub mod postgres;
pub mod seed;
mod server;
pub mod sqlite;
mod url;

pub use open::{Opened, Target, Where, open};
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

    /// The server's id of `session` (what `pg_terminate_backend` or `KILL` takes); `None` on
    /// SQLite, which has no server sessions.
    fn session_id(&self, session: &mut Self::Session) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send;

    /// Runs one statement of outage-sim's own bookkeeping (its marker, the record of applied
    /// faults) outside the traffic pool, with `params` bound to `$1`, `$2`… in order, and
    /// `"quoted"` identifiers; returns every row's columns as text. The few lines a backend
    /// needs to support the methods below.
    fn bookkeeping(
        &self,
        sql: &str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<Vec<Vec<String>>, sqlx::Error>> + Send;

    /// Whether this database was prepared by outage-sim (faults are applied only then). A
    /// database without outage-sim's marker table is not; any other error (the network, a
    /// permission) is an error, not a "no".
    fn is_prepared(&self) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        async move {
            let sql = r#"SELECT "value" FROM outage_sim_meta WHERE "key" = 'prepared_by'"#;
            match self.bookkeeping(sql, vec![]).await {
                Ok(rows) => Ok(rows.iter().flatten().any(|v| v == "outage-sim")),
                Err(e) if is_missing_table(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }

    /// Records in the database that the fault `name` is being applied (with the SQL that
    /// undoes it), or with `down = None` that it was rolled back: a run that is killed leaves
    /// the record, and the next run rolls the fault back before it starts.
    fn record_applied(&self, name: &str, down: Option<&str>) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        let (name, down) = (name.to_string(), down.map(str::to_string));
        async move {
            self.bookkeeping(APPLIED_TABLE, vec![]).await?;
            let delete = "DELETE FROM outage_sim_applied WHERE name = $1";
            self.bookkeeping(delete, vec![Param::Text(name.clone())]).await?;
            if let Some(down) = down {
                let insert = "INSERT INTO outage_sim_applied (name, down_sql, applied_at) VALUES ($1, $2, $3)";
                let params = vec![Param::Text(name), Param::Text(down), Param::Int(unix_now())];
                self.bookkeeping(insert, params).await?;
            }
            Ok(())
        }
    }

    /// The database engine's own version string.
    fn server_version(&self) -> impl Future<Output = Result<String, sqlx::Error>> + Send {
        async move {
            let sql = if self.dialect() == "sqlite" {
                "SELECT sqlite_version()"
            } else {
                "SELECT version()"
            };
            let rows = self.bookkeeping(sql, vec![]).await?;
            Ok(rows.into_iter().flatten().next().unwrap_or_default())
        }
    }

    /// The faults an earlier run recorded as applied and never rolled back: (name, down SQL).
    fn left_applied(&self) -> impl Future<Output = Result<Vec<(String, String)>, sqlx::Error>> + Send {
        async move {
            self.bookkeeping(APPLIED_TABLE, vec![]).await?;
            let select = "SELECT name, down_sql FROM outage_sim_applied ORDER BY applied_at DESC";
            let rows = self.bookkeeping(select, vec![]).await?;
            Ok(rows
                .into_iter()
                .filter_map(|r| Some((r.first()?.clone(), r.get(1)?.clone())))
                .collect())
        }
    }

    /// Whether the index `name` exists (on the scenario's tables).
    fn index_exists(&self, name: &str) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        let name = name.to_string();
        async move {
            let sql = match self.dialect() {
                "sqlite" => "SELECT name FROM sqlite_master WHERE type = 'index' AND name = $1",
                "postgres" => {
                    "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1"
                }
                _ => {
                    "SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = $1"
                }
            };
            Ok(!self.bookkeeping(sql, vec![Param::Text(name)]).await?.is_empty())
        }
    }

    /// Whether the server session `id` is still connected.
    fn session_alive(&self, id: i64) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        async move {
            let sql = match self.dialect() {
                "postgres" => "SELECT pid::text FROM pg_stat_activity WHERE pid = $1",
                "mysql" => "SELECT CAST(id AS CHAR) FROM information_schema.processlist WHERE id = $1",
                _ => return Ok(false),
            };
            Ok(!self.bookkeeping(sql, vec![Param::Int(id)]).await?.is_empty())
        }
    }

    /// Ends the server session `id` (a trainee's `kill`); whether there was one to end.
    fn terminate(&self, id: i64) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        async move {
            match self.dialect() {
                "postgres" => {
                    let rows = self
                        .bookkeeping("SELECT pg_terminate_backend($1::int)::text", vec![Param::Int(id)])
                        .await?;
                    Ok(rows.iter().flatten().any(|v| v == "true" || v == "t"))
                }
                "mysql" if self.session_alive(id).await? => {
                    self.bookkeeping(&format!("KILL {id}"), vec![]).await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
    }

    /// The session at the head of the lock waits — one that blocks others and waits for no
    /// one — or else the oldest open transaction; only transactions open a second or more, so
    /// checkout's own short row waits are not taken for it. MySQL does not say who holds a
    /// metadata lock (without a plugin), so there the oldest transaction is taken as the head,
    /// blocking every session that waits for a lock.
    fn blocker(&self) -> impl Future<Output = Result<Option<Blocker>, sqlx::Error>> + Send {
        async move {
            let sql = match self.dialect() {
                "postgres" => BLOCKER_POSTGRES,
                "mysql" => BLOCKER_MYSQL,
                _ => return Ok(None),
            };
            let rows = self.bookkeeping(sql, vec![]).await?;
            Ok(rows.into_iter().next().and_then(|r| {
                Some(Blocker {
                    id: r.first()?.parse().ok()?,
                    state: r.get(1)?.clone(),
                    query: r.get(2)?.clone(),
                    age_s: r.get(3)?.parse().unwrap_or(0.0),
                    blocking: r.get(4)?.parse().unwrap_or(0),
                })
            }))
        }
    }

    /// One monitor sample: (metric, value) pairs for `db.csv`. Names ending in `_total` are
    /// counters; names with a `:` break a gauge down (by state, wait event…) and stay out of
    /// the dashboard.
    fn sample(&self) -> impl Future<Output = Vec<(String, f64)>> + Send;

    /// Closes the pools, waiting for connections in use to come back.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// A session that holds others up (see [`Store::blocker`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Blocker {
    pub id: i64,
    pub state: String,
    pub query: String,
    pub age_s: f64,
    /// How many sessions wait for it (0: only the oldest transaction).
    pub blocking: i64,
}

const BLOCKER_POSTGRES: &str = "\
SELECT pid::text, state, query, age::text, blocking::text FROM ( \
  SELECT b.pid, coalesce(b.state, '') AS state, b.xact_start, \
         left(regexp_replace(coalesce(b.query, ''), '\\s+', ' ', 'g'), 100) AS query, \
         coalesce(extract(epoch FROM now() - b.xact_start), 0)::bigint AS age, \
         (SELECT count(*) FROM pg_stat_activity w WHERE b.pid = ANY (pg_blocking_pids(w.pid))) AS blocking \
  FROM pg_stat_activity b \
  WHERE b.datname = current_database() AND b.pid <> pg_backend_pid() \
    AND b.xact_start < now() - interval '1 second' \
    AND cardinality(pg_blocking_pids(b.pid)) = 0) s \
ORDER BY blocking DESC, xact_start LIMIT 1";

const BLOCKER_MYSQL: &str = "\
SELECT CAST(t.trx_mysql_thread_id AS CHAR), t.trx_state, left(coalesce(p.info, t.trx_query, ''), 100), \
       CAST(timestampdiff(SECOND, t.trx_started, now()) AS CHAR), \
       CAST((SELECT count(*) FROM information_schema.processlist w WHERE w.state LIKE 'Waiting for%lock%') AS CHAR) \
FROM information_schema.innodb_trx t LEFT JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id \
WHERE t.trx_started < now() - INTERVAL 1 SECOND \
ORDER BY t.trx_started LIMIT 1";

/// A parameter of a bookkeeping statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// Whether an error says a table (or the schema holding it) does not exist: PostgreSQL
/// 42P01/3F000, MySQL 1146/1049, SQLite "no such table".
pub fn is_missing_table(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else { return false };
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), 1146 | 1049);
    }
    matches!(db.code().as_deref(), Some("42P01" | "3F000")) || db.message().starts_with("no such table")
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

/// The statements of a checkout whose text depends on how many items the cart holds; each
/// backend's `cart_sql` builds them and says the order of their parameters.
pub(crate) struct CartSql {
    /// Locks the cart's inventory rows in product order.
    pub lock: String,
    /// Takes the cart's quantities from stock.
    pub reserve: String,
    /// Adds the cart's items to the order.
    pub add_items: String,
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

    #[tokio::test]
    async fn a_marker_that_cannot_be_read_is_an_error_not_an_unprepared_database() {
        let store = null::NullStore::default();
        assert!(store.is_prepared().await.unwrap());
        let down = null::NullStore {
            bookkeeping_fails: true,
            ..Default::default()
        };
        let err = down.is_prepared().await.unwrap_err();
        assert!(matches!(err, sqlx::Error::Io(_)), "{err}");
    }

    #[test]
    fn a_position_is_placed_in_the_statement_that_holds_the_named_token() {
        let statements = split_statements("-- note\nCREATE INDEX a ON t (x);\nCREATE INDEXX b\n  ON t (y);\n");
        let w = where_in(&statements, 8, "syntax error at or near \"INDEXX\"");
        assert_eq!(w, ", the statement's line 1, column 8: `CREATE INDEXX b`");
        let one = split_statements("SELECT 1;\nSELECT nope FROM t;");
        assert!(where_in(&one[1..], 8, "column \"nope\" does not exist").contains("line 1, column 8"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("outage_sim").is_ok());
        assert!(check_schema_name("Robert'); DROP").is_err());
        assert!(check_schema_name("1abc").is_err());
    }
}

/// Where character `position` (1-based, PostgreSQL's) of the failing statement is: its line,
/// column and code. The statement is the only one, or the one where the token the message
/// names (`at or near "X"`) sits at that position.
fn where_in(statements: &[String], position: usize, message: &str) -> String {
    let token = message.split('"').nth(1).filter(|_| message.contains("at or near"));
    let at = |s: &String| s.chars().skip(position.saturating_sub(1)).collect::<String>();
    let candidates: Vec<&String> = match token {
        Some(t) if statements.len() > 1 => statements.iter().filter(|s| at(s).starts_with(t)).collect(),
        _ => statements.iter().collect(),
    };
    let [statement] = candidates.as_slice() else {
        return format!(" at character {position} of the statement that failed");
    };
    let before: String = statement.chars().take(position.saturating_sub(1)).collect();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let code = statement.lines().nth(line - 1).unwrap_or("").trim();
    format!(", the statement's line {line}, column {column}: `{code}`")
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
    if let Some(p) = position {
        text += &where_in(&split_statements(sql), p, db.message());
    }
    text
}

/// Where a run's data lives.
#[derive(Debug, Clone)]
pub struct Database {
    /// `None`: a copy of the cached, seeded SQLite base in the run directory.
    pub url: Option<DbUrl>,
    /// outage-sim's schema (PostgreSQL) or database (MySQL) on a server.
    pub schema: String,
    /// Where seeded SQLite bases are kept.
    pub cache: std::path::PathBuf,
}

impl Database {
    pub fn dialect(&self) -> &'static str {
        self.url.as_ref().map_or("sqlite", DbUrl::dialect)
    }
}
