--
-- Hostile input.  Over 10,000 generated inputs go to code_query, code_use
-- and code_del: random Unicode, invalid-looking UUIDs, near misses of real
-- codes (one digit changed, dropped, added, swapped, upper-cased), every
-- ASCII control character, escapes, quotes and backslashes, combining
-- marks, look-alike digits and separators, megabyte strings.  Hostile batch
-- names go to code_gen and hostile redeemers to code_use.  Only documented
-- answers come back, and nothing changes that should not.  The inputs come
-- from setseed(), and only counts are shown, so the output does not depend
-- on the codes.
--
CREATE EXTENSION codes;

SELECT count(*) FROM codes.code_gen(200, now() - interval '1 day', now() + interval '1 day', batch => 'current');
SELECT count(*) FROM codes.code_gen(20, NULL, NULL, batch => 'used');
SELECT count(*) FROM codes.code_gen(20, '2000-01-01', '2000-12-31', batch => 'expired');
CREATE TEMP TABLE real_codes AS
SELECT row_number() OVER (ORDER BY c.code) AS n, c.code::text AS code, b.name AS batch
FROM codes.codes c JOIN codes.batch b ON b.id = c.batch;
SELECT count(codes.code_use(code)) FROM real_codes WHERE batch = 'used';

SELECT setseed(0.2024);

-- a random character: ASCII (but NUL), 2-, 3- (no surrogates) or 4-byte UTF-8
CREATE FUNCTION pg_temp.rnd_char() RETURNS text LANGUAGE sql AS $$
SELECT chr(CASE floor(random() * 4)::int
		   WHEN 0 THEN 1 + floor(random() * 127)::int
		   WHEN 1 THEN 128 + floor(random() * 1920)::int
		   WHEN 2 THEN (SELECT CASE WHEN x BETWEEN 55296 AND 57343 THEN x + 2048 ELSE x END
						FROM (SELECT 2048 + floor(random() * 63488)::int AS x) s)
		   ELSE 65536 + floor(random() * 1048576)::int
		   END)
$$;
CREATE FUNCTION pg_temp.rnd_string(len int) RETURNS text LANGUAGE sql AS $$
SELECT string_agg(pg_temp.rnd_char(), '') FROM generate_series(1, len)
$$;
CREATE FUNCTION pg_temp.rnd_int(lo int, hi int) RETURNS int LANGUAGE sql AS $$
SELECT lo + floor(random() * (hi - lo + 1))::int
$$;
-- position in a code's text of its d-th hex digit (0-31), skipping hyphens
CREATE FUNCTION pg_temp.digit_pos(d int) RETURNS int LANGUAGE sql AS $$
SELECT d + 1 + (d >= 8)::int + (d >= 12)::int + (d >= 16)::int + (d >= 20)::int
$$;
-- code with its d-th hex digit replaced by a different hex digit
CREATE FUNCTION pg_temp.change_digit(code text, d int) RETURNS text LANGUAGE sql AS $$
SELECT overlay(code PLACING
			   substr('0123456789abcdef',
					  (strpos('0123456789abcdef', substr(code, pg_temp.digit_pos(d), 1))
					   + pg_temp.rnd_int(0, 14)) % 16 + 1, 1)
			   FROM pg_temp.digit_pos(d) FOR 1)
$$;

CREATE TEMP TABLE inputs (kind text NOT NULL, input text NOT NULL);

-- random Unicode, 1 to 40 characters
INSERT INTO inputs
SELECT 'random unicode', pg_temp.rnd_string(pg_temp.rnd_int(1, 40))
FROM generate_series(1, 3000);

-- invalid-looking UUIDs: hex digits, hyphens and spaces with a stray symbol
INSERT INTO inputs
SELECT 'uuid-like', overlay(s PLACING substr('gGxX_{}:.,/+zZ!', pg_temp.rnd_int(1, 15), 1)
							FROM pg_temp.rnd_int(1, length(s)) FOR 0)
FROM (SELECT string_agg(substr('0123456789abcdefABCDEF-  ', pg_temp.rnd_int(1, 25), 1), '') AS s
	  FROM generate_series(1, 2000) i, generate_series(1, 36) j GROUP BY i) g;

