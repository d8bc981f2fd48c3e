--
-- Codes used by many: a multi-use code's uses are counted in its stripes,
-- never on its own row, and recorded in the history; a use reads only what
-- it looks up, however many uses the code had before; a code may have no
-- total cap; a batch may limit each redeemer's uses across its codes.
--
CREATE EXTENSION codes;

-- How many rows of a table the current transaction has read so far:
-- through its indexes and by sequential scans.  (Counts not yet sent to
-- the statistics are kept across transactions: each measured transaction
-- follows a statement that sends them, pg_stat_force_next_flush().)
CREATE FUNCTION rows_read(t regclass) RETURNS bigint LANGUAGE sql AS $$
	SELECT coalesce(sum(pg_stat_get_xact_tuples_fetched(i.indexrelid)), 0)
		   + pg_stat_get_xact_tuples_returned(t)
	FROM pg_index i WHERE i.indrelid = t
$$;

-- a promo code for many customers, once each
CREATE TEMP TABLE promo AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 1000,
								max_uses_per_redeemer => 1, batch => 'summer20',
								metadata => '{"discount": 20}') AS code;

-- 1500 customers try it in one statement: 1000 get a use, each one
SELECT u, count(*)
FROM (SELECT codes.code_use(code, 'c' || g) AS u FROM promo, generate_series(1, 1500) AS g) AS s
GROUP BY 1 ORDER BY 1;
SELECT codes.code_query(code) FROM promo;
SELECT name, max_uses, issued, used_up, uses_left, uses FROM codes.batches;
SELECT count(*) AS uses, count(DISTINCT redeemer) AS redeemers
FROM codes.redemptions WHERE batch = 'summer20' AND undone_at IS NULL;
-- its row counts none of them: they are in its stripes, at most 64
SELECT c.uses AS row_uses FROM codes.codes c JOIN promo p ON c.code = p.code::uuid;
SELECT count(*) BETWEEN 1 AND 64 AS stripes, sum(uses) AS stripe_uses FROM codes.use_stripes;
SELECT status, uses, used_by FROM codes.batch_codes('summer20');

-- used up comes before the redeemer's share
SELECT r.ok, r.reason, r.uses_left FROM promo, codes.code_redeem(code, 'c1') r;
SELECT r.ok, r.reason, r.uses_left FROM promo, codes.code_redeem(code, 'c1499') r;

-- an undo gives a use back: the next customer gets it, then none is left
SELECT codes.code_undo(code, 'c7') FROM promo;
SELECT codes.code_query(code) FROM promo;
SELECT r.ok, r.reason, r.uses_left FROM promo, codes.code_check(code, 'newcomer') r;
SELECT r.ok, r.reason, r.uses_left FROM promo, codes.code_redeem(code, 'newcomer') r;
SELECT r.ok, r.reason, r.uses_left FROM promo, codes.code_redeem(code, 'c7') r;
SELECT uses_left, uses FROM codes.batches WHERE name = 'summer20';

-- the redeemer's share: refused while it stands, granted once undone
CREATE TEMP TABLE twice AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 100,
								max_uses_per_redeemer => 2, batch => 'twice') AS code;
SELECT codes.code_use(code, 'ann'), codes.code_use(code, 'ann') FROM twice;
SELECT r.ok, r.reason, r.uses_left FROM twice, codes.code_redeem(code, 'ann') r;
SELECT r.ok, r.reason FROM twice, codes.code_check(code, 'ann') r;
SELECT codes.code_undo(code, 'ann') FROM twice;
SELECT r.ok, r.reason, r.uses_left FROM twice, codes.code_redeem(code, 'ann') r;
SELECT r.ok, r.reason FROM twice, codes.code_redeem(code, 'ann') r;

-- what a use reads does not grow with the code's past uses: a use of the
-- promo code after its 1000 reads a handful of history rows (the
-- redeemer's) and at most a few looks at each of its 64 stripes, as a use
-- of a fresh code does
CREATE TEMP TABLE fresh AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 1000,
								max_uses_per_redeemer => 1, batch => 'fresh') AS code;
SELECT codes.code_undo(code, 'c8') FROM promo;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT codes.code_use(code, 'late') FROM promo;
SELECT rows_read('codes.redemption_log') < 10 AS history_rows_few,
	   rows_read('codes.use_stripes') <= 3 * 64 AS stripe_rows_few;
