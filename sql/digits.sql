--
-- Codes of digits, for the phone and the keypad: in a pattern "*" is a
-- random digit (0 to 9), and the "^" of a pattern of digits only is a
-- check digit (the Damm algorithm), which catches every single mistyped
-- digit and every swap of two neighbouring different digits.  A pattern
-- that mixes "#" and "*" keeps the check symbol of the alphabet, over all
-- its random symbols.  The keyspace guard counts 10 codes for each "*".
-- Only counts are shown, so the output does not depend on the codes.
--
CREATE EXTENSION codes;

-- 10,000 phone codes: 17 random digits and a check digit
CREATE TEMP TABLE phone AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(10000, NULL, NULL, pattern => '***-***-***-***-***-**^',
					batch => 'phone') AS code;
SELECT count(*) AS codes, count(DISTINCT code) AS distinct_codes,
	   count(*) FILTER (WHERE code ~ '^[0-9]{3}-[0-9]{3}-[0-9]{3}-[0-9]{3}-[0-9]{3}-[0-9]{3}$') AS shaped,
	   count(*) FILTER (WHERE codes.code_valid(code, '***-***-***-***-***-**^')) AS valid
FROM phone;

-- every digit turns up at every place, 0 and 1 included, check digit too
SELECT count(DISTINCT (i, substr(replace(code, '-', ''), i, 1))) AS places_times_digits
FROM phone, generate_series(1, 18) i;

-- every substitution of one digit by another, on all 10,000 codes, in the
-- canonical form (code_valid reads input as code_use does)
CREATE TEMP TABLE c AS SELECT replace(code, '-', '') AS code FROM phone;
SELECT count(*) AS substitutions,
	   count(*) FILTER (WHERE codes.code_valid(overlay(c.code placing x::text from i for 1),
											   '*****************^')) AS undetected
FROM c, generate_series(1, 18) i, generate_series(0, 9) x
WHERE substr(c.code, i, 1) <> x::text;

-- every swap of two neighbouring different digits, the check digit's too
SELECT count(*) > 150000 AS many_swaps,
	   count(*) FILTER (WHERE codes.code_valid(overlay(c.code placing substr(c.code, i + 1, 1) || substr(c.code, i, 1) from i for 2),
											   '*****************^')) AS undetected
FROM c, generate_series(1, 17) i
WHERE substr(c.code, i, 1) <> substr(c.code, i + 1, 1);

-- All of it, for every code: every text of four digits against '***^'.
-- Exactly one check digit completes any three digits; no substitution or
-- swap of a valid text is valid.  Three digits lead to every state of the
-- algorithm before each digit pair, so this covers every case there is,
-- whatever the length.
CREATE TEMP TABLE four AS
SELECT lpad(n::text, 4, '0') AS s, codes.code_valid(lpad(n::text, 4, '0'), '***^') AS valid
FROM generate_series(0, 9999) n;
SELECT count(*) FILTER (WHERE valid) AS valid,
	   count(DISTINCT left(s, 3)) FILTER (WHERE valid) AS completed
FROM four;
SELECT count(*) AS substitutions,
	   count(*) FILTER (WHERE codes.code_valid(overlay(s placing x::text from i for 1), '***^')) AS undetected
FROM four, generate_series(1, 4) i, generate_series(0, 9) x
WHERE valid AND substr(s, i, 1) <> x::text;
SELECT count(*) AS swaps,
	   count(*) FILTER (WHERE codes.code_valid(overlay(s placing substr(s, i + 1, 1) || substr(s, i, 1) from i for 2), '***^')) AS undetected
FROM four, generate_series(1, 3) i
WHERE valid AND substr(s, i, 1) <> substr(s, i + 1, 1);

-- they work like any code, in any input form
SELECT codes.code_query(code) AS as_given,
	   codes.code_query(replace(code, '-', '')) AS digits_only,
	   codes.code_query(replace(code, '-', ' ')) AS spaces,
	   codes.code_normalize(replace(code, '-', '')) = code AS normalized
