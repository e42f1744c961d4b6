-- The online build behind a lock timeout, as a team would ship it: the ALTER waits at most 2 s
-- for its metadata lock (behind a long report, say) and fails instead of queueing every
-- checkout behind it. The timeout bounds the wait for the lock, not the build.
SET SESSION lock_wait_timeout = 2;
ALTER TABLE orders ADD INDEX orders_reporting (status, created_at, customer_id, total_cents), ALGORITHM=INPLACE, LOCK=NONE;
