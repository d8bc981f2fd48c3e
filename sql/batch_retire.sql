--
-- Retiring a hashed batch whose key is being rotated out (batch_retire):
-- its codes go, its row and history stay, and no look-up tries its key or
-- shape any more, so the key may leave codes.old_key_files.  (The key
-- files are made by sql_tests/make_keys.sh.)
--
CREATE EXTENSION codes;
\set VERBOSITY terse

-- a hashed batch made under key A, and a plain one of the same shape
SET codes.key_file = '/tmp/codes_regress_key_a';
CREATE TABLE old AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(4, NULL, NULL, pattern => 'RT-####-####-###^', store => 'hmac',
					batch => 'old') AS code;
CREATE TABLE plain AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(4, NULL, NULL, pattern => 'RT-####-####-###^', batch => 'plain') AS code;
SELECT codes.code_use(code, 'alice') FROM old WHERE n = 1;
SELECT codes.code_use(code, 'bob') FROM plain WHERE n = 1;
-- a text of the shape that is no code (a plain code, deleted)
CREATE TABLE typo AS SELECT code FROM plain WHERE n = 4;
SELECT codes.code_del(code) FROM typo;

-- the key is rotated: B is current, A an old key
SET codes.key_file = '/tmp/codes_regress_key_b';
SET codes.old_key_files = '/tmp/codes_regress_key_a';
SELECT codes.code_query(code) FROM old WHERE n = 2;

-- the exported texts cannot be re-imported while the batch holds them
SELECT codes.batch_create('new', NULL, NULL, store => 'hmac', pattern => 'RT-####-####-###^');
SELECT codes.code_add('new', array_agg(code ORDER BY n)) FROM old WHERE n > 1;
\echo :LAST_ERROR_SQLSTATE

-- refused, with nothing changed
SELECT codes.batch_retire(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_retire('nosuch');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_retire('plain');
\echo :LAST_ERROR_SQLSTATE
SELECT name, state, issued, retired_at IS NOT NULL AS retired
FROM codes.batches ORDER BY name;

-- retired: the number of its codes
SELECT codes.batch_retire('old');
SELECT codes.batch_retire('old') AS again;
SELECT name, state, issued, key_id, retired_at IS NOT NULL AS retired
FROM codes.batches ORDER BY name;
SELECT count(*) AS codes_left FROM codes.codes c JOIN codes.batch b ON b.id = c.batch
WHERE b.name = 'old';

-- its history stays: the single-use code's use, moved from its row
SELECT code IS NULL AS hashed, batch, redeemer, undone_at
FROM codes.redemptions ORDER BY batch;

-- its codes answer as missing
SELECT codes.code_query(code) FROM old WHERE n = 2;
SELECT ok, reason FROM codes.code_redeem((SELECT code FROM old WHERE n = 2), 'carol');
SELECT codes.code_use(code) FROM old WHERE n = 1;

-- refused on a retired batch
SELECT codes.batch_extend('old', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_unrevoke('old');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_generate('old', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('old', ARRAY['RT-ABCDEF']);
\echo :LAST_ERROR_SQLSTATE

-- key A goes: no error, no warning, no note in the log of that batch
\c
\set VERBOSITY terse
SET client_min_messages = log;
SET codes.key_file = '/tmp/codes_regress_key_b';
SET codes.old_key_files = '';
SELECT count(*) FROM codes.code_gen(2, NULL, NULL, pattern => 'RT-####-####-###^', batch => 'plain 2');
SELECT codes.code_query(code) FROM plain WHERE n = 2;
SELECT ok, reason FROM codes.code_redeem((SELECT code FROM typo), 'dave');
SELECT codes.code_query(code) FROM typo;
SELECT codes.code_query(code) FROM old WHERE n = 2;
RESET client_min_messages;

-- the texts exported at generation, re-imported into a new batch under B
SELECT codes.code_add('new', array_agg(code ORDER BY n)) FROM old WHERE n > 1;
SELECT codes.code_query(code) FROM old ORDER BY n;
SELECT name, state, issued, key_id FROM codes.batches WHERE name = 'new';

-- for codes_admin, not for codes_app
SELECT has_function_privilege('codes_admin', 'codes.batch_retire(text)', 'EXECUTE') AS admin,
	   has_function_privilege('codes_app', 'codes.batch_retire(text)', 'EXECUTE') AS app;

-- batch_del still deletes it with its history
SELECT codes.batch_del('old');
SELECT count(*) AS history FROM codes.redemption_log;

-- forget the guesses counted above: the brake's counts live in shared memory, which the next tests share
SELECT count(*) FILTER (WHERE codes.throttle_reset(r)) AS reset
FROM unnest(ARRAY['carol', 'dave']) AS r;

DROP TABLE old, plain, typo;
RESET codes.key_file;
RESET codes.old_key_files;
DROP EXTENSION codes;
