-- The indexes production had before the incident.
CREATE INDEX orders_customer_created ON orders (customer_id, created_at);
CREATE INDEX orders_created ON orders (created_at);

CREATE INDEX payments_order ON payments (order_id);
ANALYZE;
