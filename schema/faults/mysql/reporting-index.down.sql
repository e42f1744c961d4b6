-- Roll back reporting-index (IF EXISTS is MariaDB syntax; MySQL 8 has no IF EXISTS here).
ALTER TABLE orders DROP INDEX IF EXISTS orders_reporting;
