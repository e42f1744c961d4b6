-- long-report: a reporting job's read transaction on orders, held open until the fault's
-- rollback time.
-- Why it hurts: on its own it blocks nothing (ACCESS SHARE), but DROP INDEX and any DDL that
-- needs ACCESS EXCLUSIVE on orders waits for it, and once such DDL waits, every checkout
-- queues behind the DDL: the lock queue.
-- Safer: serve reports from a replica, bound reporting transactions (statement or idle
-- timeouts), and give DDL a lock timeout with retries (lock_timeout_ms).
-- outage-sim: hold-session
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT status, count(*), sum(total_cents) FROM orders GROUP BY status;
