-- reporting-index: the "reporting" index added to orders during the 2024-06-08 peak.
-- Why it hurts: building it reads every order while holding the write lock, so no checkout
-- can write until it is done; once built, every order insert and every status change
-- (pending -> paid) must also update this wide index, so each checkout costs more and the
-- single writer's capacity drops below the peak's demand.
-- Safer: build it off-peak, or keep it narrow, or serve reports from a replica.
CREATE INDEX orders_reporting ON orders (status, created_at, customer_id, total_cents);
