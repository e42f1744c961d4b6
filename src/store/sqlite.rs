//! SQLite, embedded: the default store. WAL, `synchronous=NORMAL`, and every write funnelled
//! through one writer connection, because SQLite's busy handler polls unfairly: several writers
//! stall each other for 0.2–0.9 s with no fault at all. The writer pool hands its connection out
//! first come, first served, so it behaves as the write-lock queue a server database has; fault
//! DDL queues in it like any writer. Reads run beside it on a pool of readers (WAL).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Executor};

use super::seed::{History, STOCK};
use super::{Request, Store, StoreError};

const SCHEMA: &str = include_str!("../../schema/sqlite/schema.sql");
const INDEXES: &str = include_str!("../../schema/sqlite/indexes.sql");
/// SQLite virtual-machine steps between a report's looks at its deadline (a few microseconds).
const REPORT_CHECK_OPS: i32 = 10_000;
/// Rows generated per statement while seeding, so the progress bar moves.
const SEED_CHUNK: i64 = 100_000;

/// An embedded SQLite database file prepared by outage-sim.
pub struct SqliteStore {
    file: PathBuf,
    writer: SqlitePool,
    readers: SqlitePool,
    busy_errors: AtomicU64,
    writers_waiting: AtomicI64,
    /// Checkouts whose request was dropped while their batch ran (the shopper and the app had
    /// both given up): the writer finished them for nobody.
    writes_abandoned: AtomicU64,
    /// The background checkpointer's task, stopped on close.
    checkpointer: tokio::task::AbortHandle,
}

/// Counts a writer waiting for the write lock while it lives, even if its request is cancelled.
struct Waiting<'a>(&'a AtomicI64);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicI64) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a write transaction as abandoned unless it is marked finished.
struct Unfinished<'a>(Option<&'a AtomicU64>);

impl Unfinished<'_> {
    fn finished(mut self) {
        self.0 = None;
    }
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.0 {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How often the writer checkpoints the WAL into the database file: at the writer's peak the
/// WAL grows about 40 MB a second, so a checkpoint copies a few MB.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

fn options(file: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(file)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        // No checkpoint on commit: the checkpointer below takes its turn at the writer instead.
        .pragma("wal_autocheckpoint", "0")
}

/// Checkpoints the WAL at a steady pace, queueing for the writer like any write, as a server
/// database's checkpointer runs on a schedule. SQLite's default checkpoints after each commit
/// once the WAL passes 1,000 pages; while the readers' snapshots keep it from restarting, that
/// is every commit, each syncing the file (85–261 syncs a second measured in an overload),
/// so the writer's service time rose with the readers' load (docs/sqlite.md). On the writer,
/// not beside it: a checkpoint that races the writer's appends never finishes, and the WAL
/// then never restarts (it grew to 8 GB in a 3-minute hold).
fn spawn_checkpointer(writer: SqlitePool) -> tokio::task::AbortHandle {
    let task = tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // PASSIVE: copies what no reader still needs; never waits for the readers.
            let _ = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").await;
        }
    });
    task.abort_handle()
}

impl SqliteStore {
    /// Opens a database file that [`prepare_file`] made.
    pub async fn open(file: &Path, read_pool_size: u32) -> Result<SqliteStore> {
        let pool = |n: u32| {
            SqlitePoolOptions::new()
                .max_connections(n)
                .min_connections(n)
                .acquire_timeout(Duration::from_secs(3600))
                .test_before_acquire(false)
        };
        let writer = pool(1)
            .connect_with(options(file))
            .await
            .with_context(|| format!("cannot open {}", file.display()))?;
        let readers = pool(read_pool_size).connect_with(options(file).read_only(true)).await?;
        let checkpointer = spawn_checkpointer(writer.clone());
        Ok(SqliteStore {
            file: file.to_path_buf(),
            writer,
            readers,
            busy_errors: AtomicU64::new(0),
            writers_waiting: AtomicI64::new(0),
            writes_abandoned: AtomicU64::new(0),
            checkpointer,
        })
    }

