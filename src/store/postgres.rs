//! PostgreSQL: the tool works in a schema of its own (`--schema`, default `outage_sim`) inside
//! the URL's database, seeded through COPY and reset to the seeded state before each run.
//! Traffic uses one pool; the monitor and the lock watcher use a second one, so they still
//! answer when every traffic connection is stuck behind a lock; fault DDL runs on a session of
//! its own, the way an operator's psql would.

use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use indicatif::ProgressBar;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor};

use super::pool::Traffic;
use super::seed::{self, History, STOCK};
use super::server::{self, ServerStore};
use super::{CartItem, CartSql, Request, Store, StoreError, redact};

const SCHEMA: &str = include_str!("../../schema/postgres/schema.sql");
const INDEXES: &str = include_str!("../../schema/postgres/indexes.sql");
/// Orders per COPY batch: large enough to stream fast, small enough to move the progress bar.
const SEED_BATCH: i64 = 50_000;
/// How often the lock watcher looks at `pg_locks` while fault DDL runs.
const LOCK_POLL: Duration = Duration::from_millis(10);

pub struct PostgresStore {
    traffic: Traffic<PgConnection>,
    monitor: PgPool,
    options: PgConnectOptions,
    schema: String,
    pool_wait: Duration,
}

impl PostgresStore {
    /// Connects to the server (a clear one-line error if it is down) with `pool_size` traffic
    /// connections whose search_path is `schema`; a request waits at most `pool_wait`
    /// for one of them. Nothing is created yet: see [`Self::prepare`].
    pub async fn connect(url: &str, schema: &str, pool_size: u32, pool_wait: Duration) -> Result<PostgresStore> {
        let base = PgConnectOptions::from_str(url).map_err(|e| anyhow::anyhow!("{}: {e}", redact(url)))?;
        // Fail fast and plainly when the server is not there, before any pool retries.
        let probe = PgConnection::connect_with(&base)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redact(url)))?;
        let _ = probe.close().await;
        let options = base
            .clone()
            .options([("search_path", schema)])
            .application_name("outage-sim");
        let pool = |n: u32, wait: Duration, name: &str| {
            // No ping on acquire: a request that times out while its ping is in flight would
            // close the connection, and under overload that churns the whole pool.
            PgPoolOptions::new()
                .max_connections(n)
                .acquire_timeout(wait)
                .test_before_acquire(false)
                .connect_lazy_with(options.clone().application_name(name))
        };
        Ok(PostgresStore {
            traffic: Traffic::new(options.clone(), pool_size),
            monitor: pool(2, Duration::from_secs(10), "outage-sim-monitor"),
            options,
            schema: schema.to_string(),
            pool_wait,
        })
    }

    async fn session(&self) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect_with(&self.options.clone().application_name("outage-sim-ddl")).await
    }

    async fn schema_exists(&self) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)";
        Ok(sqlx::query_scalar(sql)
            .bind(&self.schema)
            .fetch_one(&self.monitor)
            .await?)
    }

    /// (Re)creates the schema and loads `history` through COPY; returns the rows written.
    async fn seed(&self, history: &History, progress: &ProgressBar) -> Result<u64> {
        let mut conn = PgConnection::connect_with(&self.options).await?;
        let s = &self.schema; // checked to be a plain identifier
        conn.execute(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET search_path = {s}"
        )))
        .await?;
        conn.execute(SCHEMA).await.context("creating the PostgreSQL schema")?;
        // Marked first (it is ours from now on); `history` is written only once seeding is done.
        sqlx::query("INSERT INTO outage_sim_meta (key, value) VALUES ('prepared_by', 'outage-sim')")
            .execute(&mut conn)
            .await?;
        // Each session truncates its tables in the transaction that loads them, so COPY may
        // write the rows frozen and visible to all, as `pgbench -i` does: the VACUUM after the
        // load then has nothing to rewrite.
        conn.execute("BEGIN; TRUNCATE customers, products, inventory, orders, payments")
            .await?;
        let mut rows = 0u64;
        for (table, text) in seed::small_tables(history, seed::COPY_TEXT) {
            rows += copy(&mut conn, table, text).await?;
        }
        progress.set_length(history.data.orders);
        progress.set_message("seeding orders (COPY)");
        // One thread writes the text; two sessions stream it (order items on one, orders and
        // payments on the other), so the server parses on both cores while the text is made.
        let (to_orders, mut orders_rx) = tokio::sync::mpsc::channel::<(i64, String, String)>(2);
        let (to_items, mut items_rx) = tokio::sync::mpsc::channel::<String>(2);
        let (h, orders) = (history.clone(), history.data.orders as i64);
        let generator = tokio::task::spawn_blocking(move || {
            let mut first = 1;
            while first <= orders {
                let last = (first + SEED_BATCH - 1).min(orders);
                let [o, i, p] = seed::order_batch(&h, seed::COPY_TEXT, first, last);
                if to_items.blocking_send(i).is_err() || to_orders.blocking_send((last, o, p)).is_err() {
                    break;
                }
                first = last + 1;
            }
        });
        let mut items_conn = PgConnection::connect_with(&self.options).await?;
        items_conn.execute("BEGIN; TRUNCATE order_items").await?;
        let items = async {
            let mut rows = 0;
            while let Some(text) = items_rx.recv().await {
                rows += copy(&mut items_conn, &seed::ORDER_ITEMS, text).await?;
            }
            items_conn.execute("COMMIT").await?;
            Ok::<u64, sqlx::Error>(rows)
        };
        let orders_and_payments = async {
            let mut rows = 0;
            while let Some((last, o, p)) = orders_rx.recv().await {
                rows += copy(&mut conn, &seed::ORDERS, o).await?;
                rows += copy(&mut conn, &seed::PAYMENTS, p).await?;
                progress.set_position(last as u64);
            }
            conn.execute("COMMIT").await?;
            Ok::<u64, sqlx::Error>(rows)
        };
        let (a, b) = tokio::try_join!(orders_and_payments, items)?;
        rows += a + b;
        generator.await?;
        progress.set_message("building keys and indexes, vacuum analyze");
        build_indexes(&mut conn, &mut items_conn)
            .await
            .context("creating the PostgreSQL indexes")?;
        items_conn.close().await?;
        self.restart_sequences(&mut conn, history).await?;
        sqlx::query("INSERT INTO outage_sim_meta (key, value) VALUES ('history', $1)")
            .bind(history.fingerprint())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(rows)
    }

    /// Deletes the rows runs added and restores stock, so the next run starts from the seed.
    async fn reset(&self, history: &History) -> Result<u64> {
        let mut conn = PgConnection::connect_with(&self.options).await?;
        let mut deleted = 0;
        // Children first, then orders.
        for (table, max) in seed::seeded_max_ids(history).into_iter().rev() {
            deleted += conn
                .execute(sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id > $1"))).bind(max))
                .await?
                .rows_affected();
        }
        sqlx::query("UPDATE inventory SET stock = $1, updated_at = $2 WHERE stock <> $1")
            .bind(STOCK)
            .bind(history.start_unix())
            .execute(&mut conn)
            .await?;
        self.restart_sequences(&mut conn, history).await?;
        if deleted > 0 {
            conn.execute("VACUUM ANALYZE orders, order_items, payments, inventory")
                .await?;
        }
        conn.close().await?;
        Ok(deleted)
    }

    async fn restart_sequences(&self, conn: &mut PgConnection, history: &History) -> Result<()> {
        for (table, max) in seed::seeded_max_ids(history) {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), $1)"
            )))
            .bind(max)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Whether backend `pid` holds a lock that writes conflict with on one of our tables.
    async fn holds_ddl_lock(&self, pid: i32) -> bool {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE l.pid = $1 AND l.granted AND n.nspname = $2 AND c.relkind IN ('r', 'p') \
             AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock', \
                            'ShareUpdateExclusiveLock'))",
        )
        .bind(pid)
        .bind(&self.schema)
        .fetch_one(&self.monitor)
        .await
        .unwrap_or(false)
    }

    /// Reserve stock (row locks in product order), create the order as pending, add its items
    /// and the payment, mark it paid: the application's checkout, one round trip a statement.
    async fn checkout(
        conn: &mut PgConnection,
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
        for value in ids_then_qtys(items) {
            reserve = reserve.bind(value);
        }
        reserve.bind(now).execute(&mut *tx).await?;
        let order_id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (customer_id, status, total_cents, created_at, updated_at) \
             VALUES ($1, 'pending', 0, $2, $2) RETURNING id",
        )
        .bind(customer_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut add_items = sqlx::query(AssertSqlSafe(sql.add_items.as_str())).bind(order_id);
        for value in ids_then_qtys(items) {
            add_items = add_items.bind(value);
        }
        add_items.execute(&mut *tx).await?;
        let total: i64 = sqlx::query_scalar(
            "INSERT INTO payments (order_id, amount_cents, status, created_at) \
             SELECT $1, COALESCE(SUM(qty * price_cents), 0), 'captured', $2 FROM order_items WHERE order_id = $1 \
             RETURNING amount_cents",
        )
        .bind(order_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE orders SET status = 'paid', total_cents = $2, updated_at = $3 WHERE id = $1")
            .bind(order_id)
            .bind(total)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    async fn browse(conn: &mut PgConnection, product_id: i64, customer_id: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT p.name, p.price_cents, i.stock FROM products p \
             JOIN inventory i ON i.product_id = p.id WHERE p.id = $1",
        )
        .bind(product_id)
        .fetch_optional(&mut *conn)
        .await?;
        sqlx::query(
            "SELECT id, status, total_cents FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 5",
        )
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(())
    }

    async fn report(conn: &mut PgConnection, since: i64, until: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT status, created_at / 3600 AS hour, COUNT(*), SUM(total_cents) FROM orders \
             WHERE status IN ('paid', 'shipped', 'delivered') AND created_at >= $1 AND created_at < $2 \
             GROUP BY status, hour",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&mut *conn)
        .await?;
        Ok(())
    }

    fn run_request(conn: &mut PgConnection, request: Request) -> BoxFuture<'_, Result<(), sqlx::Error>> {
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
        // Sessions of this database but not the monitor's own, by state and by wait event.
        let sessions: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT COALESCE(state, 'unknown'), COALESCE(wait_event_type || ':' || wait_event, ''), count(*) \
             FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' \
             AND application_name <> 'outage-sim-monitor' GROUP BY 1, 2",
        )
        .fetch_all(&mut *conn)
        .await?;
        let (waiting, on_orders, longest): (i64, i64, f64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE l.relation = to_regclass(quote_ident($1) || '.orders')), \
                    COALESCE(EXTRACT(EPOCH FROM max(now() - l.waitstart))::float8, 0) \
             FROM pg_locks l WHERE NOT l.granted",
        )
        .bind(&self.schema)
        .fetch_one(&mut *conn)
        .await?;
        let mut out = vec![
            ("locks_waiting".to_string(), waiting as f64),
            ("locks_waiting_orders".to_string(), on_orders as f64),
            ("lock_wait_longest_s".to_string(), longest),
        ];
        let count = |pred: &dyn Fn(&str, &str) -> bool| {
            sessions.iter().filter(|(s, w, _)| pred(s, w)).map(|r| r.2).sum::<i64>() as f64
        };
        out.push(("sessions_active".into(), count(&|s, _| s == "active")));
        out.push((
            "sessions_idle_in_transaction".into(),
            count(&|s, _| s.starts_with("idle in transaction")),
        ));
        out.push((
            "sessions_waiting_on_locks".into(),
            count(&|_, w| w.starts_with("Lock:")),
        ));
        let mut breakdown: std::collections::BTreeMap<String, f64> = Default::default();
        for (state, wait, n) in &sessions {
            *breakdown.entry(format!("state:{state}")).or_default() += *n as f64;
            if !wait.is_empty() && state == "active" {
                *breakdown.entry(format!("wait:{wait}")).or_default() += *n as f64;
            }
        }
        out.extend(breakdown);
        Ok(out)
    }
}

