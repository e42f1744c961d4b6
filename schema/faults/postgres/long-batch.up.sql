-- long-batch: a batch job's write transaction that updates 10,000 old orders and stays open
-- until the fault's rollback time.
-- Why it hurts: its ROW EXCLUSIVE lock on orders blocks CREATE INDEX (SHARE); once the index
-- build waits, every checkout queues behind the build: the lock queue.
-- Safer: commit batches in small chunks, and give DDL a lock timeout with retries
-- (lock_timeout_ms).
-- outage-sim: hold-session
BEGIN;
UPDATE orders SET updated_at = updated_at WHERE id <= 10000;
