-- write-stall: a session takes SQLite's write lock (BEGIN IMMEDIATE) and holds it until the
-- fault's rollback time, so no checkout can write for that long; reads go on (WAL).
-- Why: a stall of a length you choose, the trigger of the vulnerable-region map
-- (capacity --map). SQLite has one write lock for the whole file, so every write waits, not
-- only those to orders; the app's writer gives up after its 30 s busy timeout.
-- outage-sim: hold-session
BEGIN IMMEDIATE;
