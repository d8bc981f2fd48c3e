/* extension/codes--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION codes UPDATE TO '1.1'" to load this file. \quit

--
-- 1.1: patterned codes with a check symbol, multi-use codes, per-redeemer
-- limits, the redemption history, undo, and the admin's batch functions
-- and views.
--

ALTER TABLE codes.batch
	ADD COLUMN pattern text,
	ADD COLUMN key_id text,
	ADD COLUMN max_uses_per_redeemer integer,
	ADD COLUMN revoked_at timestamptz,
	ADD CONSTRAINT batch_max_uses_per_redeemer_check
		CHECK (max_uses_per_redeemer >= 1 AND max_uses_per_redeemer <= max_uses);

COMMENT ON COLUMN codes.batch.pattern IS
'The pattern of the batch''s codes, or NULL for UUID codes.';
COMMENT ON COLUMN codes.batch.key_id IS
'For a batch made with store => ''hmac'': the id of the server key its codes are hashed under.';
COMMENT ON COLUMN codes.batch.max_uses_per_redeemer IS
'Uses of one code that one redeemer may hold, or NULL for no such limit.';
COMMENT ON COLUMN codes.batch.revoked_at IS
'When batch_revoke ended the batch; its codes fail until batch_extend.';

/*
 * A patterned code's key is a digest of its canonical form (see
 * alphabet.c), so its text as handed out is kept beside it.  NULL for UUID
 * codes, whose key is their text: the column costs them nothing.
 */
ALTER TABLE codes.codes ADD COLUMN shown text;

COMMENT ON COLUMN codes.codes.shown IS
'A plain patterned code as handed out; NULL for UUID codes, whose text is their key, and for hashed codes.';
COMMENT ON COLUMN codes.codes.code IS
'The code''s key: the UUID itself, the first 16 bytes of the SHA-256 digest of a patterned code''s canonical form, or of its HMAC for hashed batches.';

CREATE FUNCTION codes.code_valid(code text, pattern text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'code_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION codes.code_valid(text, text) IS
'Whether a code, read as input is, has the pattern''s shape and a correct check symbol; touches no table.';

/*
 * Leave a tenth of each page free, so that a use can put the new version
 * of a code's row on the same page: a HOT update, which adds no index
 * entries.  Costs about 6 bytes per code; pages written before this
 * setting stay full.
 */
ALTER TABLE codes.codes SET (fillfactor = 90);

/*
 * The uses that code rows cannot show.  A single-use code's standing use is
 * its row (uses, used_at, used_by), so the common case writes nothing here;
 * this table holds every use of a multi-use code, and every undone use,
 * with the time it was undone.
 */
CREATE TABLE codes.redemption_log (
	id			bigserial PRIMARY KEY,
	code		uuid NOT NULL,
	batch		integer NOT NULL,
	redeemer	text,
	used_at		timestamptz NOT NULL,
	undone_at	timestamptz
);

CREATE INDEX redemption_log_code ON codes.redemption_log (code);
CREATE INDEX redemption_log_batch ON codes.redemption_log (batch);

COMMENT ON TABLE codes.redemption_log IS
'Uses of multi-use codes and undone uses of any code; read view codes.redemptions.';

SELECT pg_catalog.pg_extension_config_dump('codes.redemption_log', '');
SELECT pg_catalog.pg_extension_config_dump('codes.redemption_log_id_seq', '');

/*
 * A code's status is decided in C (batch.c) from its uses and what each
 * backend remembers of its batch, so that a use or a query touches only
 * the code's row.  This trigger tells every backend when codes.batch
 * changes.
 */
CREATE FUNCTION codes.batch_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'batch_changed'
LANGUAGE C;

COMMENT ON FUNCTION codes.batch_changed() IS
'Trigger: makes every backend read codes.batch again after it changed.';

CREATE TRIGGER batch_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON codes.batch
	FOR EACH STATEMENT EXECUTE FUNCTION codes.batch_changed();

CREATE FUNCTION codes.code_status(batch integer, uses integer)
RETURNS text
AS 'MODULE_PATHNAME', 'code_status'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION codes.code_status(integer, integer) IS
'TIMEINVALID, UNACTIVED or ACTIVED: the status now of a code of this batch with this many uses.';

--
-- code_gen gains max_uses_per_redeemer and store.  Adding an argument means a new
-- function, so the EXECUTE grants of the old one are carried over.
--
DO $$
DECLARE
	grantees	text[];
	grantee		text;
BEGIN
	SELECT pg_catalog.array_agg(DISTINCT r.rolname)
	INTO grantees
	FROM pg_catalog.aclexplode((SELECT p.proacl FROM pg_catalog.pg_proc AS p
								WHERE p.oid = 'codes.code_gen(integer, timestamptz, timestamptz, text, integer, text)'::pg_catalog.regprocedure)) AS a
		JOIN pg_catalog.pg_roles AS r ON r.oid = a.grantee
	WHERE a.privilege_type = 'EXECUTE'
	  AND a.grantee <> (SELECT p.proowner FROM pg_catalog.pg_proc AS p
						WHERE p.oid = 'codes.code_gen(integer, timestamptz, timestamptz, text, integer, text)'::pg_catalog.regprocedure);

	DROP FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text);

	CREATE FUNCTION codes.code_gen(num integer,
								   valid_from timestamptz,
								   valid_until timestamptz,
								   pattern text DEFAULT NULL,
								   max_uses integer DEFAULT 1,
								   batch text DEFAULT NULL,
								   max_uses_per_redeemer integer DEFAULT NULL,
								   store text DEFAULT 'plain')
	RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'code_gen'
	LANGUAGE C VOLATILE SECURITY DEFINER;

	REVOKE ALL ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text) FROM PUBLIC;

	FOREACH grantee IN ARRAY COALESCE(grantees, '{}')
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text) TO %I',
								  grantee);
	END LOOP;
