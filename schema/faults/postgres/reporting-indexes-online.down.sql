-- Roll back reporting-indexes-online without blocking writes.
DROP INDEX CONCURRENTLY IF EXISTS orders_reporting;
DROP INDEX CONCURRENTLY IF EXISTS orders_rpt_revenue_hour;
DROP INDEX CONCURRENTLY IF EXISTS orders_rpt_customer_value;
DROP INDEX CONCURRENTLY IF EXISTS orders_rpt_large;
DROP INDEX CONCURRENTLY IF EXISTS orders_rpt_changes_hour;
DROP INDEX CONCURRENTLY IF EXISTS orders_rpt_revenue_status;
DROP INDEX CONCURRENTLY IF EXISTS orders_rpt_fulfilment;
