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

--
-- The admin's footguns.
--

/*
 * A revocation stands until batch_unrevoke lifts it: extending a
 * campaign's batches must not revive a leaked one.
 */
CREATE OR REPLACE FUNCTION codes.batch_extend(batch text, valid_until timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	start	timestamptz;
BEGIN
	SELECT b.valid_from INTO start FROM codes.batch AS b WHERE b.id = batch_no;
	IF valid_until < start THEN
		RAISE EXCEPTION 'valid_until must not be before valid_from'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('valid_from is %s, valid_until is %s.', start, valid_until);
	END IF;
	UPDATE codes.batch AS b SET valid_until = batch_extend.valid_until
	WHERE b.id = batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch = batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_extend(text, timestamptz) IS
'Give a batch a new end of validity (NULL = open); a revocation stands. Returns the number of its codes.';

/*
 * Revoke with a WHERE, not COALESCE(revoked_at, now()): Citus refuses
 * functions that are not IMMUTABLE inside CASE and COALESCE in writes to a
 * distributed table.  A batch revoked before keeps its first revocation.
 */
CREATE OR REPLACE FUNCTION codes.batch_revoke(batch text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
BEGIN
	UPDATE codes.batch AS b SET revoked_at = pg_catalog.now()
	WHERE b.id = batch_no AND b.revoked_at IS NULL;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch = batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_revoke(text) IS
'End a batch now: its codes fail to use and query as TIMEINVALID until batch_unrevoke; returns the number of its codes.';

CREATE FUNCTION codes.batch_unrevoke(batch text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
BEGIN
	UPDATE codes.batch AS b SET revoked_at = NULL WHERE b.id = batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch = batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_unrevoke(text) IS
'Lift a batch''s revocation: its codes work again inside their period; returns the number of its codes.';

CREATE FUNCTION codes.batch_set_metadata(batch text, metadata jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
BEGIN
	UPDATE codes.batch AS b SET metadata = batch_set_metadata.metadata WHERE b.id = batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch = batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_set_metadata(text, jsonb) IS
'Set what a batch''s codes grant (NULL: nothing); returns the number of its codes.';

/*
 * batch_purge refuses a cutoff in the future (a year's typo deleted every
 * campaign), and with dry_run only counts.
 */
ALTER FUNCTION codes.batch_purge(timestamptz) RENAME TO batch_purge_1_1;

CREATE FUNCTION codes.batch_purge(ended_before timestamptz, dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_ids	integer[];
BEGIN
	IF ended_before IS NULL THEN
		RAISE EXCEPTION 'ended_before must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF dry_run IS NULL THEN
		RAISE EXCEPTION 'dry_run must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF ended_before > pg_catalog.now() THEN
		RAISE EXCEPTION 'ended_before must not be later than now'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('ended_before is %s, now is %s.', ended_before, pg_catalog.now()),
				  HINT = 'Batches that have not ended yet are never purged; to end one now, use codes.batch_revoke.';
	END IF;
	IF dry_run THEN
		RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
				WHERE c.batch IN (SELECT b.id FROM codes.batch AS b
								  WHERE b.valid_until < ended_before OR b.revoked_at < ended_before));
	END IF;
	SELECT pg_catalog.array_agg(e.id) INTO batch_ids
	FROM (SELECT b.id FROM codes.batch AS b
		  WHERE b.valid_until < ended_before OR b.revoked_at < ended_before
		  FOR UPDATE) AS e;
	RETURN codes.drop_batches(COALESCE(batch_ids, '{}'));
END
$$;

REVOKE ALL ON FUNCTION codes.batch_purge(timestamptz, boolean) FROM PUBLIC;
SELECT codes.carry_grants('codes.batch_purge_1_1(timestamptz)', 'codes.batch_purge(timestamptz, boolean)');
DROP FUNCTION codes.batch_purge_1_1(timestamptz);

COMMENT ON FUNCTION codes.batch_purge(timestamptz, boolean) IS
'Delete every batch whose validity ended (or that was revoked) before a past time, with all its codes and history; returns the number of codes deleted (with dry_run: that would be).';

/*
 * drop_batches deletes the codes first and then their history, in the
 * order code_use, code_undo and code_del take them: in the other order a
 * batch_del and a code_del of one of its codes could deadlock.
 */
CREATE OR REPLACE FUNCTION codes.drop_batches(batch_ids integer[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	deleted	bigint;
BEGIN
	DELETE FROM codes.codes AS c WHERE c.batch = ANY (batch_ids);
	GET DIAGNOSTICS deleted = ROW_COUNT;
	DELETE FROM codes.redemption_log AS l WHERE l.batch = ANY (batch_ids);
	DELETE FROM codes.batch AS b WHERE b.id = ANY (batch_ids);
	RETURN deleted;
END
$$;

/*
 * batch_codes computes each status in a MATERIALIZED CTE's rows, not in
 * the scan of codes.codes: on Citus a function in the scan's target list
 * runs on the workers, where code_status cannot read codes.batch (a
 * distributed query from a query on a shard).
 */
CREATE OR REPLACE FUNCTION codes.batch_codes(batch text)
RETURNS TABLE (code text, status text, uses integer, used_at timestamptz, used_by text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch);
	hashed		boolean;
BEGIN
	SELECT b.key_id IS NOT NULL INTO hashed FROM codes.batch AS b WHERE b.id = batch_no;
	RETURN QUERY
		WITH own AS MATERIALIZED (
			SELECT c.code, c.shown, c.batch, c.uses, c.used_at, c.used_by
			FROM codes.codes AS c WHERE c.batch = batch_no)
		SELECT CASE WHEN NOT hashed THEN COALESCE(own.shown, own.code::text) END,
			   codes.code_status(own.batch, own.uses), own.uses, own.used_at, own.used_by
		FROM own;
END
$$;

/* Each batch's metadata and state, at the end (a view only grows there). */
CREATE OR REPLACE VIEW codes.batches AS
SELECT b.name, b.created_at, b.valid_from, b.valid_until, b.revoked_at,
	   b.pattern, b.key_id, b.max_uses, b.max_uses_per_redeemer,
	   COALESCE(s.issued, 0) AS issued,
	   COALESCE(s.used_up, 0) AS used_up,
	   COALESCE(s.uses_left, 0) AS uses_left,
	   b.metadata,
	   CASE WHEN b.revoked_at IS NOT NULL THEN 'revoked'
			WHEN b.valid_from > pg_catalog.now() THEN 'not_yet_valid'
			WHEN b.valid_until < pg_catalog.now() THEN 'expired'
			ELSE 'active' END AS state
FROM codes.batch AS b
	LEFT JOIN (
		SELECT c.batch,
			   pg_catalog.count(*) AS issued,
			   pg_catalog.count(*) FILTER (WHERE c.uses >= cb.max_uses) AS used_up,
			   pg_catalog.sum(cb.max_uses - c.uses) AS uses_left
		FROM codes.codes AS c JOIN codes.batch AS cb ON cb.id = c.batch
		GROUP BY c.batch) AS s ON s.batch = b.id;

COMMENT ON VIEW codes.batches IS
'Each batch with its period, uses per code, counts of codes issued, codes used up and uses left, its metadata, and its state: active, not_yet_valid, expired or revoked.';

REVOKE ALL ON FUNCTION codes.batch_unrevoke(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_set_metadata(text, jsonb) FROM PUBLIC;
SELECT codes.carry_grants('codes.batch_revoke(text)', 'codes.batch_unrevoke(text)');
SELECT codes.carry_grants('codes.batch_extend(text, timestamptz)', 'codes.batch_set_metadata(text, jsonb)');

-- code_gen takes the new batch's metadata
ALTER FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text)
	RENAME TO code_gen_1_1;

CREATE FUNCTION codes.code_gen(num integer,
							   valid_from timestamptz,
							   valid_until timestamptz,
							   pattern text DEFAULT NULL,
							   max_uses integer DEFAULT 1,
							   batch text DEFAULT NULL,
							   max_uses_per_redeemer integer DEFAULT NULL,
							   store text DEFAULT 'plain',
							   metadata jsonb DEFAULT NULL)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'code_gen'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb) FROM PUBLIC;
SELECT codes.carry_grants('codes.code_gen_1_1(integer, timestamptz, timestamptz, text, integer, text, integer, text)',
						  'codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb)');
DROP FUNCTION codes.code_gen_1_1(integer, timestamptz, timestamptz, text, integer, text, integer, text);

COMMENT ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb) IS
'Create a batch of num new codes valid from valid_from to valid_until (inclusive, NULL = open) and return them.';

/*
 * The one normal form of a code, for applications that store what a user
 * typed.  It reads the shapes of the batches with the latest snapshot.
 */
CREATE FUNCTION codes.code_normalize(code text)
RETURNS text
AS 'MODULE_PATHNAME', 'code_normalize'
LANGUAGE C VOLATILE STRICT SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_normalize(text) IS
'A code as handed out, for text as a person may have typed it; NULL when the text has no batch''s shape. Looks up no code.';

REVOKE ALL ON FUNCTION codes.code_normalize(text) FROM PUBLIC;
SELECT codes.carry_grants('codes.code_use(text, text)', 'codes.code_normalize(text)');

--
-- How far running generations are (progress.c): slots in shared memory,
-- which need codes in shared_preload_libraries.
--
CREATE FUNCTION codes.generations(OUT pid integer, OUT batch text,
								  OUT codes_done bigint, OUT codes_total bigint,
								  OUT started timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'generations'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION codes.generations() IS
'The code_gen calls running in this database, with how many codes each has written; read view codes.generation_progress.';

CREATE VIEW codes.generation_progress AS
SELECT g.pid, g.batch, g.codes_done, g.codes_total,
	   pg_catalog.round(100.0 * g.codes_done / g.codes_total, 1) AS percent,
	   g.started
FROM codes.generations() AS g;

COMMENT ON VIEW codes.generation_progress IS
'Each code_gen call running in this database: its backend, batch, codes written of how many, and when it started.';

REVOKE ALL ON FUNCTION codes.generations() FROM PUBLIC;
REVOKE ALL ON TABLE codes.generation_progress FROM PUBLIC;

/*
 * Scaling out with Citus (README.md, Scaling out): run once on the
 * coordinator.  codes.codes and codes.redemption_log are distributed by
 * code, colocated, so that every statement about one code goes to one
 * shard; codes.batch, small and read by every use, becomes a reference
 * table, a copy on every node.  Two Citus settings are lifted for this
 * call only (each is restored before it returns):
 * citus.enable_unsafe_triggers, because codes.batch has the triggers that
 * tell every backend of a changed batch (they then fire on each copy), and
 * citus.allow_unsafe_constraints, because the unique index on
 * key_fold(code) and redemption_log's key do not include the distribution
 * column.  Both stay sound: a code always hashes to the same shard, so two
 * rows of one code would meet in one shard's unique index, and every
 * look-up compares the code itself besides its fold; redemption_log's ids
 * come from the coordinator's sequence, since the functions run only on
 * the coordinator (batch.c refuses them on a worker).  The coordinator's
 * own copies of the rows, which Citus leaves behind, are emptied.  Tables
 * Citus already manages are left as they are.
 */
CREATE FUNCTION codes.distribute()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	triggers_was	text;
	constraints_was	text;
	misplaced	pg_catalog.regclass;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
		RAISE EXCEPTION 'extension "citus" is not installed'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Install Citus, add citus to shared_preload_libraries, CREATE EXTENSION citus, and call codes.distribute() again on the coordinator.';
	END IF;
	IF NOT pg_catalog.citus_is_coordinator() THEN
		RAISE EXCEPTION 'codes.distribute() must run on the coordinator'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Connect to the coordinator, and add it with citus_set_coordinator_host() if it is not yet in the metadata.';
	END IF;
	/*
	 * A table Citus manages already is left as it is, so it must be placed
	 * as codes needs: otherwise a code would not hash to one shard, and
	 * the unique fold index would not keep codes unique.
	 */
	SELECT p.logicalrelid INTO misplaced
	FROM pg_catalog.pg_dist_partition AS p
	WHERE p.logicalrelid IN ('codes.batch'::pg_catalog.regclass, 'codes.codes'::pg_catalog.regclass,
							 'codes.redemption_log'::pg_catalog.regclass)
	  AND NOT CASE WHEN p.logicalrelid = 'codes.batch'::pg_catalog.regclass
			THEN p.partmethod = 'n' AND p.repmodel = 't'
			ELSE p.partmethod = 'h'
				AND pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) = 'code'
				AND p.colocationid IS NOT DISTINCT FROM
					(SELECT c.colocationid FROM pg_catalog.pg_dist_partition AS c
					 WHERE c.logicalrelid = 'codes.codes'::pg_catalog.regclass)
			END
	LIMIT 1;
	IF misplaced IS NOT NULL THEN
		RAISE EXCEPTION 'table % is distributed otherwise than codes needs', misplaced
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'codes needs codes.batch as a reference table, and codes.codes and codes.redemption_log distributed by code and colocated.',
				  HINT = 'Let codes.distribute() place the tables: call it after CREATE EXTENSION codes, before distributing any of them by hand.';
	END IF;
	triggers_was := pg_catalog.current_setting('citus.enable_unsafe_triggers');
	constraints_was := pg_catalog.current_setting('citus.allow_unsafe_constraints');
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	PERFORM pg_catalog.set_config('citus.allow_unsafe_constraints', 'on', true);

	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
				   WHERE p.logicalrelid = 'codes.batch'::pg_catalog.regclass) THEN
		PERFORM pg_catalog.create_reference_table('codes.batch');
		PERFORM pg_catalog.truncate_local_data_after_distributing_table('codes.batch');
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
				   WHERE p.logicalrelid = 'codes.codes'::pg_catalog.regclass) THEN
		PERFORM pg_catalog.create_distributed_table('codes.codes', 'code');
		PERFORM pg_catalog.truncate_local_data_after_distributing_table('codes.codes');
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
				   WHERE p.logicalrelid = 'codes.redemption_log'::pg_catalog.regclass) THEN
		PERFORM pg_catalog.create_distributed_table('codes.redemption_log', 'code',
													colocate_with => 'codes.codes');
		PERFORM pg_catalog.truncate_local_data_after_distributing_table('codes.redemption_log');
	END IF;

	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', triggers_was, true);
	PERFORM pg_catalog.set_config('citus.allow_unsafe_constraints', constraints_was, true);
END
$$;

REVOKE ALL ON FUNCTION codes.distribute() FROM PUBLIC;

COMMENT ON FUNCTION codes.distribute() IS
'On Citus, run once on the coordinator: distribute codes.codes and codes.redemption_log by code and make codes.batch a reference table.';

--
-- Ready-made roles, so that nobody needs GRANT ... ON ALL FUNCTIONS IN
-- SCHEMA codes, which would hand out the internal helpers too.  Roles
-- belong to the cluster, not to a database: they are created only if
-- absent (a second database's CREATE EXTENSION finds them), and DROP
-- EXTENSION leaves them.  NOLOGIN: grant them to the roles that log in.
--
DO $$
DECLARE
	suspect		text;
BEGIN
	/*
	 * A role of these names that someone other than a superuser can hand
	 * out would hand out the extension's rights: from PostgreSQL 16 on, a
	 * role's creator without superuser rights holds ADMIN on it.  Refuse
	 * such a role rather than grant to it.
	 */
	SELECT ro.rolname INTO suspect
	FROM pg_catalog.pg_roles AS ro
		JOIN pg_catalog.pg_auth_members AS m ON m.roleid = ro.oid
		JOIN pg_catalog.pg_roles AS holder ON holder.oid = m.member
	WHERE ro.rolname IN ('codes_app', 'codes_admin')
	  AND m.admin_option AND NOT holder.rolsuper
	LIMIT 1;
	IF suspect IS NOT NULL THEN
		RAISE EXCEPTION 'role "%" exists and a role without superuser rights may grant it', suspect
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop the role, or revoke ADMIN OPTION on it from every role but superusers, and run the command again.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = 'codes_app') THEN
		CREATE ROLE codes_app NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = 'codes_admin') THEN
		CREATE ROLE codes_admin NOLOGIN;
	END IF;
	IF NOT pg_catalog.pg_has_role('codes_admin', 'codes_app', 'MEMBER') THEN
		GRANT codes_app TO codes_admin;
	END IF;
