--
-- Multi-use codes, per-redeemer limits, and the history of uses.
--
CREATE EXTENSION codes;

-- a launch code that serves three uses
CREATE TEMP TABLE launch AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 3, batch => 'launch') AS code;

SELECT codes.code_use(code, 'p1'), codes.code_query(code) FROM launch;
SELECT codes.code_use(code, 'p2'), codes.code_query(code) FROM launch;
SELECT codes.code_use(code, 'p3'), codes.code_query(code) FROM launch;
SELECT codes.code_use(code, 'p4'), codes.code_query(code) FROM launch;
SELECT status, uses, used_by AS latest FROM codes.batch_codes('launch');

-- every use is in the history, in order
SELECT r.batch, r.redeemer, r.undone_at FROM codes.redemptions r
JOIN launch l ON r.code = l.code ORDER BY r.used_at, r.redeemer;

-- at most two uses per redeemer, of five
CREATE TEMP TABLE shared AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 5,
								max_uses_per_redeemer => 2, batch => 'shared') AS code;
SELECT codes.code_use(code, 'alice') FROM shared;
SELECT codes.code_use(code, 'alice') FROM shared;
SELECT codes.code_use(code, 'alice') FROM shared;
SELECT codes.code_use(code, 'bob') FROM shared;
SELECT codes.code_use(code, 'bob') FROM shared;
SELECT codes.code_use(code, 'carol') FROM shared;
SELECT codes.code_use(code, 'dave') FROM shared;
SELECT codes.code_query(code) FROM shared;
SELECT r.redeemer, count(*) FROM codes.redemptions r JOIN shared s ON r.code = s.code
GROUP BY 1 ORDER BY 1;

-- such a code needs a redeemer; the refusal changes nothing
CREATE TEMP TABLE strict AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses => 2,
								max_uses_per_redeemer => 1, batch => 'strict') AS code;
SELECT codes.code_use(code) FROM strict;
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_use(code, 'erin') FROM strict;
SELECT uses FROM codes.batch_codes('strict');

-- a per-redeemer limit on a single-use code only asks for a redeemer
CREATE TEMP TABLE single AS
SELECT code FROM codes.code_gen(1, NULL, NULL, max_uses_per_redeemer => 1) AS code;
SELECT codes.code_use(code, 'frank') FROM single;
SELECT codes.code_use(code, 'grace') FROM single;

-- a single-use code's use is in the history too
SELECT r.batch ~ '^batch-' AS generated_name, r.redeemer, r.undone_at
FROM codes.redemptions r JOIN single s ON r.code = s.code;

-- a multi-use code is still bound by its period
CREATE TEMP TABLE over AS
SELECT code FROM codes.code_gen(1, now() - interval '2 days', now() - interval '1 day',
								max_uses => 10) AS code;
SELECT codes.code_use(code, 'late'), codes.code_query(code) FROM over;

-- deleting a code deletes its history
SELECT codes.code_del(code) FROM launch;
SELECT count(*) AS history_left FROM codes.redemption_log l JOIN launch c ON l.code = c.code::uuid;

DROP EXTENSION codes;
