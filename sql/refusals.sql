--
-- A refused use writes nothing: a code that exists but cannot be used now
-- (used up, expired, not yet valid, revoked, the redeemer's share used)
-- is answered from an unlocked read, so the refusal takes no row lock and
-- no transaction id (and so writes no WAL of its own), and is nearly as
-- cheap as a guess.  Only a row that
-- another transaction is changing is locked and waited for (see the
-- isolation specs).
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT 'used' AS kind, code FROM codes.code_gen(1, NULL, NULL, batch => 'used') AS code
UNION ALL
SELECT 'expired', code FROM codes.code_gen(1, now() - interval '2 days',
										   now() - interval '1 day', batch => 'expired') AS code
UNION ALL
SELECT 'future', code FROM codes.code_gen(1, now() + interval '1 day', NULL,
										  batch => 'future') AS code
UNION ALL
SELECT 'revoked', code FROM codes.code_gen(1, NULL, NULL, batch => 'revoked') AS code
UNION ALL
SELECT 'multi used up', code FROM codes.code_gen(1, NULL, NULL, max_uses => 3,
												 batch => 'multi') AS code
UNION ALL
SELECT 'once each', code FROM codes.code_gen(1, NULL, NULL, max_uses => 10,
											 max_uses_per_redeemer => 1,
											 batch => 'once') AS code
UNION ALL
SELECT CASE WHEN n = 1 THEN 'once per batch' ELSE 'once per batch, other code' END, code
FROM (SELECT row_number() OVER () AS n, code
	  FROM codes.code_gen(2, NULL, NULL, max_batch_uses_per_redeemer => 1,
						  batch => 'campaign') AS code) AS two;
SELECT codes.code_use(code, 'first') FROM c WHERE kind = 'used';
SELECT codes.code_use(code, 'r' || g) FROM c, generate_series(1, 3) AS g
WHERE kind = 'multi used up';
SELECT codes.code_use(code, 'ann') FROM c WHERE kind IN ('once each', 'once per batch');
SELECT codes.batch_revoke('revoked');

-- each refusal, in a transaction of its own: no transaction id assigned
CREATE FUNCTION refused_without_xid(k text, who text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	answer	text;
BEGIN
	SELECT r.reason INTO answer FROM c, codes.code_redeem(c.code, who) r WHERE c.kind = k;
	RETURN answer || CASE WHEN txid_current_if_assigned() IS NULL
						  THEN ', no xid' ELSE ', xid assigned' END;
END
$$;
SELECT refused_without_xid('used', 'bob');
SELECT refused_without_xid('expired', 'bob');
SELECT refused_without_xid('future', 'bob');
SELECT refused_without_xid('revoked', 'bob');
SELECT refused_without_xid('multi used up', 'bob');
SELECT refused_without_xid('once each', 'ann');
SELECT refused_without_xid('once per batch', 'ann');
SELECT refused_without_xid('once per batch, other code', 'ann');

-- and a use that succeeds does write (the test can tell)
BEGIN;
SELECT codes.code_use(code, 'carol') FROM c WHERE kind = 'once each';
SELECT txid_current_if_assigned() IS NOT NULL AS xid_assigned;
ROLLBACK;

DROP FUNCTION refused_without_xid(text, text);
DROP EXTENSION codes;
