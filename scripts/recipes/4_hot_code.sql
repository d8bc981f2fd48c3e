-- one transaction, no hold: the order's own work first, the use last,
-- just before COMMIT, so that the use holds its share of a hot code only
-- for the commit
BEGIN;
-- ... the order's other writes: stock, payment record ...
WITH r AS (SELECT * FROM codes.code_redeem(:'promo', 'customer-44', 'order-1018')),
     o AS (INSERT INTO orders
           SELECT 'order-1018', 'customer-44', (r.metadata ->> 'percent_off')::integer
           FROM r WHERE r.ok RETURNING id)
SELECT r.ok, r.reason, r.uses_left, o.id FROM r LEFT JOIN o ON true;
COMMIT;
