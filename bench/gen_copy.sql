-- bench/gen_copy.sql: the floor, one timed round of COPY of n ready-made
-- rows (psql variable copyfile, written by make_copy.sql beforehand) into
-- an empty hand_codes: no random numbers to draw, no expressions.
DROP TABLE IF EXISTS hand_codes;
\ir hand_table.sql
CHECKPOINT;
\timing on
COPY hand_codes FROM :'copyfile';
\timing off
SELECT count(*) FROM hand_codes;