END
$$;

COMMENT ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text) IS
'Create a batch of num new codes valid from valid_from to valid_until (inclusive, NULL = open) and return them.';

CREATE FUNCTION codes.code_undo(code text, redeemer text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'code_undo'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_undo(text, text) IS
'Undo the latest standing use of a code (by redeemer, if given): SUCCEED, or FAILED when there is none.';

--
-- Views.  Their counts are computed when read, so no use ever updates a
-- shared counter row.
--

CREATE VIEW codes.redemptions AS
SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, c.code::text) END AS code,
	   b.name AS batch, c.used_by AS redeemer,
	   c.used_at, NULL::timestamptz AS undone_at
FROM codes.codes AS c JOIN codes.batch AS b ON b.id = c.batch
WHERE b.max_uses = 1 AND c.uses = 1
UNION ALL
SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, l.code::text) END,
	   b.name, l.redeemer, l.used_at, l.undone_at
FROM codes.redemption_log AS l
	JOIN codes.batch AS b ON b.id = l.batch
	LEFT JOIN codes.codes AS c
		ON codes.key_fold(c.code) = codes.key_fold(l.code) AND c.code = l.code;

COMMENT ON VIEW codes.redemptions IS
'Every use of every code: code (NULL for hashed codes), batch, redeemer, when, and when it was undone (NULL while it stands).';

CREATE VIEW codes.batches AS
SELECT b.name, b.created_at, b.valid_from, b.valid_until, b.revoked_at,
	   b.pattern, b.key_id, b.max_uses, b.max_uses_per_redeemer,
	   COALESCE(s.issued, 0) AS issued,
	   COALESCE(s.used_up, 0) AS used_up,
	   COALESCE(s.uses_left, 0) AS uses_left
FROM codes.batch AS b
	LEFT JOIN (
		SELECT c.batch,
			   pg_catalog.count(*) AS issued,
			   pg_catalog.count(*) FILTER (WHERE c.uses >= cb.max_uses) AS used_up,
			   pg_catalog.sum(cb.max_uses - c.uses) AS uses_left
		FROM codes.codes AS c JOIN codes.batch AS cb ON cb.id = c.batch
		GROUP BY c.batch) AS s ON s.batch = b.id;

COMMENT ON VIEW codes.batches IS
'Each batch with its period, uses per code, and counts of codes issued, codes used up and uses left.';

--
-- The admin's batch functions.
--

/*
 * The id of a batch named by an argument; errors for NULL and for a name
 * no batch has.  With lock, the batch row is locked against concurrent
 * batch functions.
 */
