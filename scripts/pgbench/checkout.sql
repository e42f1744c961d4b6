-- outage-sim's checkout transaction (src/store/postgres.rs) as a pgbench script: the same
-- statements in the same order (a cart as scalars, ARRAY[$1, $2, $3], in both), a 3-item cart
-- with Zipf(1.1) product popularity over the checkout-peak data (200,000 customers, 10,000
-- products). A cart's products are distinct, as outage-sim draws them: a product already in
-- the cart is drawn again (three times at most, then the next id), since a repeated product
-- would lock and update one row fewer.
\set customer random(1, 200000)
\set p1 random_zipfian(1, 10000, 1.1)
\set p2 random_zipfian(1, 10000, 1.1)
\if :p2 = :p1
\set p2 random_zipfian(1, 10000, 1.1)
\endif
\if :p2 = :p1
\set p2 random_zipfian(1, 10000, 1.1)
\endif
\if :p2 = :p1
\set p2 random_zipfian(1, 10000, 1.1)
\endif
\if :p2 = :p1
\set p2 :p1 % 10000 + 1
\endif
\set p3 random_zipfian(1, 10000, 1.1)
\if (:p3 = :p1 or :p3 = :p2)
\set p3 random_zipfian(1, 10000, 1.1)
\endif
\if (:p3 = :p1 or :p3 = :p2)
\set p3 random_zipfian(1, 10000, 1.1)
\endif
\if (:p3 = :p1 or :p3 = :p2)
\set p3 random_zipfian(1, 10000, 1.1)
\endif
\if (:p3 = :p1 or :p3 = :p2)
\set p3 :p3 % 10000 + 1
\endif
\if (:p3 = :p1 or :p3 = :p2)
\set p3 :p3 % 10000 + 1
\endif
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set now 1717851600
BEGIN;
SELECT product_id FROM inventory WHERE product_id = ANY(ARRAY[:p1, :p2, :p3]::bigint[]) ORDER BY product_id FOR UPDATE;
UPDATE inventory SET stock = stock - c.qty, updated_at = :now FROM unnest(ARRAY[:p1, :p2, :p3]::bigint[], ARRAY[:q1, :q2, :q3]::bigint[]) AS c(product_id, qty) WHERE inventory.product_id = c.product_id;
INSERT INTO orders (customer_id, status, total_cents, created_at, updated_at) VALUES (:customer, 'pending', 0, :now, :now) RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, product_id, qty, price_cents) SELECT :order_id, p.id, c.qty, p.price_cents FROM unnest(ARRAY[:p1, :p2, :p3]::bigint[], ARRAY[:q1, :q2, :q3]::bigint[]) AS c(product_id, qty) JOIN products p ON p.id = c.product_id;
INSERT INTO payments (order_id, amount_cents, status, created_at) SELECT :order_id, COALESCE(SUM(qty * price_cents), 0), 'captured', :now FROM order_items WHERE order_id = :order_id RETURNING amount_cents \gset
UPDATE orders SET status = 'paid', total_cents = :amount_cents, updated_at = :now WHERE id = :order_id;
COMMIT;
