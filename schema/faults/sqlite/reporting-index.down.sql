-- Roll back reporting-index.
DROP INDEX IF EXISTS orders_reporting;
