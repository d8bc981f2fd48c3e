--
-- code_del: SUCCEED, and afterwards the code does not exist.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(4, NULL, NULL, batch => 'b') AS code;

SELECT codes.code_del(code) FROM c WHERE n = 1;
SELECT codes.code_query(code), codes.code_use(code) FROM c WHERE n = 1;
SELECT count(*) AS rows_left FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 1;

-- deleting again, or a code that never existed, also succeeds
SELECT codes.code_del(code) FROM c WHERE n = 1;
SELECT codes.code_del(gen_random_uuid()::text);
SELECT codes.code_del('not a code');

-- a used code can be deleted too
SELECT codes.code_use(code) FROM c WHERE n = 2;
SELECT codes.code_del(code) FROM c WHERE n = 2;
SELECT codes.code_query(code) FROM c WHERE n = 2;

-- the code is found in any of its input forms
SELECT codes.code_del(upper(replace(code, '-', ' '))) FROM c WHERE n = 3;
SELECT codes.code_query(code) FROM c WHERE n = 3;

-- a code whose one use was undone has no use left, but history, which
-- goes with it
CREATE TEMP TABLE u AS SELECT code FROM codes.code_gen(1, NULL, NULL, batch => 'undone') AS code;
SELECT codes.code_use(code, 'r1'), codes.code_undo(code, 'r1') FROM u;
SELECT count(*) AS history FROM codes.redemption_log l JOIN u ON l.code = u.code::uuid;
SELECT codes.code_del(code) FROM u;
SELECT count(*) AS history_left FROM codes.redemption_log l JOIN u ON l.code = u.code::uuid;

-- used and deleted in one transaction: the delete sees the use
BEGIN;
CREATE TEMP TABLE m AS SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, batch => 'multi') AS code;
SELECT codes.code_use(code, 'r1'), codes.code_use(code, 'r2') FROM m;
SELECT codes.code_del(code) FROM m;
SELECT codes.code_query(code) FROM m;
SELECT count(*) AS history_left FROM codes.redemption_log l JOIN m ON l.code = m.code::uuid;
COMMIT;

-- an index on the history's code that is not as the extension made it,
-- partial or left invalid by a failed CREATE INDEX CONCURRENTLY, is not
-- scanned for the history, which still goes
DROP INDEX codes.redemption_log_code;
CREATE INDEX redemption_log_code ON codes.redemption_log (code) WHERE undone_at IS NULL;
CREATE TEMP TABLE pi AS SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, batch => 'partial') AS code;
SELECT codes.code_use(code, 'r1'), codes.code_use(code, 'r2'), codes.code_undo(code, 'r2') FROM pi;
SELECT codes.code_del(code) FROM pi;
SELECT count(*) AS history_left FROM codes.redemption_log l JOIN pi ON l.code = pi.code::uuid;
DROP INDEX codes.redemption_log_code;
CREATE TEMP TABLE ii AS SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, batch => 'invalid') AS code;
SELECT codes.code_use(code, 'r1'), codes.code_use(code, 'r2') FROM ii;
\set VERBOSITY terse
CREATE UNIQUE INDEX CONCURRENTLY redemption_log_code ON codes.redemption_log (code);
\set VERBOSITY default
SELECT indisvalid FROM pg_index WHERE indexrelid = 'codes.redemption_log_code'::regclass;
SELECT codes.code_del(code) FROM ii;
SELECT count(*) AS history_left FROM codes.redemption_log l JOIN ii ON l.code = ii.code::uuid;
DROP INDEX codes.redemption_log_code;
CREATE INDEX redemption_log_code ON codes.redemption_log (code);

-- only the named code goes; its batch stays
SELECT n, codes.code_query(code) FROM c ORDER BY n;
SELECT count(*) AS batches FROM codes.batch WHERE name = 'b';

DROP EXTENSION codes;
