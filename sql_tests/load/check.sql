-- Load test ledger check: one row per check, "name|t" when it holds.
-- Codes deleted during the run are in graveyard with the uses they had.
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
	   NOT EXISTS (SELECT FROM all_codes c FULL JOIN succeeded s ON s.code = c.code::text
				   WHERE coalesce(c.uses, 0) <> coalesce(s.n, 0));

SELECT 'no code beyond its allowed uses',
	   NOT EXISTS (SELECT FROM all_codes c JOIN codes.batches b ON b.id = c.batch
				   WHERE c.uses > b.max_uses)
	   AND NOT EXISTS (SELECT FROM succeeded WHERE n > 1);

SELECT 'only documented answers',
	   NOT EXISTS (SELECT FROM ledger
				   WHERE NOT ((op = 'use' AND result IN ('SUCCEED', 'FAILED'))
							  OR (op = 'query' AND result IN ('NO EXISTED', 'TIMEINVALID', 'UNACTIVED', 'ACTIVED'))
							  OR (op = 'del' AND result = 'SUCCEED')
							  OR (op = 'gen' AND result IN ('50', 'taken'))));

SELECT 'expired codes never used, always TIMEINVALID',
	   NOT EXISTS (SELECT FROM ledger l JOIN pool p ON p.code = l.code
				   WHERE p.batch = 'expired'
					 AND ((l.op = 'use' AND l.result <> 'FAILED')
						  OR (l.op = 'query' AND l.result <> 'TIMEINVALID')));

SELECT 'ACTIVED only for codes some use made so',
	   NOT EXISTS (SELECT FROM ledger l WHERE l.op = 'query' AND l.result = 'ACTIVED'
				   AND NOT EXISTS (SELECT FROM succeeded s WHERE s.code = l.code));

SELECT 'NO EXISTED only for deleted codes',
	   NOT EXISTS (SELECT FROM ledger l WHERE l.op = 'query' AND l.result = 'NO EXISTED'
				   AND NOT EXISTS (SELECT FROM graveyard g WHERE g.code::text = l.code));

SELECT 'deleted codes are gone',
	   NOT EXISTS (SELECT FROM graveyard g JOIN codes.codes c ON c.code = g.code);

SELECT 'every new batch whole, one per successful gen',
	   (SELECT count(*) FROM ledger WHERE op = 'gen' AND result = '50')
	   = (SELECT count(*) FROM codes.batches WHERE name NOT IN ('pool', 'expired'))
	   AND NOT EXISTS (SELECT FROM codes.batches b LEFT JOIN codes.codes c ON c.batch = b.id
					   WHERE b.name NOT IN ('pool', 'expired')
					   GROUP BY b.id HAVING count(c.code) <> 50);

SELECT 'the run had races to decide',
	   (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'SUCCEED') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'use' AND result = 'FAILED') > 0
	   AND (SELECT count(*) FROM ledger WHERE op = 'gen' AND result = 'taken') > 0
	   AND (SELECT count(*) FROM graveyard WHERE uses > 0) > 0;
