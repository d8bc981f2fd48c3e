--
-- Hostile environment: the classic attack on SECURITY DEFINER functions.
-- A role with EXECUTE on the four functions puts a schema it owns first on
-- its search_path, full of look-alike functions and operators that cheat
-- (every uuid equal, every number smaller, no time passing, a fixed batch
-- id) and record each call; one also tries to make the role a superuser.
-- The four functions answer exactly as usual and call none of them.
-- (COALESCE, also used by code_gen, is syntax and cannot be shadowed.)
--
CREATE EXTENSION codes;

CREATE ROLE regress_codes_attacker;
GRANT USAGE ON SCHEMA codes TO regress_codes_attacker;
GRANT EXECUTE ON FUNCTION
	codes.code_gen(integer, timestamptz, timestamptz, text, integer, text, integer, text, jsonb, integer),
	codes.code_use(text, text), codes.code_query(text, text), codes.code_del(text)
	TO regress_codes_attacker;
CREATE SCHEMA evil AUTHORIZATION regress_codes_attacker;

-- Codes with known values, put in by hand, so that nothing has called the
-- four functions in this session before the attack.
INSERT INTO codes.batch (name, valid_from, valid_until) VALUES
	('open', NULL, NULL), ('expired', '2000-01-01', '2000-12-31'),
	('future', '2100-01-01', NULL);
INSERT INTO codes.codes (batch, code)
SELECT b.id, v.code::uuid
FROM (VALUES ('open', 'a0000000-0000-4000-8000-000000000001'),
			 ('open', 'a0000000-0000-4000-8000-000000000002'),
			 ('open', 'a0000000-0000-4000-8000-000000000003'),
			 ('expired', 'e0000000-0000-4000-8000-000000000001'),
			 ('future', 'f0000000-0000-4000-8000-000000000001')) AS v(name, code)
JOIN codes.batch b ON b.name = v.name;

\set open1 'a0000000-0000-4000-8000-000000000001'
\set open2 'a0000000-0000-4000-8000-000000000002'
\set open3 'a0000000-0000-4000-8000-000000000003'
\set expired 'e0000000-0000-4000-8000-000000000001'
\set future 'f0000000-0000-4000-8000-000000000001'
\set unknown '00000000-0000-4000-8000-000000000000'

--
-- The attacker sets the trap.
--
SET ROLE regress_codes_attacker;
SET search_path = evil, pg_catalog;

CREATE TABLE evil.calls (fn text NOT NULL);
CREATE TABLE evil.results (n serial, step text NOT NULL, result text);
CREATE SEQUENCE evil.s;
-- look-alikes of the extension's tables, in evil and in pg_temp
CREATE TABLE evil.codes (batch integer, uses integer, code uuid);
CREATE TABLE evil.batches (id integer, name text);
CREATE TEMP TABLE codes (batch integer, uses integer, code uuid);
CREATE TEMP TABLE batches (id integer, name text);

-- Every look-alike records its call.  now() also tries to make the role a
-- superuser, which works only if it runs with a superuser's rights.
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls VALUES ('now()');
	BEGIN
		EXECUTE 'ALTER ROLE regress_codes_attacker SUPERUSER';
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
	RETURN '2000-06-01 00:00:00+00';
END
$$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('nextval(regclass)'); RETURN 42; END
$$;
CREATE FUNCTION evil.concat(text, bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('concat(text,bigint)'); RETURN 'hijacked'; END
$$;
CREATE FUNCTION evil.unnest(uuid[]) RETURNS SETOF uuid LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evil.calls VALUES ('unnest(uuid[])');
	RETURN NEXT 'a0000000-0000-4000-8000-000000000001';
	RETURN NEXT 'a0000000-0000-4000-8000-000000000002';
	RETURN NEXT 'a0000000-0000-4000-8000-000000000003';
END
$$;
CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('=(uuid,uuid)'); RETURN true; END
$$;
CREATE FUNCTION evil.int_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('=(integer,integer)'); RETURN true; END
$$;
CREATE FUNCTION evil.int_lt(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('<(integer,integer)'); RETURN true; END
$$;
CREATE FUNCTION evil.int_plus(integer, integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('+(integer,integer)'); RETURN $1; END
$$;
CREATE FUNCTION evil.ts_le(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('<=(timestamptz,timestamptz)'); RETURN true; END
$$;
CREATE FUNCTION evil.ts_ge(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('>=(timestamptz,timestamptz)'); RETURN true; END
$$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('=(text,text)'); RETURN true; END
$$;
CREATE FUNCTION evil.text_ne(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO evil.calls VALUES ('<>(text,text)'); RETURN true; END
$$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_eq);
CREATE OPERATOR evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_lt);
CREATE OPERATOR evil.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_plus);
CREATE OPERATOR evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.ts_le);
CREATE OPERATOR evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.ts_ge);
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_ne);

