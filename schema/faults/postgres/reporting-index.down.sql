-- Roll back reporting-index. DROP INDEX takes an ACCESS EXCLUSIVE lock on orders (briefly).
DROP INDEX IF EXISTS orders_reporting;
