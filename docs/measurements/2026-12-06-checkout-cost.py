import sqlite3, shutil, time, random, sys
# The cost of a checkout on SQLite's writer alone, without, with and after the seven reporting
# indexes (docs/measurements/2026-12-06-report-interrupt.md). One connection, no other load.
# Usage: python3 docs/measurements/2026-12-06-checkout-cost.py results/.cache/sqlite-2000000-orders-*.db
src=sys.argv[1]
db=src+'.checkout-cost.db'
shutil.copy(src, db)
c=sqlite3.connect(db, isolation_level=None)
c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=NORMAL')
now=int(time.time())
def checkout(n=2000):
    t=time.perf_counter()
    for i in range(n):
        c.execute('BEGIN IMMEDIATE')
        items=[(random.randint(1,10000),random.randint(1,3)) for _ in range(random.randint(1,5))]
        for p,q in items:
            c.execute('UPDATE inventory SET stock=stock-?, updated_at=? WHERE product_id=?',(q,now,p))
        oid=c.execute("INSERT INTO orders (customer_id,status,total_cents,created_at,updated_at) VALUES (?, 'pending',0,?,?) RETURNING id",(random.randint(1,200000),now,now)).fetchone()[0]
        for p,q in items:
            c.execute('INSERT INTO order_items (order_id,product_id,qty,price_cents) SELECT ?,id,?,price_cents FROM products WHERE id=?',(oid,q,p))
        c.execute("UPDATE orders SET status='paid', total_cents=100, updated_at=? WHERE id=?",(now,oid))
        c.execute('COMMIT')
    return (time.perf_counter()-t)/n*1e3
def report():
    t=time.perf_counter()
    for i in range(20):
        c.execute("SELECT status, created_at/3600 AS hour, COUNT(*), SUM(total_cents) FROM orders WHERE status IN ('paid','shipped','delivered') AND created_at >= ? AND created_at < ? GROUP BY status, hour",(now-900*60,now)).fetchall()
    return (time.perf_counter()-t)/20*1e3
def plan():
    return c.execute("EXPLAIN QUERY PLAN SELECT status, created_at/3600 AS hour, COUNT(*), SUM(total_cents) FROM orders WHERE status IN ('paid','shipped','delivered') AND created_at >= ? AND created_at < ? GROUP BY status, hour",(0,1)).fetchall()
def state(tag):
    fl=c.execute('PRAGMA freelist_count').fetchone()[0]; pc=c.execute('PRAGMA page_count').fetchone()[0]
    print(tag,'checkout ms %.3f %.3f'%(checkout(),checkout()),'report ms %.2f'%report(),'pages',pc,'free',fl,plan(),flush=True)
state('base')
up=[l for l in open('schema/faults/sqlite/reporting-indexes.up.sql') if not l.startswith('--')]
for s in ''.join(up).split(';'):
    if s.strip(): c.execute(s)
state('with7')
for s in open('schema/faults/sqlite/reporting-indexes.down.sql').read().split(';'):
    s='\n'.join(l for l in s.splitlines() if not l.startswith('--'))
    if s.strip(): c.execute(s)
state('dropped')
c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
state('dropped+ckpt')
c.close()
import os
for x in ('', '-wal', '-shm'):
    if os.path.exists(db + x): os.remove(db + x)
