--
-- A flood of junk redeemers cannot hide a bot from the brake on guessing:
-- when codes.max_redeemers redeemers are followed, the brake forgets those
-- that matter least (fewest failures, oldest first), and never a braked
-- one while there is another choice.  Needs codes in
-- shared_preload_libraries (brake_flood_1.out is the output without it).
-- Every redeemer here is named flood-*, and all are reset at the end.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code FROM codes.code_gen(2, NULL, NULL) AS code;
SET codes.max_failures = 10;
SELECT coalesce(current_setting('codes.max_redeemers', true)::integer, 10000) + 100 AS flood \gset

-- an early guesser fails five times
SELECT codes.code_use('no such code ' || i, 'flood-early') AS use, count(*)
FROM generate_series(1, 5) i GROUP BY 1;

-- then come more junk redeemers than the brake follows, one failure each:
-- no warning, and the newest junk is counted, the oldest not
SELECT codes.code_use('no such code', 'flood-junk-' || i) AS use, count(*)
FROM generate_series(1, :flood) i GROUP BY 1;
SELECT count(*) <= :flood - 100 AS within_max_redeemers FROM codes.throttled;

-- then a bot: it is counted, and so is the early guesser
SELECT codes.code_use('no such code ' || i, 'flood-bot') AS use, count(*)
FROM generate_series(1, 9) i GROUP BY 1;
SELECT redeemer, failures, until FROM codes.throttled
WHERE redeemer IN ('flood-bot', 'flood-early', 'flood-junk-1', 'flood-junk-' || :flood)
ORDER BY redeemer;

-- its tenth failure brakes it: now a good code fails for it
SELECT codes.code_use('no such code', 'flood-bot');
SELECT codes.code_use(code, 'flood-bot') FROM c WHERE n = 1;
SELECT redeemer, failures, until > now() AS braked FROM codes.throttled
WHERE redeemer = 'flood-bot';

-- a second flood does not lift the brake
SELECT codes.code_use('no such code', 'flood-more-' || i) AS use, count(*)
FROM generate_series(1, :flood) i GROUP BY 1;
SELECT codes.code_use(code, 'flood-bot') FROM c WHERE n = 1;
SELECT redeemer, failures, until > now() AS braked FROM codes.throttled
WHERE redeemer = 'flood-bot';
SELECT codes.code_query(code) FROM c WHERE n = 1;

-- when every redeemer followed is braked, no braked one is forgotten: a new
-- redeemer goes uncounted, with a warning
SET codes.max_failures = 1;
SET client_min_messages = error;
SELECT codes.code_use('no such code', 'flood-braked-' || i) AS use, count(*)
FROM generate_series(1, :flood - 100) i GROUP BY 1;
RESET client_min_messages;
-- (the view copies the table out before building its rows, which spill
-- to disk with a small work_mem)
SET work_mem = '64kB';
SELECT count(*) FILTER (WHERE until > now()) = count(*) AS all_braked,
	   count(*) FILTER (WHERE redeemer = 'flood-bot') AS bot,
	   count(DISTINCT redeemer) = count(*) AS distinct_rows
FROM codes.throttled;
RESET work_mem;
SELECT codes.code_use('no such code', 'flood-one-more');
SELECT count(*) FROM codes.throttled WHERE redeemer = 'flood-one-more';
RESET codes.max_failures;

-- forget them all, for the tests that follow
SELECT bool_and(codes.throttle_reset(redeemer)) FROM codes.throttled;
SELECT count(*) FROM codes.throttled;
DROP EXTENSION codes;
