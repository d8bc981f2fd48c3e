--
-- Input as people paste it.  What a paste or a keyboard adds that can
-- mean one thing only is read as that: ASCII white space and Unicode's
-- spaces, dashes and invisible breaks are separators, and the full-width
-- forms of ASCII (an East Asian keyboard's) are those characters.  Every
-- such form of a real code is found by use, query, normalize and
-- code_valid.  Look-alikes from other scripts, which could stand for more
-- than one character, are simply not found; so is every other character.
-- The same holds in databases of other encodings, for the characters they
-- can hold.
--
CREATE EXTENSION codes;
SELECT current_database() AS regress_db \gset

-- the full-width form of each printable ASCII character but the space
CREATE FUNCTION pg_temp.full_width(s text) RETURNS text LANGUAGE sql AS $$
SELECT string_agg(CASE WHEN c BETWEEN '!' AND '~' THEN chr(ascii(c) + 65248) ELSE c END, '' ORDER BY i)
FROM (SELECT i, substr(s, i, 1) AS c FROM generate_series(1, length(s)) i) t
$$;

-- three codes that many may use: a UUID, a patterned code, a code of digits
CREATE TEMP TABLE real (kind text, pattern text, code text);
INSERT INTO real
SELECT 'uuid', NULL, code FROM codes.code_gen(1, NULL, NULL, max_uses => 1000) AS code;
INSERT INTO real
SELECT 'pattern', 'GIFT-####-####-###^', code
FROM codes.code_gen(1, NULL, NULL, pattern => 'GIFT-####-####-###^', max_uses => 1000) AS code;
INSERT INTO real
SELECT 'digits', '****-****-****-****-^', code
FROM codes.code_gen(1, NULL, NULL, pattern => '****-****-****-****-^', max_uses => 1000) AS code;

-- every accepted form of each
CREATE TEMP TABLE pasted AS
SELECT r.kind, r.pattern, r.code, f.n, f.form, f.input
FROM real r, LATERAL (VALUES
	(1, 'trailing newline', r.code || E'\n'),
	(2, 'trailing CR LF', r.code || E'\r\n'),
	(3, 'tabs around', E'\t' || r.code || E'\t'),
	(4, 'tab for hyphen', replace(r.code, '-', E'\t')),
	(5, 'vertical tab, form feed', chr(11) || r.code || E'\f'),
	(6, 'U+00A0 no-break space', replace(r.code, '-', U&'\00A0')),
	(7, 'U+2002 en space', replace(r.code, '-', U&'\2002')),
	(8, 'U+2007 figure space', replace(r.code, '-', U&'\2007')),
	(9, 'U+2009 thin space', replace(r.code, '-', U&'\2009')),
	(10, 'U+202F narrow no-break space', replace(r.code, '-', U&'\202F')),
	(11, 'U+205F medium mathematical space', replace(r.code, '-', U&'\205F')),
	(12, 'U+1680 ogham space mark', replace(r.code, '-', U&'\1680')),
	(13, 'U+3000 ideographic space', replace(r.code, '-', U&'\3000')),
	(14, 'U+0085 next line', r.code || U&'\0085'),
	(15, 'U+2028 line separator', r.code || U&'\2028'),
	(16, 'U+2029 paragraph separator', r.code || U&'\2029'),
	(17, 'U+200B zero width space', replace(r.code, '-', U&'\200B')),
	(18, 'U+2060 word joiner', replace(r.code, '-', U&'\2060')),
	(19, 'U+FEFF byte order mark first', U&'\FEFF' || r.code),
	(20, 'U+00AD soft hyphen', replace(r.code, '-', U&'\00AD')),
	(21, 'U+2010 hyphen', replace(r.code, '-', U&'\2010')),
	(22, 'U+2011 non-breaking hyphen', replace(r.code, '-', U&'\2011')),
	(23, 'U+2012 figure dash', replace(r.code, '-', U&'\2012')),
	(24, 'U+2013 en dash', replace(r.code, '-', U&'\2013')),
	(25, 'U+2014 em dash', replace(r.code, '-', U&'\2014')),
	(26, 'U+2015 horizontal bar', replace(r.code, '-', U&'\2015')),
	(27, 'U+2212 minus sign', replace(r.code, '-', U&'\2212')),
	(28, 'U+FE58 small em dash', replace(r.code, '-', U&'\FE58')),
	(29, 'U+FE63 small hyphen-minus', replace(r.code, '-', U&'\FE63')),
	(30, 'U+30FC prolonged sound mark', replace(r.code, '-', U&'\30FC')),
	(31, 'U+FF70 halfwidth prolonged sound mark', replace(r.code, '-', U&'\FF70')),
	(32, 'full width', pg_temp.full_width(r.code)),
	(33, 'full width, lower case', pg_temp.full_width(lower(r.code))),
	(34, 'full width, U+3000 for hyphen', replace(pg_temp.full_width(r.code), U&'\FF0D', U&'\3000')),
	(35, 'all at once', U&'\FEFF ' || E'\t' || replace(pg_temp.full_width(left(r.code, 4)), U&'\FF0D', U&'\2013')
					   || U&'\00AD' || replace(substr(r.code, 5), '-', U&'\2212\00A0') || E'\r\n'),
	(36, 'a megabyte of no-break spaces first', repeat(U&'\00A0', 1048576) || r.code)
) AS f(n, form, input);

SELECT n, form, count(*) AS codes,
	   count(*) FILTER (WHERE codes.code_query(input) = 'UNACTIVED') AS found,
	   count(*) FILTER (WHERE codes.code_normalize(input) = code) AS normalized,
	   count(*) FILTER (WHERE pattern IS NULL OR codes.code_valid(input, pattern)) AS valid
FROM pasted GROUP BY 1, 2 ORDER BY 1;

-- each form uses each code once
SELECT kind, count(*) FILTER (WHERE codes.code_use(input, form) = 'SUCCEED') AS uses
FROM pasted GROUP BY 1 ORDER BY 1;
SELECT r.kind, count(*) AS redemptions
FROM codes.redemptions x JOIN real r ON r.code = x.code GROUP BY 1 ORDER BY 1;

--
-- What is not accepted: look-alikes of other scripts (Cyrillic and Greek
-- letters, digits of other scripts, superscript and mathematical digits),
-- marks and joiners, other ASCII control characters, other separators.
-- A UUID always has a 4 (its version), the code of digits digits, and
-- GIFT an I and a T: each form changes at least one of the three codes.
--
CREATE TEMP TABLE refused AS
SELECT r.kind, r.pattern, r.code, f.form, f.input
FROM real r, LATERAL (VALUES
	('Cyrillic I and T', replace(replace(r.code, 'I', U&'\0406'), 'T', U&'\0422')),
	('Greek I and T', replace(replace(r.code, 'I', U&'\0399'), 'T', U&'\03A4')),
	('Arabic-Indic digits', translate(r.code, '0123456789', U&'\0660\0661\0662\0663\0664\0665\0666\0667\0668\0669')),
	('Devanagari digits', translate(r.code, '0123456789', U&'\0966\0967\0968\0969\096A\096B\096C\096D\096E\096F')),
	('superscript digits', translate(r.code, '0123456789', U&'\2070\00B9\00B2\00B3\2074\2075\2076\2077\2078\2079')),
	('mathematical digits', translate(r.code, '0123456789', U&'\+01D7CE\+01D7CF\+01D7D0\+01D7D1\+01D7D2\+01D7D3\+01D7D4\+01D7D5\+01D7D6\+01D7D7')),
	('circled digits', translate(r.code, '123456789', U&'\2460\2461\2462\2463\2464\2465\2466\2467\2468')),
	('combining acute accent', overlay(r.code placing U&'\0301' from 2 for 0)),
	('U+200D zero width joiner', replace(r.code, '-', U&'\200D')),
	('U+FE0F variation selector', overlay(r.code placing U&'\FE0F' from 2 for 0)),
	('U+0001', r.code || chr(1)),
	('U+001F unit separator', replace(r.code, '-', chr(31))),
	('U+007F delete', r.code || chr(127)),
	('underscore', replace(r.code, '-', '_')),
	('full stop', replace(r.code, '-', '.')),
	('slash', replace(r.code, '-', '/')),
	('U+2043 hyphen bullet', replace(r.code, '-', U&'\2043')),
	('U+FF0E full-width full stop', replace(r.code, '-', U&'\FF0E'))
) AS f(form, input)
WHERE f.input <> r.code;

SELECT form, codes.code_query(input) AS query, codes.code_use(input) AS use,
	   codes.code_normalize(input) AS normalize,
	   pattern IS NOT NULL AND codes.code_valid(input, pattern) AS valid
FROM refused GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;

-- those changed nothing
SELECT r.kind, count(*) AS redemptions
FROM codes.redemptions x JOIN real r ON r.code = x.code GROUP BY 1 ORDER BY 1;

DROP EXTENSION codes;

--
-- Other encodings.  In LATIN1 the no-break space, the soft hyphen and the
-- next line character are bytes of their own; EUC_JP has the full-width
-- forms, the ideographic space and the prolonged sound mark (and
-- Cyrillic).  SQL_ASCII gives bytes beyond ASCII no meaning: only ASCII
-- white space is read there.
--
CREATE DATABASE regress_codes_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE DATABASE regress_codes_euc_jp ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE DATABASE regress_codes_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;

\c regress_codes_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION codes;
CREATE TEMP TABLE c AS
SELECT code FROM codes.code_gen(1, NULL, NULL, pattern => 'GIFT-####-####-###^', max_uses => 100) AS code;
SELECT form, codes.code_query(input) AS query, codes.code_normalize(input) = code AS normalized
FROM c, LATERAL (VALUES
	('no-break space', replace(code, '-', U&'\00A0')),
	('soft hyphen', replace(code, '-', U&'\00AD')),
	('next line', code || U&'\0085'),
	('tab, CR LF', E'\t' || code || E'\r\n'),
	('a megabyte of no-break spaces first', repeat(U&'\00A0', 1048576) || code),
	('I acute', replace(code, 'I', U&'\00CD')),
	('e acute', code || U&'\00E9'),
	('micro sign', code || U&'\00B5')
) AS f(form, input)
WHERE input <> code;
SELECT codes.code_use(replace(code, '-', U&'\00A0')) FROM c;
DROP EXTENSION codes;

\c regress_codes_euc_jp
SET client_encoding = 'UTF8';
CREATE EXTENSION codes;
CREATE TEMP TABLE c AS
SELECT code FROM codes.code_gen(1, NULL, NULL, pattern => 'GIFT-####-####-###^', max_uses => 100) AS code;
SELECT form, codes.code_query(input) AS query, codes.code_normalize(input) = code AS normalized
FROM c, LATERAL (VALUES
	('full width', translate(code, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-',
							 'ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ０１２３４５６７８９－')),
	('ideographic space', replace(code, '-', U&'\3000')),
	('prolonged sound mark', replace(code, '-', U&'\30FC')),
	-- pieces of 1,024 bytes split a two-byte character
	('a thousand prolonged sound marks first, split', U&'\30FC ' || repeat(U&'\30FC', 1000) || code),
	('Cyrillic T', replace(code, 'T', U&'\0422')),
	('Greek I', replace(code, 'I', U&'\0399'))
) AS f(form, input)
WHERE input <> code;
SELECT codes.code_use(replace(code, '-', U&'\3000')) FROM c;
DROP EXTENSION codes;

\c regress_codes_sql_ascii
SET client_encoding = 'UTF8';
CREATE EXTENSION codes;
CREATE TEMP TABLE c AS
SELECT code FROM codes.code_gen(1, NULL, NULL, pattern => 'GIFT-####-####-###^', max_uses => 100) AS code;
-- the bytes of UTF-8 no-break space and full-width hyphen-minus, as sent
SELECT form, codes.code_query(input) AS query, codes.code_normalize(input) = code AS normalized
FROM c, LATERAL (VALUES
	('tab, CR LF', E'\t' || code || E'\r\n'),
	('no-break space', replace(code, '-', ' ')),
	('full-width hyphen-minus', replace(code, '-', '－'))
) AS f(form, input);
DROP EXTENSION codes;

\c :regress_db
DROP DATABASE regress_codes_latin1;
DROP DATABASE regress_codes_euc_jp;
DROP DATABASE regress_codes_sql_ascii;
