-- outage-sim checkout schema for SQLite. Tables first; indexes are in indexes.sql and are
-- built after the bulk load, which is faster than maintaining them row by row.
CREATE TABLE outage_sim_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    email      TEXT    NOT NULL,
    created_at INTEGER NOT NULL  -- unix seconds
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL
);

CREATE TABLE inventory (
    product_id INTEGER PRIMARY KEY REFERENCES products (id),
    stock      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    status      TEXT    NOT NULL,  -- pending, paid, shipped, delivered, cancelled
    total_cents INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,  -- unix seconds
    updated_at  INTEGER NOT NULL
);

CREATE TABLE order_items (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    product_id  INTEGER NOT NULL REFERENCES products (id),
    qty         INTEGER NOT NULL,
    price_cents INTEGER NOT NULL
);

CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders (id),
    amount_cents INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Order ids only grow, so this index is cheap to keep during the bulk load, and the load
-- needs it to total each order.
CREATE INDEX order_items_order ON order_items (order_id);
