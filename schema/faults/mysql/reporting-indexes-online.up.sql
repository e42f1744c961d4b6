-- reporting-indexes-online: the same seven reporting indexes, built online (the fix for the
-- builds' locks, not for their steady cost).
-- Why it hurts less: ALGORITHM=INPLACE, LOCK=NONE lets reads and writes go on during the build;
-- the ALTER takes its metadata lock exclusively only briefly at the start and the end. Once
-- built, each checkout still updates seven more indexes.
ALTER TABLE orders
  ADD INDEX orders_reporting (status, created_at, customer_id, total_cents),
  ADD INDEX orders_rpt_revenue_hour (created_at, total_cents, status),
  ADD INDEX orders_rpt_customer_value (customer_id, status, total_cents, created_at),
  ADD INDEX orders_rpt_large (total_cents, status, created_at),
  ADD INDEX orders_rpt_changes_hour (updated_at, status, total_cents),
  ADD INDEX orders_rpt_revenue_status (status, total_cents, customer_id),
  ADD INDEX orders_rpt_fulfilment (status, updated_at, customer_id, total_cents),
  ALGORITHM=INPLACE, LOCK=NONE;
