-- bench/import_ext.sql: one timed round of code_add: the seed's codes
-- (import_src, made by make_import.sql) with their uses, from a table into
-- a batch of a freshly created, empty extension.
DROP EXTENSION IF EXISTS codes;
CREATE EXTENSION codes;
SELECT codes.batch_create('import', now(), now() + interval '1 year' :genargs);
CHECKPOINT;
\timing on
SELECT codes.code_add('import', array_agg(code), array_agg(uses)) FROM import_src;
\timing off
