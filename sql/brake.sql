--
-- The brake on guessing: after codes.max_failures failed uses in
-- codes.failure_window, every use by that redeemer fails without a
-- look-up until the window has passed.  Needs codes in
-- shared_preload_libraries (scripts/test.sh sets it; brake_1.out is the
-- output without it).
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code FROM codes.code_gen(3, NULL, NULL) AS code;
SHOW codes.max_failures;
SELECT * FROM codes.throttled;

-- nine failures: not braked yet, and a good code still works
SELECT codes.code_use('no such code ' || i, 'bot') AS use, count(*) FROM generate_series(1, 9) i GROUP BY 1;
SELECT redeemer, failures, until FROM codes.throttled;
SELECT codes.code_use(code, 'bot') FROM c WHERE n = 1;

-- the tenth: braked; now even a good code fails for it, untouched
SELECT codes.code_use(gen_random_uuid()::text, 'bot');
SELECT redeemer, failures, until > now() AS braked FROM codes.throttled;
BEGIN;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) AS scans \gset
SELECT codes.code_use(code, 'bot') FROM c WHERE n = 2;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
COMMIT;
SELECT codes.code_query(code) FROM c WHERE n = 2;

-- other redeemers are not affected, and uses without a redeemer are not
-- counted
SELECT codes.code_use(code, 'alice') FROM c WHERE n = 2;
SELECT count(codes.code_use('nonsense')) FROM generate_series(1, 20);
SELECT redeemer, failures FROM codes.throttled ORDER BY redeemer;

-- failures count even when the guesser's transaction rolls back
BEGIN;
SELECT codes.code_use('guess ' || i, 'rollbacker') FROM generate_series(1, 3) i;
ROLLBACK;
SELECT redeemer, failures, until FROM codes.throttled WHERE redeemer = 'rollbacker';

-- the admin lifts a brake
SELECT codes.throttle_reset('bot'), codes.throttle_reset('bot'), codes.throttle_reset('nobody');
SELECT codes.code_use(code, 'bot') FROM c WHERE n = 3;
SELECT count(*) FROM codes.throttled WHERE redeemer = 'bot';
SELECT codes.throttle_reset(NULL);
\echo :LAST_ERROR_SQLSTATE

-- the brake ends when the window has passed
SET codes.max_failures = 2;
SET codes.failure_window = '1s';
SELECT codes.code_use('guess', 'quick'), codes.code_use('guess', 'quick');
SELECT until > now() AS braked FROM codes.throttled WHERE redeemer = 'quick';
SELECT pg_sleep(1.2);
SELECT count(*) AS still_listed FROM codes.throttled WHERE redeemer = 'quick';
RESET codes.max_failures;
RESET codes.failure_window;

-- long and strange redeemers are fine; the view shows their first bytes
SELECT codes.code_use('x', repeat('é', 500));
SELECT length(redeemer), failures FROM codes.throttled WHERE redeemer LIKE 'é%';

-- (a redeemer shown cut is reset by its full text)
SELECT left(redeemer, 10) AS redeemer, codes.throttle_reset(redeemer) FROM codes.throttled ORDER BY 1;
SELECT codes.throttle_reset(repeat('é', 500));
-- longer than 1000 bytes: an error, not counted
SELECT codes.code_use('x', repeat('é', 501));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.throttled WHERE redeemer LIKE 'é%';
DROP EXTENSION codes;