CREATE FUNCTION codes.batch_id(batch text, lock boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	found_id	integer;
BEGIN
	IF batch IS NULL THEN
		RAISE EXCEPTION 'batch must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF lock THEN
		SELECT b.id INTO found_id FROM codes.batch AS b WHERE b.name = batch FOR UPDATE;
	ELSE
		SELECT b.id INTO found_id FROM codes.batch AS b WHERE b.name = batch;
	END IF;
	IF found_id IS NULL THEN
		RAISE EXCEPTION 'batch "%" does not exist', batch
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'View codes.batches lists the batches.';
	END IF;
	RETURN found_id;
END
$$;

COMMENT ON FUNCTION codes.batch_id(text, boolean) IS
'Id of the named batch, or an error if there is none (used by the batch functions).';

CREATE FUNCTION codes.batch_extend(batch text, valid_until timestamptz)
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
	UPDATE codes.batch AS b SET valid_until = batch_extend.valid_until, revoked_at = NULL
	WHERE b.id = batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch = batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_extend(text, timestamptz) IS
'Give a batch a new end of validity (NULL = open), lifting any revocation; returns the number of its codes.';

CREATE FUNCTION codes.batch_revoke(batch text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch, true);
BEGIN
	UPDATE codes.batch AS b SET revoked_at = COALESCE(b.revoked_at, pg_catalog.now())
	WHERE b.id = batch_no;
	RETURN (SELECT pg_catalog.count(*) FROM codes.codes AS c WHERE c.batch = batch_no);
END
$$;

COMMENT ON FUNCTION codes.batch_revoke(text) IS
'End a batch now: its codes fail to use and query as TIMEINVALID until batch_extend; returns the number of its codes.';

CREATE FUNCTION codes.batch_codes(batch text)
RETURNS TABLE (code text, status text, uses integer, used_at timestamptz, used_by text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch_no	integer := codes.batch_id(batch);
BEGIN
	RETURN QUERY
		SELECT CASE WHEN b.key_id IS NULL THEN COALESCE(c.shown, c.code::text) END,
			   codes.code_status(c.batch, c.uses), c.uses, c.used_at, c.used_by
		FROM codes.codes AS c JOIN codes.batch AS b ON b.id = c.batch
		WHERE c.batch = batch_no;
END
$$;

COMMENT ON FUNCTION codes.batch_codes(text) IS
'Each code of a batch as it was handed out (NULL for hashed codes), with its status, uses, and latest use.';

/*
 * Delete batches with their codes and their history, in three set-based
 * statements however many batches and codes; the number of codes deleted.
 * For batch_del and batch_purge, which lock the batches first.
 */
CREATE FUNCTION codes.drop_batches(batch_ids integer[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	deleted	bigint;
BEGIN
	DELETE FROM codes.redemption_log AS l WHERE l.batch = ANY (batch_ids);
	DELETE FROM codes.codes AS c WHERE c.batch = ANY (batch_ids);
	GET DIAGNOSTICS deleted = ROW_COUNT;
	DELETE FROM codes.batch AS b WHERE b.id = ANY (batch_ids);
	RETURN deleted;
END
$$;

COMMENT ON FUNCTION codes.drop_batches(integer[]) IS
'Delete batches by id with their codes and history (used by batch_del and batch_purge).';

CREATE FUNCTION codes.batch_del(batch text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN codes.drop_batches(ARRAY[codes.batch_id(batch, true)]);
END
$$;

COMMENT ON FUNCTION codes.batch_del(text) IS
'Delete a batch with all its codes and their history, whatever their state; returns the number of codes deleted.';

CREATE FUNCTION codes.batch_purge(ended_before timestamptz)
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
	SELECT pg_catalog.array_agg(e.id) INTO batch_ids
	FROM (SELECT b.id FROM codes.batch AS b
		  WHERE b.valid_until < ended_before OR b.revoked_at < ended_before
		  FOR UPDATE) AS e;
	RETURN codes.drop_batches(COALESCE(batch_ids, '{}'));
END
$$;

COMMENT ON FUNCTION codes.batch_purge(timestamptz) IS
'Delete every batch whose validity ended (or that was revoked) before a time, with all its codes and history; returns the number of codes deleted.';

--
-- The brake on guessing (brake.c): failed uses counted per redeemer in
-- shared memory, which needs codes in shared_preload_libraries.
--

CREATE FUNCTION codes.throttled_redeemers(OUT redeemer text, OUT failures integer,
										  OUT until timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'throttled'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION codes.throttled_redeemers() IS
'Redeemers with failed uses in their current window, and until when each is braked; read view codes.throttled.';

CREATE VIEW codes.throttled AS
SELECT t.redeemer, t.failures, t.until FROM codes.throttled_redeemers() AS t;

COMMENT ON VIEW codes.throttled IS
'Redeemers with failed uses in their current window: failures, and until when each is braked (NULL if it is not).';

CREATE FUNCTION codes.throttle_reset(redeemer text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'throttle_reset'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION codes.throttle_reset(text) IS
'Forget a redeemer''s failed uses and lift its brake; true if there was anything to forget.';

--
-- Nothing is PUBLIC.
--

REVOKE ALL ON FUNCTION codes.batch_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_status(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_undo(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_valid(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_id(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_extend(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_revoke(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_codes(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.drop_batches(integer[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_del(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.batch_purge(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.throttled_redeemers() FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.throttle_reset(text) FROM PUBLIC;
REVOKE ALL ON TABLE codes.redemption_log, codes.redemptions, codes.batches, codes.throttled FROM PUBLIC;
REVOKE ALL ON SEQUENCE codes.redemption_log_id_seq FROM PUBLIC;
