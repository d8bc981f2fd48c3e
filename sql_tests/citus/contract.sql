--
-- The contract, as sql_tests/citus.sh runs it twice: in a database of one
-- plain node and on a Citus coordinator whose tables codes.distribute()
-- has distributed.  The two outputs must be the same.  Prints no code and
-- no time: only what both must answer alike.
--
SET timezone = 'UTC';
\set VERBOSITY terse

-- every kind of batch; the codes go into a temporary table (local to the
-- coordinator, so that the functions below run there)
CREATE TEMP TABLE c AS
SELECT b.name, row_number() OVER (PARTITION BY b.name ORDER BY g.code) AS n, g.code
FROM (VALUES ('uuid', NULL::timestamptz, NULL::timestamptz, NULL, 'plain', 1, NULL::integer, NULL::jsonb),
			 ('gift', NULL, '2100-01-01', 'GIFT-####-####-###^', 'plain', 1, NULL, '{"discount": 10}'),
			 ('hashed', NULL, NULL, NULL, 'hmac', 1, NULL, NULL),
			 ('hashed pattern', NULL, NULL, 'HASH-####-####-###^', 'hmac', 1, NULL, NULL),
			 ('multi', NULL, NULL, NULL, 'plain', 3, NULL, '{"shipping": "free"}'),
			 ('per redeemer', NULL, NULL, 'SHR-####-####-###^', 'plain', 4, 1, NULL),
			 ('future', '2100-01-01', NULL, NULL, 'plain', 1, NULL, NULL),
			 ('expired', '2000-01-01', '2000-12-31', NULL, 'plain', 1, NULL, NULL))
	 AS b(name, valid_from, valid_until, pattern, store, max_uses, per_redeemer, metadata),
	 LATERAL codes.code_gen(20, b.valid_from, b.valid_until, pattern => b.pattern,
							max_uses => b.max_uses, max_uses_per_redeemer => b.per_redeemer,
							store => b.store, batch => b.name, metadata => b.metadata) AS g(code);
SELECT name, count(*) FROM c GROUP BY name ORDER BY name;
SELECT name, pattern, key_id IS NOT NULL AS hashed, max_uses, max_uses_per_redeemer,
	   issued, used_up, uses_left, metadata, state
FROM codes.batches ORDER BY name;
-- a batch's name is its own
SELECT codes.code_gen(1, NULL, NULL, batch => 'gift');
\echo :LAST_ERROR_SQLSTATE

-- query before any use
SELECT c.name, codes.code_query(c.code), count(*) FROM c GROUP BY 1, 2 ORDER BY 1, 2;

-- first uses, in any input form of a patterned code
SELECT c.name, codes.code_use(CASE WHEN c.n % 2 = 0 THEN lower(replace(c.code, '-', ' ')) ELSE c.code END, 'r' || c.n) AS answer,
	   count(*)
FROM c WHERE c.n <= 10 GROUP BY 1, 2 ORDER BY 1, 2;
-- second uses: only multi-use codes have uses left, per redeemer limits hold
SELECT c.name, codes.code_use(c.code, 'r' || c.n) AS answer, count(*)
FROM c WHERE c.n <= 10 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT c.name, codes.code_use(c.code, 'other' || c.n) AS answer, count(*)
FROM c WHERE c.n <= 10 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT c.name, codes.code_query(c.code), count(*) FROM c GROUP BY 1, 2 ORDER BY 1, 2;
SELECT c.name, codes.code_query(c.code, 'r' || c.n), count(*) FROM c
WHERE c.name = 'per redeemer' GROUP BY 1, 2 ORDER BY 1, 2;

