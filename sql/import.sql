--
-- Importing codes: a shop moving from the seed service's table store
-- brings its live codes, version 1 UUID texts, with their validity and
-- their uses so far.  The contract's calls answer for them as for codes
-- that code_gen made.
--
CREATE EXTENSION codes;
SET timezone = 'UTC';
\set VERBOSITY default

-- the seed's codes, as its table store exports them: version 1 UUIDs,
-- some used; one upper case, one without hyphens, as other tools write them
CREATE TEMP TABLE seed (n integer, code text, used boolean);
INSERT INTO seed VALUES
	(1, '6ba7b810-9dad-11d1-80b4-00c04fd430c8', false),
	(2, '6ba7b811-9dad-11d1-80b4-00c04fd430c8', true),
	(3, '6BA7B812-9DAD-11D1-80B4-00C04FD430C8', false),
	(4, '6ba7b8139dad11d180b400c04fd430c8', false),
	(5, '6ba7b814-9dad-11d1-80b4-00c04fd430c8', false);

-- one batch for the codes of one validity
SELECT codes.batch_create('seed', now() - interval '1 day', now() + interval '30 days');
SELECT codes.code_add('seed', array_agg(code ORDER BY n), array_agg(used::integer ORDER BY n))
FROM seed;

-- stored as generated UUID codes are: the UUID is the key, no text beside it
SELECT code, shown, uses, used_at, used_by FROM codes.codes ORDER BY code;
SELECT code, status, uses FROM codes.batch_codes('seed') ORDER BY code;
SELECT name, issued, used_up, uses_left FROM codes.batches;

-- code_query: UNACTIVED, ACTIVED (used in the seed), NO EXISTED
SELECT n, codes.code_query(code) FROM seed ORDER BY n;
SELECT codes.code_query('6ba7b815-9dad-11d1-80b4-00c04fd430c8');

-- code_use: SUCCEED once, in any form; FAILED after, and for the code the
-- seed had used, which has no use here to undo
SELECT codes.code_use('6BA7B810 9DAD 11D1 80B4 00C04FD430C8');
SELECT codes.code_use('6ba7b810-9dad-11d1-80b4-00c04fd430c8');
SELECT codes.code_query('6ba7b810-9dad-11d1-80b4-00c04fd430c8');
SELECT codes.code_use('6ba7b811-9dad-11d1-80b4-00c04fd430c8');
SELECT codes.code_undo('6ba7b811-9dad-11d1-80b4-00c04fd430c8');
SELECT ok, reason, batch FROM codes.code_redeem('6ba7b812-9dad-11d1-80b4-00c04fd430c8', 'player-7');
SELECT codes.code_normalize('6BA7B8139DAD11D180B400C04FD430C8');
-- the history holds the uses made here
SELECT code, batch, redeemer FROM codes.redemptions ORDER BY code;
SELECT code, status, uses, used_by FROM codes.batch_codes('seed') ORDER BY code;

-- code_del: SUCCEED, whether or not the code existed
SELECT codes.code_del('6ba7b814-9dad-11d1-80b4-00c04fd430c8');
SELECT codes.code_query('6ba7b814-9dad-11d1-80b4-00c04fd430c8');
SELECT codes.code_del('6ba7b814-9dad-11d1-80b4-00c04fd430c8');

-- validity is the batch's: revoked, TIMEINVALID and FAILED
SELECT codes.batch_revoke('seed');
SELECT codes.code_query('6ba7b8139dad11d180b400c04fd430c8'),
	   codes.code_use('6ba7b8139dad11d180b400c04fd430c8');
SELECT codes.batch_unrevoke('seed');

-- the same import again is refused whole, naming where; the codes are
-- unique with generated UUID codes too
SELECT codes.batch_create('again', NULL, NULL);
SELECT codes.code_add('again', ARRAY['6ba7b899-9dad-11d1-80b4-00c04fd430c8'] || array_agg(code ORDER BY n))
FROM seed;
CREATE TEMP TABLE gen AS SELECT code FROM codes.code_gen(2, NULL, NULL) AS code;
SELECT codes.code_add('again', ARRAY['6ba7b899-9dad-11d1-80b4-00c04fd430c8'] || (SELECT array_agg(upper(code)) FROM gen));
SELECT count(*) AS codes FROM codes.batch_codes('again');

-- two thousand codes from a table, half of them used, in one call
CREATE TEMP TABLE big AS
SELECT i, pg_catalog.lpad(to_hex(i), 8, '0') || '-9dad-11d1-80b4-00c04fd430c8' AS code,
	   (i % 2) AS used
FROM generate_series(1000, 2999) i;
SELECT codes.code_add('again', array_agg(code ORDER BY i), array_agg(used ORDER BY i)) FROM big;
SELECT status, count(*) FROM codes.batch_codes('again') GROUP BY 1 ORDER BY 1;
SELECT codes.code_use(code), count(*) FROM big GROUP BY 1 ORDER BY 1;
SELECT codes.code_query(upper(code)), count(*) FROM big GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE codes.code_del(code) = 'SUCCEED') AS deleted FROM big;
SELECT codes.code_query(code), count(*) FROM big GROUP BY 1 ORDER BY 1;

DROP EXTENSION codes;
