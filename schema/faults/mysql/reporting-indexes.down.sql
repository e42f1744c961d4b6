-- Roll back reporting-indexes (IF EXISTS is MariaDB syntax; MySQL 8 has no IF EXISTS here).
ALTER TABLE orders
  DROP INDEX IF EXISTS orders_reporting,
  DROP INDEX IF EXISTS orders_rpt_revenue_hour,
  DROP INDEX IF EXISTS orders_rpt_customer_value,
  DROP INDEX IF EXISTS orders_rpt_large,
  DROP INDEX IF EXISTS orders_rpt_changes_hour,
  DROP INDEX IF EXISTS orders_rpt_revenue_status,
  DROP INDEX IF EXISTS orders_rpt_fulfilment;
