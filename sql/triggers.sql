--
-- Triggers and foreign keys on the extension's tables fire as they would
-- for the UPDATE, INSERT or DELETE that a call stands for.  A use is made
-- without SQL only while codes.codes has no trigger; with one, by SQL.
--
CREATE EXTENSION codes;

CREATE TEMP TABLE c AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(8, NULL, NULL, batch => 'watched') AS code;
CREATE TEMP TABLE m AS
SELECT row_number() OVER () AS n, code
FROM codes.code_gen(2, NULL, NULL, batch => 'multi', max_uses => 3) AS code;

CREATE TABLE audit (seq serial, event text, uses integer, used_by text);

-- Triggers fire inside the extension's functions, whose search_path is
-- pinned to pg_catalog: trigger functions name their tables in full or,
-- as here, set their own search_path.
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO audit (event, uses, used_by)
	VALUES (TG_NAME || ' ' || TG_OP, NEW.uses, NEW.used_by);
	RETURN NEW;
END
$$;

CREATE FUNCTION audit_statement() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO audit (event) VALUES (TG_NAME || ' ' || TG_OP);
	RETURN NULL;
END
$$;

CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO audit (event) VALUES (TG_NAME || ' skipped ' || TG_OP);
	RETURN NULL;
END
$$;

-- an AFTER ROW audit trigger: the use succeeds once and is audited once
CREATE TRIGGER after_row AFTER UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_row();
SELECT codes.code_use(code, 'alice') FROM c WHERE n = 1;
SELECT codes.code_use(code, 'bob') FROM c WHERE n = 1;
SELECT event, uses, used_by FROM audit ORDER BY seq;
DROP TRIGGER after_row ON codes.codes;
TRUNCATE audit;

-- UPDATE OF uses, and statement triggers before and after
CREATE TRIGGER of_uses AFTER UPDATE OF uses ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER before_statement BEFORE UPDATE ON codes.codes
	FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
CREATE TRIGGER after_statement AFTER UPDATE ON codes.codes
	FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
SELECT codes.code_use(code, 'carol') FROM c WHERE n = 2;
SELECT event, uses, used_by FROM audit ORDER BY seq;
DROP TRIGGER of_uses ON codes.codes;
DROP TRIGGER before_statement ON codes.codes;
DROP TRIGGER after_statement ON codes.codes;
TRUNCATE audit;

-- a BEFORE ROW trigger that returns NULL skips the update: the use did not
-- happen, so it is FAILED every time, and the code stays unused
CREATE TRIGGER before_row_skip BEFORE UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT codes.code_use(code) FROM c WHERE n = 3;
SELECT codes.code_use(code) FROM c WHERE n = 3;
SELECT codes.code_query(code) FROM c WHERE n = 3;
SELECT event FROM audit ORDER BY seq;
SELECT count(*) AS history FROM codes.redemption_log;
DROP TRIGGER before_row_skip ON codes.codes;
TRUNCATE audit;

-- a multi-use code's use does not write the code's row: it takes a use
-- from one of the code's stripes (an INSERT or UPDATE of codes.use_stripes)
-- and adds its history (an INSERT of codes.redemption_log), whose triggers
-- fire; an undo gives the use back to a stripe
CREATE FUNCTION audit_table() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO audit (event) VALUES (TG_TABLE_NAME || ' ' || TG_NAME || ' ' || TG_OP);
	RETURN NEW;
END
$$;
CREATE TRIGGER stripe_row AFTER INSERT OR UPDATE ON codes.use_stripes
	FOR EACH ROW EXECUTE FUNCTION audit_table();
CREATE TRIGGER log_row AFTER INSERT OR UPDATE ON codes.redemption_log
	FOR EACH ROW EXECUTE FUNCTION audit_table();
CREATE TRIGGER codes_row AFTER UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_table();
SELECT codes.code_use(code, 'dave') FROM m WHERE n = 1;
SELECT codes.code_use(code, 'dave') FROM m WHERE n = 1;
SELECT codes.code_undo(code, 'dave') FROM m WHERE n = 1;
SELECT event FROM audit ORDER BY seq;
SELECT codes.code_query(code) FROM m WHERE n = 1;
DROP TRIGGER stripe_row ON codes.use_stripes;
DROP TRIGGER log_row ON codes.redemption_log;
DROP TRIGGER codes_row ON codes.codes;
TRUNCATE audit;

-- a BEFORE ROW trigger that skips a stripe's write would make a use
-- uncounted: the use is refused with an error, and nothing changes
CREATE TRIGGER stripe_skip BEFORE INSERT OR UPDATE ON codes.use_stripes
	FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT codes.code_use(code, 'erin') FROM m WHERE n = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER stripe_skip ON codes.use_stripes;
SELECT count(*) AS history FROM codes.redemption_log l JOIN m ON l.code = m.code::uuid
WHERE m.n = 2;
TRUNCATE audit;

