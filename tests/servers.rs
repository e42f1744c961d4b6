//! PostgreSQL and MySQL/MariaDB, for real: schema, seed, reset, each operation, each fault
//! applied and rolled back, the monitor seeing lock waits, refusal of a schema outage-sim did
//! not prepare, redaction of passwords, and a server that is down (and the write stall on
//! SQLite too, which needs no server). Skipped (with a message)
//! unless OUTAGE_SIM_TEST_POSTGRES_URL / OUTAGE_SIM_TEST_MYSQL_URL are set; CI sets them.

mod common;

use std::time::Duration;

use outage_sim::faults;
use outage_sim::results::EventKind;
use outage_sim::scenario::DataSize;
use outage_sim::store::mysql::MysqlStore;
use outage_sim::store::postgres::PostgresStore;
use outage_sim::store::seed::History;
use outage_sim::store::{CartItem, Prepared, Request, ServerStore, Store};
use sqlx::{AssertSqlSafe, Connection};

use tokio::time::Instant;

const PG: &str = "OUTAGE_SIM_TEST_POSTGRES_URL";
const MY: &str = "OUTAGE_SIM_TEST_MYSQL_URL";

fn history() -> History {
    History {
        data: DataSize {
            orders: 3000,
            customers: 100,
            products: 50,
            history_days: 5,
        },
        seed: 7,
        end_unix: 1_717_848_000,
    }
}

