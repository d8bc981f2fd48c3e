-- bench/import_hand.sql: one timed round of the hand-written import: the
-- seed's codes (import_src) into an empty hand_codes by INSERT ... SELECT.
DROP TABLE IF EXISTS hand_codes;
\ir hand_table.sql
CHECKPOINT;
\timing on
INSERT INTO hand_codes (code, batch, used, valid_from, valid_until)
SELECT code::uuid, 1, uses > 0, now(), now() + interval '1 year'
FROM import_src;
\timing off
SELECT count(*) FROM hand_codes;