    fn classify(&self, e: sqlx::Error) -> StoreError {
        let busy = e
            .as_database_error()
            .and_then(|d| d.code())
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6));
        if busy {
            self.busy_errors.fetch_add(1, Ordering::Relaxed);
            StoreError::Busy(e)
        } else {
            StoreError::Other(e)
        }
    }

    /// One transaction in five statements: reserve stock, create the order as pending, add its
    /// items at current prices, take the payment, mark the order paid. The statements go to
    /// SQLite's worker thread as one batch: each round trip between threads costs two thread
    /// wake-ups, and with one per statement (seven a checkout) the writer sat idle between them
    /// and the hand-offs, not the database, set the capacity (docs/sqlite.md). The batch runs on
    /// a task of its own, so a request that times out mid-way never leaves the writer inside a
    /// transaction: its checkout is finished for nobody, as an app server finishes the work of a
    /// client that went away.
    async fn checkout(&self, customer_id: i64, items: &[super::CartItem], now: i64) -> Result<(), sqlx::Error> {
        let waiting = Waiting::new(&self.writers_waiting);
        let mut conn = self.writer.acquire().await?;
        drop(waiting);
        let unfinished = Unfinished(Some(&self.writes_abandoned));
        let mut batch = sqlx::query(AssertSqlSafe(cart_sql(items.len()).as_str())).bind(now);
        for item in items {
            batch = batch.bind(item.product_id).bind(item.qty);
        }
        let batch = batch.bind(customer_id);
        let result = tokio::spawn(async move {
            let result = batch.execute(&mut *conn).await;
            if result.is_err() {
                // A statement failed after BEGIN: the batch stopped there. Without a transaction
                // open (BEGIN itself failed) this fails too, harmlessly.
                let _ = (&mut *conn).execute("ROLLBACK").await;
            }
            result
        })
        .await
        .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("checkout task failed: {e}"))));
        unfinished.finished();
        result.map(drop)
    }

    /// The product page and the customer's recent orders, in one batch (one round trip).
    async fn browse(&self, product_id: i64, customer_id: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.readers.acquire().await?;
        sqlx::query(
            "SELECT p.name, p.price_cents, i.stock FROM products p \
             JOIN inventory i ON i.product_id = p.id WHERE p.id = ?1; \
             SELECT id, status, total_cents FROM orders WHERE customer_id = ?2 \
             ORDER BY created_at DESC LIMIT 5",
        )
        .bind(product_id)
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(())
    }

    /// Runs on a task of its own, so the interrupt is always cleared: a report whose request
    /// timed out is interrupted at its deadline, as a driver cancels a query when its caller's
    /// context ends. Left to run, timed-out reports kept readers and cores busy for nobody, and
    /// without the reporting indexes (each report then reads its rows from the table) they
    /// starved checkout of CPU until the load fell (docs/mechanism.md).
    async fn report(&self, since: i64, until: i64, deadline: tokio::time::Instant) -> Result<(), sqlx::Error> {
        let readers = self.readers.clone();
        tokio::spawn(async move {
            let mut conn = tokio::time::timeout_at(deadline, readers.acquire())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            let deadline = deadline.into_std();
            let in_time = move || std::time::Instant::now() < deadline;
            conn.lock_handle()
                .await?
                .set_progress_handler(REPORT_CHECK_OPS, in_time);
            let result = sqlx::query(
                "SELECT status, created_at / 3600 AS hour, COUNT(*), SUM(total_cents) FROM orders \
                 WHERE status IN ('paid', 'shipped', 'delivered') AND created_at >= ?1 AND created_at < ?2 \
                 GROUP BY status, hour",
            )
            .bind(since)
            .bind(until)
            .fetch_all(&mut *conn)
            .await;
            conn.lock_handle().await?.remove_progress_handler();
            result.map(drop)
        })
        .await
        .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("report task failed: {e}"))))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

