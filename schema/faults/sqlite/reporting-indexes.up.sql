-- reporting-indexes: the "index changes" of the 2024-06-08 peak: the seven wide indexes a
-- reporting team adds to orders, one per report (orders by status and day, revenue by hour,
-- customer value, large orders, status changes by hour, revenue by status, fulfilment lag).
-- Why it hurts: each build reads every order while holding the write lock, so no checkout can
-- write for seconds, seven times; once built, every order insert must update seven more
-- B-trees, and every status change (pending -> paid) deletes and re-inserts the order in all
-- seven, so each checkout costs far more and the single writer's capacity falls below the peak.
-- Safer: build them off-peak, keep one narrow index, or serve reports from a replica.
CREATE INDEX orders_reporting ON orders (status, created_at, customer_id, total_cents);
CREATE INDEX orders_rpt_revenue_hour ON orders (created_at, total_cents, status);
CREATE INDEX orders_rpt_customer_value ON orders (customer_id, status, total_cents, created_at);
CREATE INDEX orders_rpt_large ON orders (total_cents, status, created_at);
CREATE INDEX orders_rpt_changes_hour ON orders (updated_at, status, total_cents);
CREATE INDEX orders_rpt_revenue_status ON orders (status, total_cents, customer_id);
CREATE INDEX orders_rpt_fulfilment ON orders (status, updated_at, customer_id, total_cents);