FROM phone WHERE n = 1;
SELECT codes.code_use(replace(code, '-', ' '), 'caller-1') FROM phone WHERE n = 1;
SELECT codes.code_query(replace(code, '-', '')) FROM phone WHERE n = 1;
SELECT codes.code_del(replace(code, '-', '')) FROM phone WHERE n = 2;
SELECT codes.code_query(code) FROM phone WHERE n = 2;
-- an O for a 0 or an l for a 1 is not read as the digit: a miss
SELECT codes.code_query(translate(code, '01', 'Ol')) AS look_alikes
FROM (SELECT code FROM phone WHERE n > 4 AND code ~ '[01]' ORDER BY n LIMIT 1) s;

-- a wrong check digit answers without an index look-up
CREATE TEMP TABLE typo AS
SELECT left(code, -1) || ((right(code, 1)::int + 1) % 10)::text AS code
FROM phone WHERE n = 4;
BEGIN;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) AS scans \gset
SELECT codes.code_query(code), codes.code_use(code, 'typo') FROM typo;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
COMMIT;

--
-- Patterns that mix "#" and "*": a symbol of the alphabet for each "#", a
-- digit for each "*", and a check symbol of the alphabet over all of them
-- (a digit is worth 0 to 9 at a "*").
--
CREATE TEMP TABLE mixed AS
SELECT code FROM codes.code_gen(1000, NULL, NULL, pattern => 'GIFT-####-****-####-****-^') AS code;
SELECT count(*) AS codes,
	   count(*) FILTER (WHERE code ~ '^GIFT-[2-9A-HJKMNP-Z]{4}-[0-9]{4}-[2-9A-HJKMNP-Z]{4}-[0-9]{4}-[2-9A-HJKMNP-Z]$') AS shaped,
	   count(*) FILTER (WHERE codes.code_valid(code, 'GIFT-####-****-####-****-^')) AS valid,
	   count(*) FILTER (WHERE codes.code_query(lower(replace(code, '-', ''))) = 'UNACTIVED') AS found
FROM mixed;
CREATE TEMP TABLE m AS SELECT substr(replace(code, '-', ''), 5) AS code FROM mixed;
-- every substitution: of a symbol of the alphabet at a "#" and at the
-- check, of a digit at a "*"
SELECT count(*) AS substitutions,
	   count(*) FILTER (WHERE codes.code_valid(overlay(m.code placing s from i for 1), '####****####****^')) AS undetected
FROM m, generate_series(1, 17) i,
	 LATERAL (SELECT substr(CASE WHEN (i - 1) / 4 IN (1, 3) THEN '0123456789'
								 ELSE '23456789ABCDEFGHJKMNPQRSTUVWXYZ' END, k, 1) AS s
			  FROM generate_series(1, 31) k) a
WHERE s <> '' AND substr(m.code, i, 1) <> s;
-- every swap of neighbours; where a "#" meets a "*" and both are digits 2
-- to 9, the swapped text has the shape, and only the check catches it
SELECT count(*) > 15000 AS many_swaps,
	   count(*) FILTER (WHERE sw ~ '^[2-9A-HJKMNP-Z]{4}[0-9]{4}[2-9A-HJKMNP-Z]{4}[0-9]{4}[2-9A-HJKMNP-Z]$'
						  AND i IN (4, 8, 12, 16)) > 500 AS many_shaped_across_kinds,
	   count(*) FILTER (WHERE codes.code_valid(sw, '####****####****^')) AS undetected
FROM (SELECT i, overlay(m.code placing substr(m.code, i + 1, 1) || substr(m.code, i, 1) from i for 2) AS sw
	  FROM m, generate_series(1, 16) i
	  WHERE substr(m.code, i, 1) <> substr(m.code, i + 1, 1)) s;

--
-- The keyspace: 31 codes for each "#" times 10 for each "*".  1,000 codes
-- of digits need 15 random digits.
--
SELECT count(*) FROM codes.code_gen(1000, NULL, NULL, pattern => '**************');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.code_gen(1000, NULL, NULL, pattern => '***************');
SELECT count(*) FROM codes.code_gen(1000, NULL, NULL, pattern => '####-*****');
\echo :LAST_ERROR_SQLSTATE