impl Store for SqliteStore {
    fn dialect(&self) -> &'static str {
        "sqlite"
    }

    async fn execute(&self, request: &Request, deadline: tokio::time::Instant) -> Result<(), StoreError> {
        let result = match request {
            Request::Browse {
                product_id,
                customer_id,
            } => self.browse(*product_id, *customer_id).await,
            Request::Checkout {
                customer_id,
                items,
                now_unix,
            } => self.checkout(*customer_id, items, *now_unix).await,
            Request::Report { since_unix, until_unix } => self.report(*since_unix, *until_unix, deadline).await,
        };
        result.map_err(|e| self.classify(e))
    }

    async fn run_ddl(
        &self,
        sql: &str,
        lock_timeout: Option<Duration>,
        locked: &(dyn Fn(tokio::time::Instant) + Sync),
    ) -> Result<(), sqlx::Error> {
        // Each statement commits on its own and queues for the writer again, as it would from
        // a migration tool: the checkouts that queued behind one index build are served before
        // the next build starts. A migration that opens its own transaction keeps the writer.
        let statements = super::split_statements(sql);
        let opens_transaction = statements.iter().any(|s| {
            let code = s.lines().find(|l| !l.trim_start().starts_with("--")).unwrap_or("");
            code.trim_start().to_ascii_uppercase().starts_with("BEGIN")
        });
        let turns = if opens_transaction {
            vec![sql.to_string()]
        } else {
            statements
        };
        for (i, statement) in turns.into_iter().enumerate() {
            let waiting = Waiting::new(&self.writers_waiting);
            let mut conn = match lock_timeout {
                None => self.writer.acquire().await?,
                Some(t) => tokio::time::timeout(t, self.writer.acquire())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??,
            };
            drop(waiting);
            if i == 0 {
                locked(tokio::time::Instant::now());
            }
            sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut *conn).await?;
        }
        Ok(())
    }

    type Session = sqlx::SqliteConnection;

    async fn open_session(&self) -> Result<Self::Session, sqlx::Error> {
        <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options(&self.file)).await
    }

    async fn session_id(&self, _session: &mut Self::Session) -> Result<Option<i64>, sqlx::Error> {
        Ok(None)
    }

    async fn run_in_session(&self, session: &mut Self::Session, sql: &str) -> Result<(), sqlx::Error> {
        run_statements!(session, sql).await
    }

    async fn bookkeeping(&self, sql: &str, params: Vec<super::Param>) -> Result<Vec<Vec<String>>, sqlx::Error> {
        // Through the writer: bookkeeping queues with the writes, as any writer does.
        bookkeeping!(&self.writer, sql.to_string(), params)
    }

    async fn close(&self) {
        self.checkpointer.abort();
        self.readers.close().await;
        self.writer.close().await;
    }

    async fn sample(&self) -> Vec<(String, f64)> {
        let wal = std::fs::metadata(format!("{}-wal", self.file.display()))
            .map(|m| m.len())
            .unwrap_or(0);
        vec![
            ("busy_errors_total", self.busy_errors.load(Ordering::Relaxed) as f64),
            ("writers_waiting", self.writers_waiting.load(Ordering::Relaxed) as f64),
            (
                "writes_abandoned_total",
                self.writes_abandoned.load(Ordering::Relaxed) as f64,
            ),
            ("wal_bytes", wal as f64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// A checkout's batch for a cart of `n` items: `?1` = now, then (product_id, qty) pairs, then
/// the customer id. The batch has no way to carry a value from one statement to the next, so it
/// finds its order as the newest (`MAX(id)`: ids only grow, and the transaction holds the only
/// writer) and its payment as the last row inserted.
fn cart_sql(n: usize) -> &'static String {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    super::per_cart_size(&SQL, n, |n| {
        let pairs: Vec<String> = (0..n).map(|i| format!("(?{}, ?{})", 2 + 2 * i, 3 + 2 * i)).collect();
        let cart = if n == 0 {
            "SELECT 0, 0 WHERE 0".to_string()
        } else {
            format!("VALUES {}", pairs.join(", "))
        };
        let customer = 2 + 2 * n;
        format!(
            "BEGIN IMMEDIATE; \
             WITH cart(product_id, qty) AS ({cart}) \
             UPDATE inventory SET stock = stock - (SELECT qty FROM cart WHERE cart.product_id = inventory.product_id), \
             updated_at = ?1 WHERE product_id IN (SELECT product_id FROM cart); \
             INSERT INTO orders (customer_id, status, total_cents, created_at, updated_at) \
             VALUES (?{customer}, 'pending', 0, ?1, ?1); \
             WITH cart(product_id, qty) AS ({cart}) \
             INSERT INTO order_items (order_id, product_id, qty, price_cents) \
             SELECT (SELECT MAX(id) FROM orders), p.id, cart.qty, p.price_cents FROM cart JOIN products p ON p.id = cart.product_id; \
             INSERT INTO payments (order_id, amount_cents, status, created_at) \
             SELECT order_id, SUM(qty * price_cents), 'captured', ?1 FROM order_items \
             WHERE order_id = (SELECT MAX(id) FROM orders); \
             UPDATE orders SET status = 'paid', updated_at = ?1, \
             total_cents = (SELECT amount_cents FROM payments WHERE id = last_insert_rowid()) \
             WHERE id = (SELECT MAX(id) FROM orders); \
             COMMIT"
        )
    })
}

