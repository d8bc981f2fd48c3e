-- bench/gen_into_hand.sql: one timed round of the hand-written generation
-- (psql variable n) into hand_codes as it is (the large one of --scale);
-- counts the rows it added by their batch, one no earlier round used.
SELECT coalesce(max(batch), 0) + 1 AS batch FROM hand_codes \gset
CHECKPOINT;
\timing on
INSERT INTO hand_codes (code, batch, valid_from, valid_until)
SELECT gen_random_uuid(), :batch, now(), now() + interval '1 year'
FROM generate_series(1, :n);
\timing off
SELECT count(*) FROM hand_codes WHERE batch = :batch;