ROLLBACK;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT codes.code_use(code, 'late') FROM fresh;
SELECT rows_read('codes.redemption_log') < 10 AS history_rows_few,
	   rows_read('codes.use_stripes') <= 3 * 64 AS stripe_rows_few;
ROLLBACK;
-- so do a check, an undo and a query
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT r.ok FROM promo, codes.code_check(code, 'c9') r;
SELECT codes.code_undo(code, 'c9') FROM promo;
SELECT codes.code_query(code) FROM promo;
SELECT rows_read('codes.redemption_log') < 10 AS history_rows_few;
ROLLBACK;
-- an undo of a redeemer's latest use reads a handful of rows however many
-- uses of the code that redeemer made before (a till, a partner account),
-- and however many other redeemers used it since (the index on (redeemer,
-- code, id), read backwards from the newest)
CREATE TEMP TABLE till AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => NULL, batch => 'till') AS code;
SELECT count(*) FROM till, generate_series(1, 500) AS g
WHERE codes.code_use(code, 'till-' || (g * 0 + 1)) = 'SUCCEED';
SELECT count(*) FROM till, generate_series(1, 500) AS g
WHERE codes.code_use(code, 'shop-' || g) = 'SUCCEED';
SELECT redeemer, count(*) FROM codes.redemptions WHERE batch = 'till'
GROUP BY redeemer ORDER BY count(*) DESC, redeemer LIMIT 2;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT codes.code_undo(code, 'till-1') FROM till;
SELECT codes.code_undo(code, 'till-1') FROM till;
SELECT rows_read('codes.redemption_log') < 10 AS history_rows_few;
ROLLBACK;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT codes.code_undo(code, 'shop-1') FROM till;
SELECT rows_read('codes.redemption_log') < 10 AS history_rows_few;
ROLLBACK;
-- "what did this customer redeem" reads that customer's uses only
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT batch, redeemer FROM codes.redemptions WHERE redeemer = 'c10';
SELECT rows_read('codes.redemption_log') < 10 AS history_rows_few,
	   rows_read('codes.codes') < 10 AS code_rows_few;
ROLLBACK;

-- no total cap: max_uses NULL; once per customer, any number of customers
CREATE TEMP TABLE open AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => NULL,
								max_uses_per_redeemer => 1, batch => 'open') AS code;
SELECT u, count(*)
FROM (SELECT codes.code_use(code, 'o' || (g % 700)) AS u
	  FROM open, generate_series(1, 1400) AS g) AS s
GROUP BY 1 ORDER BY 1;
SELECT r.ok, r.reason, r.uses_left FROM open, codes.code_redeem(code, 'o1') r;
SELECT r.ok, r.reason, r.uses_left FROM open, codes.code_redeem(code, 'someone') r;
SELECT codes.code_query(code) FROM open;
SELECT max_uses, used_up, uses_left, uses FROM codes.batches WHERE name = 'open';
SELECT count(*) AS stripes FROM codes.use_stripes s JOIN open o ON s.code = o.code::uuid;

-- nor any limit: a code anyone may use any number of times, with or
-- without a redeemer
CREATE TEMP TABLE free AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => NULL, batch => 'free') AS code;
SELECT codes.code_use(code), codes.code_use(code), codes.code_use(code, 'x') FROM free;
SELECT status, uses FROM codes.batch_codes('free');

-- a limit per redeemer across a batch: one use of the campaign's codes,
-- whichever code
CREATE TEMP TABLE camp AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(4, NULL, NULL, max_batch_uses_per_redeemer => 1,
					batch => 'campaign') AS code;
