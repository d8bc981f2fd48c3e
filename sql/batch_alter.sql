--
-- Changing a batch after creation: its valid_from, max_uses and limits per
-- redeemer; and batch_codes' state of each code, whatever its batch's
-- period.
--
CREATE EXTENSION codes;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- the codes handed out, numbered in each batch
CREATE TABLE handed (batch text, n bigint, code text);
-- what each code of a batch counts: its uses and state, its history (and
-- the uses that stand there), and whether its row holds its use
CREATE FUNCTION uses_of(batch text)
RETURNS TABLE (n bigint, uses integer, state text, history bigint, standing bigint, on_row boolean)
LANGUAGE sql AS $$
	SELECT t.n, b.uses, b.state,
		   (SELECT count(*) FROM codes.redemptions r WHERE r.code = t.code),
		   (SELECT count(*) FROM codes.redemptions r WHERE r.code = t.code AND r.undone_at IS NULL),
		   (SELECT c.used_at IS NOT NULL FROM codes.codes c
			WHERE codes.key_fold(c.code) = codes.key_fold(t.code::uuid) AND c.code = t.code::uuid)
	FROM codes.batch_codes(batch) b JOIN handed t ON t.code = b.code
	WHERE t.batch = uses_of.batch
	ORDER BY t.n
$$;
CREATE FUNCTION gen(batch text, num integer, max_uses integer)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO handed
	SELECT batch, row_number() OVER (), code
	FROM codes.code_gen(num, NULL, NULL, max_uses => max_uses, batch => batch) AS code
$$;
CREATE FUNCTION nth(batch text, n bigint) RETURNS text LANGUAGE sql AS $$
	SELECT h.code FROM handed h WHERE h.batch = nth.batch AND h.n = nth.n
$$;

--
-- valid_from
--
SELECT count(*) FROM codes.code_gen(2, '2020-01-01', '2030-01-01', batch => 'period');
INSERT INTO handed SELECT 'period', row_number() OVER (), code FROM codes.batch_codes('period');
SELECT (codes.code_check(nth('period', 1))).reason;
-- a later start: not yet valid; an open start: valid again
SELECT codes.batch_set_valid_from('period', now() + interval '1 day');
SELECT (codes.code_redeem(nth('period', 1), 'r')).reason, codes.code_query(nth('period', 1));
SELECT name, state FROM codes.batches WHERE name = 'period';
SELECT codes.batch_set_valid_from('period', NULL);
SELECT valid_from FROM codes.batches WHERE name = 'period';
SELECT (codes.code_redeem(nth('period', 1), 'r')).reason;
-- a start after the end is refused, and changes nothing
SELECT codes.batch_set_valid_from('period', '2030-01-02');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_valid_from('period', '2030-01-01');
SELECT valid_from, valid_until FROM codes.batches WHERE name = 'period';
SELECT codes.batch_set_valid_from(NULL, now());
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_valid_from('nope', now());
\echo :LAST_ERROR_SQLSTATE

