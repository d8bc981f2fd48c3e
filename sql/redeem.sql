--
-- code_redeem uses a code exactly as code_use does and tells, in the same
-- call, why it failed or which batch it belonged to and what that batch
-- grants; code_check answers the same without using the code.
--
CREATE EXTENSION codes;
SET timezone = 'UTC';

CREATE TEMP TABLE c AS
SELECT b.name, row_number() OVER (PARTITION BY b.name) AS n, g.code
FROM (VALUES ('ten', NULL::timestamptz, '2100-01-01'::timestamptz, 1, NULL::integer, '{"discount": 10}'::jsonb),
			 ('shared', NULL, NULL, 2, 1, '{"shipping": "free"}'),
			 ('future', '2100-01-01', NULL, 1, NULL, NULL),
			 ('expired', '2000-01-01', '2000-12-31', 1, NULL, '{"discount": 5}'),
			 ('leaked', NULL, NULL, 1, NULL, NULL))
	 AS b(name, valid_from, valid_until, max_uses, per_redeemer, metadata),
	 LATERAL codes.code_gen(3, b.valid_from, b.valid_until, max_uses => b.max_uses,
							max_uses_per_redeemer => b.per_redeemer,
							batch => b.name, metadata => b.metadata) AS g(code);
SELECT codes.batch_revoke('leaked');

-- a good code: what it grants, and what is left of it
SELECT r.* FROM c, codes.code_redeem(c.code, 'alice') r WHERE c.name = 'ten' AND c.n = 1;
-- used up now
SELECT r.* FROM c, codes.code_redeem(c.code, 'bob') r WHERE c.name = 'ten' AND c.n = 1;
-- no such code: nothing more is told
SELECT * FROM codes.code_redeem('8c9f4e3a-6b1d-4f0e-9a7c-2d5e8b1f3c6a', 'carol');
SELECT * FROM codes.code_redeem('not a code at all');
SELECT * FROM codes.code_redeem('');
-- out of its period, and revoked
SELECT c.name, r.ok, r.reason, r.batch, r.metadata, r.uses_left, r.valid_until
FROM c, codes.code_redeem(c.code) r
WHERE c.name IN ('future', 'expired', 'leaked') AND c.n = 1 ORDER BY c.name;

-- a code for two redeemers, once each
SELECT c.n, who, r.ok, r.reason, r.uses_left
FROM c, unnest(ARRAY['dave', 'dave', 'erin', 'frank']) WITH ORDINALITY AS w(who, i),
	 LATERAL codes.code_redeem(c.code, w.who) r
WHERE c.name = 'shared' AND c.n = 1 ORDER BY i;
-- such a code needs a redeemer
SELECT r.* FROM c, codes.code_redeem(c.code) r WHERE c.name = 'shared' AND c.n = 2;
\echo :LAST_ERROR_SQLSTATE

-- code_redeem and code_use agree, and a NULL code is an error
SELECT codes.code_use(c.code), (codes.code_redeem(c.code)).reason
FROM c WHERE c.name = 'ten' AND c.n = 2;
SELECT * FROM codes.code_redeem(NULL);
\echo :LAST_ERROR_SQLSTATE

-- a redemption rolls back with the caller's transaction
BEGIN;
SELECT ok FROM c, codes.code_redeem(c.code) WHERE c.name = 'ten' AND c.n = 3;
ROLLBACK;
SELECT codes.code_query(c.code) FROM c WHERE c.name = 'ten' AND c.n = 3;

-- granting in the same transaction: the order exists only if the use did
CREATE TEMP TABLE orders (id serial, customer text, batch text, discount integer);
WITH r AS (SELECT * FROM c, codes.code_redeem(c.code, 'gina') WHERE c.name = 'ten' AND c.n = 3)
INSERT INTO orders (customer, batch, discount)
SELECT 'gina', r.batch, (r.metadata ->> 'discount')::integer FROM r WHERE r.ok
RETURNING customer, batch, discount;
WITH r AS (SELECT * FROM c, codes.code_redeem(c.code, 'hank') WHERE c.name = 'ten' AND c.n = 3)
INSERT INTO orders (customer, batch, discount)
SELECT 'hank', r.batch, (r.metadata ->> 'discount')::integer FROM r WHERE r.ok
RETURNING customer, batch, discount;
SELECT customer, batch, discount FROM orders;

-- code_check: the same answer, and the code is not used
SELECT r.* FROM c, codes.code_check(c.code, 'ivy') r WHERE c.name = 'shared' AND c.n = 3;
SELECT r.* FROM c, codes.code_check(c.code, 'ivy') r WHERE c.name = 'shared' AND c.n = 3;
SELECT codes.code_query(c.code) FROM c WHERE c.name = 'shared' AND c.n = 3;
SELECT r.reason FROM c, codes.code_check(c.code, 'dave') r WHERE c.name = 'shared' AND c.n = 1;
SELECT r.reason FROM c, codes.code_check(c.code) r WHERE c.name = 'leaked' AND c.n = 2;
SELECT * FROM codes.code_check('8c9f4e3a-6b1d-4f0e-9a7c-2d5e8b1f3c6a');

-- code_query answers as before, with or without a redeemer
SELECT c.name, codes.code_query(c.code), codes.code_query(c.code, 'judy')
FROM c WHERE c.n = 1 ORDER BY c.name;

DROP EXTENSION codes;
