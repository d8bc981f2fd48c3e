\set n random(1, :ncodes)
INSERT INTO ledger SELECT 'del', code, codes.code_del(code) FROM pool WHERE n = :n;
