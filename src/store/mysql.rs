//! MySQL/MariaDB (InnoDB): the tool works in a database of its own (`--schema`, default
//! `outage_sim`) on the server, seeded with large multi-row inserts and reset to the seeded
//! state before each run. Traffic uses one pool; the monitor and the lock watcher use a second
//! one connected to the URL's database; fault DDL runs on a session of its own.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use indicatif::ProgressBar;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor};

use super::pool::Traffic;
use super::seed::{self, History, STOCK};
use super::server::{self, ServerStore};
use super::{CartItem, CartSql, Request, Store, StoreError, redact};

const SCHEMA: &str = include_str!("../../schema/mysql/schema.sql");
const INDEXES: &str = include_str!("../../schema/mysql/indexes.sql");
/// Orders per multi-row INSERT: a few hundred kilobytes of SQL, well under max_allowed_packet.
const SEED_BATCH: i64 = 10_000;
const LOCK_POLL: Duration = Duration::from_millis(10);
/// Processlist states of a DDL statement that has not got its table lock yet.
const BEFORE_LOCK: &[&str] = &[
    "",
    "starting",
    "init",
    "checking permissions",
    "Opening tables",
    "Waiting for table metadata lock",
];

pub struct MysqlStore {
    traffic: Traffic<MySqlConnection>,
    monitor: MySqlPool,
    options: MySqlConnectOptions,
    base: MySqlConnectOptions,
    schema: String,
    pool_wait: Duration,
}

