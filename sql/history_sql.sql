--
-- The history of uses recorded through SQL, as it is where
-- codes.redemption_log has a trigger (or row security, or on Citus): the
-- same answers as the direct way, and a bounded number of locks however
-- many redeemers one transaction serves.
--
CREATE EXTENSION codes;

-- once per redeemer, of a code (max_uses_per_redeemer) and of a batch
-- (max_batch_uses_per_redeemer)
CREATE TEMP TABLE once AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 10,
								max_uses_per_redeemer => 1, batch => 'once') AS code;
CREATE TEMP TABLE camp AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(2, NULL, NULL, max_batch_uses_per_redeemer => 1,
					batch => 'campaign') AS code;

-- one statement uses the code twice for one redeemer: the second use counts
-- the first, at every isolation level (a REPEATABLE READ or SERIALIZABLE
-- snapshot as a new statement would see it holds the transaction's own
-- uses, so the refusal rests on no other transaction's: no 40001)
CREATE FUNCTION twice(redeemer text) RETURNS TABLE (code_first text, code_second text,
	batch_first text, batch_second text)
LANGUAGE sql AS $$
	SELECT codes.code_use(o.code, redeemer), codes.code_use(o.code, redeemer),
		   (SELECT r.reason FROM camp c, codes.code_redeem(c.code, redeemer) r WHERE c.n = 1),
		   (SELECT r.reason FROM camp c, codes.code_redeem(c.code, redeemer) r WHERE c.n = 2)
	FROM once o
$$;

-- directly
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT * FROM twice('ann');
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM twice('ann');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT * FROM twice('ann');
ROLLBACK;

-- through SQL: a trigger on the history
CREATE FUNCTION pass_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NEW;
END
$$;
CREATE TRIGGER pass BEFORE INSERT ON codes.redemption_log
	FOR EACH ROW EXECUTE FUNCTION pass_row();
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT * FROM twice('ann');
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM twice('ann');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT * FROM twice('ann');
ROLLBACK;
-- and in two statements of one transaction
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT codes.code_use(code, 'bob') FROM once;
SELECT codes.code_use(code, 'bob') FROM once;
ROLLBACK;

-- The SQL path holds its lock on a redeemer until the transaction ends,
-- so that a use of the same redeemer in another transaction waits for it.
-- It takes one of 64 locks per code (and per batch), which the redeemer's
-- hash chooses, not one per redeemer: a transaction that serves 500
-- redeemers holds at most 64 of each (pg_locks shows them as 'userlock',
-- the kind in objsubid: 3 a redeemer of a code, 4 of a batch).  One per
-- redeemer would run the shared lock table out of memory in a transaction
-- of some thousands.
CREATE TEMP TABLE both_limits AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => NULL,
								max_uses_per_redeemer => 1,
								max_batch_uses_per_redeemer => 1,
								batch => 'both') AS code;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT u, count(*)
FROM (SELECT codes.code_use(code, 'r' || g) AS u
	  FROM both_limits, generate_series(1, 500) AS g) AS s
GROUP BY u;
SELECT l.objsubid AS kind, count(*) <= 64 AS at_most_64
FROM pg_locks l
WHERE l.locktype = 'userlock' AND l.objsubid IN (3, 4) AND l.pid = pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY l.objsubid ORDER BY 1;
COMMIT;
-- each redeemer got its use, once
SELECT u, count(*)
FROM (SELECT codes.code_use(code, 'r' || g) AS u
	  FROM both_limits, generate_series(1, 500) AS g) AS s
GROUP BY u;
SELECT count(*) AS uses, count(DISTINCT redeemer) AS redeemers
FROM codes.redemptions WHERE batch = 'both';

DROP TRIGGER pass ON codes.redemption_log;
DROP FUNCTION pass_row(), twice(text);
DROP EXTENSION codes;
