/* extension/codes--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION codes UPDATE TO '1.2'" to load this file. \quit

--
-- 1.2: correct on every PostgreSQL setup: parallel query, SERIALIZABLE,
-- triggers on the extension's tables, logical replication.
--

/*
 * Labels that say what the functions do.  code_query and code_status read
 * codes.batch with the latest snapshot (batch.c), not the caller's, and
 * through SPI: neither is STABLE, and neither may run in parallel mode, not
 * even in the leader, where the latest snapshot cannot be taken.
 * batch_codes calls code_status.
 */
ALTER FUNCTION codes.code_query(text) VOLATILE;
ALTER FUNCTION codes.code_status(integer, integer) VOLATILE PARALLEL UNSAFE;
ALTER FUNCTION codes.batch_codes(text) VOLATILE;

/*
 * Every backend forgets what it remembers of codes.batch when a row of it
 * changes.  Row triggers rather than one statement trigger, because the
 * logical replication apply worker fires row triggers only; and enabled
 * ALWAYS, so that they fire there and under session_replication_role =
 * replica too.  TRUNCATE has only statement triggers.  A backend caches
 * batches only while both triggers are enabled ALWAYS (batch.c).
 */
DROP TRIGGER batch_changed ON codes.batch;

CREATE TRIGGER batch_changed
	AFTER INSERT OR UPDATE OR DELETE ON codes.batch
	FOR EACH ROW EXECUTE FUNCTION codes.batch_changed();

CREATE TRIGGER batch_truncated
	AFTER TRUNCATE ON codes.batch
	FOR EACH STATEMENT EXECUTE FUNCTION codes.batch_changed();

ALTER TABLE codes.batch ENABLE ALWAYS TRIGGER batch_changed;
ALTER TABLE codes.batch ENABLE ALWAYS TRIGGER batch_truncated;

--
-- What a code grants, and why a use failed.
--

ALTER TABLE codes.batch ADD COLUMN metadata jsonb;

COMMENT ON COLUMN codes.batch.metadata IS
'What the batch''s codes grant, for the application: code_redeem and code_check return it.';

/*
 * Replace a function by one of another signature, giving every role that
 * could execute the old one EXECUTE on the new one.  For this script only:
 * dropped at its end.
 */
CREATE FUNCTION codes.carry_grants(old_function regprocedure, new_function regprocedure)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	grantee		text;
BEGIN
	FOR grantee IN
		SELECT DISTINCT r.rolname
		FROM pg_catalog.pg_proc AS p,
			 pg_catalog.aclexplode(p.proacl) AS a
			 JOIN pg_catalog.pg_roles AS r ON r.oid = a.grantee
		WHERE p.oid = old_function
		  AND a.privilege_type = 'EXECUTE'
		  AND a.grantee <> p.proowner
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I',
								  new_function, grantee);
	END LOOP;
END
$$;

-- code_query takes a redeemer, so that the brake counts its guesses too
ALTER FUNCTION codes.code_query(text) RENAME TO code_query_1_1;

CREATE FUNCTION codes.code_query(code text, redeemer text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'code_query'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION codes.code_query(text, text) FROM PUBLIC;
SELECT codes.carry_grants('codes.code_query_1_1(text)', 'codes.code_query(text, text)');
DROP FUNCTION codes.code_query_1_1(text);

COMMENT ON FUNCTION codes.code_query(text, text) IS
'Status of a code: NO EXISTED, TIMEINVALID, UNACTIVED (uses left) or ACTIVED (used up); with a redeemer, braked like code_use.';

CREATE FUNCTION codes.code_redeem(code text, redeemer text DEFAULT NULL,
								  OUT ok boolean, OUT reason text, OUT batch text,
								  OUT metadata jsonb, OUT uses_left integer,
								  OUT valid_until timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'code_redeem'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_redeem(text, text) IS
'Use a code as code_use does; one row: ok, why not (reason), and its batch, metadata, uses left and end of validity.';

CREATE FUNCTION codes.code_check(code text, redeemer text DEFAULT NULL,
								 OUT ok boolean, OUT reason text, OUT batch text,
								 OUT metadata jsonb, OUT uses_left integer,
								 OUT valid_until timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'code_check'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_check(text, text) IS
'What code_redeem would answer, without using the code; braked like code_use.';

REVOKE ALL ON FUNCTION codes.code_redeem(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_check(text, text) FROM PUBLIC;
SELECT codes.carry_grants('codes.code_use(text, text)', 'codes.code_redeem(text, text)');
SELECT codes.carry_grants('codes.code_use(text, text)', 'codes.code_check(text, text)');

DROP FUNCTION codes.carry_grants(regprocedure, regprocedure);
