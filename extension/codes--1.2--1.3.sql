/* extension/codes--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION codes UPDATE TO '1.3'" to load this file. \quit

--
-- 1.3: promo codes as shops run them: multi-use codes whose cost stays flat
-- in their past uses and whose customers do not queue behind each other;
-- hardening; codes a merchant chooses and controls one by one; holds,
-- references and refunds.
--

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

/*
 * Change a table of the extension with one DDL statement: on a Citus
 * cluster that codes.distribute() has distributed, so that the update
 * changes the shards too (docs/scaling-out.md, Upgrading).  On the
 * coordinator Citus applies a statement on a distributed table to its
 * shards and to the workers' copies of the table, provided that the
 * statement comes alone, as EXECUTE hands it (in an extension script Citus
 * would send the whole script).  Citus then runs the update on each worker
 * too, where such a table is changed already: there it is left alone.
 * Elsewhere the statement simply runs.  Tables are named in full in ddl.
 * For this script only: dropped at its end.
 */
CREATE FUNCTION codes.on_citus_worker()
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
		RETURN false;
	END IF;
	RETURN NOT pg_catalog.citus_is_coordinator();
END
$$;

CREATE FUNCTION codes.change_table(target regclass, ddl text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF codes.on_citus_worker() THEN
		-- (pg_dist_partition exists only where Citus does)
		IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
				   WHERE p.logicalrelid OPERATOR(pg_catalog.=) target) THEN
			RETURN;
		END IF;
	END IF;
	EXECUTE ddl;
END
$$;

--
-- Codes used by many (README.md, "Codes used by many"): a multi-use code's
-- cost stays flat in its past uses, and its customers do not queue behind
-- each other.
--

/*
 * A use, an undo and a check look up a redeemer's standing uses of one code
 * and, for a batch-wide limit, of one batch; an undo without a redeemer
 * looks up the code's latest use.  1.2 found each by reading every history
 * row of the code, so each use cost more than the one before.  These
 * indexes find them directly (and answer "what did this customer redeem"
 * in codes.redemptions); they replace the indexes on code and on batch
 * alone, whose lookups they still serve, and the key on id.
 *
 * A redeemer is indexed now, so it is limited to what an index entry can
 * hold; the functions refuse longer ones (1000 bytes).  An older history
 * with a longer redeemer cannot be indexed: say so rather than fail inside
 * CREATE INDEX.  (On a Citus worker, the coordinator has read the rows.)
 */
DO $$
DECLARE
	too_long	bigint;
BEGIN
	IF codes.on_citus_worker() THEN
		RETURN;
	END IF;
	SELECT pg_catalog.count(*) INTO too_long
	FROM (SELECT l.redeemer FROM codes.redemption_log AS l
		  WHERE pg_catalog.octet_length(l.redeemer) OPERATOR(pg_catalog.>) 2000
		  UNION ALL
		  SELECT c.used_by FROM codes.codes AS c
		  WHERE pg_catalog.octet_length(c.used_by) OPERATOR(pg_catalog.>) 2000) AS t;
	IF too_long OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION '% uses have a redeemer longer than 2000 bytes', too_long
			USING ERRCODE = 'program_limit_exceeded',
				  DETAIL = 'Version 1.3 indexes the redeemer, and an index entry holds at most about 2700 bytes.',
				  HINT = 'Shorten those redeemers (codes.redemption_log.redeemer, codes.codes.used_by) and run ALTER EXTENSION codes UPDATE again.';
	END IF;
END
$$;

SELECT codes.change_table('codes.redemption_log', 'DROP INDEX codes.redemption_log_code');
SELECT codes.change_table('codes.redemption_log', 'DROP INDEX codes.redemption_log_batch');
SELECT codes.change_table('codes.redemption_log',
	'CREATE INDEX redemption_log_batch ON codes.redemption_log (batch, redeemer)');
-- (redeemer, code, id): a redeemer's uses of one code, newest last, so that
-- an undo of the redeemer's latest use reads it first, backwards, however
-- many uses the redeemer has made of the code.
SELECT codes.change_table('codes.redemption_log',
	'CREATE INDEX redemption_log_redeemer ON codes.redemption_log (redeemer, code, id)');

/*
 * The history's key: (code, id) rather than id alone, which no look-up
 * needs, so that a use adds one index entry less; it finds a code's
 * latest use, and identifies a row to logical replication.  (On Citus it
 * holds the distribution column, as a unique index there must.)
 */
SELECT codes.change_table('codes.redemption_log',
	'ALTER TABLE codes.redemption_log DROP CONSTRAINT redemption_log_pkey');
SELECT codes.change_table('codes.redemption_log',
	'CREATE UNIQUE INDEX redemption_log_code ON codes.redemption_log (code, id)');
SELECT codes.change_table('codes.redemption_log',
	'ALTER TABLE codes.redemption_log REPLICA IDENTITY USING INDEX redemption_log_code');

/*
 * A single-use code's use stays on its own row.  Only rows that name a
 * redeemer enter this index, so a use without one stays a HOT update.
 */
SELECT codes.change_table('codes.codes',
	'CREATE INDEX codes_used_by ON codes.codes (used_by) WHERE used_by IS NOT NULL');

/*
 * No total cap: max_uses NULL lets a code be used by any number of
 * redeemers (with max_uses_per_redeemer, once each, say).  And a limit per
 * redeemer over a whole batch: at most this many uses of the batch's
 * codes, whichever codes.  (Citus takes a new constraint only in a
 * statement of its own.)
 */
SELECT codes.change_table('codes.batch',
	'ALTER TABLE codes.batch ALTER COLUMN max_uses DROP NOT NULL');
SELECT codes.change_table('codes.batch',
	'ALTER TABLE codes.batch ADD COLUMN max_batch_uses_per_redeemer integer');