END
$$;

-- an application redeems, checks and queries codes, braked
GRANT USAGE ON SCHEMA codes TO codes_app;
GRANT EXECUTE ON FUNCTION codes.code_use(text, text), codes.code_redeem(text, text),
	codes.code_check(text, text), codes.code_query(text, text),
	codes.code_normalize(text), codes.code_valid(text, text)
	TO codes_app;

-- an admin does what an application does (the admin role is a member of
-- the application role), makes, deletes and undoes codes, runs the
-- batches, and reads the views (whose functions run with the reader's
-- rights)
GRANT USAGE ON SCHEMA codes TO codes_admin;
GRANT EXECUTE ON FUNCTION
	codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb),
	codes.code_del(text), codes.code_undo(text, text),
	codes.batch_extend(text, timestamptz), codes.batch_revoke(text),
	codes.batch_unrevoke(text), codes.batch_set_metadata(text, jsonb),
	codes.batch_codes(text), codes.batch_del(text),
	codes.batch_purge(timestamptz, boolean), codes.throttle_reset(text),
	codes.throttled_redeemers(), codes.generations(), codes.key_fold(uuid)
	TO codes_admin;
GRANT SELECT ON codes.batches, codes.redemptions, codes.throttled,
	codes.generation_progress TO codes_admin;

DROP FUNCTION codes.carry_grants(regprocedure, regprocedure);
