\set n random(1, :ncodes)
INSERT INTO ledger SELECT 'use', code, codes.code_use(code, 'pgbench') FROM pool WHERE n = :n;
