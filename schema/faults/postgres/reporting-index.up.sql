-- reporting-index: the "reporting" index added to orders during the 2024-06-08 peak, built the
-- plain way.
-- Why it hurts: a plain CREATE INDEX takes a SHARE lock on orders for the whole build, so every
-- INSERT and UPDATE on orders (every checkout) waits on Lock:relation until it is done; once
-- built, every status change (pending -> paid) must update it too (no more HOT updates).
-- Safer: reporting-index-online (CREATE INDEX CONCURRENTLY), off-peak, or a replica for reports.
CREATE INDEX orders_reporting ON orders (status, created_at, customer_id, total_cents);
