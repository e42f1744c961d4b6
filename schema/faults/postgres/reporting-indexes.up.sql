-- reporting-indexes: the "index changes" of the 2024-06-08 peak: the seven wide indexes a
-- reporting team adds to orders, one per report (orders by status and day, revenue by hour,
-- customer value, large orders, status changes by hour, revenue by status, fulfilment lag),
-- built the plain way.
-- Why it hurts: each plain CREATE INDEX takes a SHARE lock on orders for its whole build, so
-- every INSERT and UPDATE on orders (every checkout) waits on Lock:relation, seven times; once
-- built, every order insert updates seven more B-trees, and status changes (pending -> paid)
-- are no longer HOT updates: each writes a new tuple into every index on orders.
-- Safer: reporting-indexes-online (CREATE INDEX CONCURRENTLY), off-peak, or a replica for reports.
CREATE INDEX orders_reporting ON orders (status, created_at, customer_id, total_cents);
CREATE INDEX orders_rpt_revenue_hour ON orders (created_at, total_cents, status);
CREATE INDEX orders_rpt_customer_value ON orders (customer_id, status, total_cents, created_at);
CREATE INDEX orders_rpt_large ON orders (total_cents, status, created_at);
CREATE INDEX orders_rpt_changes_hour ON orders (updated_at, status, total_cents);
CREATE INDEX orders_rpt_revenue_status ON orders (status, total_cents, customer_id);
CREATE INDEX orders_rpt_fulfilment ON orders (status, updated_at, customer_id, total_cents);
