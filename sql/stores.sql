--
-- Codes are unique across all batches whatever their stores and keys: a
-- plain and a hashed batch, or hashed batches under two keys, never hand
-- out the same text.  A pattern whose codes are used up is refused at
-- once, and a trigger on codes.codes that skips new codes is an error.
--
CREATE EXTENSION codes;
\set VERBOSITY terse

-- small keyspaces on purpose (the guard would refuse them)
SET codes.max_guess_chance = 1;
-- before the fixes, some of these looped forever
SET statement_timeout = '10s';

-- 480 plain and 480 hashed codes of 'Z##', which has 961
CREATE TEMP TABLE z (store text, code text);
INSERT INTO z SELECT 'plain', code
FROM codes.code_gen(480, NULL, NULL, pattern => 'Z##', batch => 'z plain') AS code;
INSERT INTO z SELECT 'hmac', code
FROM codes.code_gen(480, NULL, NULL, pattern => 'Z##', store => 'hmac',
					batch => 'z hmac') AS code;
SELECT count(*) AS codes, count(DISTINCT code) AS texts FROM z;
-- no text is in two batches
SELECT count(*) AS texts_twice FROM (SELECT code FROM z GROUP BY code HAVING count(*) > 1) s;
-- every code answers UNACTIVED, and each can be used
SELECT store, codes.code_query(code) AS status, count(*) FROM z GROUP BY 1, 2 ORDER BY 1, 2;
SELECT store, codes.code_use(code) AS use, count(*) FROM z GROUP BY 1, 2 ORDER BY 1, 2;

-- the same with hashed batches under two keys
SET codes.key_file = '/tmp/codes_regress_key_a';
CREATE TEMP TABLE y (store text, code text);
INSERT INTO y SELECT 'key a', code
FROM codes.code_gen(480, NULL, NULL, pattern => 'Y##', store => 'hmac',
					batch => 'y key a') AS code;
SET codes.key_file = '/tmp/codes_regress_key_b';
SET codes.old_key_files = '/tmp/codes_regress_key_a';
INSERT INTO y SELECT 'key b', code
FROM codes.code_gen(480, NULL, NULL, pattern => 'Y##', store => 'hmac',
					batch => 'y key b') AS code;
SELECT count(DISTINCT b.key_id) AS keys FROM codes.batch b WHERE b.name LIKE 'y %';
SELECT count(*) AS texts_twice FROM (SELECT code FROM y GROUP BY code HAVING count(*) > 1) s;
SELECT store, codes.code_use(code) AS use, count(*) FROM y GROUP BY 1, 2 ORDER BY 1, 2;

-- two patterns that share a text: 'KA#' and 'K#B' can both make 'KAB'.
-- With all 31 codes of 'KA#' hashed, 'K#B' has only 30 codes left: 31 are
-- refused, 30 are made, and none of them is 'KAB'.
CREATE TEMP TABLE ab (store text, code text);
INSERT INTO ab SELECT 'hmac', code
FROM codes.code_gen(31, NULL, NULL, pattern => 'KA#', store => 'hmac') AS code;
\set VERBOSITY default
SELECT count(*) FROM codes.code_gen(31, NULL, NULL, pattern => 'K#B');
\set VERBOSITY terse
\echo :LAST_ERROR_SQLSTATE
INSERT INTO ab SELECT 'plain', code
FROM codes.code_gen(30, NULL, NULL, pattern => 'K#B') AS code;
SELECT count(*) AS codes, count(DISTINCT code) AS texts,
	   count(*) FILTER (WHERE store = 'plain' AND code = 'KAB') AS plain_kab FROM ab;
SELECT store, codes.code_use(code) AS use, count(*) FROM ab GROUP BY 1, 2 ORDER BY 1, 2;

-- without the key of a hashed batch of the same shape, the new codes
-- cannot be checked against its codes (which cannot be looked up either):
-- made, with a warning naming the key
SET codes.old_key_files = '';
\set VERBOSITY default
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, pattern => 'Z##');
\set VERBOSITY terse
SELECT count(*) AS batches FROM codes.batch WHERE pattern = 'Z##';
-- other shapes are not affected
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, pattern => 'X##');
SELECT count(*) FROM codes.code_gen(1, NULL, NULL);
SET codes.old_key_files = '/tmp/codes_regress_key_a';

-- a used-up keyspace: 'Q#' has 31 codes; once they exist, one more is
-- refused at once, naming the numbers; the same from another store
SELECT count(*) FROM codes.code_gen(31, NULL, NULL, pattern => 'Q#', batch => 'q');
\set VERBOSITY default
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, pattern => 'Q#');
\set VERBOSITY terse
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, pattern => 'q -#', store => 'hmac');
\echo :LAST_ERROR_SQLSTATE
-- room again once codes are deleted
SELECT codes.code_del(code) FROM (SELECT shown AS code FROM codes.codes
	WHERE batch = (SELECT id FROM codes.batch WHERE name = 'q') LIMIT 2) s;
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, pattern => 'Q#', store => 'hmac');
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, pattern => 'Q#');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS batches FROM codes.batch WHERE pattern ILIKE 'q%';

-- a trigger on codes.codes that skips new codes: an error, not a short
-- batch, and nothing is created
CREATE FUNCTION skip_codes() RETURNS trigger LANGUAGE plpgsql
AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER skip_codes BEFORE INSERT ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION skip_codes();
\set VERBOSITY default
SELECT count(*) FROM codes.code_gen(5, NULL, NULL, batch => 'skipped');
\set VERBOSITY terse
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.code_gen(5, NULL, NULL, pattern => 'GIFT-########',
									store => 'hmac', batch => 'skipped');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS batches FROM codes.batch WHERE name = 'skipped';
DROP TRIGGER skip_codes ON codes.codes;
DROP FUNCTION skip_codes();

RESET statement_timeout;
RESET codes.max_guess_chance;
RESET codes.key_file;
RESET codes.old_key_files;
DROP EXTENSION codes;
