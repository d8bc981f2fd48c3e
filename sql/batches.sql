--
-- The admin's batch functions and the batches view.
--
CREATE EXTENSION codes;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

CREATE TEMP TABLE spring AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(4, now() - interval '1 day', now() + interval '1 day', batch => 'spring') AS code;
CREATE TEMP TABLE launch AS
SELECT code FROM codes.code_gen(2, NULL, NULL, max_uses => 3, batch => 'launch') AS code;
SELECT count(*) FROM codes.code_gen(3, '2020-01-01', '2020-12-31', batch => 'old');

SELECT codes.code_use(code) FROM spring WHERE n <= 2;
SELECT codes.code_use(code, 'p' || n) FROM launch, generate_series(1, 2) n;

-- counts are computed when read
SELECT name, max_uses, issued, used_up, uses_left, revoked_at FROM codes.batches ORDER BY name;

-- extending a batch is one row update, whatever its size
SELECT codes.batch_extend('spring', now() + interval '7 days');
SELECT valid_until > now() + interval '6 days' AS extended FROM codes.batches WHERE name = 'spring';
SELECT codes.batch_extend('old', NULL);
SELECT codes.code_query(code) FROM codes.batch_codes('old') GROUP BY 1;
SELECT codes.batch_extend('old', '2020-12-31');

-- revoking ends the batch now: uses fail, queries say TIMEINVALID
SELECT codes.batch_revoke('spring');
SELECT revoked_at <= now() AS revoked FROM codes.batches WHERE name = 'spring';
-- a second revocation keeps the first one's time
UPDATE codes.batch SET revoked_at = '2021-06-01' WHERE name = 'spring';
SELECT codes.batch_revoke('spring');
SELECT revoked_at FROM codes.batches WHERE name = 'spring';
SELECT n, codes.code_query(code), codes.code_use(code) FROM spring ORDER BY n;

-- extending it does not lift the revocation; batch_unrevoke does
SELECT codes.batch_extend('spring', now() + interval '1 day');
SELECT n, codes.code_query(code) FROM spring ORDER BY n;
SELECT name, state FROM codes.batches WHERE name = 'spring';
SELECT codes.batch_unrevoke('spring');
SELECT n, codes.code_query(code) FROM spring ORDER BY n;
SELECT name, state FROM codes.batches WHERE name = 'spring';

-- batch_codes lists each code as handed out, with status and uses
SELECT b.status, b.uses, b.used_by, s.n
FROM codes.batch_codes('spring') b JOIN spring s ON s.code = b.code ORDER BY s.n;
SELECT count(*) AS listed, count(*) FILTER (WHERE code IN (SELECT code FROM launch)) AS ours
FROM codes.batch_codes('launch');

-- purging deletes the batches that ended before a time, with codes and
-- history; a dry run only counts what would go
SELECT codes.batch_purge('2021-01-01', dry_run => true);
SELECT count(*) AS batches FROM codes.batches;
SELECT codes.batch_purge('2021-01-01');
SELECT name FROM codes.batches ORDER BY name;
SELECT codes.batch_purge('2021-01-01');

-- a revoked batch has ended too
SELECT codes.batch_revoke('launch');
SELECT codes.batch_purge(now());
SELECT count(*) AS launch_history FROM codes.redemption_log;

-- batch_del deletes a batch in any state
SELECT codes.batch_del('spring');
SELECT (SELECT count(*) FROM codes.batch) AS batches, (SELECT count(*) FROM codes.codes) AS codes;

-- unknown batches, NULLs, bad periods: errors that change nothing
SELECT count(*) FROM codes.code_gen(1, '2030-01-01', '2030-12-31', batch => 'kept');
SELECT codes.batch_extend('nope', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_extend(NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_extend('kept', '2029-12-31');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_revoke('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_revoke(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM codes.batch_codes('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_del('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_del(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_purge(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_purge(now(), NULL);
\echo :LAST_ERROR_SQLSTATE
-- a cutoff in the future would delete live batches: refused (terse: the
-- detail shows the time)
\set VERBOSITY terse
SELECT codes.batch_purge(now() + interval '1 year');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_purge(now() + interval '1 year', dry_run => true);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT codes.batch_unrevoke('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_set_metadata(NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT name, valid_until, issued, revoked_at, state FROM codes.batches;

-- metadata: what a batch's codes grant
SELECT codes.batch_set_metadata('kept', '{"discount": 10}');
SELECT name, metadata FROM codes.batches;
SELECT codes.batch_set_metadata('kept', NULL);
SELECT name, metadata FROM codes.batches;

-- each state
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, batch => 'live');
SELECT count(*) FROM codes.code_gen(1, NULL, '2001-01-01', batch => 'ended');
SELECT codes.batch_revoke('live');
SELECT name, state FROM codes.batches ORDER BY name;

DROP EXTENSION codes;
