-- What scripts/demo.sh runs: a batch, a code used twice, a query, a delete.
\pset footer off
CREATE EXTENSION codes;

-- five closed-beta codes, valid for a week from now
CREATE TEMP TABLE beta AS
SELECT code FROM codes.code_gen(5, now(), now() + interval '7 days',
								batch => 'closed-beta') AS code;
TABLE beta;
SELECT code FROM beta LIMIT 1 \gset

SELECT codes.code_query(:'code') AS status;
SELECT codes.code_use(:'code', 'player-1') AS first_use;
SELECT codes.code_use(upper(:'code'), 'player-2') AS second_use;
SELECT codes.code_query(:'code') AS status;
SELECT codes.code_del(:'code') AS deleted;
SELECT codes.code_query(:'code') AS status;
SELECT codes.code_use('no such code') AS unknown;

-- a million codes, and what they cost on disk
\timing on
SELECT count(*) AS generated FROM codes.code_gen(1000000, now(), NULL, batch => 'gift-cards');
\timing off
SELECT pg_size_pretty(pg_total_relation_size('codes.codes')) AS table_size,
	   round(pg_total_relation_size('codes.codes')::numeric
			 / (SELECT count(*) FROM codes.codes), 1) AS bytes_per_code;
