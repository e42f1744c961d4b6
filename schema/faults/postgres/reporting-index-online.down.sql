-- Roll back reporting-index-online without blocking writes.
DROP INDEX CONCURRENTLY IF EXISTS orders_reporting;
