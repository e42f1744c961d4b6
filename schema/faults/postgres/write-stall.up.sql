-- write-stall: a session locks orders against writes (LOCK TABLE ... IN EXCLUSIVE MODE: reads
-- go on) and holds the lock until the fault's rollback time, so no checkout can write an
-- order for that long.
-- Why: a stall of a length you choose, the trigger of the vulnerable-region map
-- (capacity --map); an ACCESS EXCLUSIVE DDL waiting behind a long transaction stalls writes
-- the same way, and reads too.
-- outage-sim: hold-session
BEGIN;
LOCK TABLE orders IN EXCLUSIVE MODE;
