-- The indexes production had before the incident, built after the bulk load.
ALTER TABLE order_items ADD INDEX order_items_order (order_id);
ALTER TABLE orders ADD INDEX orders_customer_created (customer_id, created_at), ADD INDEX orders_created (created_at);
ALTER TABLE payments ADD INDEX payments_order (order_id)
