-- reporting-indexes-online: the same seven reporting indexes, built the safe way (the fix for
-- the builds' locks, not for their steady cost).
-- Why it hurts less: CREATE INDEX CONCURRENTLY takes a SHARE UPDATE EXCLUSIVE lock, which lets
-- INSERT and UPDATE go on; once built, each checkout still updates seven more indexes.
-- It cannot run inside a transaction block; outage-sim runs each statement on its own.
SET max_parallel_maintenance_workers = 0;
CREATE INDEX CONCURRENTLY orders_reporting ON orders (status, created_at, customer_id, total_cents);
CREATE INDEX CONCURRENTLY orders_rpt_revenue_hour ON orders (created_at, total_cents, status);
CREATE INDEX CONCURRENTLY orders_rpt_customer_value ON orders (customer_id, status, total_cents, created_at);
CREATE INDEX CONCURRENTLY orders_rpt_large ON orders (total_cents, status, created_at);
CREATE INDEX CONCURRENTLY orders_rpt_changes_hour ON orders (updated_at, status, total_cents);
CREATE INDEX CONCURRENTLY orders_rpt_revenue_status ON orders (status, total_cents, customer_id);
CREATE INDEX CONCURRENTLY orders_rpt_fulfilment ON orders (status, updated_at, customer_id, total_cents);