-- a BEFORE ROW trigger that skips the undo of a use keeps the use: the
-- undo answers FAILED (at READ COMMITTED it chooses the use again, is
-- skipped again, and stops: it does not take the skip for a race lost to
-- another undo and look on for ever)
SELECT codes.code_use(code, 'erin') FROM m WHERE n = 2;
CREATE TRIGGER log_skip BEFORE UPDATE ON codes.redemption_log
	FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT codes.code_undo(code) FROM m WHERE n = 2;
SELECT codes.code_undo(code, 'erin') FROM m WHERE n = 2;
DROP TRIGGER log_skip ON codes.redemption_log;
SELECT DISTINCT event FROM audit;
SELECT count(*) AS standing FROM codes.redemption_log l JOIN m ON l.code = m.code::uuid
WHERE m.n = 2 AND l.undone_at IS NULL;
TRUNCATE audit;

-- without the trigger the code is used once, as usual
SELECT codes.code_use(code) FROM c WHERE n = 3;
SELECT codes.code_use(code) FROM c WHERE n = 3;

-- a BEFORE ROW trigger that changes the row: the use is recorded as the
-- trigger left it
CREATE FUNCTION stamp_row() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	NEW.used_by := 'stamped ' || coalesce(NEW.used_by, 'nobody');
	RETURN NEW;
END
$$;
CREATE TRIGGER before_row_stamp BEFORE UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION stamp_row();
SELECT codes.code_use(code, 'erin') FROM c WHERE n = 4;
SELECT k.uses, k.used_by FROM codes.codes k JOIN c ON k.code = c.code::uuid WHERE c.n = 4;
DROP TRIGGER before_row_stamp ON codes.codes;

-- undo and del fire the triggers of an UPDATE and a DELETE
CREATE TRIGGER after_row AFTER UPDATE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER after_delete AFTER DELETE ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_statement();
SELECT codes.code_undo(code) FROM c WHERE n = 4;
SELECT codes.code_del(code) FROM c WHERE n = 4;
SELECT event, uses, used_by FROM audit ORDER BY seq;
DROP TRIGGER after_row ON codes.codes;
DROP TRIGGER after_delete ON codes.codes;
TRUNCATE audit;

-- a foreign key from codes to their batch: generation, use, deletion and
-- batch deletion all keep it
ALTER TABLE codes.codes ADD CONSTRAINT codes_batch_fk
	FOREIGN KEY (batch) REFERENCES codes.batch (id);
SELECT count(*) FROM codes.code_gen(5, NULL, NULL, batch => 'keyed');
SELECT codes.code_use(code) FROM c WHERE n = 5;
SELECT codes.code_use(code) FROM c WHERE n = 5;
SELECT codes.code_del(code) FROM c WHERE n = 6;
SELECT codes.batch_del('keyed');
SELECT name FROM codes.batch ORDER BY name;
ALTER TABLE codes.codes DROP CONSTRAINT codes_batch_fk;

-- generation fires the triggers of its INSERTs
CREATE TRIGGER after_insert AFTER INSERT ON codes.codes
	FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
SELECT count(*) FROM codes.code_gen(3, NULL, NULL, batch => 'audited');
SELECT event FROM audit ORDER BY seq;
DROP TRIGGER after_insert ON codes.codes;

-- a CHECK constraint whose function sets its own search_path runs as it
-- would for the UPDATE
CREATE SCHEMA app;
CREATE FUNCTION app.helper(t text) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT t IS NULL OR t <> 'banned' $$;
CREATE FUNCTION app.redeemer_ok(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
SET search_path = app, pg_temp AS $$ BEGIN RETURN helper(t); END $$;
ALTER TABLE codes.codes ADD CONSTRAINT redeemer_ok CHECK (app.redeemer_ok(used_by));
SELECT codes.code_use(code, 'gus') FROM c WHERE n = 7;
\set VERBOSITY terse
SELECT codes.code_use(code, 'banned') FROM c WHERE n = 8;
\set VERBOSITY default
SELECT codes.code_query(code) FROM c WHERE n = 8;
ALTER TABLE codes.codes DROP CONSTRAINT redeemer_ok;
DROP SCHEMA app CASCADE;

-- rules are refused: a plan a rule rewrote to nothing would stay so
CREATE RULE no_update AS ON UPDATE TO codes.codes DO INSTEAD NOTHING;
SELECT codes.code_use(code) FROM c WHERE n = 8;
\echo :LAST_ERROR_SQLSTATE
DROP RULE no_update ON codes.codes;
SELECT codes.code_use(code) FROM c WHERE n = 8;

DROP TABLE audit;
DROP FUNCTION audit_row(), audit_statement(), skip_row(), stamp_row();
DROP EXTENSION codes;
