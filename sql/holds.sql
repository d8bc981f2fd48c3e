--
-- Holds: a use of a code held for a customer while they pay, confirmed
-- into a use, released, or run out of time; it counts against the code's
-- limits as a use does while it lasts.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(3, NULL, NULL, batch => 'gifts') AS code;
CREATE TEMP TABLE m AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 2, batch => 'two') AS code;
CREATE TEMP TABLE u AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => NULL, max_uses_per_redeemer => 1,
								batch => 'open') AS code;
CREATE TEMP TABLE held (name text, hold bigint);

-- a gift code held for ann: anyone else is refused as held, ann too
INSERT INTO held
SELECT 'gift', h.hold FROM c, codes.code_hold(code, 'ann', '10 minutes', 'order-1') h WHERE n = 1;
SELECT h.ok, h.reason, h.batch, h.uses_left, h.held_until = now() + interval '10 minutes' AS until
FROM c, codes.code_hold(code, 'bob', '10 minutes') h WHERE n = 1;
SELECT r.ok, r.reason, r.uses_left FROM c, codes.code_redeem(code, 'bob') r WHERE n = 1;
SELECT r.ok, r.reason, r.uses_left FROM c, codes.code_check(code, 'ann') r WHERE n = 1;
SELECT codes.code_use(code, 'bob'), codes.code_query(code) FROM c WHERE n = 1;
SELECT h.code = c.code AS same_code, h.batch, h.redeemer, h.reference, h.live,
	   h.held_until - h.held_at AS held_for
FROM codes.holds h JOIN c ON n = 1;
-- a hold is no use yet: the views and batch_codes count it, redemptions
-- do not list it
SELECT name, uses, used_up, uses_left FROM codes.batches WHERE name = 'gifts';
SELECT status, uses, used_by FROM codes.batch_codes('gifts') b JOIN c USING (code) WHERE n = 1;
SELECT count(*) FROM codes.redemptions;

