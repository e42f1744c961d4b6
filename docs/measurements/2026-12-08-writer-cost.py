"""The writer's cost per checkout on SQLite, without and with a catalog fault's indexes.

Runs checkout-peak's checkout statements one by one on one connection (no readers, no app), on a
copy of the seeded base database:

    outage-sim prepare workloads/checkout-peak.toml
    python3 docs/measurements/2026-12-08-writer-cost.py results/.cache/sqlite-2000000-orders-*.db none 20000
    python3 docs/measurements/2026-12-08-writer-cost.py results/.cache/sqlite-2000000-orders-*.db \
        schema/faults/sqlite/reporting-indexes.up.sql 20000

Python's own time per statement is in both figures, so their ratio understates the indexes' cost.
"""
import os
import random
import shutil
import sqlite3
import sys
import time

base, fault, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
copy = base + ".writer-cost"
shutil.copy(base, copy)
db = sqlite3.connect(copy, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
if fault != "none":
    start = time.time()
    db.executescript(open(fault).read())
    print(f"built in {time.time() - start:.1f} s")
rng = random.Random(1)
start = time.time()
for i in range(n):
    cart = [(rng.randint(1, 10_000), rng.randint(1, 3)) for _ in range(rng.randint(1, 5))]
    now = 1_717_848_000 + i
    db.execute("BEGIN IMMEDIATE")
    for product, qty in cart:
        db.execute("UPDATE inventory SET stock = stock - ?, updated_at = ? WHERE product_id = ?", (qty, now, product))
    db.execute(
        "INSERT INTO orders (customer_id, status, total_cents, created_at, updated_at) VALUES (?, 'pending', 0, ?, ?)",
        (rng.randint(1, 200_000), now, now),
    )
    order = db.execute("SELECT MAX(id) FROM orders").fetchone()[0]
    for product, qty in cart:
        db.execute(
            "INSERT INTO order_items (order_id, product_id, qty, price_cents) SELECT ?, id, ?, price_cents FROM products WHERE id = ?",
            (order, qty, product),
        )
    db.execute(
        "INSERT INTO payments (order_id, amount_cents, status, created_at) "
        "SELECT order_id, SUM(qty * price_cents), 'captured', ? FROM order_items WHERE order_id = ?",
        (now, order),
    )
    db.execute(
        "UPDATE orders SET status = 'paid', updated_at = ?, "
        "total_cents = (SELECT amount_cents FROM payments WHERE id = last_insert_rowid()) WHERE id = ?",
        (now, order),
    )
    db.execute("COMMIT")
elapsed = time.time() - start
print(f"{fault}: {n} checkouts in {elapsed:.2f} s, {n / elapsed:.0f}/s")
db.close()
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(copy + suffix):
        os.remove(copy + suffix)
