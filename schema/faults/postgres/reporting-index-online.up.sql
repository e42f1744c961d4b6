-- reporting-index-online: the same reporting index, built the safe way (the fix).
-- Why it hurts less: CREATE INDEX CONCURRENTLY takes a SHARE UPDATE EXCLUSIVE lock, which lets
-- INSERT and UPDATE go on; it scans orders twice and waits for older transactions, so it takes
-- longer and costs some throughput while it runs, but checkouts keep succeeding.
-- It cannot run inside a transaction block; outage-sim runs each statement on its own.
CREATE INDEX CONCURRENTLY orders_reporting ON orders (status, created_at, customer_id, total_cents);