-- The trap works on the attacker's own queries...
SELECT now() AS now, 1 + 1 AS one_plus_one, 2 < 1 AS two_below_one,
	   'now'::timestamptz <= '-infinity' AS now_before_the_big_bang,
	   'infinity'::timestamptz >= 'now' AS always_in_time,
	   :'open1'::uuid = :'unknown'::uuid AS any_code_matches,
	   1 = 2 AS one_is_two, 'a'::text = 'b'::text AS a_is_b, 'a'::text <> 'a'::text AS a_is_not_a,
	   nextval('evil.s') AS next_id, concat('batch-', 7::bigint) AS name,
	   (SELECT count(*) FROM unnest(ARRAY[:'unknown']::uuid[])) AS unnest_count;
-- ...and records its calls
SELECT fn, count(*) FROM evil.calls GROUP BY fn ORDER BY fn;
TRUNCATE evil.calls;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_codes_attacker';

--
-- The attack, from a new session, so no plan of the four functions is
-- cached yet: the first call of each happens with the trap set.
--
\c -
SET ROLE regress_codes_attacker;
SET search_path = evil, pg_catalog;

CREATE TABLE evil.gen AS
SELECT code FROM codes.code_gen(5, NULL, NULL, batch => 'attacker') AS code;
INSERT INTO evil.results (step, result)
SELECT 'gen unnamed', count(*)::text FROM codes.code_gen(3, NULL, NULL);
SELECT codes.code_gen(1, NULL, NULL, batch => 'attacker');
\echo :LAST_ERROR_SQLSTATE
-- one statement each, so that each sees the one before
INSERT INTO evil.results (step, result) VALUES ('use open1', codes.code_use(:'open1', 'attacker'));
INSERT INTO evil.results (step, result) VALUES ('use open1 again', codes.code_use(:'open1', 'attacker'));
INSERT INTO evil.results (step, result) VALUES ('use unknown', codes.code_use(:'unknown', 'attacker'));
INSERT INTO evil.results (step, result) VALUES ('use expired', codes.code_use(:'expired', 'attacker'));
INSERT INTO evil.results (step, result) VALUES ('use future', codes.code_use(:'future', 'attacker'));
INSERT INTO evil.results (step, result) VALUES ('query open1', codes.code_query(:'open1'));
INSERT INTO evil.results (step, result) VALUES ('query open2', codes.code_query(:'open2'));
INSERT INTO evil.results (step, result) VALUES ('query expired', codes.code_query(:'expired'));
INSERT INTO evil.results (step, result) VALUES ('query future', codes.code_query(:'future'));
INSERT INTO evil.results (step, result) VALUES ('query unknown', codes.code_query(:'unknown'));
INSERT INTO evil.results (step, result) VALUES ('del open3', codes.code_del(:'open3'));
INSERT INTO evil.results (step, result) VALUES ('query open3', codes.code_query(:'open3'));
INSERT INTO evil.results (step, result) VALUES ('query open2 after del', codes.code_query(:'open2'));
INSERT INTO evil.results (step, result)
SELECT 'use generated', codes.code_use(code) FROM (SELECT code FROM evil.gen LIMIT 1) g;
INSERT INTO evil.results (step, result)
SELECT 'use generated again', codes.code_use(code) FROM (SELECT code FROM evil.gen LIMIT 1) g;

--
-- Back to normal: the answers were the usual ones, no look-alike was
-- called, the role is no superuser, and the tables hold what they should.
--
RESET ROLE;
RESET search_path;
SELECT step, result FROM evil.results ORDER BY n;
SELECT count(*) AS lookalike_calls FROM evil.calls;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_codes_attacker';
SELECT b.id, b.name, b.name = 'batch-' || b.id AS generated_name,
	   b.valid_from, b.valid_until, count(c.code) AS codes, sum(c.uses) AS uses
FROM codes.batch b LEFT JOIN codes.codes c ON c.batch = b.id
GROUP BY b.id ORDER BY b.id;
SELECT code, uses, used_by FROM codes.codes
WHERE batch IN (SELECT id FROM codes.batch WHERE name IN ('open', 'expired', 'future'))
ORDER BY code;

DROP SCHEMA evil CASCADE;
DROP OWNED BY regress_codes_attacker;
DROP ROLE regress_codes_attacker;
DROP EXTENSION codes;
