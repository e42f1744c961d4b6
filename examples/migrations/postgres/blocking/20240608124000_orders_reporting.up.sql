-- The reporting index built the plain way: CREATE INDEX holds a SHARE lock on orders for the
-- whole build, so every checkout's INSERT and UPDATE waits until it is done. validate: FAIL (blocked).
CREATE INDEX orders_reporting ON orders (status, created_at, customer_id, total_cents);
