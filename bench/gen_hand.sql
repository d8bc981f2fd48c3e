-- bench/gen_hand.sql: one timed round of the hand-written generation
-- (psql variable n): one INSERT ... SELECT into an empty hand_codes.
DROP TABLE IF EXISTS hand_codes;
\ir hand_table.sql
CHECKPOINT;
\timing on
INSERT INTO hand_codes (code, batch, valid_from, valid_until)
SELECT gen_random_uuid(), 1, now(), now() + interval '1 year'
FROM generate_series(1, :n);
\timing off
SELECT count(*) FROM hand_codes;