/// Where a run's SQLite database comes from.
pub enum RunFile<'a> {
    /// A copy of the cached, seeded base database, at this path in the run directory.
    CopyOfBase { cache: &'a Path, copy: &'a Path },
    /// The user's own file (`--db sqlite:PATH`), prepared first if it does not exist.
    Own(&'a Path),
    /// A copy of the user's own file (prepared first if it does not exist), so each run of an
    /// ensemble starts from the same data.
    CopyOfOwn { own: &'a Path, copy: &'a Path },
}

/// Opens the database a run works on, seeding what is missing with a progress bar.
pub async fn open_for_run(history: &History, file: RunFile<'_>, read_pool_size: u32) -> Result<SqliteStore> {
    let seeding = crate::progress::bar(history.data.orders, "{msg:>18} [{bar:40}] {pos}/{len} orders ({eta})");
    let path = match file {
        RunFile::Own(f) => {
            if !f.exists() {
                prepare_file(f, history, &seeding).await?;
            }
            f
        }
        RunFile::CopyOfOwn { own, copy } => {
            if !own.exists() {
                prepare_file(own, history, &seeding).await?;
            }
            std::fs::copy(own, copy)
                .with_context(|| format!("cannot copy {} into the run directory", own.display()))?;
            std::fs::File::open(copy)?.sync_all()?;
            copy
        }
        RunFile::CopyOfBase { cache, copy } => {
            let base = ensure_base(cache, history, &seeding)
                .await
                .context("seeding the SQLite base database")?;
            std::fs::copy(&base, copy)
                .with_context(|| format!("cannot copy {} into the run directory", base.display()))?;
            // Flush the copy now, so the kernel's write-back does not compete with the probe.
            std::fs::File::open(copy)?.sync_all()?;
            copy
        }
    };
    seeding.finish_and_clear();
    SqliteStore::open(path, read_pool_size).await
}

/// Deletes a run's copy of the database and its WAL files.
pub fn remove_files(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

/// Where the seeded base database for `history` lives under `cache_dir`. The name changes with
/// everything that shapes the data, so a changed scenario never reuses a stale file.
pub fn base_file(cache_dir: &Path, history: &History) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (SCHEMA, INDEXES, &history.data, history.seed, history.end_unix).hash(&mut h);
    let orders = history.data.orders;
    cache_dir.join(format!("sqlite-{orders}-orders-{:016x}.db", h.finish()))
}