--
-- max_uses of multi-use codes: the stripes are folded into the row
--
SELECT gen('promo', 2, 10);
SELECT codes.code_use(nth('promo', 1), 'r' || i) FROM generate_series(1, 6) i;
SELECT codes.code_use(nth('promo', 2), 'r1');
SELECT count(*) > 0 AS striped FROM codes.use_stripes;
-- lowered below its uses: used up, its uses kept, no stripe left
SELECT codes.batch_set_max_uses('promo', 4);
SELECT count(*) AS stripes FROM codes.use_stripes;
SELECT * FROM uses_of('promo');
SELECT c.uses FROM codes.codes c JOIN handed h ON c.code = h.code::uuid
WHERE h.batch = 'promo' ORDER BY h.n;
SELECT * FROM codes.code_redeem(nth('promo', 1), 'x');
SELECT codes.code_use(nth('promo', 2), 'r' || i) FROM generate_series(2, 4) i;
SELECT name, max_uses, used_up, uses_left, uses FROM codes.batches WHERE name = 'promo';
-- an undo gives a use back, under the new cap
SELECT codes.code_undo(nth('promo', 2), 'r4');
SELECT codes.code_use(nth('promo', 2), 'r5'), codes.code_use(nth('promo', 2), 'r6');
-- raised: uses left again, counted from the uses made
SELECT codes.batch_set_max_uses('promo', 8);
SELECT (codes.code_check(nth('promo', 1), 'y')).uses_left;
SELECT codes.code_use(nth('promo', 1), 'y' || i) FROM generate_series(1, 3) i;
SELECT * FROM uses_of('promo');
SELECT name, max_uses, used_up, uses_left, uses FROM codes.batches WHERE name = 'promo';
-- no cap: the row keeps only what the history does not hold
SELECT codes.batch_set_max_uses('promo', NULL);
SELECT c.uses FROM codes.codes c JOIN handed h ON c.code = h.code::uuid
WHERE h.batch = 'promo' ORDER BY h.n;
SELECT * FROM uses_of('promo');
SELECT * FROM codes.code_redeem(nth('promo', 1), 'z');
SELECT codes.code_undo(nth('promo', 1), 'z');
SELECT name, max_uses, used_up, uses_left, uses FROM codes.batches WHERE name = 'promo';
-- a cap again: the history is counted into the row
SELECT codes.batch_set_max_uses('promo', 9);
SELECT c.uses FROM codes.codes c JOIN handed h ON c.code = h.code::uuid
WHERE h.batch = 'promo' ORDER BY h.n;
SELECT codes.code_use(nth('promo', 1), 'w'), codes.code_use(nth('promo', 1), 'v');
SELECT codes.code_undo(nth('promo', 1), 'w');
SELECT * FROM uses_of('promo');
SELECT name, max_uses, used_up, uses_left, uses FROM codes.batches WHERE name = 'promo';
-- the same max_uses again changes nothing
SELECT codes.batch_set_max_uses('promo', 9);

--
-- single-use codes become multi-use: their uses move into the history
--
SELECT gen('single', 3, 1);
SELECT codes.code_use(nth('single', 1), 'alice');
SELECT codes.code_use(nth('single', 2));
SELECT codes.code_use(nth('single', 3), 'carol'), codes.code_undo(nth('single', 3));
CREATE TEMP TABLE before AS
SELECT r.code, r.redeemer, r.used_at, r.undone_at FROM codes.redemptions r
WHERE r.batch = 'single';
SELECT codes.batch_set_max_uses('single', 2);
-- every use is there once, with its time and redeemer, now in the history
SELECT count(*) AS uses, count(*) FILTER (WHERE b.code IS NULL) AS lost
FROM codes.redemptions r
	LEFT JOIN before b ON b.code = r.code AND b.redeemer IS NOT DISTINCT FROM r.redeemer
		AND b.used_at = r.used_at AND b.undone_at IS NOT DISTINCT FROM r.undone_at
