-- the code the mail prints, for every customer once, with no total limit:
-- its uses share no row, so customers never wait for each other
SELECT codes.batch_create('summer', now(), now() + interval '30 days',
                          max_uses => NULL, max_uses_per_redeemer => 1,
                          metadata => '{"percent_off": 20}');
SELECT codes.code_add('summer', ARRAY['SUMMER20']);   -- 1

-- one transaction, no hold: the order's own work first, the use last,
-- just before COMMIT, so that the use holds its locks only for the commit
BEGIN;
-- ... the order's other writes: stock, payment record ...
WITH r AS (SELECT * FROM codes.code_redeem('SUMMER20', 'customer-44', 'order-1018')),
     o AS (INSERT INTO orders
           SELECT 'order-1018', 'customer-44', (r.metadata ->> 'percent_off')::integer
           FROM r WHERE r.ok RETURNING id)
SELECT r.ok, r.reason, o.id FROM r LEFT JOIN o ON true;
COMMIT;

-- the same customer again: refused, with the reason
SELECT r.ok, r.reason FROM codes.code_redeem('summer20', 'customer-44') AS r;   -- f | redeemer_limit