-- Text of 32 hex digits is read as a UUID, so no code of a pattern reads
-- as one.  A pattern all of whose codes would is refused; where only some
-- would, the keyspace leaves them out: one "#" after 31 literal hex digits
-- makes 17 codes (the 14 hex digits of the alphabet are left out).
SELECT codes.code_gen(1, NULL, NULL, pattern => repeat('*', 32));
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => 'AB' || repeat('*', 29) || '^');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_valid(repeat('1', 32), repeat('*', 32));
\echo :LAST_ERROR_SQLSTATE
SELECT length(code) FROM codes.code_gen(1, NULL, NULL, pattern => 'G' || repeat('*', 31)) AS code;
SET codes.max_guess_chance = 1;
SELECT count(*) AS codes, count(*) FILTER (WHERE right(code, 1) ~ '[G-Z]') AS not_hex
FROM codes.code_gen(17, NULL, NULL, pattern => 'ABCDEF0123456789ABCDEF012345678#', batch => 'uuid-like') AS code;
SELECT codes.code_gen(1, NULL, NULL, pattern => 'ABCDEF0123456789ABCDEF012345678#');
\echo :LAST_ERROR_SQLSTATE
RESET codes.max_guess_chance;

--
-- Where "^" may stand: after every random symbol, with literals after it
-- if wanted.
--
CREATE TEMP TABLE suffix AS
SELECT code FROM codes.code_gen(3, NULL, NULL, pattern => 'AB-############^-XY') AS code;
SELECT count(*) FILTER (WHERE code ~ '^AB-[2-9A-HJKMNP-Z]{13}-XY$') AS shaped,
	   count(*) FILTER (WHERE codes.code_valid(code, 'AB-############^-XY')) AS valid,
	   count(*) FILTER (WHERE codes.code_query(lower(code)) = 'UNACTIVED') AS found,
	   count(*) FILTER (WHERE codes.code_valid(overlay(code placing
					   CASE substr(code, 16, 1) WHEN '2' THEN '3' ELSE '2' END from 16 for 1),
					   'AB-############^-XY')) AS wrong_check_valid
FROM suffix;
SELECT length(code) FROM codes.code_gen(1, NULL, NULL, pattern => '****-****-****-**^ (PIN)') AS code;

-- a check digit covers any number of digits; a check symbol 29 random
-- symbols, digits or not
SELECT length(code) FROM codes.code_gen(1, NULL, NULL, pattern => repeat('*', 60) || '^') AS code;
SELECT codes.code_gen(1, NULL, NULL, pattern => repeat('#', 15) || repeat('*', 15) || '^');
\echo :LAST_ERROR_SQLSTATE

-- malformed patterns: 22023, nothing created
SELECT count(*) AS batches_before FROM codes.batch;
SELECT codes.code_gen(1, NULL, NULL, pattern => '************^*');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => '######^-####');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => '*^^');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, pattern => 'PIN-^');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS batches_after FROM codes.batch;

DROP EXTENSION codes;

--
-- An update from 1.2, which read "*" as a literal, is refused while a
-- batch has a pattern with "*", and goes through once it is gone.
--
CREATE EXTENSION codes VERSION '1.2';
INSERT INTO codes.batch (name, pattern) VALUES
	('starry', 'STAR*-############'), ('plain', NULL), ('gift', 'GIFT-####-####-###^');
-- (without the CONTEXT lines, which PostgreSQL 18 extends with the
-- script's statement and line)
\set SHOW_CONTEXT never
ALTER EXTENSION codes UPDATE TO '1.3';
\set SHOW_CONTEXT errors
\echo :LAST_ERROR_SQLSTATE
SELECT extversion FROM pg_extension WHERE extname = 'codes';
DELETE FROM codes.batch WHERE name = 'starry';
ALTER EXTENSION codes UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'codes';

DROP EXTENSION codes;
