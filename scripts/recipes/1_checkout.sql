-- the shop's orders, and a promo code for 100 customers, once each
CREATE TABLE orders (id text PRIMARY KEY, customer text NOT NULL, percent_off integer);
SELECT code AS promo
FROM codes.code_gen(1, now(), now() + interval '30 days', max_uses => 100,
                    max_uses_per_redeemer => 1, batch => 'autumn',
                    metadata => '{"percent_off": 15}') AS code \gset

-- 1. the customer applies the code to the cart: hold one of its uses
--    for 15 minutes (it counts as used for everyone else meanwhile)
SELECT h.ok, h.reason, h.hold, h.metadata ->> 'percent_off' AS percent_off
FROM codes.code_hold(:'promo', 'customer-42', interval '15 minutes',
                     reference => 'cart-9001') AS h \gset

-- 2. the customer pays, outside the database (3-D Secure, a wallet)

-- 3. the payment succeeded: confirm the hold and write the order in one
--    transaction; no row means no order, and says why
BEGIN;
WITH k AS (SELECT * FROM codes.hold_confirm(:'promo', :hold, reference => 'order-1017')),
     o AS (INSERT INTO orders SELECT 'order-1017', 'customer-42', :percent_off
           FROM k WHERE k.ok RETURNING id)
SELECT k.ok, k.reason, o.id FROM k LEFT JOIN o ON true;
COMMIT;
