--
-- code_undo: give the latest standing use back, and keep it in the history.
--
CREATE EXTENSION codes;

-- a single-use coupon, used and then refunded
CREATE TEMP TABLE coupon AS SELECT code FROM codes.code_gen(1, NULL, NULL, batch => 'shop') AS code;
SELECT codes.code_use(code, 'order-1') FROM coupon;
SELECT codes.code_undo(code, 'order-2') FROM coupon;
SELECT codes.code_undo(code, 'order-1') FROM coupon;
SELECT codes.code_query(code) FROM coupon;
SELECT c.uses, c.used_at, c.used_by FROM codes.codes c JOIN coupon k ON c.code = k.code::uuid;

-- nothing left to undo
SELECT codes.code_undo(code) FROM coupon;

-- it can be used again, and the history shows both uses and the undoing
SELECT codes.code_use(code, 'order-3') FROM coupon;
SELECT r.redeemer, r.undone_at IS NOT NULL AS undone
FROM codes.redemptions r JOIN coupon k ON r.code = k.code ORDER BY r.used_at, r.redeemer;

-- without a redeemer, the latest standing use is undone
SELECT codes.code_undo(code) FROM coupon;
SELECT codes.code_query(code) FROM coupon;

-- a multi-use code: the latest use of the given redeemer is undone
CREATE TEMP TABLE multi AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, batch => 'multi') AS code;
SELECT codes.code_use(code, r) FROM multi, (VALUES ('a'), ('b'), ('a')) v(r);
SELECT codes.code_query(code) FROM multi;
SELECT codes.code_undo(code, 'b') FROM multi;
SELECT codes.code_undo(code, 'b') FROM multi;
SELECT codes.code_query(code) FROM multi;
SELECT r.redeemer, r.undone_at IS NOT NULL AS undone
FROM codes.redemptions r JOIN multi m ON r.code = m.code ORDER BY r.used_at, r.redeemer;
SELECT uses FROM codes.batch_codes('multi');
SELECT codes.code_use(code, 'c') FROM multi;
SELECT codes.code_use(code, 'd') FROM multi;

-- undo without a redeemer takes the latest standing use
SELECT codes.code_undo(code) FROM multi;
SELECT r.redeemer, r.undone_at IS NOT NULL AS undone
FROM codes.redemptions r JOIN multi m ON r.code = m.code ORDER BY r.used_at, r.redeemer;

-- undone uses count again toward a per-redeemer limit
CREATE TEMP TABLE limited AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, max_uses_per_redeemer => 1,
								batch => 'limited') AS code;
SELECT codes.code_use(code, 'x') FROM limited;
SELECT codes.code_use(code, 'x') FROM limited;
SELECT codes.code_undo(code, 'x') FROM limited;
SELECT codes.code_use(code, 'x') FROM limited;

-- unknown codes and non-codes: FAILED; NULL: an error
SELECT codes.code_undo(gen_random_uuid()::text);
SELECT codes.code_undo('nonsense');
SELECT codes.code_undo(NULL);
\echo :LAST_ERROR_SQLSTATE

-- an undo rolls back with its transaction
BEGIN;
SELECT codes.code_undo(code) FROM limited;
ROLLBACK;
SELECT codes.code_query(code), (SELECT uses FROM codes.batch_codes('limited'))
FROM limited l;

DROP EXTENSION codes;
