--
-- One code at a time: deactivate a leaked code and keep its history,
-- reactivate it; bind a code to the one redeemer who may use it; give a
-- code what it grants beside its batch.  Each is one row update, seen at
-- once.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(4, NULL, NULL, batch => 'gifts', metadata => '{"kind": "gift"}') AS code;
CREATE TEMP TABLE m AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 5, batch => 'shared') AS code;

-- a leaked code, deactivated: refused, TIMEINVALID; its batch's other
-- codes work on
SELECT codes.code_deactivate(code) FROM c WHERE n = 1;
SELECT codes.code_query(code), codes.code_use(code, 'thief') FROM c WHERE n = 1;
SELECT r.ok, r.reason, r.batch FROM c, codes.code_redeem(code, 'thief') r WHERE n = 1;
SELECT r.ok, r.reason FROM c, codes.code_check(code, 'thief') r WHERE n = 1;
SELECT codes.code_query(code) FROM c WHERE n = 2;
-- twice is the same; reactivated, it works again
SELECT codes.code_deactivate(code) FROM c WHERE n = 1;
SELECT codes.code_reactivate(code) FROM c WHERE n = 1;
SELECT codes.code_use(code, 'owner') FROM c WHERE n = 1;

-- a used code, deactivated: its history stays; an undo still undoes it
SELECT codes.code_use(code, 'ann') FROM c WHERE n = 2;
SELECT codes.code_deactivate(code) FROM c WHERE n = 2;
SELECT redeemer FROM codes.redemptions WHERE redeemer = 'ann';
SELECT codes.code_query(code) FROM c WHERE n = 2;

-- a multi-use code deactivated stops for everyone
SELECT codes.code_use(code, 'x') FROM m;
SELECT codes.code_deactivate(code) FROM m;
SELECT r.ok, r.reason FROM m, codes.code_redeem(code, 'y') r;
SELECT codes.code_reactivate(code) FROM m;
SELECT r.ok, r.reason, r.uses_left FROM m, codes.code_redeem(code, 'y') r;

-- bound to one redeemer: anyone else is refused, the redeemer may use it
SELECT codes.code_bind(code, 'player-7') FROM c WHERE n = 3;
SELECT r.ok, r.reason FROM c, codes.code_redeem(code, 'player-8') r WHERE n = 3;
SELECT r.ok, r.reason FROM c, codes.code_check(code) r WHERE n = 3;
SELECT codes.code_query(code) FROM c WHERE n = 3;
SELECT r.ok, r.reason FROM c, codes.code_redeem(code, 'player-7') r WHERE n = 3;
-- unbound, anyone may (here: the code is used up now)
SELECT codes.code_bind(code, NULL) FROM c WHERE n = 3;
SELECT r.ok, r.reason FROM c, codes.code_redeem(code, 'player-8') r WHERE n = 3;

-- a code's own metadata, beside its batch's
SELECT codes.code_set_metadata(code, '{"item": "sword"}') FROM c WHERE n = 4;
SELECT r.ok, r.metadata, r.code_metadata FROM c, codes.code_check(code, 'z') r WHERE n = 4;
SELECT r.ok, r.metadata, r.code_metadata FROM c, codes.code_redeem(code, 'z') r WHERE n = 4;
SELECT codes.code_set_metadata(code, NULL) FROM c WHERE n = 4;
SELECT r.metadata, r.code_metadata FROM c, codes.code_check(code, 'z') r WHERE n = 4;

-- unknown codes: false, nothing changes; NULL code: 22004
SELECT codes.code_deactivate(gen_random_uuid()::text), codes.code_bind('nonsense', 'x');
SELECT codes.code_deactivate(NULL);
\echo :LAST_ERROR_SQLSTATE

-- each control rolls back with its transaction
BEGIN;
SELECT codes.code_deactivate(code) FROM c WHERE n = 1;
ROLLBACK;
SELECT codes.code_query(code) FROM c WHERE n = 1;

-- they are one UPDATE each: the triggers of an UPDATE fire
CREATE TABLE audit (event text);
CREATE FUNCTION audit_control() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO audit VALUES (TG_OP || ' deactivated ' || (NEW.deactivated_at IS NOT NULL)
							  || ' bound ' || coalesce(NEW.bound_to, '-'));
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_control AFTER UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_control();
SELECT codes.code_bind(code, 'p9'), codes.code_deactivate(code) FROM c WHERE n = 4;
SELECT * FROM audit;
DROP TRIGGER audit_control ON codes.codes;

DROP EXTENSION codes;
DROP TABLE audit;
DROP FUNCTION audit_control();
