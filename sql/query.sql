--
-- code_query: NO EXISTED, TIMEINVALID, UNACTIVED or ACTIVED.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(3, now() - interval '1 hour', now() + interval '1 hour',
					batch => 'current') AS code;

SELECT codes.code_query(gen_random_uuid()::text) AS unknown;
SELECT codes.code_query(code) AS fresh FROM c WHERE n = 1;
SELECT codes.code_use(code) FROM c WHERE n = 1;
SELECT codes.code_query(code) AS used FROM c WHERE n = 1;

-- a query changes nothing
SELECT sum(k.uses) AS uses FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n > 1;

-- outside the period a code is TIMEINVALID, used or not
UPDATE codes.batch SET valid_from = now() - interval '2 hours',
						 valid_until = now() - interval '1 hour'
WHERE name = 'current';
SELECT n, codes.code_query(code) FROM c ORDER BY n;
UPDATE codes.batch SET valid_from = now() + interval '1 hour', valid_until = NULL
WHERE name = 'current';
SELECT n, codes.code_query(code) FROM c ORDER BY n;

-- extending the batch is one row update and brings the codes back
UPDATE codes.batch SET valid_from = NULL WHERE name = 'current';
SELECT n, codes.code_query(code) FROM c ORDER BY n;

-- the ends are inclusive
BEGIN;
CREATE TEMP TABLE instant AS SELECT code FROM codes.code_gen(1, now(), now()) AS code;
SELECT codes.code_query(code) FROM instant;
COMMIT;

-- deleted codes do not exist
SELECT codes.code_del(code) FROM c WHERE n = 2;
SELECT codes.code_query(code) FROM c WHERE n = 2;

-- it is read-only: it runs in a read-only transaction (as on a standby),
-- where a use is refused
BEGIN TRANSACTION READ ONLY;
SELECT codes.code_query(code) FROM c WHERE n = 3;
\set VERBOSITY terse
SELECT codes.code_use(code) FROM c WHERE n = 3;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
ROLLBACK;

DROP EXTENSION codes;