-- random hex of random length: some have 32 digits and are well-formed
-- codes that do not exist
INSERT INTO inputs
SELECT 'random hex', string_agg(substr('0123456789abcdef', pg_temp.rnd_int(1, 16), 1), '')
FROM generate_series(1, 1000) i, generate_series(1, 30 + i % 5) j GROUP BY i;

-- near misses of every real code
INSERT INTO inputs
SELECT 'near miss: digit changed', pg_temp.change_digit(code, pg_temp.rnd_int(0, 31))
FROM real_codes, generate_series(1, 3);
INSERT INTO inputs
SELECT 'near miss: digit changed, upper case', upper(pg_temp.change_digit(code, pg_temp.rnd_int(0, 31)))
FROM real_codes;
INSERT INTO inputs
SELECT 'near miss: extra separators', regexp_replace(pg_temp.change_digit(code, pg_temp.rnd_int(0, 31)),
													 '([0-9a-f])', '\1 - ', 'g')
FROM real_codes;
INSERT INTO inputs
SELECT 'near miss: digit dropped', overlay(code PLACING '' FROM pg_temp.digit_pos(pg_temp.rnd_int(0, 31)) FOR 1)
FROM real_codes;
INSERT INTO inputs
SELECT 'near miss: digit added', overlay(code PLACING substr('0123456789abcdef', pg_temp.rnd_int(1, 16), 1)
										 FROM pg_temp.digit_pos(pg_temp.rnd_int(0, 31)) FOR 0)
FROM real_codes;
-- two neighbouring digits swapped, or, where they are equal, one changed
INSERT INTO inputs
SELECT 'near miss: neighbours swapped',
	   CASE WHEN a <> b THEN overlay(code PLACING b || a FROM p FOR 2) ELSE changed END
FROM (SELECT code, p, substr(code, p, 1) AS a, substr(code, p + 1, 1) AS b, changed
	  FROM (SELECT code, pg_temp.digit_pos(pg_temp.rnd_int(0, 6)) AS p,
				   pg_temp.change_digit(code, 0) AS changed
			FROM real_codes OFFSET 0) s) t;
INSERT INTO inputs
SELECT 'near miss: non-hex letter', overlay(code PLACING substr('ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ', pg_temp.rnd_int(1, 40), 1)
											FROM pg_temp.digit_pos(pg_temp.rnd_int(0, 31)) FOR 1)
FROM real_codes;

-- every ASCII control character, before, inside, instead of a hyphen and
-- after a real code
INSERT INTO inputs
SELECT 'ascii control', CASE w WHEN 1 THEN chr(c) || code
						WHEN 2 THEN overlay(code PLACING chr(c) FROM pg_temp.digit_pos(pg_temp.rnd_int(1, 31)) FOR 0)
						WHEN 3 THEN replace(code, '-', chr(c))
						ELSE code || chr(c) END
FROM (SELECT code FROM real_codes WHERE n <= 10) r,
	 (SELECT c FROM generate_series(1, 31) c UNION ALL SELECT 127) cs,
	 generate_series(1, 4) w;

-- escapes as text, where a code is or around it
INSERT INTO inputs
SELECT 'escape', CASE w WHEN 1 THEN e || code WHEN 2 THEN code || e
				 WHEN 3 THEN replace(code, '-', e) ELSE overlay(code PLACING e FROM 20 FOR 0) END
FROM (SELECT code FROM real_codes WHERE n <= 10) r,
	 unnest(ARRAY[E'\\0', E'\\x00', E'\\u0000', E'\\000', '%00', '&#0;', '&#x0;', E'\\n',
				  E'\\r\\n', E'\\t', E'\\x2d', '%2d', '%2D', E'\\u002d', '&#45;', E'\\\\',
				  E'\\', '^@', E'\\N', '\0']) e,
	 generate_series(1, 4) w;