-- why a use fails, and what a code grants
SELECT c.name, r.ok, r.reason, r.batch, r.metadata, r.uses_left, r.valid_until
FROM c, codes.code_redeem(c.code, 'redeemer') r WHERE c.n = 11 ORDER BY c.name;
SELECT c.name, r.ok, r.reason, r.batch, r.metadata, r.uses_left, r.valid_until
FROM c, codes.code_redeem(c.code, 'redeemer') r WHERE c.n = 11 ORDER BY c.name;
SELECT c.name, k.ok, k.reason, k.batch, k.uses_left
FROM c, codes.code_check(c.code, 'redeemer') k WHERE c.n IN (11, 12) ORDER BY c.name, c.n;
SELECT * FROM codes.code_redeem('8c9f4e3a-6b1d-4f0e-9a7c-2d5e8b1f3c6a', 'nobody');
SELECT codes.code_use('not a code at all', 'nobody');
SELECT codes.code_use(NULL);
\echo :LAST_ERROR_SQLSTATE

-- normal form
SELECT c.name, codes.code_normalize(lower(c.code)) = c.code AS same, count(*)
FROM c WHERE c.n <= 2 GROUP BY 1, 2 ORDER BY 1, 2;

-- a use rolls back with the caller's transaction
BEGIN;
SELECT codes.code_use(c.code) FROM c WHERE c.name = 'uuid' AND c.n = 13;
ROLLBACK;
SELECT codes.code_query(c.code) FROM c WHERE c.name = 'uuid' AND c.n = 13;

-- undo gives a use back
SELECT c.name, codes.code_undo(c.code, 'r' || c.n) AS undone, count(*)
FROM c WHERE c.n IN (1, 2) GROUP BY 1, 2 ORDER BY 1, 2;
SELECT c.name, codes.code_query(c.code), count(*) FROM c WHERE c.n IN (1, 2)
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT c.name, codes.code_use(c.code, 'again') AS answer, count(*)
FROM c WHERE c.n IN (1, 2) GROUP BY 1, 2 ORDER BY 1, 2;

-- history of multi-use codes
SELECT batch, redeemer IS NOT NULL AS has_redeemer, undone_at IS NOT NULL AS undone, count(*)
FROM codes.redemptions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- batch admin: extend, revoke (a second time keeps the first), unrevoke,
-- metadata, the codes of a batch
SELECT codes.batch_extend('gift', '2100-06-01');
SELECT codes.batch_extend('future', '2000-06-01');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_extend('expired', NULL);
SELECT codes.code_use(c.code) AS answer, count(*) FROM c WHERE c.name = 'expired' AND c.n = 14 GROUP BY 1;
SELECT codes.batch_revoke('gift'), codes.batch_revoke('gift');
SELECT codes.code_use(c.code) AS answer, count(*) FROM c WHERE c.name = 'gift' AND c.n = 14 GROUP BY 1;
SELECT codes.batch_unrevoke('gift');
SELECT codes.code_use(c.code) AS answer, count(*) FROM c WHERE c.name = 'gift' AND c.n = 15 GROUP BY 1;
SELECT codes.batch_set_metadata('multi', '{"shipping": "express"}');
SELECT r.metadata FROM c, codes.code_redeem(c.code) r WHERE c.name = 'multi' AND c.n = 16;
SELECT b.status, b.uses, count(*), count(*) FILTER (WHERE b.code IN (SELECT code FROM c)) AS ours
FROM codes.batch_codes('gift') b GROUP BY 1, 2 ORDER BY 1, 2;
SELECT b.code IS NULL AS hidden, b.status, count(*)
FROM codes.batch_codes('hashed') b GROUP BY 1, 2 ORDER BY 1, 2;
SELECT codes.batch_codes('nope');
\echo :LAST_ERROR_SQLSTATE

