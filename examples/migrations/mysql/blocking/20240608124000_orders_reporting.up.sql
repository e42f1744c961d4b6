-- The reporting index with writes locked out: LOCK=SHARED lets reads go on but blocks every
-- checkout's INSERT and UPDATE on orders for the whole build. validate: FAIL (blocked).
ALTER TABLE orders ADD INDEX orders_reporting (status, created_at, customer_id, total_cents), LOCK=SHARED;
