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
 * CREATE INDEX.
 */
DO $$
DECLARE
	too_long	bigint;
BEGIN
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

DROP INDEX codes.redemption_log_code;
DROP INDEX codes.redemption_log_batch;
CREATE INDEX redemption_log_batch ON codes.redemption_log (batch, redeemer);
CREATE INDEX redemption_log_redeemer ON codes.redemption_log (redeemer, code);

/*
 * The history's key: (code, id) rather than id alone, which no look-up
 * needs, so that a use adds one index entry less; it finds a code's
 * latest use, and identifies a row to logical replication.  (On Citus it
 * holds the distribution column, as a unique index there must.)
 */
ALTER TABLE codes.redemption_log DROP CONSTRAINT redemption_log_pkey;
CREATE UNIQUE INDEX redemption_log_code ON codes.redemption_log (code, id);
ALTER TABLE codes.redemption_log REPLICA IDENTITY USING INDEX redemption_log_code;

/*
 * A single-use code's use stays on its own row.  Only rows that name a
 * redeemer enter this index, so a use without one stays a HOT update.
 */
CREATE INDEX codes_used_by ON codes.codes (used_by) WHERE used_by IS NOT NULL;

/*
 * No total cap: max_uses NULL lets a code be used by any number of
 * redeemers (with max_uses_per_redeemer, once each, say).  And a limit per
 * redeemer over a whole batch: at most this many uses of the batch's
 * codes, whichever codes.
 */
ALTER TABLE codes.batch ALTER COLUMN max_uses DROP NOT NULL;
ALTER TABLE codes.batch
	ADD COLUMN max_batch_uses_per_redeemer integer,
	ADD CONSTRAINT batch_max_batch_uses_per_redeemer_check
		CHECK (max_batch_uses_per_redeemer OPERATOR(pg_catalog.>=) 1);

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
ALTER TABLE codes.codes
	ADD COLUMN deactivated_at timestamptz,
	ADD COLUMN bound_to text,
	ADD COLUMN metadata jsonb;

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
ALTER TABLE codes.redemption_log
	ADD COLUMN reference text,
	ADD COLUMN details jsonb,
	ADD COLUMN held_until timestamptz;

COMMENT ON COLUMN codes.redemption_log.reference IS
'What the use was for, given by the application (an order id): code_redeem, code_hold, hold_confirm; undo_reference undoes by it.';
COMMENT ON COLUMN codes.redemption_log.details IS
'Details of the use, given by the application.';
COMMENT ON COLUMN codes.redemption_log.held_until IS
'For a hold (code_hold) not yet confirmed: until when it holds the use; NULL for a use.';

CREATE INDEX redemption_log_reference ON codes.redemption_log (reference)
	WHERE reference IS NOT NULL;
CREATE INDEX redemption_log_holds ON codes.redemption_log (code, held_until)
	WHERE held_until IS NOT NULL AND undone_at IS NULL;

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

/*
 * Roles that fit the day's work (README.md, "Roles"): the application
 * holds, confirms and releases uses, and undoes them (a refund); the admin
 * role, a member of the application's, manages batches.
 */
GRANT EXECUTE ON FUNCTION codes.code_hold(text, text, interval, text, jsonb),
	codes.hold_confirm(text, bigint, text, jsonb), codes.hold_release(text, bigint),
	codes.undo_reference(text), codes.code_undo(text, text) TO codes_app;

/*
 * The live and expired holds not yet confirmed, released or given back,
 * for an admin; each code's text as in codes.redemptions.
 */
CREATE VIEW codes.holds AS
SELECT l.id AS hold,
	   CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, l.code::text) END AS code,
	   b.name AS batch, l.redeemer, l.reference, l.used_at AS held_at, l.held_until,
	   l.held_until >= pg_catalog.now() AS live
FROM codes.redemption_log AS l
	JOIN codes.batch AS b ON b.id = l.batch
	LEFT JOIN codes.codes AS c
		ON codes.key_fold(c.code) = codes.key_fold(l.code) AND c.code = l.code
WHERE l.held_until IS NOT NULL AND l.undone_at IS NULL;

COMMENT ON VIEW codes.holds IS
'Holds not yet confirmed or released: hold id, code (NULL for hashed codes), batch, redeemer, reference, when held, until when, and whether still live.';

REVOKE ALL ON TABLE codes.holds FROM PUBLIC;
GRANT SELECT ON codes.holds TO codes_admin;

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
GRANT EXECUTE ON FUNCTION codes.code_deactivate(text), codes.code_reactivate(text),
	codes.code_bind(text, text), codes.code_set_metadata(text, jsonb) TO codes_admin;

/*
 * Every use in the views.  A single-use code's use is on its row, unless
 * it had to be recorded in the history (its batch limits uses per redeemer
 * across the batch, or the use carries a reference or details, or was a
 * hold): then its row says uses = 1 with used_at NULL.  Every use of a
 * multi-use code is in the history.  A hold not yet confirmed is no use.
 */
CREATE OR REPLACE VIEW codes.redemptions AS
SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, c.code::text) END AS code,
	   b.name AS batch, c.used_by AS redeemer,
	   c.used_at, NULL::timestamptz AS undone_at,
	   NULL::text AS reference, NULL::jsonb AS details
FROM codes.codes AS c JOIN codes.batch AS b ON b.id = c.batch
WHERE b.max_uses = 1 AND c.uses = 1 AND c.used_at IS NOT NULL
UNION ALL
SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, l.code::text) END,
	   b.name, l.redeemer, l.used_at, l.undone_at, l.reference, l.details
FROM codes.redemption_log AS l
	JOIN codes.batch AS b ON b.id = l.batch
	LEFT JOIN codes.codes AS c
		ON codes.key_fold(c.code) = codes.key_fold(l.code) AND c.code = l.code
WHERE l.held_until IS NULL;

COMMENT ON VIEW codes.redemptions IS
'Every use of every code: code (NULL for hashed codes), batch, redeemer, when, when it was undone (NULL while it stands), its reference and details; holds appear once confirmed (codes.holds lists the others).';

/*
 * A code's standing uses: its row's, plus its stripes' (a capped
 * multi-use code), or plus its standing history (a multi-use code without
 * a total cap, which has no stripes).  A hold counts while it is live; one
 * whose time has passed, which a capped code's stripes or a single-use
 * code's row count until a use expires it, is taken off.
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
			   pg_catalog.sum(u.max_uses - u.uses)::bigint AS uses_left,
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
ALTER TABLE codes.batch ADD COLUMN chosen boolean NOT NULL DEFAULT false;

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

-- an admin makes batches and their codes
GRANT EXECUTE ON FUNCTION
	codes.batch_create(text, timestamptz, timestamptz, integer, integer, text, jsonb, integer, text),
	codes.code_add(text, text[], integer[]),
	codes.batch_generate(text, integer)
	TO codes_admin;

DROP FUNCTION codes.carry_grants(regprocedure, regprocedure);