/// A checkout's statements for a cart of `n` items, the cart sent as scalars (`ARRAY[$1, $2,
/// $3]`) as pgbench sends it: PostgreSQL then knows the array's length when it plans, and after
/// five executions keeps a generic plan. With one array parameter (`ANY($1)`) it guessed 10
/// elements, planned every execution anew, and served 0.83 of pgbench's checkouts
/// (docs/benchmarks.md). Parameters: `lock` the product ids; `reserve` the product ids, then the
/// quantities, then the time; `add_items` the order id, then product ids, then quantities.
/// The cart's product ids, then its quantities: the order `cart_sql`'s arrays take them in.
fn ids_then_qtys(items: &[CartItem]) -> impl Iterator<Item = i64> + '_ {
    items.iter().map(|i| i.product_id).chain(items.iter().map(|i| i.qty))
}

fn cart_sql(n: usize) -> &'static CartSql {
    static SQL: OnceLock<Vec<CartSql>> = OnceLock::new();
    super::per_cart_size(&SQL, n, |n| {
        let array = |first: usize| {
            let params: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
            format!("ARRAY[{}]::bigint[]", params.join(", "))
        };
        CartSql {
            lock: format!(
                "SELECT product_id FROM inventory WHERE product_id = ANY({}) ORDER BY product_id FOR UPDATE",
                array(1)
            ),
            reserve: format!(
                "UPDATE inventory SET stock = stock - c.qty, updated_at = ${} \
                 FROM unnest({}, {}) AS c(product_id, qty) WHERE inventory.product_id = c.product_id",
                2 * n + 1,
                array(1),
                array(n + 1)
            ),
            add_items: format!(
                "INSERT INTO order_items (order_id, product_id, qty, price_cents) \
                 SELECT $1, p.id, c.qty, p.price_cents FROM unnest({}, {}) AS c(product_id, qty) \
                 JOIN products p ON p.id = c.product_id",
                array(2),
                array(n + 2)
            ),
        }
    })
}

