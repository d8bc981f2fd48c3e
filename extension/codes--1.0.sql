/* extension/codes--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION codes" to load this file. \quit

-- The extension's own schema.  It fails if a schema of that name exists
-- already, so nobody can have prepared objects in it beforehand.  PUBLIC
-- gets no USAGE on it.
CREATE SCHEMA codes;
COMMENT ON SCHEMA codes IS 'Activation and coupon codes (extension codes)';

--
-- Tables.  Both are configuration tables, so pg_dump keeps their rows.
--

CREATE TABLE codes.batch (
	id			serial PRIMARY KEY,
	name		text NOT NULL UNIQUE,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	valid_from	timestamptz,
	valid_until	timestamptz,
	max_uses	integer NOT NULL DEFAULT 1,
	CONSTRAINT batch_name_check CHECK (name OPERATOR(pg_catalog.<>) ''),
	CONSTRAINT batch_max_uses_check CHECK (max_uses OPERATOR(pg_catalog.>=) 1),
	CONSTRAINT batch_period_check
		CHECK (valid_until OPERATOR(pg_catalog.>=) valid_from)
);

COMMENT ON TABLE codes.batch IS
'One row per code_gen call: what all codes of the batch share (name, validity period, uses allowed).';

/*
 * The unique index holds a 64-bit fold of each key (see key_fold in
 * alphabet.c) rather than the whole 16-byte key: a third smaller on disk,
 * and as unique keys imply unique codes, it also keeps codes unique.
 * Lookups probe it and then compare the whole key.
 */
CREATE FUNCTION codes.key_fold(uuid)
RETURNS bigint
AS 'MODULE_PATHNAME', 'key_fold'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION codes.key_fold(uuid) IS
'64-bit fold of a code''s key, the key of the unique index on codes.codes.';

/*
 * Columns are ordered for size: the two integers and the 16-byte key pack
 * into 24 bytes, so an unused code costs 48 bytes of heap tuple.  There is
 * no foreign key to batches: code_gen writes both tables in one
 * transaction, and a per-row RI trigger would double the cost of a batch.
 */
CREATE TABLE codes.codes (
	batch		integer NOT NULL,
	uses		integer NOT NULL DEFAULT 0,
	code		uuid NOT NULL,
	used_at		timestamptz,
	used_by		text
);

CREATE UNIQUE INDEX codes_key_fold ON codes.codes (codes.key_fold(code));

COMMENT ON TABLE codes.codes IS
'One row per code: its 16-byte key, its batch, and how often and when it was last used.';
COMMENT ON COLUMN codes.codes.code IS
'The code in binary form; its text form is the lower-case UUID.';
COMMENT ON COLUMN codes.codes.uses IS
'How many times the code has been used; it is used up when this reaches its batch''s max_uses.';
COMMENT ON COLUMN codes.codes.used_at IS
'Transaction time of the latest use.';
COMMENT ON COLUMN codes.codes.used_by IS
'Redeemer given to the latest use, if any.';

SELECT pg_catalog.pg_extension_config_dump('codes.batch', '');
SELECT pg_catalog.pg_extension_config_dump('codes.batch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('codes.codes', '');

--
-- The four operations.  They run with the extension owner's rights, so an
-- application needs EXECUTE on them but no privilege on the tables.  Their
-- C code pins search_path to pg_catalog alone while it runs (codes.c,
-- pinned_path) and names every object and operator in full; a SET clause
-- here would pin it too, at a tenth of the cost of a call.
--

CREATE FUNCTION codes.code_gen(num integer,
							   valid_from timestamptz,
							   valid_until timestamptz,
							   pattern text DEFAULT NULL,
							   max_uses integer DEFAULT 1,
							   batch text DEFAULT NULL)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'code_gen'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text) IS
'Create a batch of num new codes valid from valid_from to valid_until (inclusive, NULL = open) and return them.';

CREATE FUNCTION codes.code_use(code text, redeemer text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'code_use'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_use(text, text) IS
'Use a code once: SUCCEED if it exists, has uses left and is inside its validity period now, else FAILED.';

CREATE FUNCTION codes.code_query(code text)
RETURNS text
AS 'MODULE_PATHNAME', 'code_query'
LANGUAGE C STABLE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_query(text) IS
'Status of a code: NO EXISTED, TIMEINVALID, UNACTIVED (uses left) or ACTIVED (used up).';

CREATE FUNCTION codes.code_del(code text)
RETURNS text
AS 'MODULE_PATHNAME', 'code_del'
LANGUAGE C VOLATILE SECURITY DEFINER;

COMMENT ON FUNCTION codes.code_del(text) IS
'Delete a code; SUCCEED whether or not it existed.';

--
-- Nothing is PUBLIC: a status look-up is a guessing oracle too.
--

REVOKE ALL ON FUNCTION codes.code_gen(integer, timestamptz, timestamptz, text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_use(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_query(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.code_del(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION codes.key_fold(uuid) FROM PUBLIC;
REVOKE ALL ON TABLE codes.batch, codes.codes FROM PUBLIC;
REVOKE ALL ON SEQUENCE codes.batch_id_seq FROM PUBLIC;
