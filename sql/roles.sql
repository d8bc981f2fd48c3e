--
-- The roles that hold the rights of codes serve one database each: roles
-- belong to the cluster, so a role granted codes_admin for one database
-- must not dump another database's codes.  codes_app and codes_admin serve
-- the first database that installs codes; another database gets roles of
-- its own, named after it (codes.roles names them).  A role that exists
-- already is taken back by a reinstall, with the members a superuser gave
-- it (sql/roles_precreated.sql: roles that others made).
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