WHERE r.batch = 'single';
SELECT * FROM uses_of('single');
SELECT codes.code_use(nth('single', 1), 'bob'), codes.code_use(nth('single', 1), 'dave');
SELECT codes.code_undo(nth('single', 2)), codes.code_use(nth('single', 2), 'erin');
SELECT * FROM uses_of('single');
SELECT name, max_uses, issued, used_up, uses_left, uses FROM codes.batches WHERE name = 'single';
-- and back to single-use: refused while a code has two uses, changing nothing
SELECT codes.batch_set_max_uses('single', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM uses_of('single');
SELECT codes.code_undo(nth('single', 1), 'bob');
SELECT codes.batch_set_max_uses('single', 1);
SELECT * FROM uses_of('single');
SELECT codes.code_use(nth('single', 1), 'x'), codes.code_use(nth('single', 3), 'x');
SELECT codes.code_query(nth('single', i)) FROM generate_series(1, 3) i;
-- a use the history holds is undone there
SELECT codes.code_undo(nth('single', 1)), codes.code_use(nth('single', 1), 'y');
SELECT * FROM uses_of('single');
SELECT name, max_uses, issued, used_up, uses_left, uses FROM codes.batches WHERE name = 'single';
-- with no cap, and back
SELECT codes.batch_set_max_uses('single', NULL);
SELECT * FROM uses_of('single');
SELECT codes.code_use(nth('single', 2), 'z');
SELECT codes.batch_set_max_uses('single', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_undo(nth('single', 2), 'z');
SELECT codes.batch_set_max_uses('single', 1);
SELECT * FROM uses_of('single');

-- errors change nothing
SELECT codes.batch_set_max_uses('promo', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses(NULL, 3);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses('nope', 3);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses_per_redeemer('promo', 2);
SELECT codes.batch_set_max_uses('promo', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT name, max_uses, max_uses_per_redeemer, uses FROM codes.batches WHERE name = 'promo';

--
-- limits per redeemer
--
SELECT gen('shop', 2, 5);
SELECT codes.code_use(nth('shop', 1), 'alice'), codes.code_use(nth('shop', 1), 'alice');
SELECT codes.batch_set_max_uses_per_redeemer('shop', 1);
SELECT (codes.code_redeem(nth('shop', 1), 'alice')).reason, (codes.code_redeem(nth('shop', 1), 'bob')).reason;
SELECT codes.code_use(nth('shop', 1));
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses_per_redeemer('shop', 3);
SELECT (codes.code_redeem(nth('shop', 1), 'alice')).reason, (codes.code_redeem(nth('shop', 1), 'alice')).reason;
SELECT codes.batch_set_max_uses_per_redeemer('shop', NULL);
SELECT codes.code_use(nth('shop', 1));
SELECT codes.batch_set_max_uses_per_redeemer('shop', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses_per_redeemer('shop', 6);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses_per_redeemer(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses('shop', NULL);
SELECT codes.batch_set_max_uses_per_redeemer('shop', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_uses_per_redeemer('shop', 100);
SELECT name, max_uses, max_uses_per_redeemer FROM codes.batches WHERE name = 'shop';

-- across a batch of multi-use codes
SELECT codes.batch_set_max_batch_uses_per_redeemer('shop', 2);
SELECT (codes.code_redeem(nth('shop', 2), 'alice')).reason, (codes.code_redeem(nth('shop', 2), 'bob')).reason;
SELECT codes.batch_set_max_batch_uses_per_redeemer('shop', NULL);
SELECT (codes.code_redeem(nth('shop', 2), 'alice')).reason;

-- across a batch of single-use codes: the uses made before count
SELECT gen('mailing', 4, 1);
SELECT codes.code_use(nth('mailing', 1), 'alice'), codes.code_use(nth('mailing', 2), 'bob');
SELECT codes.batch_set_max_batch_uses_per_redeemer('mailing', 1);
SELECT * FROM uses_of('mailing');
SELECT (codes.code_redeem(nth('mailing', 3), 'alice')).reason,
	   (codes.code_redeem(nth('mailing', 3), 'carol')).reason,
	   (codes.code_redeem(nth('mailing', 4), 'carol')).reason;
SELECT redeemer, count(*) FROM codes.redemptions WHERE batch = 'mailing' GROUP BY 1 ORDER BY 1;
-- an undo of a use moved there gives it back
SELECT codes.code_undo(nth('mailing', 1), 'alice');
SELECT (codes.code_redeem(nth('mailing', 4), 'alice')).reason;
-- lifted: the uses stay in the history, new ones go on the row
SELECT codes.batch_set_max_batch_uses_per_redeemer('mailing', NULL);
SELECT codes.code_undo(nth('mailing', 4)), codes.code_use(nth('mailing', 4), 'alice');
SELECT * FROM uses_of('mailing');
SELECT codes.batch_set_max_batch_uses_per_redeemer('mailing', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_batch_uses_per_redeemer(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_max_batch_uses_per_redeemer('nope', 1);
\echo :LAST_ERROR_SQLSTATE

--
-- holds count across a change, and are confirmed, released or run out
-- after it
--
SELECT gen('held', 1, 3);
CREATE TEMP TABLE holds_made (who text, hold bigint);
INSERT INTO holds_made
SELECT 'ann', h.hold FROM codes.code_hold(nth('held', 1), 'ann', '10 minutes') h;
SELECT codes.code_use(nth('held', 1), 'bob');
INSERT INTO holds_made
SELECT 'cat', h.hold FROM codes.code_hold(nth('held', 1), 'cat', '10 minutes') h;
-- cat's hold ran out long ago
UPDATE codes.redemption_log SET held_until = now() - interval '1 hour'
WHERE id = (SELECT hold FROM holds_made WHERE who = 'cat');
SELECT * FROM uses_of('held');
-- lowered to its two uses: ann's hold and bob's use take them
SELECT codes.batch_set_max_uses('held', 2);
SELECT (codes.code_check(nth('held', 1), 'dan')).reason;
SELECT codes.hold_release(nth('held', 1), hold) FROM holds_made WHERE who = 'ann';
-- ann's use is free again: dan gets it (cat's hold, run out, counts no
-- more: the change expired it, so no later use gives its use back twice)
SELECT ok, reason, uses_left FROM codes.code_redeem(nth('held', 1), 'dan');
SELECT count(*) AS live_holds FROM codes.holds WHERE batch = 'held';
SELECT * FROM uses_of('held');
-- no cap: a live hold counts from the history; capped again, from the row
SELECT codes.batch_set_max_uses('held', NULL);
INSERT INTO holds_made
SELECT 'eve', h.hold FROM codes.code_hold(nth('held', 1), 'eve', '10 minutes') h;
SELECT * FROM uses_of('held');
SELECT codes.batch_set_max_uses('held', 3);
SELECT * FROM uses_of('held');
SELECT (codes.code_check(nth('held', 1), 'fay')).reason;
SELECT ok, reason FROM holds_made, codes.hold_confirm(nth('held', 1), hold) WHERE who = 'eve';
SELECT * FROM uses_of('held');
-- a single-use code's hold, when its batch becomes multi-use
SELECT gen('held1', 1, 1);
INSERT INTO holds_made
SELECT 'gus', h.hold FROM codes.code_hold(nth('held1', 1), 'gus', '10 minutes') h;
SELECT codes.batch_set_max_uses('held1', 2);
SELECT * FROM uses_of('held1');
SELECT codes.code_use(nth('held1', 1), 'hal'), codes.code_use(nth('held1', 1), 'ivy');
SELECT codes.hold_release(nth('held1', 1), hold) FROM holds_made WHERE who = 'gus';
SELECT codes.code_use(nth('held1', 1), 'ivy');
SELECT * FROM uses_of('held1');

--
-- batch_codes: each code's own state, whatever its batch's period
--
SELECT gen('export', 5, 1);
SELECT codes.code_use(nth('export', 1), 'alice'), codes.code_use(nth('export', 2), 'bob');
SELECT codes.code_deactivate(nth('export', 3)), codes.code_bind(nth('export', 4), 'dave'),
	   codes.code_set_metadata(nth('export', 5), '{"item": "sword"}');
SELECT h.n, b.status, b.uses, b.used_by, b.state, b.deactivated_at IS NOT NULL AS deactivated,
	   b.bound_to, b.metadata
FROM codes.batch_codes('export') b JOIN handed h ON h.code = b.code ORDER BY h.n;
SELECT codes.batch_revoke('export');
SELECT h.n, b.status, b.uses, b.used_by, b.state
FROM codes.batch_codes('export') b JOIN handed h ON h.code = b.code ORDER BY h.n;
SELECT codes.batch_unrevoke('export');
SELECT codes.batch_extend('export', '2020-01-01');
SELECT codes.batch_set_valid_from('export', '2019-01-01');
SELECT h.n, b.status, b.uses, b.state
FROM codes.batch_codes('export') b JOIN handed h ON h.code = b.code ORDER BY h.n;
-- multi-use codes: used, used up; and without a cap
SELECT h.n, b.status, b.uses, b.state
FROM codes.batch_codes('promo') b JOIN handed h ON h.code = b.code ORDER BY h.n;
SELECT h.n, b.status, b.uses, b.state
FROM codes.batch_codes('shop') b JOIN handed h ON h.code = b.code ORDER BY h.n;

-- the admin may change batches; the application may not
CREATE ROLE regress_alter_app;
GRANT codes_app TO regress_alter_app;
SET ROLE regress_alter_app;
SELECT codes.batch_set_max_uses('promo', 3);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_valid_from('promo', NULL);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT p.oid::regprocedure AS function,
	   has_function_privilege('codes_app', p.oid, 'EXECUTE') AS app,
	   has_function_privilege('codes_admin', p.oid, 'EXECUTE') AS admin,
	   has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p
WHERE p.pronamespace = 'codes'::regnamespace
  AND (p.proname LIKE 'batch_set_%' OR p.proname IN ('batch_codes', 'lock_batch_rules'))
ORDER BY p.proname;
DROP ROLE regress_alter_app;

DROP EXTENSION codes;
DROP FUNCTION uses_of(text);
DROP FUNCTION gen(text, integer, integer);
DROP FUNCTION nth(text, bigint);
DROP TABLE handed;
