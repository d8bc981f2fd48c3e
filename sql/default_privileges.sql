--
-- The installing role's default privileges reach none of the extension's
-- objects: after CREATE EXTENSION, and after the update from each older
-- version, every object has exactly its owner's rights and those codes
-- grants to this database's app and admin roles (codes.roles), in
-- pg_init_privs too, so that pg_dump shows what was granted later.  A role
-- that default privileges gave TRIGGER on codes.codes before 1.3 cannot
-- keep a trigger there through the update: the update refuses while the
-- trigger's function is the role's (its trigger would have run inside
-- code_use with the owner's rights, and made the role superuser).
--
CREATE ROLE regress_owner_app;
CREATE SCHEMA regress_own AUTHORIZATION regress_owner_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO regress_owner_app, PUBLIC;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO regress_owner_app;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO regress_owner_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO regress_owner_app;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TYPES TO regress_owner_app;

-- an ACL as a list of who:privilege, the owner and this database's roles
-- of codes by their part (the functions read codes.roles, which comes and
-- goes with the extension)
SET check_function_bodies = off;
-- (the owner's rights are "owner" when they are all an owner has by default)
CREATE FUNCTION pg_temp.rights(acl aclitem[], owner oid, kind "char") RETURNS text
LANGUAGE sql AS $$
SELECT string_agg(who || CASE WHEN who = 'owner' AND privs = (
									SELECT string_agg(d.privilege_type, ',' ORDER BY d.privilege_type)
									FROM aclexplode(acldefault(kind, owner)) d WHERE d.grantee = owner)
							  THEN '' ELSE ':' || privs END, ' ' ORDER BY who)
FROM (SELECT CASE WHEN a.grantee = owner THEN 'owner'
				  WHEN a.grantee = 0 THEN 'PUBLIC'
				  ELSE coalesce((SELECT r.kind FROM codes.roles r WHERE r.role = a.grantee),
								a.grantee::regrole::text) END AS who,
			 string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END,
						',' ORDER BY a.privilege_type) AS privs
	  FROM aclexplode(coalesce(acl, acldefault(kind, owner))) a
	  GROUP BY 1) AS g
$$;
-- every member of the extension with its rights, those pg_init_privs
-- records, and its columns' (none)
CREATE FUNCTION pg_temp.members()
RETURNS TABLE (object text, rights text, initial text, columns bigint)
LANGUAGE sql AS $$
SELECT pg_describe_object(m.classid, m.objid, 0), pg_temp.rights(m.acl, m.owner, m.kind),
	   pg_temp.rights(i.initprivs, m.owner, m.kind), cardinality(m.column_acl)
FROM codes.member_acls() m
	LEFT JOIN pg_init_privs i ON i.classoid = m.classid AND i.objoid = m.objid AND i.objsubid = 0
$$;
RESET check_function_bodies;

-- a fresh install: a warning, whose detail lists what was left out
\set VERBOSITY terse
CREATE EXTENSION codes;
SELECT kind, role FROM codes.roles ORDER BY kind;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.members();
SELECT object, rights, initial IS NOT DISTINCT FROM rights AS same_initial, columns
FROM fresh ORDER BY object;

-- the role that the defaults name can neither read a code nor attach one
SET ROLE regress_owner_app;
SELECT count(*) FROM codes.codes;
CREATE FUNCTION regress_own.escalate() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN ALTER ROLE regress_owner_app SUPERUSER; RETURN NEW; END$$;
CREATE TRIGGER escalate BEFORE UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION regress_own.escalate();
SELECT codes.batch_codes('any');
RESET ROLE;
DROP EXTENSION codes;

-- each older version, updated, ends as the fresh install did
SET client_min_messages = error;
CREATE EXTENSION codes VERSION '1.0';
ALTER EXTENSION codes UPDATE;
RESET client_min_messages;
(SELECT * FROM pg_temp.members() EXCEPT SELECT * FROM fresh)
UNION ALL
(SELECT * FROM fresh EXCEPT SELECT * FROM pg_temp.members());
DROP EXTENSION codes;

SET client_min_messages = error;
CREATE EXTENSION codes VERSION '1.1';
ALTER EXTENSION codes UPDATE;
RESET client_min_messages;
(SELECT * FROM pg_temp.members() EXCEPT SELECT * FROM fresh)
UNION ALL
(SELECT * FROM fresh EXCEPT SELECT * FROM pg_temp.members());
DROP EXTENSION codes;

-- 1.2, where the defaults gave regress_owner_app TRIGGER on codes.codes:
-- its trigger would make it superuser at the next use (a new library
-- refuses that use until the update, sql/version.sql)
CREATE EXTENSION codes VERSION '1.2';
SET ROLE regress_owner_app;
CREATE TRIGGER escalate BEFORE UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION regress_own.escalate();
RESET ROLE;
\set VERBOSITY default
\set SHOW_CONTEXT never
ALTER EXTENSION codes UPDATE;
\set SHOW_CONTEXT errors
\set VERBOSITY terse
SELECT extversion FROM pg_extension WHERE extname = 'codes';
-- the update goes through once the trigger is gone
DROP TRIGGER escalate ON codes.codes;
SET client_min_messages = error;
ALTER EXTENSION codes UPDATE;
RESET client_min_messages;
(SELECT * FROM pg_temp.members() EXCEPT SELECT * FROM fresh)
UNION ALL
(SELECT * FROM fresh EXCEPT SELECT * FROM pg_temp.members());
SET ROLE regress_owner_app;
CREATE TRIGGER escalate BEFORE UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION regress_own.escalate();
RESET ROLE;
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, batch => 'used');
SELECT codes.code_use(code) FROM codes.batch_codes('used') LIMIT 1;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_owner_app';
DROP EXTENSION codes;

ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM regress_owner_app, PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE ALL ON SEQUENCES FROM regress_owner_app;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM regress_owner_app;
ALTER DEFAULT PRIVILEGES REVOKE ALL ON SCHEMAS FROM regress_owner_app;
ALTER DEFAULT PRIVILEGES REVOKE ALL ON TYPES FROM regress_owner_app;
DROP SCHEMA regress_own CASCADE;
DROP TABLE fresh;
DROP FUNCTION pg_temp.members(), pg_temp.rights(aclitem[], oid, "char");
DROP ROLE regress_owner_app;
