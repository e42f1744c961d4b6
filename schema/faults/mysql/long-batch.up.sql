-- long-batch: a batch job's write transaction that updates 10,000 old orders and stays open
-- until the fault's rollback time.
-- Why it hurts: its metadata lock on orders makes any ALTER TABLE orders wait, and once the
-- ALTER waits, every checkout queues behind it: the lock queue.
-- Safer: commit batches in small chunks, and give DDL a lock timeout with retries
-- (lock_timeout_ms).
-- outage-sim: hold-session
START TRANSACTION;
UPDATE orders SET updated_at = updated_at WHERE id <= 10000;
