-- reporting-index-online: the same reporting index, built the safe way (the fix).
-- Why it hurts less: CREATE INDEX CONCURRENTLY takes a SHARE UPDATE EXCLUSIVE lock, which lets
-- INSERT and UPDATE go on; it scans orders twice and waits for older transactions, so it takes
-- longer, but checkouts keep succeeding. It is built without parallel workers, so at the peak
-- it takes one core and leaves the others to the checkouts.
-- It cannot run inside a transaction block; outage-sim runs each statement on its own.
SET max_parallel_maintenance_workers = 0;
CREATE INDEX CONCURRENTLY orders_reporting ON orders (status, created_at, customer_id, total_cents);
