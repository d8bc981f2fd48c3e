-- Load test ledger check: one row per check, "name|t" when it holds.
-- Codes deleted during the run are in graveyard with the uses they had.
-- Checks count offending rows rather than ask NOT EXISTS, so that the
-- planner reads whole tables with hash joins instead of nested loops.
ANALYZE;
CREATE TEMP VIEW all_codes AS
SELECT batch, uses, code FROM codes.codes
UNION ALL
SELECT batch, uses, code FROM graveyard;
CREATE TEMP VIEW succeeded AS
SELECT code, count(*) AS n FROM ledger WHERE op = 'use' AND result = 'SUCCEED' GROUP BY code;

SELECT 'SUCCEED answers = uses recorded',
	   (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'SUCCEED')
	   = (SELECT coalesce(sum(uses), 0) FROM all_codes);

SELECT 'every code used as often as SUCCEED said',
	   (SELECT count(*) FROM all_codes c FULL JOIN succeeded s ON s.code = c.code::text
		WHERE coalesce(c.uses, 0) <> coalesce(s.n, 0)) = 0;

SELECT 'no code beyond its allowed uses',
	   (SELECT count(*) FROM all_codes c JOIN codes.batch b ON b.id = c.batch
		WHERE c.uses > b.max_uses) = 0
	   AND (SELECT count(*) FROM succeeded WHERE n > 1) = 0;

SELECT 'only documented answers',
	   (SELECT count(*) FROM ledger
		WHERE NOT ((op = 'use' AND result IN ('SUCCEED', 'FAILED'))
				   OR (op = 'query' AND result IN ('NO EXISTED', 'TIMEINVALID', 'UNACTIVED', 'ACTIVED'))
				   OR (op = 'del' AND result = 'SUCCEED')
				   OR (op = 'gen' AND result IN ('50', 'taken')))) = 0;

SELECT 'expired codes never used, always TIMEINVALID',
	   (SELECT count(*) FROM ledger l JOIN pool p ON p.code = l.code
		WHERE p.batch = 'expired'
		  AND ((l.op = 'use' AND l.result <> 'FAILED')
			   OR (l.op = 'query' AND l.result <> 'TIMEINVALID'))) = 0;

SELECT 'ACTIVED only for codes some use made so',
	   (SELECT count(*) FROM ledger l LEFT JOIN succeeded s ON s.code = l.code
		WHERE l.op = 'query' AND l.result = 'ACTIVED' AND s.code IS NULL) = 0;

SELECT 'NO EXISTED only for deleted codes',
	   (SELECT count(*) FROM ledger l LEFT JOIN graveyard g ON g.code::text = l.code
		WHERE l.op = 'query' AND l.result = 'NO EXISTED' AND g.code IS NULL) = 0;

SELECT 'deleted codes are gone',
	   (SELECT count(*) FROM graveyard g JOIN codes.codes c ON c.code = g.code) = 0;

SELECT 'every new batch whole, one per successful gen',
	   (SELECT count(*) FROM ledger WHERE op = 'gen' AND result = '50')
	   = (SELECT count(*) FROM codes.batch WHERE name NOT IN ('pool', 'expired'))
	   AND (SELECT count(*)
			FROM (SELECT count(c.code) AS n
				  FROM codes.batch b LEFT JOIN codes.codes c ON c.batch = b.id
				  WHERE b.name NOT IN ('pool', 'expired')
				  GROUP BY b.id) s
			WHERE s.n <> 50) = 0;

SELECT 'the run had races to decide',
	   (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'SUCCEED') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'FAILED') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'gen' AND result = 'taken') > 0
	   AND (SELECT count(*) FROM graveyard WHERE uses > 0) > 0;
