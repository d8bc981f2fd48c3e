--
-- code_normalize: the code as handed out, for text as a person typed it,
-- or NULL when the text has no batch's shape.  No code is looked up.
--
CREATE EXTENSION codes;

-- no batch yet: no shape, nothing is a code
SELECT codes.code_normalize('3BE34E08 63E5 45A5 96F6 8301871ABE21');

SELECT count(*) FROM codes.code_gen(1, NULL, NULL, batch => 'uuids');
CREATE TEMP TABLE g AS
SELECT code FROM codes.code_gen(1, NULL, NULL, pattern => 'GIFT-#####-#####-^') AS code;

SELECT t AS typed, codes.code_normalize(t) AS normal
FROM unnest(ARRAY[
	'3BE34E08 63E5 45A5 96F6 8301871ABE21',
	'3be34e0863e545a596f68301871abe21',
	'{3be34e08-63e5-45a5-96f6-8301871abe21}',
	'3be34e08-63e5-45a5-96f6-8301871abe2',
	'',
	'no code at all']) AS t;
SELECT codes.code_normalize(NULL) IS NULL AS null_in_null_out;

-- a patterned code, however it was typed
SELECT codes.code_normalize(lower(code)) = code AS lower_case,
	   codes.code_normalize(replace(code, '-', '')) = code AS no_hyphens,
	   codes.code_normalize(lower(replace(code, '-', ' '))) = code AS spaces,
	   codes.code_normalize(left(code, -1) ||
							CASE right(code, 1) WHEN '2' THEN '3' ELSE '2' END) AS wrong_check,
	   codes.code_normalize(left(code, -2)) AS too_short
FROM g;

-- what an application stored as typed finds its redemption
SELECT codes.code_use(code, 'kim') FROM g;
SELECT r.redeemer, r.code = g.code AS same
FROM codes.redemptions r, g
WHERE r.code = (SELECT codes.code_normalize(lower(replace(g.code, '-', ' '))));

DROP EXTENSION codes;
