-- bench/build_ext.sql: a fresh extension holding s codes made by code_gen,
-- and grp_ext, the codes in random groups of k for the pgbench scripts
-- (psql variables s, k, and cols: "a[1] AS c1, ..., a[k] AS ck").
DROP TABLE IF EXISTS grp_ext;
DROP EXTENSION IF EXISTS codes;
CREATE EXTENSION codes;
CREATE TABLE grp_ext AS
SELECT g, :cols
FROM (SELECT n / :k AS g, array_agg(code) AS a
	  FROM (SELECT row_number() OVER (ORDER BY random()) - 1 AS n, c AS code
			FROM codes.code_gen(:s, now(), now() + interval '1 year' :genargs) AS c) AS p
	  GROUP BY 1) AS s
WHERE cardinality(a) = :k;
ALTER TABLE grp_ext ADD PRIMARY KEY (g);
-- as autovacuum would (it is off during the benchmark): hint bits,
-- visibility map, statistics
SELECT format('VACUUM (ANALYZE) %s', t) FROM unnest(bench.ext_tables()) AS t \gexec
VACUUM (ANALYZE) grp_ext;
SELECT bench.depth(bench.ext_tables());
