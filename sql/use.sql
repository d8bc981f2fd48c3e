--
-- code_use: SUCCEED once per code inside its period, FAILED otherwise.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(5, now() - interval '1 hour', now() + interval '1 hour',
					batch => 'current') AS code;

-- the first use succeeds, the second fails
SELECT codes.code_use(code) FROM c WHERE n = 1;
SELECT codes.code_use(code) FROM c WHERE n = 1;
SELECT codes.code_query(code) FROM c WHERE n = 1;

-- the use is recorded: count, transaction time, no redeemer
SELECT k.uses, k.used_at IS NOT NULL AS has_used_at, k.used_by
FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 1;

-- a redeemer is recorded with the use
BEGIN;
SELECT codes.code_use(code, 'player-42') FROM c WHERE n = 2;
SELECT k.uses, k.used_at = now() AS used_now, k.used_by
FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 2;
COMMIT;

-- a failed use changes nothing, whoever asks
SELECT codes.code_use(code, 'someone-else') FROM c WHERE n = 2;
SELECT k.uses, k.used_by FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 2;

-- the other codes of the batch are untouched
SELECT count(*) AS unused FROM codes.codes k JOIN c ON k.code = c.code::uuid
WHERE c.n > 2 AND k.uses = 0 AND k.used_at IS NULL;

-- an expired code cannot be used (unlike the seed service)
CREATE TEMP TABLE expired AS
SELECT code FROM codes.code_gen(1, now() - interval '2 hours',
								now() - interval '1 hour') AS code;
SELECT codes.code_use(code) FROM expired;

-- nor a code whose period has not begun
CREATE TEMP TABLE future AS
SELECT code FROM codes.code_gen(1, now() + interval '1 hour', NULL) AS code;
SELECT codes.code_use(code) FROM future;
SELECT sum(k.uses) AS uses FROM codes.codes k
WHERE k.code IN (SELECT code::uuid FROM expired UNION ALL SELECT code::uuid FROM future);

-- both ends of the period are inclusive, at the transaction's time
BEGIN;
CREATE TEMP TABLE edge AS
SELECT row_number() OVER () AS n, code FROM codes.code_gen(2, now(), now()) AS code;
SELECT codes.code_use(code) FROM edge WHERE n = 1;
COMMIT;
-- a moment later that one-instant period is over
BEGIN;
SELECT codes.code_use(code) FROM edge WHERE n = 2;
COMMIT;

-- open ends never expire
SELECT codes.code_use(code) FROM codes.code_gen(1, NULL, NULL) AS code;

-- unknown and deleted codes fail
SELECT codes.code_use(gen_random_uuid()::text);
SELECT codes.code_del(code) FROM c WHERE n = 3;
SELECT codes.code_use(code) FROM c WHERE n = 3;

-- a NULL redeemer is the same as none
SELECT codes.code_use(code, NULL) FROM c WHERE n = 4;
SELECT k.used_by IS NULL AS no_redeemer FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 4;

DROP EXTENSION codes;
