-- a use rolled back with the application's write: neither counts
\set n random(1, :ncodes)
BEGIN;
INSERT INTO ledger SELECT 'use', code, codes.code_use(code, 'pgbench') FROM pool WHERE n = :n;
ROLLBACK;