/// The tables whose keys and indexes one session builds (then vacuums and analyzes), while
/// a second session does the rest: about half the index entries each, so both cores sort.
const SECOND_SESSION_TABLES: [&str; 2] = ["order_items", "payments"];
const FIRST_SESSION_TABLES: [&str; 5] = ["orders", "customers", "products", "inventory", "outage_sim_meta"];

/// The keys and indexes, then VACUUM ANALYZE, on two sessions at once. Each sorts in memory
/// rather than in temporary files (PostgreSQL's default is 64 MB) and on its own core: two
/// sessions that each also start parallel workers made four sorts fight over two cores: the
/// whole seeding took 8.0–9.4 s instead of 6.5–6.6 (2 seedings each, 2 cores).
async fn build_indexes(conn: &mut PgConnection, second: &mut PgConnection) -> Result<(), sqlx::Error> {
    let (second_statements, first_statements): (Vec<&str>, Vec<&str>) = INDEXES
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .partition(|s| SECOND_SESSION_TABLES.iter().any(|t| s.contains(&format!(" {t} "))));
    let build = async |conn: &mut PgConnection, statements: Vec<&str>, tables: String| {
        conn.execute("SET maintenance_work_mem = '256MB'; SET max_parallel_maintenance_workers = 0")
            .await?;
        conn.execute(AssertSqlSafe(statements.join(";"))).await?;
        conn.execute(AssertSqlSafe(format!("VACUUM ANALYZE {tables}"))).await?;
        Ok::<(), sqlx::Error>(())
    };
    tokio::try_join!(
        build(conn, first_statements, FIRST_SESSION_TABLES.join(", ")),
        build(second, second_statements, SECOND_SESSION_TABLES.join(", "))
    )?;
    Ok(())
}

