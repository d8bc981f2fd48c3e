--
-- The roles that hold the rights of codes serve one database each: roles
-- belong to the cluster, so a role granted codes_admin for one database
-- must not dump another database's codes.  codes_app and codes_admin serve
-- the first database that installs codes; another database gets roles of
-- its own, named after it (codes.roles names them).  And a role of these
-- names that existed before is taken only if nobody but a superuser can
-- use it or hand it out: NOLOGIN, no password, no attributes, nothing in
-- another database, every membership granted by a superuser, ADMIN OPTION
-- for superusers only.  The attacker here is a role with CREATEROLE
-- and no superuser rights.
--
\set regress_db :DBNAME
CREATE EXTENSION codes;
SELECT kind, role FROM codes.roles ORDER BY kind;
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, batch => 'here');
CREATE ROLE regress_alice;
GRANT codes_admin TO regress_alice;

-- a second database with codes: roles of its own, which must not serve
-- another database either
CREATE ROLE codes_app_regress_codes_other;
GRANT USAGE ON SCHEMA public TO codes_app_regress_codes_other;
CREATE DATABASE regress_codes_other;
\c regress_codes_other
-- (the error names the database, whose name pg_regress chooses)
\set VERBOSITY sqlstate
CREATE EXTENSION codes;
\c :regress_db
REVOKE USAGE ON SCHEMA public FROM codes_app_regress_codes_other;
\c regress_codes_other
CREATE EXTENSION codes;
SELECT kind, role FROM codes.roles ORDER BY kind;
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, batch => 'other');
CREATE ROLE regress_bob;
GRANT codes_admin_regress_codes_other TO regress_bob;

-- each admin reads the codes of their own database, not the other's
\set VERBOSITY terse
SET ROLE regress_alice;
SELECT count(*) FROM codes.batch_codes('other');
SELECT count(*) FROM codes.batches;
SELECT codes.code_use('no such code');
RESET ROLE;
SET ROLE regress_bob;
SELECT count(*) FROM codes.batch_codes('other');
RESET ROLE;
\c :regress_db
\set VERBOSITY terse
SET ROLE regress_bob;
SELECT count(*) FROM codes.batch_codes('here');
RESET ROLE;
SET ROLE regress_alice;
SELECT count(*) FROM codes.batch_codes('here');
RESET ROLE;

-- an update from 1.2, whose codes_app and codes_admin served every
-- database, moves a database to roles of its own while they serve another
\c regress_codes_other
\set VERBOSITY terse
DROP EXTENSION codes;
CREATE EXTENSION codes VERSION '1.2';
SET client_min_messages = error;
ALTER EXTENSION codes UPDATE;
RESET client_min_messages;
SELECT kind, role FROM codes.roles ORDER BY kind;
SELECT has_function_privilege('codes_admin', 'codes.batch_codes(text)', 'EXECUTE') AS codes_admin,
	   has_function_privilege('codes_admin_regress_codes_other', 'codes.batch_codes(text)', 'EXECUTE') AS own_admin;
DROP EXTENSION codes;
\c :regress_db
\set VERBOSITY terse
DROP DATABASE regress_codes_other;
DROP ROLE regress_bob, codes_app_regress_codes_other, codes_admin_regress_codes_other;

-- a reinstall takes the roles back, with the members a superuser gave them
DROP EXTENSION codes;
CREATE EXTENSION codes;
SET ROLE regress_alice;
SELECT count(*) FROM codes.batches;
RESET ROLE;
DROP EXTENSION codes;
DROP ROLE regress_alice;

-- roles made by a role with CREATEROLE and no superuser rights, before the
-- extension: refused until a superuser has made them harmless, or dropped.
-- (From 16 on, a role's creator holds ADMIN OPTION on it, which 1.2
-- refused already; a superuser takes it away here, so that what 1.3 adds
-- shows on every version.)
DROP ROLE codes_admin, codes_app;
CREATE ROLE regress_mallory CREATEROLE;
SET ROLE regress_mallory;
CREATE ROLE codes_admin LOGIN PASSWORD 'known';
CREATE ROLE regress_mallory_friend;
GRANT codes_admin TO regress_mallory_friend;
RESET ROLE;
SET client_min_messages = error;
REVOKE ADMIN OPTION FOR codes_admin FROM regress_mallory;
RESET client_min_messages;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE EXTENSION codes;
ALTER ROLE codes_admin NOLOGIN;
CREATE EXTENSION codes;
ALTER ROLE codes_admin PASSWORD NULL;
CREATE EXTENSION codes;
\set SHOW_CONTEXT errors
\set VERBOSITY terse
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'codes';
-- a role a superuser made and gave: taken
DROP ROLE codes_admin;
CREATE ROLE codes_admin;
GRANT codes_admin TO regress_mallory_friend;
CREATE EXTENSION codes;
SELECT r.rolname, r.rolcanlogin, m.member::regrole AS member
FROM pg_roles r LEFT JOIN pg_auth_members m ON m.roleid = r.oid
WHERE r.rolname IN ('codes_app', 'codes_admin') ORDER BY 1, 3;
DROP EXTENSION codes;
DROP ROLE regress_mallory_friend, regress_mallory;