-- confirmed (in the order's transaction), with the order's final
-- reference and details: a use, listed
SELECT k.ok, k.reason
FROM c, held, codes.hold_confirm(code, hold, 'order-1b', '{"total": 10}') k
WHERE n = 1 AND name = 'gift';
SELECT r.redeemer, r.reference, r.details, r.undone_at IS NULL AS stands
FROM codes.redemptions r JOIN c USING (code) WHERE n = 1;
SELECT count(*) FROM codes.holds;
SELECT codes.code_query(code) FROM c WHERE n = 1;
SELECT status, uses, used_by FROM codes.batch_codes('gifts') b JOIN c USING (code) WHERE n = 1;
-- twice, or released after: there is no such hold any more
SELECT k.ok, k.reason FROM c, held, codes.hold_confirm(code, hold) k WHERE n = 1 AND name = 'gift';
SELECT codes.hold_release(code, hold) FROM c, held WHERE n = 1 AND name = 'gift';
-- a hold id with another code is no hold of it
SELECT k.ok, k.reason FROM c, held, codes.hold_confirm(code, hold) k WHERE n = 2 AND name = 'gift';

-- released (the payment failed): the code is free again
INSERT INTO held
SELECT 'failed', h.hold FROM c, codes.code_hold(code, 'cat', '10 minutes') h WHERE n = 2;
SELECT codes.hold_release(code, hold) FROM c, held WHERE n = 2 AND name = 'failed';
SELECT codes.hold_release(code, hold) FROM c, held WHERE n = 2 AND name = 'failed';
SELECT k.ok, k.reason FROM c, held, codes.hold_confirm(code, hold) k WHERE n = 2 AND name = 'failed';
SELECT r.ok, r.reason FROM c, codes.code_check(code, 'dan') r WHERE n = 2;
SELECT r.undone_at IS NOT NULL AS released FROM codes.redemption_log r WHERE r.id =
	(SELECT hold FROM held WHERE name = 'failed');

-- a hold rolled back with its transaction was never made
BEGIN;
SELECT h.ok FROM c, codes.code_hold(code, 'eve', '10 minutes') h WHERE n = 3;
ROLLBACK;
SELECT codes.code_query(code) FROM c WHERE n = 3;

-- run out of time: the next look sees it so, without any job; confirming
-- it then is too late, and gives its use back
INSERT INTO held
SELECT 'late', h.hold FROM c, codes.code_hold(code, 'fay', '10 minutes') h WHERE n = 3;
UPDATE codes.redemption_log SET used_at = now() - interval '20 minutes',
	held_until = now() - interval '10 minutes'
WHERE id = (SELECT hold FROM held WHERE name = 'late');
SELECT r.ok, r.reason, r.uses_left FROM c, codes.code_check(code, 'gus') r WHERE n = 3;
SELECT codes.code_query(code) FROM c WHERE n = 3;
SELECT name, uses, used_up FROM codes.batches WHERE name = 'gifts';
SELECT live FROM codes.holds;
SELECT k.ok, k.reason FROM c, held, codes.hold_confirm(code, hold) k WHERE n = 3 AND name = 'late';
SELECT count(*) FROM codes.holds;
SELECT r.ok, r.reason FROM c, codes.code_redeem(code, 'gus') r WHERE n = 3;

-- ... or another customer's use takes the use back from it
SELECT codes.code_undo(code, 'gus') FROM c WHERE n = 3;
INSERT INTO held
SELECT 'late2', h.hold FROM c, codes.code_hold(code, 'fay', '10 minutes') h WHERE n = 3;
UPDATE codes.redemption_log SET held_until = now() - interval '1 second'
WHERE id = (SELECT hold FROM held WHERE name = 'late2');
SELECT r.ok, r.reason FROM c, codes.code_redeem(code, 'hal') r WHERE n = 3;
SELECT r.undone_at = r.held_until AS expired_at_its_end
FROM codes.redemption_log r WHERE r.id = (SELECT hold FROM held WHERE name = 'late2');
SELECT k.ok, k.reason FROM c, held, codes.hold_confirm(code, hold) k WHERE n = 3 AND name = 'late2';
SELECT codes.hold_release(code, hold) FROM c, held WHERE n = 3 AND name = 'late2';
SELECT redeemer FROM codes.redemptions r JOIN c USING (code) WHERE n = 3 AND r.undone_at IS NULL;

-- a code of two uses: two holds take both; a third is refused as held,
-- until one is released
INSERT INTO held SELECT 'm-ann', h.hold FROM m, codes.code_hold(code, 'ann', '10 minutes') h;
SELECT h.ok, h.uses_left FROM m, codes.code_hold(code, 'bob', '10 minutes') h;
SELECT r.ok, r.reason, r.uses_left FROM m, codes.code_redeem(code, 'cat') r;
SELECT codes.code_use(code, 'cat') FROM m;
SELECT name, uses, used_up, uses_left FROM codes.batches WHERE name = 'two';
SELECT codes.hold_release(code, hold) FROM m, held WHERE name = 'm-ann';
SELECT r.ok, r.reason, r.uses_left FROM m, codes.code_redeem(code, 'cat') r;
SELECT name, uses, used_up, uses_left FROM codes.batches WHERE name = 'two';
-- bob's hold runs out: its use goes to the next customer who needs it
UPDATE codes.redemption_log SET held_until = now() - interval '1 second'
WHERE redeemer = 'bob' AND held_until IS NOT NULL
  AND batch = (SELECT id FROM codes.batch WHERE name = 'two');
SELECT r.ok, r.reason FROM m, codes.code_check(code, 'dan') r;
SELECT name, uses, uses_left FROM codes.batches WHERE name = 'two';
SELECT r.ok, r.reason, r.uses_left FROM m, codes.code_redeem(code, 'dan') r;
SELECT r.ok, r.reason FROM m, codes.code_redeem(code, 'eve') r;

-- without a total cap, once per customer: a hold is the customer's use
-- while it lasts
INSERT INTO held SELECT 'u-ann', h.hold FROM u, codes.code_hold(code, 'ann', '10 minutes') h;
SELECT r.ok, r.reason FROM u, codes.code_redeem(code, 'ann') r;
SELECT h.ok, h.reason FROM u, codes.code_hold(code, 'ann', '10 minutes') h;
SELECT r.ok, r.reason FROM u, codes.code_redeem(code, 'bob') r;
SELECT name, uses, uses_left FROM codes.batches WHERE name = 'open';
UPDATE codes.redemption_log SET held_until = now() - interval '1 second'
WHERE id = (SELECT hold FROM held WHERE name = 'u-ann');
SELECT name, uses FROM codes.batches WHERE name = 'open';
SELECT r.ok, r.reason FROM u, codes.code_redeem(code, 'ann') r;

-- a code that cannot be used cannot be held; an unknown one is a guess
SELECT codes.batch_revoke('two');
SELECT h.ok, h.reason, h.hold, h.held_until FROM m, codes.code_hold(code, 'zed', '1 minute') h;
SELECT h.ok, h.reason, h.hold, h.batch FROM codes.code_hold('NO-SUCH-CODE', 'zed', '1 minute') h;
SELECT redeemer, failures FROM codes.throttled WHERE redeemer = 'zed';

-- errors: nothing is held
SELECT * FROM c, codes.code_hold(code, 'ann', '0 seconds') WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_hold(code, 'ann', '-1 minute') WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_hold(code, 'ann', '1 day 1 second') WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_hold(code, 'ann', NULL) WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_hold(code, NULL, '1 minute') WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM codes.code_hold(NULL, 'ann', '1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_hold(code, 'ann', '1 minute', repeat('r', 1001)) WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_hold(code, repeat('x', 1001), '1 minute') WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.hold_confirm(code, NULL) WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM codes.hold_confirm(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.hold_release(code, NULL) FROM c WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
BEGIN READ ONLY;
SELECT * FROM c, codes.code_hold(code, 'ann', '1 minute') WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN READ ONLY;
SELECT codes.hold_release(code, 1) FROM c WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT r.ok, r.reason FROM c, codes.code_check(code, 'dan') r WHERE n = 2;
SELECT count(*) FROM codes.holds WHERE live;

DROP EXTENSION codes;
