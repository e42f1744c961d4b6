-- reporting-index-online: the same reporting index, built online (the fix).
-- Why it hurts less: ALGORITHM=INPLACE, LOCK=NONE lets reads and writes go on during the build;
-- the ALTER takes its metadata lock exclusively only briefly at the start and the end.
ALTER TABLE orders ADD INDEX orders_reporting (status, created_at, customer_id, total_cents), ALGORITHM=INPLACE, LOCK=NONE;
