--
-- Key files: one that is a symbolic link is refused; a role other than a
-- superuser is not told where a key file lies; reading the keys again
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

-- the path of a key file is for superusers, as the settings are: a message
-- of a call by any other role names the setting only (the server log has
-- the path); a superuser's call shows it
CREATE ROLE regress_keys_app;
GRANT codes_app TO regress_keys_app;
\set VERBOSITY default
SET codes.old_key_files = '/tmp/codes_regress_secret/no_such_key';
SET ROLE regress_keys_app;
SELECT codes.code_query('00000000-0000-0000-0000-000000000000');
RESET ROLE;
SET codes.old_key_files = '/tmp/codes_regress_secret/no_such_key, /tmp/codes_regress_key_b';
SELECT codes.code_query('00000000-0000-0000-0000-000000000000');
\set VERBOSITY terse
RESET codes.old_key_files;
DROP ROLE regress_keys_app;

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
