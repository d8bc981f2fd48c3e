--
-- The brake counts guesses only: a code that does not exist, or text that
-- cannot be a code.  A code that exists but cannot be used now (used up,
-- before or after its period, revoked) is no guess, and an honest redeemer
-- who retries one is never braked.  Needs codes in shared_preload_libraries
-- (brake_guesses_1.out is the output without it).
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code FROM codes.code_gen(3, NULL, NULL) AS code;
SELECT count(*) FROM codes.code_gen(1, '2000-01-01', '2000-12-31', batch => 'expired');
SELECT count(*) FROM codes.code_gen(1, '2100-01-01', NULL, batch => 'future');
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, batch => 'revoked');
SELECT codes.batch_revoke('revoked');

-- a used code, twenty times: FAILED, and not counted
SELECT codes.code_use(code, 'honest') FROM c WHERE n = 1;
SELECT codes.code_use(code, 'honest') AS use, count(*)
FROM c, generate_series(1, 20) WHERE n = 1 GROUP BY 1;

-- codes out of their period, or of a revoked batch: not counted either
SELECT codes.code_use(k.code::text, 'honest') AS use, count(*)
FROM codes.codes k JOIN codes.batch b ON b.id = k.batch, generate_series(1, 5)
WHERE b.name IN ('expired', 'future', 'revoked') GROUP BY 1;
SELECT redeemer, failures FROM codes.throttled WHERE redeemer = 'honest';

-- and the honest redeemer's next code works
SELECT codes.code_use(code, 'honest') FROM c WHERE n = 2;

-- guesses are counted: codes that do not exist, and text that cannot be one
SELECT codes.code_use(gen_random_uuid()::text, 'guesser');
SELECT codes.code_use('not a code', 'guesser');
SELECT codes.code_del(code) FROM c WHERE n = 3;
SELECT codes.code_use(code, 'guesser') FROM c WHERE n = 3;
SELECT redeemer, failures FROM codes.throttled WHERE redeemer = 'guesser';
SELECT codes.throttle_reset('guesser');

-- code_redeem, code_check and code_query with a redeemer are braked and
-- counted alike: a bot braked on code_use cannot go on guessing with them
SET codes.max_failures = 3;
SELECT (codes.code_redeem(gen_random_uuid()::text, 'bot')).reason;
SELECT (codes.code_check(gen_random_uuid()::text, 'bot')).reason;
SELECT codes.code_query(gen_random_uuid()::text, 'bot');
SELECT redeemer, failures, until IS NOT NULL AS braked FROM codes.throttled WHERE redeemer = 'bot';
SELECT r.* FROM c, codes.code_check(c.code, 'bot') r WHERE n = 1;
SELECT r.* FROM c, codes.code_redeem(c.code, 'bot') r WHERE n = 1;
SELECT codes.code_query(code, 'bot') FROM c WHERE n = 1;
SELECT codes.code_query(code) FROM c WHERE n = 1;
-- a code that exists but cannot be used is no guess for them either
SELECT (codes.code_check(code, 'honest2')).reason, codes.code_query(code, 'honest2') FROM c WHERE n = 1;
SELECT count(*) FROM codes.throttled WHERE redeemer = 'honest2';
SELECT codes.throttle_reset('bot');
RESET codes.max_failures;

DROP EXTENSION codes;