async fn copy(conn: &mut PgConnection, rows: &seed::Rows, text: String) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(&format!("COPY {} ({}) FROM STDIN (FREEZE)", rows.table, rows.columns))
        .await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await
}

impl ServerStore for PostgresStore {
    const SCHEMA_KIND: &'static str = "schema";

    async fn connect(url: &str, schema: &str, pool_size: u32, pool_wait: Duration) -> Result<Self> {
        PostgresStore::connect(url, schema, pool_size, pool_wait).await
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    async fn schema_exists(&self) -> Result<bool> {
        PostgresStore::schema_exists(self).await
    }

    async fn seed(&self, history: &History, progress: &ProgressBar) -> Result<u64> {
        PostgresStore::seed(self, history, progress).await
    }

    async fn reset(&self, history: &History) -> Result<u64> {
        PostgresStore::reset(self, history).await
    }
}

impl Store for PostgresStore {
    fn dialect(&self) -> &'static str {
        "postgres"
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
            // lock_not_available, deadlock_detected, serialization_failure: the database said "busy".
            let code = e.as_database_error().and_then(|d| d.code()).unwrap_or_default();
            if matches!(code.as_ref(), "55P03" | "40P01" | "40001") {
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
        let mut session = self.session().await?;
        if let Some(t) = lock_timeout {
            let set = format!("SET lock_timeout = '{}ms'", t.as_millis().max(1));
            session.execute(AssertSqlSafe(set)).await?;
        }
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut session)
            .await?;
        let seen = AtomicBool::new(false);
        let ddl = run_statements!(&mut session, sql);
        let watch = async {
            loop {
                if self.holds_ddl_lock(pid).await {
                    seen.store(true, Ordering::Relaxed);
                    locked(tokio::time::Instant::now());
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
        };
        let result = tokio::select! {
            r = ddl => r,
            _ = watch => unreachable!("the watcher never returns"),
        };
        // Too quick for the watcher: it held its lock at some point before it finished.
        if result.is_ok() && !seen.load(Ordering::Relaxed) {
            locked(tokio::time::Instant::now());
        }
        let _ = session.close().await;
        result
    }

    type Session = PgConnection;

    async fn open_session(&self) -> Result<Self::Session, sqlx::Error> {
        self.session().await
    }

    async fn session_id(&self, session: &mut Self::Session) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
            .fetch_one(&mut *session)
            .await
            .map(|id| Some(id as i64))
    }

    async fn run_in_session(&self, session: &mut Self::Session, sql: &str) -> Result<(), sqlx::Error> {
        run_statements!(session, sql).await
    }

    async fn bookkeeping(&self, sql: &str, params: Vec<super::Param>) -> Result<Vec<Vec<String>>, sqlx::Error> {
        bookkeeping!(&self.monitor, sql.to_string(), params)
    }

    async fn sample(&self) -> Vec<(String, f64)> {
        super::server::sample_or_error(self.try_sample().await)
    }

    async fn close(&self) {
        self.traffic.close().await;
        self.monitor.close().await;
    }
}
