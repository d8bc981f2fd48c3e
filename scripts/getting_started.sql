CREATE EXTENSION codes;

-- 1,000 codes for the closed beta, valid for two weeks, granting the beta
SELECT count(*) FROM codes.code_gen(1000, now(), now() + interval '14 days',
                                    batch => 'closed-beta',
                                    metadata => '{"grants": "beta"}');

-- the game's own table
CREATE TABLE beta_access (player integer PRIMARY KEY, batch text, grants text);

-- a player types a code in (here: one of the batch's); the game grants the
-- beta in the same transaction, only if the use succeeded
SELECT code AS typed FROM codes.batch_codes('closed-beta') LIMIT 1 \gset
BEGIN;
WITH r AS (SELECT * FROM codes.code_redeem(:'typed', 'player-4711'))
INSERT INTO beta_access (player, batch, grants)
SELECT 4711, r.batch, r.metadata ->> 'grants' FROM r WHERE r.ok
RETURNING *;
COMMIT;

-- a second try says why it fails: (f, used_up, closed-beta, ...)
SELECT * FROM codes.code_redeem(upper(:'typed'), 'player-4712');

SELECT codes.code_query(:'typed');   -- ACTIVED
SELECT codes.code_del(:'typed');     -- SUCCEED
SELECT codes.code_query(:'typed');   -- NO EXISTED
