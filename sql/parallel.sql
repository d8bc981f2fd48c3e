--
-- Parallel query: every function is labelled by what it does, so that a
-- plan never runs one where it cannot work.  With parallel costs at zero
-- the planner takes a parallel plan for any table, so a small batch shows
-- what a table of millions of codes would.
--
CREATE EXTENSION codes;

SELECT count(*) FROM codes.code_gen(2000, NULL, NULL, batch => 'export');
SELECT count(*) FROM codes.code_gen(100, NULL, NULL, batch => 'other');
SELECT count(codes.code_use(s.code)) FROM (
	SELECT c.code::text AS code FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
	WHERE b.name = 'export' LIMIT 500) AS s;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET min_parallel_index_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- a scan of the codes is parallel now
EXPLAIN (COSTS OFF) SELECT count(*) FROM codes.codes c WHERE c.uses = 0;

-- the README's CSV export (XX000 while code_status was PARALLEL SAFE)
SELECT status, count(*) FROM codes.batch_codes('export') GROUP BY status ORDER BY status;

-- code_status reads the batch with the latest snapshot, which a parallel
-- plan cannot take: it keeps its query serial
EXPLAIN (COSTS OFF)
SELECT codes.code_status(c.batch, c.uses) FROM codes.codes c WHERE c.uses = 0;
SELECT codes.code_status(c.batch, c.uses) AS status, count(*)
FROM codes.codes c GROUP BY 1 ORDER BY 1;

-- the views and the other functions in parallel plans
SELECT name, issued, used_up FROM codes.batches ORDER BY name;
SELECT count(*) FROM codes.redemptions;
SELECT count(*) FILTER (WHERE codes.code_query(c.code::text) = 'ACTIVED') AS used,
	   count(*) FILTER (WHERE codes.code_valid(c.code::text, 'X#')) AS valid
FROM codes.codes c;

DROP EXTENSION codes;
