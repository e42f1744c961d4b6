-- long-report: a reporting job's transaction that reads orders, held open until the fault's
-- rollback time.
-- Why it hurts: an open transaction that touched orders holds a metadata lock on it, so any
-- ALTER TABLE orders waits for it, and once the ALTER waits, every checkout queues behind the
-- ALTER ("Waiting for table metadata lock"): the lock queue.
-- Safer: serve reports from a replica, keep transactions short, and give DDL a lock timeout
-- with retries (lock_timeout_ms).
-- outage-sim: hold-session
START TRANSACTION;
SELECT status, COUNT(*), SUM(total_cents) FROM orders GROUP BY status;
