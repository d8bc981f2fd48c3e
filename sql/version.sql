--
-- A library newer than the database's SQL objects of codes refuses every
-- call that reads or writes the extension's tables, with 55000 and a hint
-- that names ALTER EXTENSION codes UPDATE, never with an error of a
-- missing column or function; the update makes the calls work.  Each
-- older version in turn: 1.0, 1.1 and 1.2.
--
\set VERBOSITY default
CREATE EXTENSION codes VERSION '1.0';
SELECT codes.code_gen(1, NULL, NULL);
SELECT codes.code_use('no such code');
SELECT codes.code_query('no such code');
SELECT codes.code_del('no such code');
\set VERBOSITY terse
-- functions that touch no table work with any version
SELECT codes.key_fold('00000000-0000-0000-0000-000000000001');

ALTER EXTENSION codes UPDATE TO '1.1';
SELECT codes.code_gen(1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_undo('no such code');
\echo :LAST_ERROR_SQLSTATE
-- (batch_codes runs code_status for each code)
INSERT INTO codes.batch (name) VALUES ('made by hand');
INSERT INTO codes.codes (batch, code)
SELECT b.id, '00000000-0000-4000-8000-000000000001' FROM codes.batch b WHERE b.name = 'made by hand';
SELECT * FROM codes.batch_codes('made by hand');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_valid('AB-2345', 'AB-####');

ALTER EXTENSION codes UPDATE TO '1.2';
SELECT codes.code_gen(1, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_redeem('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_check('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_undo('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_del('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_normalize('no such code');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM codes.batch_codes('made by hand');
\echo :LAST_ERROR_SQLSTATE

-- after the update, each works
ALTER EXTENSION codes UPDATE;
SELECT count(*) FROM codes.code_gen(1, NULL, NULL, batch => 'after the update');
SELECT codes.code_use('no such code');
SELECT (codes.code_redeem('no such code')).reason;
SELECT (codes.code_check('no such code')).reason;
SELECT codes.code_query('no such code');
SELECT codes.code_undo('no such code');
SELECT codes.code_del('no such code');
SELECT codes.code_normalize('no such code');
SELECT count(*) FROM codes.batch_codes('after the update');
DROP EXTENSION codes;
