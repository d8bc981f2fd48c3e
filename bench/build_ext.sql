-- bench/build_ext.sql: a fresh extension holding s codes made by code_gen,
-- in calls of at most 10,000,000 (its limit), and grp_ext, codes in random
-- groups of k for the pgbench scripts: all of them, or for large tables
-- about a fraction frac of them (psql variables s, k, frac, and cols:
-- "a[1] AS c1, ..., a[k] AS ck").
DROP TABLE IF EXISTS grp_ext;
DROP EXTENSION IF EXISTS codes;
CREATE EXTENSION codes;
CREATE TABLE grp_ext AS
SELECT g, :cols
FROM (SELECT n / :k AS g, array_agg(code) AS a
	  FROM (SELECT row_number() OVER (ORDER BY random()) - 1 AS n, c AS code
			FROM generate_series(0, (:s - 1) / 10000000) AS i,
				 LATERAL codes.code_gen(least(:s - i * 10000000, 10000000)::integer,
										now(), now() + interval '1 year' :genargs) AS c
			WHERE random() < :frac) AS p
	  GROUP BY 1) AS s
WHERE cardinality(a) = :k;
ALTER TABLE grp_ext ADD PRIMARY KEY (g);
-- as autovacuum would (it is off during the benchmark): hint bits,
-- visibility map, statistics
SELECT format('VACUUM (ANALYZE) %s', t) FROM unnest(bench.ext_tables()) AS t \gexec
VACUUM (ANALYZE) grp_ext;
SELECT bench.depth(bench.ext_tables());