impl MysqlStore {
    /// Connects to the server (a clear one-line error if it is down); the traffic pool's
    /// `pool_size` connections use the database `schema`, and a request waits at most
    /// `pool_wait` for one. Nothing is created yet: see [`Self::prepare`].
    pub async fn connect(url: &str, schema: &str, pool_size: u32, pool_wait: Duration) -> Result<MysqlStore> {
        let base = MySqlConnectOptions::from_str(url).map_err(|e| anyhow::anyhow!("{}: {e}", redact(url)))?;
        let probe = MySqlConnection::connect_with(&base)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redact(url)))?;
        let _ = probe.close().await;
        let options = base.clone().database(schema);
        let pool = |n: u32, wait: Duration, o: &MySqlConnectOptions| {
            // No ping on acquire: a request that times out while its ping is in flight would
            // close the connection, and under overload that churns the whole pool.
            MySqlPoolOptions::new()
                .max_connections(n)
                .acquire_timeout(wait)
                .test_before_acquire(false)
                .connect_lazy_with(o.clone())
        };
        Ok(MysqlStore {
            traffic: Traffic::new(options.clone(), pool_size),
            monitor: pool(2, Duration::from_secs(10), &base),
            options,
            base,
            schema: schema.to_string(),
            pool_wait,
        })
    }

    async fn schema_exists(&self) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?";
        let n: i64 = sqlx::query_scalar(sql)
            .bind(&self.schema)
            .fetch_one(&self.monitor)
            .await?;
        Ok(n > 0)
    }

    async fn seed(&self, history: &History, progress: &ProgressBar) -> Result<u64> {
        let s = &self.schema; // checked to be a plain identifier
        let mut admin = MySqlConnection::connect_with(&self.base).await?;
        admin
            .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {s}")))
            .await?;
        admin.execute(AssertSqlSafe(format!("CREATE DATABASE {s}"))).await?;
        admin.close().await?;
        let mut conn = MySqlConnection::connect_with(&self.options).await?;
        run_statements!(&mut conn, SCHEMA)
            .await
            .context("creating the MySQL schema")?;
        // Marked first (it is ours from now on); `history` is written only once seeding is done.
        conn.execute("INSERT INTO outage_sim_meta (`key`, `value`) VALUES ('prepared_by', 'outage-sim')")
            .await?;
        conn.execute("SET unique_checks = 0, foreign_key_checks = 0").await?;
        let mut rows = 0u64;
        for (table, text) in seed::small_tables(history, seed::SQL_TUPLES) {
            rows += insert_in_chunks(&mut conn, table, &text).await?;
        }
        progress.set_length(history.data.orders);
        progress.set_message("seeding orders (INSERT)");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(i64, [String; 3])>(2);
        let (h, orders) = (history.clone(), history.data.orders as i64);
        let generator = tokio::task::spawn_blocking(move || {
            let mut first = 1;
            while first <= orders {
                let last = (first + SEED_BATCH - 1).min(orders);
                if tx
                    .blocking_send((last, seed::order_batch(&h, seed::SQL_TUPLES, first, last)))
                    .is_err()
                {
                    break;
                }
                first = last + 1;
            }
        });
        while let Some((last, [o, i, p])) = rx.recv().await {
            let mut t = conn.begin().await?;
            rows += insert(&mut t, &seed::ORDERS, &o).await?;
            rows += insert(&mut t, &seed::ORDER_ITEMS, &i).await?;
            rows += insert(&mut t, &seed::PAYMENTS, &p).await?;
            t.commit().await?;
            progress.set_position(last as u64);
        }
        generator.await?;
        progress.set_message("building indexes");
        run_statements!(&mut conn, INDEXES)
            .await
            .context("creating the MySQL indexes")?;
        conn.execute("ANALYZE TABLE customers, products, inventory, orders, order_items, payments")
            .await?;
        sqlx::query("INSERT INTO outage_sim_meta (`key`, `value`) VALUES ('history', ?)")
            .bind(history.fingerprint())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(rows)
    }

    async fn reset(&self, history: &History) -> Result<u64> {
        let mut conn = MySqlConnection::connect_with(&self.options).await?;
        let mut deleted = 0;
        for (table, max) in seed::seeded_max_ids(history).into_iter().rev() {
            deleted += sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id > ?")))
                .bind(max)
                .execute(&mut conn)
                .await?
                .rows_affected();
        }
        sqlx::query("UPDATE inventory SET stock = ?, updated_at = ? WHERE stock <> ?")
            .bind(STOCK)
            .bind(history.start_unix())
            .bind(STOCK)
            .execute(&mut conn)
            .await?;
        if deleted > 0 {
            conn.execute("ANALYZE TABLE orders, order_items, payments, inventory")
                .await?;
        }
        conn.close().await?;
        Ok(deleted)
    }

    /// The processlist state of connection `id`, if it is running something.
    async fn state_of(&self, id: u64) -> Option<String> {
        sqlx::query_scalar::<_, String>(
            "SELECT CAST(COALESCE(STATE, '') AS CHAR) FROM information_schema.PROCESSLIST WHERE ID = ?",
        )
        .bind(id)
        .fetch_optional(&self.monitor)
        .await
        .ok()
        .flatten()
    }

    /// Reserve stock (row locks in product order), create the order as pending, add its items
    /// and the payment, mark it paid: the application's checkout, one round trip a statement.
    async fn checkout(
        conn: &mut MySqlConnection,
        customer_id: i64,
        items: &[CartItem],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = cart_sql(items.len());
        let mut tx = conn.begin().await?;
        let mut lock = sqlx::query(AssertSqlSafe(sql.lock.as_str()));
        for item in items {
            lock = lock.bind(item.product_id);
        }
        lock.fetch_all(&mut *tx).await?;
        let mut reserve = sqlx::query(AssertSqlSafe(sql.reserve.as_str()));
        for item in items {
            reserve = reserve.bind(item.product_id).bind(item.qty);
        }
        reserve = reserve.bind(now);
        for item in items {
            reserve = reserve.bind(item.product_id);
        }
        reserve.execute(&mut *tx).await?;
        let order_id = sqlx::query(
            "INSERT INTO orders (customer_id, status, total_cents, created_at, updated_at) \
             VALUES (?, 'pending', 0, ?, ?)",
        )
        .bind(customer_id)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .last_insert_id();
        let mut add_items = sqlx::query(AssertSqlSafe(sql.add_items.as_str())).bind(order_id);
        for item in items {
            add_items = add_items.bind(item.product_id).bind(item.qty);
        }
        add_items.execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO payments (order_id, amount_cents, status, created_at) \
             SELECT ?, COALESCE(SUM(qty * price_cents), 0), 'captured', ? FROM order_items WHERE order_id = ?",
        )
        .bind(order_id)
        .bind(now)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE orders SET status = 'paid', updated_at = ?, \
             total_cents = (SELECT amount_cents FROM payments WHERE order_id = ?) WHERE id = ?",
        )
        .bind(now)
        .bind(order_id)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    async fn browse(conn: &mut MySqlConnection, product_id: i64, customer_id: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT p.name, p.price_cents, i.stock FROM products p \
             JOIN inventory i ON i.product_id = p.id WHERE p.id = ?",
        )
        .bind(product_id)
        .fetch_optional(&mut *conn)
        .await?;
        sqlx::query(
            "SELECT id, status, total_cents FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT 5",
        )
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(())
    }

    async fn report(conn: &mut MySqlConnection, since: i64, until: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT status, created_at DIV 3600 AS hour, COUNT(*), SUM(total_cents) FROM orders \
             WHERE status IN ('paid', 'shipped', 'delivered') AND created_at >= ? AND created_at < ? \
             GROUP BY status, hour",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&mut *conn)
        .await?;
        Ok(())
    }

    fn run_request(conn: &mut MySqlConnection, request: Request) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match request {
                Request::Browse {
                    product_id,
                    customer_id,
                } => Self::browse(conn, product_id, customer_id).await,
                Request::Checkout {
                    customer_id,
                    items,
                    now_unix,
                } => Self::checkout(conn, customer_id, &items, now_unix).await,
                Request::Report { since_unix, until_unix } => Self::report(conn, since_unix, until_unix).await,
            }
        })
    }

    async fn try_sample(&self) -> Result<Vec<(String, f64)>, sqlx::Error> {
        let mut conn = self.monitor.acquire().await?;
        let sessions: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT CAST(COALESCE(STATE, '') AS CHAR), CAST(COMMAND AS CHAR), COUNT(*) \
             FROM information_schema.PROCESSLIST WHERE DB = ? GROUP BY 1, 2",
        )
        .bind(&self.schema)
        .fetch_all(&mut *conn)
        .await?;
        let row_waits: Option<(String, String)> = sqlx::query_as(
            "SELECT CAST(VARIABLE_NAME AS CHAR), CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'INNODB_ROW_LOCK_CURRENT_WAITS'",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let row_waits: f64 = row_waits.and_then(|(_, v)| v.parse().ok()).unwrap_or(0.0);
        let count = |pred: &dyn Fn(&str, &str) -> bool| {
            sessions.iter().filter(|(s, c, _)| pred(s, c)).map(|r| r.2).sum::<i64>() as f64
        };
        let metadata_waits = count(&|s, _| s == "Waiting for table metadata lock");
        let mut out = vec![
            ("locks_waiting".to_string(), metadata_waits + row_waits),
            ("metadata_lock_waits".to_string(), metadata_waits),
            ("row_lock_waits".to_string(), row_waits),
            // sqlx runs prepared statements: their sessions show `Execute`, not `Query`.
            ("sessions_active".to_string(), count(&|_, c| c != "Sleep")),
        ];
        for (state, command, n) in &sessions {
            if command != "Sleep" && !state.is_empty() {
                out.push((format!("state:{state}"), *n as f64));
            }
        }
        Ok(out)
    }
}

