-- reporting-indexes: the "index changes" of the 2024-06-08 peak: the seven wide indexes a
-- reporting team adds to orders, one per report (orders by status and day, revenue by hour,
-- customer value, large orders, status changes by hour, revenue by status, fulfilment lag),
-- with writes locked out.
-- Why it hurts: LOCK=SHARED lets reads go on but blocks every INSERT and UPDATE on orders (every
-- checkout) for the whole build of all seven; they queue behind the ALTER's metadata lock. Once
-- built, every order insert and status change (pending -> paid) updates seven more B-trees.
-- Safer: reporting-indexes-online (ALGORITHM=INPLACE, LOCK=NONE), off-peak, or a replica.
ALTER TABLE orders
  ADD INDEX orders_reporting (status, created_at, customer_id, total_cents),
  ADD INDEX orders_rpt_revenue_hour (created_at, total_cents, status),
  ADD INDEX orders_rpt_customer_value (customer_id, status, total_cents, created_at),
  ADD INDEX orders_rpt_large (total_cents, status, created_at),
  ADD INDEX orders_rpt_changes_hour (updated_at, status, total_cents),
  ADD INDEX orders_rpt_revenue_status (status, total_cents, customer_id),
  ADD INDEX orders_rpt_fulfilment (status, updated_at, customer_id, total_cents),
  LOCK=SHARED;