-- quotes, backslashes and SQL around real codes
INSERT INTO inputs
SELECT 'quotes and sql', replace(f, 'CODE', code)
FROM (SELECT code FROM real_codes WHERE n <= 20) r,
	 unnest(ARRAY['''CODE''', '"CODE"', '`CODE`', E'\\CODE', E'CODE\\', 'CODE''', '''CODE',
				  'CODE'' OR ''1''=''1', 'CODE''; DELETE FROM codes.codes; --',
				  'CODE); DROP TABLE codes.codes; --', '$$CODE$$', '$q$CODE$q$', 'CODE -- x',
				  'CODE/*', 'CODE;', E'CODE\\''', 'CODE%', '%sCODE', '%nCODE', '{CODE}',
				  '(CODE)', '[CODE]', 'urn:uuid:CODE', 'CODE\0', 'E''CODE''', 'U&''CODE''']) f;

-- combining marks after a digit of a real code
INSERT INTO inputs
SELECT 'combining mark', overlay(code PLACING chr(m) FROM pg_temp.digit_pos(pg_temp.rnd_int(0, 31)) + 1 FOR 0)
FROM (SELECT code, (ARRAY[768 + pg_temp.rnd_int(0, 111), 8413, 65039, 8205, 8204, 1155])[pg_temp.rnd_int(1, 6)] AS m
	  FROM real_codes, generate_series(1, 2)) s;

-- look-alike digits: full-width, Arabic-Indic, Devanagari, mathematical and
-- superscript digits for all digits of a real code (each has a 4)
INSERT INTO inputs
SELECT 'look-alike digits', translate(code, '0123456789abcdef', l)
FROM (SELECT code FROM real_codes WHERE n <= 40) r,
	 unnest(ARRAY['０１２３４５６７８９ａｂｃｄｅｆ',
				  '٠١٢٣٤٥٦٧٨٩abcdef', '०१२३४५६७८९abcdef',
				  '𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗abcdef', '⁰¹²³⁴⁵⁶⁷⁸⁹abcdef']) l;

-- a look-alike letter (Latin, Cyrillic, Greek, full-width) in place of one
-- symbol of a real code (full-width letters are read as the letters, so
-- these are not hex digits: a full-width a in place of an a would be the
-- code itself)
INSERT INTO inputs
SELECT 'look-alike letter', overlay(code PLACING g FROM pg_temp.digit_pos(pg_temp.rnd_int(0, 31)) FOR 1)
FROM (SELECT code FROM real_codes WHERE n <= 20) r,
	 unnest(ARRAY['O', 'o', 'l', 'I', 'S', 'Z', 'а', 'с', 'е', 'в', 'ο', 'α', 'ε', 'ｇ', 'Ｚ']) g;

-- look-alike separators instead of the hyphens, or added between digits
-- (the vertical tab as chr(11): 15 reads E'\v' as a "v", 17 and 18 as the tab)
INSERT INTO inputs
SELECT 'look-alike separator', CASE w WHEN 1 THEN replace(code, '-', s)
							   ELSE regexp_replace(code, '([0-9a-f]{4})', '\1' || s, 'g') END
FROM (SELECT code FROM real_codes WHERE n <= 10) r,
	 unnest(ARRAY[U&'\2010', U&'\2011', U&'\2012', U&'\2013', U&'\2014', U&'\2212',
				  U&'\FF0D', U&'\FE63', U&'\00A0', U&'\2007', U&'\202F', U&'\200B',
				  U&'\3000', U&'\00AD', U&'\FEFF', U&'\2060', '_', '.', ':', '/', '+',
				  '~', '|', ',', E'\t', E'\n', E'\r', E'\f', chr(11)]) s,
	 generate_series(1, 2) w;

-- empty and separators only
INSERT INTO inputs VALUES
	('empty or separators only', ''), ('empty or separators only', ' '),
	('empty or separators only', '-'), ('empty or separators only', repeat(' -', 100)),
	('empty or separators only', repeat('-', 36));

