-- bench/gen_ext.sql: one timed round of code_gen (psql variable n).
-- Starts from a freshly created, empty extension and a checkpoint, so no
-- round inherits dirty buffers or table contents from the one before.
DROP EXTENSION IF EXISTS codes;
CREATE EXTENSION codes;
CHECKPOINT;
\timing on
SELECT count(*) FROM codes.code_gen(:n, now(), now() + interval '1 year' :genargs);
\timing off
