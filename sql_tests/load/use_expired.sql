\set n random(:ncodes + 1, :ncodes + 100)
INSERT INTO ledger SELECT 'use', code, codes.code_use(code, 'pgbench') FROM pool WHERE n = :n;
