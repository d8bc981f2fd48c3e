-- bench/helpers.sql: helper functions of the benchmark, in schema bench.
-- They find the extension's tables through pg_depend rather than by name,
-- so the benchmark keeps measuring whatever tables the extension has.

CREATE EXTENSION IF NOT EXISTS pageinspect;	-- bt_metap(), for index depth
CREATE SCHEMA bench;

-- The tables that belong to extension codes.
CREATE FUNCTION bench.ext_tables() RETURNS regclass[]
LANGUAGE sql STABLE AS $$
	SELECT coalesce(array_agg(c.oid::regclass ORDER BY c.oid), '{}')
	FROM pg_depend d
	JOIN pg_class c ON c.oid = d.objid
	WHERE d.classid = 'pg_class'::regclass
	  AND d.refclassid = 'pg_extension'::regclass
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'codes')
	  AND d.deptype = 'e'
	  AND c.relkind IN ('r', 'p')
$$;

-- Bytes on disk of some tables: heap (main fork), all their indexes, and
-- the total (heap, indexes, TOAST, free space and visibility maps).
CREATE FUNCTION bench.size(rels regclass[],
						   OUT heap bigint, OUT idx bigint, OUT total bigint)
LANGUAGE sql STABLE AS $$
	SELECT sum(pg_relation_size(r)), sum(pg_indexes_size(r)),
		   sum(pg_total_relation_size(r))
	FROM unnest(rels) AS r
$$;

-- Depth of the deepest B-tree index of some tables (1 = root is a leaf).
CREATE FUNCTION bench.depth(rels regclass[]) RETURNS integer
LANGUAGE sql STABLE AS $$
	SELECT max(m.level) + 1
	FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid
	JOIN pg_am a ON a.oid = c.relam AND a.amname = 'btree'
	CROSS JOIN LATERAL bt_metap(i.indexrelid::regclass::text) AS m
	WHERE i.indrelid = ANY (rels)
$$;
