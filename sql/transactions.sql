--
-- Generation, use and deletion commit or roll back with the caller's
-- transaction, and a batch is created whole or not at all.
--
CREATE EXTENSION codes;

-- a rolled-back batch leaves no trace
BEGIN;
SELECT count(*) FROM codes.code_gen(100, NULL, NULL, batch => 'rolled back');
ROLLBACK;
SELECT (SELECT count(*) FROM codes.batch) AS batches,
	   (SELECT count(*) FROM codes.codes) AS codes;

-- also when only a savepoint is rolled back
BEGIN;
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, batch => 'kept');
SAVEPOINT s;
SELECT count(*) FROM codes.code_gen(10, NULL, NULL, batch => 'dropped');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT b.name, count(c.*) FROM codes.batch b LEFT JOIN codes.codes c ON c.batch = b.id
GROUP BY b.name ORDER BY 1;

-- the batch name is free again after the rollback
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, batch => 'rolled back');

-- a batch interrupted halfway leaves nothing behind
SET statement_timeout = '100ms';
\set VERBOSITY terse
SELECT count(*) FROM codes.code_gen(10000000, NULL, NULL, batch => 'interrupted');
\set VERBOSITY default
RESET statement_timeout;
SELECT count(*) AS interrupted_batches FROM codes.batch WHERE name = 'interrupted';
SELECT count(*) AS codes FROM codes.codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code FROM codes.code_gen(2, NULL, NULL) AS code;

-- a rolled-back use leaves no trace, and the code can be used again
BEGIN;
SELECT codes.code_use(code, 'rolled back') FROM c WHERE n = 1;
ROLLBACK;
SELECT codes.code_query(code) FROM c WHERE n = 1;
SELECT k.uses, k.used_at, k.used_by FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 1;
SELECT codes.code_use(code) FROM c WHERE n = 1;

-- a use rolls back with the application's own write that failed after it
CREATE TEMP TABLE orders (id int PRIMARY KEY, code text);
INSERT INTO orders VALUES (1, 'earlier order');
BEGIN;
SELECT codes.code_use(code) FROM c WHERE n = 2;
INSERT INTO orders SELECT 1, code FROM c WHERE n = 2;
COMMIT;
SELECT codes.code_query(code) FROM c WHERE n = 2;

-- a rolled-back delete leaves the code in place
BEGIN;
SELECT codes.code_del(code) FROM c WHERE n = 2;
ROLLBACK;
SELECT codes.code_query(code) FROM c WHERE n = 2;

-- a batch made and used in one statement, at every isolation level: the
-- use sees the statement's own batch
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT codes.code_use(code, 'r') FROM codes.code_gen(1, NULL, NULL, batch => 'same statement 1', max_uses_per_redeemer => 1) AS code;
SELECT codes.code_use(code, 'r') FROM codes.code_gen(1, NULL, NULL, batch => 'same statement 2') AS code;
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT codes.code_use(code, 'r') FROM codes.code_gen(1, NULL, NULL, batch => 'same statement 3', max_uses_per_redeemer => 1) AS code;
COMMIT;
SELECT codes.code_use(code, 'r') FROM codes.code_gen(1, NULL, NULL, batch => 'same statement 4', max_uses_per_redeemer => 1) AS code;

DROP EXTENSION codes;
