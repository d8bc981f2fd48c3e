--
-- What CREATE EXTENSION creates, and that DROP EXTENSION removes it all.
--
CREATE EXTENSION codes;

-- everything lives in schema codes, a member of the extension
SELECT extname, extrelocatable FROM pg_extension WHERE extname = 'codes';

-- (without the row types of its tables and views, and their array types,
-- which PostgreSQL 18 records as members too: they come with the relation)
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'codes')
  AND deptype = 'e'
  AND NOT (classid = 'pg_type'::regclass AND EXISTS (
	SELECT FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem
	WHERE t.oid = objid AND (t.typrelid <> 0 OR e.typrelid <> 0)))
ORDER BY 1;

-- both tables and the batch id sequence are dumped with their data
SELECT unnest(extconfig)::regclass::text AS dumped
FROM pg_extension WHERE extname = 'codes'
ORDER BY 1;

-- codes are stored as 16-byte keys, unique across all batches
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = 'codes.codes'::regclass AND a.attnum > 0
ORDER BY a.attnum;
SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'codes.codes'::regclass ORDER BY 1;

-- the four operations run with the owner's rights and a pinned search_path;
-- key_fold, the unique index's expression, is a plain immutable function
SELECT p.oid::regprocedure AS function, p.prosecdef, p.proconfig, p.provolatile,
       p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'codes'::regnamespace
ORDER BY p.proname;

-- codes.batch tells every backend of its changes, by triggers that fire in
-- the logical replication apply worker too (enabled ALWAYS: tgenabled A)
SELECT t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t
WHERE t.tgrelid = 'codes.batch'::regclass AND NOT t.tgisinternal
ORDER BY t.tgname;

-- every function and table has a comment
SELECT count(*) AS uncommented
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'codes')
  AND d.deptype = 'e'
  AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass)
  AND NOT (d.classid = 'pg_class'::regclass
		   AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S')
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL;

-- without Citus, codes.distribute() says so and changes nothing
SELECT count(*) FROM codes.code_gen(3, NULL, NULL, batch => 'kept');
SELECT codes.distribute();
SELECT count(*) FROM codes.codes;
SELECT relname FROM pg_class
WHERE relnamespace = 'codes'::regnamespace AND relkind = 'r' ORDER BY relname;
SELECT codes.batch_del('kept');

-- the extension cannot be moved to another schema
CREATE SCHEMA elsewhere;
ALTER EXTENSION codes SET SCHEMA elsewhere;
DROP SCHEMA elsewhere;

DROP EXTENSION codes;

-- a schema codes that exists already is not taken over (without the
-- CONTEXT line that PostgreSQL 18 adds, naming the line of the script)
CREATE SCHEMA codes;
\set SHOW_CONTEXT never
CREATE EXTENSION codes;
\set SHOW_CONTEXT errors
DROP SCHEMA codes;

-- nothing is left behind
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'codes';
SELECT count(*) AS functions_left FROM pg_proc WHERE proname LIKE 'code\_%';
