DROP INDEX IF EXISTS orders_reporting;
