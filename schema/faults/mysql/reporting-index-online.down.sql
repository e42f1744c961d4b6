-- Roll back reporting-index-online (dropping a secondary index is an in-place, online change).
ALTER TABLE orders DROP INDEX IF EXISTS orders_reporting, ALGORITHM=INPLACE, LOCK=NONE;