/// customers + products + inventory + orders + items + payments.
fn seeded_rows(h: &History) -> u64 {
    let items: u64 = (1..=h.data.orders as i64).map(|n| h.order(n).items.len() as u64).sum();
    h.data.customers + 2 * h.data.products + 2 * h.data.orders + items
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

fn checkout(products: &[i64]) -> Request {
    Request::Checkout {
        customer_id: 3,
        items: products.iter().map(|&p| CartItem { product_id: p, qty: 2 }).collect(),
        now_unix: 1_717_848_100,
    }
}

/// Seed, reset with nothing to delete, run each operation, reset again deleting the checkout.
async fn seed_operations_and_reset<S: Store>(
    store: &S,
    prepare: impl AsyncFn() -> Prepared,
    scalar: impl AsyncFn(&str) -> i64,
) {
    let h = history();
    match prepare().await {
        Prepared::Seeded { rows, .. } => assert_eq!(rows, seeded_rows(&h)),
        other => panic!("expected a fresh seed, got {other:?}"),
    }
    assert!(store.is_prepared().await.unwrap());
    assert_eq!(scalar("SELECT COUNT(*) FROM orders").await, 3000);
    assert_eq!(
        scalar("SELECT MAX(total_cents) FROM orders WHERE id = 17").await,
        h.order(17).total_cents
    );
    assert!(matches!(prepare().await, Prepared::Reset { deleted: 0, .. }));

    for request in [
        Request::Browse {
            product_id: 1,
            customer_id: 3,
        },
        checkout(&[1, 5, 9]),
        Request::Report {
            since_unix: 1_717_800_000,
            until_unix: 1_717_848_000,
        },
    ] {
        store.execute(&request, deadline()).await.unwrap();
    }
    assert_eq!(scalar("SELECT COUNT(*) FROM orders").await, 3001);
    let paid = "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id \
                WHERE o.id > 3000 AND o.status = 'paid' AND o.total_cents = p.amount_cents \
                AND o.total_cents = (SELECT SUM(qty * price_cents) FROM order_items WHERE order_id = o.id)";
    assert_eq!(
        scalar(paid).await,
        1,
        "the checkout's order is paid, with its items and payment"
    );
    assert_eq!(
        scalar("SELECT COUNT(*) FROM inventory WHERE stock < 1000000000").await,
        3
    );
    // 1 order + 3 items + 1 payment deleted, stock restored.
    let reset = prepare().await;
    assert!(matches!(reset, Prepared::Reset { deleted: 5, .. }), "{reset:?}");
    assert_eq!(
        scalar("SELECT COUNT(*) FROM inventory WHERE stock < 1000000000").await,
        0
    );
}

/// Every catalog fault of the dialect builds its index (the watcher sees the lock) and its
/// rollback removes it; rolling back twice is harmless.
async fn each_fault_applies_and_rolls_back<S: Store>(store: &S, index_count: impl AsyncFn() -> i64) {
    for name in ["reporting-index", "reporting-index-online"] {
        let fault = faults::find(store.dialect(), name).unwrap();
        let locked = std::sync::atomic::AtomicU32::new(0);
        let on_locked = |_| {
            locked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        store.run_ddl(&fault.up, None, &on_locked).await.unwrap();
        assert_eq!(
            locked.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "{name}: locked once"
        );
        assert_eq!(index_count().await, 1, "{name} applied");
        store.run_ddl(&fault.down, None, &|_| {}).await.unwrap();
        store.run_ddl(&fault.down, None, &|_| {}).await.unwrap();
        assert_eq!(index_count().await, 0, "{name} rolled back");
    }
}

/// The catalog's write-stall holds every checkout while its session holds the lock, and lets
/// it through once the session's down SQL runs.
async fn the_write_stall_holds_checkout_until_released<S: Store>(store: &S) {
    let fault = faults::find(store.dialect(), "write-stall").unwrap();
    assert!(fault.holds_session);
    let mut session = store.open_session().await.unwrap();
    store.run_in_session(&mut session, &fault.up).await.unwrap();
    let started = std::time::Instant::now();
    let held = Duration::from_millis(700);
    let release = async {
        tokio::time::sleep(held).await;
        store.run_in_session(&mut session, &fault.down).await.unwrap();
    };
    let request = checkout(&[2]);
    let (done, ()) = tokio::join!(store.execute(&request, deadline()), release);
    done.unwrap();
    assert!(started.elapsed() >= held, "the checkout went through the stall");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_write_stall_holds_checkout_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stall.db");
    let progress = indicatif::ProgressBar::hidden();
    outage_sim::store::sqlite::prepare_file(&file, &history(), &progress)
        .await
        .unwrap();
    let store = outage_sim::store::sqlite::SqliteStore::open(&file, 1).await.unwrap();
    the_write_stall_holds_checkout_until_released(&store).await;
    store.close().await;
}

/// A checkout blocked behind a lock on orders shows in the monitor's sample.
async fn monitor_sees_a_blocked_checkout<S: Store>(store: std::sync::Arc<S>, metric: &str) {
    let blocked = {
        let store = store.clone();
        tokio::spawn(async move { store.execute(&checkout(&[2]), deadline()).await })
    };
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sample = store.sample().await;
        let at_least_one = |name: &str| sample.iter().any(|(m, v)| m == name && *v >= 1.0);
        // The sample's queries read the server at slightly different moments: the wait may
        // show in the locks before the session shows as active, so both must hold in one sample.
        if at_least_one(metric) && at_least_one("sessions_active") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "{metric} and sessions_active never rose together: {sample:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    blocked.abort(); // the checkout itself runs on in the store until the lock is released
}

mod postgres {
    use super::*;

    async fn store(url: &str, schema: &str) -> PostgresStore {
        PostgresStore::connect(url, schema, 4, Duration::from_secs(5))
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
    async fn seeds_resets_and_serves_each_operation() {
        let url = common::server_url(PG);
        let s = store(&url, "ost_pg_ops").await;
        let scalar = async |sql: &str| {
            common::pg_scalar(
                &url,
                &sql.replace("FROM ", "FROM ost_pg_ops.")
                    .replace("JOIN ", "JOIN ost_pg_ops."),
            )
            .await
        };
        let _ = sqlx::raw_sql("DROP SCHEMA IF EXISTS ost_pg_ops CASCADE")
            .execute(&mut sqlx::PgConnection::connect(&url).await.unwrap())
            .await;
        seed_operations_and_reset(
            &s,
            async || {
                s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
                    .await
                    .unwrap()
            },
            scalar,
        )
        .await;
        s.close().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
    async fn applies_and_rolls_back_each_fault() {
        let url = common::server_url(PG);
        let s = store(&url, "ost_pg_faults").await;
        s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        let count = async || {
            common::pg_scalar(
                &url,
                "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'ost_pg_faults' AND indexname = 'orders_reporting'",
            )
            .await
        };
        each_fault_applies_and_rolls_back(&s, count).await;
        the_write_stall_holds_checkout_until_released(&s).await;
        s.close().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
    async fn monitor_counts_sessions_waiting_on_orders() {
        let url = common::server_url(PG);
        let s = std::sync::Arc::new(store(&url, "ost_pg_monitor").await);
        s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        // What a plain CREATE INDEX holds: a SHARE lock on orders, which blocks the INSERT.
        let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN; LOCK TABLE ost_pg_monitor.orders IN SHARE MODE")
            .execute(&mut holder)
            .await
            .unwrap();
        monitor_sees_a_blocked_checkout(s.clone(), "locks_waiting_orders").await;
        let sample = s.sample().await;
        assert!(
            sample.iter().any(|(m, v)| m == "wait:Lock:relation" && *v >= 1.0),
            "{sample:?}"
        );
        sqlx::raw_sql("ROLLBACK").execute(&mut holder).await.unwrap();
        s.close().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
    async fn refuses_a_schema_it_did_not_prepare_and_never_prints_the_password() {
        let url = common::server_url(PG);
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "DROP SCHEMA IF EXISTS ost_pg_foreign CASCADE; CREATE SCHEMA ost_pg_foreign; \
                       CREATE TABLE ost_pg_foreign.orders (id int)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("results");
        // Trust auth accepts any password, so the run gets as far as the refusal.
        let secret_url = common::with_password(&url, "s3cr3t-pw");
        let o = common::outage_sim(&[
            "run",
            "workloads/smoke.toml",
            "--probe",
            "--db",
            &secret_url,
            "--schema",
            "ost_pg_foreign",
            "--out",
            out.to_str().unwrap(),
        ]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(
            text.contains("not prepared by outage-sim") && text.contains("--schema"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t-pw") && text.contains(":***@"), "{text}");
        assert!(common::run_dir(&out).is_none(), "nothing was run, so no run directory");
        let tables = common::pg_scalar(
            &url,
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'ost_pg_foreign'",
        )
        .await;
        assert_eq!(tables, 1, "the foreign schema is untouched");
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
    async fn a_marker_it_may_not_read_is_an_error_not_a_foreign_schema() {
        let url = common::server_url(PG);
        let s = store(&url, "ost_pg_perm").await;
        s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        s.close().await;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "DO $$ BEGIN CREATE ROLE ost_noperm LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             GRANT USAGE ON SCHEMA ost_pg_perm TO ost_noperm; \
             REVOKE ALL ON ost_pg_perm.outage_sim_meta FROM PUBLIC",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let (scheme, rest) = url.split_once("://").unwrap();
        let host = rest.split_once('@').unwrap().1;
        let no_permission = format!("{scheme}://ost_noperm@{host}");
        let tmp = tempfile::tempdir().unwrap();
        let o = common::outage_sim(&[
            "run",
            "workloads/smoke.toml",
            "--probe",
            "--db",
            &no_permission,
            "--schema",
            "ost_pg_perm",
            "--out",
            tmp.path().to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "a runtime error, not bad input: {stderr}");
        assert!(stderr.contains("permission denied"), "{stderr}");
        assert!(!stderr.contains("not prepared by outage-sim"), "{stderr}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_server_that_is_down_gives_one_clear_line() {
        let o = common::outage_sim(&[
            "run",
            "workloads/smoke.toml",
            "--probe",
            "--db",
            "postgres://u:hunter2@127.0.0.1:9/test",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("cannot connect to postgres://u:***@127.0.0.1:9/test"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

mod mysql {
    use super::*;

    async fn store(url: &str, schema: &str) -> MysqlStore {
        MysqlStore::connect(url, schema, 4, Duration::from_secs(5))
            .await
            .unwrap()
    }

    async fn drop_database(url: &str, name: &str) {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&mut c)
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
    async fn seeds_resets_and_serves_each_operation() {
        let url = common::server_url(MY);
        drop_database(&url, "ost_my_ops").await;
        let s = store(&url, "ost_my_ops").await;
        let scalar = async |sql: &str| {
            common::my_scalar(
                &url,
                &sql.replace("FROM ", "FROM ost_my_ops.")
                    .replace("JOIN ", "JOIN ost_my_ops."),
            )
            .await
        };
        seed_operations_and_reset(
            &s,
            async || {
                s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
                    .await
                    .unwrap()
            },
            scalar,
        )
        .await;
        s.close().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
    async fn applies_and_rolls_back_each_fault() {
        let url = common::server_url(MY);
        let s = store(&url, "ost_my_faults").await;
        s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        let count = async || {
            common::my_scalar(
                &url,
                "SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS \
                             WHERE TABLE_SCHEMA = 'ost_my_faults' AND INDEX_NAME = 'orders_reporting'",
            )
            .await
        };
        each_fault_applies_and_rolls_back(&s, count).await;
        the_write_stall_holds_checkout_until_released(&s).await;
        s.close().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
    async fn monitor_counts_sessions_waiting_for_the_metadata_lock() {
        let url = common::server_url(MY);
        let s = std::sync::Arc::new(store(&url, "ost_my_monitor").await);
        s.prepare(&history(), &url, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        // What ALTER … LOCK=SHARED holds: a lock that lets reads through and blocks writes.
        let mut holder = sqlx::MySqlConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("LOCK TABLES ost_my_monitor.orders READ")
            .execute(&mut holder)
            .await
            .unwrap();
        monitor_sees_a_blocked_checkout(s.clone(), "metadata_lock_waits").await;
        sqlx::raw_sql("UNLOCK TABLES").execute(&mut holder).await.unwrap();
        s.close().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
    async fn refuses_a_database_it_did_not_prepare() {
        let url = common::server_url(MY);
        let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "DROP DATABASE IF EXISTS ost_my_foreign; CREATE DATABASE ost_my_foreign; \
                       CREATE TABLE ost_my_foreign.orders (id int)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("results");
        let o = common::outage_sim(&[
            "run",
            "workloads/smoke.toml",
            "--probe",
            "--db",
            &url,
            "--schema",
            "ost_my_foreign",
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("not prepared by outage-sim"), "{err}");
        assert!(common::run_dir(&out).is_none());
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
    async fn a_wrong_password_is_never_printed() {
        let url = common::server_url(MY);
        // root has no password here, so any password is wrong and the connection fails.
        let o = common::outage_sim(&["prepare", "--db", &common::with_password(&url, "s3cr3t-pw")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("cannot connect to mysql://root:***@"), "{err}");
        assert!(!err.contains("s3cr3t-pw"), "{err}");
    }
}

/// A second Ctrl-C while the rollback waits behind a lock stops it, prints what is left applied
/// with the SQL to undo it, and the next run rolls it back before it starts.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
async fn a_second_ctrl_c_stops_the_rollback_and_says_what_is_left() {
    use std::process::{Command, Stdio};
    let url = common::server_url(PG);
    let tmp = tempfile::tempdir().unwrap();
    let with_fault = common::small_scenario(tmp.path(), "ctrlc", 20_000, "reporting-index");
    let without = common::small_scenario(tmp.path(), "after", 20_000, "");
    let out = tmp.path().join("results");
    let schema = ["--db", &url, "--schema", "ost_pg_ctrlc"];
    let child = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", with_fault.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(schema)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    common::wait_for_event(&out, EventKind::FaultApplyDone, Duration::from_secs(120));
    // A reader that holds orders: DROP INDEX needs ACCESS EXCLUSIVE, so the rollback waits.
    let mut reader = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE ost_pg_ctrlc.orders IN ACCESS SHARE MODE")
        .execute(&mut reader)
        .await
        .unwrap();
    common::signal(pid, "-INT");
    common::wait_for_event(&out, EventKind::FaultRollbackSent, Duration::from_secs(30));
    common::signal(pid, "-INT");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(
        err.contains("Still applied") && err.contains("DROP INDEX IF EXISTS orders_reporting"),
        "{err}"
    );
    let events = std::fs::read_to_string(common::run_dir(&out).unwrap().join("events.csv")).unwrap();
    assert!(events.contains("left applied: reporting-index"), "{events}");
    sqlx::raw_sql("ROLLBACK").execute(&mut reader).await.unwrap();

    let next_out = tmp.path().join("next");
    let next = common::outage_sim(
        &[
            &["run", without.to_str().unwrap(), "--out", next_out.to_str().unwrap()][..],
            &schema[..],
        ]
        .concat(),
    );
    let err = String::from_utf8_lossy(&next.stderr);
    assert_eq!(next.status.code(), Some(0), "{err}");
    assert!(err.contains("left fault reporting-index applied"), "{err}");
    let sql = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'ost_pg_ctrlc' AND indexname = 'orders_reporting'";
    assert_eq!(common::pg_scalar(&url, sql).await, 0);
}

/// The README's example migrations, as `validate` takes them, on one backend: each applies,
/// is judged (PASS or FAIL, never bad input or an error), and is rolled back.
fn validate_the_examples(var: &str, dialect: &str, schema: &str) -> Vec<String> {
    let url = common::server_url(var);
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "examples", 20_000, "reporting-index");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/migrations")
        .join(dialect);
    let mut verdicts = Vec::new();
    for kind in ["blocking", "online", "guarded"] {
        let out = tmp.path().join(kind);
        let o = common::outage_sim(&[
            "validate",
            scenario.to_str().unwrap(),
            "--migration",
            root.join(kind).to_str().unwrap(),
            "--db",
            &url,
            "--schema",
            schema,
            "--repeat",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(matches!(o.status.code(), Some(0 | 3)), "{kind}: {stderr}");
        let verdict = stdout
            .lines()
            .find(|l| l.starts_with("validate: "))
            .unwrap_or_default()
            .to_string();
        assert!(
            verdict.starts_with("validate: PASS") || verdict.starts_with("validate: FAIL"),
            "{kind}: {stdout}"
        );
        assert!(!stderr.contains("never applied"), "{kind}: {stderr}");
        verdicts.push(verdict);
    }
    verdicts
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
async fn the_example_migrations_validate_on_postgres() {
    validate_the_examples(PG, "postgres", "ost_pg_examples");
    let url = common::server_url(PG);
    let sql = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'ost_pg_examples' AND indexname = 'orders_reporting'";
    assert_eq!(common::pg_scalar(&url, sql).await, 0, "every example rolled back");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
async fn the_example_migrations_validate_on_mysql() {
    validate_the_examples(MY, "mysql", "ost_my_examples");
    let url = common::server_url(MY);
    let sql = "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = 'ost_my_examples' AND index_name = 'orders_reporting'";
    assert_eq!(common::my_scalar(&url, sql).await, 0, "every example rolled back");
}

/// `validate` with the user's migration: a good one passes a quiet peak (exit 0); one with a
/// syntax error is bad input (exit 2) that names the server's complaint, and the part of it
/// that ran is rolled back.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
async fn validate_passes_a_good_migration_and_rejects_a_broken_one() {
    let url = common::server_url(PG);
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::small_scenario(tmp.path(), "validate", 20_000, "reporting-index");
    let write = |dir: &str, up: &str, down: &str| {
        let d = tmp.path().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("20240608124000_orders_by_status.up.sql"), up).unwrap();
        std::fs::write(d.join("20240608124000_orders_by_status.down.sql"), down).unwrap();
        d
    };
    let good = write(
        "good",
        "-- A narrow index, built online.\nCREATE INDEX CONCURRENTLY orders_by_status ON orders (status);\n",
        "DROP INDEX CONCURRENTLY IF EXISTS orders_by_status;\n",
    );
    let broken = write(
        "broken",
        "CREATE INDEX orders_by_status ON orders (status);\nCREATE INDEXX oops ON orders (status);\n",
        "DROP INDEX IF EXISTS orders_by_status;\n",
    );
    let out = tmp.path().join("results");
    let validate = |dir: &std::path::Path| {
        common::outage_sim(&[
            "validate",
            scenario.to_str().unwrap(),
            "--migration",
            dir.to_str().unwrap(),
            "--db",
            &url,
            "--schema",
            "ost_pg_validate",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let ok = validate(&good);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("validate: PASS"));

    let bad = validate(&broken);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("the migration in") && err.contains("INDEXX"), "{err}");
    // Where in the user's file, not the line of PostgreSQL's C source that raised it.
    assert!(err.contains("20240608124000_orders_by_status.up.sql:2:"), "{err}");
    assert!(!err.contains(" at line 1"), "{err}");
    let sql = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'ost_pg_validate' AND indexname = 'orders_by_status'";
    assert_eq!(
        common::pg_scalar(&url, sql).await,
        0,
        "nothing of the broken migration is left"
    );
}

/// With a lock-timeout guard, a plain CREATE INDEX stuck behind an open write transaction
/// gives up after each timeout, waits, tries again, and goes through once the transaction ends:
/// each stall is bounded by the timeout, and events.csv times every try.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
async fn the_lock_timeout_guard_bounds_each_stall_and_retries() {
    use outage_sim::faults::{Injector, TimelineStep};
    use outage_sim::results::{EventBus, Timebase};
    use outage_sim::scenario::{LockGuard, Scenario};
    let url = common::server_url(PG);
    let store = std::sync::Arc::new(
        PostgresStore::connect(&url, "ost_pg_guard", 4, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    store
        .prepare(&history(), &url, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    // An open write transaction on orders: CREATE INDEX's SHARE lock waits for it.
    let mut writer = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; UPDATE ost_pg_guard.orders SET updated_at = updated_at WHERE id = 1")
        .execute(&mut writer)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let scenario = Scenario::load(&common::small_scenario(tmp.path(), "guard", 3000, "reporting-index")).unwrap();
    let start = Instant::now();
    let (events, mut received) = EventBus::new(Timebase {
        start,
        clock: scenario.clock.clone(),
    });
    let injector = Injector::new(store.clone(), events);
    let guard = LockGuard {
        timeout: Duration::from_millis(200),
        retries: 30,
        backoff: Duration::from_millis(100),
    };
    let apply = TimelineStep::Apply {
        at: Duration::ZERO,
        fault: faults::find("postgres", "reporting-index").unwrap(),
        guard: Some(guard),
    };
    let release = async {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        sqlx::raw_sql("ROLLBACK").execute(&mut writer).await.unwrap();
    };
    tokio::join!(injector.run_timeline(vec![apply], start), release);

    let events = common::received(&mut received);
    let text = format!("{events:#?}");
    let rows: Vec<(f64, EventKind)> = events.iter().map(|e| (e.t_s, e.kind)).collect();
    let failed = rows.iter().filter(|r| r.1 == EventKind::FaultFailed).count();
    assert!(failed >= 2, "several tries timed out: {text}");
    assert!(text.contains("lock timeout after 200 ms"), "{text}");
    assert_eq!(rows.last().unwrap().1, EventKind::FaultApplyDone, "{text}");
    for pair in rows.windows(2) {
        if pair[0].1 == EventKind::FaultApplySent && pair[1].1 == EventKind::FaultFailed {
            let stall = pair[1].0 - pair[0].0;
            assert!(
                stall <= 0.2 + 0.15,
                "a stall of {stall} s is beyond the 200 ms timeout: {text}"
            );
        }
    }
    injector.rollback_all().await;
    store.close().await;
}

/// The lock queue, on each server: with a long report open on orders, the rollback of the
/// reporting index is sent but gets its lock only when the report ends.
async fn rollback_waits_for_the_long_report<S: Store>(store: std::sync::Arc<S>) {
    use outage_sim::faults::{Injector, TimelineStep};
    use outage_sim::results::{EventBus, Timebase};
    use outage_sim::scenario::Scenario;
    let dialect = store.dialect();
    let tmp = tempfile::tempdir().unwrap();
    let scenario = Scenario::load(&common::small_scenario(tmp.path(), "queue", 3000, "reporting-index")).unwrap();
    let start = Instant::now();
    let (events, mut received) = EventBus::new(Timebase {
        start,
        clock: scenario.clock.clone(),
    });
    let injector = Injector::new(store.clone(), events);
    let ms = Duration::from_millis;
    let index = faults::find(dialect, "reporting-index").unwrap();
    let report = faults::find(dialect, "long-report").unwrap();
    injector
        .run_timeline(
            vec![
                TimelineStep::Apply {
                    at: ms(0),
                    fault: index,
                    guard: None,
                },
                TimelineStep::Apply {
                    at: ms(500),
                    fault: report,
                    guard: None,
                },
                TimelineStep::Rollback {
                    at: ms(1000),
                    name: "reporting-index".into(),
                },
                TimelineStep::Rollback {
                    at: ms(2500),
                    name: "long-report".into(),
                },
            ],
            start,
        )
        .await;
    let events = common::received(&mut received);
    let text = format!("{events:#?}");
    let at = |kind: EventKind, name: &str| {
        events
            .iter()
            .find(|e| e.kind == kind && e.name == name)
            .map(|e| e.t_s)
            .unwrap_or_else(|| panic!("no {kind:?} of {name}: {text}"))
    };
    let sent = at(EventKind::FaultRollbackSent, "reporting-index");
    let locked = at(EventKind::FaultRollbackLocked, "reporting-index");
    let report_ended = at(EventKind::FaultRollbackDone, "long-report");
    assert!(
        sent < 1.2 && locked >= report_ended - 0.05,
        "{dialect}: the rollback waited for the report: {text}"
    );
    assert!(locked - sent > 1.2, "{dialect}: {text}");
    assert!(injector.applied().is_empty(), "{dialect}: everything rolled back");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set OUTAGE_SIM_TEST_POSTGRES_URL (.ci/run does and runs it)"]
async fn postgres_rollback_waits_for_a_long_report() {
    let url = common::server_url(PG);
    let store = PostgresStore::connect(&url, "ost_pg_queue", 4, Duration::from_secs(5))
        .await
        .unwrap();
    store
        .prepare(&history(), &url, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    rollback_waits_for_the_long_report(std::sync::Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL/MariaDB: set OUTAGE_SIM_TEST_MYSQL_URL (.ci/run does and runs it)"]
async fn mysql_rollback_waits_for_a_long_report() {
    let url = common::server_url(MY);
    let store = MysqlStore::connect(&url, "ost_my_queue", 4, Duration::from_secs(5))
        .await
        .unwrap();
    store
        .prepare(&history(), &url, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    rollback_waits_for_the_long_report(std::sync::Arc::new(store)).await;
}
