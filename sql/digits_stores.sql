--
-- Codes of digits hashed at rest, and beside codes of "#": the digits 2 to
-- 9 are symbols of the alphabet too, so a pattern of "*" and one of "#"
-- can write the same text, and no text is handed out twice, whatever the
-- stores.  Needs the key file of sql_tests/make_keys.sh.
--
CREATE EXTENSION codes;
SET codes.key_file = '/tmp/codes_regress_key_a';

-- hashed phone codes: no text kept, found in any input form
CREATE TEMP TABLE h AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(100, NULL, NULL, pattern => '****-****-****-****-^', store => 'hmac',
					batch => 'hashed phone') AS code;
SELECT count(*) AS codes, count(*) FILTER (WHERE code ~ '^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]$') AS shaped,
	   count(*) FILTER (WHERE codes.code_query(replace(code, '-', ' ')) = 'UNACTIVED') AS found
FROM h;
SELECT count(*) AS rows, count(c.shown) AS texts_kept
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'hashed phone';
SELECT codes.code_use(replace(code, '-', ''), 'caller') FROM h WHERE n = 1;
SELECT codes.code_query(code) FROM h WHERE n = 1;

-- 'Q*' makes 10 codes, Q0 to Q9; then 23 hashed codes of 'Q#', which has
-- 31, can only be the 23 whose symbol is a letter: Q2 to Q9 are taken
SET codes.max_guess_chance = 1;
SELECT string_agg(code, ' ' ORDER BY code) AS plain_digits
FROM codes.code_gen(10, NULL, NULL, pattern => 'Q*', batch => 'q digits') AS code;
SELECT string_agg(code, ' ' ORDER BY code) AS hashed_symbols
FROM codes.code_gen(23, NULL, NULL, pattern => 'Q#', store => 'hmac', batch => 'q symbols') AS code;
SELECT codes.code_query('q5') AS digit_code, codes.code_query('qk') AS symbol_code,
	   codes.code_normalize('q 5') AS digit_normal, codes.code_normalize('q k') AS symbol_normal;

DROP EXTENSION codes;
