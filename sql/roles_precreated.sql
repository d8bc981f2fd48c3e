--
-- A role of the names codes uses that exists before CREATE EXTENSION is
-- taken only if nobody but a superuser can use it or hand it out: NOLOGIN,
-- no password, no attributes, every membership granted by a superuser,
-- ADMIN OPTION for superusers only.  The attacker is a role with
-- CREATEROLE and no superuser rights, who makes codes_admin first.
-- From PostgreSQL 16 on, a role's creator holds ADMIN OPTION on it, which
-- 1.2 refused already, and a role needs ADMIN OPTION to grant a role;
-- roles_precreated_1.out is the output there.
--
-- (the roles that earlier tests' installs made go first)
DROP ROLE IF EXISTS codes_admin, codes_app;
CREATE ROLE regress_mallory CREATEROLE;
CREATE ROLE regress_mallory_friend;
SET ROLE regress_mallory;
CREATE ROLE codes_admin LOGIN PASSWORD 'known';
RESET ROLE;
-- (from 16 on, the superuser takes away the ADMIN OPTION its creator
-- holds, so that what 1.3 adds shows)
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
DROP EXTENSION codes;

-- a member of the attacker's own (on 15, CREATEROLE grants any role that
-- is not a superuser; from 16 on, it takes ADMIN OPTION)
SET ROLE regress_mallory;
GRANT codes_admin TO regress_mallory_friend;
RESET ROLE;
CREATE EXTENSION codes;
\set SHOW_CONTEXT errors
\set VERBOSITY terse
DROP EXTENSION IF EXISTS codes;

-- a role a superuser made and gave is taken, with its members
DROP ROLE codes_admin;
CREATE ROLE codes_admin;
GRANT codes_admin TO regress_mallory_friend;
CREATE EXTENSION codes;
SELECT r.rolname, r.rolcanlogin, m.member::regrole AS member
FROM pg_roles r LEFT JOIN pg_auth_members m ON m.roleid = r.oid
WHERE r.rolname IN ('codes_app', 'codes_admin') ORDER BY 1, 3;
DROP EXTENSION codes;
DROP ROLE regress_mallory_friend, regress_mallory;
