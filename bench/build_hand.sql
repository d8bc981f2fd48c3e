-- bench/build_hand.sql: a fresh hand_codes holding s codes made by its own
-- INSERT ... SELECT, and grp_hand, codes in random groups of k (as in
-- build_ext.sql).
DROP TABLE IF EXISTS grp_hand;
DROP TABLE IF EXISTS hand_codes;
\ir hand_table.sql
INSERT INTO hand_codes (code, batch, valid_from, valid_until)
SELECT gen_random_uuid(), 1, now(), now() + interval '1 year'
FROM generate_series(1, :s);
CREATE TABLE grp_hand AS
SELECT g, :cols
FROM (SELECT n / :k AS g, array_agg(code) AS a
	  FROM (SELECT row_number() OVER (ORDER BY random()) - 1 AS n,
				   code::text AS code
			FROM hand_codes
			WHERE random() < :frac) AS p
	  GROUP BY 1) AS s
WHERE cardinality(a) = :k;
ALTER TABLE grp_hand ADD PRIMARY KEY (g);
VACUUM (ANALYZE) hand_codes;
VACUUM (ANALYZE) grp_hand;
SELECT bench.depth('{hand_codes}');
