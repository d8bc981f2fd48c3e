--
-- What CREATE EXTENSION creates, and that DROP EXTENSION removes it all.
--
CREATE EXTENSION codes;

-- everything lives in schema codes, a member of the extension
SELECT extname, extrelocatable FROM pg_extension WHERE extname = 'codes';

SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'codes')
  AND deptype = 'e'
ORDER BY 1;

-- both tables and the batch id sequence are dumped with their data
SELECT t::regclass AS dumped
FROM pg_extension, unnest(extconfig) AS t WHERE extname = 'codes'
ORDER BY t::regclass::text;

-- codes are stored as 16-byte keys, unique across all batches
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = 'codes.codes'::regclass AND a.attnum > 0
ORDER BY a.attnum;
SELECT indexrelid::regclass, indisunique, indisprimary
FROM pg_index WHERE indrelid = 'codes.codes'::regclass;

-- every function runs with the owner's rights and a pinned search_path
SELECT p.oid::regprocedure AS function, p.prosecdef, p.proconfig, p.provolatile
FROM pg_proc p
WHERE p.pronamespace = 'codes'::regnamespace
ORDER BY p.oid::regprocedure::text;

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

-- the extension cannot be moved to another schema
CREATE SCHEMA elsewhere;
ALTER EXTENSION codes SET SCHEMA elsewhere;
DROP SCHEMA elsewhere;

DROP EXTENSION codes;

-- a schema codes that exists already is not taken over
CREATE SCHEMA codes;
CREATE EXTENSION codes;
DROP SCHEMA codes;

-- nothing is left behind
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'codes';
SELECT count(*) AS functions_left FROM pg_proc WHERE proname LIKE 'code\_%';