/// Makes sure the seeded base database exists (seeding it once, into a temporary file that is
/// renamed when complete, so an interrupted seed is never reused) and returns its path.
pub async fn ensure_base(cache_dir: &Path, history: &History, progress: &ProgressBar) -> Result<PathBuf> {
    let file = base_file(cache_dir, history);
    if file.exists() {
        return Ok(file);
    }
    std::fs::create_dir_all(cache_dir).with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let tmp = file.with_extension(format!("seeding-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    prepare_file(&tmp, history, progress).await?;
    // Seeded with synchronous=OFF: flushed before it takes its name, so a crash cannot leave a
    // half-written base under it, and its write-back does not compete with the first steps.
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &file)?;
    Ok(file)
}

/// Creates the schema in a new file and seeds it with `history` (the same data as
/// [`super::seed`] generates for the servers, here computed by SQLite itself), marking it as
/// prepared by outage-sim.
pub async fn prepare_file(file: &Path, history: &History, progress: &ProgressBar) -> Result<()> {
    let data = &history.data;
    // Items are generated before their orders (to total them), so constraints wait until the end.
    let opts = options(file)
        .create_if_missing(true)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(false)
        // One connection and no readers: checkpointing on commit costs nothing here, and keeps
        // the WAL from growing to the size of the data.
        .pragma("wal_autocheckpoint", "1000");
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
    let mut conn = pool.acquire().await?;
    conn.execute(SCHEMA).await.context("creating the SQLite schema")?;
    let (salt, span, start) = (history.salt(), history.span(), history.start_unix());
    let (customers, products) = (data.customers as i64, data.products as i64);

    sqlx::query(
        "WITH RECURSIVE ids(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM ids WHERE n < ?1) \
         INSERT INTO customers (id, email, created_at) SELECT n, 'customer' || n || '@example.com', ?2 FROM ids",
    )
    .bind(customers)
    .bind(start)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "WITH RECURSIVE ids(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM ids WHERE n < ?1) \
         INSERT INTO products (id, name, price_cents) SELECT n, 'product ' || n, 299 + (n * 7919 + ?2) % 19700 FROM ids",
    )
    .bind(products)
    .bind(salt)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO inventory (product_id, stock, updated_at) SELECT id, ?1, ?2 FROM products")
        .bind(STOCK)
        .bind(start)
        .execute(&mut *conn)
        .await?;

    let orders = data.orders as i64;
    progress.set_length(data.orders);
    progress.set_message("seeding orders");
    let mut first = 1;
    while first <= orders {
        let last = (first + SEED_CHUNK - 1).min(orders);
        seed_orders(&mut conn, first, last, orders, salt, customers, products, start, span).await?;
        progress.set_position(last as u64);
        first = last + 1;
    }
    progress.set_message("building indexes");
    conn.execute(INDEXES).await.context("creating the SQLite indexes")?;
    sqlx::query("INSERT INTO outage_sim_meta (key, value) VALUES ('prepared_by', 'outage-sim'), ('orders', ?1)")
        .bind(orders.to_string())
        .execute(&mut *conn)
        .await?;
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    drop(conn);
    pool.close().await;
    Ok(())
}

