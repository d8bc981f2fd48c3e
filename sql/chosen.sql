--
-- Codes the merchant chooses: batch_create makes a batch without codes,
-- code_add adds given texts as its codes (SUMMER20, BLACK FRIDAY), and
-- they work as generated codes do, read as every code is read.
--
CREATE EXTENSION codes;
SET timezone = 'UTC';
\set VERBOSITY terse

--
-- batch_create: code_gen's checks, with the same errors
--
SELECT codes.batch_create('summer', '2026-01-02', '2026-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, max_uses => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, max_uses => 5, max_uses_per_redeemer => 6);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, max_uses => NULL, max_uses_per_redeemer => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, max_batch_uses_per_redeemer => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, store => 'sha1');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, store => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create(repeat('x', 201), NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, pattern => 'GIFT');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.batch_create('summer', NULL, NULL, pattern => '##^##');
\echo :LAST_ERROR_SQLSTATE
-- nothing was created
SELECT count(*) AS batches FROM codes.batch;

-- every customer once, for the summer; a name is returned, generated
-- when none is given
SELECT codes.batch_create('summer', '2026-06-01', '2026-08-31 23:59:59',
						  max_uses => NULL, max_uses_per_redeemer => 1,
						  metadata => '{"percent_off": 20}');
SELECT codes.batch_create(NULL, NULL, NULL);
SELECT codes.batch_create('summer', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT name, valid_from, valid_until, max_uses, max_uses_per_redeemer, pattern,
	   key_id, metadata, max_batch_uses_per_redeemer, chosen
FROM codes.batch ORDER BY id;
SELECT name, issued, state FROM codes.batches ORDER BY name;

--
-- code_add: bad arguments are refused whole, naming positions, never codes
--
\set VERBOSITY default
SELECT codes.code_add(NULL, ARRAY['SUMMER20']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('winter', ARRAY['SUMMER20']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', ARRAY['SUMMER20', NULL, 'X', NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', '{{A,B},{C,D}}'::text[]);
\echo :LAST_ERROR_SQLSTATE
-- text that cannot be a code: empty, separators only, beyond printable
-- ASCII, longer than 64 characters once read
SELECT codes.code_add('summer', ARRAY['SUMMER20', '', ' - ', 'ЅUMMER', repeat('x', 65),
									  E'A\x01B', repeat('y', 64) || ' - ']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', ARRAY['A', 'B'], ARRAY[0]);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', ARRAY['A', 'B'], '{{0},{1}}'::integer[]);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', ARRAY['A', 'B', 'C'], ARRAY[-1, 0, -2]);
\echo :LAST_ERROR_SQLSTATE
-- nothing was added, and the batch is not marked
SELECT count(*) AS codes FROM codes.codes;
SELECT chosen FROM codes.batch WHERE name = 'summer';

-- before any batch has chosen codes, text of no batch's shape is answered
-- without touching a table
BEGIN;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) AS scans \gset
SELECT codes.code_query('SUMMER20');
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
COMMIT;

--
-- Vanity codes: any case, spaces and hyphens, in and out
--
SELECT codes.code_add('summer', ARRAY['summer-20', 'Black Friday', 'WELCOME_10', 'a']);
SELECT chosen FROM codes.batch WHERE name = 'summer';
-- kept and handed out upper case, without spaces or hyphens
SELECT code, status, uses FROM codes.batch_codes('summer') ORDER BY code;
SELECT shown FROM codes.codes ORDER BY shown;
SELECT name, issued, used_up, uses_left, uses FROM codes.batches WHERE name = 'summer';
-- now any text may be a code: one look-up
BEGIN;
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) AS scans \gset
SELECT codes.code_query('no such code');
SELECT pg_stat_get_xact_numscans('codes.codes_key_fold'::regclass) - :scans AS index_scans;
COMMIT;
SELECT codes.code_normalize('summer 20'), codes.code_normalize('black-friday'),
	   codes.code_normalize('anything else'), codes.code_normalize(' - ');

-- the summer is now, for the rest of this test
UPDATE codes.batch SET valid_from = now() - interval '1 day',
					   valid_until = now() + interval '1 day' WHERE name = 'summer';
-- the per-redeemer limit holds; the guessing guard is for generated codes
-- only (a chosen code is public by nature): 'A' is a code
SELECT codes.code_use('SUMMER20', 'alice'), codes.code_use('summer 20', 'bob'),
	   codes.code_use('Summer-20', 'alice'), codes.code_use('ＳＵＭＭＥＲ２０', 'carol');
SELECT ok, reason, batch, metadata, uses_left FROM codes.code_redeem('black friday', 'alice');
SELECT ok, reason, batch FROM codes.code_check('blackfriday', 'alice');
SELECT ok, reason FROM codes.code_redeem('A', 'dave');
SELECT codes.code_use('welcome_10');
\echo :LAST_ERROR_SQLSTATE
-- "_" is no separator: it is part of the code
SELECT codes.code_query('welcome 10'), codes.code_query('WELCOME-10'), codes.code_query('welcome_10');
SELECT codes.code_undo('summer20', 'bob');
SELECT code, batch, redeemer, undone_at IS NOT NULL AS undone FROM codes.redemptions ORDER BY used_at, redeemer;
SELECT code, status, uses, used_by FROM codes.batch_codes('summer') ORDER BY code;
SELECT codes.code_del('welcome_10');
SELECT codes.code_query('WELCOME_10');
SELECT name, issued, uses FROM codes.batches WHERE name = 'summer';

--
-- Uniqueness: whatever case, spaces and hyphens, within the call and
-- across batches; the whole call is refused, naming how many and where
--
SELECT codes.batch_create('fall', NULL, NULL);
SELECT codes.code_add('fall', ARRAY['AUTUMN', 'Black-Friday', 'FALL5', 'autumn', 'a', 'A']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('fall', ARRAY['X1', 'X2', 'x1', 'X3', 'x-2', 'x3', 'X 1', 'X4', 'x 4']);
\echo :LAST_ERROR_SQLSTATE
-- subscripts as the array has them
SELECT codes.code_add('fall', '[0:2]={FALL,WINTER,fall}'::text[]);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS codes FROM codes.codes c JOIN codes.batch b ON b.id = c.batch WHERE b.name = 'fall';
-- a generated code cannot be chosen again, nor given twice
CREATE TEMP TABLE g AS
SELECT code FROM codes.code_gen(2, NULL, NULL, pattern => 'GEN-####-####-####-^', batch => 'generated') AS code;
SELECT codes.code_add('fall', ARRAY['AUTUMN'] || (SELECT array_agg(lower(code)) FROM g));
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('fall', ARRAY['AUTUMN', 'FALL5']);
SELECT codes.code_add('fall', ARRAY['autumn']);
\echo :LAST_ERROR_SQLSTATE
-- and new generated codes keep clear of chosen ones: a one-symbol
-- pattern's 31 codes, one of which is taken by a chosen code
SELECT codes.batch_create('letters', NULL, NULL);
SELECT codes.code_add('letters', ARRAY['Q7']);
SET codes.max_guess_chance = 1;
SELECT count(*) FROM codes.code_gen(31, NULL, NULL, pattern => 'Q#');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FILTER (WHERE code = 'Q7') AS q7, count(*) AS made
FROM codes.code_gen(30, NULL, NULL, pattern => 'Q#', batch => 'q') AS code;
RESET codes.max_guess_chance;

--
-- Uses so far: a single-use code given with 1 use is used (no history);
-- a multi-use code's count is taken off its cap
--
SELECT codes.batch_create('moved', NULL, NULL);
SELECT codes.code_add('moved', ARRAY['MOVED-1', 'MOVED-2', 'MOVED-3'], ARRAY[1, NULL, 0]);
SELECT code, status, uses, used_at, used_by FROM codes.batch_codes('moved') ORDER BY code;
SELECT codes.code_query('moved 1'), codes.code_use('moved 1'), codes.code_undo('moved 1');
SELECT ok, reason FROM codes.code_check('moved-1');
SELECT count(*) AS history FROM codes.redemptions WHERE batch = 'moved';
SELECT codes.code_add('moved', ARRAY['MOVED-4'], ARRAY[2]);
\echo :LAST_ERROR_SQLSTATE

SELECT codes.batch_create('promo', NULL, NULL, max_uses => 5, max_uses_per_redeemer => 5);
SELECT codes.code_add('promo', ARRAY['PROMO-A', 'PROMO-B', 'PROMO-C'], ARRAY[3, 5, 6]);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('promo', ARRAY['PROMO-A', 'PROMO-B'], ARRAY[3, 5]);
SELECT code, status, uses FROM codes.batch_codes('promo') ORDER BY code;
SELECT codes.code_use('promo-a', 'r' || n) FROM generate_series(1, 3) n;
SELECT ok, reason, uses_left FROM codes.code_check('promo-a', 'r9');
SELECT codes.code_use('promo-b', 'r1');
SELECT codes.code_undo('promo-a', 'r2');
SELECT code, status, uses FROM codes.batch_codes('promo') ORDER BY code;
SELECT name, issued, used_up, uses_left, uses FROM codes.batches WHERE name = 'promo';

-- without a cap, uses so far are at least 0, and are counted
SELECT codes.batch_create('open', NULL, NULL, max_uses => NULL);
SELECT codes.code_add('open', ARRAY['OPEN-1', 'OPEN-2'], ARRAY[1000000, -1]);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('open', ARRAY['OPEN-1'], ARRAY[1000000]);
SELECT codes.code_use('open 1', 'x');
SELECT code, status, uses FROM codes.batch_codes('open');
SELECT ok, uses_left FROM codes.code_check('open-1', 'y');

--
-- A trigger on codes.codes: the codes go in by SQL, which fires it as an
-- INSERT does; one that skips a code is an error, and nothing is added
--
CREATE TABLE audit (event text, shown text, uses integer);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
	INSERT INTO audit VALUES (TG_NAME || ' ' || TG_OP, NEW.shown, NEW.uses);
	RETURN NEW;
END
$$;
CREATE TRIGGER watched AFTER INSERT ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION audit_row();
SELECT codes.batch_create('audited', NULL, NULL, max_uses => 3);
SELECT codes.code_add('audited', ARRAY['AUDIT-1', 'audit 2'], ARRAY[2, NULL]);
SELECT * FROM audit ORDER BY shown;
SELECT codes.code_use('audit-1'), codes.code_use('audit-1');
CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN CASE WHEN NEW.shown = 'SKIPPED' THEN NULL ELSE NEW END;
END
$$;
CREATE TRIGGER skipping BEFORE INSERT ON codes.codes
	FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT codes.code_add('audited', ARRAY['KEPT', 'SKIPPED']);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS codes FROM codes.codes WHERE shown IN ('KEPT', 'SKIPPED');
DROP TRIGGER skipping ON codes.codes;
DROP TRIGGER watched ON codes.codes;
DROP FUNCTION skip_row();
DROP FUNCTION audit_row();
DROP TABLE audit;

-- only an admin may add codes (the README's roles)
CREATE ROLE regress_chosen_app;
CREATE ROLE regress_chosen_admin;
GRANT codes_app TO regress_chosen_app;
GRANT codes_admin TO regress_chosen_admin;
SET ROLE regress_chosen_app;
SELECT codes.batch_create('nope', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('summer', ARRAY['NOPE']);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.batch_generate('summer', 1);
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_chosen_admin;
SELECT codes.batch_create('by admin', NULL, NULL);
SELECT codes.code_add('by admin', ARRAY['ADMIN-1']);
SELECT count(*) FROM codes.batch_generate('by admin', 2);
RESET ROLE;
DROP ROLE regress_chosen_app;
DROP ROLE regress_chosen_admin;

-- a write: refused in a read-only transaction
BEGIN READ ONLY;
SELECT codes.code_add('summer', ARRAY['READONLY']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN READ ONLY;
SELECT codes.batch_create('readonly', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

DROP EXTENSION codes;
