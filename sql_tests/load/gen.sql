-- new batches of 50, half named from a small set of names, so that some
-- names are taken (23505)
\set b random(1, 40)
INSERT INTO ledger SELECT 'gen', 'load-' || :b, gen_named('load-' || :b);
INSERT INTO ledger SELECT 'gen', NULL, count(*)::text FROM codes.code_gen(50, NULL, NULL);
