--
-- A reference on each use (the order it was for), apart from the
-- redeemer (the customer), with details of the use; undo by reference (a
-- refund, or a cancelled order), by the application's role.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(3, NULL, NULL, batch => 'gifts') AS code;
CREATE TEMP TABLE m AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 100, batch => 'promo') AS code;
CREATE TEMP TABLE u AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => NULL, batch => 'open') AS code;

-- order 1017 uses a gift code and the promo code; order 1018 the promo
-- code and the open one; ann uses a gift code without a reference
SELECT r.ok, r.reason, r.batch FROM c, codes.code_redeem(code, 'ann', 'order-1017', '{"discount": 5}') r
WHERE n = 1;
SELECT r.ok, r.uses_left FROM m, codes.code_redeem(code, 'ann', 'order-1017') r;
SELECT r.ok, r.uses_left FROM m, codes.code_redeem(code, 'bob', 'order-1018') r;
SELECT r.ok, r.uses_left FROM u, codes.code_redeem(code, 'bob', 'order-1018') r;
SELECT r.ok FROM c, codes.code_redeem(code, 'ann') r WHERE n = 2;
-- a hold made for order 1019, not yet paid
SELECT h.ok FROM c, codes.code_hold(code, 'cat', '10 minutes', 'order-1019') h WHERE n = 3;

SELECT r.batch, r.redeemer, r.reference, r.details
FROM codes.redemptions r ORDER BY r.batch, r.reference NULLS FIRST;

-- refund order 1017: both its uses are undone, nothing else; again,
-- nothing is left to undo
SELECT codes.undo_reference('order-1017');
SELECT codes.undo_reference('order-1017');
SELECT r.batch, r.redeemer, r.reference, r.undone_at IS NOT NULL AS undone
FROM codes.redemptions r ORDER BY r.batch, r.reference NULLS FIRST;
SELECT codes.code_query(code) FROM c WHERE n = 1;
SELECT name, uses, uses_left FROM codes.batches ORDER BY name;
-- the gift code is free again
SELECT r.ok FROM c, codes.code_redeem(code, 'dan', 'order-1020') r WHERE n = 1;

-- cancel order 1019: its hold is released
SELECT codes.undo_reference('order-1019');
SELECT count(*) FROM codes.holds;
SELECT codes.code_query(code) FROM c WHERE n = 3;

-- a confirmed hold is undone by the reference it was confirmed with
SELECT h.hold AS hold FROM c, codes.code_hold(code, 'eve', '10 minutes', 'cart-7') h
WHERE n = 3 \gset
SELECT k.ok FROM c, codes.hold_confirm(code, :hold, 'order-1021') k WHERE n = 3;
SELECT codes.undo_reference('cart-7');
SELECT codes.undo_reference('order-1021');
SELECT codes.code_query(code) FROM c WHERE n = 3;

-- a refund in a transaction that rolls back undoes nothing
BEGIN;
SELECT codes.undo_reference('order-1018');
ROLLBACK;
SELECT count(*) FROM codes.redemptions WHERE reference = 'order-1018' AND undone_at IS NULL;

-- a reference unknown undoes nothing; code_undo by redeemer still works
SELECT codes.undo_reference('order-0');
SELECT codes.code_undo(code, 'ann') FROM c WHERE n = 2;

-- errors: nothing is used or undone
SELECT codes.undo_reference(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM m, codes.code_redeem(code, 'fay', repeat('r', 1001));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM m, codes.code_redeem(code, 'fay', 'order-1', '{"a":');
\echo :LAST_ERROR_SQLSTATE
BEGIN READ ONLY;
SELECT codes.undo_reference('order-1018');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) FROM codes.redemptions WHERE redeemer = 'fay';
SELECT count(*) FROM codes.redemptions WHERE reference = 'order-1018' AND undone_at IS NULL;

-- the application's role refunds; it cannot make or delete codes
CREATE ROLE regress_codes_shop LOGIN;
GRANT codes_app TO regress_codes_shop;
GRANT SELECT ON c, m TO regress_codes_shop;
SET ROLE regress_codes_shop;
SELECT codes.undo_reference('order-1018');
SELECT codes.code_undo(code, 'dan') FROM c WHERE n = 1;
SELECT h.ok FROM m, codes.code_hold(code, 'gus', '1 minute') h;
SELECT count(*) FROM codes.code_gen(1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del(code) FROM c WHERE n = 1;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.holds;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE SELECT ON c, m FROM regress_codes_shop;
DROP ROLE regress_codes_shop;

DROP EXTENSION codes;
