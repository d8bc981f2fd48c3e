-- the loser of a race gets 40001, and pgbench retries (--max-tries)
\set n random(1, 40)
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO ledger SELECT 'use', code, codes.code_use(code, 'pgbench') FROM pool WHERE n = :n;
COMMIT;
