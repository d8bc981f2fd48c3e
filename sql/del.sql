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

-- only the named code goes; its batch stays
SELECT n, codes.code_query(code) FROM c ORDER BY n;
SELECT count(*) AS batches FROM codes.batch WHERE name = 'b';

DROP EXTENSION codes;
