--
-- codes.require_redeemer: calls that can guess a code (code_use,
-- code_redeem, code_check, code_query, code_hold) without a redeemer are
-- neither braked nor counted; a superuser can make them an error, for a
-- role or the whole server, so that every guess is counted.
--
CREATE EXTENSION codes;
CREATE TEMP TABLE c AS SELECT code FROM codes.code_gen(1, NULL, NULL) AS code;

-- off by default: a call without a redeemer works
SHOW codes.require_redeemer;
SELECT codes.code_query(code) FROM c;

SET codes.require_redeemer = on;
SELECT codes.code_use(code) FROM c;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_redeem(code);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM c, codes.code_check(code, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query(code) FROM c;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_query('NO-SUCH-CODE');
\echo :LAST_ERROR_SQLSTATE
-- with one, as before; nothing was used above
SELECT codes.code_query(code, 'ann') FROM c;
SELECT r.ok FROM c, codes.code_redeem(code, 'ann') AS r;
-- an admin's calls name no end user: not concerned
SELECT codes.code_undo(code) FROM c;
SELECT codes.code_del(code) FROM c;
RESET codes.require_redeemer;

-- a superuser setting: the application's role cannot turn it off
CREATE ROLE regress_codes_guesser;
GRANT codes_app TO regress_codes_guesser;
ALTER ROLE regress_codes_guesser SET codes.require_redeemer = on;
SET SESSION AUTHORIZATION regress_codes_guesser;
SET codes.require_redeemer = off;
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
ALTER ROLE regress_codes_guesser RESET ALL;
DROP ROLE regress_codes_guesser;

DROP EXTENSION codes;