/// Orders `first..=last` with one to three items each and a payment, all derived from a hash
/// of the order id, so the same sizes and seed give the same data everywhere.
#[allow(clippy::too_many_arguments)]
async fn seed_orders(
    conn: &mut sqlx::SqliteConnection,
    first: i64,
    last: i64,
    orders: i64,
    salt: i64,
    customers: i64,
    products: i64,
    start: i64,
    span: i64,
) -> Result<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query(
        "WITH RECURSIVE ids(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM ids WHERE n < ?2), \
              k(i) AS (VALUES (1), (2), (3)), \
              lines(n, p, q) AS (SELECT n, 1 + ((n * 3 + i) * 2246822519 + ?3) % ?4, 1 + (n + i) % 2 \
                                 FROM ids, k WHERE i <= 1 + (n * 7 + ?3) % 3) \
         INSERT INTO order_items (order_id, product_id, qty, price_cents) \
         SELECT n, p, q, (SELECT price_cents FROM products WHERE id = p) FROM lines",
    )
    .bind(first)
    .bind(last)
    .bind(salt)
    .bind(products)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH RECURSIVE ids(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM ids WHERE n < ?2), \
              placed(n, at, x) AS (SELECT n, ?5 + n * ?6 / ?7, (n * 2654435761 + ?3) % 4294967296 FROM ids) \
         INSERT INTO orders (id, customer_id, status, total_cents, created_at, updated_at) \
         SELECT n, 1 + x % ?4, \
                CASE WHEN x % 20 = 0 THEN 'cancelled' \
                     WHEN at > ?5 + ?6 - 86400 THEN 'paid' \
                     WHEN at > ?5 + ?6 - 4 * 86400 THEN 'shipped' \
                     ELSE 'delivered' END, \
                (SELECT SUM(qty * price_cents) FROM order_items WHERE order_id = n), at, at \
         FROM placed",
    )
    .bind(first)
    .bind(last)
    .bind(salt)
    .bind(customers)
    .bind(start)
    .bind(span)
    .bind(orders)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO payments (order_id, amount_cents, status, created_at) \
         SELECT id, total_cents, CASE status WHEN 'cancelled' THEN 'refunded' ELSE 'captured' END, created_at \
         FROM orders WHERE id BETWEEN ?1 AND ?2",
    )
    .bind(first)
    .bind(last)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::DataSize;
    use tokio::time::Instant;

    /// A store with one reader on a history small enough to seed in a test.
    async fn small_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        let history = History {
            data: DataSize {
                orders: 20_000,
                customers: 500,
                products: 50,
                history_days: 10,
            },
            seed: 42,
            end_unix: 1_717_848_000,
        };
        prepare_file(&file, &history, &ProgressBar::hidden()).await.unwrap();
        (dir, SqliteStore::open(&file, 1).await.unwrap())
    }

    #[tokio::test]
    async fn a_checkout_batch_pays_its_order_and_a_failed_one_leaves_nothing_behind() {
        let (_dir, store) = small_store().await;
        let checkout = |customer_id, products: &[i64]| Request::Checkout {
            customer_id,
            items: products
                .iter()
                .map(|&product_id| super::super::CartItem { product_id, qty: 2 })
                .collect(),
            now_unix: 1_717_848_000,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let scalar = |sql: &'static str| {
            let pool = store.readers.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
        };
        let stock = "SELECT SUM(stock) FROM inventory";
        let before = scalar(stock).await;
        // Customer 10,000 does not exist: the order's insert fails after the stock was reserved.
        let failed = store.execute(&checkout(10_000, &[1, 2]), deadline).await;
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(scalar(stock).await, before, "the reservation is rolled back");
        store.execute(&checkout(7, &[1, 5, 9]), deadline).await.unwrap();
        store.execute(&checkout(8, &[3]), deadline).await.unwrap();
        let paid = "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id \
                    WHERE o.id > 20000 AND o.status = 'paid' AND o.total_cents = p.amount_cents \
                    AND o.total_cents = (SELECT SUM(qty * price_cents) FROM order_items WHERE order_id = o.id)";
        assert_eq!(scalar(paid).await, 2, "each order is paid, with its items and payment");
        assert_eq!(scalar("SELECT COUNT(*) FROM orders").await, 20_002);
        assert_eq!(scalar(stock).await, before - 8);
    }

    #[tokio::test]
    async fn a_report_past_its_deadline_is_interrupted_and_its_reader_serves_the_next_request() {
        let (_dir, store) = small_store().await; // one reader: the same connection
        // Every order in the history: far longer than 2 ms.
        let late = store
            .report(0, i64::MAX, Instant::now() + Duration::from_millis(2))
            .await;
        let code = late
            .as_ref()
            .err()
            .and_then(|e| e.as_database_error())
            .and_then(|e| e.code());
        assert_eq!(
            code.as_deref(),
            Some("9"),
            "not interrupted (SQLITE_INTERRUPT): {late:?}"
        );
        let in_time = Instant::now() + Duration::from_secs(60);
        store.report(0, i64::MAX, in_time).await.unwrap();
        let browse = Request::Browse {
            product_id: 1,
            customer_id: 1,
        };
        store.execute(&browse, in_time).await.unwrap();
    }
}
