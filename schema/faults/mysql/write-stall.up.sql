-- write-stall: a session takes a read lock on orders (LOCK TABLES orders READ: other sessions
-- read, none writes) and holds it until the fault's rollback time, so no checkout can write an
-- order for that long.
-- Why: a stall of a length you choose, the trigger of the vulnerable-region map
-- (capacity --map); an ALTER TABLE waiting for its metadata lock stalls writes the same way.
-- outage-sim: hold-session
LOCK TABLES orders READ;