/// Multi-row INSERTs of the tuples in `text`, at most ~1 MB of SQL each.
async fn insert_in_chunks(conn: &mut MySqlConnection, rows: &seed::Rows, text: &str) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let cut = match rest.len() > 1_000_000 {
            true => rest[1_000_000..].find("),(").map_or(rest.len(), |i| 1_000_000 + i + 2),
            false => rest.len(),
        };
        total += insert(&mut *conn, rows, &rest[..cut]).await?;
        rest = &rest[cut..];
    }
    Ok(total)
}

/// One multi-row INSERT of tuples written as `(…),(…),`.
async fn insert(conn: &mut MySqlConnection, rows: &seed::Rows, tuples: &str) -> Result<u64, sqlx::Error> {
    let values = tuples.trim_end_matches(',');
    let sql = format!("INSERT INTO {} ({}) VALUES {values}", rows.table, rows.columns);
    Ok(conn.execute(sqlx::raw_sql(AssertSqlSafe(sql))).await?.rows_affected())
}

/// A checkout's statements for a cart of `n` items. Parameters: `lock` the product ids;
/// `reserve` (product_id, qty) pairs, the time, then the product ids; `add_items` the order id,
/// then (product_id, qty) pairs.
fn cart_sql(n: usize) -> &'static CartSql {
    static SQL: OnceLock<Vec<CartSql>> = OnceLock::new();
    super::per_cart_size(&SQL, n, |n| {
        let ids = if n == 0 {
            "NULL".to_string()
        } else {
            vec!["?"; n].join(", ")
        };
        let cases = "WHEN ? THEN ? ".repeat(n);
        let cart = if n == 0 {
            "SELECT NULL AS product_id, 0 AS qty FROM DUAL WHERE FALSE".to_string()
        } else {
            let rest = " UNION ALL SELECT ?, ?".repeat(n - 1);
            format!("SELECT ? AS product_id, ? AS qty{rest}")
        };
        CartSql {
            lock: format!(
                "SELECT product_id FROM inventory WHERE product_id IN ({ids}) ORDER BY product_id FOR UPDATE"
            ),
            reserve: format!(
                "UPDATE inventory SET stock = stock - CASE product_id {cases}ELSE 0 END, updated_at = ? \
                         WHERE product_id IN ({ids})"
            ),
            add_items: format!(
                "INSERT INTO order_items (order_id, product_id, qty, price_cents) \
                         SELECT ?, p.id, c.qty, p.price_cents FROM ({cart}) AS c JOIN products p ON p.id = c.product_id"
            ),
        }
    })
}

impl ServerStore for MysqlStore {
    const SCHEMA_KIND: &'static str = "database";

