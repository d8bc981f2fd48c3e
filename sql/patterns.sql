--
-- Human-friendly codes: patterns, the unambiguous alphabet, check symbols.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE gift AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(1000, NULL, NULL, pattern => 'GIFT-####-####-###^',
					batch => 'gift') AS code;

-- codes come back upper case, laid out as the pattern says, from the
-- 31-symbol alphabet (no 0/O, 1/I/L), all different
SELECT count(*) AS codes, count(DISTINCT code) AS distinct_codes,
	   count(*) FILTER (WHERE code ~ '^GIFT-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$') AS shaped
FROM gift;

-- every symbol of the alphabet turns up, and nothing else
SELECT string_agg(ch, '' ORDER BY ch) AS symbols_seen
FROM (SELECT DISTINCT substr(replace(substr(code, 6), '-', ''), i, 1) AS ch
	  FROM gift, generate_series(1, 12) i) s;

-- stored once each, with the text as handed out
SELECT count(*) AS stored, count(*) FILTER (WHERE c.shown = g.code) AS shown_as_given
FROM codes.codes c JOIN gift g ON c.shown = g.code;

-- they work like any code, in any input form
SELECT codes.code_query(code), codes.code_use(code, 'p1') FROM gift WHERE n = 1;
SELECT codes.code_use(lower(replace(code, '-', ' ')), 'p2'),
	   codes.code_query(lower(code)), codes.code_query(replace(code, '-', ''))
FROM gift WHERE n = 1;
SELECT codes.code_query('  ' || lower(regexp_replace(code, '(.)', '\1 ', 'g'))) FROM gift WHERE n = 2;
SELECT codes.code_del(replace(code, '-', '')) FROM gift WHERE n = 3;
SELECT codes.code_query(code) FROM gift WHERE n = 3;

-- code_valid: shape and check symbol, no table needed
SELECT codes.code_valid(code, 'GIFT-####-####-###^') AS valid, count(*) FROM gift GROUP BY 1;
SELECT codes.code_valid(lower(replace(code, '-', ' ')), 'gift-####-####-###^') FROM gift WHERE n = 4;
SELECT codes.code_valid(code, 'GIFT-####-####-####') AS without_check,
	   codes.code_valid(code, 'SHOP-####-####-###^') AS other_prefix,
	   codes.code_valid(code || 'X', 'GIFT-####-####-###^') AS too_long,
	   codes.code_valid(left(code, -1), 'GIFT-####-####-###^') AS too_short,
	   codes.code_valid(overlay(code placing '0' from 6 for 1), 'GIFT-####-####-###^') AS zero,
	   codes.code_valid(overlay(code placing 'Ä' from 6 for 1), 'GIFT-####-####-###^') AS non_ascii
FROM gift WHERE n = 4;
SELECT codes.code_valid(NULL, 'GIFT-#') IS NULL AS null_code,
	   codes.code_valid('GIFT-2', NULL) IS NULL AS null_pattern;

-- a wrong check symbol answers without an index look-up (index scans are
-- counted within one transaction)
CREATE TEMP TABLE typo AS
SELECT overlay(code placing CASE WHEN right(code, 1) = '2' THEN '3' ELSE '2' END
			   from length(code) for 1) AS code
FROM gift WHERE n = 5;
BEGIN;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) AS scans \gset
SELECT codes.code_query(code), codes.code_use(code, 'typo') FROM typo;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
SELECT codes.code_query(code) FROM gift WHERE n = 5;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
-- so does text of no pattern's shape
SELECT codes.code_query('GIFT-2345'), codes.code_query('NOPE-2345-6789-ABCD');
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
COMMIT;

-- patterns without a check symbol, literals of any case, several patterns
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, pattern => 'vip.###########', batch => 'vip');
SELECT code ~ '^VIP\.[2-9A-HJKMNP-Z]{11}$' AS shaped, codes.code_query(lower(code)) AS status
FROM codes.batch_codes('vip') LIMIT 1;
SELECT b.code = g.code AS listed_as_given, b.status
FROM codes.batch_codes('gift') b JOIN gift g ON g.code = b.code WHERE g.n = 1;
SELECT count(*) AS history FROM codes.redemptions r JOIN gift g ON r.code = g.code;

-- UUID codes keep working beside them
SELECT codes.code_use(code) FROM codes.code_gen(1, NULL, NULL) AS code;

-- the keyspace guard: one guess must match one of a batch's codes with a
-- chance below codes.max_guess_chance (1e-12): 1,000 codes need 11 random
-- symbols, a million 13
SHOW codes.max_guess_chance;
SELECT count(*) FROM codes.code_gen(1000, NULL, NULL, pattern => '##########');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.code_gen(1000, NULL, NULL, pattern => '###########');
SELECT count(*) FROM codes.code_gen(1000000, NULL, NULL, pattern => '############');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, pattern => 'GIFT-####');
\echo :LAST_ERROR_SQLSTATE

-- with a looser limit, a batch far too large for its pattern still comes
-- back complete and unique: colliding codes are drawn again
SET codes.max_guess_chance = 1;
SELECT count(*) AS codes, count(DISTINCT code) AS distinct_codes
FROM codes.code_gen(5000, NULL, NULL, pattern => 'S-###', batch => 'small') AS code;
SELECT count(*) AS stored FROM codes.batch_codes('small');
RESET codes.max_guess_chance;

-- malformed patterns: 22023, nothing created
SELECT count(*) AS batches_before FROM codes.batch;
SELECT codes.code_gen(1, NULL, NULL, pattern => 'GIFT');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => '');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => '######^#####');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => '###########^^');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => repeat('#', 65));
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => repeat('#', 30) || '^');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => 'CAFÉ-############');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => E'TAB\t############');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_valid('X', 'no random symbol');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS batches_after FROM codes.batch;

-- the limits themselves are allowed
SELECT length(code) FROM codes.code_gen(1, NULL, NULL, pattern => repeat('#', 64)) AS code;
SELECT length(code) FROM codes.code_gen(1, NULL, NULL, pattern => repeat('#', 29) || '^') AS code;

DROP EXTENSION codes;
