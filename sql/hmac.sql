--
-- Codes hashed at rest: store => 'hmac' keeps no code in plain text, only
-- an HMAC under a server key read from a file outside the data directory.
-- (sql_tests/hmac_at_rest.sh greps the relation files and a dump.)
--
CREATE EXTENSION codes;
\set VERBOSITY terse

-- no key configured: refused, nothing created
SET codes.key_file = '';
SELECT codes.code_gen(1, NULL, NULL, store => 'hmac');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, store => 'sha1');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, store => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS batches FROM codes.batch;

-- the key files, with fixed contents so that their ids are stable, are
-- made by sql_tests/make_keys.sh (scripts/test.sh runs it)
SET codes.key_file = '/tmp/codes_regress_key_a';

CREATE TEMP TABLE h AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(5, NULL, NULL, store => 'hmac', batch => 'hashed') AS code;
CREATE TEMP TABLE hp AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(5, NULL, NULL, pattern => 'HASH-####-####-###^', store => 'hmac',
					batch => 'hashed pattern') AS code;

-- the codes come back as usual; the batch names its key
SELECT count(*) FILTER (WHERE code ~ '^[0-9a-f]{8}-') AS uuids FROM h;
SELECT count(*) FILTER (WHERE code ~ '^HASH-') AS patterned FROM hp;
SELECT name, key_id FROM codes.batches ORDER BY name;

-- nothing in the table holds them
SELECT count(*) AS plain_keys FROM codes.codes c JOIN h ON c.code = h.code::uuid;
SELECT count(*) AS shown FROM codes.codes WHERE shown IS NOT NULL;

-- they work in any input form, one look-up each
SELECT codes.code_query(code), codes.code_use(upper(code), 'p1') FROM h WHERE n = 1;
SELECT codes.code_query(code), codes.code_use(code, 'p2') FROM h WHERE n = 1;
SELECT codes.code_query(lower(replace(code, '-', ' '))), codes.code_use(code, 'p3') FROM hp WHERE n = 1;
BEGIN;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) AS scans \gset
SELECT codes.code_query(code) FROM h WHERE n = 2;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
COMMIT;

-- batch_codes and redemptions show status and uses, not codes
SELECT code, status, uses FROM codes.batch_codes('hashed') ORDER BY uses DESC, status LIMIT 2;
SELECT code, batch, redeemer FROM codes.redemptions ORDER BY redeemer;

-- rotation: new batches take the new key; old ones work while the old key
-- file is still configured
SET codes.key_file = '/tmp/codes_regress_key_b';
SET codes.old_key_files = '/tmp/codes_regress_key_a';
SELECT count(*) FROM codes.code_gen(3, NULL, NULL, store => 'hmac', batch => 'rotated');
SELECT name, key_id FROM codes.batches ORDER BY name;
SELECT codes.code_query(code) FROM h WHERE n = 3;
SELECT codes.code_use(code, 'after rotation') FROM h WHERE n = 3;

-- without the old key, its codes cannot be looked up: they answer as not
-- found (the server log names the key, once per backend, never a code),
-- and plain codes of the same shape work on: new ones are made (with a
-- warning: they cannot be checked against the hashed ones) and used
SET codes.old_key_files = '';
SELECT codes.code_query(code) FROM h WHERE n = 4;
SELECT codes.code_use(code) FROM hp WHERE n = 4;
SELECT r.ok, r.reason FROM hp, codes.code_redeem(code, 'someone') r WHERE n = 4;
\set VERBOSITY default
CREATE TEMP TABLE pp AS
SELECT code FROM codes.code_gen(2, NULL, NULL, pattern => 'HASH-####-####-###^',
								batch => 'plain beside') AS code;
\set VERBOSITY terse
SELECT codes.code_use(code) FROM pp;
SELECT codes.code_query(code) FROM pp;
-- text of no batch's shape is still simply not found
SELECT codes.code_query('nonsense');

-- plain and hashed batches side by side
SET codes.old_key_files = '/tmp/codes_regress_key_a';
CREATE TEMP TABLE p AS SELECT code FROM codes.code_gen(2, NULL, NULL, batch => 'plain') AS code;
SELECT codes.code_use(code) FROM p;
SELECT codes.code_query(code) FROM h WHERE n = 5;

-- a key file inside the data directory, readable by others, too short or
-- missing is refused
SELECT current_setting('data_directory') || '/PG_VERSION' AS inside \gset
SET codes.key_file = :'inside';
\set VERBOSITY sqlstate
SELECT codes.code_gen(1, NULL, NULL, store => 'hmac');
\set VERBOSITY terse
SET codes.key_file = '/tmp/codes_regress_key_open';
SELECT codes.code_gen(1, NULL, NULL, store => 'hmac');
\echo :LAST_ERROR_SQLSTATE
SET codes.key_file = '/tmp/codes_regress_key_short';
SELECT codes.code_gen(1, NULL, NULL, store => 'hmac');
\echo :LAST_ERROR_SQLSTATE
SET codes.key_file = '/tmp/codes_regress_no_such_key';
SELECT codes.code_gen(1, NULL, NULL, store => 'hmac');
\echo :LAST_ERROR_SQLSTATE

-- only a superuser may set the keys
CREATE ROLE regress_codes_keyless;
SET ROLE regress_codes_keyless;
SET codes.key_file = '/tmp/codes_regress_key_a';
\echo :LAST_ERROR_SQLSTATE
-- (the message is PostgreSQL 15's "must be superuser or have privileges of
-- pg_read_all_settings", 18's "permission denied": the SQLSTATE alone)
\set VERBOSITY sqlstate
SHOW codes.key_file;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_codes_keyless;

-- each key is the HMAC-SHA-256 (RFC 2104) of the code's canonical text, as
-- pgcrypto computes it; also under a key longer than a SHA-256 block
CREATE EXTENSION pgcrypto;
SET codes.key_file = '/tmp/codes_regress_key_long';
SET codes.old_key_files = '/tmp/codes_regress_key_a, /tmp/codes_regress_key_b';
CREATE TEMP TABLE hl AS
SELECT code FROM codes.code_gen(5, NULL, NULL, store => 'hmac', batch => 'long key') AS code;
SELECT f.file, count(*) AS codes, count(c.code) AS as_pgcrypto
FROM (SELECT '/tmp/codes_regress_key_a' AS file, code FROM h
	  UNION ALL SELECT '/tmp/codes_regress_key_a', code FROM hp
	  UNION ALL SELECT '/tmp/codes_regress_key_long', code FROM hl) AS f
LEFT JOIN codes.codes AS c
	ON c.code = encode(substr(hmac(convert_to(upper(translate(f.code, '- ', '')), 'UTF8'),
								  pg_read_binary_file(f.file), 'sha256'), 1, 16), 'hex')::uuid
GROUP BY f.file ORDER BY f.file;
SELECT codes.code_use(code) FROM hl LIMIT 1;
DROP EXTENSION pgcrypto;

RESET codes.key_file;
RESET codes.old_key_files;
DROP EXTENSION codes;
