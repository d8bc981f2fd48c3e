--
-- batch_generate: more codes in an existing batch, of its pattern and
-- store, as code_gen makes them; the guessing guard weighs the batch's
-- codes and the new ones together.
--
CREATE EXTENSION codes;
\set VERBOSITY default

-- a batch that code_gen made takes more codes (its name was a dead end)
CREATE TEMP TABLE beta AS SELECT code FROM codes.code_gen(3, NULL, NULL, batch => 'beta') AS code;
INSERT INTO beta SELECT code FROM codes.batch_generate('beta', 2) AS code;
SELECT count(*) AS codes, count(DISTINCT code) AS distinct_codes,
	   count(*) FILTER (WHERE code ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab]') AS v4_uuids
FROM beta;
SELECT issued FROM codes.batches WHERE name = 'beta';
SELECT codes.code_use(code), count(*) FROM beta GROUP BY 1;

-- a batch that batch_create made, of a pattern, multi-use
SELECT codes.batch_create('gift', NULL, NULL, pattern => 'GIFT-####-####-###^', max_uses => 2);
CREATE TEMP TABLE gift AS SELECT code FROM codes.batch_generate('gift', 5) AS code;
SELECT count(*) FILTER (WHERE codes.code_valid(code, 'GIFT-####-####-###^')) AS valid,
	   count(*) FILTER (WHERE code ~ '^GIFT-.{4}-.{4}-.{4}$') AS laid_out
FROM gift;
-- and chosen codes beside them
SELECT codes.code_add('gift', ARRAY['GIFT-VIP']);
SELECT count(*) FROM codes.batch_codes('gift');
SELECT code AS one FROM gift ORDER BY code LIMIT 1 \gset
SELECT codes.code_use(lower(:'one'), 'a'), codes.code_use(:'one', 'b'), codes.code_use(:'one', 'c');
SELECT codes.code_use('gift vip', 'a');
SELECT status, count(*) FROM codes.batch_codes('gift') GROUP BY 1 ORDER BY 1;
-- no pattern: UUIDs
SELECT codes.batch_create('uuids', NULL, NULL);
SELECT count(*) FILTER (WHERE code ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4') AS v4_uuids
FROM codes.batch_generate('uuids', 4) AS code;

-- bad arguments: code_gen's errors
SELECT codes.batch_generate(NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_generate('gift', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_generate('gift', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_generate('gift', 10000001);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_generate('no such batch', 1);
\echo :LAST_ERROR_SQLSTATE

-- the guard: 'T-###' makes 29,791 codes; at a chance of 1e-4 a batch may
-- have 2 of them.  Two calls cannot make a batch that one may not.
SET codes.max_guess_chance = 1e-4;
SELECT codes.batch_create('tiny', NULL, NULL, pattern => 'T-###');
SELECT count(*) FROM codes.batch_generate('tiny', 3);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.batch_generate('tiny', 2);
SELECT count(*) FROM codes.batch_generate('tiny', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT issued FROM codes.batches WHERE name = 'tiny';
-- the same for a batch code_gen made
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, pattern => 'U-###', batch => 'tiny too');
SELECT count(*) FROM codes.batch_generate('tiny too', 1);
\echo :LAST_ERROR_SQLSTATE
RESET codes.max_guess_chance;

-- a keyspace used up: 'Q#' has 31 codes
SET codes.max_guess_chance = 1;
SELECT count(*) FROM codes.code_gen(30, NULL, NULL, pattern => 'Q#', batch => 'q');
SELECT count(*) FROM codes.batch_generate('q', 2);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.batch_generate('q', 1);
SELECT issued FROM codes.batches WHERE name = 'q';
RESET codes.max_guess_chance;

-- a write: refused in a read-only transaction
BEGIN READ ONLY;
SELECT count(*) FROM codes.batch_generate('beta', 1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

DROP EXTENSION codes;
