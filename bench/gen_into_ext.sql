-- bench/gen_into_ext.sql: one timed round of code_gen (psql variable n)
-- into the extension's tables as they are (the large ones of --scale).
CHECKPOINT;
\timing on
SELECT count(*) FROM codes.code_gen(:n, now(), now() + interval '1 year' :genargs);
\timing off