-- changing a batch's rules: a cap lowered below the uses made, then none;
-- single-use codes made multi-use (their uses move into the history),
-- limited per redeemer across the batch; a limit per code; a start
SELECT codes.batch_set_max_uses('multi', 2);
SELECT b.state, b.uses, count(*) FROM codes.batch_codes('multi') b GROUP BY 1, 2 ORDER BY 1, 2;
SELECT codes.code_use(c.code, 'after') AS answer, count(*) FROM c WHERE c.name = 'multi' GROUP BY 1 ORDER BY 1;
SELECT codes.batch_set_max_uses('multi', NULL);
SELECT codes.batch_set_max_uses('uuid', 2);
SELECT codes.batch_set_max_batch_uses_per_redeemer('uuid', 1);
SELECT codes.batch_set_max_uses_per_redeemer('per redeemer', 2);
SELECT codes.batch_set_valid_from('gift', '2000-01-01');
SELECT codes.batch_set_max_uses('multi', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT c.name, codes.code_use(c.code, 'r' || c.n) AS answer, count(*)
FROM c WHERE c.name IN ('uuid', 'per redeemer') AND c.n <= 12 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT name, max_uses, max_uses_per_redeemer, max_batch_uses_per_redeemer, valid_from,
	   issued, used_up, uses_left, uses
FROM codes.batches ORDER BY name;
SELECT batch, redeemer IS NOT NULL AS has_redeemer, undone_at IS NOT NULL AS undone, count(*)
FROM codes.redemptions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- delete a code, a batch, the ended batches
SELECT codes.code_del(c.code) AS deleted, count(*) FROM c WHERE c.name = 'uuid' AND c.n > 15 GROUP BY 1;
SELECT codes.code_query(c.code), count(*) FROM c WHERE c.name = 'uuid' AND c.n > 15 GROUP BY 1;
SELECT codes.batch_del('future');
SELECT codes.batch_purge('2001-01-01', dry_run => true);
SELECT codes.batch_extend('expired', '2000-12-31');
SELECT codes.batch_purge('2001-01-01');
SELECT name, issued, used_up, uses_left, state FROM codes.batches ORDER BY name;
SELECT (SELECT count(*) FROM codes.codes) AS codes, (SELECT count(*) FROM codes.batch) AS batches,
	   (SELECT count(*) FROM codes.redemption_log) AS history;

-- 1.3: codes used by many (no total limit, a limit across the batch),
-- holds and references, one code at a time; the temporary table keeps
-- the calls on the coordinator
CREATE TEMP TABLE d AS
SELECT 'promo' AS name, row_number() OVER (ORDER BY code) AS n, code
FROM codes.code_gen(2, NULL, NULL, max_uses => NULL, max_uses_per_redeemer => 1,
					batch => 'promo') AS code
UNION ALL
SELECT 'campaign', row_number() OVER (ORDER BY code), code
FROM codes.code_gen(3, NULL, NULL, max_uses => 2, max_batch_uses_per_redeemer => 1,
					batch => 'campaign') AS code
UNION ALL
SELECT 'cart', row_number() OVER (ORDER BY code), code
FROM codes.code_gen(3, NULL, NULL, max_uses => 2, batch => 'cart') AS code;
SELECT d.name, d.n, u.r, codes.code_use(d.code, u.r)
FROM d, unnest(ARRAY['r1', 'r1', 'r2']) WITH ORDINALITY AS u(r, k)
WHERE d.name IN ('promo', 'campaign') AND d.n <= 2 ORDER BY d.name, d.n, u.k;
SELECT d.name, d.n, r.ok, r.reason, r.uses_left
FROM d, codes.code_redeem(d.code, 'r1') AS r WHERE d.name <> 'cart' ORDER BY d.name, d.n;
SELECT d.name, d.n, k.ok, k.reason, k.uses_left
FROM d, codes.code_check(d.code, 'r3') AS k ORDER BY d.name, d.n;
-- a hold, confirmed; another, released; an undo by reference
SELECT h.hold AS hold1, h.ok AS ok1, coalesce(h.reason, '-') AS reason1, h.uses_left AS left1
FROM d, codes.code_hold(d.code, 'h1', interval '1 hour', 'order-1', '{"total": 10}') AS h
WHERE d.name = 'cart' AND d.n = 1 \gset
SELECT h.hold AS hold2, h.ok AS ok2, coalesce(h.reason, '-') AS reason2
FROM d, codes.code_hold(d.code, 'h2', interval '1 hour', 'order-2') AS h
WHERE d.name = 'cart' AND d.n = 1 \gset
\echo :ok1 :reason1 :left1 :ok2 :reason2
SELECT h.ok, h.reason FROM d, codes.code_hold(d.code, 'h3', interval '1 hour') AS h
WHERE d.name = 'cart' AND d.n = 1;
SELECT redeemer, reference, live FROM codes.holds ORDER BY redeemer;
SELECT c.ok, c.reason FROM d, codes.hold_confirm(d.code, :hold1) AS c
WHERE d.name = 'cart' AND d.n = 1;
SELECT codes.hold_release(d.code, :hold2) FROM d WHERE d.name = 'cart' AND d.n = 1;
SELECT r.ok, r.reason FROM d, codes.code_redeem(d.code, 'h3', 'order-3') AS r
WHERE d.name = 'cart' AND d.n = 1;
SELECT codes.undo_reference('order-1');
SELECT batch, redeemer, reference, details, undone_at IS NOT NULL AS undone
FROM codes.redemptions WHERE batch = 'cart' ORDER BY redeemer;
SELECT redeemer, reference, live FROM codes.holds ORDER BY redeemer;
-- one code at a time
SELECT codes.code_deactivate(d.code) FROM d WHERE d.name = 'cart' AND d.n = 2;
SELECT r.ok, r.reason FROM d, codes.code_redeem(d.code, 'x') AS r WHERE d.name = 'cart' AND d.n = 2;
SELECT codes.code_query(d.code) FROM d WHERE d.name = 'cart' AND d.n = 2;
SELECT codes.code_reactivate(d.code) FROM d WHERE d.name = 'cart' AND d.n = 2;
SELECT codes.code_bind(d.code, 'only'), codes.code_set_metadata(d.code, '{"gift": true}')
FROM d WHERE d.name = 'cart' AND d.n = 3;
SELECT u.r, x.ok, x.reason, x.code_metadata
FROM d, unnest(ARRAY['other', 'only']) WITH ORDINALITY AS u(r, k), codes.code_redeem(d.code, u.r) AS x
WHERE d.name = 'cart' AND d.n = 3 ORDER BY u.k;
SELECT name, max_uses, max_uses_per_redeemer, max_batch_uses_per_redeemer, issued, used_up,
	   uses_left, uses
FROM codes.batches WHERE name IN ('promo', 'campaign', 'cart') ORDER BY name;
SELECT b.status, b.uses, b.used_by IS NOT NULL AS by_someone, count(*)
FROM codes.batch_codes('campaign') b GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- codes the merchant chooses and imports (code_add), plain and hashed,
-- with uses so far; a clash refuses the call whole, through SQL as
-- directly; more codes generated into a batch
SELECT codes.batch_create('chosen', NULL, NULL, max_uses => 3);
SELECT codes.code_add('chosen', ARRAY['SUMMER-20', 'Black Friday', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'],
					  ARRAY[0, 3, 1]);
SELECT codes.code_add('chosen', ARRAY['NEW', 'summer20', 'x', 'X']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('chosen hashed', NULL, NULL, store => 'hmac');
SELECT codes.code_add('chosen hashed', ARRAY['VIP', 'black friday']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('chosen hashed', ARRAY['VIP']);
SELECT codes.code_use('summer 20', 'a'), codes.code_use('BLACKFRIDAY'),
	   codes.code_query('6BA7B810 9DAD 11D1 80B4 00C04FD430C8'), codes.code_use('vip');
SELECT code, status, uses FROM codes.batch_codes('chosen') ORDER BY code;
SELECT count(*) FROM codes.batch_generate('chosen', 5);
SELECT codes.code_del('vip'), codes.code_normalize('black friday');
SELECT codes.code_query('vip');
SELECT name, issued, used_up, uses_left FROM codes.batches WHERE name LIKE 'chosen%' ORDER BY name;
