-- reporting-index: the "reporting" index added to orders during the 2024-06-08 peak, with
-- writes locked out.
-- Why it hurts: LOCK=SHARED lets reads go on but blocks every INSERT and UPDATE on orders
-- (every checkout) for the whole build; they queue behind the ALTER's metadata lock.
-- Safer: reporting-index-online (ALGORITHM=INPLACE, LOCK=NONE), off-peak, or a replica.
ALTER TABLE orders ADD INDEX orders_reporting (status, created_at, customer_id, total_cents), LOCK=SHARED;