SELECT codes.change_table('codes.batch',
	'ALTER TABLE codes.batch ADD CONSTRAINT batch_max_batch_uses_per_redeemer_check
		CHECK (max_batch_uses_per_redeemer OPERATOR(pg_catalog.>=) 1)');

COMMENT ON COLUMN codes.batch.max_uses IS
'Uses allowed per code, or NULL for no total limit.';
COMMENT ON COLUMN codes.batch.max_batch_uses_per_redeemer IS
'Uses of the batch''s codes, whichever codes, that one redeemer may hold, or NULL for no such limit.';

/*
 * A multi-use code with a total cap keeps its uses in up to 64 rows here,
 * "stripes", instead of its own row: stripe i may take its share of the
 * code's max_uses (what its row counted before the first stripe, codes.uses,
 * is taken off first), and a use takes a stripe no other transaction holds,
 * so that customers of one code use it in parallel while the cap stays
 * exact (extension/stripes.c).  A stripe is made by the first use that
 * needs it.  A code's standing uses are codes.uses plus its stripes' uses.
 */
CREATE TABLE codes.use_stripes (
	code		uuid NOT NULL,
	batch		integer NOT NULL,
	uses		integer NOT NULL,
	stripe		smallint NOT NULL,
	CONSTRAINT use_stripes_pkey PRIMARY KEY (code, stripe)
) WITH (fillfactor = 50);

COMMENT ON TABLE codes.use_stripes IS
'The uses of multi-use codes with a total cap, in up to 64 rows per code that concurrent uses take without waiting for each other.';

SELECT pg_catalog.pg_extension_config_dump('codes.use_stripes', '');
REVOKE ALL ON TABLE codes.use_stripes FROM PUBLIC;

/*
 * Uses of multi-use codes and deletes of their codes or batches take turns
 * on a lock of the batch (uses share it), since uses no longer lock the
 * code's row: a use never adds history to a code deleted meanwhile.
 */
CREATE FUNCTION codes.lock_batches(batch_ids integer[])
RETURNS void
AS 'MODULE_PATHNAME', 'lock_batches'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION codes.lock_batches(integer[]) IS
'Wait for the uses of these batches'' multi-use codes in progress, and keep new ones out until the transaction ends (used by drop_batches).';

REVOKE ALL ON FUNCTION codes.lock_batches(integer[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION codes.drop_batches(batch_ids integer[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	deleted	bigint;
BEGIN
	PERFORM codes.lock_batches(batch_ids);
	DELETE FROM codes.codes AS c WHERE c.batch OPERATOR(pg_catalog.=) ANY (batch_ids);
	GET DIAGNOSTICS deleted = ROW_COUNT;
	DELETE FROM codes.use_stripes AS s WHERE s.batch OPERATOR(pg_catalog.=) ANY (batch_ids);
	DELETE FROM codes.redemption_log AS l WHERE l.batch OPERATOR(pg_catalog.=) ANY (batch_ids);
	DELETE FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) ANY (batch_ids);
	RETURN deleted;
END
$$;

-- code_gen takes max_uses NULL and the batch-wide limit
ALTER FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb)
	RENAME TO code_gen_1_2;

CREATE FUNCTION codes.code_gen(num integer,
							   valid_from timestamptz,
							   valid_until timestamptz,
							   pattern text DEFAULT NULL,
							   max_uses integer DEFAULT 1,
							   batch text DEFAULT NULL,
							   max_uses_per_redeemer integer DEFAULT NULL,
							   store text DEFAULT 'plain',
							   metadata jsonb DEFAULT NULL,
							   max_batch_uses_per_redeemer integer DEFAULT NULL)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'code_gen'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb, integer) FROM PUBLIC;
SELECT codes.carry_grants('codes.code_gen_1_2(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb)',
						  'codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb, integer)');
DROP FUNCTION codes.code_gen_1_2(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb);

COMMENT ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb, integer) IS
'Create a batch of num new codes valid from valid_from to valid_until (inclusive, NULL = open) and return them.';

/*
 * One code at a time (issue 25): an admin deactivates a leaked code and
 * keeps its history (reactivates it), binds a code to the one redeemer
 * who may use it, and gives a code what it grants beside its batch's
 * metadata.  On the code's row, which a use reads anyway: one row update
 * each, seen by every session at once.  NULL for nearly every code, so
 * they cost a code little (its row's null bitmap).
 */
SELECT codes.change_table('codes.codes',
	'ALTER TABLE codes.codes
		ADD COLUMN deactivated_at timestamptz,
		ADD COLUMN bound_to text,
		ADD COLUMN metadata jsonb');

COMMENT ON COLUMN codes.codes.deactivated_at IS
'When code_deactivate stopped the code (NULL: active); code_reactivate lifts it.';
COMMENT ON COLUMN codes.codes.bound_to IS
'The one redeemer who may use the code (code_bind), or NULL for anyone.';
COMMENT ON COLUMN codes.codes.metadata IS
'What this code grants besides its batch''s metadata (code_set_metadata), for the application.';

/*
 * Checkout as shops run it (issue 26): each use may carry a reference (the
 * order) apart from the redeemer, and details of its own; a use may be
 * held for a customer for a while before it is confirmed (the customer
 * pays in between) or released.  A hold is a row of the history with
 * held_until set: it counts against the code's limits as a use does, until
 * it is confirmed (held_until cleared: a use), released or undone
 * (undone_at set), or until held_until has passed, when it counts no more
 * and the next look at the code gives its use back.
 */
SELECT codes.change_table('codes.redemption_log',
	'ALTER TABLE codes.redemption_log
		ADD COLUMN reference text,
		ADD COLUMN details jsonb,
		ADD COLUMN held_until timestamptz');

COMMENT ON COLUMN codes.redemption_log.reference IS
'What the use was for, given by the application (an order id): code_redeem, code_hold, hold_confirm; undo_reference undoes by it.';
COMMENT ON COLUMN codes.redemption_log.details IS
'Details of the use, given by the application.';
COMMENT ON COLUMN codes.redemption_log.held_until IS
'For a hold (code_hold) not yet confirmed: until when it holds the use; NULL for a use.';

SELECT codes.change_table('codes.redemption_log',
	'CREATE INDEX redemption_log_reference ON codes.redemption_log (reference)
		WHERE reference IS NOT NULL');
SELECT codes.change_table('codes.redemption_log',
	'CREATE INDEX redemption_log_holds ON codes.redemption_log (code, held_until)
		WHERE held_until IS NOT NULL AND undone_at IS NULL');

/*
 * code_redeem takes a reference and details for the use, and answers with
 * the code's own metadata too; code_check answers with it; both know the
 * reasons of a code's own state (deactivated, bound_to_other) and of a
 * hold (held).  New arguments and a new result row are a new function:
 * the old one's grants are carried over.
 */
ALTER FUNCTION codes.code_redeem(text, text) RENAME TO code_redeem_1_2;
ALTER FUNCTION codes.code_check(text, text) RENAME TO code_check_1_2;

CREATE FUNCTION codes.code_redeem(code text, redeemer text DEFAULT NULL,
								  reference text DEFAULT NULL, details jsonb DEFAULT NULL,
								  OUT ok boolean, OUT reason text, OUT batch text,
								  OUT metadata jsonb, OUT uses_left integer,
								  OUT valid_until timestamptz, OUT code_metadata jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'code_redeem'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_redeem(text, text, text, jsonb) IS
'Use a code as code_use does, for a reference (an order) with details; one row: ok, why not (reason), and its batch, metadata, uses left, end of validity and its own metadata.';

CREATE FUNCTION codes.code_check(code text, redeemer text DEFAULT NULL,
								 OUT ok boolean, OUT reason text, OUT batch text,
								 OUT metadata jsonb, OUT uses_left integer,
								 OUT valid_until timestamptz, OUT code_metadata jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'code_check'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_check(text, text) IS
'What code_redeem would answer, without using the code; braked like code_use.';

REVOKE ALL ON FUNCTION codes.code_redeem(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_check(text, text) FROM PUBLIC;
SELECT codes.carry_grants('codes.code_redeem_1_2(text, text)', 'codes.code_redeem(text, text, text, jsonb)');
SELECT codes.carry_grants('codes.code_check_1_2(text, text)', 'codes.code_check(text, text)');
DROP FUNCTION codes.code_redeem_1_2(text, text);
DROP FUNCTION codes.code_check_1_2(text, text);

CREATE FUNCTION codes.code_hold(code text, redeemer text, hold_for interval,
								reference text DEFAULT NULL, details jsonb DEFAULT NULL,
								OUT ok boolean, OUT reason text, OUT hold bigint,
								OUT held_until timestamptz, OUT batch text,
								OUT metadata jsonb, OUT uses_left integer,
								OUT valid_until timestamptz, OUT code_metadata jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'code_hold'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_hold(text, text, interval, text, jsonb) IS
'Hold a use of a code for a redeemer for a while (it counts as a use until confirmed, released or past held_until); one row as code_redeem''s, with the hold''s id and end.';

CREATE FUNCTION codes.hold_confirm(code text, hold bigint, reference text DEFAULT NULL,
								   details jsonb DEFAULT NULL,
								   OUT ok boolean, OUT reason text)
RETURNS record
AS 'MODULE_PATHNAME', 'hold_confirm'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.hold_confirm(text, bigint, text, jsonb) IS
'Make a live hold of the code a use (with a reference and details, if given); ok, or why not: hold_expired, not_found.';

CREATE FUNCTION codes.hold_release(code text, hold bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'hold_release'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.hold_release(text, bigint) IS
'Give up a hold of the code, live or expired: its use is free again; true if there was one.';

CREATE FUNCTION codes.undo_reference(reference text)
RETURNS integer
AS 'MODULE_PATHNAME', 'undo_reference'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.undo_reference(text) IS
'Undo every standing use, and release every hold, made with this reference (refund or cancel an order), of any code; the number undone and released.';

REVOKE ALL ON FUNCTION codes.code_hold(text, text, interval, text, jsonb),
	codes.hold_confirm(text, bigint, text, jsonb), codes.hold_release(text, bigint),
	codes.undo_reference(text) FROM PUBLIC;

-- Roles that fit the day's work (README.md, "Privileges"): the application
-- holds, confirms and releases uses, and undoes them (a refund): its rights
-- are codes.granted_rights' lines, which codes.set_privileges grants to
-- this database's app role at the end of this script.

/*
 * For the admin views (holds, redemptions, batches): true, or 55000 in a
 * database copied from another that has codes, whose codes.roles still
 * name that one's roles (they would read the copy's codes through the
 * views, which call no function of the library).  The library's calls
 * refuse so too (sqlversion.c).  Called once per query, in a MATERIALIZED
 * CTE the views join (a qual of no column would be pseudoconstant, which
 * Citus on PostgreSQL 15 and 16 refuses beside an outer join).  PL/pgSQL, as codes.roles comes later in this
 * script.
 */
CREATE FUNCTION codes.roles_are_own()
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM codes.roles AS r
			   WHERE r.database OPERATOR(pg_catalog.<>)
					 (SELECT d.oid FROM pg_catalog.pg_database AS d
					  WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())) THEN
		RAISE EXCEPTION 'extension "codes" in this database still has the roles of the database it was copied from'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'A database copied from one that has codes shares that database''s roles: an admin of one would be an admin of the other.',
				  HINT = 'As a superuser, run SELECT codes.set_privileges(); in this database, which gives it roles of its own, then grant those.';
	END IF;
	RETURN true;
END
$$;

COMMENT ON FUNCTION codes.roles_are_own() IS
'True, or an error (55000) in a database copied from another that has codes until codes.set_privileges gives it roles of its own; the admin views call it.';

REVOKE ALL ON FUNCTION codes.roles_are_own() FROM PUBLIC;
-- the admin role's, for its views (codes.granted_rights)

/*
 * The live and expired holds not yet confirmed, released or given back,
 * for an admin; each code's text as in codes.redemptions.
 */
CREATE VIEW codes.holds AS
WITH own AS MATERIALIZED (SELECT codes.roles_are_own() AS ok)
SELECT l.id AS hold,
	   CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, l.code::text) END AS code,
	   b.name AS batch, l.redeemer, l.reference, l.used_at AS held_at, l.held_until,
	   l.held_until >= pg_catalog.now() AS live
FROM own, codes.redemption_log AS l
	JOIN codes.batch AS b ON b.id = l.batch
	LEFT JOIN codes.codes AS c
		ON codes.key_fold(c.code) = codes.key_fold(l.code) AND c.code = l.code
WHERE own.ok AND l.held_until IS NOT NULL AND l.undone_at IS NULL;

COMMENT ON VIEW codes.holds IS
'Holds not yet confirmed or released: hold id, code (NULL for hashed codes), batch, redeemer, reference, when held, until when, and whether still live.';

REVOKE ALL ON TABLE codes.holds FROM PUBLIC;
-- the admin role's (codes.granted_rights; codes.set_privileges grants it)

CREATE FUNCTION codes.code_deactivate(code text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'code_deactivate'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_deactivate(text) IS
'Stop one code, keeping its history: its uses are refused (deactivated), its status is TIMEINVALID; true if the code exists.';

CREATE FUNCTION codes.code_reactivate(code text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'code_reactivate'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_reactivate(text) IS
'Lift code_deactivate; true if the code exists.';

CREATE FUNCTION codes.code_bind(code text, redeemer text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'code_bind'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_bind(text, text) IS
'Let only this redeemer use the code (NULL: anyone); true if the code exists.';

CREATE FUNCTION codes.code_set_metadata(code text, metadata jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'code_set_metadata'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_set_metadata(text, jsonb) IS
'Set what one code grants beside its batch''s metadata (NULL: nothing); true if the code exists.';

REVOKE ALL ON FUNCTION codes.code_deactivate(text), codes.code_reactivate(text),
	codes.code_bind(text, text), codes.code_set_metadata(text, jsonb) FROM PUBLIC;
-- the admin role's (codes.granted_rights; codes.set_privileges grants them)

/*
 * Every use in the views.  A single-use code's use is on its row, unless
 * it had to be recorded in the history (its batch limits uses per redeemer
 * across the batch, or the use carries a reference or details, or was a
 * hold): then its row says uses = 1 with used_at NULL.  Every use of a
 * multi-use code is in the history.  A hold not yet confirmed is no use.
 */
CREATE OR REPLACE VIEW codes.redemptions AS
WITH own AS MATERIALIZED (SELECT codes.roles_are_own() AS ok)
SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, c.code::text) END AS code,
	   b.name AS batch, c.used_by AS redeemer,
	   c.used_at, NULL::timestamptz AS undone_at,
	   NULL::text AS reference, NULL::jsonb AS details
FROM own, codes.codes AS c JOIN codes.batch AS b ON b.id = c.batch
WHERE own.ok AND b.max_uses = 1 AND c.uses = 1 AND c.used_at IS NOT NULL
UNION ALL
SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, l.code::text) END,
	   b.name, l.redeemer, l.used_at, l.undone_at, l.reference, l.details
FROM own, codes.redemption_log AS l
	JOIN codes.batch AS b ON b.id = l.batch
	LEFT JOIN codes.codes AS c
		ON codes.key_fold(c.code) = codes.key_fold(l.code) AND c.code = l.code
WHERE own.ok AND l.held_until IS NULL;

COMMENT ON VIEW codes.redemptions IS
'Every use of every code: code (NULL for hashed codes), batch, redeemer, when, when it was undone (NULL while it stands), its reference and details; holds appear once confirmed (codes.holds lists the others).';

/*
 * A code's standing uses: its row's, plus its stripes' (a capped
 * multi-use code), or plus its standing history (a multi-use code without
 * a total cap, which has no stripes).  A hold counts while it is live; one
 * whose time has passed, which a capped code's stripes or a single-use
 * code's row count until a use expires it, is taken off.  A code may have
 * more uses than its batch allows now (batch_set_max_uses lowered it): it
 * has none left.
 */
CREATE OR REPLACE VIEW codes.batches AS
SELECT b.name, b.created_at, b.valid_from, b.valid_until, b.revoked_at,
	   b.pattern, b.key_id, b.max_uses, b.max_uses_per_redeemer,
	   COALESCE(s.issued, 0) AS issued,
	   COALESCE(s.used_up, 0) AS used_up,
	   CASE WHEN b.max_uses IS NOT NULL THEN COALESCE(s.uses_left, 0) END AS uses_left,
	   b.metadata,
	   CASE WHEN b.revoked_at IS NOT NULL THEN 'revoked'
			WHEN b.valid_from > pg_catalog.now() THEN 'not_yet_valid'
			WHEN b.valid_until < pg_catalog.now() THEN 'expired'
			ELSE 'active' END AS state,
	   b.max_batch_uses_per_redeemer,
	   COALESCE(s.uses, 0) AS uses
FROM codes.batch AS b
	LEFT JOIN (
		SELECT u.batch,
			   pg_catalog.count(*) AS issued,
			   pg_catalog.count(*) FILTER (WHERE u.uses >= u.max_uses) AS used_up,
			   pg_catalog.sum(GREATEST(u.max_uses - u.uses, 0))::bigint AS uses_left,
			   pg_catalog.sum(u.uses)::bigint AS uses
		FROM (SELECT c.batch, cb.max_uses,
					 (c.uses + COALESCE(st.uses, 0) + COALESCE(h.uses, 0))::bigint AS uses
			  FROM codes.codes AS c
				  JOIN codes.batch AS cb ON cb.id = c.batch
				  LEFT JOIN (SELECT us.code, pg_catalog.sum(us.uses) AS uses
							 FROM codes.use_stripes AS us GROUP BY us.code) AS st
					  ON st.code = c.code
				  LEFT JOIN (SELECT l.code,
									pg_catalog.count(*) FILTER (
										WHERE lb.max_uses IS NULL
										  AND (l.held_until IS NULL OR l.held_until >= pg_catalog.now()))
									- pg_catalog.count(*) FILTER (
										WHERE lb.max_uses IS NOT NULL
										  AND l.held_until < pg_catalog.now()) AS uses
							 FROM codes.redemption_log AS l
								 JOIN codes.batch AS lb ON lb.id = l.batch
							 WHERE l.undone_at IS NULL
							 GROUP BY l.code) AS h
					  ON h.code = c.code) AS u
		GROUP BY u.batch) AS s ON s.batch = b.id;

COMMENT ON VIEW codes.batches IS
'Each batch with its period, uses per code (NULL: no total limit), counts of codes issued, codes used up and uses left, its metadata, its state (active, not_yet_valid, expired or revoked), its limit per redeemer across the batch and its standing uses.';

/*
 * batch_codes: each code's standing uses as the views count them (live
 * holds count, holds whose time has passed do not), and its latest use
 * (not a hold) from the history where the row does not hold it (multi-use
 * codes, and single-use ones recorded there).  Set-based, so that Citus
 * can run it.
 */
CREATE OR REPLACE FUNCTION codes.batch_codes(batch text)
RETURNS TABLE (code text, status text, uses integer, used_at timestamptz, used_by text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch);
	hashed		boolean;
	multi		boolean;
	uncapped	boolean;
BEGIN
	SELECT b.key_id IS NOT NULL, b.max_uses IS DISTINCT FROM 1, b.max_uses IS NULL
	INTO hashed, multi, uncapped
	FROM codes.batch AS b WHERE b.id = batch_no;
	RETURN QUERY
		WITH own AS MATERIALIZED (
			SELECT c.code, c.shown, c.batch, c.uses, c.used_at, c.used_by
			FROM codes.codes AS c WHERE c.batch = batch_no),
		striped AS MATERIALIZED (
			SELECT s.code, pg_catalog.sum(s.uses)::integer AS uses
			FROM codes.use_stripes AS s WHERE s.batch = batch_no GROUP BY s.code),
		latest AS MATERIALIZED (
			SELECT DISTINCT ON (l.code) l.code, l.used_at, l.redeemer
			FROM codes.redemption_log AS l
			WHERE l.batch = batch_no AND l.undone_at IS NULL AND l.held_until IS NULL
			ORDER BY l.code, l.id DESC),
		standing AS MATERIALIZED (
			SELECT l.code,
				   (pg_catalog.count(*) FILTER (
						WHERE uncapped
						  AND (l.held_until IS NULL OR l.held_until >= pg_catalog.now()))
					- pg_catalog.count(*) FILTER (
						WHERE NOT uncapped AND l.held_until < pg_catalog.now()))::integer AS uses
			FROM codes.redemption_log AS l
			WHERE l.batch = batch_no AND l.undone_at IS NULL
			GROUP BY l.code),
		counted AS MATERIALIZED (
			SELECT own.code, own.shown, own.batch,
				   own.uses + COALESCE(striped.uses, 0) + COALESCE(standing.uses, 0) AS uses,
				   CASE WHEN multi OR own.used_at IS NULL THEN latest.used_at ELSE own.used_at END AS used_at,
				   CASE WHEN multi OR own.used_at IS NULL THEN latest.redeemer ELSE own.used_by END AS used_by
			FROM own
				LEFT JOIN striped ON striped.code = own.code
				LEFT JOIN standing ON standing.code = own.code
				LEFT JOIN latest ON latest.code = own.code)
		SELECT CASE WHEN NOT hashed THEN COALESCE(counted.shown, counted.code::text) END,
			   codes.code_status(counted.batch, counted.uses), counted.uses,
			   counted.used_at, counted.used_by
		FROM counted;
END
$$;

--
-- 1.3: random digits in patterns (issue 25).  From 1.3 on, "*" in a
-- pattern is a random digit; 1.2 read it as a literal.  codes.batch keeps
-- each batch's pattern, and the codes of a batch whose pattern has a "*"
-- would no longer have its shape: they would no longer be found.  Refuse
-- the update while such a batch exists, naming the first few.
--
DO $$
DECLARE
	found		bigint;
	names		text;
BEGIN
	IF codes.on_citus_worker() THEN
		RETURN;				-- the coordinator has read the batches
	END IF;
	SELECT pg_catalog.count(*),
		   pg_catalog.string_agg(pg_catalog.quote_literal(f.name), ', ')
			 FILTER (WHERE f.n OPERATOR(pg_catalog.<=) 5)
	INTO found, names
	FROM (SELECT b.name, pg_catalog.row_number() OVER (ORDER BY b.id) AS n
		  FROM codes.batch AS b
		  WHERE pg_catalog.strpos(b.pattern, '*') OPERATOR(pg_catalog.>) 0) AS f;
	IF found OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'a batch has a pattern with "*", which 1.3 reads as a random digit'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Batches with such a pattern: %s, the first %s. Their codes were made with "*" as a literal, and would no longer be found.', found, names),
				  HINT = 'Delete those batches (codes.batch_del) once their codes are no longer needed, then update; until then, keep the files of version 1.2 installed.';
	END IF;
END
$$;

--
-- Changing a batch after creation (issue 25): its valid_from, its max_uses
-- and its limits per redeemer; and batch_codes tells each code's own
-- state whatever its batch's period (README.md, "Batches").
--

/*
 * A change of what a batch allows its uses must not let a use that was
 * decided under the old rules commit under the new ones: it takes the
 * batch's lock alone (uses of its multi-use codes share it) and, where
 * single-use codes are concerned, codes.codes in SHARE ROW EXCLUSIVE mode
 * (their uses lock only their row).  See extension/batch_rules.c.
 */
CREATE FUNCTION codes.lock_batch_rules(batch_id integer, single_use boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'lock_batch_rules'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION codes.lock_batch_rules(integer, boolean) IS
'Wait for the uses of the batch in progress (with single_use, every use in progress), and keep new ones out until the transaction ends (used by the batch_set_* functions).';

REVOKE ALL ON FUNCTION codes.lock_batch_rules(integer, boolean) FROM PUBLIC;

/*
 * The start of a batch's period, as batch_extend sets its end: one row
 * update.  Uses in progress are decided with the period they read, as for
 * batch_extend and batch_revoke.
 */
CREATE FUNCTION codes.batch_set_valid_from(batch text, valid_from timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	ending		timestamptz;
BEGIN
	SELECT b.valid_until INTO ending FROM codes.batch AS b
	WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF valid_from OPERATOR(pg_catalog.>) ending THEN
		RAISE EXCEPTION 'valid_from must not be after valid_until'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('valid_from is %s, valid_until is %s.', valid_from, ending);
	END IF;
	UPDATE codes.batch AS b SET valid_from = batch_set_valid_from.valid_from
	WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_set_valid_from(text, timestamptz) IS
'Give a batch a new start of validity (NULL = open); returns the number of its codes.';

/*
 * A batch's max_uses (NULL: no total cap).  Each code's standing uses are
 * counted as its old rules count them and kept on its row, where the new
 * ones find them: a capped code's stripes are folded into its row (each
 * stripe's share of the old cap means nothing under the new one), an
 * uncapped code's history is counted into it, and for a code without a
 * cap the row keeps only what its history does not hold.  A single-use
 * code's use on its row moves into the history, where every use of a
 * multi-use code is, with its time and redeemer.  A code whose uses reach
 * the new cap is used up.  max_uses 1 is refused (55000) while a code has
 * more than one standing use, which a single-use code cannot hold.
 */
CREATE FUNCTION codes.batch_set_max_uses(batch text, max_uses integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	old_max		integer;
	per_code	integer;
	too_many	bigint;
BEGIN
	IF max_uses OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'max_uses must be at least 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('max_uses was %s.', max_uses),
				  HINT = 'Give max_uses NULL for no limit on a code''s uses.';
	END IF;
	SELECT b.max_uses, b.max_uses_per_redeemer INTO old_max, per_code
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF per_code OPERATOR(pg_catalog.>) max_uses THEN
		RAISE EXCEPTION 'max_uses must not be below max_uses_per_redeemer'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('max_uses was %s, max_uses_per_redeemer is %s.', max_uses, per_code),
				  HINT = 'Lower max_uses_per_redeemer first (codes.batch_set_max_uses_per_redeemer).';
	END IF;

	IF max_uses IS DISTINCT FROM old_max THEN
		PERFORM codes.lock_batch_rules(batch_no, old_max IS NOT DISTINCT FROM 1);
		IF old_max OPERATOR(pg_catalog.=) 1 THEN
			INSERT INTO codes.redemption_log (code, batch, redeemer, used_at)
			SELECT c.code, c.batch, c.used_by, c.used_at FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no AND c.used_at IS NOT NULL
			  AND c.uses OPERATOR(pg_catalog.>) 0
			ORDER BY c.used_at;
		END IF;
		-- holds whose time has passed expire now, as a use that needed
		-- their uses would expire them, and their uses are counted out
		-- (ex): one left to expire later would give back a use the new
		-- count no longer holds
		WITH expired AS (
			UPDATE codes.redemption_log AS l SET undone_at = l.held_until
			WHERE l.batch OPERATOR(pg_catalog.=) batch_no AND l.held_until IS NOT NULL
			  AND l.held_until OPERATOR(pg_catalog.<) pg_catalog.now()
			  AND l.undone_at IS NULL
			RETURNING l.code),
		ex AS (SELECT e.code, pg_catalog.count(*) AS uses FROM expired AS e GROUP BY e.code)
		UPDATE codes.codes AS c
		SET uses = t.uses, used_at = NULL, used_by = NULL
		FROM (SELECT own.code,
					 CASE WHEN max_uses IS NULL
						  THEN pg_catalog.int8larger(own.total OPERATOR(pg_catalog.-) own.history, 0)
						  ELSE own.total END AS uses
			  FROM (SELECT k.code,
						   k.uses::pg_catalog.int8
						   OPERATOR(pg_catalog.+) COALESCE(st.uses, 0)
						   OPERATOR(pg_catalog.+) CASE WHEN old_max IS NULL THEN COALESCE(h.uses, 0) ELSE 0 END
						   OPERATOR(pg_catalog.-) COALESCE(ex.uses, 0)
						   AS total,
						   COALESCE(h.uses, 0) OPERATOR(pg_catalog.-) COALESCE(ex.uses, 0) AS history
					FROM codes.codes AS k
						LEFT JOIN (SELECT s.code, pg_catalog.sum(s.uses) AS uses
								   FROM codes.use_stripes AS s
								   WHERE s.batch OPERATOR(pg_catalog.=) batch_no
								   GROUP BY s.code) AS st
							ON st.code OPERATOR(pg_catalog.=) k.code
						LEFT JOIN (SELECT l.code, pg_catalog.count(*) AS uses
								   FROM codes.redemption_log AS l
								   WHERE l.batch OPERATOR(pg_catalog.=) batch_no
									 AND l.undone_at IS NULL
								   GROUP BY l.code) AS h
							ON h.code OPERATOR(pg_catalog.=) k.code
						LEFT JOIN ex ON ex.code OPERATOR(pg_catalog.=) k.code
					WHERE k.batch OPERATOR(pg_catalog.=) batch_no) AS own) AS t
		WHERE c.batch OPERATOR(pg_catalog.=) batch_no
		  AND codes.key_fold(c.code) OPERATOR(pg_catalog.=) codes.key_fold(t.code)
		  AND c.code OPERATOR(pg_catalog.=) t.code
		  AND (c.uses OPERATOR(pg_catalog.<>) t.uses OR c.used_at IS NOT NULL
			   OR c.used_by IS NOT NULL);
		DELETE FROM codes.use_stripes AS s WHERE s.batch OPERATOR(pg_catalog.=) batch_no;
		IF max_uses OPERATOR(pg_catalog.=) 1 THEN
			SELECT pg_catalog.count(*) INTO too_many FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no AND c.uses OPERATOR(pg_catalog.>) 1;
			IF too_many OPERATOR(pg_catalog.>) 0 THEN
				RAISE EXCEPTION 'a code of batch "%" has more than one use', batch
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = pg_catalog.format('Codes with more than one standing use: %s. A single-use code holds one.', too_many),
						  HINT = 'Give max_uses 2 or more, or NULL.';
			END IF;
		END IF;
		UPDATE codes.batch AS b SET max_uses = batch_set_max_uses.max_uses
		WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	END IF;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_set_max_uses(text, integer) IS
'Give a batch''s codes a new number of uses allowed each (NULL = no limit), counting the uses they have; returns the number of its codes.';

/*
 * A batch's limit of a code's uses per redeemer (NULL: none), counted from
 * the history, which holds every use of a multi-use code.
 */
CREATE FUNCTION codes.batch_set_max_uses_per_redeemer(batch text, max_uses_per_redeemer integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	cap			integer;
	old_limit	integer;
BEGIN
	SELECT b.max_uses, b.max_uses_per_redeemer INTO cap, old_limit
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF cap IS NULL AND max_uses_per_redeemer OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'max_uses_per_redeemer must be at least 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('max_uses_per_redeemer was %s.', max_uses_per_redeemer);
	END IF;
	IF max_uses_per_redeemer OPERATOR(pg_catalog.<) 1
	   OR max_uses_per_redeemer OPERATOR(pg_catalog.>) cap THEN
		RAISE EXCEPTION 'max_uses_per_redeemer must be between 1 and max_uses'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('max_uses_per_redeemer was %s, max_uses is %s.', max_uses_per_redeemer, cap);
	END IF;
	IF max_uses_per_redeemer IS DISTINCT FROM old_limit THEN
		PERFORM codes.lock_batch_rules(batch_no, false);
		UPDATE codes.batch AS b
		SET max_uses_per_redeemer = batch_set_max_uses_per_redeemer.max_uses_per_redeemer
		WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	END IF;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_set_max_uses_per_redeemer(text, integer) IS
'Give a batch a new limit of each code''s uses per redeemer (NULL = none); returns the number of its codes.';

/*
 * A batch's limit of uses per redeemer across its codes (NULL: none),
 * counted from the history.  A single-use code's use on its row moves
 * there when the batch gets the limit, so that past uses count; its row
 * keeps counting it (uses = 1, used_at NULL), as for a use made under the
 * limit.
 */
CREATE FUNCTION codes.batch_set_max_batch_uses_per_redeemer(batch text,
															max_batch_uses_per_redeemer integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	single		boolean;
	old_limit	integer;
BEGIN
	IF max_batch_uses_per_redeemer OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'max_batch_uses_per_redeemer must be at least 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('max_batch_uses_per_redeemer was %s.', max_batch_uses_per_redeemer);
	END IF;
	SELECT b.max_uses IS NOT DISTINCT FROM 1, b.max_batch_uses_per_redeemer
	INTO single, old_limit
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF max_batch_uses_per_redeemer IS DISTINCT FROM old_limit THEN
		PERFORM codes.lock_batch_rules(batch_no, single);
		IF single AND old_limit IS NULL THEN
			INSERT INTO codes.redemption_log (code, batch, redeemer, used_at)
			SELECT c.code, c.batch, c.used_by, c.used_at FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no AND c.used_at IS NOT NULL
			  AND c.uses OPERATOR(pg_catalog.>) 0
			ORDER BY c.used_at;
			UPDATE codes.codes AS c SET used_at = NULL, used_by = NULL
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no AND c.used_at IS NOT NULL
			  AND c.uses OPERATOR(pg_catalog.>) 0;
		END IF;
		UPDATE codes.batch AS b
		SET max_batch_uses_per_redeemer = batch_set_max_batch_uses_per_redeemer.max_batch_uses_per_redeemer
		WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	END IF;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_set_max_batch_uses_per_redeemer(text, integer) IS
'Give a batch a new limit of uses per redeemer across its codes (NULL = none), counting the uses made; returns the number of its codes.';

REVOKE ALL ON FUNCTION codes.batch_set_valid_from(text, timestamptz),
	codes.batch_set_max_uses(text, integer),
	codes.batch_set_max_uses_per_redeemer(text, integer),
	codes.batch_set_max_batch_uses_per_redeemer(text, integer) FROM PUBLIC;
-- the admin role's (codes.granted_rights; codes.set_privileges grants them)

/*
 * batch_codes: besides status (code_query's answer now, TIMEINVALID for
 * every code of a revoked or expired batch, and for a deactivated code),
 * each code's own state whatever its batch's period: deactivated,
 * used_up, used (uses left) or unused, its uses counted as before (live
 * holds count, holds whose time has passed do not); and its own controls
 * and metadata.  A new result row is a new function: the old one's grants
 * are carried over.
 */
ALTER FUNCTION codes.batch_codes(text) RENAME TO batch_codes_1_2;

CREATE FUNCTION codes.batch_codes(batch text)
RETURNS TABLE (code text, status text, uses integer, used_at timestamptz, used_by text,
			   state text, deactivated_at timestamptz, bound_to text, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch);
	hashed		boolean;
	multi		boolean;
	uncapped	boolean;
	cap			integer;
BEGIN
	SELECT b.key_id IS NOT NULL, b.max_uses IS DISTINCT FROM 1, b.max_uses IS NULL, b.max_uses
	INTO hashed, multi, uncapped, cap
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	RETURN QUERY
		WITH own AS MATERIALIZED (
			SELECT c.code, c.shown, c.batch, c.uses, c.used_at, c.used_by,
				   c.deactivated_at, c.bound_to, c.metadata
			FROM codes.codes AS c WHERE c.batch OPERATOR(pg_catalog.=) batch_no),
		striped AS MATERIALIZED (
			SELECT s.code, pg_catalog.sum(s.uses)::integer AS uses
			FROM codes.use_stripes AS s WHERE s.batch OPERATOR(pg_catalog.=) batch_no
			GROUP BY s.code),
		latest AS MATERIALIZED (
			SELECT DISTINCT ON (l.code) l.code, l.used_at, l.redeemer
			FROM codes.redemption_log AS l
			WHERE l.batch OPERATOR(pg_catalog.=) batch_no AND l.undone_at IS NULL
			  AND l.held_until IS NULL
			ORDER BY l.code, l.id DESC),
		standing AS MATERIALIZED (
			SELECT l.code,
				   (pg_catalog.count(*) FILTER (
						WHERE uncapped
						  AND (l.held_until IS NULL
							   OR l.held_until OPERATOR(pg_catalog.>=) pg_catalog.now()))
					OPERATOR(pg_catalog.-) pg_catalog.count(*) FILTER (
						WHERE NOT uncapped
						  AND l.held_until OPERATOR(pg_catalog.<) pg_catalog.now()))::integer AS uses
			FROM codes.redemption_log AS l
			WHERE l.batch OPERATOR(pg_catalog.=) batch_no AND l.undone_at IS NULL
			GROUP BY l.code),
		counted AS MATERIALIZED (
			SELECT own.code, own.shown, own.batch,
				   own.uses OPERATOR(pg_catalog.+) COALESCE(striped.uses, 0)
				   OPERATOR(pg_catalog.+) COALESCE(standing.uses, 0) AS uses,
				   CASE WHEN multi OR own.used_at IS NULL THEN latest.used_at ELSE own.used_at END AS used_at,
				   CASE WHEN multi OR own.used_at IS NULL THEN latest.redeemer ELSE own.used_by END AS used_by,
				   own.deactivated_at, own.bound_to, own.metadata
			FROM own
				LEFT JOIN striped ON striped.code OPERATOR(pg_catalog.=) own.code
				LEFT JOIN standing ON standing.code OPERATOR(pg_catalog.=) own.code
				LEFT JOIN latest ON latest.code OPERATOR(pg_catalog.=) own.code)
		SELECT CASE WHEN NOT hashed THEN COALESCE(counted.shown, counted.code::text) END,
			   CASE WHEN counted.deactivated_at IS NOT NULL THEN 'TIMEINVALID'
					ELSE codes.code_status(counted.batch, counted.uses) END,
			   counted.uses, counted.used_at, counted.used_by,
			   CASE WHEN counted.deactivated_at IS NOT NULL THEN 'deactivated'
					WHEN NOT uncapped AND counted.uses OPERATOR(pg_catalog.>=) cap THEN 'used_up'
					WHEN counted.uses OPERATOR(pg_catalog.>) 0 THEN 'used'
					ELSE 'unused' END,
			   counted.deactivated_at, counted.bound_to, counted.metadata
		FROM counted;
END
$$;

COMMENT ON FUNCTION codes.batch_codes(text) IS
'Each code of a batch as handed out (NULL for hashed codes), with its status (as code_query answers now), uses, latest use, its own state (unused, used, used_up or deactivated, whatever its batch''s period), its controls and metadata.';

REVOKE ALL ON FUNCTION codes.batch_codes(text) FROM PUBLIC;
SELECT codes.carry_grants('codes.batch_codes_1_2(text)', 'codes.batch_codes(text)');
DROP FUNCTION codes.batch_codes_1_2(text);


-- 1.3 on Citus: codes.distribute() places codes.use_stripes too (issue 23).
--

/*
 * Scaling out with Citus (docs/scaling-out.md): as in 1.2, and
 * codes.use_stripes, which holds the uses of multi-use codes, is
 * distributed by code colocated with codes.codes, so that every statement
 * of a use (the stripes, the history) goes to the shards of one code on
 * one worker.  A cluster distributed by 1.2 gets its new table distributed
 * by calling codes.distribute() again after ALTER EXTENSION codes UPDATE:
 * the tables already placed are left as they are.  Until then the table
 * is the coordinator's own, which Citus cannot join with the shards.
 */
CREATE OR REPLACE FUNCTION codes.distribute()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	triggers_was	text;
	constraints_was	text;
	misplaced	pg_catalog.regclass;
	by_code		pg_catalog.regclass;
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
							 'codes.redemption_log'::pg_catalog.regclass,
							 'codes.use_stripes'::pg_catalog.regclass)
	  AND NOT CASE WHEN p.logicalrelid = 'codes.batch'::pg_catalog.regclass
			THEN p.partmethod = 'n' AND p.repmodel = 't'
			ELSE p.partmethod = 'h'
				AND pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) = 'code'
				AND p.colocationid IS NOT DISTINCT FROM
					(SELECT c.colocationid FROM pg_catalog.pg_dist_partition AS c
					 WHERE c.logicalrelid = 'codes.codes'::pg_catalog.regclass)
			END
	ORDER BY p.logicalrelid
	LIMIT 1;
	IF misplaced IS NOT NULL THEN
		RAISE EXCEPTION 'table % is distributed otherwise than codes needs', misplaced
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'codes needs codes.batch as a reference table, and codes.codes, codes.redemption_log and codes.use_stripes distributed by code and colocated.',
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
	FOREACH by_code IN ARRAY ARRAY['codes.redemption_log'::pg_catalog.regclass,
								   'codes.use_stripes'::pg_catalog.regclass]
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
					   WHERE p.logicalrelid = by_code) THEN
			PERFORM pg_catalog.create_distributed_table(by_code, 'code',
														colocate_with => 'codes.codes');
			PERFORM pg_catalog.truncate_local_data_after_distributing_table(by_code);
		END IF;
	END LOOP;

	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', triggers_was, true);
	PERFORM pg_catalog.set_config('citus.allow_unsafe_constraints', constraints_was, true);
END
$$;

COMMENT ON FUNCTION codes.distribute() IS
'On Citus, run once on the coordinator: distribute codes.codes, codes.redemption_log and codes.use_stripes by code and make codes.batch a reference table.';

--
-- Codes a merchant chooses and imports (issue 25): batch_create makes a
-- batch without codes, code_add adds given texts as its codes (SUMMER20,
-- or codes imported from another system with their uses so far), and
-- batch_generate makes more codes in an existing batch
-- (extension/code_add.c, import.c).
--

/*
 * A batch with given codes is marked, by code_add: the change of its row
 * tells every backend (batch_changed) that any text may now be one of its
 * codes, where before only text of a batch's shape (UUID or pattern)
 * could be (batch.c).
 */
SELECT codes.change_table('codes.batch',
	'ALTER TABLE codes.batch ADD COLUMN chosen boolean NOT NULL DEFAULT false');

COMMENT ON COLUMN codes.batch.chosen IS
'The batch has codes given by code_add, which may be any text, beside any it generated.';
COMMENT ON COLUMN codes.codes.shown IS
'A plain patterned or given code as handed out; NULL for codes that are UUIDs, whose text is their key, and for hashed codes.';

CREATE FUNCTION codes.batch_create(batch text,
								   valid_from timestamptz,
								   valid_until timestamptz,
								   max_uses integer DEFAULT 1,
								   max_uses_per_redeemer integer DEFAULT NULL,
								   store text DEFAULT 'plain',
								   metadata jsonb DEFAULT NULL,
								   max_batch_uses_per_redeemer integer DEFAULT NULL,
								   pattern text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'batch_create'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.batch_create(text, timestamptz, timestamptz, integer, integer, text, jsonb, integer, text) IS
'Create a batch without codes, checked as code_gen checks one, for code_add and batch_generate; returns its name.';

CREATE FUNCTION codes.code_add(batch text, codes text[], uses integer[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'code_add'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_add(text, text[], integer[]) IS
'Add given texts as codes of a batch, each with its uses so far (NULL: 0); all or nothing; returns how many were added.';

CREATE FUNCTION codes.batch_generate(batch text, num integer)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'batch_generate'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.batch_generate(text, integer) IS
'Generate num more codes into an existing batch, of its pattern and store, and return them.';

REVOKE ALL ON FUNCTION codes.batch_create(text, timestamptz, timestamptz, integer, integer, text, jsonb, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_add(text, text[], integer[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_generate(text, integer) FROM PUBLIC;
-- an admin makes batches and their codes (codes.granted_rights;
-- codes.set_privileges grants them)

--
-- Retiring a hashed batch whose key is being rotated out (issue 24,
-- finding 9; README.md, "Codes hashed at rest"): batch_retire deletes the
-- batch's codes and keeps its row and its history, marked retired, so that
-- no look-up tries its key or its shape any more and the key may go.
--

/*
 * When batch_retire retired the batch (NULL: it is not retired).  Its row
 * changes, so batch_changed tells every backend, whose shapes then leave
 * the batch out (batch.c).
 */
SELECT codes.change_table('codes.batch',
	'ALTER TABLE codes.batch ADD COLUMN retired_at timestamptz');

COMMENT ON COLUMN codes.batch.retired_at IS
'When batch_retire deleted the batch''s codes and kept its row and history (NULL: not retired); no look-up tries its key or shape.';

/*
 * Retire a hashed batch: delete its codes and their stripes, keep its row
 * and its history, and mark it retired.  The locks are batch_del's: the
 * batch row FOR UPDATE, then the batch's lock alone (lock_batches), which
 * waits for the uses of its multi-use codes in progress; the DELETE waits
 * for those of single-use codes, which lock their row.  A single-use
 * code's use held on its row moves into the history as the row goes, in
 * one statement, so that the use the DELETE waited for is the one moved
 * (codes.redemptions goes on showing it).  Holds not yet confirmed are
 * released: their codes are gone.  A batch retired before is left as it
 * is (0).
 */
CREATE FUNCTION codes.batch_retire(batch text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	hashed		boolean;
	retired		boolean;
	deleted		bigint;
BEGIN
	SELECT b.key_id IS NOT NULL, b.retired_at IS NOT NULL INTO hashed, retired
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF NOT hashed THEN
		RAISE EXCEPTION 'batch "%" is not hashed', batch
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Only a batch hashed at rest is retired, so that its key may go.',
				  HINT = 'codes.batch_revoke ends a batch; codes.batch_del deletes it with its history.';
	END IF;
	IF retired THEN
		RETURN 0;
	END IF;
	PERFORM codes.lock_batches(ARRAY[batch_no]);
	WITH gone AS (
		DELETE FROM codes.codes AS c WHERE c.batch OPERATOR(pg_catalog.=) batch_no
		RETURNING c.code, c.batch, c.uses, c.used_at, c.used_by),
	moved AS (
		INSERT INTO codes.redemption_log (code, batch, redeemer, used_at)
		SELECT gone.code, gone.batch, gone.used_by, gone.used_at FROM gone
		WHERE gone.used_at IS NOT NULL AND gone.uses OPERATOR(pg_catalog.>) 0
		ORDER BY gone.used_at)
	SELECT pg_catalog.count(*) INTO deleted FROM gone;
	DELETE FROM codes.use_stripes AS s WHERE s.batch OPERATOR(pg_catalog.=) batch_no;
	UPDATE codes.redemption_log AS l SET undone_at = pg_catalog.now()
	WHERE l.batch OPERATOR(pg_catalog.=) batch_no
	  AND l.held_until IS NOT NULL AND l.undone_at IS NULL;
	UPDATE codes.batch AS b SET retired_at = pg_catalog.now()
	WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	RETURN deleted;
END
$$;

COMMENT ON FUNCTION codes.batch_retire(text) IS
'Retire a hashed batch whose key is being rotated out: delete its codes, keep its row and history, marked retired; returns the number of codes deleted.';

/*
 * A retired batch has no codes, and gets none: extending or unrevoking
 * it, or adding codes to it (code_add, batch_generate: import.c), is
 * refused.
 */
CREATE OR REPLACE FUNCTION codes.batch_extend(batch text, valid_until timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	start		timestamptz;
	retired		timestamptz;
BEGIN
	SELECT b.valid_from, b.retired_at INTO start, retired
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF retired IS NOT NULL THEN
		RAISE EXCEPTION 'batch "%" is retired', batch
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('codes.batch_retire retired it at %s; it has no codes.', retired),
				  HINT = 'Add the codes to a new batch.';
	END IF;
	IF valid_until OPERATOR(pg_catalog.<) start THEN
		RAISE EXCEPTION 'valid_until must not be before valid_from'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('valid_from is %s, valid_until is %s.', start, valid_until);
	END IF;
	UPDATE codes.batch AS b SET valid_until = batch_extend.valid_until
	WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no);
END
$$;

CREATE OR REPLACE FUNCTION codes.batch_unrevoke(batch text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
	retired		timestamptz;
BEGIN
	SELECT b.retired_at INTO retired
	FROM codes.batch AS b WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	IF retired IS NOT NULL THEN
		RAISE EXCEPTION 'batch "%" is retired', batch
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('codes.batch_retire retired it at %s; it has no codes.', retired),
				  HINT = 'Add the codes to a new batch.';
	END IF;
	UPDATE codes.batch AS b SET revoked_at = NULL WHERE b.id OPERATOR(pg_catalog.=) batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c
			WHERE c.batch OPERATOR(pg_catalog.=) batch_no);
END
$$;

/*
 * codes.batches: a retired batch's state is retired, and when
 * (retired_at, a column added last, as a view's new columns must be).
 */
CREATE OR REPLACE VIEW codes.batches AS
WITH own AS MATERIALIZED (SELECT codes.roles_are_own() AS ok)
SELECT b.name, b.created_at, b.valid_from, b.valid_until, b.revoked_at,
	   b.pattern, b.key_id, b.max_uses, b.max_uses_per_redeemer,
	   COALESCE(s.issued, 0) AS issued,
	   COALESCE(s.used_up, 0) AS used_up,
	   CASE WHEN b.max_uses IS NOT NULL THEN COALESCE(s.uses_left, 0) END AS uses_left,
	   b.metadata,
	   CASE WHEN b.retired_at IS NOT NULL THEN 'retired'
			WHEN b.revoked_at IS NOT NULL THEN 'revoked'
			WHEN b.valid_from > pg_catalog.now() THEN 'not_yet_valid'
			WHEN b.valid_until < pg_catalog.now() THEN 'expired'
			ELSE 'active' END AS state,
	   b.max_batch_uses_per_redeemer,
	   COALESCE(s.uses, 0) AS uses,
	   b.retired_at
FROM own, codes.batch AS b
	LEFT JOIN (
		SELECT u.batch,
			   pg_catalog.count(*) AS issued,
			   pg_catalog.count(*) FILTER (WHERE u.uses >= u.max_uses) AS used_up,
			   pg_catalog.sum(GREATEST(u.max_uses - u.uses, 0))::bigint AS uses_left,
			   pg_catalog.sum(u.uses)::bigint AS uses
		FROM (SELECT c.batch, cb.max_uses,
					 (c.uses + COALESCE(st.uses, 0) + COALESCE(h.uses, 0))::bigint AS uses
			  FROM codes.codes AS c
				  JOIN codes.batch AS cb ON cb.id = c.batch
				  LEFT JOIN (SELECT us.code, pg_catalog.sum(us.uses) AS uses
							 FROM codes.use_stripes AS us GROUP BY us.code) AS st
					  ON st.code = c.code
				  LEFT JOIN (SELECT l.code,
									pg_catalog.count(*) FILTER (
										WHERE lb.max_uses IS NULL
										  AND (l.held_until IS NULL OR l.held_until >= pg_catalog.now()))
									- pg_catalog.count(*) FILTER (
										WHERE lb.max_uses IS NOT NULL
										  AND l.held_until < pg_catalog.now()) AS uses
							 FROM codes.redemption_log AS l
								 JOIN codes.batch AS lb ON lb.id = l.batch
							 WHERE l.undone_at IS NULL
							 GROUP BY l.code) AS h
					  ON h.code = c.code) AS u
		GROUP BY u.batch) AS s ON s.batch = b.id
WHERE own.ok;

COMMENT ON VIEW codes.batches IS
'Each batch with its period, uses per code (NULL: no total limit), counts of codes issued, codes used up and uses left, its metadata, its state (active, not_yet_valid, expired, revoked or retired), its limit per redeemer across the batch, its standing uses, and when it was retired.';

REVOKE ALL ON FUNCTION codes.batch_retire(text) FROM PUBLIC;
-- codes_admin's right to it is a line of codes.granted_rights (below)

--
-- Hardening (issue 24): the extension's rights are exactly those the
-- README lists, whatever default privileges the installing role has; the
-- roles that hold them serve one database each; a role that existed
-- before is taken only if nobody but a superuser can use or hand it out;
-- and no code that a role other than a superuser or the extension's owner
-- can change runs attached to the extension's tables.  This section sets
-- up codes.set_privileges, which this script calls last, before its
-- helpers go: keep that call there, after every object of 1.3 exists, and
-- end every later update script with it.  A section of this script does
-- not GRANT to codes_app or codes_admin (in a database other than the
-- first, its roles are others): a new right is a line of
-- codes.granted_rights, which set_privileges grants.
--

/*
 * The two roles of this database: 'app' (code_use and the other calls an
 * application makes) and 'admin' (a member of app, which also makes,
 * deletes and undoes codes and runs the batches).  Roles belong to the
 * cluster; a role serves one database, so that a role granted codes_admin
 * for one database cannot dump another's codes (codes.database_roles).
 * Not a configuration table: a restore's CREATE EXTENSION chooses the
 * roles of the database it restores into.
 */
CREATE TABLE codes.roles (
	kind	text PRIMARY KEY,
	role	regrole NOT NULL UNIQUE,
	database oid NOT NULL,
	CONSTRAINT roles_kind_check
		CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['app', 'admin']))
);

COMMENT ON TABLE codes.roles IS
'The roles that hold the rights of codes in this database: app (the calls an application makes) and admin (everything an admin does); database is the OID of the database they were chosen for (in a copy of another database, that one''s: the library refuses its calls until codes.set_privileges gives the copy roles of its own).';

/*
 * The database, other than this one, in which a role holds rights or owns
 * objects (CONNECT on a database counts too), or NULL if there is none.
 * Roles belong to the cluster: such a role serves that database, and must
 * not serve this one too.
 */
CREATE FUNCTION codes.role_elsewhere(candidate oid)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(d.datname, s.dbid::text)
FROM pg_catalog.pg_shdepend AS s
	LEFT JOIN pg_catalog.pg_database AS d
		ON d.oid OPERATOR(pg_catalog.=) CASE WHEN s.dbid OPERATOR(pg_catalog.=) 0
											 THEN s.objid ELSE s.dbid END
WHERE s.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_authid'::pg_catalog.regclass
  AND s.refobjid OPERATOR(pg_catalog.=) candidate
  AND CASE WHEN s.dbid OPERATOR(pg_catalog.=) 0
		   THEN s.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_database'::pg_catalog.regclass
		   ELSE true END
  AND COALESCE(d.datname OPERATOR(pg_catalog.<>) pg_catalog.current_database(), true)
ORDER BY 1 LIMIT 1
$$;

/*
 * Why a role cannot hold the rights of codes in this database, or NULL if
 * it can.  It must be an ordinary role that cannot log in, with no
 * password and no attribute but INHERIT; and every membership of it, as a
 * member or as a group, must have been granted by a superuser, with ADMIN
 * OPTION only for superusers: a role that a role without superuser rights
 * made, can grant, or has put members into could hand the rights of codes
 * to whom it chose.  (Whether it serves another database is
 * role_elsewhere's.)
 */
CREATE FUNCTION codes.role_problem(candidate oid)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r		pg_catalog.pg_authid;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_authid AS a WHERE a.oid OPERATOR(pg_catalog.=) candidate;
	IF r.rolsuper THEN
		RETURN 'it is a superuser';
	ELSIF r.rolcanlogin THEN
		RETURN 'it can log in';
	ELSIF r.rolpassword IS NOT NULL THEN
		RETURN 'it has a password';
	ELSIF r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls THEN
		RETURN 'it may create roles or databases, replicate or bypass row security';
	ELSIF EXISTS (SELECT FROM pg_catalog.pg_auth_members AS m
					  JOIN pg_catalog.pg_roles AS g ON g.oid OPERATOR(pg_catalog.=) m.grantor
					  JOIN pg_catalog.pg_roles AS u ON u.oid OPERATOR(pg_catalog.=) m.member
				  WHERE (m.roleid OPERATOR(pg_catalog.=) candidate
						 OR m.member OPERATOR(pg_catalog.=) candidate)
					AND (NOT g.rolsuper OR (m.admin_option AND NOT u.rolsuper))) THEN
		RETURN 'a role without superuser rights granted a membership of it, or may grant it';
	END IF;
	RETURN NULL;
END
$$;

/*
 * This database's app and admin roles, as codes.roles records them; the
 * first time (a fresh install, the update from 1.2 or before, or the first
 * run in a copy of another database, whose rows name that one) chosen,
 * and made if they do not exist; and every time checked (role_problem),
 * so that no install or update hands the rights to a role that anyone
 * but a superuser could use or hand out, or that serves another database
 * (role_elsewhere: refused the first time, a warning after).
 *
 * codes_app and codes_admin serve the first database that installs codes
 * (and each database that had them before 1.3, as long as they serve no
 * other).  Another database's roles are codes_app_DATABASE and
 * codes_admin_DATABASE, or codes_app_OID and codes_admin_OID when the
 * database's name is too long for a role's.  An update from 1.2 in a
 * database whose codes_app and codes_admin serve another database too
 * moves this database to roles of its own, with a warning: their members
 * lose the rights here until granted the new roles.
 */
CREATE FUNCTION codes.database_roles(OUT app regrole, OUT admin regrole)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	names	text[] := ARRAY['codes_app', 'codes_admin'];
	here	oid;
	suffix	text;
	nsp		oid := 'codes'::pg_catalog.regnamespace;
	held	boolean;
	problem	text;
	other	text;
	r		oid;
	i		integer;
BEGIN
	SELECT d.oid INTO here FROM pg_catalog.pg_database AS d
	WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
	-- a copy of another database (CREATE DATABASE ... TEMPLATE) has that
	-- one's rows: not this database's roles
	SELECT ro.role INTO app FROM codes.roles AS ro
	WHERE ro.kind OPERATOR(pg_catalog.=) 'app' AND ro.database OPERATOR(pg_catalog.=) here;
	SELECT ro.role INTO admin FROM codes.roles AS ro
	WHERE ro.kind OPERATOR(pg_catalog.=) 'admin' AND ro.database OPERATOR(pg_catalog.=) here;

	IF app IS NULL OR admin IS NULL THEN
		DELETE FROM codes.roles;
		-- before 1.3, codes_app and codes_admin served every database: did
		-- they serve this one (an update; a fresh install, whose schema is
		-- this transaction's, granted them too on its way to 1.3)?
		SELECT pg_catalog.bool_or(a.grantee OPERATOR(pg_catalog.=) ro.oid)
			   AND n.xmin OPERATOR(pg_catalog.<>) pg_catalog.xid(pg_catalog.pg_current_xact_id())
		INTO held
		FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a,
			 pg_catalog.pg_roles AS ro
		WHERE n.oid OPERATOR(pg_catalog.=) nsp AND ro.rolname OPERATOR(pg_catalog.=) ANY (names)
		GROUP BY n.xmin;
		IF EXISTS (SELECT FROM pg_catalog.pg_roles AS ro
				   WHERE ro.rolname OPERATOR(pg_catalog.=) ANY (names)
					 AND codes.role_elsewhere(ro.oid) IS NOT NULL) THEN
			suffix := pg_catalog.current_database();
			IF pg_catalog.octet_length('codes_admin_' OPERATOR(pg_catalog.||) suffix)
			   OPERATOR(pg_catalog.>) 63 THEN
				SELECT d.oid::text INTO suffix FROM pg_catalog.pg_database AS d
				WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
			END IF;
			names := ARRAY['codes_app_' OPERATOR(pg_catalog.||) suffix,
						   'codes_admin_' OPERATOR(pg_catalog.||) suffix];
			IF held THEN
				RAISE WARNING 'roles codes_app and codes_admin also hold rights in another database'
					USING DETAIL = pg_catalog.format('In this database, codes grants its rights to %I and %I from now on; the members of codes_app and codes_admin lose them here.',
													 names[1], names[2]),
						  HINT = pg_catalog.format('Grant %I and %I to the roles that use codes in this database, and revoke codes_app and codes_admin from those that should not use it in the other.',
												   names[1], names[2]);
			END IF;
		END IF;

		FOR i IN 1 .. 2 LOOP
			IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS ro
						   WHERE ro.rolname OPERATOR(pg_catalog.=) names[i]) THEN
				EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', names[i]);
			END IF;
		END LOOP;
		SELECT ro.oid INTO r FROM pg_catalog.pg_roles AS ro WHERE ro.rolname OPERATOR(pg_catalog.=) names[1];
		app := r;
		SELECT ro.oid INTO r FROM pg_catalog.pg_roles AS ro WHERE ro.rolname OPERATOR(pg_catalog.=) names[2];
		admin := r;
		INSERT INTO codes.roles (kind, role, database) VALUES ('app', app, here), ('admin', admin, here);
		IF names[1] OPERATOR(pg_catalog.<>) 'codes_app' THEN
			RAISE NOTICE 'the roles of codes in this database are % and %', app, admin;
		END IF;
		-- roles named after this database that serve another are refused
		FOREACH r IN ARRAY ARRAY[app::oid, admin::oid] LOOP
			other := codes.role_elsewhere(r);
			IF other IS NOT NULL THEN
				RAISE EXCEPTION 'role % cannot hold the rights of extension codes: it holds rights or objects in database %',
								r::pg_catalog.regrole, pg_catalog.quote_ident(other)
					USING ERRCODE = 'insufficient_privilege',
						  HINT = 'A role serves the extension in one database. Drop the role, or revoke what it holds in the other database, and run the command again.';
			END IF;
		END LOOP;
	ELSE
		-- an older version's install in another database may have granted
		-- them there (its scripts granted codes_app and codes_admin in
		-- every database): tell, as the update there will move it
		FOREACH r IN ARRAY ARRAY[app::oid, admin::oid] LOOP
			other := codes.role_elsewhere(r);
			IF other IS NOT NULL THEN
				RAISE WARNING 'role % of codes in this database also holds rights or objects in database %',
							  r::pg_catalog.regrole, pg_catalog.quote_ident(other)
					USING HINT = 'Its members may act there too. Update codes there (it then takes roles of its own), or revoke what the role holds there.';
			END IF;
		END LOOP;
	END IF;

	-- checked before the admin role is made a member of the app role, so
	-- that a role that exists already is judged as it was found
	FOREACH r IN ARRAY ARRAY[app::oid, admin::oid] LOOP
		problem := codes.role_problem(r);
		IF problem IS NOT NULL THEN
			RAISE EXCEPTION 'role % cannot hold the rights of extension codes: %', r::pg_catalog.regrole, problem
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'The roles of codes must be NOLOGIN roles without password or attributes, which only superusers have granted or may grant. Drop the role (then codes makes it), or change it, and run the command again.';
		END IF;
	END LOOP;
	IF NOT pg_catalog.pg_has_role(admin, app, 'MEMBER') THEN
		EXECUTE pg_catalog.format('GRANT %s TO %s', app, admin);
	END IF;
END
$$;

/*
 * Raise an error while code that a role other than a superuser or the
 * extension's owner can change is attached to a table of the extension:
 * a trigger's function, or a function (or an operator's function) that a
 * CHECK or DEFAULT, an index, a rule or a row security policy on the table
 * calls.  Such code runs inside the extension's SECURITY DEFINER functions,
 * with the owner's rights: before 1.3, default privileges could give a
 * role TRIGGER on codes.codes, and its trigger could make it superuser at
 * the next code_use.
 */
CREATE FUNCTION codes.check_attached_code()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad		record;
BEGIN
	SELECT pg_catalog.pg_describe_object(a.classid, a.objid, a.objsubid) AS what,
		   p.oid::pg_catalog.regprocedure AS fn, p.proowner::pg_catalog.regrole AS owner
	INTO bad
	FROM pg_catalog.pg_extension AS e
		JOIN pg_catalog.pg_depend AS m
			ON m.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND m.refobjid OPERATOR(pg_catalog.=) e.oid AND m.deptype OPERATOR(pg_catalog.=) 'e'
		   AND m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
		JOIN pg_catalog.pg_depend AS a
			ON a.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND a.refobjid OPERATOR(pg_catalog.=) m.objid
		JOIN pg_catalog.pg_depend AS f
			ON f.classid OPERATOR(pg_catalog.=) a.classid AND f.objid OPERATOR(pg_catalog.=) a.objid
		JOIN pg_catalog.pg_proc AS p
			ON p.oid OPERATOR(pg_catalog.=) CASE f.refclassid
				WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN f.refobjid
				WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass
				THEN (SELECT o.oprcode::pg_catalog.oid FROM pg_catalog.pg_operator AS o
					  WHERE o.oid OPERATOR(pg_catalog.=) f.refobjid) END
		JOIN pg_catalog.pg_roles AS owner ON owner.oid OPERATOR(pg_catalog.=) p.proowner
	WHERE e.extname OPERATOR(pg_catalog.=) 'codes'
	  AND NOT owner.rolsuper AND p.proowner OPERATOR(pg_catalog.<>) e.extowner
	  -- what is attached to the table itself, not a view over it
	  AND CASE a.classid
			WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN true
			WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN true
			WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN true
			WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN true
			WHEN 'pg_catalog.pg_class'::pg_catalog.regclass
			THEN EXISTS (SELECT FROM pg_catalog.pg_index AS i
						 WHERE i.indexrelid OPERATOR(pg_catalog.=) a.objid
						   AND i.indrelid OPERATOR(pg_catalog.=) m.objid)
			WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass
			THEN EXISTS (SELECT FROM pg_catalog.pg_rewrite AS w
						 WHERE w.oid OPERATOR(pg_catalog.=) a.objid
						   AND w.ev_class OPERATOR(pg_catalog.=) m.objid)
			ELSE false END
	ORDER BY 1, 2 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '% calls function %, which role % owns', bad.what, bad.fn, bad.owner
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Code attached to the tables of extension codes runs inside its functions, with the rights of the extension''s owner; only a superuser or that owner may own it.',
				  HINT = 'Drop it, or review the function and make a superuser its owner, and run the command again.';
	END IF;
END
$$;

/*
 * The rights that codes grants in this database to its app and admin
 * roles (codes.roles), one row per object and privilege: the README's
 * Privileges.  A new right of either role is a line here.
 */
CREATE FUNCTION codes.granted_rights(app regrole, admin regrole)
RETURNS TABLE (classid oid, objid oid, privilege text, grantee oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT v.classid, v.objid, v.privilege,
	   CASE WHEN v.kind OPERATOR(pg_catalog.=) 'app' THEN app::oid ELSE admin::oid END
FROM (VALUES
	-- an application redeems, checks and queries codes, braked; holds a
	-- use while a customer pays, confirms or releases it; and undoes uses
	-- (a refund)
	('pg_namespace'::regclass::oid, 'codes'::regnamespace::oid, 'USAGE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_use(text, text)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_redeem(text, text, text, jsonb)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_check(text, text)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_query(text, text)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_normalize(text)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_valid(text, text)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_hold(text, text, interval, text, jsonb)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.hold_confirm(text, bigint, text, jsonb)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.hold_release(text, bigint)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.code_undo(text, text)'::regprocedure::oid, 'EXECUTE', 'app'),
	('pg_proc'::regclass::oid, 'codes.undo_reference(text)'::regprocedure::oid, 'EXECUTE', 'app'),
	-- an admin (a member of the application role) makes, imports and
	-- deletes codes, controls them one by one, runs the batches, and reads
	-- the views
	('pg_namespace'::regclass::oid, 'codes'::regnamespace::oid, 'USAGE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb, integer)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_create(text, timestamptz, timestamptz, integer, integer, text, jsonb, integer, text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_add(text, text[], integer[])'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_generate(text, integer)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_del(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_deactivate(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_reactivate(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_bind(text, text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.code_set_metadata(text, jsonb)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_extend(text, timestamptz)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_revoke(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_unrevoke(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_set_metadata(text, jsonb)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_set_valid_from(text, timestamptz)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_set_max_uses(text, integer)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_set_max_uses_per_redeemer(text, integer)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_set_max_batch_uses_per_redeemer(text, integer)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_codes(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_del(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_retire(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.batch_purge(timestamptz, boolean)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.throttle_reset(text)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.throttled_redeemers()'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.generations()'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.key_fold(uuid)'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_proc'::regclass::oid, 'codes.roles_are_own()'::regprocedure::oid, 'EXECUTE', 'admin'),
	('pg_class'::regclass::oid, 'codes.batches'::regclass::oid, 'SELECT', 'admin'),
	('pg_class'::regclass::oid, 'codes.redemptions'::regclass::oid, 'SELECT', 'admin'),
	('pg_class'::regclass::oid, 'codes.holds'::regclass::oid, 'SELECT', 'admin'),
	('pg_class'::regclass::oid, 'codes.throttled'::regclass::oid, 'SELECT', 'admin'),
	('pg_class'::regclass::oid, 'codes.generation_progress'::regclass::oid, 'SELECT', 'admin')
	) AS v (classid, objid, privilege, kind)
$$;

/*
 * Every object of the extension that has rights of its own, as it is now:
 * the keyword and name that GRANT takes, its owner, its ACL and its
 * columns' (NULL where never set), and the kind of object for acldefault.
 */
CREATE FUNCTION codes.member_acls()
RETURNS TABLE (classid oid, objid oid, keyword text, ident text, owner oid,
			   acl aclitem[], column_acl aclitem[], kind "char")
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT d.classid, d.objid, o.keyword, o.ident, o.owner, o.acl,
	   (SELECT pg_catalog.array_agg(c.item) FROM pg_catalog.pg_attribute AS at,
			   pg_catalog.unnest(at.attacl) AS c (item)
		WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass::oid
		  AND at.attrelid OPERATOR(pg_catalog.=) d.objid),
	   o.kind
FROM pg_catalog.pg_extension AS e
	JOIN pg_catalog.pg_depend AS d
		ON d.refclassid OPERATOR(pg_catalog.=) 'pg_extension'::regclass::oid
	   AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e',
	LATERAL (
		SELECT 'SCHEMA', pg_catalog.quote_ident(n.nspname), n.nspowner, n.nspacl, 'n'::"char"
		FROM pg_catalog.pg_namespace AS n
		WHERE d.classid OPERATOR(pg_catalog.=) 'pg_namespace'::regclass::oid
		  AND n.oid OPERATOR(pg_catalog.=) d.objid
		UNION ALL
		SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
			   c.oid::regclass::text, c.relowner, c.relacl,
			   CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 's' ELSE 'r' END::"char"
		FROM pg_catalog.pg_class AS c
		WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass::oid
		  AND c.oid OPERATOR(pg_catalog.=) d.objid
		UNION ALL
		SELECT 'ROUTINE', p.oid::regprocedure::text, p.proowner, p.proacl, 'f'::"char"
		FROM pg_catalog.pg_proc AS p
		WHERE d.classid OPERATOR(pg_catalog.=) 'pg_proc'::regclass::oid
		  AND p.oid OPERATOR(pg_catalog.=) d.objid
		UNION ALL
		-- a type of its own: a table's row type and an array type have
		-- no rights of their own (members from PostgreSQL 18 on)
		SELECT 'TYPE', t.oid::regtype::text, t.typowner, t.typacl, 'T'::"char"
		FROM pg_catalog.pg_type AS t
		WHERE d.classid OPERATOR(pg_catalog.=) 'pg_type'::regclass::oid
		  AND t.oid OPERATOR(pg_catalog.=) d.objid
		  AND t.typrelid OPERATOR(pg_catalog.=) 0
		  AND NOT EXISTS (SELECT FROM pg_catalog.pg_type AS e
						  WHERE e.typarray OPERATOR(pg_catalog.=) t.oid)
		) AS o (keyword, ident, owner, acl, kind)
WHERE e.extname OPERATOR(pg_catalog.=) 'codes'
$$;

/*
 * Give every object of the extension exactly its rights: its owner's (as
 * the default gives them; for a type, PUBLIC's USAGE too), and those
 * granted_rights lists for this database's app and admin roles, and no
 * other; in pg_init_privs too when an extension script runs it, so that
 * pg_dump dumps what an admin grants later as the admin's.  Rights that an
 * installing role's default privileges gave, or that anyone granted
 * before, are revoked, with a warning that lists them.  Every member of
 * the extension is set, so that a new object is covered without a word.
 *
 * First the code attached to the tables (check_attached_code) and the
 * roles (database_roles), so that a failure of either changes nothing.
 */
CREATE FUNCTION codes.set_privileges()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	roles		record;
	obj			record;
	removed		text;
	others		text;
	statement	text;
	wrong		text;
	fresh		boolean;
BEGIN
	PERFORM codes.check_attached_code();
	SELECT * INTO roles FROM codes.database_roles();
	SELECT n.xmin OPERATOR(pg_catalog.=) pg_catalog.xid(pg_catalog.pg_current_xact_id()) INTO fresh
	FROM pg_catalog.pg_namespace AS n WHERE n.nspname OPERATOR(pg_catalog.=) 'codes';
	IF EXISTS (SELECT FROM pg_catalog.pg_extension AS e
				   JOIN pg_catalog.pg_depend AS d
					   ON d.refclassid OPERATOR(pg_catalog.=) 'pg_extension'::regclass::oid
					  AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
			   WHERE e.extname OPERATOR(pg_catalog.=) 'codes'
				 AND d.classid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_language', 'pg_foreign_data_wrapper',
					 'pg_foreign_server', 'pg_largeobject_metadata']::regclass[]::oid[])) THEN
		RAISE EXCEPTION 'codes.set_privileges cannot set the rights of a language, foreign data wrapper, server or large object';
	END IF;

	-- what goes that neither the owner has nor codes grants, for the
	-- warning (a type's PUBLIC USAGE is the default, and stays; in a fresh
	-- install, whose schema is this transaction's, the grants of 1.2's
	-- script to codes_app and codes_admin are no news; nor is a right of
	-- the admin role that the app role, of which it is a member, now
	-- holds, as code_undo's from 1.3 on)
	SELECT pg_catalog.string_agg(pg_catalog.format('%s: %s on %s %s', x.who, x.privs,
						CASE x.keyword WHEN 'ROUTINE' THEN 'function' ELSE pg_catalog.lower(x.keyword) END,
						x.ident), E'\n' ORDER BY x.who, x.ident)
	INTO removed
	FROM (SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
					  ELSE a.grantee::regrole::text END AS who,
				 m.keyword, m.ident,
				 pg_catalog.string_agg(DISTINCT a.privilege_type, ', ') AS privs
		  FROM codes.member_acls() AS m,
			   LATERAL (SELECT * FROM pg_catalog.aclexplode(m.acl)
						UNION ALL
						SELECT * FROM pg_catalog.aclexplode(m.column_acl)) AS a
		  WHERE a.grantee OPERATOR(pg_catalog.<>) m.owner
			AND NOT (m.kind OPERATOR(pg_catalog.=) 'T' AND a.grantee OPERATOR(pg_catalog.=) 0)
			AND NOT (fresh AND a.grantee::regrole::text OPERATOR(pg_catalog.=) ANY (ARRAY['codes_app', 'codes_admin']))
			AND NOT EXISTS (SELECT FROM codes.granted_rights(roles.app, roles.admin) AS g
							WHERE g.classid OPERATOR(pg_catalog.=) m.classid
							  AND g.objid OPERATOR(pg_catalog.=) m.objid
							  AND (g.grantee OPERATOR(pg_catalog.=) a.grantee
								   OR (a.grantee OPERATOR(pg_catalog.=) roles.admin::oid
									   AND g.grantee OPERATOR(pg_catalog.=) roles.app::oid))
							  AND g.privilege OPERATOR(pg_catalog.=) a.privilege_type)
		  GROUP BY 1, 2, 3) AS x;

	-- everyone's rights go (PUBLIC's always, so that pg_init_privs is
	-- written), the owner's come back as the default gives them, then the
	-- ones codes grants
	FOR obj IN SELECT * FROM codes.member_acls() AS m ORDER BY m.classid, m.objid LOOP
		SELECT pg_catalog.string_agg(DISTINCT a.grantee::regrole::text, ', ') INTO others
		FROM (SELECT * FROM pg_catalog.aclexplode(obj.acl)
			  UNION ALL
			  SELECT * FROM pg_catalog.aclexplode(obj.column_acl)) AS a
		WHERE a.grantee OPERATOR(pg_catalog.<>) obj.owner AND a.grantee OPERATOR(pg_catalog.<>) 0;
		EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM PUBLIC%s CASCADE', obj.keyword, obj.ident,
								  COALESCE(', ' OPERATOR(pg_catalog.||) others, ''));
		EXECUTE pg_catalog.format('GRANT ALL ON %s %s TO %s', obj.keyword, obj.ident, obj.owner::regrole);
		IF obj.kind OPERATOR(pg_catalog.=) 'T' THEN
			EXECUTE pg_catalog.format('GRANT USAGE ON TYPE %s TO PUBLIC', obj.ident);
		END IF;
		FOR statement IN
			SELECT pg_catalog.format('GRANT %s ON %s %s TO %s', g.privilege, obj.keyword, obj.ident,
									 g.grantee::regrole)
			FROM codes.granted_rights(roles.app, roles.admin) AS g
			WHERE g.classid OPERATOR(pg_catalog.=) obj.classid AND g.objid OPERATOR(pg_catalog.=) obj.objid
			ORDER BY 1
		LOOP
			EXECUTE statement;
		END LOOP;
	END LOOP;

	IF removed IS NOT NULL THEN
		RAISE WARNING 'rights on objects of extension codes that it does not grant were revoked'
			USING DETAIL = removed,
				  HINT = pg_catalog.format('Default privileges of the installing role, or grants made before, gave them. Grant %s or %s to the roles that use codes.',
										   roles.app, roles.admin);
	END IF;

	-- what must hold now on every member: exactly the intended rights
	SELECT pg_catalog.string_agg(m.ident, ', ' ORDER BY m.ident) INTO wrong
	FROM codes.member_acls() AS m
	WHERE m.column_acl IS NOT NULL
	   OR ARRAY(SELECT (a.grantee, a.privilege_type, a.is_grantable)::text
				FROM pg_catalog.aclexplode(COALESCE(m.acl, pg_catalog.acldefault(m.kind, m.owner))) AS a
				ORDER BY 1)
		  OPERATOR(pg_catalog.<>)
		  ARRAY(SELECT (a.grantee, a.privilege_type, a.is_grantable)::text
				FROM pg_catalog.aclexplode(pg_catalog.acldefault(m.kind, m.owner)) AS a
				WHERE a.grantee OPERATOR(pg_catalog.=) m.owner
				   OR (m.kind OPERATOR(pg_catalog.=) 'T' AND a.grantee OPERATOR(pg_catalog.=) 0)
				UNION ALL
				SELECT (g.grantee, g.privilege, false)::text
				FROM codes.granted_rights(roles.app, roles.admin) AS g
				WHERE g.classid OPERATOR(pg_catalog.=) m.classid AND g.objid OPERATOR(pg_catalog.=) m.objid
				ORDER BY 1);
	IF wrong IS NOT NULL THEN
		RAISE EXCEPTION 'could not set the rights of %', wrong;
	END IF;
END
$$;

REVOKE ALL ON FUNCTION codes.role_elsewhere(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.role_problem(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.database_roles() FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.check_attached_code() FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.granted_rights(regrole, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.member_acls() FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.set_privileges() FROM PUBLIC;

COMMENT ON FUNCTION codes.role_elsewhere(oid) IS
'The database other than this one in which a role holds rights or owns objects, or NULL.';
COMMENT ON FUNCTION codes.role_problem(oid) IS
'Why a role cannot hold the rights of codes in this database, or NULL if it can.';
COMMENT ON FUNCTION codes.database_roles() IS
'This database''s app and admin roles of codes: chosen and made the first time, checked every time.';
COMMENT ON FUNCTION codes.check_attached_code() IS
'Raise an error while code that a role other than a superuser or the extension''s owner owns is attached to a table of codes.';
COMMENT ON FUNCTION codes.granted_rights(regrole, regrole) IS
'The rights codes grants to this database''s app and admin roles, one row per object and privilege.';
COMMENT ON FUNCTION codes.member_acls() IS
'Every object of codes that has rights, with its owner and its ACLs as they are now.';
COMMENT ON FUNCTION codes.set_privileges() IS
'For the extension''s scripts: give every object of codes exactly its owner''s rights and those codes grants to this database''s app and admin roles.';

-- keep last: after every object of 1.3 exists
SELECT codes.set_privileges();

--
-- Last: the helpers of this script go.
--
DROP FUNCTION codes.change_table(regclass, text);
DROP FUNCTION codes.on_citus_worker();
DROP FUNCTION codes.carry_grants(regprocedure, regprocedure);
