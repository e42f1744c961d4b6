-- The online build behind a lock timeout, as a team would ship it: the build waits at most 2 s
-- for its lock (behind a long report, say) and fails instead of queueing every checkout behind
-- it. A lock timeout bounds the wait for the lock, not the build: the plain build under this
-- guard would still block writes while it builds.
SET lock_timeout = '2s';
SET max_parallel_maintenance_workers = 0;
CREATE INDEX CONCURRENTLY orders_reporting ON orders (status, created_at, customer_id, total_cents);
