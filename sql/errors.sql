--
-- Bad arguments: a clear error with the right SQLSTATE, and nothing created.
--
CREATE EXTENSION codes;
SET timezone = 'UTC';

-- num: not NULL, between 1 and 10,000,000
SELECT codes.code_gen(NULL, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(0, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(-5, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(10000001, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE

-- the period must not end before it begins
SELECT codes.code_gen(1, '2026-01-02 00:00+00', '2026-01-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE

-- a pattern too small for the batch (more in patterns.sql)
SELECT codes.code_gen(1, NULL, NULL, pattern => 'GIFT-####');
\echo :LAST_ERROR_SQLSTATE

-- max_uses: at least 1 (NULL: no limit, see sql/hot_codes.sql)
SELECT codes.code_gen(1, NULL, NULL, max_uses => 0);
\echo :LAST_ERROR_SQLSTATE

-- max_uses_per_redeemer: NULL (no limit) or between 1 and max_uses
SELECT codes.code_gen(1, NULL, NULL, max_uses => 5, max_uses_per_redeemer => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, max_uses => 5, max_uses_per_redeemer => 6);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, max_uses => NULL, max_uses_per_redeemer => 0);
\echo :LAST_ERROR_SQLSTATE

-- max_batch_uses_per_redeemer: NULL (no limit) or at least 1
SELECT codes.code_gen(1, NULL, NULL, max_batch_uses_per_redeemer => 0);
\echo :LAST_ERROR_SQLSTATE

-- batch names: not empty, at most 200 bytes, unique
SELECT codes.code_gen(1, NULL, NULL, batch => '');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_gen(1, NULL, NULL, batch => repeat('x', 201));
\echo :LAST_ERROR_SQLSTATE

-- none of the above created anything
SELECT (SELECT count(*) FROM codes.batch) AS batches,
	   (SELECT count(*) FROM codes.codes) AS codes;

SELECT count(*) FROM codes.code_gen(3, NULL, NULL, batch => repeat('x', 200));
SELECT count(*) FROM codes.code_gen(3, NULL, NULL, batch => 'spring');
SELECT count(*) FROM codes.code_gen(5, NULL, NULL, batch => 'spring');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM codes.batch) AS batches,
	   (SELECT count(*) FROM codes.codes) AS codes;

-- a NULL code is an error for every operation; it changes nothing
SELECT codes.code_use(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use(NULL, 'someone');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT sum(uses) AS uses, count(*) AS codes FROM codes.codes;

DROP EXTENSION codes;