SELECT r.ok, r.reason FROM camp, codes.code_redeem(code, 'ann') r WHERE n = 1;
SELECT r.ok, r.reason FROM camp, codes.code_redeem(code, 'ann') r WHERE n = 2;
SELECT r.ok, r.reason FROM camp, codes.code_check(code, 'ann') r WHERE n = 3;
SELECT r.ok, r.reason FROM camp, codes.code_redeem(code, 'bob') r WHERE n = 2;
SELECT codes.code_query(code) FROM camp ORDER BY n;
SELECT redeemer FROM codes.redemptions WHERE batch = 'campaign' ORDER BY redeemer;
SELECT status, uses, used_by FROM codes.batch_codes('campaign') ORDER BY used_by NULLS LAST;
-- undone, the share is free again; the code too
SELECT codes.code_undo(code, 'ann') FROM camp WHERE n = 1;
SELECT r.ok, r.reason FROM camp, codes.code_redeem(code, 'ann') r WHERE n = 3;
SELECT codes.code_query(code) FROM camp ORDER BY n;
SELECT redeemer, undone_at IS NOT NULL AS undone
FROM codes.redemptions WHERE batch = 'campaign' ORDER BY redeemer, undone;

-- multi-use codes under a batch-wide limit: two of the batch's uses each
CREATE TEMP TABLE packs AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(2, NULL, NULL, max_uses => 10, max_batch_uses_per_redeemer => 2,
					batch => 'packs') AS code;
SELECT u, count(*)
FROM (SELECT codes.code_use(p.code, 'cy') AS u FROM packs p, generate_series(1, 2)) AS s
GROUP BY 1 ORDER BY 1;
SELECT uses FROM codes.batches WHERE name = 'packs';

-- a batch with a limit per redeemer needs one, whatever the code's state
CREATE TEMP TABLE ended AS
SELECT code FROM codes.code_gen(1, now() - interval '2 days', now() - interval '1 day',
								max_uses => 5, max_uses_per_redeemer => 1) AS code;
SELECT codes.code_use(code) FROM ended;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use(code, 'someone') FROM ended;
SELECT codes.code_use(code) FROM camp WHERE n = 4;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM codes.code_check((SELECT code FROM camp WHERE n = 4));
\echo :LAST_ERROR_SQLSTATE

-- a multi-use code's use is part of the caller's transaction
BEGIN;
SELECT codes.code_use(code, 'rolled-back') FROM twice;
ROLLBACK;
SELECT count(*) FROM codes.redemptions WHERE redeemer = 'rolled-back';
SELECT uses FROM codes.batches WHERE name = 'twice';

-- a transaction of many uses of one code takes them from the stripe it
-- already holds while that has room (64 stripes of 100 uses each here),
-- leaving the others to other customers; a savepoint rolled back takes
-- its uses with it, and the next use finds the stripe again
CREATE TEMP TABLE bulk AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 6400, batch => 'bulk') AS code;
BEGIN;
SELECT count(*) FILTER (WHERE codes.code_use(code, 'b' || g) = 'SUCCEED')
FROM bulk, generate_series(1, 30) AS g;
SAVEPOINT s;
SELECT codes.code_use(code, 'in-savepoint') FROM bulk;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FILTER (WHERE codes.code_use(code, 'c' || g) = 'SUCCEED')
FROM bulk, generate_series(1, 30) AS g;
SELECT count(*) AS stripes, sum(uses) AS uses FROM codes.use_stripes s JOIN bulk b ON s.code = b.code::uuid;
COMMIT;
SELECT uses, uses_left FROM codes.batches WHERE name = 'bulk';
-- past a stripe's share of 100, another stripe: 150 uses in one
-- transaction take at most three more
SELECT count(*) FILTER (WHERE codes.code_use(code, 'd' || g) = 'SUCCEED')
FROM bulk, generate_series(1, 150) AS g;
SELECT count(*) <= 4 AS few_stripes, max(uses) AS most, sum(uses) AS uses
FROM codes.use_stripes s JOIN bulk b ON s.code = b.code::uuid;

-- deleting a multi-use code deletes its stripes and history; deleting a
-- batch, all of its codes'
SELECT codes.code_del(code) FROM promo;
SELECT count(*) AS stripes FROM codes.use_stripes s JOIN promo p ON s.code = p.code::uuid;
SELECT count(*) AS history FROM codes.redemption_log l JOIN promo p ON l.code = p.code::uuid;
SELECT codes.batch_del('twice');
SELECT count(*) AS stripes FROM codes.use_stripes s JOIN twice t ON s.code = t.code::uuid;
SELECT count(*) AS history FROM codes.redemption_log l JOIN twice t ON l.code = t.code::uuid;

DROP EXTENSION codes;
DROP FUNCTION rows_read(regclass);
