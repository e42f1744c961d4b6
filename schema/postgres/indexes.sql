-- Keys and the indexes production had before the incident, built after the bulk load.
ALTER TABLE customers ADD PRIMARY KEY (id);
ALTER TABLE products ADD PRIMARY KEY (id);
ALTER TABLE inventory ADD PRIMARY KEY (product_id);
ALTER TABLE orders ADD PRIMARY KEY (id);
ALTER TABLE order_items ADD PRIMARY KEY (id);
ALTER TABLE payments ADD PRIMARY KEY (id);
CREATE INDEX order_items_order ON order_items (order_id);
CREATE INDEX orders_customer_created ON orders (customer_id, created_at);
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX payments_order ON payments (order_id)
