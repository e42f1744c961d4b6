ALTER TABLE orders DROP INDEX orders_reporting;
