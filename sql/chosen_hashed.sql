--
-- Chosen codes hashed at rest: a batch with store => 'hmac' keeps no
-- given code in plain text either, and codes are unique across stores
-- and keys, whichever came first.
--
CREATE EXTENSION codes;
\set VERBOSITY default
SET codes.key_file = '/tmp/codes_regress_key_a';

SELECT codes.batch_create('vip', NULL, NULL, store => 'hmac', max_uses => 3,
						  max_uses_per_redeemer => 1);
SELECT codes.code_add('vip', ARRAY['VIP-GOLD', 'vip silver', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'],
					  ARRAY[2, NULL, 0]);
-- nothing holds their text: no shown text, and not the UUID as key
SELECT count(*) AS codes, count(shown) AS shown,
	   count(*) FILTER (WHERE code = '6ba7b810-9dad-11d1-80b4-00c04fd430c8') AS uuid_keys
FROM codes.codes;
SELECT code, status, uses FROM codes.batch_codes('vip') ORDER BY uses, status;
-- found as typed
SELECT codes.code_query('vip gold'), codes.code_use('VIPGOLD', 'a'), codes.code_use('Vip-Gold', 'b');
SELECT ok, reason, uses_left FROM codes.code_redeem('vip-silver', 'a');
SELECT codes.code_query('6BA7B810 9DAD 11D1 80B4 00C04FD430C8');
SELECT code, batch, redeemer FROM codes.redemptions ORDER BY redeemer;

-- unique across stores, either way round: a plain batch may not add a
-- text that is hashed, nor the hashed batch one that is plain
SELECT codes.batch_create('plain', NULL, NULL);
SELECT codes.code_add('plain', ARRAY['NEW', 'vipgold', 'VIP-SILVER', '6ba7b810-9dad-11d1-80b4-00c04fd430c8']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('plain', ARRAY['PLAIN-1']);
SELECT codes.code_add('vip', ARRAY['plain 1', 'VIP-BRONZE']);
\echo :LAST_ERROR_SQLSTATE
-- generated codes too: a plain UUID code cannot be added hashed
CREATE TEMP TABLE gen AS SELECT code FROM codes.code_gen(1, NULL, NULL) AS code;
SELECT codes.code_add('vip', (SELECT array_agg(code) FROM gen));
\echo :LAST_ERROR_SQLSTATE

-- under two keys: a new key's batch may not add a code of the old one's
SET codes.key_file = '/tmp/codes_regress_key_b';
SET codes.old_key_files = '/tmp/codes_regress_key_a';
SELECT codes.batch_create('vip b', NULL, NULL, store => 'hmac');
SELECT codes.code_add('vip b', ARRAY['VIP-PLATINUM', 'VIP GOLD']);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('vip b', ARRAY['VIP-PLATINUM']);
SELECT count(DISTINCT key_id) AS keys FROM codes.batches WHERE key_id IS NOT NULL;
-- the old batch still takes codes, under its own key, while it is configured
SELECT codes.code_add('vip', ARRAY['VIP-BRONZE']);
SELECT count(*) FROM codes.batch_generate('vip', 2);
SELECT codes.code_query('vip bronze'), codes.code_query('vip platinum');

-- without its key, a hashed batch takes no new codes (55000); the other
-- batches take codes on, warned that the keyless batch's codes cannot be
-- checked against (its codes answer as not found)
SET codes.old_key_files = '';
SELECT codes.code_add('vip', ARRAY['VIP-IRON']);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM codes.batch_generate('vip', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT codes.code_add('plain', ARRAY['PLAIN-2']);
SELECT codes.code_query('vip bronze'), codes.code_query('plain 2');

RESET codes.key_file;
RESET codes.old_key_files;
DROP EXTENSION codes;