    async fn connect(url: &str, schema: &str, pool_size: u32, pool_wait: Duration) -> Result<Self> {
        MysqlStore::connect(url, schema, pool_size, pool_wait).await
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    async fn schema_exists(&self) -> Result<bool> {
        MysqlStore::schema_exists(self).await
    }

    async fn seed(&self, history: &History, progress: &ProgressBar) -> Result<u64> {
        MysqlStore::seed(self, history, progress).await
    }

    async fn reset(&self, history: &History) -> Result<u64> {
        MysqlStore::reset(self, history).await
    }
}

impl Store for MysqlStore {
    fn dialect(&self) -> &'static str {
        "mysql"
    }

    async fn execute(&self, request: &Request, deadline: tokio::time::Instant) -> Result<(), StoreError> {
        let result = server::detached(
            self.traffic.clone(),
            request.clone(),
            (deadline, self.pool_wait),
            Self::run_request,
        )
        .await;
        result.map_err(|e| {
            // Lock wait timeout, deadlock: the database said "busy".
            let number = e
                .as_database_error()
                .and_then(|d| d.try_downcast_ref::<MySqlDatabaseError>())
                .map(|m| m.number());
            if matches!(number, Some(1205 | 1213)) {
                StoreError::Busy(e)
            } else {
                StoreError::Other(e)
            }
        })
    }

    async fn run_ddl(
        &self,
        sql: &str,
        lock_timeout: Option<Duration>,
        locked: &(dyn Fn(tokio::time::Instant) + Sync),
    ) -> Result<(), sqlx::Error> {
        let mut session = MySqlConnection::connect_with(&self.options).await?;
        if let Some(t) = lock_timeout {
            // Metadata locks and row locks have a timeout each, in seconds.
            let secs = t.as_secs_f64().max(0.001);
            let set = format!(
                "SET SESSION lock_wait_timeout = {secs:.3}, innodb_lock_wait_timeout = {}",
                secs.ceil() as u64
            );
            session.execute(AssertSqlSafe(set)).await?;
        }
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut session)
            .await?;
        let ddl = run_statements!(&mut session, sql);
        // The server does not say when an ALTER gets its metadata lock. The nearest sign: its
        // processlist state leaving the "opening" states, or, if it is ever seen waiting for the
        // metadata lock (an ALTER may take a weaker lock first and wait to upgrade it), leaving
        // that wait. Known only afterwards, so `locked` is called when the DDL is done.
        let got_lock: std::sync::Mutex<Option<tokio::time::Instant>> = Default::default();
        let watch = async {
            loop {
                if let Some(state) = self.state_of(id).await {
                    let mut got = got_lock.lock().unwrap_or_else(|p| p.into_inner());
                    if state == "Waiting for table metadata lock" {
                        *got = None;
                    } else if !BEFORE_LOCK.contains(&state.as_str()) && got.is_none() {
                        *got = Some(tokio::time::Instant::now());
                    }
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
        };
        let result = tokio::select! {
            r = ddl => r,
            _ = watch => unreachable!("the watcher never returns"),
        };
        if result.is_ok() {
            let got = *got_lock.lock().unwrap_or_else(|p| p.into_inner());
            locked(got.unwrap_or_else(tokio::time::Instant::now));
        }
        let _ = session.close().await;
        result
    }

    type Session = MySqlConnection;

    async fn open_session(&self) -> Result<Self::Session, sqlx::Error> {
        MySqlConnection::connect_with(&self.options).await
    }

    async fn session_id(&self, session: &mut Self::Session) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar::<_, u64>("SELECT CONNECTION_ID()")
            .fetch_one(&mut *session)
            .await
            .map(|id| Some(id as i64))
    }

    async fn run_in_session(&self, session: &mut Self::Session, sql: &str) -> Result<(), sqlx::Error> {
        run_statements!(session, sql).await
    }

    async fn bookkeeping(&self, sql: &str, params: Vec<super::Param>) -> Result<Vec<Vec<String>>, sqlx::Error> {
        // MySQL's placeholders are `?` and its quoted identifiers `backticked`.
        let sql = question_marks(sql).replace('"', "`");
        let mut conn = MySqlConnection::connect_with(&self.options).await?;
        let rows = bookkeeping!(&mut conn, sql, params);
        let _ = conn.close().await;
        rows
    }

    async fn sample(&self) -> Vec<(String, f64)> {
        super::server::sample_or_error(self.try_sample().await)
    }

    async fn close(&self) {
        self.traffic.close().await;
        self.monitor.close().await;
    }
}

/// `sql` with PostgreSQL-style `$1`, `$2`… placeholders as `?` (each used once, in order).
fn question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}
