\set n random(1, :ncodes + 100)
INSERT INTO ledger SELECT 'query', code, codes.code_query(code) FROM pool WHERE n = :n;
