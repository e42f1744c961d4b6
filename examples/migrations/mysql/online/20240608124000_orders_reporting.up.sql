-- The same index built online: ALGORITHM=INPLACE, LOCK=NONE lets reads and writes go on; the
-- ALTER holds its metadata lock exclusively only for a moment at the start and the end.
ALTER TABLE orders ADD INDEX orders_reporting (status, created_at, customer_id, total_cents), ALGORITHM=INPLACE, LOCK=NONE;
