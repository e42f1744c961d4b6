-- The same index built online: CREATE INDEX CONCURRENTLY lets writes go on while it builds
-- (slower, and it cannot run in a transaction block: outage-sim runs each statement on its
-- own). Without parallel workers it takes one core at the peak, not all of them.
SET max_parallel_maintenance_workers = 0;
CREATE INDEX CONCURRENTLY orders_reporting ON orders (status, created_at, customer_id, total_cents);
