-- everybody after the same 20 codes
\set n random(1, 20)
INSERT INTO ledger SELECT 'use', code, codes.code_use(code, 'pgbench') FROM pool WHERE n = :n;
