--
-- The check symbol catches every single mistyped symbol and every swap of
-- two neighbouring different symbols: try all of them on many codes.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE alphabet AS
SELECT substr('23456789ABCDEFGHJKMNPQRSTUVWXYZ', i, 1) AS s
FROM generate_series(1, 31) i;

-- 300 codes of 12 random symbols and a check symbol, in the canonical form
-- (code_valid reads input as code_use does)
CREATE TEMP TABLE c AS
SELECT replace(code, '-', '') AS code
FROM codes.code_gen(300, NULL, NULL, pattern => '####-####-####-^') AS code;
SELECT count(*) AS codes, count(*) FILTER (WHERE codes.code_valid(code, '############^')) AS valid
FROM c;

-- every substitution of one symbol by another symbol of the alphabet
CREATE TEMP TABLE substitutions AS
SELECT overlay(c.code placing a.s from i for 1) AS code
FROM c, generate_series(1, 13) i, alphabet a
WHERE substr(c.code, i, 1) <> a.s;
SELECT count(*) AS substitutions,
	   count(*) FILTER (WHERE codes.code_valid(code, '############^')) AS undetected
FROM substitutions;

-- every swap of two neighbouring different symbols
CREATE TEMP TABLE swaps AS
SELECT overlay(c.code placing substr(c.code, i + 1, 1) || substr(c.code, i, 1) from i for 2) AS code
FROM c, generate_series(1, 12) i
WHERE substr(c.code, i, 1) <> substr(c.code, i + 1, 1);
SELECT count(*) > 3000 AS many_swaps,
	   count(*) FILTER (WHERE codes.code_valid(code, '############^')) AS undetected
FROM swaps;

-- the same holds for the longest pattern with a check symbol
CREATE TEMP TABLE long AS
SELECT code FROM codes.code_gen(20, NULL, NULL, pattern => repeat('#', 29) || '^') AS code;
SELECT count(*) FILTER (WHERE codes.code_valid(overlay(l.code placing a.s from i for 1), repeat('#', 29) || '^')) AS undetected
FROM long l, generate_series(1, 30) i, alphabet a
WHERE substr(l.code, i, 1) <> a.s;
SELECT count(*) FILTER (WHERE codes.code_valid(overlay(l.code placing substr(l.code, i + 1, 1) || substr(l.code, i, 1) from i for 2), repeat('#', 29) || '^')) AS undetected
FROM long l, generate_series(1, 29) i
WHERE substr(l.code, i, 1) <> substr(l.code, i + 1, 1);

DROP EXTENSION codes;
