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

-- only the named code goes; its batch stays
SELECT n, codes.code_query(code) FROM c ORDER BY n;
SELECT count(*) AS batches FROM codes.batch WHERE name = 'b';

DROP EXTENSION codes;
