--
-- PUBLIC gets nothing; the ready-made roles codes_app and codes_admin,
-- granted as the README shows, give an application the braked calls and
-- an admin everything else, but no internal helper.
--
CREATE EXTENSION codes;

SELECT has_schema_privilege('public', 'codes', 'USAGE') AS public_usage;
SELECT p.oid::regprocedure AS function,
	   has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p WHERE p.pronamespace = 'codes'::regnamespace ORDER BY p.proname;
SELECT c.oid::regclass AS relation,
	   has_table_privilege('public', c.oid, 'SELECT') AS public_select
FROM pg_class c WHERE c.relnamespace = 'codes'::regnamespace AND c.relkind IN ('r', 'S')
ORDER BY c.relname;

CREATE TABLE c AS SELECT code FROM codes.code_gen(3, NULL, NULL) AS code;
GRANT SELECT ON c TO PUBLIC;

CREATE ROLE regress_codes_nobody;
CREATE ROLE regress_codes_app;
CREATE ROLE regress_codes_admin;

-- the ready-made roles: NOLOGIN, the admin a member of the application
SELECT r.rolname, r.rolcanlogin, pg_has_role('codes_admin', 'codes_app', 'MEMBER') AS admin_is_app
FROM pg_roles r WHERE r.rolname IN ('codes_app', 'codes_admin') ORDER BY 1;
SELECT p.oid::regprocedure AS function,
	   has_function_privilege('codes_app', p.oid, 'EXECUTE') AS app,
	   has_function_privilege('codes_admin', p.oid, 'EXECUTE') AS admin
FROM pg_proc p WHERE p.pronamespace = 'codes'::regnamespace ORDER BY p.proname;

-- the README's GRANTs
GRANT codes_app TO regress_codes_app;
GRANT codes_admin TO regress_codes_admin;

-- a role without grants is refused everything
SET ROLE regress_codes_nobody;
SELECT codes.code_gen(1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.codes;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- even with USAGE on the schema, no function runs without EXECUTE
GRANT USAGE ON SCHEMA codes TO regress_codes_nobody;
SET ROLE regress_codes_nobody;
SELECT codes.code_gen(1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_undo(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_del('batch-1');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.batches;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.batch;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- the application uses, redeems, checks and queries, and nothing else
SET ROLE regress_codes_app;
SELECT codes.code_use(code) FROM (SELECT code FROM c ORDER BY code LIMIT 1) s;
SELECT codes.code_query(code) FROM (SELECT code FROM c ORDER BY code LIMIT 1) s;
SELECT (codes.code_redeem(code, 'app')).reason FROM (SELECT code FROM c ORDER BY code LIMIT 1) s;
SELECT (codes.code_check(code, 'app')).reason FROM (SELECT code FROM c ORDER BY code LIMIT 1) s;
SELECT codes.code_normalize(upper(code)) = code AS normalized FROM (SELECT code FROM c ORDER BY code LIMIT 1) s;
SELECT codes.batch_id('batch-1');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del(code) FROM c LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.codes;
\echo :LAST_ERROR_SQLSTATE
UPDATE codes.codes SET uses = 0;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- the admin does everything, through the functions and views only
SET ROLE regress_codes_admin;
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, batch => 'by admin');
SELECT codes.batch_revoke('by admin'), codes.batch_extend('by admin', NULL),
	   codes.batch_unrevoke('by admin'), codes.batch_set_metadata('by admin', '{}');
SELECT codes.batch_purge(now(), dry_run => true);
SELECT name, issued, used_up FROM codes.batches ORDER BY name;
SELECT count(*) FROM codes.batch_codes('by admin');
SELECT count(*) FROM codes.redemptions;
SELECT codes.code_use(code) FROM (SELECT code FROM c ORDER BY code DESC LIMIT 1) s;
SELECT codes.code_query(code) FROM (SELECT code FROM c ORDER BY code DESC LIMIT 1) s;
SELECT codes.code_del(code) FROM (SELECT code FROM c ORDER BY code DESC LIMIT 1) s;
SELECT count(*) FROM codes.batch;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.drop_batches(ARRAY[1]);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_status(1, 0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SELECT codes.code_query(code) AS status, count(*) FROM c GROUP BY 1 ORDER BY 1;
SELECT name FROM codes.batch ORDER BY id;

DROP TABLE c;
DROP EXTENSION codes;
DROP ROLE regress_codes_nobody, regress_codes_app, regress_codes_admin;

-- DROP EXTENSION leaves the ready-made roles, which have no rights left
SELECT r.rolname FROM pg_roles r WHERE r.rolname IN ('codes_app', 'codes_admin') ORDER BY 1;

-- a role of these names that a role without superuser rights may grant
-- (from 16 on, its creator may) is refused rather than given the rights
CREATE ROLE regress_codes_mallory;
GRANT codes_admin TO regress_codes_mallory WITH ADMIN OPTION;
\set VERBOSITY terse
CREATE EXTENSION codes;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
REVOKE codes_admin FROM regress_codes_mallory;
DROP ROLE regress_codes_mallory;
CREATE EXTENSION codes;
DROP EXTENSION codes;
