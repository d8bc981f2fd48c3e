--
-- Key files: one that is a symbolic link is refused; reading the keys again
-- after every change of the settings does not grow the backend's memory.
-- (sql_tests/make_keys.sh makes the files.)
--
CREATE EXTENSION codes;
\set VERBOSITY terse

-- a symbolic link, even to a good key file, is refused, with nothing created
SET codes.key_file = '/tmp/codes_regress_key_link';
SELECT codes.code_gen(1, NULL, NULL, store => 'hmac');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS batches FROM codes.batch;

-- listed as an old key, it is left out with a warning
SET codes.key_file = '/tmp/codes_regress_key_a';
SET codes.old_key_files = '/tmp/codes_regress_key_link';
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, store => 'hmac', batch => 'hashed');
SELECT name, key_id FROM codes.batches;
RESET codes.old_key_files;

-- a UUID-shaped code makes code_query look for the hashed batch's key, so
-- each change of codes.old_key_files makes the next query read the keys
CREATE FUNCTION pg_temp.backend_bytes() RETURNS bigint LANGUAGE sql AS
$$SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts$$;
CREATE FUNCTION pg_temp.reload_keys(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..n LOOP
		PERFORM set_config('codes.old_key_files',
						   CASE WHEN i % 2 = 0 THEN '/tmp/codes_regress_key_b' ELSE '' END,
						   true);
		PERFORM codes.code_query('00000000-0000-0000-0000-000000000000');
	END LOOP;
END $$;
SELECT pg_temp.reload_keys(200);
SELECT pg_temp.backend_bytes() AS before \gset
SELECT pg_temp.reload_keys(2000);
SELECT pg_temp.backend_bytes() - :before < 16384 AS grew_under_16kb;

RESET codes.key_file;
DROP EXTENSION codes;