-- megabyte strings
INSERT INTO inputs
SELECT 'megabyte', s
FROM (SELECT code FROM real_codes WHERE n = 1) r,
	 LATERAL (VALUES
		(repeat('0', 1048576)),
		(repeat('f', 1048576)),
		(repeat(code, 29128)),
		(repeat(replace(code, '-', ''), 32768)),
		(repeat(' ', 1048576) || code || 'x'),
		(code || repeat(E'\t', 1048576)),
		(repeat('-', 1048576) || 'g' || code),
		(repeat(U&'\FF10', 349526)),
		(repeat(U&'\0301', 524288)),
		(repeat('''', 1048576)),
		(repeat(E'\\', 1048576)),
		(pg_temp.rnd_string(300000))
	 ) AS v(s);

SELECT count(*) AS inputs, count(*) >= 10000 AS enough,
	   count(*) FILTER (WHERE octet_length(input) >= 1048576) AS megabyte,
	   count(DISTINCT kind) AS kinds
FROM inputs;

-- Since 1.3, what a paste adds that can mean one thing only is read as that
-- (README.md, Input of a code): ASCII white space (tab, line feed,
-- vertical tab, form feed, carriage return) and Unicode's spaces, dashes
-- and invisible breaks are separators, full-width digits and letters are
-- the digits and letters.  So some inputs above are a real code: ASCII
-- controls that are white space, look-alike separators that are such
-- characters, the full-width digits, a code followed by a megabyte of
-- tabs.  They are taken out here and only queried, as using or deleting
-- them would change the codes the rest of this test counts on.
CREATE TEMP TABLE pasted AS
SELECT i.kind, i.input, r.code
FROM inputs i JOIN real_codes r ON r.code = codes.code_normalize(i.input);
DELETE FROM inputs i USING real_codes r WHERE r.code = codes.code_normalize(i.input);
SELECT kind, count(*) AS inputs,
	   count(*) FILTER (WHERE codes.code_query(input) = codes.code_query(code)) AS found
FROM pasted GROUP BY 1 ORDER BY 1;

-- nothing below may change a code or a batch
CREATE TEMP TABLE snapshot AS
SELECT (SELECT string_agg(c::text, E'\n' ORDER BY c.code) FROM codes.codes c) AS codes,
	   (SELECT string_agg(b::text, E'\n' ORDER BY b.id) FROM codes.batch b) AS batches;

-- check, query, use, undo and delete each input, in this order
CREATE TEMP TABLE answers AS
SELECT kind, codes.code_valid(input, 'GIFT-####-####-###^') AS valid,
	   codes.code_query(input) AS query, codes.code_use(input, 'hostile') AS use,
	   codes.code_undo(input) AS undo, codes.code_del(input) AS del
FROM inputs;
SELECT kind, valid, query, use, undo, del, count(*) FROM answers
GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6;

SELECT s.codes = (SELECT string_agg(c::text, E'\n' ORDER BY c.code) FROM codes.codes c) AS codes_unchanged,
	   s.batches = (SELECT string_agg(b::text, E'\n' ORDER BY b.id) FROM codes.batch b) AS batches_unchanged
FROM snapshot s;

-- the same lookups do find real codes in their documented forms
SELECT batch, codes.code_query(upper(code)) AS upper_case,
	   codes.code_query(regexp_replace(code, '(.)', ' \1-', 'g')) AS separators_everywhere,
	   codes.code_query(repeat(' ', 1048576) || code) AS megabyte_of_spaces, count(*)
FROM real_codes GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;

--
-- Batch names.  Any name of 1 to 200 bytes is taken as it is; a name that
-- is empty, too long or taken is refused with 22023 or 23505.
--
CREATE FUNCTION pg_temp.try_gen(name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM count(*) FROM codes.code_gen(1, NULL, NULL, batch => name);
	RETURN 'created';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

CREATE TEMP TABLE names (n serial, kind text NOT NULL, name text NOT NULL, outcome text);
INSERT INTO names (kind, name)
SELECT 'random unicode', pg_temp.rnd_string(pg_temp.rnd_int(1, 50))
FROM generate_series(1, 800);
INSERT INTO names (kind, name)
SELECT 'format and quotes', f
FROM unnest(ARRAY['%s', '%n', '%d%d%d%d', '%999999s', '%.*s', '"', '''', '''''', E'\\',
				  E'\\\\', '\0', E'\\x00', '"; DROP TABLE codes.batch; --',
				  ''' OR 1=1 --', '$$', '${name}', '{}', 'batch-1', 'batch-999999',
				  ' ', '  ', E'\t', E'\n', '-', 'NULL', 'null', 'current', 'CURRENT',
				  'current ', ' current']) f;
INSERT INTO names (kind, name)
SELECT 'ascii control', 'name' || chr(c) || 'x'
FROM (SELECT c FROM generate_series(1, 31) c UNION ALL SELECT 127) cs;
INSERT INTO names (kind, name) VALUES
	('combining', U&'caf\00E9'), ('combining', U&'cafe\0301'),
	('combining', U&'\0301'), ('combining', repeat(U&'\0301', 100)),
	('200 bytes', repeat('x', 200)), ('200 bytes', repeat(U&'\00E9', 100)),
	('200 bytes', repeat(U&'\20AC', 66) || 'ab'), ('200 bytes', repeat(U&'\+01F600', 50));
UPDATE names SET outcome = pg_temp.try_gen(name) WHERE outcome IS NULL;
SELECT kind, outcome, count(*) FROM names GROUP BY 1, 2 ORDER BY 1, 2;

-- every name taken is stored byte for byte, with its one code
SELECT count(*) AS names_not_stored
FROM names n
WHERE n.outcome = 'created'
  AND NOT EXISTS (SELECT FROM codes.batch b JOIN codes.codes c ON c.batch = b.id
				  WHERE b.name = n.name AND convert_to(b.name, 'UTF8') = convert_to(n.name, 'UTF8'));

-- refused names change nothing
TRUNCATE snapshot;
INSERT INTO snapshot
SELECT (SELECT string_agg(c::text, E'\n' ORDER BY c.code) FROM codes.codes c),
	   (SELECT string_agg(b::text, E'\n' ORDER BY b.id) FROM codes.batch b);

CREATE TEMP TABLE refused (kind text NOT NULL, name text NOT NULL);
INSERT INTO refused
SELECT 'taken', name FROM names WHERE outcome = 'created';
INSERT INTO refused VALUES
	('empty', ''),
	('too long', repeat('x', 201)),
	('too long', repeat(U&'\20AC', 67)),
	('too long', repeat(U&'\00E9', 101)),
	('too long', repeat(U&'\+01F600', 51)),
	('too long', repeat('''', 1048576)),
	('too long', repeat(E'\\', 1048576)),
	('too long', pg_temp.rnd_string(300000));
SELECT kind, pg_temp.try_gen(name) AS outcome, count(*) FROM refused GROUP BY 1, 2 ORDER BY 1, 2;

SELECT s.codes = (SELECT string_agg(c::text, E'\n' ORDER BY c.code) FROM codes.codes c) AS codes_unchanged,
	   s.batches = (SELECT string_agg(b::text, E'\n' ORDER BY b.id) FROM codes.batch b) AS batches_unchanged
FROM snapshot s;

--
-- Redeemers are stored as they are given, up to 1000 bytes; a longer one
-- is an error (the history indexes redeemers) and changes nothing.
--
CREATE TEMP TABLE redeemers AS
SELECT r.code, CASE WHEN r.n % 4 = 0 THEN pg_temp.rnd_string(pg_temp.rnd_int(1, 60))
					WHEN r.n % 4 = 1 THEN 'who' || chr((r.n % 31)::int + 1) || E'\\''"%s'
					WHEN r.n % 4 = 2 THEN repeat(U&'\0301', 500)
					ELSE repeat('r', 1000) END AS redeemer
FROM real_codes r WHERE r.batch = 'current';
SELECT codes.code_use(code, repeat('r', 1001)) FROM redeemers LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use(code, repeat('r', 1048576)) FROM redeemers LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS used FROM redeemers r JOIN codes.codes c ON c.code = r.code::uuid
WHERE c.uses > 0;
SELECT codes.code_use(code, redeemer) AS use, count(*) FROM redeemers GROUP BY 1;
SELECT count(*) AS redeemers_stored
FROM redeemers r JOIN codes.codes c ON c.code = r.code::uuid
WHERE convert_to(c.used_by, 'UTF8') = convert_to(r.redeemer, 'UTF8') AND c.uses = 1;

DROP EXTENSION codes;
